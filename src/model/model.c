/* model.c: allocation, random init, cloning and trainable groups of psw_model.
 * Forward/backward live in forward.c / backward.c; activations in model_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/rng.h"

static void params_point(psw_params *p) {
    float *at = p->base;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        p->ptr[i] = p->count[i] ? at : NULL;
        at += p->count[i];
    }
}

psw_status psw_params_alloc(const psw_model_config *cfg, psw_params *p, psw_err *err) {
    psw_params_layout(cfg, p);
    size_t bytes;
    if (!psw_size_mul(p->total, sizeof(float), &bytes))
        return PSW_FAIL(err, PSW_ERR_NOMEM, "parameter arena size overflows");
    p->base = psw_try_alloc(bytes);
    if (!p->base)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "cannot allocate %zu bytes for parameters", bytes);
    memset(p->base, 0, bytes);
    params_point(p);
    return PSW_OK;
}

void psw_params_layout_trainable(const psw_model_config *cfg, const bool *trainable,
                                 psw_params *layout) {
    psw_params_layout(cfg, layout);
    layout->total = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (!trainable[i]) layout->count[i] = 0;
        layout->total += layout->count[i];
    }
}

/* A zeroed float arena of n floats (at least one byte, so "nothing trains" still allocates). */
static float *zeroed_floats(size_t n, size_t *bytes_out) {
    size_t bytes;
    if (!psw_size_mul(n, sizeof(float), &bytes)) return NULL;
    *bytes_out = bytes;
    float *f = psw_try_alloc(bytes ? bytes : 1);
    if (f) memset(f, 0, bytes);
    return f;
}

psw_status psw_model_alloc_train_state(psw_model *m, psw_err *err) {
    psw_params g;
    psw_params_layout_trainable(&m->cfg, m->trainable, &g);
    size_t bytes = 0;
    g.base = zeroed_floats(g.total, &bytes);
    float *am = g.base ? zeroed_floats(g.total, &bytes) : NULL;
    float *av = am ? zeroed_floats(g.total, &bytes) : NULL;
    if (!av) {
        free(g.base), free(am);
        return PSW_FAIL(err, PSW_ERR_NOMEM,
                        "cannot allocate 3 x %zu floats of gradients and AdamW state", g.total);
    }
    params_point(&g);
    psw_params_free(&m->grads);
    free(m->adam_m);
    free(m->adam_v);
    m->grads = g;
    m->adam_m = am;
    m->adam_v = av;
    m->adam_step = 0;
    return PSW_OK;
}

void psw_params_free(psw_params *p) {
    free(p->base);
    memset(p, 0, sizeof *p);
}

psw_status psw_model_init(psw_model *m, const psw_model_config *cfg, psw_err *err) {
    memset(m, 0, sizeof *m);
    psw_status st = psw_config_validate(cfg, "model config", err);
    if (st != PSW_OK) return st;
    m->cfg = *cfg;
    st = psw_params_alloc(cfg, &m->params, err);
    if (st != PSW_OK) return st;
    for (int i = 0; i < PSW_P_COUNT; i++) m->trainable[i] = true;
    return PSW_OK;
}

void psw_model_init_random(psw_model *m, uint64_t seed, float std) {
    psw_rng rng;
    psw_rng_seed(&rng, seed);
    for (int i = 0; i < PSW_P_COUNT; i++) {
        float *w = m->params.ptr[i];
        size_t n = m->params.count[i];
        bool is_norm = psw_param_group_of((psw_param_id)i) == PSW_GROUP_NORM;
        for (size_t j = 0; j < n; j++) w[j] = is_norm ? 1.0f : std * psw_rng_normal(&rng);
    }
}

void psw_model_free(psw_model *m) {
    psw_params_free(&m->params);
    psw_params_free(&m->grads);
    free(m->adam_m);
    free(m->adam_v);
    m->adam_m = m->adam_v = NULL;
    psw_acts_free(m->acts);
    m->acts = NULL;
}

psw_status psw_model_clone(const psw_model *src, psw_model *dst, psw_err *err) {
    psw_status st = psw_model_init(dst, &src->cfg, err);
    if (st != PSW_OK) return st;
    memcpy(dst->params.base, src->params.base, src->params.total * sizeof(float));
    memcpy(dst->trainable, src->trainable, sizeof dst->trainable);
    return PSW_OK;
}

psw_status psw_model_set_trainable(psw_model *m, unsigned group_mask, psw_err *err) {
    bool want[PSW_P_COUNT], same = true;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        want[i] = (group_mask >> psw_param_group_of((psw_param_id)i)) & 1u;
        same = same && want[i] == m->trainable[i];
    }
    if (same) return PSW_OK;
    if (!m->grads.base) { /* not reserved for training yet: reserve sizes for this set */
        memcpy(m->trainable, want, sizeof want);
        return PSW_OK;
    }
    if (m->adam_step > 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_set_trainable: %lld AdamW steps already taken; changing the "
                        "trainable groups would discard optimizer state",
                        m->adam_step);
    bool old[PSW_P_COUNT];
    memcpy(old, m->trainable, sizeof old);
    memcpy(m->trainable, want, sizeof want);
    psw_status st = psw_model_alloc_train_state(m, err);
    if (st != PSW_OK) memcpy(m->trainable, old, sizeof old);
    return st;
}
