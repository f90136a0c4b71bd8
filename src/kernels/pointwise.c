/* pointwise.c: SwiGLU, token embedding, the per-row loss (CE and temperature KL), and the
 * element-wise halves of AdamW (sum of squares, update). */
#include <math.h>
#include <string.h>

#include "psw/kernels.h"
#include "kernels/vecmath.h"
#include "kernels/pool_internal.h"

PSW_VEC_CLONES
static void swiglu_fwd(float *out, const float *gate, const float *up, size_t i0, size_t n) {
    for (size_t i = i0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + psw_vexpf(-g)) * up[i];
    }
}

/* One loop per case, so that no loop carries a NULL test per element (which would keep it
 * from vectorising). */
PSW_VEC_CLONES
static void swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate,
                       const float *up, size_t i0, size_t n) {
    if (dgate && dup) {
        for (size_t i = i0; i < n; i++) {
            float g = gate[i], s = 1.0f / (1.0f + psw_vexpf(-g)), d = dout[i];
            dgate[i] += d * up[i] * s * (1.0f + g * (1.0f - s));
            dup[i] += d * g * s;
        }
    } else if (dgate) {
        for (size_t i = i0; i < n; i++) {
            float g = gate[i], s = 1.0f / (1.0f + psw_vexpf(-g));
            dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        }
    } else if (dup) {
        for (size_t i = i0; i < n; i++) {
            float g = gate[i], s = 1.0f / (1.0f + psw_vexpf(-g));
            dup[i] += dout[i] * g * s;
        }
    }
}

/* Elements per task (fixed, so the split never depends on the thread count; each element is
 * computed alone anyway). */
#define SWIGLU_CHUNK 16384

typedef struct swiglu_job {
    float *out, *dgate, *dup;
    const float *gate, *up, *dout;
    size_t n;
} swiglu_job;

static void swiglu_forward_task(void *ctx, int task, int thread) {
    const swiglu_job *j = ctx;
    size_t i0 = (size_t)task * SWIGLU_CHUNK, i1 = i0 + SWIGLU_CHUNK < j->n ? i0 + SWIGLU_CHUNK : j->n;
    swiglu_fwd(j->out, j->gate, j->up, i0, i1);
    (void)thread;
}

static void swiglu_backward_task(void *ctx, int task, int thread) {
    const swiglu_job *j = ctx;
    size_t i0 = (size_t)task * SWIGLU_CHUNK, i1 = i0 + SWIGLU_CHUNK < j->n ? i0 + SWIGLU_CHUNK : j->n;
    swiglu_bwd(j->dgate, j->dup, j->dout, j->gate, j->up, i0, i1);
    (void)thread;
}

void psw_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    swiglu_job j = {.out = out, .gate = gate, .up = up, .n = n};
    psw_pool_run(psw_chunks(n, SWIGLU_CHUNK), swiglu_forward_task, &j);
}

void psw_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n) {
    swiglu_job j = {.dgate = dgate, .dup = dup, .dout = dout, .gate = gate, .up = up, .n = n};
    psw_pool_run(psw_chunks(n, SWIGLU_CHUNK), swiglu_backward_task, &j);
}

/* Floats per task of the streaming element-wise ops (zero-fill, y += x): large enough that a
 * task is worth a wake-up. Each element is computed alone, so the split never changes a bit. */
#define STREAM_CHUNK 262144

typedef struct stream_job {
    float *y;
    const float *x; /* NULL: zero-fill y */
    size_t n;
} stream_job;

static void stream_span(const stream_job *j, size_t i0, size_t i1) {
    if (!j->x) {
        memset(j->y + i0, 0, sizeof(float) * (i1 - i0));
        return;
    }
    float *y = j->y;
    const float *x = j->x;
    for (size_t i = i0; i < i1; i++) y[i] += x[i];
}

static void stream_task(void *ctx, int task, int thread) {
    const stream_job *j = ctx;
    size_t i0 = (size_t)task * STREAM_CHUNK;
    stream_span(j, i0, i0 + STREAM_CHUNK < j->n ? i0 + STREAM_CHUNK : j->n);
    (void)thread;
}

static void stream_run(float *y, const float *x, size_t n) {
    stream_job j = {.y = y, .x = x, .n = n};
    if (n <= STREAM_CHUNK) stream_span(&j, 0, n);
    else psw_pool_run(psw_chunks(n, STREAM_CHUNK), stream_task, &j);
}

void psw_zero(float *x, size_t n) { stream_run(x, NULL, n); }

void psw_add_inplace(float *y, const float *x, size_t n) { stream_run(y, x, n); }

void psw_embedding_forward(float *out, const int32_t *tokens, const int32_t *lengths,
                           const float *embed, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            if (t < lengths[b])
                memcpy(o, embed + (size_t)tokens[(size_t)b * T + t] * C, sizeof(float) * C);
            else
                memset(o, 0, sizeof(float) * C);
        }
}

