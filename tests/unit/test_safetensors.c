/* test_safetensors.c: dtype conversions against hand values, F32/BF16/sharded round trips, and
 * one check (status + message) per malformed-file case, each crafted byte by byte. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psw/safetensors.h"
#include "test.h"

static char *tmp;

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *p = psw_path_join(path, e->d_name);
            remove_tree(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Writes <8-byte length><header><data> with an optional lying length. */
static char *write_raw(const char *name, const char *header, uint64_t hlen, const void *data,
                       size_t n) {
    char *path = psw_path_join(tmp, name);
    FILE *f = fopen(path, "wb");
    PSW_ASSERT(f);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hlen >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    PSW_ASSERT(fclose(f) == 0);
    return path;
}

/* A file with this header and n zero data bytes; expects open to fail with want + needle. */
static void bad_file(const char *header, size_t n_data, psw_status want, const char *needle,
                     int line) {
    unsigned char *zeros = calloc(n_data ? n_data : 1, 1);
    char *path = write_raw("bad.safetensors", header, strlen(header), zeros, n_data);
    psw_safetensors st;
    psw_err err = {0};
    psw_status s = psw_st_open_file(&st, path, &err);
    psw_test_check_fails(s, &err, want, needle, __FILE__, line, header);
    if (s != PSW_OK) CHECK(strstr(err.msg, "bad.safetensors") != NULL, "names the file: %s", err.msg);
    if (s == PSW_OK) psw_st_close(&st);
    free(zeros);
    free(path);
}
#define BAD(header, n, want, needle) bad_file((header), (n), (want), (needle), __LINE__)

static void test_conversions(void) {
    /* BF16 encode: ties go to even, above-half rounds up, overflow to inf, NaN kept. */
    CHECK(psw_f32_to_bf16(1.0f) == 0x3f80, "bf16(1)");
    CHECK(psw_f32_to_bf16(-2.0f) == 0xc000, "bf16(-2)");
    CHECK(psw_f32_to_bf16(u2f(0x3f808000)) == 0x3f80, "tie 1+2^-8 -> even 0x3f80");
    CHECK(psw_f32_to_bf16(u2f(0x3f818000)) == 0x3f82, "tie 1+3*2^-8 -> even 0x3f82");
    CHECK(psw_f32_to_bf16(u2f(0x3f808001)) == 0x3f81, "just above half rounds up");
    CHECK(psw_f32_to_bf16(u2f(0x3f807fff)) == 0x3f80, "just below half rounds down");
    CHECK(psw_f32_to_bf16(3.14159265f) == 0x4049, "bf16(pi) = 0x4049 (3.140625)");
    CHECK(psw_f32_to_bf16(u2f(0x7f7fffff)) == 0x7f80, "FLT_MAX rounds to inf");
    CHECK(psw_f32_to_bf16(INFINITY) == 0x7f80 && psw_f32_to_bf16(-INFINITY) == 0xff80, "inf");
    uint16_t nan = psw_f32_to_bf16(NAN);
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0, "NaN stays NaN: %04x", nan);
    CHECK(psw_f32_to_bf16(u2f(0x00000001)) == 0x0000, "tiny subnormal -> 0");
    CHECK(psw_bf16_to_f32(0xc0a0) == -5.0f && psw_bf16_to_f32(0x4049) == 3.140625f, "bf16 decode");

    /* F16 decode, including subnormals, inf, NaN and signed zero. */
    CHECK(psw_f16_to_f32(0x3c00) == 1.0f, "f16 1");
    CHECK(psw_f16_to_f32(0xc000) == -2.0f, "f16 -2");
    CHECK(psw_f16_to_f32(0x3555) == 0.333251953125f, "f16 1/3");
    CHECK(psw_f16_to_f32(0x7bff) == 65504.0f, "f16 max");
    CHECK(psw_f16_to_f32(0x0400) == ldexpf(1.0f, -14), "f16 min normal");
    CHECK(psw_f16_to_f32(0x0001) == ldexpf(1.0f, -24), "f16 min subnormal = 2^-24");
    CHECK(psw_f16_to_f32(0x03ff) == 1023.0f * ldexpf(1.0f, -24), "f16 max subnormal");
    CHECK(psw_f16_to_f32(0x0200) == ldexpf(1.0f, -15), "f16 subnormal 2^-15");
    CHECK(psw_f16_to_f32(0x8001) == -ldexpf(1.0f, -24), "f16 negative subnormal");
    CHECK(isinf(psw_f16_to_f32(0x7c00)) && psw_f16_to_f32(0x7c00) > 0, "f16 +inf");
    CHECK(isinf(psw_f16_to_f32(0xfc00)) && psw_f16_to_f32(0xfc00) < 0, "f16 -inf");
    CHECK(isnan(psw_f16_to_f32(0x7e00)), "f16 NaN");
    float nz = psw_f16_to_f32(0x8000);
    CHECK(nz == 0.0f && signbit(nz), "f16 -0");
}

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * sinf(0.37f * (float)i + 0.1f);
}

