/* fuzz_targets.c: the fuzz target bodies (see fuzz_targets.h). File-based readers get the bytes
 * through a scratch file, since their public entry points take paths. */
#include "fuzz_targets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psw/config.h"
#include "psw/dataset.h"
#include "psw/model.h"
#include "psw/model_io.h"
#include "psw/prompt.h"
#include "psw/safetensors.h"
#include "psw/spec.h"
#include "psw/tokenizer.h"

static char scratch_dir[256];
static psw_tokenizer *fixed_tok;

/* A broken promise: print what and abort, which libFuzzer (and ctest) reports as a crash. */
static _Noreturn void violation(const char *fmt, ...) PSW_PRINTF(1, 2);
static _Noreturn void violation(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant violated: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* A failure must carry one of the allowed statuses and a non-empty message. */
static void expect_failure(const char *what, psw_status st, const psw_err *err,
                           unsigned allowed_mask) {
    if (st <= PSW_OK || st >= PSW_STATUS_COUNT || !(allowed_mask & (1u << st)))
        violation("%s: unexpected status %d (%s): %s", what, (int)st,
                  psw_status_str(st), err->msg);
    if (err->status != st) violation("%s: err.status %d != returned %d", what, err->status, st);
    if (!err->msg[0]) violation("%s: empty error message", what);
}
#define BIT(s) (1u << (s))

static char *scratch_path(const char *name) { return psw_path_join(scratch_dir, name); }

static void write_scratch(const char *name, const void *data, size_t size) {
    char *path = scratch_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) violation("cannot create %s: %s", path, strerror(errno));
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w <= 0) violation("cannot write %s: %s", path, strerror(errno));
        p += w;
        size -= (size_t)w;
    }
    if (close(fd) != 0) violation("cannot close %s", path);
    free(path);
}

static void unlink_scratch(const char *name) {
    char *path = scratch_path(name);
    unlink(path);
    free(path);
}

static void remove_scratch(void) {
    if (!scratch_dir[0]) return;
    DIR *d = opendir(scratch_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) unlink_scratch(e->d_name);
        closedir(d);
    }
    rmdir(scratch_dir);
    psw_tokenizer_free(fixed_tok);
    fixed_tok = NULL;
}

/* A tiny Llama: the checkpoint target validates fuzzed weight files against it. */
static const char tiny_config[] =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 8,"
    " \"intermediate_size\": 12, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
    " \"num_key_value_heads\": 1, \"vocab_size\": 16, \"max_position_embeddings\": 32,"
    " \"rope_theta\": 10000.0, \"rms_norm_eps\": 1e-05, \"tie_word_embeddings\": true}";

void psw_fuzz_setup(const char *tokenizer_path) {
    psw_log_set_level(PSW_LOG_LEVEL_ERROR);
    const char *tmp = getenv("TMPDIR");
    struct stat sb;
    if (!tmp || !*tmp) tmp = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(scratch_dir, sizeof scratch_dir, "%s/psw_fuzz_XXXXXX", tmp);
    if (!mkdtemp(scratch_dir)) violation("mkdtemp %s: %s", scratch_dir, strerror(errno));
    atexit(remove_scratch);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/ckpt", scratch_dir);
    if (mkdir(sub, 0700) != 0) violation("mkdir %s: %s", sub, strerror(errno));
    write_scratch("ckpt/config.json", tiny_config, sizeof tiny_config - 1);
    if (tokenizer_path) {
        psw_err err = {0};
        if (psw_tokenizer_load(tokenizer_path, &fixed_tok, &err) != PSW_OK)
            violation("cannot load the fixed tokenizer: %s", err.msg);
    }
}

/* ------------------------------------------------------------------ safetensors */

