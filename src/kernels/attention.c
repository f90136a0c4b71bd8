/* attention.c: causal grouped-query attention. The BLAS version runs three sgemm calls per
 * (sequence, head) on strided views of the (B, T, heads, HD) tensors, so nothing is transposed
 * or copied; only the real length of each sequence is computed. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "psw/kernels.h"

/* Causal softmax of row t (columns 0..t) in place; columns t+1..T-1 become zero. */
static void causal_softmax_row(float *row, int t, int T) {
    float mx = row[0];
    for (int j = 1; j <= t; j++)
        if (row[j] > mx) mx = row[j];
    double sum = 0.0;
    for (int j = 0; j <= t; j++) {
        row[j] = expf(row[j] - mx);
        sum += row[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j <= t; j++) row[j] *= inv;
    for (int j = t + 1; j < T; j++) row[j] = 0.0f;
}

void psw_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           const int32_t *lengths, int B, int T, int NH, int NKV, int HD) {
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD;
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HD);
    for (int b = 0; b < B; b++) {
        int Tb = lengths[b];
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            const float *qh = q + (size_t)b * T * QD + (size_t)h * HD;
            const float *kg = k + (size_t)b * T * KD + (size_t)g * HD;
            const float *vg = v + (size_t)b * T * KD + (size_t)g * HD;
            float *a = att + ((size_t)b * NH + h) * T * T;
            float *oh = out + (size_t)b * T * QD + (size_t)h * HD;
            /* scores (Tb, Tb) = scale * qh @ kg^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tb, Tb, HD, scale, qh, (int)QD,
                        kg, (int)KD, 0.0f, a, T);
            for (int t = 0; t < Tb; t++) causal_softmax_row(a + (size_t)t * T, t, T);
            for (int t = Tb; t < T; t++) memset(a + (size_t)t * T, 0, sizeof(float) * T);
            /* oh (Tb, HD) = probs (Tb, Tb) @ vg (Tb, HD) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, a, T, vg,
                        (int)KD, 0.0f, oh, (int)QD);
            for (int t = Tb; t < T; t++) memset(oh + (size_t)t * QD, 0, sizeof(float) * HD);
        }
    }
}

void psw_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *att, const float *q, const float *k, const float *v,
                            const int32_t *lengths, int B, int T, int NH, int NKV, int HD) {
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD;
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HD);
    for (int b = 0; b < B; b++) {
        int Tb = lengths[b];
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            size_t qoff = (size_t)b * T * QD + (size_t)h * HD;
            size_t koff = (size_t)b * T * KD + (size_t)g * HD;
            const float *a = att + ((size_t)b * NH + h) * T * T;
            const float *doh = dout + qoff;
            /* dprobs (Tb, Tb) = doh (Tb, HD) @ vg^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tb, Tb, HD, 1.0f, doh, (int)QD,
                        v + koff, (int)KD, 0.0f, scratch, T);
            /* softmax backward, scores -> scale folded in: ds = scale * p * (dp - sum(p dp)) */
            for (int t = 0; t < Tb; t++) {
                const float *p = a + (size_t)t * T;
                float *d = scratch + (size_t)t * T;
                double s = 0.0;
                for (int j = 0; j <= t; j++) s += (double)p[j] * (double)d[j];
                float sf = (float)s;
                for (int j = 0; j <= t; j++) d[j] = scale * p[j] * (d[j] - sf);
                for (int j = t + 1; j < Tb; j++) d[j] = 0.0f;
            }
            /* dq_h += ds @ kg;  dk_g += ds^T @ q_h;  dv_g += probs^T @ doh */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, scratch, T,
                        k + koff, (int)KD, 1.0f, dq + qoff, (int)QD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, scratch, T,
                        q + qoff, (int)QD, 1.0f, dk + koff, (int)KD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, a, T, doh,
                        (int)QD, 1.0f, dv + koff, (int)KD);
        }
    }
}

void psw_attention_forward_ref(float *out, float *att, const float *q, const float *k,
                               const float *v, const int32_t *lengths, int B, int T, int NH,
                               int NKV, int HD) {
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD;
    int group = NH / NKV;
    double scale = 1.0 / sqrt((double)HD);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            for (int t = 0; t < T; t++) {
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *o = out + ((size_t)b * T + t) * QD + (size_t)h * HD;
                for (int j = 0; j < T; j++) a[j] = 0.0f;
                for (int d = 0; d < HD; d++) o[d] = 0.0f;
                if (t >= lengths[b]) continue;
                const float *qt = q + ((size_t)b * T + t) * QD + (size_t)h * HD;
                for (int j = 0; j <= t; j++) {
                    const float *kj = k + ((size_t)b * T + j) * KD + (size_t)g * HD;
                    double s = 0.0;
                    for (int d = 0; d < HD; d++) s += (double)qt[d] * (double)kj[d];
                    a[j] = (float)(s * scale);
                }
                causal_softmax_row(a, t, T);
                for (int d = 0; d < HD; d++) {
                    double s = 0.0;
                    for (int j = 0; j <= t; j++)
                        s += (double)a[j] * (double)v[((size_t)b * T + j) * KD + (size_t)g * HD + d];
                    o[d] = (float)s;
                }
            }
        }
}

void psw_attention_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                const float *att, const float *q, const float *k, const float *v,
                                const int32_t *lengths, int B, int T, int NH, int NKV, int HD) {
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD;
    int group = NH / NKV;
    double scale = 1.0 / sqrt((double)HD);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            int g = h / group;
            for (int t = 0; t < lengths[b]; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                size_t qi = ((size_t)b * T + t) * QD + (size_t)h * HD;
                double sum = 0.0;
                for (int j = 0; j <= t; j++) {
                    size_t kj = ((size_t)b * T + j) * KD + (size_t)g * HD;
                    double d = 0.0;
                    for (int e = 0; e < HD; e++) d += (double)dout[qi + e] * (double)v[kj + e];
                    sum += (double)a[j] * d;
                }
                for (int j = 0; j <= t; j++) {
                    size_t kj = ((size_t)b * T + j) * KD + (size_t)g * HD;
                    double d = 0.0;
                    for (int e = 0; e < HD; e++) d += (double)dout[qi + e] * (double)v[kj + e];
                    double ds = (double)a[j] * (d - sum) * scale;
                    for (int e = 0; e < HD; e++) {
                        dq[qi + e] += (float)(ds * (double)k[kj + e]);
                        dk[kj + e] += (float)(ds * (double)q[qi + e]);
                        dv[kj + e] += (float)((double)a[j] * (double)dout[qi + e]);
                    }
                }
            }
        }
}