static void test_round_trip(void) {
    psw_err err = {0};
    float a[6 * 5], b[7], c[2 * 3 * 4];
    fill(a, 30, 2.5f);
    fill(b, 7, -0.75f);
    fill(c, 24, 100.0f);
    a[0] = 1.0f, a[1] = u2f(0x3f808000), a[2] = u2f(0x3f818000), a[3] = 3.14159265f;
    psw_st_write_tensor ts[4] = {
        {"layer.a", 2, {6, 5}, a},
        {"b \"quoted\"\\name", 1, {7}, b},
        {"c3d", 3, {2, 3, 4}, c},
        {"empty", 2, {0, 4}, NULL},
    };
    char *dir = psw_path_join(tmp, "rt");
    CHECK_OK(psw_mkdir_p(dir, &err), &err);
    for (int pass = 0; pass < 2; pass++) {
        psw_dtype dt = pass ? PSW_DTYPE_BF16 : PSW_DTYPE_F32;
        CHECK_OK(psw_st_write(dir, ts, 4, dt, 0, &err), &err);
        char *path = psw_path_join(dir, "model.safetensors");
        /* Independent look at the bytes: length field, alignment, metadata. */
        char *raw = NULL;
        size_t len = 0;
        CHECK_OK(psw_read_file(path, &raw, &len, &err), &err);
        uint64_t hlen = 0;
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | (unsigned char)raw[i];
        size_t elsize = pass ? 2 : 4;
        CHECK(len == 8 + hlen + (30 + 7 + 24) * elsize, "file size %zu", len);
        CHECK((8 + hlen) % 8 == 0, "data section 8-byte aligned");
        CHECK(strstr(raw + 8, "\"__metadata__\":{\"format\":\"pt\"}") != NULL, "metadata");
        CHECK(strstr(raw + 8, pass ? "\"dtype\":\"BF16\"" : "\"dtype\":\"F32\"") != NULL, "dtype");
        free(raw);

        psw_safetensors st;
        CHECK_OK(psw_st_open_dir(&st, dir, &err), &err);
        CHECK(st.n_tensors == 4 && st.n_files == 1, "4 tensors, 1 file");
        for (int i = 0; i < 4; i++) {
            const psw_st_tensor *t = psw_st_find(&st, ts[i].name);
            CHECK(t != NULL, "find %s", ts[i].name);
            if (!t) continue;
            CHECK(t->dtype == dt && t->ndim == ts[i].ndim, "%s dtype/ndim", ts[i].name);
            size_t n = 1;
            for (int d = 0; d < t->ndim; d++) {
                CHECK(t->shape[d] == ts[i].shape[d], "%s shape", ts[i].name);
                n *= ts[i].shape[d];
            }
            float *got = malloc((n ? n : 1) * sizeof *got), *want = malloc((n ? n : 1) * 4);
            CHECK_OK(psw_st_read_f32(&st, t, got, &err), &err);
            for (size_t k = 0; k < n; k++)
                want[k] = pass ? psw_bf16_to_f32(psw_f32_to_bf16(ts[i].data[k])) : ts[i].data[k];
            CHECK(n == 0 || memcmp(got, want, n * 4) == 0, "%s values (%s)", ts[i].name,
                  psw_dtype_name(dt));
            if (pass && i == 0) {
                CHECK(got[0] == 1.0f && got[1] == 1.0f && got[2] == 1.015625f &&
                          got[3] == 3.140625f,
                      "bf16 hand values %.9g %.9g %.9g %.9g", got[0], got[1], got[2], got[3]);
            }
            free(got);
            free(want);
        }
        CHECK(psw_st_find(&st, "nope") == NULL, "find missing -> NULL");
        psw_st_close(&st);
        free(path);
    }
    psw_err e2 = {0};
    CHECK_FAILS(psw_st_write(dir, ts, 4, PSW_DTYPE_F16, 0, &e2), &e2, PSW_ERR_INVALID_ARG,
                "F32 or BF16 only");
    psw_st_write_tensor dup[2] = {ts[0], ts[0]};
    CHECK_FAILS(psw_st_write(dir, dup, 2, PSW_DTYPE_F32, 0, &e2), &e2, PSW_ERR_INVALID_ARG,
                "tensor layer.a given twice");
    free(dir);
}

