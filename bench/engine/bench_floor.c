/* bench_floor.c: the GEMM floor of each engine case. It times exactly the OpenBLAS sgemm calls one
 * call of the case makes (the shapes, transposes, leading dimensions and beta of the engine's
 * psw_matmul_forward/backward, attention and LM head) and nothing else: no norms, softmax, RoPE,
 * SwiGLU, loss, AdamW, embedding, or zero-fills. Any engine that runs these products on this
 * OpenBLAS needs at least this time, so tokens/s at the floor bounds from above what such an
 * engine can reach, and floor / PyTorch bounds its speedup over PyTorch on the same machine.
 *
 * Cases (as bench_engine):
 *   train_all   forward + backward with logits at all B*T positions (LM head and its backward on
 *               B*T rows); every linear layer as one GEMM over the B*T rows; backward computes
 *               dX (beta 1) and dW (beta 1) for every linear layer, and attention's four
 *               products per (sequence, head);
 *   train_last  the same with the LM head on the B last positions, and the last layer as the
 *               engine runs it then: keys and values over the B*T rows, queries, output
 *               projection and MLP (forward and backward) on the B loss rows, one query row of
 *               attention per (sequence, head);
 *   forward_batched  an inference forward with logits at the last positions: L-1 layers over
 *               the B*T rows, the last layer's keys and values over B*T rows and its queries,
 *               output projection and MLP on the B answer rows, one query row of attention per
 *               (sequence, head), the LM head on B rows (what eval_forward "batched" runs);
 *   forward     the same with every linear-layer GEMM split per sequence (T rows, or the one
 *               answer row in the last layer) and in blocks of PSW_SEQ_GEMM_COLS output
 *               columns, as the default per-sequence forward runs it: single-threaded calls on
 *               the pool's threads.
 * Attention runs in the engine as one task per (sequence, head) with single-threaded BLAS on
 * the pool's threads, and so do the per-sequence forward's GEMMs; here those products run on one
 * thread and their time is divided by the thread count (perfect scaling), which only lowers the
 * floor. Weights are separate per layer
 * (the engine's memory traffic); activations reuse one set of buffers, which only helps the
 * cache. All values are small random normals (no denormals).
 *
 * Output: one tab-separated line per case (header first), fields
 *   impl shape threads mode tokens model_gflop median_s min_s tok_s gflops linear_s attention_s
 * with impl "floor"; median_s = median over reps of linear_s + attention_s, where attention_s
 * (and linear_s in the per-sequence forward) is a one-thread time divided by the thread count.
 * Usage: bench_floor [--shapes ...] [--threads ...] [--modes ...] [--warmup N] [--reps N]
 *                    [--no-header] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "psw/kernels.h"

typedef enum floor_mode { F_TRAIN_ALL = 0, F_TRAIN_LAST, F_FORWARD, F_FORWARD_BATCHED, F_COUNT } floor_mode;
static const char *F_NAMES[F_COUNT] = {"train_all", "train_last", "forward", "forward_batched"};

typedef struct bufs {
    float *x, *y, *dy, *dx, *att, *w, *dw; /* activations (rows x widest), weights, their grads */
    size_t layer_w;                         /* floats of one layer's weights */
} bufs;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The engine's linear layer on n rows: forward y = x w^T; backward dx += dy w, dw += dy^T x. */
/* y = x w^T on n rows; with cols > 0 in blocks of cols output columns, one call each (the
 * per-sequence forward's PSW_SEQ_GEMM_COLS blocks). */
static void lin_fwd(const bufs *b, const float *w, int n, int in, int out, int cols) {
    int step = cols > 0 ? cols : out;
    for (int c0 = 0; c0 < out; c0 += step)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out - c0 < step ? out - c0 : step,
                    in, 1.0f, b->x, in, w + (size_t)c0 * in, in, 0.0f, b->y + c0, out);
}
static void lin_bwd(const bufs *b, const float *w, float *dw, int n, int in, int out) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, b->dy, out, w, in,
                1.0f, b->dx, in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, b->dy, out, b->x, in,
                1.0f, dw, in);
}

/* One layer's linear products on n rows in calls of seq rows, keys and values on kv_rows rows in
 * calls of kv_seq rows; forward then, with train, backward (one call each: training runs them
 * over the batch). */
