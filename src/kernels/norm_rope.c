/* norm_rope.c: RMSNorm and rotate-half rotary embeddings. */
#include <math.h>

#include "psw/kernels.h"
#include "kernels/vecmath.h"

/* sum_i a[i] * b[i] * c[i] in double (c NULL: sum a[i] * b[i]), in PSW_LANES partial sums
 * combined in a fixed order. */
PSW_VEC_INLINE double dot3(const float *a, const float *b, const float *c, int n) {
    double acc[PSW_LANES] = {0};
    int i = 0;
    if (c) {
        for (; i + PSW_LANES <= n; i += PSW_LANES)
            for (int j = 0; j < PSW_LANES; j++)
                acc[j] += (double)a[i + j] * (double)b[i + j] * (double)c[i + j];
        for (; i < n; i++) acc[i % PSW_LANES] += (double)a[i] * (double)b[i] * (double)c[i];
    } else {
        for (; i + PSW_LANES <= n; i += PSW_LANES)
            for (int j = 0; j < PSW_LANES; j++) acc[j] += (double)a[i + j] * (double)b[i + j];
        for (; i < n; i++) acc[i % PSW_LANES] += (double)a[i] * (double)b[i];
    }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

PSW_VEC_CLONES
void psw_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                         float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        double ss = dot3(x, x, NULL, C);
        float r = (float)(1.0 / sqrt(ss / C + (double)eps));
        for (int i = 0; i < C; i++) o[i] = w[i] * (x[i] * r);
        rstd[n] = r;
    }
}

/* Columns of dw are summed over rows in blocks so that the double accumulators stay on the
 * stack and every row is read contiguously. */
#define DW_BLOCK 64

PSW_VEC_CLONES
void psw_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                          const float *w, const float *rstd, int N, int C) {
    if (dinp)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            double dot = dot3(w, dy, x, C); /* sum_j w_j dy_j x_j */
            float r = rstd[n];
            float c = (float)(dot * (double)r * (double)r * (double)r / C);
            for (int i = 0; i < C; i++) dx[i] += r * w[i] * dy[i] - c * x[i];
        }
    if (dw)
        for (int i0 = 0; i0 < C; i0 += DW_BLOCK) {
            int i1 = i0 + DW_BLOCK < C ? i0 + DW_BLOCK : C;
            double acc[DW_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                double r = rstd[n];
                for (int i = i0; i < i1; i++) acc[i - i0] += (double)dy[i] * (double)x[i] * r;
            }
            for (int i = i0; i < i1; i++) dw[i] += (float)acc[i - i0];
        }
}

void psw_rope_table(float *cos_t, float *sin_t, int T, int HD, double theta) {
    int half = HD / 2;
    for (int i = 0; i < half; i++) {
        double inv_freq = pow(theta, -2.0 * i / HD);
        for (int t = 0; t < T; t++) {
            double a = t * inv_freq;
            cos_t[(size_t)t * half + i] = (float)cos(a);
            sin_t[(size_t)t * half + i] = (float)sin(a);
        }
    }
}

PSW_VEC_CLONES
static void rope_apply(float *x, const float *cos_t, const float *sin_t, int B, int T, int NX,
                       int HD, float sign) {
    int half = HD / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
            for (int h = 0; h < NX; h++) {
                float *v = x + (((size_t)b * T + t) * NX + h) * HD;
                for (int i = 0; i < half; i++) {
                    float x1 = v[i], x2 = v[i + half], si = sign * s[i];
                    v[i] = x1 * c[i] - x2 * si;
                    v[i + half] = x2 * c[i] + x1 * si;
                }
            }
        }
}

void psw_rope_forward(float *x, const float *cos_t, const float *sin_t, int B, int T, int NX,
                      int HD) {
    rope_apply(x, cos_t, sin_t, B, T, NX, HD, 1.0f);
}

void psw_rope_backward(float *dx, const float *cos_t, const float *sin_t, int B, int T, int NX,
                       int HD) {
    /* The rotation is orthogonal: its transpose is the rotation by the negative angle. */
    rope_apply(dx, cos_t, sin_t, B, T, NX, HD, -1.0f);
}
