/* test_llama2c.c: llama2.c legacy checkpoint conversion on a synthetic file whose every float is
 * its own index in the file (so each destination value says where it came from): tensor order,
 * untied classifier, the q/k row permutation (checked element by element and, independently, by
 * RoPE attention scores in both conventions), and the header/size errors. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/llama2c.h"
#include "psw/model_io.h"
#include "test.h"

enum { C = 32, H = 24, L = 2, NH = 4, NKV = 2, V = 10, T = 8, HD = C / NH, KD = NKV * HD };

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

/* Offsets (in floats, after the header) of each array in run.c order. */
enum { A_EMB, A_RMS_ATT, A_WQ, A_WK, A_WV, A_WO, A_RMS_FFN, A_W1, A_W2, A_W3, A_RMS_F, A_FREQ,
       A_WCLS, A_END };
static size_t offs[A_END + 1];

static size_t layout(void) {
    size_t sz[A_END] = {V * C, L * C, L * C * C, L * KD * C, L * KD * C, L * C * C, L * C,
                        L * H * C, L * C * H, L * H * C, C, T * HD, V * C};
    offs[0] = 0;
    for (int i = 0; i < A_END; i++) offs[i + 1] = offs[i] + sz[i];
    return offs[A_END];
}

static char *write_bin(const char *name, const int32_t hdr[7], size_t n_floats, long trim) {
    char *path = psw_path_join(tmp, name);
    FILE *f = fopen(path, "wb");
    PSW_ASSERT(f);
    fwrite(hdr, 4, 7, f);
    for (size_t i = 0; i < n_floats; i++) {
        float v = (float)i;
        fwrite(&v, 4, 1, f);
    }
    if (trim > 0) fputc(0, f);
    PSW_ASSERT(fclose(f) == 0);
    if (trim < 0) PSW_ASSERT(truncate(path, (off_t)(28 + 4 * n_floats) + trim) == 0);
    return path;
}

/* Attention scores q_h . k_(h / group) after RoPE at positions pq, pk, in double:
 * llama2.c convention (adjacent pairs, run.c) on raw rows, or HF rotate_half on HF rows. */
static void scores(const float *wq, const float *wk, const double *x, int pq, int pk, bool hf,
                   int n_heads, int n_kv, int hd, int c, double *out) {
    double q[256], k[256];
    int qd = n_heads * hd, kd = n_kv * hd;
    PSW_ASSERT(qd <= 256);
    for (int r = 0; r < qd; r++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (double)wq[(size_t)r * c + j] * x[j];
        q[r] = s;
    }
    for (int r = 0; r < kd; r++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (double)wk[(size_t)r * c + j] * x[j];
        k[r] = s;
    }
    for (int pass = 0; pass < 2; pass++) {
        double *v = pass ? k : q;
        int width = pass ? kd : qd, pos = pass ? pk : pq;
        for (int h0 = 0; h0 < width; h0 += hd) {
            for (int i = 0; i < hd / 2; i++) {
                double ang = pos * pow(10000.0, -2.0 * i / hd), cs = cos(ang), sn = sin(ang);
                int a = hf ? h0 + i : h0 + 2 * i, b = hf ? h0 + i + hd / 2 : h0 + 2 * i + 1;
                double va = v[a], vb = v[b];
                v[a] = va * cs - vb * sn;
                v[b] = vb * cs + va * sn;
            }
        }
    }
    for (int h = 0; h < n_heads; h++) {
        double s = 0;
        int kh = h / (n_heads / n_kv);
        for (int d = 0; d < hd; d++) s += q[h * hd + d] * k[kh * hd + d];
        out[h] = s;
    }
}