static size_t dtype_size(const psw_st_tensor *t) {
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {{"F32", 4}, {"BF16", 2}, {"F16", 2},  {"F64", 8},  {"I64", 8},
                 {"U64", 8}, {"I32", 4},  {"U32", 4},  {"I16", 2},  {"U16", 2},
                 {"I8", 1},  {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(t->dtype_str, sizes[i].name) == 0) return sizes[i].size;
    violation("tensor %s: dtype_str \"%s\" is not a safetensors dtype", t->name, t->dtype_str);
}

/* What an opened file promises: names sorted and unique, shape x dtype = nbytes, every tensor's
 * bytes inside its file's data section, the sections tiled, and reads that reproduce the bytes. */
static void check_opened(const psw_safetensors *st) {
    /* An index with an empty weight_map is a valid set of no files. */
    if (st->n_files < 0 || (st->n_files == 0 && st->n_tensors) || !st->source)
        violation("opened set with %d files, %zu tensors", st->n_files, st->n_tensors);
    size_t covered[PSW_FUZZ_MAX_SHARDS + 1] = {0};
    for (size_t i = 0; i < st->n_tensors; i++) {
        const psw_st_tensor *t = &st->tensors[i];
        if (i > 0 && strcmp(st->tensors[i - 1].name, t->name) >= 0)
            violation("tensors not sorted/unique at %s", t->name);
        if (psw_st_find(st, t->name) != t) violation("psw_st_find(%s) misses", t->name);
        if (t->ndim < 0 || t->ndim > PSW_ST_MAX_DIMS) violation("%s: ndim %d", t->name, t->ndim);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++)
            if (!psw_size_mul(numel, t->shape[d], &numel)) violation("%s: numel overflows", t->name);
        if (numel != t->numel) violation("%s: numel %zu != shape product %zu", t->name, t->numel, numel);
        size_t nbytes;
        if (!psw_size_mul(numel, dtype_size(t), &nbytes) || nbytes != t->nbytes)
            violation("%s: nbytes %zu disagrees with shape x dtype", t->name, t->nbytes);
        if (t->file < 0 || t->file >= st->n_files) violation("%s: file index %d", t->name, t->file);
        const psw_st_file *f = &st->files[t->file];
        const unsigned char *base = f->map;
        if (!base || f->size < 8) violation("%s: file %s not mapped", t->name, f->path);
        uint64_t hlen = 0;
        for (int b = 7; b >= 0; b--) hlen = (hlen << 8) | base[b];
        const unsigned char *data = base + 8 + hlen, *end = base + f->size;
        if (t->data < data || t->data > end || (size_t)(end - t->data) < t->nbytes)
            violation("%s: data [%td, +%zu) outside the data section of %s (%zu bytes)", t->name,
                      t->data - base, t->nbytes, f->path, f->size);
        if (t->file <= PSW_FUZZ_MAX_SHARDS) covered[t->file] += t->nbytes;
        if (t->dtype == PSW_DTYPE_OTHER) {
            psw_err err = {0};
            psw_status s = psw_st_read_f32(st, t, NULL, &err);
            if (s != PSW_ERR_UNSUPPORTED) violation("%s: reading dtype %s gave %d", t->name, t->dtype_str, s);
            continue;
        }
        float *out = psw_try_alloc(numel ? numel * sizeof(float) : 1);
        if (!out) violation("%s: cannot allocate %zu floats", t->name, numel);
        psw_err err = {0};
        if (psw_st_read_f32(st, t, out, &err) != PSW_OK) violation("%s: read: %s", t->name, err.msg);
        for (size_t k = 0; k < numel; k++) {
            uint32_t want, got;
            memcpy(&got, &out[k], 4);
            if (t->dtype == PSW_DTYPE_F32) {
                memcpy(&want, t->data + 4 * k, 4);
            } else {
                uint16_t h = (uint16_t)(t->data[2 * k] | (t->data[2 * k + 1] << 8));
                float v = t->dtype == PSW_DTYPE_BF16 ? psw_bf16_to_f32(h) : psw_f16_to_f32(h);
                memcpy(&want, &v, 4);
            }
            if (want != got) violation("%s[%zu]: read %08x, expected %08x", t->name, k, got, want);
        }
        free(out);
    }
    for (int fi = 0; fi < st->n_files && fi <= PSW_FUZZ_MAX_SHARDS; fi++) {
        const psw_st_file *f = &st->files[fi];
        const unsigned char *base = f->map;
        uint64_t hlen = 0;
        for (int b = 7; b >= 0; b--) hlen = (hlen << 8) | base[b];
        if (covered[fi] != f->size - 8 - hlen)
            violation("%s: tensors cover %zu of %llu data bytes", f->path, covered[fi],
                      (unsigned long long)(f->size - 8 - hlen));
    }
}

static void check_closed(const psw_safetensors *st, const char *what) {
    if (st->files || st->tensors || st->source || st->n_files || st->n_tensors)
        violation("%s: failed open left state behind", what);
}

