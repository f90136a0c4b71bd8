/* attention.c: causal grouped-query attention. The BLAS version runs three sgemm calls per
 * (sequence, head) on strided views of the (B, T, heads, HD) tensors, so nothing is transposed
 * or copied; only the real length of each sequence is computed. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "psw/kernels.h"
#include "kernels/vecmath.h"
#include "kernels/pool_internal.h"

/* Causal softmax of row t (columns 0..t) in place; columns t+1..T-1 become zero. The maximum
 * is exact in any grouping; the sum is in double over PSW_LANES partial sums in a fixed order. */
PSW_VEC_INLINE void causal_softmax_row(float *row, int t, int T) {
    int n = t + 1;
    float m[PSW_LANES];
    for (int j = 0; j < PSW_LANES; j++) m[j] = row[0];
    int i = 0;
    for (; i + PSW_LANES <= n; i += PSW_LANES)
        for (int j = 0; j < PSW_LANES; j++) m[j] = row[i + j] > m[j] ? row[i + j] : m[j];
    for (; i < n; i++) m[0] = row[i] > m[0] ? row[i] : m[0];
    float mx = m[0];
    for (int j = 1; j < PSW_LANES; j++) mx = m[j] > mx ? m[j] : mx;
    for (int j = 0; j < n; j++) row[j] = psw_vexpf(row[j] - mx);
    double acc[PSW_LANES] = {0};
    for (i = 0; i + PSW_LANES <= n; i += PSW_LANES)
        for (int j = 0; j < PSW_LANES; j++) acc[j] += (double)row[i + j];
    for (; i < n; i++) acc[i % PSW_LANES] += (double)row[i];
    double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    float inv = (float)(1.0 / sum);
    for (int j = 0; j < n; j++) row[j] *= inv;
    for (int j = n; j < T; j++) row[j] = 0.0f;
}

/* Softmax backward of one row with the score scale folded in:
 * d[j] = scale * p[j] * (d[j] - sum_k p[k] d[k]) for j <= t, 0 for t < j < Tb. */
PSW_VEC_INLINE void softmax_backward_row(float *d, const float *p, int t, int Tb, float scale) {
    int n = t + 1, i = 0;
    double acc[PSW_LANES] = {0};
    for (; i + PSW_LANES <= n; i += PSW_LANES)
        for (int j = 0; j < PSW_LANES; j++) acc[j] += (double)p[i + j] * (double)d[i + j];
    for (; i < n; i++) acc[i % PSW_LANES] += (double)p[i] * (double)d[i];
    float sf = (float)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
    for (int j = 0; j < n; j++) d[j] = scale * p[j] * (d[j] - sf);
    for (int j = n; j < Tb; j++) d[j] = 0.0f;
}

/* The element-wise parts of one (sequence, head), batched over its rows so that the clones
 * dispatch once per head rather than once per row. */
PSW_VEC_CLONES
static void softmax_rows(float *a, int Tb, int T) {
    for (int t = 0; t < Tb; t++) causal_softmax_row(a + (size_t)t * T, t, T);
    for (int t = Tb; t < T; t++) memset(a + (size_t)t * T, 0, sizeof(float) * T);
}

PSW_VEC_CLONES
static void softmax_backward_rows(float *scratch, const float *a, int Tb, int T, float scale) {
    for (int t = 0; t < Tb; t++)
        softmax_backward_row(scratch + (size_t)t * T, a + (size_t)t * T, t, Tb, scale);
}

/* Arguments of one attention call, shared by its tasks. */
typedef struct att_job {
    float *out, *att, *dq, *dk, *dv, *scratch, *pool_scratch;
    const float *q, *k, *v, *dout, *catt;
    const int32_t *lengths;
    const int64_t *pos; /* the _at variants' query positions */
    int T, NH, NKV, HD, P;
} att_job;