static void test_convert(void) {
    size_t n = layout();
    int32_t hdr[7] = {C, H, L, NH, NKV, -V, T};
    char *path = write_bin("untied.bin", hdr, n, 0);
    psw_model m;
    psw_err err = {0};
    psw_status st = psw_llama2c_load(&m, path, &err);
    CHECK_OK(st, &err);
    free(path);
    if (st != PSW_OK) return;
    const psw_model_config *c = &m.cfg;
    CHECK(c->arch == PSW_ARCH_LLAMA && c->hidden_size == C && c->intermediate_size == H &&
              c->num_layers == L && c->num_heads == NH && c->num_kv_heads == NKV &&
              c->head_dim == HD && c->vocab_size == V && c->max_position_embeddings == T,
          "config shapes");
    CHECK(!c->tie_word_embeddings && c->rms_norm_eps == 1e-5f && c->rope_theta == 10000.0f &&
              c->bos_token_id == 1 && c->eos_token_id == 2,
          "config constants");
    /* Direct copies: value == its float index in the file. */
    struct {
        psw_param_id id;
        int arr;
    } same[] = {{PSW_P_EMBED, A_EMB},  {PSW_P_ATTN_NORM, A_RMS_ATT}, {PSW_P_V, A_WV},
                {PSW_P_O, A_WO},       {PSW_P_MLP_NORM, A_RMS_FFN},  {PSW_P_GATE, A_W1},
                {PSW_P_DOWN, A_W2},    {PSW_P_UP, A_W3},             {PSW_P_FINAL_NORM, A_RMS_F},
                {PSW_P_LM_HEAD, A_WCLS}};
    for (size_t s = 0; s < sizeof same / sizeof same[0]; s++) {
        size_t cnt = m.params.count[same[s].id], bad = 0;
        CHECK(cnt == offs[same[s].arr + 1] - offs[same[s].arr], "%s count",
              psw_param_name(same[s].id));
        for (size_t i = 0; i < cnt; i++)
            if (m.params.ptr[same[s].id][i] != (float)(offs[same[s].arr] + i)) bad++;
        CHECK(bad == 0, "%s: %zu values misplaced", psw_param_name(same[s].id), bad);
    }
    /* q/k: HF row h*HD + j comes from llama2.c row h*HD + 2j (j < HD/2) or 2(j-HD/2)+1. */
    for (int which = 0; which < 2; which++) {
        psw_param_id id = which ? PSW_P_K : PSW_P_Q;
        int heads = which ? NKV : NH, rows = heads * HD;
        size_t base = offs[which ? A_WK : A_WQ], bad = 0;
        for (int l = 0; l < L; l++)
            for (int r = 0; r < rows; r++) {
                int h = r / HD, j = r % HD;
                int src = h * HD + (j < HD / 2 ? 2 * j : 2 * (j - HD / 2) + 1);
                for (int col = 0; col < C; col++) {
                    float want = (float)(base + ((size_t)l * rows + src) * C + col);
                    if (m.params.ptr[id][((size_t)l * rows + r) * C + col] != want) bad++;
                }
            }
        CHECK(bad == 0, "%s permutation: %zu misplaced", which ? "k" : "q", bad);
    }
    /* Independent check: RoPE scores agree between conventions. Weights are index values, so
     * use small centred copies to keep the doubles well conditioned. */
    float *rq = malloc(sizeof(float) * C * C), *rk = malloc(sizeof(float) * KD * C);
    float *hq = malloc(sizeof(float) * C * C), *hk = malloc(sizeof(float) * KD * C);
    double x[C];
    for (int j = 0; j < C; j++) x[j] = sin(1.3 * j + 0.2);
    for (int l = 0; l < L; l++) {
        for (int i = 0; i < C * C; i++) {
            rq[i] = sinf((float)(offs[A_WQ] + (size_t)l * C * C + i));
            hq[i] = sinf(m.params.ptr[PSW_P_Q][(size_t)l * C * C + i]);
        }
        for (int i = 0; i < KD * C; i++) {
            rk[i] = sinf((float)(offs[A_WK] + (size_t)l * KD * C + i));
            hk[i] = sinf(m.params.ptr[PSW_P_K][(size_t)l * KD * C + i]);
        }
        double s1[NH], s2[NH];
        scores(rq, rk, x, 5, 2, false, NH, NKV, HD, C, s1);
        scores(hq, hk, x, 5, 2, true, NH, NKV, HD, C, s2);
        for (int h = 0; h < NH; h++) CHECK_CLOSE(s2[h], s1[h], 1e-9, 1e-9, "RoPE score");
    }
    free(rq), free(rk), free(hq), free(hk);

    /* Saved as an HF directory and loaded back: identical. */
    char *dir = psw_path_join(tmp, "hf");
    CHECK_OK(psw_model_save(&m, dir, PSW_SAVE_F32, 0, &err), &err);
    psw_model back;
    st = psw_model_load(&back, dir, &err);
    CHECK_OK(st, &err);
    if (st == PSW_OK) {
        CHECK(back.params.total == m.params.total &&
                  memcmp(back.params.base, m.params.base, m.params.total * sizeof(float)) == 0,
              "HF round trip");
        psw_model_free(&back);
    }
    free(dir);
    psw_model_free(&m);

    /* Tied (positive vocab): no wcls in the file, no lm_head in the model. */
    int32_t tied[7] = {C, H, L, NH, NKV, V, T};
    path = write_bin("tied.bin", tied, offs[A_WCLS], 0);
    st = psw_llama2c_load(&m, path, &err);
    CHECK_OK(st, &err);
    if (st == PSW_OK) {
        CHECK(m.cfg.tie_word_embeddings && m.params.count[PSW_P_LM_HEAD] == 0, "tied");
        CHECK(m.params.ptr[PSW_P_FINAL_NORM][C - 1] == (float)(offs[A_RMS_F] + C - 1),
              "tied final norm");
        psw_model_free(&m);
    }
    free(path);
}