static bool exists(const char *dir, const char *name) {
    char *p = psw_path_join(dir, name);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

static void test_sharded(void) {
    psw_err err = {0};
    enum { N = 6 };
    float *data[N];
    psw_st_write_tensor ts[N];
    char names[N][32];
    for (int i = 0; i < N; i++) {
        data[i] = malloc(40 * sizeof(float));
        fill(data[i], 40, (float)(i + 1));
        snprintf(names[i], sizeof names[i], "t.%d.weight", i);
        ts[i] = (psw_st_write_tensor){names[i], 2, {8, 5}, data[i]};
    }
    char *dir = psw_path_join(tmp, "sharded");
    CHECK_OK(psw_mkdir_p(dir, &err), &err);
    /* 160 bytes per tensor, 400 per shard: 2 + 2 + 2. */
    CHECK_OK(psw_st_write(dir, ts, N, PSW_DTYPE_F32, 400, &err), &err);
    CHECK(exists(dir, "model-00001-of-00003.safetensors") &&
              exists(dir, "model-00003-of-00003.safetensors") &&
              !exists(dir, "model-00004-of-00004.safetensors") &&
              exists(dir, "model.safetensors.index.json") && !exists(dir, "model.safetensors"),
          "three shards plus index");
    char *ipath = psw_path_join(dir, "model.safetensors.index.json"), *itext = NULL;
    CHECK_OK(psw_read_file(ipath, &itext, NULL, &err), &err);
    CHECK(itext && strstr(itext, "\"total_size\":\t960") &&
              strstr(itext, "\"t.5.weight\":\t\"model-00003-of-00003.safetensors\""),
          "index content: %s", itext ? itext : "");
    free(itext);
    psw_safetensors st;
    CHECK_OK(psw_st_open_dir(&st, dir, &err), &err);
    CHECK(st.n_files == 3 && st.n_tensors == N, "3 files, %d tensors", N);
    for (int i = 0; i < N; i++) {
        const psw_st_tensor *t = psw_st_find(&st, names[i]);
        float got[40];
        CHECK(t && psw_st_read_f32(&st, t, got, &err) == PSW_OK && memcmp(got, data[i], 160) == 0,
              "sharded tensor %d", i);
        if (t) CHECK(strstr(psw_st_file_of(&st, t), i < 2 ? "00001" : i < 4 ? "00002" : "00003"),
                     "tensor %d in shard %s", i, psw_st_file_of(&st, t));
    }
    psw_st_close(&st);
    /* Bad index files. */
    struct {
        const char *json, *needle;
        psw_status want;
    } bad[] = {
        {"{\"weight_map\": {\"t.0.weight\": \"model-00002-of-00003.safetensors\", \"t.2.weight\": "
         "\"model-00002-of-00003.safetensors\"}}",
         "tensor t.0.weight: weight_map names model-00002-of-00003.safetensors, which does not "
         "contain it",
         PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": \"model-00001-of-00003.safetensors\"}}",
         "model-00001-of-00003.safetensors: tensor t.1.weight is not listed in the weight_map",
         PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": \"model-00001-of-00003.safetensors\", \"t.1.weight\": "
         "\"model-00002-of-00003.safetensors\"}}",
         "tensor t.1.weight: weight_map names model-00002-of-00003.safetensors but it is in",
         PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": \"../model-00001-of-00003.safetensors\"}}",
         "must be a plain file name", PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": \"missing.safetensors\"}}",
         "missing.safetensors: cannot open", PSW_ERR_IO},
        {"{\"metadata\": {}}", "weight_map missing", PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": 3}}", "tensor t.0.weight: file name must be a string",
         PSW_ERR_FORMAT},
        {"{\"weight_map\": {\"t.0.weight\": \"model-00001-of-00003.safetensors\", \"t.0.weight\": "
         "\"model-00001-of-00003.safetensors\"}}",
         "weight_map lists tensor t.0.weight twice", PSW_ERR_FORMAT},
        {"{\"weight_map\": ", "not a valid JSON object", PSW_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_OK(psw_write_file(ipath, bad[i].json, strlen(bad[i].json), &err), &err);
        psw_status s = psw_st_open_index(&st, ipath, &err);
        CHECK_FAILS(s, &err, bad[i].want, bad[i].needle);
        if (s == PSW_OK) psw_st_close(&st);
    }
    /* The same tensor name in two shards. */
    char *s1 = psw_path_join(dir, "model-00001-of-00003.safetensors");
    char *s2 = psw_path_join(dir, "model-00002-of-00003.safetensors");
    char *copy = NULL;
    size_t len = 0;
    CHECK_OK(psw_read_file(s1, &copy, &len, &err), &err);
    CHECK_OK(psw_write_file(s2, copy, len, &err), &err);
    free(copy);
    const char *two = "{\"weight_map\": {\"t.0.weight\": \"model-00001-of-00003.safetensors\", "
                      "\"t.1.weight\": \"model-00002-of-00003.safetensors\"}}";
    CHECK_OK(psw_write_file(ipath, two, strlen(two), &err), &err);
    CHECK_FAILS(psw_st_open_index(&st, ipath, &err), &err, PSW_ERR_FORMAT,
                "tensor t.0.weight appears in both");
    free(s1);
    free(s2);
    free(ipath);
    /* Re-saving unsharded removes the index and the shards so HF cannot load stale weights. */
    CHECK_OK(psw_st_write(dir, ts, N, PSW_DTYPE_F32, 400, &err), &err);
    CHECK_OK(psw_st_write(dir, ts, N, PSW_DTYPE_BF16, 0, &err), &err);
    CHECK(exists(dir, "model.safetensors") && !exists(dir, "model.safetensors.index.json") &&
              !exists(dir, "model-00001-of-00003.safetensors") &&
              !exists(dir, "model-00003-of-00003.safetensors"),
          "stale shards removed");
    /* And back to sharded with a tensor bigger than the limit: one shard per tensor. */
    CHECK_OK(psw_st_write(dir, ts, N, PSW_DTYPE_F32, 100, &err), &err);
    CHECK(!exists(dir, "model.safetensors") && exists(dir, "model-00006-of-00006.safetensors"),
          "oversized tensors get a shard each");
    CHECK_OK(psw_st_open_dir(&st, dir, &err), &err);
    CHECK(st.n_files == 6, "6 shards");
    psw_st_close(&st);

    for (int i = 0; i < N; i++) free(data[i]);
    char *empty = psw_path_join(tmp, "emptydir");
    CHECK_OK(psw_mkdir_p(empty, &err), &err);
    CHECK_FAILS(psw_st_open_dir(&st, empty, &err), &err, PSW_ERR_IO,
                "no model.safetensors or model.safetensors.index.json");
    free(empty);
    free(dir);
}

static void test_f16_and_other_dtypes(void) {
    /* Hand-made F16 tensor [1, 2^-24, -inf, 65504] and an I64 tensor. */
    unsigned char data[8 + 16];
    uint16_t h[4] = {0x3c00, 0x0001, 0xfc00, 0x7bff};
    memcpy(data, h, 8);
    memset(data + 8, 0, 16);
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                      "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[8,24]},"
                      "\"__metadata__\":{\"format\":\"pt\"}}  ";
    char *path = write_raw("f16.safetensors", hdr, strlen(hdr), data, sizeof data);
    psw_safetensors st;
    psw_err err = {0};
    CHECK_OK(psw_st_open_file(&st, path, &err), &err);
    if (st.n_tensors == 2) {
        float got[4];
        const psw_st_tensor *t = psw_st_find(&st, "h");
        CHECK_OK(psw_st_read_f32(&st, t, got, &err), &err);
        CHECK(got[0] == 1.0f && got[1] == ldexpf(1.0f, -24) && isinf(got[2]) && got[2] < 0 &&
                  got[3] == 65504.0f,
              "F16 values %g %g %g %g", got[0], got[1], got[2], got[3]);
        const psw_st_tensor *ti = psw_st_find(&st, "i");
        CHECK(ti && ti->dtype == PSW_DTYPE_OTHER && strcmp(ti->dtype_str, "I64") == 0, "I64 listed");
        CHECK_FAILS(psw_st_read_f32(&st, ti, got, &err), &err, PSW_ERR_UNSUPPORTED,
                    "f16.safetensors: tensor i: dtype I64 cannot be read as floats");
        psw_st_close(&st);
    }
    free(path);
}

static void test_bad_files(void) {
    psw_err err = {0};
    psw_safetensors st;
    /* Truncated: a valid file cut short loses the end of its last tensor. */
    float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}";
    char *p = write_raw("trunc.safetensors", good, strlen(good), v, 20);
    CHECK_FAILS(psw_st_open_file(&st, p, &err), &err, PSW_ERR_FORMAT,
                "trunc.safetensors: tensor w: data_offsets [0, 32] out of bounds (data section is "
                "20 bytes)");
    free(p);
    p = write_raw("short.safetensors", "", 0, NULL, 0);
    CHECK(truncate(p, 5) == 0, "truncate");
    CHECK_FAILS(psw_st_open_file(&st, p, &err), &err, PSW_ERR_FORMAT,
                "short.safetensors: file is 5 bytes, too short");
    free(p);
    /* Header length past the end of the file, and near 2^64. */
    p = write_raw("hlen.safetensors", good, 1000000, v, 32);
    CHECK_FAILS(psw_st_open_file(&st, p, &err), &err, PSW_ERR_FORMAT,
                "hlen.safetensors: header length 1000000 runs past the end of the file");
    free(p);
    p = write_raw("hlen2.safetensors", good, UINT64_MAX - 3, v, 32);
    CHECK_FAILS(psw_st_open_file(&st, p, &err), &err, PSW_ERR_FORMAT,
                "header length 18446744073709551612 runs past the end");
    free(p);
    CHECK_FAILS(psw_st_open_file(&st, "/nonexistent/x.safetensors", &err), &err, PSW_ERR_IO,
                "/nonexistent/x.safetensors: cannot open");

    /* Header JSON. */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,", 0, PSW_ERR_FORMAT, "header is not valid JSON");
    BAD("[1,2,3]", 0, PSW_ERR_FORMAT, "header does not start with a JSON object");
    BAD("{}xyz   ", 0, PSW_ERR_FORMAT, "trailing bytes after the JSON object");
    BAD("{\"__metadata__\":{\"format\":1}}", 0, PSW_ERR_FORMAT, "__metadata__ must map strings");
    BAD("{\"w\":5}", 0, PSW_ERR_FORMAT, "tensor w: header entry must be an object");
    /* Dtypes and shapes. */
    BAD("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, PSW_ERR_FORMAT,
        "tensor w: unknown dtype \"Q4\"");
    BAD("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, PSW_ERR_FORMAT,
        "tensor w: missing or non-string dtype");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8, PSW_ERR_FORMAT,
        "tensor w: shape entry 1 is not a non-negative integer");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, PSW_ERR_FORMAT,
        "tensor w: shape entry 0 is not a non-negative integer");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}",
        8, PSW_ERR_FORMAT, "tensor w: shape [4294967296, 4294967296, 16] x F32 overflows");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4503599627370496,1024],\"data_offsets\":[0,8]}}",
        8, PSW_ERR_FORMAT, "overflows the size range");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
        PSW_ERR_UNSUPPORTED, "tensor w: 9 dimensions");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8, PSW_ERR_FORMAT,
        "tensor w: data_offsets [0, 8] hold 8 bytes but shape [4] x F32 needs 16");
    /* Offsets: bounds, huge values, order, overlap, gaps, coverage. */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 16, PSW_ERR_FORMAT,
        "tensor w: data_offsets [8, 24] out of bounds (data section is 16 bytes)");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551615]}}", 16,
        PSW_ERR_FORMAT, "tensor w: data_offsets [0, 18446744073709551616] out of bounds");
    BAD("{\"w\":{\"dtype\":\"U8\",\"shape\":[15],\"data_offsets\":[18446744073709551600,"
        "18446744073709551615]}}",
        16, PSW_ERR_FORMAT, "out of bounds");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, PSW_ERR_FORMAT,
        "tensor w: data_offsets [16, 0] end before they begin");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, PSW_ERR_FORMAT,
        "tensor w: data_offsets must be a list of two non-negative integers");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}",
        24, PSW_ERR_FORMAT, "tensor b: data_offsets [8, 24] overlap tensor a [0, 16]");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[0,16]}}",
        16, PSW_ERR_FORMAT, "overlap tensor");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}",
        40, PSW_ERR_FORMAT, "tensor b: data_offsets [24, 40] leave bytes [16, 24) of the data "
                            "section unused");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 20, PSW_ERR_FORMAT,
        "data section is 20 bytes but the tensors cover only 16");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
        32, PSW_ERR_FORMAT, "tensor a appears twice in the header");

    /* A valid empty file: {} and no data. */
    p = write_raw("empty.safetensors", "{}      ", 8, NULL, 0);
    psw_status es = psw_st_open_file(&st, p, &err);
    CHECK_OK(es, &err);
    if (es == PSW_OK) {
        CHECK(st.n_tensors == 0, "empty file has no tensors");
        psw_st_close(&st);
    }
    free(p);
}

int main(void) {
    tmp = psw_test_tmpdir();
    test_conversions();
    test_round_trip();
    test_sharded();
    test_f16_and_other_dtypes();
    test_bad_files();
    remove_tree(tmp);
    free(tmp);
    return psw_test_finish();
}