static void layer_linear(const bufs *b, const psw_bench_shape *s, int l, int n, int seq,
                         int kv_rows, int kv_seq, bool train, int cols) {
    int C = s->C, H = s->H;
    const float *w = b->w + (size_t)l * b->layer_w;
    float *dw = b->dw + (size_t)l * b->layer_w;
    size_t CC = (size_t)C * C, CH = (size_t)C * H;
    /* q, k, v, o, gate, up, down: (offset, rows, in, out) */
    const struct { size_t off; int rows, in, out; } ops[7] = {
        {0, n, C, C}, {CC, kv_rows, C, C}, {2 * CC, kv_rows, C, C}, {3 * CC, n, C, C},
        {4 * CC, n, C, H}, {4 * CC + CH, n, C, H}, {4 * CC + 2 * CH, n, H, C}};
    for (int i = 0; i < 7; i++) {
        int step = i == 1 || i == 2 ? kv_seq : seq;
        for (int r0 = 0; r0 < ops[i].rows; r0 += step) {
            int r = ops[i].rows - r0 < step ? ops[i].rows - r0 : step;
            lin_fwd(b, w + ops[i].off, r, ops[i].in, ops[i].out, cols);
        }
    }
    if (!train) return;
    for (int i = 6; i >= 0; i--) lin_bwd(b, w + ops[i].off, dw + ops[i].off, ops[i].rows, ops[i].in, ops[i].out);
}

/* One layer's attention products for every (sequence, head): q_rows query rows per sequence
 * (T, or 1 at the answer position) against T keys; with train also the four backward ones. */
static void layer_attention(const bufs *b, const psw_bench_shape *s, int q_rows, bool train) {
    int T = s->T, HD = s->C / s->NH, C = s->C;
    for (int seq = 0; seq < s->B; seq++)
        for (int h = 0; h < s->NH; h++) {
            const float *q = b->x + (size_t)seq * T * C + (size_t)h * HD;
            const float *k = b->y + (size_t)seq * T * C + (size_t)h * HD;
            float *o = b->dx + (size_t)seq * T * C + (size_t)h * HD;
            int kv = T; /* full scores as the engine computes them; the answer row sees all T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, q_rows, kv, HD, 1.0f, q, C, k, C,
                        0.0f, b->att, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, q_rows, HD, kv, 1.0f, b->att, T,
                        k, C, 0.0f, o, C);
            if (!train) continue;
            /* dprobs = dout V^T; dq += ds K; dk += ds^T q; dv += probs^T dout */
            float *scratch = b->att + (size_t)T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, q_rows, kv, HD, 1.0f, q, C, k, C,
                        0.0f, scratch, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, q_rows, HD, kv, 1.0f, scratch,
                        T, k, C, 1.0f, o, C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kv, HD, q_rows, 1.0f, scratch, T,
                        q, C, 1.0f, o, C);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kv, HD, q_rows, 1.0f, b->att, T,
                        q, C, 1.0f, o, C);
        }
}

/* One call of the case: returns the linear products' and attention's seconds. */
static void run_case(const bufs *b, const psw_bench_shape *s, floor_mode md, int threads,
                     double *lin_s, double *att_s) {
    int B = s->B, T = s->T, BT = B * T, L = s->L, C = s->C, V = s->V;
    bool train = md == F_TRAIN_ALL || md == F_TRAIN_LAST;
    int seq = md == F_FORWARD ? T : BT;
    int P = md == F_TRAIN_ALL ? BT : B;
    const float *head = b->w + (size_t)L * b->layer_w;
    float *dhead = b->dw + (size_t)L * b->layer_w;
    /* The per-sequence forward runs its GEMMs as one-thread calls on the pool's threads, one
     * sequence per task: timed at one thread and divided by the thread count, as attention. */
    bool per_seq_tasks = md == F_FORWARD;
    if (per_seq_tasks) openblas_set_num_threads(1);
    double t0 = now();
    /* the last layer at the answer rows: every inference forward, and training with the loss
     * at the last positions (psw_loss_at_rows), as the engine runs them */
    bool rows_only = md != F_TRAIN_ALL;
    for (int l = 0; l < L; l++) {
        bool last_at_rows = rows_only && l == L - 1;
        int n = last_at_rows ? B : BT, n_seq = last_at_rows ? (md == F_FORWARD ? 1 : B) : seq;
        layer_linear(b, s, l, n, n_seq, BT, seq, train, per_seq_tasks ? PSW_SEQ_GEMM_COLS : 0);
    }
    /* the LM head on P rows: per sequence in the per-sequence forward (one row each) */
    for (int r0 = 0; r0 < P; r0 += per_seq_tasks ? 1 : P)
        lin_fwd(b, head, per_seq_tasks ? 1 : P, C, V, per_seq_tasks ? PSW_SEQ_GEMM_COLS : 0);
    if (train) lin_bwd(b, head, dhead, P, C, V);
    double t1 = now();
    if (!per_seq_tasks) openblas_set_num_threads(1);
    for (int l = 0; l < L; l++) layer_attention(b, s, rows_only && l == L - 1 ? 1 : T, train);
    openblas_set_num_threads(threads);
    double t2 = now();
    *lin_s = per_seq_tasks ? (t1 - t0) / threads : t1 - t0;
    *att_s = (t2 - t1) / threads;
}