static int fuzz_safetensors(const uint8_t *data, size_t size) {
    write_scratch("model.safetensors", data, size);
    char *path = scratch_path("model.safetensors");
    psw_safetensors st;
    psw_err err = {0};
    psw_status s = psw_st_open_file(&st, path, &err);
    if (s == PSW_OK) {
        check_opened(&st);
        psw_st_close(&st);
    } else {
        expect_failure("safetensors", s, &err, BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_UNSUPPORTED));
        check_closed(&st, "safetensors");
    }
    free(path);
    return 0;
}

/* Finds sep in [p, end). */
static const uint8_t *find_sep(const uint8_t *p, const uint8_t *end) {
    size_t n = sizeof PSW_FUZZ_SEP - 1;
    for (; (size_t)(end - p) >= n; p++)
        if (memcmp(p, PSW_FUZZ_SEP, n) == 0) return p;
    return NULL;
}

static int fuzz_st_index(const uint8_t *data, size_t size) {
    const uint8_t *p = data, *end = data + size;
    for (int i = 0; i <= PSW_FUZZ_MAX_SHARDS; i++) {
        char name[40];
        if (i == 0) snprintf(name, sizeof name, "model.safetensors.index.json");
        else snprintf(name, sizeof name, "s%d.safetensors", i);
        if (!p) {
            unlink_scratch(name);
            continue;
        }
        const uint8_t *sep = find_sep(p, end);
        const uint8_t *stop = sep && i < PSW_FUZZ_MAX_SHARDS ? sep : end;
        write_scratch(name, p, (size_t)(stop - p));
        p = sep && i < PSW_FUZZ_MAX_SHARDS ? sep + sizeof PSW_FUZZ_SEP - 1 : NULL;
    }
    psw_safetensors st;
    psw_err err = {0};
    /* No model.safetensors in the directory, so this opens the index. */
    psw_status s = psw_st_open_dir(&st, scratch_dir, &err);
    if (s == PSW_OK) {
        check_opened(&st);
        psw_st_close(&st);
    } else {
        /* IO: the index names a shard that is absent. */
        expect_failure("st_index", s, &err,
                       BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_UNSUPPORTED) | BIT(PSW_ERR_IO));
        check_closed(&st, "st_index");
    }
    return 0;
}

/* Fuzzed weights against a fixed config: the name/shape/dtype checks of model_io.c. */
static int fuzz_checkpoint(const uint8_t *data, size_t size) {
    write_scratch("ckpt/model.safetensors", data, size);
    char *dir = scratch_path("ckpt");
    psw_checkpoint_info info;
    psw_err err = {0};
    psw_status s = psw_checkpoint_inspect(dir, &info, &err);
    unsigned allowed = BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_UNSUPPORTED) | BIT(PSW_ERR_SHAPE);
    if (s != PSW_OK) expect_failure("checkpoint inspect", s, &err, allowed);
    psw_model m;
    memset(&m, 0, sizeof m);
    psw_err err2 = {0};
    psw_status s2 = psw_model_load(&m, dir, &err2);
    if (s2 != PSW_OK) expect_failure("checkpoint load", s2, &err2, allowed);
    if ((s == PSW_OK) != (s2 == PSW_OK))
        violation("inspect says %d (%s) but load says %d (%s)", s, err.msg, s2, err2.msg);
    if (s2 == PSW_OK) psw_model_free(&m);
    free(dir);
    return 0;
}

/* ------------------------------------------------------------------ config.json */

