/* optim.c: AdamW (PyTorch semantics) with global gradient-norm clipping, and the learning-rate
 * schedule. Only trainable kinds are touched. */
#include <math.h>

#include "model/model_internal.h"

psw_status psw_model_adamw_step(psw_model *m, const psw_adamw *opt, double *grad_norm_out,
                                psw_err *err) {
    if (!m->grads.base || !m->adam_m || !m->adam_v)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "adamw: no gradients; call psw_model_reserve(training=true) first");
    /* Global norm over every trainable gradient, in double, in a fixed order (kind, index);
     * four partial sums for speed, combined in a fixed order too. */
    double ss = 0.0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (!m->trainable[i]) continue;
        const float *g = m->grads.ptr[i];
        size_t n = m->grads.count[i], j = 0;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (; j + 4 <= n; j += 4) {
            s0 += (double)g[j] * g[j];
            s1 += (double)g[j + 1] * g[j + 1];
            s2 += (double)g[j + 2] * g[j + 2];
            s3 += (double)g[j + 3] * g[j + 3];
        }
        for (; j < n; j++) s0 += (double)g[j] * g[j];
        ss += (s0 + s1) + (s2 + s3);
    }
    double norm = sqrt(ss);
    if (grad_norm_out) *grad_norm_out = norm;
    if (!isfinite(norm))
        return PSW_FAIL(err, PSW_ERR_NUMERIC, "adamw: gradient norm is not finite (%g)", norm);
    /* torch.nn.utils.clip_grad_norm_: coefficient max/(norm+1e-6), only when it is below 1. */
    float clip = 1.0f;
    if (opt->max_grad_norm > 0.0f) {
        double c = (double)opt->max_grad_norm / (norm + 1e-6);
        if (c < 1.0) clip = (float)c;
    }
    m->adam_step++;
    double t = (double)m->adam_step;
    float b1 = opt->beta1, b2 = opt->beta2;
    double bc1 = 1.0 - pow((double)b1, t), bc2 = 1.0 - pow((double)b2, t);
    float step_size = (float)((double)opt->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (!m->trainable[i] || !m->params.count[i]) continue;
        float *w = m->params.ptr[i];
        const float *g = m->grads.ptr[i];
        size_t off = (size_t)(w - m->params.base);
        float *mm = m->adam_m + off, *vv = m->adam_v + off;
        bool decay = psw_param_group_of((psw_param_id)i) != PSW_GROUP_NORM;
        float wd = decay ? opt->lr * opt->weight_decay : 0.0f;
        for (size_t j = 0, n = m->params.count[i]; j < n; j++) {
            float gj = g[j] * clip;
            mm[j] = b1 * mm[j] + (1.0f - b1) * gj;
            vv[j] = b2 * vv[j] + (1.0f - b2) * gj * gj;
            float denom = sqrtf(vv[j]) * inv_sqrt_bc2 + opt->eps;
            w[j] = w[j] * (1.0f - wd) - step_size * mm[j] / denom;
        }
    }
    return PSW_OK;
}

float psw_lr_at(psw_schedule_kind kind, long step, long warmup, long total_steps, float lr_max,
                float lr_min) {
    /* Warmup reaches lr_max at step warmup-1 (llm.c convention: step 0 already trains). */
    if (step < warmup) return lr_max * (float)(step + 1) / (float)warmup;
    if (step >= total_steps || total_steps <= warmup) return lr_min;
    double progress = (double)(step - warmup) / (double)(total_steps - warmup);
    double coeff = kind == PSW_SCHEDULE_COSINE ? 0.5 * (1.0 + cos(3.14159265358979323846 * progress)) : 1.0 - progress;
    return (float)((double)lr_min + coeff * ((double)lr_max - (double)lr_min));
}
