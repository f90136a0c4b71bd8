/* test_llama2c_stories.c: converts the real stories260K llama2.c checkpoint (shared data) to an HF
 * directory, loads that back, and checks values against the raw .bin read here independently:
 * a few entries of every array, and the q/k permutation through RoPE attention scores computed
 * in llama2.c's convention (adjacent pairs) on the raw rows vs HF's rotate_half on the loaded
 * rows. Skips (77) without PSW_SHARED_DIR. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/llama2c.h"
#include "psw/model_io.h"
#include "test.h"

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

/* RoPE'd attention scores per query head at positions pq (query) and pk (key), in double. */
static void scores(const float *wq, const float *wk, const double *x, int pq, int pk, bool hf,
                   int nh, int nkv, int hd, int c, double *out) {
    double q[64], k[64];
    for (int r = 0; r < nh * hd; r++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (double)wq[r * c + j] * x[j];
        q[r] = s;
    }
    for (int r = 0; r < nkv * hd; r++) {
        double s = 0;
        for (int j = 0; j < c; j++) s += (double)wk[r * c + j] * x[j];
        k[r] = s;
    }
    for (int pass = 0; pass < 2; pass++) {
        double *v = pass ? k : q;
        int width = (pass ? nkv : nh) * hd, pos = pass ? pk : pq;
        for (int h0 = 0; h0 < width; h0 += hd)
            for (int i = 0; i < hd / 2; i++) {
                /* run.c: freq = 10000^(-(2i)/hd) for the pair (2i, 2i+1). */
                double ang = pos * pow(10000.0, -2.0 * i / hd), cs = cos(ang), sn = sin(ang);
                int a = hf ? h0 + i : h0 + 2 * i, b = hf ? h0 + i + hd / 2 : h0 + 2 * i + 1;
                double va = v[a], vb = v[b];
                v[a] = va * cs - vb * sn;
                v[b] = vb * cs + va * sn;
            }
    }
    for (int h = 0; h < nh; h++) {
        double s = 0;
        for (int d = 0; d < hd; d++) s += q[h * hd + d] * k[(h / (nh / nkv)) * hd + d];
        out[h] = s;
    }
}

