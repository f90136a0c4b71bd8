/* bench_engine.c: tokens/s of the C engine on the OLMo2 benchmark shapes of issue 2, and the
 * machine's OpenBLAS sgemm GFLOP/s (the practical peak the model FLOPs utilisation refers to).
 *
 * Cases, each at every requested thread count (openblas_set_num_threads):
 *   train_all  one training step (zero_grad + forward + backward + AdamW with clipping), CE loss on
 *              every position of every sequence (P = B*T, random targets);
 *   train_last the same step with the loss on the last position of each sequence only (P = B);
 *   forward    forward only, logits at the last position of each sequence (P = B), on an
 *              inference reservation (as evaluation and teacher models run): psw_model_forward's
 *              default, GEMMs per sequence (batch-invariant);
 *   forward_batched  the same with batched_forward (training.eval_forward "batched"): one GEMM
 *              over the batch's rows.
 * tokens/s counts the B*T input tokens per call. Each case runs `warmup` untimed calls, then
 * `reps` timed ones; the median (and minimum) are printed.
 *
 * Output: one tab-separated line per case on stdout (header first), fields
 *   impl shape threads mode tokens model_gflop median_s min_s tok_s gflops cpu_s
 * where cpu_s is the median process CPU time per call (all threads; on a shared machine the
 * 1-thread figure is the one least disturbed by other work), model_gflop is the model FLOPs of one call (formula in bench_common.h).
 * The sgemm line has shape "sgemmN" and mode "sgemm".
 *
 * Does not: compare against PyTorch (bench/engine/torch_step.py does the peer side and
 * bench/run.sh builds the table). */
#include <cblas.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "psw/kernels.h"
#include "psw/model.h"

/* forward: psw_model_forward as evaluation runs it by default (per sequence, batch-invariant);
 * forward_batched: with batched_forward (training.eval_forward "batched"), one GEMM per batch. */
typedef enum mode {
    MODE_TRAIN_ALL = 0,
    MODE_TRAIN_LAST,
    MODE_FORWARD,
    MODE_FORWARD_BATCHED,
    MODE_COUNT
} mode;
static const char *MODE_NAMES[MODE_COUNT] = {"train_all", "train_last", "forward",
                                             "forward_batched"};

/* Model FLOPs of one call: a training step is 3x the full forward (psw_bench_forward_flops;
 * backward = 2x forward, the usual 6*N*tokens rule; AdamW is not counted); an inference forward
 * computes its last layer at the answer rows only (psw_bench_inference_flops). */
static double flops(const psw_bench_shape *s, mode md) {
    if (md == MODE_FORWARD || md == MODE_FORWARD_BATCHED) return psw_bench_inference_flops(s, s->H);
    return 3.0 * psw_bench_forward_flops(s, s->H, md == MODE_TRAIN_ALL ? (double)s->B * s->T : s->B);
}

