/* matmul.c: the bias-free linear layer on cblas_sgemm, plus plain-loop references. */
#include <cblas.h>

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
