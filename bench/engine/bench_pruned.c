/* bench_pruned.c: does pruned inference get faster in proportion to the FLOPs removed (issue 8)?
 *
 * For each benchmark shape (the OLMo2 shapes of bench_engine.c) it builds the random model, prunes
 * its MLP to 50% retention with the project's pruner (psw_prune_mlp, L2 score), and times the
 * forward pass with logits at the answer position (the last position of each of the B sequences,
 * all sequences full length T, on an inference reservation) for:
 *   full    the unpruned model;
 *   pruned  the 50% model;
 *   mlp1    the same model pruned to one MLP neuron per layer: what the forward costs with the
 *           MLP (almost) gone, so full - mlp1 and pruned - mlp1 are the MLP's share of the time.
 * The three run interleaved (full, pruned, mlp1, then the next repetition in rotated order), so
 * they see the same machine load; the median of `reps` timed calls after `warmup` untimed calls
 * each is reported, also the median process CPU time per call.
 *
 * Model FLOPs of one forward call (multiply-add = 2; psw_bench_inference_flops in
 * bench_common.h), with H the MLP width of the model timed:
 *   linear layers, every token of the first L-1 layers:  2 * (L-1) * B*T * (C*QD + 2*C*KD + QD*C + 3*C*H)
 *   causal attention, QK^T and PV over the T(T+1)/2 visible pairs per sequence and layer:
 *                                               2 * 2 * (L-1) * B * QD * T(T+1)/2
 *   the last layer: keys and values for every token, 2 * B*T * 2*C*KD; queries, output
 *   projection and MLP at the B answer rows, 2 * B * (C*QD + QD*C + 3*C*H); one query row
 *   against T keys per sequence, 2 * 2 * B * QD * T
 *   LM head at the B answer positions:          2 * C * V * B
 * (QD = KD = C: no GQA in these shapes.) Pruning changes only the 3*C*H term; norms, RoPE,
 * softmax and SwiGLU are not counted. FLOP ratio = FLOPs(full) / FLOPs(pruned); the goal is
 * measured speedup = time(full) / time(pruned) >= 0.9 x FLOP ratio.
 *
 * Output: one tab-separated line per shape and thread count (header first), fields
 *   shape threads H H_pruned gflop_full gflop_pruned flop_ratio full_s pruned_s mlp1_s speedup
 *   goal_frac full_cpu_s pruned_cpu_s mlp1_cpu_s cpu_speedup cpu_goal_frac mlp_share_full
 *   mlp_speedup
 * (times are medians of wall time, *_cpu_s medians of process CPU time per call). goal_frac =
 * speedup / flop_ratio, cpu_goal_frac the same by CPU time (on a loaded machine the 1-thread CPU
 * time is the figure least disturbed by other work). mlp_share_full = (full - mlp1) / full, the
 * fraction of the full forward the MLP takes; mlp_speedup = (full - mlp1) / (pruned - mlp1), how
 * much the MLP part alone sped up (2 would be in proportion to its FLOPs); both by CPU time (the
 * wall-time versions follow from the printed columns).
 *
 * Does not: train, or compare against PyTorch (bench_engine.c and bench/run.sh do). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "psw/model.h"
#include "psw/prune.h"

#define N_MODELS 3

static int bench_shape(const psw_bench_shape *s, const int *threads, int n_threads, int warmup, int reps) {
    psw_err err = {0};
    psw_model m[N_MODELS];
    memset(m, 0, sizeof m);
    psw_model_config cfg = psw_bench_config(s);
    int B = s->B, T = s->T, BT = B * T, V = s->V;
    int32_t *tokens = psw_xmalloc(sizeof(int32_t) * (size_t)BT);
    int32_t *lengths = psw_xmalloc(sizeof(int32_t) * (size_t)B);
    int64_t *pos_last = psw_xmalloc(sizeof(int64_t) * (size_t)B);
    double *times = psw_xmalloc(sizeof(double) * (size_t)(N_MODELS * reps));
    double *cpu = psw_xmalloc(sizeof(double) * (size_t)(N_MODELS * reps));
    float *logits = psw_try_alloc(sizeof(float) * (size_t)B * (size_t)V);
    int rc = 1;
    if (!logits) {
        fprintf(stderr, "bench_pruned: %s: cannot allocate logits\n", s->name);
        goto done;
    }
    for (int i = 0; i < BT; i++) tokens[i] = (int32_t)(psw_bench_lcg() % (uint32_t)V);
    for (int b = 0; b < B; b++) lengths[b] = T, pos_last[b] = (int64_t)b * T + T - 1;
    psw_batch batch = {tokens, lengths, B, T};

    if (psw_model_init(&m[0], &cfg, &err) != PSW_OK) goto fail;
    psw_model_init_random(&m[0], 1234, 0.02f);
    psw_prune_report rep;
    if (psw_prune_mlp(&m[0], 0.5, PSW_PRUNE_L2, 0, &m[1], NULL, &rep, &err) != PSW_OK) goto fail;
    if (psw_prune_mlp(&m[0], 1.0 / s->H, PSW_PRUNE_L2, 0, &m[2], NULL, &rep, &err) != PSW_OK)
        goto fail;
    for (int k = 0; k < N_MODELS; k++)
        if (psw_model_reserve(&m[k], B, T, B, false, &err) != PSW_OK) goto fail;

    for (int t = 0; t < n_threads; t++) {
        openblas_set_num_threads(threads[t]);
        for (int r = -warmup; r < reps; r++)
            for (int j = 0; j < N_MODELS; j++) {
                int k = (j + (r < 0 ? 0 : r)) % N_MODELS; /* rotate who goes first */
                double t0 = psw_now(), c0 = psw_bench_cpu_now();
                if (psw_model_forward(&m[k], &batch, pos_last, B, logits, &err) != PSW_OK)
                    goto fail;
                double dt = psw_now() - t0, dc = psw_bench_cpu_now() - c0;
                if (r >= 0) times[k * reps + r] = dt, cpu[k * reps + r] = dc;
            }
        double med[N_MODELS], cmed[N_MODELS];
        for (int k = 0; k < N_MODELS; k++) {
            med[k] = psw_bench_median(times + k * reps, reps);
            cmed[k] = psw_bench_median(cpu + k * reps, reps);
        }
        int Hp = m[1].cfg.intermediate_size;
        double f_full = psw_bench_inference_flops(s, s->H), f_pruned = psw_bench_inference_flops(s, Hp);
        double ratio = f_full / f_pruned, speedup = med[0] / med[1];
        double cpu_speedup = cmed[0] / cmed[1];
        printf("%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.6f\t%.6f\t%.6f\t%.4f\t%.4f\t%.6f\t%.6f\t%.6f\t"
               "%.4f\t%.4f\t%.4f\t%.4f\n",
               s->name, threads[t], s->H, Hp, f_full * 1e-9, f_pruned * 1e-9, ratio, med[0], med[1],
               med[2], speedup, speedup / ratio, cmed[0], cmed[1], cmed[2], cpu_speedup,
               cpu_speedup / ratio, (cmed[0] - cmed[2]) / cmed[0],
               (cmed[0] - cmed[2]) / (cmed[1] - cmed[2]));
        fflush(stdout);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "bench_pruned: %s: %s\n", s->name, err.msg);