void psw_embedding_backward(float *dembed, const float *dout, const int32_t *tokens,
                            const int32_t *lengths, int B, int T, int C) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lengths[b]; t++) {
            float *d = dembed + (size_t)tokens[(size_t)b * T + t] * C;
            const float *g = dout + ((size_t)b * T + t) * C;
            for (int i = 0; i < C; i++) d[i] += g[i];
        }
}

/* Maximum of x[0..n) in PSW_LANES running maxima (max is exact, so the grouping does not
 * change the result). */
PSW_VEC_CLONES
static float row_max(const float *x, int n) {
    float m[PSW_LANES];
    for (int j = 0; j < PSW_LANES; j++) m[j] = x[0];
    int i = 0;
    for (; i + PSW_LANES <= n; i += PSW_LANES)
        for (int j = 0; j < PSW_LANES; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float r = m[0];
    for (int j = 1; j < PSW_LANES; j++) r = m[j] > r ? m[j] : r;
    return r;
}

/* sum_i exp((x[i] - shift) * scale) in double: PSW_LANES partial sums, combined in a fixed
 * order. */
PSW_VEC_CLONES
static double sum_exp(const float *x, float shift, float scale, int n) {
    double acc[PSW_LANES] = {0};
    int i = 0;
    for (; i + PSW_LANES <= n; i += PSW_LANES)
        for (int j = 0; j < PSW_LANES; j++) acc[j] += (double)psw_vexpf((x[i + j] - shift) * scale);
    for (; i < n; i++) acc[0] += (double)psw_vexpf((x[i] - shift) * scale);
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* CE gradient without the -1 at the target: d[i] = gscale * (ce_w * softmax_i). Two copies of
 * the loop: in place (d == z, the usual case) and into a separate row, so that neither needs a
 * runtime overlap check to vectorise. */
PSW_VEC_CLONES
static void ce_grad_inplace(float *z, int V, float mz, float lz, float ce_w, float gscale) {
    for (int i = 0; i < V; i++) z[i] = gscale * (ce_w * psw_vexpf((z[i] - mz) - lz));
}
PSW_VEC_CLONES
static void ce_grad(float *restrict d, const float *restrict z, int V, float mz, float lz,
                    float ce_w, float gscale) {
    for (int i = 0; i < V; i++) d[i] = gscale * (ce_w * psw_vexpf((z[i] - mz) - lz));
}

/* One element of the KL term: adds pt * (log pt - log ps) to *kl and returns the gradient of
 * the KL part (kl_w * T * (ps - pt)). Student and teacher log-probs use the same expression,
 * so identical logits give exactly zero loss and gradient. */
PSW_VEC_INLINE float kl_elem(float z, float t, float mz, float mt, float invT, float lzT, float ltT,
                            float klT, double *kl) {
    float lps = (z - mz) * invT - lzT, lpt = (t - mt) * invT - ltT;
    float ps = psw_vexpf(lps), pt = psw_vexpf(lpt);
    *kl += pt > 0.0f ? (double)pt * ((double)lpt - (double)lps) : 0.0;
    return klT * (ps - pt);
}

/* The KL pass over a row: returns sum pt (log pt - log ps), in PSW_LANES partial sums (lane
 * i % PSW_LANES) whichever variant runs, so loss and training passes agree to the bit. The
 * gradient variants also write d[i] = gscale * (ce_w * softmax_i + kl gradient), the CE target's
 * -1 left to the caller; one copy works in place (d == z), one on separate rows, so that
 * neither needs a runtime overlap check to vectorise. */
#define KL_LANE_LOOP(BODY)                                                                          \
    double acc[PSW_LANES] = {0};                                                                   \
    int i = 0;                                                                                     \
    for (; i + PSW_LANES <= V; i += PSW_LANES)                                                     \
        for (int j = 0; j < PSW_LANES; j++) {                                                      \
            int k = i + j;                                                                         \
            double *a = &acc[j];                                                                   \
            BODY;                                                                                  \
        }                                                                                          \
    for (int k = i; k < V; k++) {                                                                  \
        double *a = &acc[k % PSW_LANES];                                                           \
        BODY;                                                                                      \
    }                                                                                              \
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))

#define KL_GRAD(dst, src)                                                                          \
    do {                                                                                           \
        float zi = src[k];                                                                         \
        float g = ce_w != 0.0f ? ce_w * psw_vexpf((zi - mz) - lz) : 0.0f;                          \
        g += kl_elem(zi, t[k], mz, mt, invT, lzT, ltT, klT, a);                                    \
        dst[k] = gscale * g;                                                                       \
    } while (0)