static int fuzz_config(const uint8_t *data, size_t size) {
    psw_model_config c;
    psw_err err = {0};
    psw_status s = psw_config_parse((const char *)data, size, "fuzz.json", &c, &err);
    if (s != PSW_OK) {
        expect_failure("config", s, &err,
                       BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_INVALID_ARG) | BIT(PSW_ERR_UNSUPPORTED));
        return 0;
    }
    if (psw_config_validate(&c, "fuzz.json", &err) != PSW_OK)
        violation("parsed config fails validation: %s", err.msg);
    /* Sizes from the file never wrap: the parameter layout, recomputed with checked arithmetic,
     * equals what params.c computes, and its byte count fits size_t. */
    psw_params layout;
    psw_params_layout(&c, &layout);
    size_t total = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        size_t rows, cols, n;
        psw_param_shape(&c, (psw_param_id)i, &rows, &cols);
        bool per_layer = i != PSW_P_EMBED && i != PSW_P_FINAL_NORM && i != PSW_P_LM_HEAD;
        if (!psw_size_mul(rows, cols ? cols : 1, &n) ||
            (per_layer && !psw_size_mul(n, (size_t)c.num_layers, &n)) ||
            !psw_size_add(total, n, &total))
            violation("accepted config: parameter kind %d overflows size_t", i);
        if (n != layout.count[i]) violation("layout count[%d] %zu != %zu", i, layout.count[i], n);
    }
    size_t bytes;
    if (total != layout.total || !psw_size_mul(total, sizeof(float), &bytes))
        violation("accepted config: %zu parameters (layout says %zu) overflow as bytes", total,
                  layout.total);
    /* What we save, we (and HF) load back unchanged. */
    char *path = scratch_path("config.json");
    psw_model_config c2;
    if (psw_config_save(path, &c, "float32", &err) != PSW_OK) violation("save: %s", err.msg);
    if (psw_config_load(path, &c2, &err) != PSW_OK) violation("reload: %s", err.msg);
    if (c.arch != c2.arch || c.hidden_size != c2.hidden_size ||
        c.intermediate_size != c2.intermediate_size || c.num_layers != c2.num_layers ||
        c.num_heads != c2.num_heads || c.num_kv_heads != c2.num_kv_heads ||
        c.head_dim != c2.head_dim || c.vocab_size != c2.vocab_size ||
        c.max_position_embeddings != c2.max_position_embeddings ||
        c.rope_theta != c2.rope_theta || c.rms_norm_eps != c2.rms_norm_eps ||
        c.tie_word_embeddings != c2.tie_word_embeddings || c.bos_token_id != c2.bos_token_id ||
        c.eos_token_id != c2.eos_token_id || c.pad_token_id != c2.pad_token_id)
        violation("config changes through save + load (rope_theta %.9g -> %.9g, eps %.9g -> %.9g)",
                  (double)c.rope_theta, (double)c2.rope_theta, (double)c.rms_norm_eps,
                  (double)c2.rms_norm_eps);
    free(path);
    return 0;
}

/* ------------------------------------------------------------------ tokenizer */

/* Strict UTF-8 as Rust's str (independent of the tokenizer's own check). */
static bool utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
        else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
        else return false;
        if (n - i < (size_t)len) return false;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += (size_t)len;
    }
    return true;
}

/* Encodes and decodes text; with roundtrip, decode(encode(text)) must give text back. */
static void encode_check(const psw_tokenizer *tok, const uint8_t *text, size_t n, bool roundtrip) {
    int32_t *ids = NULL;
    size_t n_ids = 0;
    psw_err err = {0};
    psw_status s = psw_tokenizer_encode(tok, (const char *)text, n, &ids, &n_ids, &err);
    bool valid = utf8_ok(text, n);
    if (s != PSW_OK) {
        expect_failure("encode", s, &err, BIT(PSW_ERR_INVALID_ARG) | BIT(PSW_ERR_NOMEM));
        if (s == PSW_ERR_INVALID_ARG && valid)
            violation("encode rejects valid UTF-8: %s", err.msg);
        return;
    }
    if (!valid) violation("encode accepted invalid UTF-8 (%zu bytes)", n);
    size_t vocab = psw_tokenizer_vocab_size(tok);
    for (size_t i = 0; i < n_ids; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= vocab)
            violation("encode gave id %d outside [0, %zu)", ids[i], vocab);
    char *back = NULL;
    size_t n_back = 0;
    s = psw_tokenizer_decode(tok, ids, n_ids, &back, &n_back, &err);
    if (s != PSW_OK) violation("decode of encode output failed: %s", err.msg);
    if (back[n_back] != '\0') violation("decode output not NUL-terminated");
    if (roundtrip && (n_back != n || memcmp(back, text, n) != 0))
        violation("decode(encode(x)) != x: %zu bytes in, %zu out", n, n_back);
    free(back);
    free(ids);
}