static void expect_fail(const char *name, const int32_t hdr[7], size_t n, long trim,
                        psw_status want, const char *needle, int line) {
    char *path = write_bin(name, hdr, n, trim);
    psw_model m;
    psw_err err = {0};
    psw_status st = psw_llama2c_load(&m, path, &err);
    psw_test_check_fails(st, &err, want, needle, __FILE__, line, name);
    if (st == PSW_OK) psw_model_free(&m);
    else CHECK(strstr(err.msg, name) != NULL, "names the file: %s", err.msg);
    free(path);
}

static void test_errors(void) {
    size_t n = layout();
    int32_t h[7] = {C, H, L, NH, NKV, -V, T};
    expect_fail("extra.bin", h, n, 1, PSW_ERR_FORMAT, "vocab_size -10, seq_len 8) implies", __LINE__);
    expect_fail("short.bin", h, n, -2, PSW_ERR_FORMAT, "implies", __LINE__);
    int32_t tied_sized[7] = {C, H, L, NH, NKV, V, T};
    expect_fail("wcls_extra.bin", tied_sized, n, 0, PSW_ERR_FORMAT, "implies", __LINE__);
    int32_t zero_heads[7] = {C, H, L, 0, NKV, V, T};
    expect_fail("heads.bin", zero_heads, 10, 0, PSW_ERR_FORMAT,
                "header field n_heads = 0 is not valid", __LINE__);
    int32_t neg_dim[7] = {-C, H, L, NH, NKV, V, T};
    expect_fail("dim.bin", neg_dim, 10, 0, PSW_ERR_FORMAT, "header field dim = -32", __LINE__);
    int32_t kv3[7] = {C, H, L, NH, 3, V, T};
    expect_fail("kv.bin", kv3, 10, 0, PSW_ERR_FORMAT, "n_kv_heads 3: dim must be a multiple",
                __LINE__);
    int32_t huge[7] = {1 << 30, 1 << 30, 1 << 30, 1, 1, 1 << 30, 1 << 30};
    expect_fail("huge.bin", huge, 10, 0, PSW_ERR_FORMAT, "header sizes overflow", __LINE__);
    int32_t magic[7] = {0x616b3432, 1, C, H, L, NH, NKV};
    expect_fail("v1.bin", magic, 10, 0, PSW_ERR_UNSUPPORTED, "versioned llama2.c export", __LINE__);
    expect_fail("tiny.bin", h, 0, -20, PSW_ERR_FORMAT, "too short for the 28-byte", __LINE__);
    psw_model m;
    psw_err err = {0};
    CHECK_FAILS(psw_llama2c_load(&m, "/nonexistent/model.bin", &err), &err, PSW_ERR_IO,
                "/nonexistent/model.bin: cannot open");
}

int main(void) {
    tmp = psw_test_tmpdir();
    test_convert();
    test_errors();
    remove_tree(tmp);
    free(tmp);
    return psw_test_finish();
}
