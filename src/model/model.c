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

void psw_model_set_trainable(psw_model *m, unsigned group_mask) {
    for (int i = 0; i < PSW_P_COUNT; i++)
        m->trainable[i] = (group_mask >> psw_param_group_of((psw_param_id)i)) & 1u;
}
