/* model.c: allocation, random init, cloning and trainable groups of psw_model.
 * Forward/backward live in forward.c / backward.c; activations in model_internal.h. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/rng.h"
#include "psw/safetensors.h"

/* Points ptr/bf16 into the arena: the fp32 kinds first, then the bf16 kinds, each in kind
 * order (an all-fp32 arena is the plain kind-order layout). */
static void params_point(psw_params *p) {
    float *at = p->base;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool half = (p->bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u;
        p->ptr[i] = p->count[i] && !half ? at : NULL;
        p->bf16[i] = NULL;
        if (!half) at += p->count[i];
    }
    uint16_t *h = (uint16_t *)at;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool half = (p->bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u;
        if (!half) continue;
        p->bf16[i] = p->count[i] ? h : NULL;
        h += p->count[i];
    }
}

/* Layout for bf16_groups: counts, total and bytes; no allocation. */
static void layout_storage(const psw_model_config *cfg, unsigned bf16_groups, psw_params *p) {
    psw_params_layout(cfg, p);
    p->bf16_groups = bf16_groups & ((1u << PSW_GROUP_COUNT) - 1u);
    size_t bytes = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool half = (p->bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u;
        bytes += p->count[i] * (half ? sizeof(uint16_t) : sizeof(float));
    }
    p->bytes = bytes;
}

size_t psw_params_bytes(const psw_model_config *cfg, unsigned bf16_groups) {
    psw_params p;
    layout_storage(cfg, bf16_groups, &p);
    return p.bytes;
}

static psw_status params_alloc_storage(const psw_model_config *cfg, unsigned bf16_groups,
                                       psw_params *p, psw_err *err) {
    layout_storage(cfg, bf16_groups, p);
    if (p->total > SIZE_MAX / sizeof(float))
        return PSW_FAIL(err, PSW_ERR_NOMEM, "parameter arena size overflows");
    p->base = psw_try_alloc(p->bytes ? p->bytes : 1);
    if (!p->base)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "cannot allocate %zu bytes for parameters", p->bytes);
    memset(p->base, 0, p->bytes);
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
    layout->bytes = layout->total * sizeof(float);
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
    if (!p->borrowed) free(p->base);
    memset(p, 0, sizeof *p);
}

/* Allocates m->scratch and points m->slot for m->params' bf16 kinds (nothing when all fp32). */
static psw_status alloc_scratch(psw_model *m, psw_err *err) {
    const psw_params *p = &m->params;
    size_t n = psw_params_scratch_floats(&m->cfg, p->bf16_groups);
    m->head_chunk = psw_head_chunk_floats(&m->cfg);
    if (n == 0) return PSW_OK;
    m->scratch = psw_try_alloc(n * sizeof(float));
    if (!m->scratch)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "cannot allocate %zu bytes of bf16 conversion scratch",
                        n * sizeof(float));
    memset(m->scratch, 0, n * sizeof(float));
    psw_param_id head = m->cfg.tie_word_embeddings ? PSW_P_EMBED : PSW_P_LM_HEAD;
    size_t at = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        size_t k = psw_scratch_slot_floats(&m->cfg, (psw_param_id)i, head);
        if (!p->bf16[i] || k == 0) continue;
        m->slot[i] = m->scratch + at;
        at += (k + 15) & ~(size_t)15;
    }
    PSW_ASSERT(at <= n);
    return PSW_OK;
}

