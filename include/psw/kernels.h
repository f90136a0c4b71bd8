/* kernels.h: forward/backward compute kernels of the transformer over raw fp32 pointers.
 *
 * Conventions: weights are stored as HF stores them, [out_features, in_features] row-major, so a
 * linear layer is out = inp @ W^T. Every *_backward ACCUMULATES (+=) into its gradient outputs
 * (the caller zeroes them), and a NULL gradient pointer skips that work entirely (frozen weights,
 * or an input whose gradient is not needed). Sums over many floats accumulate in double in a fixed
 * order; nothing depends on the thread count except inside OpenBLAS.
 * Each BLAS-backed kernel has a plain-loop *_ref twin used by the unit tests.
 * Does not: allocate, validate shapes, or know about the model layout.
 * Letters: N rows, IN/OUT features, B batch, T time, NH heads, NKV kv heads, HD head dim, V vocab. */
#ifndef PSW_KERNELS_H
#define PSW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* ---- linear layer (no bias) ---- */
/* out (N, OUT) = inp (N, IN) @ w (OUT, IN)^T; out is overwritten. */
void psw_matmul_forward(float *out, const float *inp, const float *w, int N, int IN, int OUT);
void psw_matmul_forward_ref(float *out, const float *inp, const float *w, int N, int IN, int OUT);
/* The same, per sequence, for forwards whose rows must not depend on their batch mates (issue
 * #3: OpenBLAS's result for a row depends on how many rows share the call and, with its Haswell
 * kernels, on its thread count). Sequence b's lengths[b] real rows start at row b * T; its
 * T - lengths[b] padding rows of out are set to zero. Each sequence's product is cut into fixed
 * blocks of PSW_SEQ_GEMM_COLS output columns, one one-thread sgemm per (sequence, block), run
 * as pool tasks: every row gets the bits of the same calls whatever its batch mates, the batch
 * size or the thread count, and the threads have work even for a batch of one. Call from the
 * thread of control (from inside a pool task it runs inline). */
#define PSW_SEQ_GEMM_COLS 1024
void psw_matmul_forward_seqs(float *out, const float *inp, const float *w, const int32_t *lengths,
                             int B, int T, int IN, int OUT);
/* The same for P gathered rows (row p from position pos[p] = b * T + t): one sgemm per run of
 * consecutive rows of one sequence and column block, written at out + p * ld_out (ld_out >= OUT:
 * a column block of a wider output), in parallel as above. */
void psw_matmul_forward_runs(float *out, int ld_out, const float *inp, const float *w,
                             const int64_t *pos, int P, int T, int IN, int OUT);
/* dinp (N, IN) += dout (N, OUT) @ w (OUT, IN);  dw (OUT, IN) += dout^T @ inp (N, IN).
 * Either output may be NULL (skipped). */
void psw_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int N, int IN, int OUT);
void psw_matmul_backward_ref(float *dinp, float *dw, const float *dout, const float *inp,
                             const float *w, int N, int IN, int OUT);

/* ---- RMSNorm: out = w * x / sqrt(mean(x^2) + eps) over rows of width C ---- */
/* out (N, C), rstd (N) saved for backward, inp (N, C), w (C). */
void psw_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                         float eps);
/* dinp (N, C) += ..., dw (C) += ...; NULL skips. */
void psw_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int C);

/* ---- RoPE, rotate-half convention (HF): dim i is paired with dim i + HD/2 ---- */
/* cos, sin (T, HD/2): angle t * theta^(-2i/HD), computed in double and rounded once. */
void psw_rope_table(float *cos_t, float *sin_t, int T, int HD, double theta);
/* In place on x (B, T, NX, HD), position = t. */
void psw_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int NX,
                      int HD);
/* In place on x (P, NX, HD), row p at position pos[p] % T (flat batch positions b * T + t). */
void psw_rope_forward_at(float *x, const float *cos_t, const float *sin_t, const int64_t *pos,
                         int P, int T, int NX, int HD);