/* Runs one shape at one thread count for the selected modes; prints one line per mode. */
static int bench_shape(const psw_bench_shape *s, int threads, const bool *modes, int warmup, int reps) {
    psw_err err;
    psw_model m;
    memset(&m, 0, sizeof m);
    psw_model_config cfg = psw_bench_config(s);
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
        tokens[i] = (int32_t)(psw_bench_lcg() % (uint32_t)V);
        targets[i] = (int32_t)(psw_bench_lcg() % (uint32_t)V);
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
        bool fwd = md == MODE_FORWARD || md == MODE_FORWARD_BATCHED;
        if (fwd && train && psw_model_reserve(&m, B, T, B, false, &err) != PSW_OK) goto fail;
        train = train && !fwd;
        m.batched_forward = md == MODE_FORWARD_BATCHED;
        psw_loss_spec ls;
        memset(&ls, 0, sizeof ls);
        ls.P = md == MODE_TRAIN_ALL ? BT : B;
        ls.pos = md == MODE_TRAIN_ALL ? pos_all : pos_last;
        ls.targets = targets;
        ls.temperature = 1.0f;
        ls.ce_weight = 1.0f;
        ls.grad_scale = 1.0f;
        for (int r = -warmup; r < reps; r++) {
            double t0 = psw_now(), c0 = psw_bench_cpu_now(), loss, gnorm;
            if (fwd) {
                if (psw_model_forward(&m, &batch, pos_last, B, logits, &err) != PSW_OK) goto fail;
            } else {
                psw_model_zero_grad(&m);
                if (psw_model_forward_backward(&m, &batch, &ls, &loss, &err) != PSW_OK) goto fail;
                if (psw_model_adamw_step(&m, &opt, &gnorm, &err) != PSW_OK) goto fail;
            }
            double dt = psw_now() - t0, dc = psw_bench_cpu_now() - c0;
            if (r >= 0) times[r] = dt, cpu[r] = dc;
        }
        double f = flops(s, (mode)md);
        double med = psw_bench_median(times, reps), mn = times[0];
        printf("ours\t%s\t%d\t%s\t%d\t%.3f\t%.6f\t%.6f\t%.1f\t%.2f\t%.6f\n", s->name, threads,
               MODE_NAMES[md], BT, f * 1e-9, med, mn, BT / med, f * 1e-9 / med,
               psw_bench_median(cpu, reps));
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
        a[i] = (float)(psw_bench_lcg() % 1000) * 1e-3f - 0.5f;
        b[i] = (float)(psw_bench_lcg() % 1000) * 1e-3f - 0.5f;
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
    double med = psw_bench_median(times, reps), mn = times[0];
    printf("ours\tsgemm%d\t%d\tsgemm\t0\t%.3f\t%.6f\t%.6f\t0\t%.2f\t0\n", N, threads, f * 1e-9,
           med, mn, f * 1e-9 / med);
    fflush(stdout);
    free(a), free(b), free(c), free(times);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_engine [--shapes tiny,small,medium] [--threads 1,2]\n"
            "                    [--modes train_all,train_last,forward,forward_batched]\n"
            "                    [--warmup N] [--reps N]\n"
            "                    [--sgemm N] [--sgemm-only] [--no-header]\n");
}

int main(int argc, char **argv) {
    psw_blas_tune_spin(); /* as prunesweep's main does */
    psw_bench_opts o;
    psw_bench_opts_default(&o);
    bool modes[MODE_COUNT] = {true, true, true, true}, sgemm_only = false;
    int sgemm_n = 0;
    for (int i = 1; i < argc; i++) {
        int r = psw_bench_common_option("bench_engine", argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r > 0) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long x;
        if (!strcmp(a, "--sgemm-only")) {
            sgemm_only = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--modes") && v) {
            i++;
            if (!psw_bench_parse_names(v, MODE_NAMES, MODE_COUNT, modes)) {
                fprintf(stderr, "bench_engine: --modes %s: unknown mode\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--sgemm") && v && psw_parse_long(v, &x) && x >= 0 && x <= 16384) {
            i++;
            sgemm_n = (int)x;
        } else {
            fprintf(stderr, "bench_engine: bad option or value: %s%s%s\n", a, v ? " " : "",
                    v ? v : "");
            usage(stderr);
            return 2;
        }
    }
    /* The BLAS the figures depend on, for the report (stderr keeps stdout a clean table). */
    fprintf(stderr, "# openblas %s, core %s\n", openblas_get_config(), openblas_get_corename());
    if (o.header)
        printf("impl\tshape\tthreads\tmode\ttokens\tmodel_gflop\tmedian_s\tmin_s\ttok_s\tgflops\tcpu_s\n");
    int rc = 0;
    for (int t = 0; t < o.n_threads; t++)
        if (sgemm_n > 0) rc |= bench_sgemm(sgemm_n, o.threads[t], o.reps);
    if (sgemm_only) return rc;
    for (int s = 0; s < PSW_BENCH_N_SHAPES; s++) {
        if (!o.shapes[s]) continue;
        for (int t = 0; t < o.n_threads; t++)
            rc |= bench_shape(&psw_bench_shapes[s], o.threads[t], modes, o.warmup, o.reps);
    }
    return rc;
}
