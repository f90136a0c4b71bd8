/* bench_engine.c: tokens/s of the C engine on the OLMo2 benchmark shapes of issue 2, and the
 * machine's OpenBLAS sgemm GFLOP/s (the practical peak the model FLOPs utilisation refers to).
 *
 * Cases, each at every requested thread count (openblas_set_num_threads):
 *   train_all  one training step (zero_grad + forward + backward + AdamW with clipping), CE loss on
 *              every position of every sequence (P = B*T, random targets);
 *   train_last the same step with the loss on the last position of each sequence only (P = B);
 *   forward    forward only, logits at the last position of each sequence (P = B), on an
 *              inference reservation (as evaluation and teacher models run).
 * tokens/s counts the B*T input tokens per call. Each case runs `warmup` untimed calls, then
 * `reps` timed ones; the median (and minimum) are printed.
 *
 * Output: one tab-separated line per case on stdout (header first), fields
 *   impl shape threads mode tokens model_gflop median_s min_s tok_s gflops cpu_s
 * where cpu_s is the median process CPU time per call (all threads; on a shared machine the
 * 1-thread figure is the one least disturbed by other work), model_gflop is the model FLOPs of one call (formula in bench/README.md and flops() below).
 * The sgemm line has shape "sgemmN" and mode "sgemm".
 *
 * Does not: compare against PyTorch (bench/engine/torch_step.py does the peer side and
 * bench/run.sh builds the table). */
#include <cblas.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"

typedef struct shape {
    const char *name;
    int C, L, NH, H, V, T, B;
} shape;

static const shape SHAPES[] = {
    {"tiny", 128, 4, 4, 512, 2048, 64, 16},
    {"small", 512, 8, 8, 1408, 8192, 128, 8},
    {"medium", 768, 12, 12, 2048, 32000, 128, 4},
};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

typedef enum mode { MODE_TRAIN_ALL = 0, MODE_TRAIN_LAST, MODE_FORWARD, MODE_COUNT } mode;
static const char *MODE_NAMES[MODE_COUNT] = {"train_all", "train_last", "forward"};

static psw_model_config config_of(const shape *s) {
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

/* Model FLOPs of one call (multiply-add = 2 FLOPs), the useful work only:
 *   per token and layer, the linear layers: 2 * (C*QD + 2*C*KD + QD*C + 3*C*H);
 *   per sequence and layer, causal attention: QK^T and PV over the T(T+1)/2 visible pairs,
 *     2 * 2 * NH*HD * T(T+1)/2;
 *   the LM head at the P positions that get logits: 2 * C * V * P.
 * A training step is 3x the forward FLOPs (backward = 2x forward), the usual 6*N*tokens rule;
 * norms, softmax, SwiGLU, RoPE and AdamW are not counted. */
static double flops(const shape *s, mode md) {
    double C = s->C, H = s->H, V = s->V, T = s->T, B = s->B, L = s->L;
    double QD = C, KD = C; /* no GQA in the benchmark shapes */
    double lin = 2.0 * (C * QD + 2.0 * C * KD + QD * C + 3.0 * C * H) * L * B * T;
    double att = 2.0 * 2.0 * QD * T * (T + 1.0) / 2.0 * L * B;
    double P = md == MODE_TRAIN_ALL ? B * T : B;
    double head = 2.0 * C * V * P;
    double fwd = lin + att + head;
    return md == MODE_FORWARD ? fwd : 3.0 * fwd;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t lcg_state = 0x9E3779B97F4A7C15ull;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33);
}