/* In place on dx (P, NX, HD): the inverse rotation of psw_rope_forward_at. */
void psw_rope_backward_at(float *dx, const float *cos_t, const float *sin_t, const int64_t *pos,
                          int P, int T, int NX, int HD);
/* In place on dx (B, T, NX, HD): the transpose (inverse) rotation. */
void psw_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int NX,
                       int HD);

/* ---- causal self-attention with grouped kv heads (head h uses kv head h / (NH/NKV)) ----
 * q (B, T, NH, HD), k and v (B, T, NKV, HD), out (B, T, NH, HD), att (B, NH, T, T): the softmax
 * probabilities, zero above the diagonal. Row b only computes t < lengths[b]; out rows past
 * the length are zero. Scale 1/sqrt(HD). */
void psw_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           const int32_t *lengths, int B, int T, int NH, int NKV, int HD);
void psw_attention_forward_ref(float *out, float *att, const float *q, const float *k,
                               const float *v, const int32_t *lengths, int B, int T, int NH,
                               int NKV, int HD);
/* The same attention for P query rows only: q and out (P, NH, HD), row p the query of sequence
 * pos[p] / T at position pos[p] % T, against that sequence's keys and values 0..pos[p] % T in
 * k and v (B, T, NKV, HD). att (P, NH, T) receives the probabilities (row p, head h at
 * (p * NH + h) * T; what psw_attention_backward_at reads). Each run of consecutive rows of one
 * sequence is one sgemm per head, so a row's result depends only on its sequence's run (what
 * an inference forward of that sequence alone computes). */
void psw_attention_forward_at(float *out, float *att, const float *q, const float *k,
                              const float *v, const int64_t *pos, int P, int T, int NH, int NKV,
                              int HD);
/* Backward of psw_attention_forward_at: dq and dout (P, NH, HD), dk and dv (B, T, NKV, HD)
 * += ...; att (P, NH, T) the forward's probabilities; scratch (T, T) is overwritten. The rows
 * of one sequence accumulate into its dk, dv rows in row order, then head order. */
void psw_attention_backward_at(float *dq, float *dk, float *dv, float *scratch,
                               const float *dout, const float *att, const float *q,
                               const float *k, const float *v, const int64_t *pos, int P, int B,
                               int T, int NH, int NKV, int HD);
/* dq (B, T, NH, HD), dk and dv (B, T, NKV, HD) += ...; scratch (T, T) is overwritten;
 * dout (B, T, NH, HD). */
void psw_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *att, const float *q, const float *k, const float *v,
                            const int32_t *lengths, int B, int T, int NH, int NKV, int HD);
void psw_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                const float *att, const float *q, const float *k, const float *v,
                                const int32_t *lengths, int B, int T, int NH, int NKV, int HD);

/* ---- SwiGLU: out = silu(gate) * up, elementwise over n ---- */
void psw_swiglu_forward(float *out, const float *gate, const float *up, size_t n);
/* dgate, dup (n) += ... */
void psw_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n);

/* ---- token embedding ---- */
/* out (B, T, C) = embed[tokens]; rows at t >= lengths[b] are zero (padding never reads embed). */
void psw_embedding_forward(float *out, const int32_t *tokens, const int32_t *lengths,
                           const float *embed, int B, int T, int C);
/* dembed (V, C) += scatter of dout (B, T, C) rows, serially in row order (deterministic). */
void psw_embedding_backward(float *dembed, const float *dout, const int32_t *tokens,
                            const int32_t *lengths, int B, int T, int C);

/* ---- losses over one row of V logits ----
 * Loss of the row: ce_w * (logsumexp(z) - z[target]) + kl_w * T^2 * KL(softmax(t/T) || softmax(z/T)),
 * returned in double (ce term when target >= 0, kl term when teacher != NULL). When dlogits is not
 * NULL it receives gscale * d(loss)/dz, overwriting; dlogits may alias logits (each element is
 * read before it is written). Softmax in fp32 with max subtraction, sums in double. */
double psw_loss_row(float *dlogits, const float *logits, int target, const float *teacher, int V,
                    float ce_w, float kl_w, float temperature, float gscale);

