/* matmul.c: the bias-free linear layer on cblas_sgemm, plus plain-loop references. */
#include <cblas.h>
#include <string.h>

#include "psw/kernels.h"

void psw_matmul_forward(float *out, const float *inp, const float *w, int N, int IN, int OUT) {
    /* out (N, OUT) = inp (N, IN) @ w^T: w is row-major (OUT, IN), so no copy is needed. */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, inp, IN, w, IN, 0.0f,
                out, OUT);
}

void psw_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, int N, int IN, int OUT) {
    if (dinp) /* dinp (N, IN) += dout (N, OUT) @ w (OUT, IN) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dout, OUT, w, IN,
                    1.0f, dinp, IN);
    if (dw) /* dw (OUT, IN) += dout^T (OUT, N) @ inp (N, IN) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dout, OUT, inp, IN,
                    1.0f, dw, IN);
}

typedef struct seq_job {
    float *out;
    const float *inp, *w;
    const int32_t *lengths; /* per-sequence mode */
    const int64_t *pos;     /* gathered-rows mode */
    int P, T, IN, OUT, ld_out, n_blocks;
} seq_job;

/* rows [r0, r0 + n) of out (ld ld_out) = the same rows of inp @ w^T, output column block c. */
static void block_gemm(const seq_job *j, size_t r0, int n, int c) {
    int c0 = c * PSW_SEQ_GEMM_COLS;
    int cols = j->OUT - c0 < PSW_SEQ_GEMM_COLS ? j->OUT - c0 : PSW_SEQ_GEMM_COLS;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, cols, j->IN, 1.0f,
                j->inp + r0 * j->IN, j->IN, j->w + (size_t)c0 * j->IN, j->IN, 0.0f,
                j->out + r0 * j->ld_out + c0, j->ld_out);
}

/* task = b * n_blocks + column block; block 0 also zeroes the sequence's padding rows. */
static void seq_task(void *ctx, int task, int thread) {
    const seq_job *j = ctx;
    int b = task / j->n_blocks, c = task % j->n_blocks, len = j->lengths[b];
    size_t row = (size_t)b * j->T;
    block_gemm(j, row, len, c);
    if (c == 0)
        memset(j->out + (row + (size_t)len) * j->OUT, 0,
               sizeof(float) * (size_t)(j->T - len) * j->OUT);
    (void)thread;
}

/* task = p * n_blocks + column block; only the first row of each run does the run's call. */
static void run_task(void *ctx, int task, int thread) {
    const seq_job *j = ctx;
    int p0 = task / j->n_blocks;
    int64_t b = j->pos[p0] / j->T;
    if (p0 > 0 && j->pos[p0 - 1] / j->T == b) return;
    int p1 = p0 + 1;
    while (p1 < j->P && j->pos[p1] / j->T == b) p1++;
    block_gemm(j, (size_t)p0, p1 - p0, task % j->n_blocks);
    (void)thread;
}

static int column_blocks(int OUT) { return (OUT + PSW_SEQ_GEMM_COLS - 1) / PSW_SEQ_GEMM_COLS; }

void psw_matmul_forward_seqs(float *out, const float *inp, const float *w, const int32_t *lengths,
                             int B, int T, int IN, int OUT) {
    seq_job j = {.out = out, .inp = inp, .w = w, .lengths = lengths, .T = T, .IN = IN, .OUT = OUT,
                 .ld_out = OUT, .n_blocks = column_blocks(OUT)};
    psw_pool_run_blas1(B * j.n_blocks, seq_task, &j);
}

void psw_matmul_forward_runs(float *out, int ld_out, const float *inp, const float *w,
                             const int64_t *pos, int P, int T, int IN, int OUT) {
    seq_job j = {.out = out, .inp = inp, .w = w, .pos = pos, .P = P, .T = T, .IN = IN, .OUT = OUT,
                 .ld_out = ld_out, .n_blocks = column_blocks(OUT)};
    psw_pool_run_blas1(P * j.n_blocks, run_task, &j);
}

void psw_matmul_forward_ref(float *out, const float *inp, const float *w, int N, int IN, int OUT) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = 0.0;
            for (int i = 0; i < IN; i++)
                s += (double)inp[(size_t)n * IN + i] * (double)w[(size_t)o * IN + i];
            out[(size_t)n * OUT + o] = (float)s;
        }
}

void psw_matmul_backward_ref(float *dinp, float *dw, const float *dout, const float *inp,
                             const float *w, int N, int IN, int OUT) {
    if (dinp)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IN; i++) {
                double s = 0.0;
                for (int o = 0; o < OUT; o++)
                    s += (double)dout[(size_t)n * OUT + o] * (double)w[(size_t)o * IN + i];
                dinp[(size_t)n * IN + i] += (float)s;
            }
    if (dw)
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                double s = 0.0;
                for (int n = 0; n < N; n++)
                    s += (double)dout[(size_t)n * OUT + o] * (double)inp[(size_t)n * IN + i];
                dw[(size_t)o * IN + i] += (float)s;
            }
}