/* Runs one shape at one thread count for the selected modes; prints one line per mode. */
static int bench_shape(const shape *s, int threads, const bool *modes, int warmup, int reps) {
    psw_err err;
    psw_model m;
    memset(&m, 0, sizeof m);
    psw_model_config cfg = config_of(s);
    int B = s->B, T = s->T, BT = B * T, V = s->V;
    int32_t *tokens = psw_xmalloc(sizeof(int32_t) * (size_t)BT);
    int32_t *lengths = psw_xmalloc(sizeof(int32_t) * (size_t)B);
    int32_t *targets = psw_xmalloc(sizeof(int32_t) * (size_t)BT);
    int64_t *pos_all = psw_xmalloc(sizeof(int64_t) * (size_t)BT);
    int64_t *pos_last = psw_xmalloc(sizeof(int64_t) * (size_t)B);
    float *logits = NULL;
    double *times = psw_xmalloc(sizeof(double) * (size_t)reps);
    double *cpu = psw_xmalloc(sizeof(double) * (size_t)reps);
    int rc = 1;
    for (int i = 0; i < BT; i++) {
        tokens[i] = (int32_t)(lcg() % (uint32_t)V);
        targets[i] = (int32_t)(lcg() % (uint32_t)V);
        pos_all[i] = i;
    }
    for (int b = 0; b < B; b++) lengths[b] = T, pos_last[b] = (int64_t)b * T + T - 1;
    psw_batch batch = {tokens, lengths, B, T};
    psw_adamw opt = {1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};

    openblas_set_num_threads(threads);
    if (psw_model_init(&m, &cfg, &err) != PSW_OK) goto fail;
    psw_model_init_random(&m, 1234, 0.02f);
    bool train = modes[MODE_TRAIN_ALL] || modes[MODE_TRAIN_LAST];
    if (psw_model_reserve(&m, B, T, train ? BT : B, train, &err) != PSW_OK) goto fail;
    logits = psw_try_alloc(sizeof(float) * (size_t)B * V);
    if (!logits) {
        fprintf(stderr, "bench_engine: cannot allocate logits\n");
        goto fail_quiet;
    }
    for (int md = 0; md < MODE_COUNT; md++) {
        if (!modes[md]) continue;
        /* Forward-only runs on an inference reservation, as evaluation and teachers do. */
        if (md == MODE_FORWARD && train &&
            psw_model_reserve(&m, B, T, B, false, &err) != PSW_OK)
            goto fail;
        psw_loss_spec ls;
        memset(&ls, 0, sizeof ls);
        ls.P = md == MODE_TRAIN_ALL ? BT : B;
        ls.pos = md == MODE_TRAIN_ALL ? pos_all : pos_last;
        ls.targets = targets;
        ls.temperature = 1.0f;
        ls.ce_weight = 1.0f;
        ls.grad_scale = 1.0f;
        for (int r = -warmup; r < reps; r++) {
            double t0 = psw_now(), c0 = cpu_now(), loss, gnorm;
            if (md == MODE_FORWARD) {
                if (psw_model_forward(&m, &batch, pos_last, B, logits, &err) != PSW_OK) goto fail;
            } else {
                psw_model_zero_grad(&m);
                if (psw_model_forward_backward(&m, &batch, &ls, &loss, &err) != PSW_OK) goto fail;
                if (psw_model_adamw_step(&m, &opt, &gnorm, &err) != PSW_OK) goto fail;
            }
            double dt = psw_now() - t0, dc = cpu_now() - c0;
            if (r >= 0) times[r] = dt, cpu[r] = dc;
        }
        double f = flops(s, (mode)md);
        double med = median(times, reps), mn = times[0];
        printf("ours\t%s\t%d\t%s\t%d\t%.3f\t%.6f\t%.6f\t%.1f\t%.2f\t%.6f\n", s->name, threads,
               MODE_NAMES[md], BT, f * 1e-9, med, mn, BT / med, f * 1e-9 / med,
               median(cpu, reps));
        fflush(stdout);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_engine: %s: %s\n", s->name, err.msg);
fail_quiet:
done:
    psw_model_free(&m);
    free(logits), free(times), free(cpu), free(tokens), free(lengths), free(targets), free(pos_all),
        free(pos_last);
    return rc;
}

/* GFLOP/s of one large square sgemm C = A B (N x N), median over reps after one warmup. */
static int bench_sgemm(int N, int threads, int reps) {
    size_t n2 = (size_t)N * N;
    float *a = psw_try_alloc(n2 * sizeof(float)), *b = psw_try_alloc(n2 * sizeof(float)),
          *c = psw_try_alloc(n2 * sizeof(float));
    double *times = psw_xmalloc(sizeof(double) * (size_t)reps);
    if (!a || !b || !c) {
        fprintf(stderr, "bench_engine: cannot allocate sgemm operands for N=%d\n", N);
        free(a), free(b), free(c), free(times);
        return 1;
    }
    for (size_t i = 0; i < n2; i++) {
        a[i] = (float)(lcg() % 1000) * 1e-3f - 0.5f;
        b[i] = (float)(lcg() % 1000) * 1e-3f - 0.5f;
    }
    openblas_set_num_threads(threads);
    for (int r = -1; r < reps; r++) {
        double t0 = psw_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c,
                    N);
        double dt = psw_now() - t0;
        if (r >= 0) times[r] = dt;
    }
    double f = 2.0 * N * (double)N * N;
    double med = median(times, reps), mn = times[0];
    printf("ours\tsgemm%d\t%d\tsgemm\t0\t%.3f\t%.6f\t%.6f\t0\t%.2f\t0\n", N, threads, f * 1e-9,
           med, mn, f * 1e-9 / med);
    fflush(stdout);
    free(a), free(b), free(c), free(times);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_engine [--shapes tiny,small,medium] [--threads 1,2]\n"
            "                    [--modes train_all,train_last,forward] [--warmup N] [--reps N]\n"
            "                    [--sgemm N] [--sgemm-only] [--no-header]\n");
}