/* ---- AdamW's element-wise halves (optim.c drives them per segment on the pool) ----
 * Sum of g[k]^2 in double over 16 interleaved partial sums (lane k % 16), combined pairwise
 * (lane j += lane j + w for w = 8, 4, 2, 1): the same bits in every vector clone. */
double psw_sum_squares(const float *g, size_t n);
typedef struct psw_adamw_coeffs {
    float clip;         /* gradient scale from norm clipping (1: none) */
    float b1, b2;       /* moment decays */
    float step_size;    /* lr / (1 - b1^t) */
    float inv_sqrt_bc2; /* 1 / sqrt(1 - b2^t) */
    float eps;
    float decay;        /* lr * weight_decay, 0 for norms */
} psw_adamw_coeffs;
/* PyTorch's AdamW on n elements, in place on w, m, v: g' = clip g; m = b1 m + (1-b1) g';
 * v = b2 v + (1-b2) g'^2; w = w (1 - decay) - step_size m / (sqrt(v) inv_sqrt_bc2 + eps). */
void psw_adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                      const psw_adamw_coeffs *c);

/* x[0..n) = 0, and y[0..n) += x[0..n) (residual adds), split over the pool when large: they
 * are memory-bound, and one thread leaves bandwidth unused. */
void psw_zero(float *x, size_t n);
void psw_add_inplace(float *y, const float *x, size_t n);

/* ---- worker pool for the work outside BLAS ----
 * A persistent pool of pthreads that sleep (condition variable) between jobs. Kernels split
 * their work into tasks whose boundaries never depend on the thread count, and reduce
 * per-task results in task order, so every result is bit-identical for any thread count.
 * Not reentrant across application threads in parallel: one model, one thread of control
 * (a job started from inside a task runs inline). */
/* fn(ctx, task, thread): thread is in 0..psw_pool_threads()-1 (for per-thread scratch). */
typedef void (*psw_pool_task)(void *ctx, int task, int thread);
/* Threads used by later jobs: n >= 1 fixes the count (capped at 64); n <= 0 (the default)
 * follows openblas_get_num_threads() at each job. */
void psw_pool_set_threads(int n);
int psw_pool_threads(void);
/* Runs fn for tasks 0..n_tasks-1 on up to psw_pool_threads() threads, the caller included;
 * returns when all are done. If workers cannot be started, the caller runs the rest. */
void psw_pool_run(int n_tasks, psw_pool_task fn, void *ctx);
/* psw_pool_run with OpenBLAS held at one thread for the job (restored after), for tasks that
 * call BLAS: their GEMMs are small or independent, and several pool threads each asking
 * OpenBLAS for its threads would only queue on its lock. The same single-threaded GEMMs run at
 * every pool size, so results do not depend on it. Must be called from the thread of control;
 * from inside a task it runs the tasks inline. */
void psw_pool_run_blas1(int n_tasks, psw_pool_task fn, void *ctx);
/* Scratch of floats_per_thread floats for each of psw_pool_threads() threads (thread i at
 * offset i * floats_per_thread), owned by the pool, grown on demand; NULL when it cannot be
 * allocated (callers then run serially on their own scratch). */
float *psw_pool_scratch(size_t floats_per_thread);

/* ---- OpenBLAS's idle spinning ----
 * After each threaded call OpenBLAS's workers spin for 2^OPENBLAS_THREAD_TIMEOUT cycles (2^28
 * by default, about 0.1 s) before they sleep, so during the element-wise work between GEMMs the
 * pool's threads compete with spinning OpenBLAS workers for the same cores. When the variable
 * is unset, psw_blas_tune_spin sets it to PSW_BLAS_SPIN_LOG2 (2^20 cycles, under a millisecond:
 * long enough to bridge back-to-back GEMMs) and restarts OpenBLAS's threads so they read it.
 * Call once at program start, before other threads use BLAS. Returns the timeout in effect
 * (log2 of cycles), or -1 when this OpenBLAS build does not expose it (nothing changes).
 * Numerical results never depend on it. */
#define PSW_BLAS_SPIN_LOG2 20
int psw_blas_tune_spin(void);

#endif