static int fuzz_tokenizer_load(const uint8_t *data, size_t size) {
    write_scratch("tokenizer.json", data, size);
    char *path = scratch_path("tokenizer.json");
    psw_tokenizer *tok = NULL;
    psw_err err = {0};
    psw_status s = psw_tokenizer_load(path, &tok, &err);
    free(path);
    if (s != PSW_OK) {
        expect_failure("tokenizer_load", s, &err,
                       BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_UNSUPPORTED) | BIT(PSW_ERR_NOMEM));
        if (tok) violation("failed load returned a tokenizer");
        return 0;
    }
    /* A Split with behavior Removed drops text and a vocabulary may lack bytes, so an arbitrary
     * tokenizer need not round-trip; ids must still be valid and decodable. */
    static const char *const texts[] = {
        "Hello world, it's 2024!\n\n  tabs\there",
        "<|endoftext|><|user|>\nQuestion: \xc3\xa9t\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbb",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        encode_check(tok, (const uint8_t *)texts[i], strlen(texts[i]), false);
    size_t vocab = psw_tokenizer_vocab_size(tok);
    int32_t probe[4] = {0, (int32_t)(vocab / 2), (int32_t)(vocab ? vocab - 1 : 0), (int32_t)vocab};
    char *text = NULL;
    size_t len = 0;
    s = psw_tokenizer_decode(tok, probe, 4, &text, &len, &err);
    if (s == PSW_OK) violation("decode accepted id %zu == vocab_size", vocab);
    expect_failure("decode", s, &err, BIT(PSW_ERR_INVALID_ARG));
    psw_tokenizer_free(tok);
    return 0;
}

static int fuzz_tokenizer_encode(const uint8_t *data, size_t size) {
    if (!fixed_tok) violation("tokenizer_encode needs the fixed tokenizer (psw_fuzz_setup)");
    encode_check(fixed_tok, data, size, true);
    return 0;
}

/* ------------------------------------------------------------------ CSQA JSONL + prompts */

static int fuzz_csqa(const uint8_t *data, size_t size) {
    psw_mc_dataset ds;
    psw_err err = {0};
    psw_status s = psw_mc_dataset_parse((const char *)data, size, "fuzz.jsonl", &ds, &err);
    if (s != PSW_OK) {
        expect_failure("csqa", s, &err, BIT(PSW_ERR_FORMAT));
        if (strncmp(err.msg, "fuzz.jsonl", 10) != 0 || strchr(err.msg, '\n'))
            violation("message not one line naming the source: %s", err.msg);
        if (ds.n || ds.examples || ds.arena || ds.source) violation("failed parse left state behind");
        return 0;
    }
    if (ds.n < 1 || !ds.examples) violation("parsed dataset is empty");
    for (size_t i = 0; i < ds.n; i++) {
        const psw_mc_example *ex = &ds.examples[i];
        if (!ex->id || !ex->id[0] || !ex->stem || !ex->concept)
            violation("example %zu: NULL or empty id/stem/concept", i);
        if (ex->n_choices < PSW_MIN_CHOICES || ex->n_choices > PSW_MAX_CHOICES)
            violation("example %zu: %d choices", i, ex->n_choices);
        if (ds.labeled ? (ex->gold < 0 || ex->gold >= ex->n_choices) : ex->gold != -1)
            violation("example %zu: gold %d in a %s file", i, ex->gold,
                      ds.labeled ? "labeled" : "unlabeled");
        for (int k = 0; k < ex->n_choices; k++) {
            if (!ex->labels[k] || !ex->labels[k][0] || !ex->texts[k])
                violation("example %zu: choice %d missing", i, k);
            if (psw_mc_example_label_index(ex, ex->labels[k]) != k)
                violation("example %zu: label %d not unique", i, k);
        }
        if (psw_mc_dataset_find(&ds, ex->id) != ex) violation("example %zu: id not unique", i);
        if (i > 0 && ex->line <= ds.examples[i - 1].line) violation("lines not increasing");
    }
    /* The prompt module on the parsed data, with the default and with data-drawn shots. */
    psw_prompt_settings ps;
    psw_prompt_settings_default(&ps);
    psw_mc_example shots[PSW_PROMPT_MAX_SHOTS];
    const char *ids[3];
    int n_ids = ds.n < 3 ? (int)ds.n : 3;
    for (int i = 0; i < n_ids; i++) ids[i] = ds.examples[i].id;
    s = psw_prompt_select_shots(&ds, ids, n_ids, n_ids, shots, &err);
    if (ds.labeled && s != PSW_OK) violation("select_shots on a labeled file: %s", err.msg);
    if (!ds.labeled && s == PSW_OK) violation("select_shots accepted unlabeled shots");
    if (s == PSW_OK) {
        ps.shots = shots;
        ps.n_shots = n_ids;
    }
    for (size_t i = 0; i < ds.n && i < 4; i++) {
        const psw_mc_example *ex = &ds.examples[i];
        char *text = NULL;
        size_t len = 0;
        if (psw_prompt_build(&ps, ex, &text, &len, &err) != PSW_OK)
            violation("prompt_build: %s", err.msg);
        if (strlen(text) > len || !strstr(text, ex->stem))
            violation("prompt of example %zu lacks its stem", i);
        free(text);
        if (!fixed_tok) continue;
        psw_prompt_tokens pt;
        s = psw_prompt_tokenize(&ps, fixed_tok, ex, &pt, &err);
        if (s != PSW_OK) {
            expect_failure("prompt_tokenize", s, &err, BIT(PSW_ERR_INVALID_ARG));
            continue;
        }
        if (pt.n_ids < 1 || pt.n_choices != ex->n_choices) violation("prompt tokens malformed");
        psw_prompt_tokens_free(&pt);
    }
    psw_mc_dataset_free(&ds);
    return 0;
}