/* Parses a comma list of ints into out (max n); returns the count or -1. */
static int parse_ints(const char *s, int *out, int n) {
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

/* Marks the names of a comma list in sel (names[i] -> sel[i]); false on an unknown name. */
static bool parse_names(const char *s, const char *const *names, int n, bool *sel) {
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

int main(int argc, char **argv) {
    const char *shape_names[N_SHAPES];
    for (int i = 0; i < N_SHAPES; i++) shape_names[i] = SHAPES[i].name;
    bool shapes[N_SHAPES] = {true, true, true}, modes[MODE_COUNT] = {true, true, true};
    int threads[8] = {1, 2}, n_threads = 2, warmup = 2, reps = 7, sgemm_n = 0;
    bool header = true, sgemm_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--no-header")) {
            header = false;
            continue;
        }
        if (!strcmp(a, "--sgemm-only")) {
            sgemm_only = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "bench_engine: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--shapes")) {
            if (!parse_names(v, shape_names, N_SHAPES, shapes)) {
                fprintf(stderr, "bench_engine: --shapes %s: unknown shape\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--modes")) {
            if (!parse_names(v, MODE_NAMES, MODE_COUNT, modes)) {
                fprintf(stderr, "bench_engine: --modes %s: unknown mode\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--threads")) {
            if ((n_threads = parse_ints(v, threads, 8)) < 1) {
                fprintf(stderr, "bench_engine: --threads %s: want a list of 1..64\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--warmup") && psw_parse_long(v, &x) && x >= 0 && x < 1000) {
            warmup = (int)x;
        } else if (!strcmp(a, "--reps") && psw_parse_long(v, &x) && x >= 1 && x < 1000) {
            reps = (int)x;
        } else if (!strcmp(a, "--sgemm") && psw_parse_long(v, &x) && x >= 0 && x <= 16384) {
            sgemm_n = (int)x;
        } else {
            fprintf(stderr, "bench_engine: bad option or value: %s %s\n", a, v);
            usage(stderr);
            return 2;
        }
    }
    /* The BLAS the figures depend on, for the report (stderr keeps stdout a clean table). */
    fprintf(stderr, "# openblas %s, core %s\n", openblas_get_config(), openblas_get_corename());
    if (header)
        printf("impl\tshape\tthreads\tmode\ttokens\tmodel_gflop\tmedian_s\tmin_s\ttok_s\tgflops\tcpu_s\n");
    int rc = 0;
    for (int t = 0; t < n_threads; t++)
        if (sgemm_n > 0) rc |= bench_sgemm(sgemm_n, threads[t], reps);
    if (sgemm_only) return rc;
    for (int s = 0; s < N_SHAPES; s++) {
        if (!shapes[s]) continue;
        for (int t = 0; t < n_threads; t++)
            rc |= bench_shape(&SHAPES[s], threads[t], modes, warmup, reps);
    }
    return rc;
}