static float small_normal(void) {
    /* sum of 4 uniforms, centred: bell-shaped, |x| < 0.2 */
    float u = 0;
    for (int i = 0; i < 4; i++) u += (float)(psw_bench_lcg() >> 8) / 16777216.0f;
    return 0.1f * (u - 2.0f);
}

static float *filled(size_t n) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_floor: cannot allocate %zu floats\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = small_normal();
    return p;
}

static double flops_of(const psw_bench_shape *s, floor_mode md) {
    if (md == F_FORWARD || md == F_FORWARD_BATCHED) return psw_bench_inference_flops(s, s->H);
    return 3.0 * psw_bench_forward_flops(s, s->H, md == F_TRAIN_ALL ? (double)s->B * s->T : s->B);
}

int main(int argc, char **argv) {
    psw_bench_opts o;
    psw_bench_opts_default(&o);
    bool modes[F_COUNT] = {true, true, true, true};
    for (int i = 1; i < argc; i++) {
        int r = psw_bench_common_option("bench_floor", argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--modes") && i + 1 < argc) {
            if (!psw_bench_parse_names(argv[++i], F_NAMES, F_COUNT, modes)) {
                fprintf(stderr, "bench_floor: --modes %s: unknown mode (train_all, train_last, "
                                "forward, forward_batched)\n", argv[i]);
                return 2;
            }
            continue;
        }
        fprintf(stderr, "usage: bench_floor [--shapes tiny,small,medium] [--threads 1,2] "
                        "[--modes train_all,train_last,forward,forward_batched] [--warmup N] "
                        "[--reps N] [--no-header]\n");
        return 2;
    }
    if (o.header)
        printf("impl\tshape\tthreads\tmode\ttokens\tmodel_gflop\tmedian_s\tmin_s\ttok_s\tgflops\t"
               "linear_s\tattention_s\n");
    for (int si = 0; si < PSW_BENCH_N_SHAPES; si++) {
        if (!o.shapes[si]) continue;
        const psw_bench_shape *s = &psw_bench_shapes[si];
        int C = s->C, H = s->H, BT = s->B * s->T, V = s->V;
        size_t wide = (size_t)(H > C ? H : C);
        size_t act = (size_t)BT * (wide > (size_t)V ? wide : (size_t)V);
        bufs b = {.layer_w = 4 * (size_t)C * C + 3 * (size_t)C * H};
        size_t wtot = (size_t)s->L * b.layer_w + (size_t)V * C;
        b.x = filled(act), b.y = filled(act), b.dy = filled(act), b.dx = filled(act);
        b.att = filled(2 * (size_t)s->T * s->T);
        b.w = filled(wtot), b.dw = filled(wtot);
        for (int ti = 0; ti < o.n_threads; ti++) {
            int threads = o.threads[ti];
            openblas_set_num_threads(threads);
            for (int md = 0; md < F_COUNT; md++) {
                if (!modes[md]) continue;
                double tot[64], lin[64], att[64];
                int reps = o.reps > 64 ? 64 : o.reps;
                for (int r = 0; r < o.warmup + reps; r++) {
                    double l, a;
                    run_case(&b, s, (floor_mode)md, threads, &l, &a);
                    if (r < o.warmup) continue;
                    tot[r - o.warmup] = l + a, lin[r - o.warmup] = l, att[r - o.warmup] = a;
                }
                double mn = tot[0];
                for (int r = 1; r < reps; r++) mn = tot[r] < mn ? tot[r] : mn;
                double med = psw_bench_median(tot, reps), gf = flops_of(s, (floor_mode)md) * 1e-9;
                printf("floor\t%s\t%d\t%s\t%d\t%.3f\t%.6f\t%.6f\t%.1f\t%.2f\t%.6f\t%.6f\n", s->name,
                       threads, F_NAMES[md], BT, gf, med, mn, BT / med, gf / med,
                       psw_bench_median(lin, reps), psw_bench_median(att, reps));
                fflush(stdout);
            }
        }
        free(b.x), free(b.y), free(b.dy), free(b.dx), free(b.att), free(b.w), free(b.dw);
    }
    return 0;
}