/* ------------------------------------------------------------------ experiment spec */

static void spec_one(const uint8_t *data, size_t size, psw_spec_mode mode) {
    psw_spec s;
    psw_err err = {0};
    psw_status st = psw_spec_parse((const char *)data, size, "fuzz.json", "/base", mode, &s, &err);
    if (st != PSW_OK) {
        expect_failure("spec", st, &err, BIT(PSW_ERR_FORMAT) | BIT(PSW_ERR_INVALID_ARG));
        if (strncmp(err.msg, "fuzz.json: ", 11) != 0 || strchr(err.msg, '\n'))
            violation("spec message not one line naming the file: %s", err.msg);
        return;
    }
    /* Parsing the normalised JSON again gives the same spec and the same config ids. */
    char *j1 = psw_spec_to_json(&s, false);
    psw_spec s2;
    if (psw_spec_parse(j1, strlen(j1), "fuzz.json", "/base", mode, &s2, &err) != PSW_OK)
        violation("psw_spec_to_json output is rejected: %s\n%s", err.msg, j1);
    char *j2 = psw_spec_to_json(&s2, false);
    if (strcmp(j1, j2) != 0) violation("spec JSON changes on re-parse:\n%s\n%s", j1, j2);
    size_t n = psw_spec_grid_count(&s);
    if (n != psw_spec_grid_count(&s2)) violation("grid count changes on re-parse");
    if (n > PSW_SPEC_MAX_CONFIGS) violation("grid of %zu configs", n);
    for (size_t i = 0; i < n && i < 64; i++) {
        psw_spec_config a, b;
        if (psw_spec_grid_get(&s, i, &a, &err) != PSW_OK || psw_spec_grid_get(&s2, i, &b, &err) != PSW_OK)
            violation("grid_get(%zu) of %zu: %s", i, n, err.msg);
        if (a.id != b.id || a.index != i) violation("config %zu: id or index differs", i);
        size_t at;
        if (!psw_spec_grid_find(&s, a.id, &at) || at != i) violation("grid_find(config %zu)", i);
        if (psw_spec_config_id(&s, a.retention, a.loss, a.data_size, a.seed) != a.id)
            violation("config %zu: psw_spec_config_id disagrees with the grid", i);
    }
    psw_spec_config c;
    if (psw_spec_grid_get(&s, n, &c, &err) != PSW_ERR_INVALID_ARG) violation("grid_get(n) accepted");
    char *settings = psw_spec_settings_json(&s);
    if (!settings || settings[0] != '{') violation("settings json");
    free(settings);
    char *pretty = psw_spec_to_json(&s, true);
    free(pretty);
    (void)psw_spec_prompt_tokens_estimate(&s);
    free(j1);
    free(j2);
    psw_spec_free(&s2);
    psw_spec_free(&s);
}

static int fuzz_spec(const uint8_t *data, size_t size) {
    spec_one(data, size, PSW_SPEC_MODE_RUN);
    spec_one(data, size, PSW_SPEC_MODE_RECOVER);
    return 0;
}

const psw_fuzz_target psw_fuzz_targets[] = {
    {"safetensors", fuzz_safetensors},
    {"st_index", fuzz_st_index},
    {"checkpoint", fuzz_checkpoint},
    {"config", fuzz_config},
    {"tokenizer_load", fuzz_tokenizer_load},
    {"tokenizer_encode", fuzz_tokenizer_encode},
    {"csqa", fuzz_csqa},
    {"spec", fuzz_spec},
    {NULL, NULL},
};

const psw_fuzz_target *psw_fuzz_find(const char *name) {
    for (const psw_fuzz_target *t = psw_fuzz_targets; t->name; t++)
        if (strcmp(t->name, name) == 0) return t;
    return NULL;
}
