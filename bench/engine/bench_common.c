/* bench_common.c: see bench_common.h. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "psw/common.h"

const psw_bench_shape psw_bench_shapes[PSW_BENCH_N_SHAPES] = {
    {"tiny", 128, 4, 4, 512, 2048, 64, 16},
    {"small", 512, 8, 8, 1408, 8192, 128, 8},
    {"medium", 768, 12, 12, 2048, 32000, 128, 4},
};

psw_model_config psw_bench_config(const psw_bench_shape *s) {
    psw_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = PSW_ARCH_OLMO2;
    c.hidden_size = s->C;
    c.intermediate_size = s->H;
    c.num_layers = s->L;
    c.num_heads = s->NH;
    c.num_kv_heads = s->NH;
    c.head_dim = s->C / s->NH;
    c.vocab_size = s->V;
    c.max_position_embeddings = s->T;
    c.rope_theta = 500000.0f;
    c.rms_norm_eps = 1e-6f;
    c.tie_word_embeddings = false;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

double psw_bench_forward_flops(const psw_bench_shape *s, int H, double P) {
    double C = s->C, T = s->T, B = s->B, L = s->L, V = s->V, h = H;
    double QD = C, KD = C; /* no GQA in the benchmark shapes */
    double lin = 2.0 * (C * QD + 2.0 * C * KD + QD * C + 3.0 * C * h) * L * B * T;
    double att = 2.0 * 2.0 * QD * T * (T + 1.0) / 2.0 * L * B;
    return lin + att + 2.0 * C * V * P;
}

double psw_bench_inference_flops(const psw_bench_shape *s, int H) {
    double C = s->C, T = s->T, B = s->B, L = s->L, V = s->V, h = H;
    double QD = C, KD = C;
    double layer_row = 2.0 * (C * QD + 2.0 * C * KD + QD * C + 3.0 * C * h);
    double layer_att = 2.0 * 2.0 * QD * T * (T + 1.0) / 2.0;
    double full = (L - 1.0) * (layer_row * B * T + layer_att * B);
    double last = 2.0 * 2.0 * C * KD * B * T                   /* keys and values, every row */
                  + 2.0 * (C * QD + QD * C + 3.0 * C * h) * B /* the rest at the B answer rows */
                  + 2.0 * 2.0 * QD * T * B;                   /* one query row against T keys */
    return full + last + 2.0 * C * V * B;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double psw_bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double psw_bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t lcg_state = 0x9E3779B97F4A7C15ull;
uint32_t psw_bench_lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33);
}

int psw_bench_parse_ints(const char *s, int *out, int n) {
    int k = 0;
    char *dup = psw_xstrdup(s), *save = NULL;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (k == n || !psw_parse_long(tok, &v) || v < 1 || v > 64) {
            free(dup);
            return -1;
        }
        out[k++] = (int)v;
    }
    free(dup);
    return k;
}

bool psw_bench_parse_names(const char *s, const char *const *names, int n, bool *sel) {
    bool ok = true;
    char *dup = psw_xstrdup(s), *save = NULL;
    for (int i = 0; i < n; i++) sel[i] = false;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int i = 0;
        while (i < n && strcmp(tok, names[i]) != 0) i++;
        if (i == n) ok = false;
        else sel[i] = true;
    }
    free(dup);
    return ok;
}

void psw_bench_opts_default(psw_bench_opts *o) {
    memset(o, 0, sizeof *o);
    for (int s = 0; s < PSW_BENCH_N_SHAPES; s++) o->shapes[s] = true;
    o->threads[0] = 1, o->threads[1] = 2, o->n_threads = 2;
    o->warmup = 2, o->reps = 7, o->header = true;
}

int psw_bench_common_option(const char *prog, int argc, char **argv, int *i, psw_bench_opts *o) {
    const char *a = argv[*i];
    if (!strcmp(a, "--no-header")) {
        o->header = false;
        return 1;
    }
    bool known = !strcmp(a, "--shapes") || !strcmp(a, "--threads") || !strcmp(a, "--warmup") ||
                 !strcmp(a, "--reps");
    if (!known) return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, a);
        return -1;
    }
    const char *v = argv[++*i];
    long x;
    if (!strcmp(a, "--shapes")) {
        const char *names[PSW_BENCH_N_SHAPES];
        for (int s = 0; s < PSW_BENCH_N_SHAPES; s++) names[s] = psw_bench_shapes[s].name;
        if (psw_bench_parse_names(v, names, PSW_BENCH_N_SHAPES, o->shapes)) return 1;
        fprintf(stderr, "%s: --shapes %s: unknown shape (tiny, small, medium)\n", prog, v);
    } else if (!strcmp(a, "--threads")) {
        if ((o->n_threads = psw_bench_parse_ints(v, o->threads, 8)) >= 1) return 1;
        fprintf(stderr, "%s: --threads %s: want a list of 1..64\n", prog, v);
    } else if (!strcmp(a, "--warmup")) {
        if (psw_parse_long(v, &x) && x >= 0 && x < 1000) return o->warmup = (int)x, 1;
        fprintf(stderr, "%s: --warmup %s: want 0..999\n", prog, v);
    } else {
        if (psw_parse_long(v, &x) && x >= 1 && x < 1000) return o->reps = (int)x, 1;
        fprintf(stderr, "%s: --reps %s: want 1..999\n", prog, v);
    }
    return -1;
}