/* Forward of one (sequence, head): task = b * NH + h. */
static void att_forward_task(void *ctx, int task, int thread) {
    const att_job *j = ctx;
    int T = j->T, NH = j->NH, HD = j->HD, b = task / NH, h = task % NH;
    size_t QD = (size_t)NH * HD, KD = (size_t)j->NKV * HD;
    int g = h / (NH / j->NKV), Tb = j->lengths[b];
    float scale = 1.0f / sqrtf((float)HD);
    const float *qh = j->q + (size_t)b * T * QD + (size_t)h * HD;
    const float *kg = j->k + (size_t)b * T * KD + (size_t)g * HD;
    const float *vg = j->v + (size_t)b * T * KD + (size_t)g * HD;
    float *a = j->att + ((size_t)b * NH + h) * T * T;
    float *oh = j->out + (size_t)b * T * QD + (size_t)h * HD;
    /* scores (Tb, Tb) = scale * qh @ kg^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tb, Tb, HD, scale, qh, (int)QD, kg,
                (int)KD, 0.0f, a, T);
    softmax_rows(a, Tb, T);
    /* oh (Tb, HD) = probs (Tb, Tb) @ vg (Tb, HD) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, a, T, vg, (int)KD,
                0.0f, oh, (int)QD);
    for (int t = Tb; t < T; t++) memset(oh + (size_t)t * QD, 0, sizeof(float) * HD);
    (void)thread;
}

PSW_VEC_CLONES
static void softmax_rows_at(float *a, size_t lda, const int64_t *pos, int n, int T, int kv_len) {
    for (int i = 0; i < n; i++) causal_softmax_row(a + (size_t)i * lda, (int)(pos[i] % T), kv_len);
}

PSW_VEC_CLONES
static void softmax_backward_rows_at(float *d, size_t ldd, const float *a, size_t lda,
                                     const int64_t *pos, int n, int T, int kv_len, float scale) {
    for (int i = 0; i < n; i++)
        softmax_backward_row(d + (size_t)i * ldd, a + (size_t)i * lda, (int)(pos[i] % T), kv_len,
                             scale);
}

/* Forward at query rows, one (run, head): task = p * NH + h, where p starts a run of
 * consecutive rows of one sequence (other tasks return at once). */
static void att_forward_at_task(void *ctx, int task, int thread) {
    const att_job *j = ctx;
    int T = j->T, NH = j->NH, HD = j->HD, p0 = task / NH, h = task % NH;
    const int64_t *pos = j->pos;
    int64_t b = pos[p0] / T;
    if (p0 > 0 && pos[p0 - 1] / T == b) return;
    int p1 = p0 + 1, kv_len = (int)(pos[p0] % T) + 1;
    for (; p1 < j->P && pos[p1] / T == b; p1++)
        if ((int)(pos[p1] % T) + 1 > kv_len) kv_len = (int)(pos[p1] % T) + 1;
    int n = p1 - p0;
    size_t QD = (size_t)NH * HD, KD = (size_t)j->NKV * HD, lda = (size_t)NH * T;
    int g = h / (NH / j->NKV);
    float scale = 1.0f / sqrtf((float)HD);
    const float *qh = j->q + (size_t)p0 * QD + (size_t)h * HD;
    const float *kg = j->k + (size_t)b * T * KD + (size_t)g * HD;
    const float *vg = j->v + (size_t)b * T * KD + (size_t)g * HD;
    float *a = j->att + ((size_t)p0 * NH + h) * T;
    /* scores (n, kv_len) = scale * qh @ kg^T, rows NH * T apart */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, kv_len, HD, scale, qh, (int)QD, kg,
                (int)KD, 0.0f, a, (int)lda);
    softmax_rows_at(a, lda, pos + p0, n, T, kv_len);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, HD, kv_len, 1.0f, a, (int)lda, vg,
                (int)KD, 0.0f, j->out + (size_t)p0 * QD + (size_t)h * HD, (int)QD);
    (void)thread;
}

/* Backward of one (sequence, kv head): task = b * NKV + g. The heads of a group accumulate
 * into the same dk, dv rows, so they run in one task, in head order. */
static void att_backward_task(void *ctx, int task, int thread) {
    const att_job *j = ctx;
    int T = j->T, NH = j->NH, NKV = j->NKV, HD = j->HD, b = task / NKV, g = task % NKV;
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD;
    int group = NH / NKV, Tb = j->lengths[b];
    float scale = 1.0f / sqrtf((float)HD);
    float *scratch = thread == 0 ? j->scratch : j->pool_scratch + (size_t)thread * T * T;
    size_t koff = (size_t)b * T * KD + (size_t)g * HD;
    for (int h = g * group; h < (g + 1) * group; h++) {
        size_t qoff = (size_t)b * T * QD + (size_t)h * HD;
        const float *a = j->catt + ((size_t)b * NH + h) * T * T;
        const float *doh = j->dout + qoff;
        /* dprobs (Tb, Tb) = doh (Tb, HD) @ vg^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Tb, Tb, HD, 1.0f, doh, (int)QD,
                    j->v + koff, (int)KD, 0.0f, scratch, T);
        /* softmax backward, scores -> scale folded in */
        softmax_backward_rows(scratch, a, Tb, T, scale);
        /* dq_h += ds @ kg;  dk_g += ds^T @ q_h;  dv_g += probs^T @ doh */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, scratch, T,
                    j->k + koff, (int)KD, 1.0f, j->dq + qoff, (int)QD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, scratch, T,
                    j->q + qoff, (int)QD, 1.0f, j->dk + koff, (int)KD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tb, HD, Tb, 1.0f, a, T, doh,
                    (int)QD, 1.0f, j->dv + koff, (int)KD);
    }
}

void psw_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           const int32_t *lengths, int B, int T, int NH, int NKV, int HD) {
    att_job j = {.out = out, .att = att, .q = q, .k = k, .v = v, .lengths = lengths, .T = T,
                 .NH = NH, .NKV = NKV, .HD = HD};
    psw_pool_run_blas1(B * NH, att_forward_task, &j);
}

