/* optim.c: AdamW (PyTorch semantics) with global gradient-norm clipping, and the learning-rate
 * schedule. Only trainable kinds are touched. */
#include <math.h>

#include "model/model_internal.h"
#include "psw/kernels.h"

/* Each kind is cut into SEGS contiguous segments at fixed boundaries (count * s / SEGS), whatever
 * the thread count; the pool runs one task per (kind, segment), and the norm adds the segment
 * sums in (kind, segment) order, so the result is the same on any number of threads. */
#define SEGS 64

typedef struct adam_job {
    psw_model *m;
    const psw_adamw *opt;
    double ss[PSW_P_COUNT][SEGS]; /* per-segment sums of squares */
    psw_adamw_coeffs coeffs;      /* all but decay, which depends on the kind */
} adam_job;

static void seg_range(size_t n, int s, size_t *lo, size_t *hi) {
    *lo = n * (size_t)s / SEGS;
    *hi = n * (size_t)(s + 1) / SEGS;
}

static void norm_task(void *ctx, int task, int thread) {
    adam_job *j = ctx;
    int i = task / SEGS, s = task % SEGS;
    j->ss[i][s] = 0.0;
    if (!j->m->trainable[i] || !j->m->grads.count[i]) return;
    size_t lo, hi;
    seg_range(j->m->grads.count[i], s, &lo, &hi);
    j->ss[i][s] = psw_sum_squares(j->m->grads.ptr[i] + lo, hi - lo);
    (void)thread;
}

static void update_task(void *ctx, int task, int thread) {
    adam_job *j = ctx;
    psw_model *m = j->m;
    int i = task / SEGS, s = task % SEGS;
    if (!m->trainable[i] || !m->grads.count[i]) return;
    const float *g = m->grads.ptr[i];
    size_t off = (size_t)(g - m->grads.base); /* the moments share the gradients' layout */
    bool decay = psw_param_group_of((psw_param_id)i) != PSW_GROUP_NORM;
    psw_adamw_coeffs c = j->coeffs;
    c.decay = decay ? j->opt->lr * j->opt->weight_decay : 0.0f;
    size_t lo, hi;
    seg_range(m->grads.count[i], s, &lo, &hi);
    psw_adamw_update(m->params.ptr[i] + lo, g + lo, m->adam_m + off + lo, m->adam_v + off + lo,
                     hi - lo, &c);
    (void)thread;
}

psw_status psw_model_adamw_step(psw_model *m, const psw_adamw *opt, double *grad_norm_out,
                                psw_err *err) {
    if (!m->grads.base || !m->adam_m || !m->adam_v)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "adamw: no gradients; call psw_model_reserve(training=true) first");
    adam_job job = {.m = m, .opt = opt}, *j = &job; /* a few KB: on the stack */
    /* Global norm over every trainable gradient, in double, in a fixed order (kind, segment). */
    psw_pool_run(PSW_P_COUNT * SEGS, norm_task, j);
    double ss = 0.0;
    for (int i = 0; i < PSW_P_COUNT; i++)
        for (int s = 0; s < SEGS; s++) ss += j->ss[i][s];
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
    j->coeffs = (psw_adamw_coeffs){.clip = clip, .b1 = b1, .b2 = b2,
                                   .step_size = (float)((double)opt->lr / bc1),
                                   .inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)), .eps = opt->eps};
    psw_pool_run(PSW_P_COUNT * SEGS, update_task, j);
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
