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
    int P, T, IN, OUT, ld_out;
} seq_job;

static void seq_task(void *ctx, int b, int thread) {
    const seq_job *j = ctx;
    size_t row = (size_t)b * j->T;
    int len = j->lengths[b];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, j->OUT, j->IN, 1.0f,
                j->inp + row * j->IN, j->IN, j->w, j->IN, 0.0f, j->out + row * j->OUT, j->OUT);
    memset(j->out + (row + (size_t)len) * j->OUT, 0, sizeof(float) * (size_t)(j->T - len) * j->OUT);
    (void)thread;
}

/* task = p; only the first row of each run does the run's call. */
static void run_task(void *ctx, int p0, int thread) {
    const seq_job *j = ctx;
    int64_t b = j->pos[p0] / j->T;
    if (p0 > 0 && j->pos[p0 - 1] / j->T == b) return;
    int p1 = p0 + 1;
    while (p1 < j->P && j->pos[p1] / j->T == b) p1++;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p1 - p0, j->OUT, j->IN, 1.0f,
                j->inp + (size_t)p0 * j->IN, j->IN, j->w, j->IN, 0.0f,
                j->out + (size_t)p0 * j->ld_out, j->ld_out);
    (void)thread;
}

void psw_matmul_forward_seqs(float *out, const float *inp, const float *w, const int32_t *lengths,
                             int B, int T, int IN, int OUT) {
    seq_job j = {.out = out, .inp = inp, .w = w, .lengths = lengths, .T = T, .IN = IN, .OUT = OUT};
    psw_pool_run_blas1(B, seq_task, &j);
}

void psw_matmul_forward_runs(float *out, int ld_out, const float *inp, const float *w,
                             const int64_t *pos, int P, int T, int IN, int OUT) {
    seq_job j = {.out = out, .inp = inp, .w = w, .pos = pos, .P = P, .T = T, .IN = IN, .OUT = OUT,
                 .ld_out = ld_out};
    psw_pool_run_blas1(P, run_task, &j);
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