void psw_attention_forward_at(float *out, float *att, const float *q, const float *k,
                              const float *v, const int64_t *pos, int P, int T, int NH, int NKV,
                              int HD) {
    att_job j = {.out = out, .att = att, .q = q, .k = k, .v = v, .pos = pos, .P = P, .T = T,
                 .NH = NH, .NKV = NKV, .HD = HD};
    psw_pool_run_blas1(P * NH, att_forward_at_task, &j);
}

/* Backward at query rows, one (sequence, kv head): task = b * NKV + g. Every run of consecutive
 * rows of sequence b, in row order, then the heads of the group in head order, accumulate into
 * the same dk, dv rows, so they all run in this one task. */
static void att_backward_at_task(void *ctx, int task, int thread) {
    const att_job *j = ctx;
    int T = j->T, NH = j->NH, NKV = j->NKV, HD = j->HD, b = task / NKV, g = task % NKV;
    size_t QD = (size_t)NH * HD, KD = (size_t)NKV * HD, lda = (size_t)NH * T;
    int group = NH / NKV;
    float scale = 1.0f / sqrtf((float)HD);
    const int64_t *pos = j->pos;
    size_t koff = (size_t)b * T * KD + (size_t)g * HD;
    float *scratch = thread == 0 ? j->scratch : j->pool_scratch + (size_t)thread * T * T;
    /* runs of sequence b, cut into pieces of at most T rows (the scratch is T x T) */
    for (int p0 = 0, p1; p0 < j->P; p0 = p1) {
        int64_t rb = pos[p0] / T;
        int kv_len = (int)(pos[p0] % T) + 1;
        for (p1 = p0 + 1; p1 < j->P && p1 - p0 < T && pos[p1] / T == rb; p1++)
            if ((int)(pos[p1] % T) + 1 > kv_len) kv_len = (int)(pos[p1] % T) + 1;
        if (rb != b) continue;
        int n = p1 - p0;
        for (int h = g * group; h < (g + 1) * group; h++) {
            size_t qoff = (size_t)p0 * QD + (size_t)h * HD;
            const float *a = j->catt + ((size_t)p0 * NH + h) * T;
            const float *doh = j->dout + qoff;
            /* dprobs (n, kv_len) = doh (n, HD) @ vg^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, kv_len, HD, 1.0f, doh,
                        (int)QD, j->v + koff, (int)KD, 0.0f, scratch, kv_len);
            softmax_backward_rows_at(scratch, kv_len, a, lda, pos + p0, n, T, kv_len, scale);
            /* dq_h += ds @ kg;  dk_g += ds^T @ q_h;  dv_g += probs^T @ doh */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, HD, kv_len, 1.0f, scratch,
                        kv_len, j->k + koff, (int)KD, 1.0f, j->dq + qoff, (int)QD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kv_len, HD, n, 1.0f, scratch,
                        kv_len, j->q + qoff, (int)QD, 1.0f, j->dk + koff, (int)KD);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kv_len, HD, n, 1.0f, a,
                        (int)lda, doh, (int)QD, 1.0f, j->dv + koff, (int)KD);
        }
    }
}

/* Runs a backward's n_tasks tasks on the pool, each thread with its own (T, T) scratch; with no
 * memory for that scratch, the same tasks in order on this thread (thread 0 uses j->scratch). */
static void run_backward(att_job *j, int n_tasks, psw_pool_task fn) {
    j->pool_scratch = psw_pool_scratch((size_t)j->T * j->T);
    if (j->pool_scratch) {
        psw_pool_run_blas1(n_tasks, fn, j);
    } else {
        for (int t = 0; t < n_tasks; t++) fn(j, t, 0);
    }
}

void psw_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *att, const float *q, const float *k, const float *v,
                            const int32_t *lengths, int B, int T, int NH, int NKV, int HD) {
    att_job j = {.dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .catt = att,
                 .q = q, .k = k, .v = v, .lengths = lengths, .T = T, .NH = NH, .NKV = NKV,
                 .HD = HD};
    run_backward(&j, B * NKV, att_backward_task);
}

void psw_attention_backward_at(float *dq, float *dk, float *dv, float *scratch,
                               const float *dout, const float *att, const float *q,
                               const float *k, const float *v, const int64_t *pos, int P, int B,
                               int T, int NH, int NKV, int HD) {
    att_job j = {.dq = dq, .dk = dk, .dv = dv, .scratch = scratch, .dout = dout, .catt = att,
                 .q = q, .k = k, .v = v, .pos = pos, .P = P, .T = T, .NH = NH, .NKV = NKV,
                 .HD = HD};
    run_backward(&j, B * NKV, att_backward_at_task);
}

/* The plain causal softmax (libm expf, one double sum) for the reference twin. */
static void ref_softmax_row(float *row, int t, int T) {
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
                ref_softmax_row(a, t, T);
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