int main(void) {
    const char *shared = psw_test_shared_dir();
    if (!shared) {
        printf("PSW_SHARED_DIR unset: skipped\n");
        return PSW_TEST_SKIP;
    }
    char *bin = psw_path_join(shared, "data/models/stories260K/stories260K.bin");
    psw_err err = {0};
    char *raw_bytes = NULL;
    size_t len = 0;
    if (psw_read_file(bin, &raw_bytes, &len, &err) != PSW_OK) {
        fprintf(stderr, "FAIL: %s\n", err.msg);
        return 1;
    }
    CHECK(len == 1056540, "stories260K.bin is %zu bytes, want 1056540", len);
    int32_t h[7];
    memcpy(h, raw_bytes, sizeof h);
    CHECK(h[0] == 64 && h[1] == 172 && h[2] == 5 && h[3] == 8 && h[4] == 4 && h[5] == 512 &&
              h[6] == 512,
          "header");
    const int C = 64, Hd = 172, L = 5, NH = 8, NKV = 4, V = 512, HD = 8, KD = 32;
    const float *w = (const float *)(raw_bytes + 28);
    /* Offsets in run.c order. */
    size_t o_emb = 0, o_ratt = o_emb + (size_t)V * C, o_wq = o_ratt + (size_t)L * C;
    size_t o_wk = o_wq + (size_t)L * C * C, o_wv = o_wk + (size_t)L * KD * C;
    size_t o_wo = o_wv + (size_t)L * KD * C, o_rffn = o_wo + (size_t)L * C * C;
    size_t o_w1 = o_rffn + (size_t)L * C, o_w2 = o_w1 + (size_t)L * Hd * C;
    size_t o_w3 = o_w2 + (size_t)L * C * Hd, o_rf = o_w3 + (size_t)L * Hd * C;

    char *tmp = psw_test_tmpdir();
    char *dir = psw_path_join(tmp, "stories260K-hf");
    psw_model conv, m;
    psw_status st = psw_llama2c_load(&conv, bin, &err);
    CHECK_OK(st, &err);
    if (st != PSW_OK) return psw_test_finish();
    CHECK_OK(psw_model_save(&conv, dir, PSW_SAVE_F32, 0, &err), &err);
    psw_model_free(&conv);
    st = psw_model_load(&m, dir, &err);
    CHECK_OK(st, &err);
    if (st != PSW_OK) return psw_test_finish();
    CHECK(m.cfg.arch == PSW_ARCH_LLAMA && m.cfg.tie_word_embeddings && m.cfg.num_kv_heads == 4 &&
              m.cfg.head_dim == 8 && m.cfg.rms_norm_eps == 1e-5f && m.cfg.rope_theta == 10000.0f &&
              m.cfg.max_position_embeddings == 512 && m.params.total == 260032,
          "stories260K config, %zu params", m.params.total);

    /* A few entries of each copied array: [layer][row][col] computed from run.c offsets. */
    float **p = m.params.ptr;
    CHECK(p[PSW_P_EMBED][403 * C + 17] == w[o_emb + 403 * C + 17], "embed[403][17]");
    CHECK(p[PSW_P_EMBED][511 * C + 63] == w[o_emb + 511 * C + 63], "embed[511][63]");
    CHECK(p[PSW_P_ATTN_NORM][3 * C + 5] == w[o_ratt + 3 * C + 5], "rms_att[3][5]");
    CHECK(p[PSW_P_V][(2 * KD + 31) * C + 7] == w[o_wv + (2 * KD + 31) * C + 7], "wv[2][31][7]");
    CHECK(p[PSW_P_O][(4 * C + 10) * C + 63] == w[o_wo + (4 * C + 10) * C + 63], "wo[4][10][63]");
    CHECK(p[PSW_P_MLP_NORM][1 * C + 0] == w[o_rffn + 1 * C + 0], "rms_ffn[1][0]");
    CHECK(p[PSW_P_GATE][(0 * Hd + 171) * C + 3] == w[o_w1 + (0 * Hd + 171) * C + 3], "w1 -> gate");
    CHECK(p[PSW_P_DOWN][(3 * C + 9) * Hd + 170] == w[o_w2 + (3 * C + 9) * Hd + 170], "w2 -> down");
    CHECK(p[PSW_P_UP][(4 * Hd + 100) * C + 50] == w[o_w3 + (4 * Hd + 100) * C + 50], "w3 -> up");
    CHECK(p[PSW_P_FINAL_NORM][42] == w[o_rf + 42], "rms_final[42]");
    /* q/k by hand: HF row h*8 + 1 holds llama2.c row h*8 + 2; HF row h*8 + 4 holds row h*8 + 1. */
    CHECK(p[PSW_P_Q][(1 * C + 3 * HD + 1) * C + 11] == w[o_wq + (1 * C + 3 * HD + 2) * C + 11],
          "wq[1] head 3 row 1 <- row 2");
    CHECK(p[PSW_P_Q][(1 * C + 3 * HD + 4) * C + 11] == w[o_wq + (1 * C + 3 * HD + 1) * C + 11],
          "wq[1] head 3 row 4 <- row 1");
    CHECK(p[PSW_P_K][(2 * KD + 2 * HD + 7) * C + 0] == w[o_wk + (2 * KD + 2 * HD + 7) * C + 0],
          "wk[2] head 2 row 7 <- row 7");
    CHECK(p[PSW_P_K][(2 * KD + 2 * HD + 6) * C + 0] == w[o_wk + (2 * KD + 2 * HD + 5) * C + 0],
          "wk[2] head 2 row 6 <- row 5");

    /* Independent check of the permutation: scores agree in every layer at several positions. */
    double x[64];
    for (int j = 0; j < C; j++) x[j] = cos(0.7 * j + 0.3);
    double worst = 0;
    for (int l = 0; l < L; l++)
        for (int pos = 0; pos < 3; pos++) {
            double s_l2c[8], s_hf[8];
            int pq = 3 + 50 * pos, pk = 1 + 20 * pos;
            scores(w + o_wq + (size_t)l * C * C, w + o_wk + (size_t)l * KD * C, x, pq, pk, false,
                   NH, NKV, HD, C, s_l2c);
            scores(p[PSW_P_Q] + (size_t)l * C * C, p[PSW_P_K] + (size_t)l * KD * C, x, pq, pk, true,
                   NH, NKV, HD, C, s_hf);
            for (int hh = 0; hh < NH; hh++) {
                CHECK_CLOSE(s_hf[hh], s_l2c[hh], 1e-9, 1e-9, "RoPE attention score");
                if (fabs(s_hf[hh] - s_l2c[hh]) > worst) worst = fabs(s_hf[hh] - s_l2c[hh]);
            }
        }
    printf("RoPE scores llama2.c vs HF: max |diff| %.3g over %d layers x 3 positions x %d heads\n",
           worst, L, NH);
    psw_model_free(&m);
    remove_tree(tmp);
    free(tmp);
    free(dir);
    free(bin);
    free(raw_bytes);
    return psw_test_finish();
}