done:
    for (int k = 0; k < N_MODELS; k++) psw_model_free(&m[k]);
    free(logits), free(times), free(cpu), free(tokens), free(lengths), free(pos_last);
    return rc;
}

/* Parses a comma list of ints in [1, 64] into out (max n); returns the count or -1. */

static void usage(FILE *f) {
    fprintf(f, "usage: bench_pruned [--shapes tiny,small,medium] [--threads 1,2] [--warmup N] "
               "[--reps N] [--no-header]\n");
}

int main(int argc, char **argv) {
    psw_bench_opts o;
    psw_bench_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        int r = psw_bench_common_option("bench_pruned", argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "bench_pruned: unknown option %s\n", argv[i]);
        usage(stderr);
        return 2;
    }
    fprintf(stderr, "# openblas %s, core %s\n", openblas_get_config(), openblas_get_corename());
    if (o.header)
        printf("shape\tthreads\tH\tH_pruned\tgflop_full\tgflop_pruned\tflop_ratio\tfull_s\t"
               "pruned_s\tmlp1_s\tspeedup\tgoal_frac\tfull_cpu_s\tpruned_cpu_s\tmlp1_cpu_s\t"
               "cpu_speedup\tcpu_goal_frac\tmlp_share_full\tmlp_speedup\n");
    int rc = 0;
    for (int s = 0; s < PSW_BENCH_N_SHAPES; s++)
        if (o.shapes[s])
            rc |= bench_shape(&psw_bench_shapes[s], o.threads, o.n_threads, o.warmup, o.reps);
    return rc;
}
