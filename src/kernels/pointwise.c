/* pointwise.c: SwiGLU, token embedding and the per-row loss (CE and temperature KL). */
#include <math.h>
#include <string.h>

#include "psw/kernels.h"

void psw_swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void psw_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                         const float *up, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], s = 1.0f / (1.0f + expf(-g));
        if (dgate) dgate[i] += dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        if (dup) dup[i] += dout[i] * g * s;
    }
}

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

double psw_loss_row(float *dlogits, const float *logits, int target, const float *teacher, int V,
                    float ce_w, float kl_w, float temperature, float gscale) {
    const int ce = target >= 0, kl = teacher != NULL;
    const float invT = kl ? 1.0f / temperature : 1.0f;
    float mz = logits[0], mt = kl ? teacher[0] : 0.0f;
    for (int i = 1; i < V; i++)
        if (logits[i] > mz) mz = logits[i];
    if (kl)
        for (int i = 1; i < V; i++)
            if (teacher[i] > mt) mt = teacher[i];
    double sz = 0.0, szT = 0.0, stT = 0.0;
    for (int i = 0; i < V; i++) {
        float a = logits[i] - mz;
        if (ce) sz += expf(a);
        if (kl) {
            szT += expf(a * invT);
            stT += expf((teacher[i] - mt) * invT);
        }
    }
    /* Log-normalisers relative to the row maxima. */
    float lz = ce ? (float)log(sz) : 0.0f;
    float lzT = kl ? (float)log(szT) : 0.0f, ltT = kl ? (float)log(stT) : 0.0f;
    double loss_ce = ce ? (double)lz - (double)(logits[target] - mz) : 0.0;
    double klsum = 0.0;
    for (int i = 0; i < V; i++) {
        float a = logits[i] - mz, g = 0.0f;
        if (ce) g += ce_w * (expf(a - lz) - (i == target ? 1.0f : 0.0f));
        if (kl) {
            /* Student and teacher log-probs use the same expression, so identical logits give
             * exactly zero loss and gradient. */
            float lps = a * invT - lzT, lpt = (teacher[i] - mt) * invT - ltT;
            float ps = expf(lps), pt = expf(lpt);
            if (pt > 0.0f) klsum += (double)pt * ((double)lpt - (double)lps);
            g += kl_w * temperature * (ps - pt);
        }
        if (dlogits) dlogits[i] = gscale * g;
    }
    double T2 = (double)temperature * (double)temperature;
    return (ce ? (double)ce_w * loss_ce : 0.0) + (kl ? (double)kl_w * T2 * klsum : 0.0);
}