static void freeze_bf16(psw_model *m) {
    for (int i = 0; i < PSW_P_COUNT; i++)
        m->trainable[i] = !((m->params.bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u);
}

psw_status psw_model_init_storage(psw_model *m, const psw_model_config *cfg, unsigned bf16_groups,
                                  psw_err *err) {
    memset(m, 0, sizeof *m);
    psw_status st = psw_config_validate(cfg, "model config", err);
    if (st != PSW_OK) return st;
    m->cfg = *cfg;
    st = params_alloc_storage(cfg, bf16_groups, &m->params, err);
    if (st == PSW_OK) st = alloc_scratch(m, err);
    if (st != PSW_OK) {
        psw_model_free(m);
        return st;
    }
    freeze_bf16(m);
    return PSW_OK;
}

psw_status psw_model_init(psw_model *m, const psw_model_config *cfg, psw_err *err) {
    return psw_model_init_storage(m, cfg, 0u, err);
}

psw_status psw_model_init_borrowed_storage(psw_model *m, const psw_model_config *cfg,
                                           unsigned bf16_groups, const void *base, size_t bytes,
                                           psw_err *err) {
    memset(m, 0, sizeof *m);
    psw_status st = psw_config_validate(cfg, "model config", err);
    if (st != PSW_OK) return st;
    if (!base || (uintptr_t)base % 64 != 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_init_borrowed: the parameter arena must be non-NULL and "
                        "64-byte aligned (got %p)",
                        base);
    layout_storage(cfg, bf16_groups, &m->params);
    if (bytes != m->params.bytes)
        return PSW_FAIL(err, PSW_ERR_SHAPE,
                        "psw_model_init_borrowed: the arena holds %zu bytes but the config's "
                        "parameters take %zu",
                        bytes, m->params.bytes);
    m->cfg = *cfg;
    /* The model never writes through this pointer (see model.h); the cast only lets owned and
     * borrowed arenas share one struct. */
    m->params.base = (float *)(uintptr_t)base;
    m->params.borrowed = true;
    params_point(&m->params);
    st = alloc_scratch(m, err);
    if (st != PSW_OK) {
        psw_model_free(m);
        return st;
    }
    freeze_bf16(m);
    return PSW_OK;
}

psw_status psw_model_init_borrowed(psw_model *m, const psw_model_config *cfg, const float *base,
                                   size_t n_floats, psw_err *err) {
    psw_params lay;
    psw_params_layout(cfg, &lay);
    size_t bytes = n_floats <= SIZE_MAX / sizeof(float) ? n_floats * sizeof(float) : SIZE_MAX;
    psw_status st = psw_model_init_borrowed_storage(m, cfg, 0u, base, bytes, err);
    if (st == PSW_ERR_SHAPE)
        return PSW_FAIL(err, PSW_ERR_SHAPE,
                        "psw_model_init_borrowed: the arena holds %zu floats but the config's "
                        "parameters take %zu",
                        n_floats, lay.total);
    return st;
}

void psw_model_init_random(psw_model *m, uint64_t seed, float std) {
    PSW_ASSERT(!m->params.borrowed);
    psw_rng rng;
    psw_rng_seed(&rng, seed);
    for (int i = 0; i < PSW_P_COUNT; i++) {
        float *w = m->params.ptr[i];
        uint16_t *h = m->params.bf16[i];
        size_t n = m->params.count[i];
        bool is_norm = psw_param_group_of((psw_param_id)i) == PSW_GROUP_NORM;
        for (size_t j = 0; j < n; j++) {
            float v = is_norm ? 1.0f : std * psw_rng_normal(&rng);
            if (w) w[j] = v;
            else if (h) h[j] = psw_f32_to_bf16(v);
        }
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
    free(m->scratch);
    m->scratch = NULL;
    memset(m->slot, 0, sizeof m->slot);
}

psw_status psw_model_convert_storage(const psw_model *src, unsigned bf16_groups, psw_model *dst,
                                     psw_err *err) {
    psw_status st = psw_model_init_storage(dst, &src->cfg, bf16_groups, err);
    if (st != PSW_OK) return st;
    const psw_params *a = &src->params;
    psw_params *b = &dst->params;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        size_t n = a->count[i];
        if (!n) continue;
        if (a->ptr[i] && b->ptr[i]) memcpy(b->ptr[i], a->ptr[i], n * sizeof(float));
        else if (a->bf16[i] && b->bf16[i]) memcpy(b->bf16[i], a->bf16[i], n * sizeof(uint16_t));
        else if (a->bf16[i]) psw_bf16_to_f32_n(b->ptr[i], a->bf16[i], n);
        else psw_f32_to_bf16_n(b->bf16[i], a->ptr[i], n);
    }
    /* init_storage froze the bf16 kinds; the rest keep src's flags. */
    for (int i = 0; i < PSW_P_COUNT; i++) dst->trainable[i] = dst->trainable[i] && src->trainable[i];
    return PSW_OK;
}

psw_status psw_model_clone(const psw_model *src, psw_model *dst, psw_err *err) {
    return psw_model_convert_storage(src, src->params.bf16_groups, dst, err);
}

psw_status psw_model_set_trainable(psw_model *m, unsigned group_mask, psw_err *err) {
    bool want[PSW_P_COUNT], same = true;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        psw_param_group g = psw_param_group_of((psw_param_id)i);
        want[i] = (group_mask >> g) & 1u;
        if (want[i] && ((m->params.bf16_groups >> g) & 1u) && m->params.count[i])
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "psw_model_set_trainable: %s (group %s) is stored as bf16 and cannot "
                            "train; convert it to fp32 first (psw_model_convert_storage)",
                            psw_param_name((psw_param_id)i), psw_param_group_name(g));
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