PSW_VEC_CLONES
static double kl_sum(const float *restrict z, const float *restrict t, int V, float mz, float mt,
                     float invT, float lzT, float ltT) {
    KL_LANE_LOOP((void)kl_elem(z[k], t[k], mz, mt, invT, lzT, ltT, 0.0f, a));
}
PSW_VEC_CLONES
static double kl_grad_inplace(float *z, const float *restrict t, int V, float mz, float mt,
                              float invT, float lz, float lzT, float ltT, float ce_w, float klT,
                              float gscale) {
    KL_LANE_LOOP(KL_GRAD(z, z));
}
PSW_VEC_CLONES
static double kl_grad(float *restrict d, const float *restrict z, const float *restrict t, int V,
                      float mz, float mt, float invT, float lz, float lzT, float ltT, float ce_w,
                      float klT, float gscale) {
    KL_LANE_LOOP(KL_GRAD(d, z));
}

double psw_loss_row(float *dlogits, const float *logits, int target, const float *teacher, int V,
                    float ce_w, float kl_w, float temperature, float gscale) {
    const int ce = target >= 0, kl = teacher != NULL;
    const float invT = kl ? 1.0f / temperature : 1.0f;
    float mz = row_max(logits, V), mt = kl ? row_max(teacher, V) : 0.0f;
    double sz = ce ? sum_exp(logits, mz, 1.0f, V) : 0.0;
    double szT = kl ? sum_exp(logits, mz, invT, V) : 0.0;
    double stT = kl ? sum_exp(teacher, mt, invT, V) : 0.0;
    /* Log-normalisers relative to the row maxima. */
    float lz = ce ? (float)log(sz) : 0.0f;
    float lzT = kl ? (float)log(szT) : 0.0f, ltT = kl ? (float)log(stT) : 0.0f;
    float zt = ce ? logits[target] : 0.0f; /* read before the row is overwritten */
    double loss_ce = ce ? (double)lz - (double)(zt - mz) : 0.0;
    double klsum = 0.0;
    if (kl) {
        float cw = ce ? ce_w : 0.0f, klT = kl_w * temperature;
        if (!dlogits)
            klsum = kl_sum(logits, teacher, V, mz, mt, invT, lzT, ltT);
        else if (dlogits == logits)
            klsum = kl_grad_inplace(dlogits, teacher, V, mz, mt, invT, lz, lzT, ltT, cw, klT, gscale);
        else
            klsum = kl_grad(dlogits, logits, teacher, V, mz, mt, invT, lz, lzT, ltT, cw, klT, gscale);
    } else if (dlogits && ce) {
        if (dlogits == logits) ce_grad_inplace(dlogits, V, mz, lz, ce_w, gscale);
        else ce_grad(dlogits, logits, V, mz, lz, ce_w, gscale);
    } else if (dlogits) {
        memset(dlogits, 0, sizeof(float) * (size_t)V);
    }
    if (dlogits && ce) {
        /* The target's -1, recomputed from its logit so that nothing depends on the pass. */
        float g = ce_w * (psw_vexpf((zt - mz) - lz) - 1.0f);
        if (kl) {
            double unused = 0.0;
            g += kl_elem(zt, teacher[target], mz, mt, invT, lzT, ltT, kl_w * temperature, &unused);
        }
        dlogits[target] = gscale * g;
    }
    double T2 = (double)temperature * (double)temperature;
    return (ce ? (double)ce_w * loss_ce : 0.0) + (kl ? (double)kl_w * T2 * klsum : 0.0);
}

/* 16 independent partial sums (lane k % 16), combined pairwise in a fixed tree: enough
 * independent additions to keep the vector units busy, and the same bits in every clone. */
PSW_VEC_CLONES
static double sum_squares(const float *g, size_t n) {
    double acc[16] = {0};
    size_t k = 0;
    for (; k + 16 <= n; k += 16)
        for (int j = 0; j < 16; j++) acc[j] += (double)g[k + j] * g[k + j];
    for (; k < n; k++) acc[k % 16] += (double)g[k] * g[k];
    for (int w = 8; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    return acc[0];
}

double psw_sum_squares(const float *g, size_t n) { return sum_squares(g, n); }

PSW_VEC_CLONES
static void adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                         const psw_adamw_coeffs *c) {
    float clip = c->clip, b1 = c->b1, b2 = c->b2, step_size = c->step_size;
    float inv_sqrt_bc2 = c->inv_sqrt_bc2, eps = c->eps, keep = 1.0f - c->decay;
    for (size_t k = 0; k < n; k++) {
        float gk = g[k] * clip;
        m[k] = b1 * m[k] + (1.0f - b1) * gk;
        v[k] = b2 * v[k] + (1.0f - b2) * gk * gk;
        float denom = sqrtf(v[k]) * inv_sqrt_bc2 + eps;
        w[k] = w[k] * keep - step_size * m[k] / denom;
    }
}

void psw_adamw_update(float *w, const float *g, float *m, float *v, size_t n,
                      const psw_adamw_coeffs *c) {
    adamw_update(w, g, m, v, n, c);
}
