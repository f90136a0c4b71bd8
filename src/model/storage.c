/* storage.c: bf16 storage of frozen parameter kinds (issue #8): sizes of the arena and of the
 * fp32 conversion scratch, the per-layer weight accessor the forward and backward passes use, the
 * embedding lookup and the LM head in chunks. Compute is fp32 throughout: a bf16 value widens to
 * fp32 exactly, so a bf16-stored model computes the same numbers as an fp32 model holding the
 * same (bf16-representable) values. */
#include <cblas.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/kernels.h"
#include "psw/safetensors.h"

/* Conversion tasks of this many values each (boundaries independent of the thread count). */
#define CONV_CHUNK ((size_t)1 << 16)

static bool is_per_layer(psw_param_id id) {
    return id != PSW_P_EMBED && id != PSW_P_FINAL_NORM && id != PSW_P_LM_HEAD;
}

static void widen(float *out, const uint16_t *in, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[i] << 16;
        memcpy(&out[i], &u, sizeof u);
    }
}

typedef struct widen_job {
    float *out;
    const uint16_t *in;
    size_t n;
} widen_job;

static void widen_task(void *ctx, int task, int thread) {
    const widen_job *j = ctx;
    size_t lo = (size_t)task * CONV_CHUNK, hi = lo + CONV_CHUNK < j->n ? lo + CONV_CHUNK : j->n;
    widen(j->out + lo, j->in + lo, hi - lo);
    (void)thread;
}

void psw_bf16_to_f32_n(float *out, const uint16_t *in, size_t n) {
    if (n <= CONV_CHUNK) {
        widen(out, in, n);
        return;
    }
    widen_job j = {out, in, n};
    psw_pool_run((int)((n + CONV_CHUNK - 1) / CONV_CHUNK), widen_task, &j);
}

void psw_f32_to_bf16_n(uint16_t *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = psw_f32_to_bf16(in[i]);
}

size_t psw_head_chunk_floats(const psw_model_config *cfg) {
    psw_params lay;
    psw_params_layout(cfg, &lay);
    size_t L = (size_t)cfg->num_layers, V = (size_t)cfg->vocab_size, C = (size_t)cfg->hidden_size;
    size_t n = 64 * (V > C ? V : C);
    for (int i = 0; i < PSW_P_COUNT; i++)
        if (is_per_layer((psw_param_id)i) && lay.count[i] / L > n) n = lay.count[i] / L;
    return n < V * C ? n : V * C;
}

size_t psw_scratch_slot_floats(const psw_model_config *cfg, psw_param_id id, psw_param_id head) {
    psw_params lay;
    psw_params_layout(cfg, &lay);
    if (lay.count[id] == 0) return 0;
    if (id == head) return psw_head_chunk_floats(cfg);
    if (id == PSW_P_EMBED) return 0; /* the lookup converts rows straight into the residual */
    if (id == PSW_P_FINAL_NORM) return lay.count[id];
    return lay.count[id] / (size_t)cfg->num_layers;
}

size_t psw_params_scratch_floats(const psw_model_config *cfg, unsigned bf16_groups) {
    psw_param_id head = cfg->tie_word_embeddings ? PSW_P_EMBED : PSW_P_LM_HEAD;
    size_t n = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (!((bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u)) continue;
        n += (psw_scratch_slot_floats(cfg, (psw_param_id)i, head) + 15) & ~(size_t)15;
    }
    return n;
}

void psw_model_memory_plan_storage(const psw_model_config *cfg, int B, int T, int P,
                                   bool training, unsigned trainable_groups, unsigned bf16_groups,
                                   psw_model_memory *out) {
    psw_model_memory_plan_groups(cfg, B, T, P, training, trainable_groups & ~bf16_groups, out);
    out->params = psw_params_bytes(cfg, bf16_groups) +
                  psw_params_scratch_floats(cfg, bf16_groups) * sizeof(float);
}

void psw_params_read(const psw_params *p, psw_param_id id, size_t off, size_t n, float *out) {
    PSW_ASSERT(off + n <= p->count[id]);
    if (n == 0) return;
    if (p->ptr[id]) memcpy(out, p->ptr[id] + off, n * sizeof(float));
    else psw_bf16_to_f32_n(out, p->bf16[id] + off, n);
}

const float *psw_model_weight(psw_model *m, psw_param_id id, int l) {
    PSW_ASSERT(id != PSW_P_EMBED && id != PSW_P_LM_HEAD);
    const psw_params *p = &m->params;
    if (p->ptr[id]) return id == PSW_P_FINAL_NORM ? p->ptr[id] : psw_layer_param(p, &m->cfg, id, l);
    if (!p->bf16[id]) return NULL;
    size_t n = id == PSW_P_FINAL_NORM ? p->count[id] : p->count[id] / (size_t)m->cfg.num_layers;
    size_t off = id == PSW_P_FINAL_NORM ? 0 : (size_t)l * n;
    psw_bf16_to_f32_n(m->slot[id], p->bf16[id] + off, n);
    return m->slot[id];
}

void psw_embed_lookup(const psw_model *m, float *out, const psw_batch *batch) {
    const psw_params *p = &m->params;
    int C = m->cfg.hidden_size, B = batch->B, T = batch->T;
    if (p->ptr[PSW_P_EMBED]) {
        psw_embedding_forward(out, batch->tokens, batch->lengths, p->ptr[PSW_P_EMBED], B, T, C);
        return;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * C;
            if (t < batch->lengths[b])
                widen(o, p->bf16[PSW_P_EMBED] + (size_t)batch->tokens[(size_t)b * T + t] * C,
                      (size_t)C);
            else
                memset(o, 0, sizeof(float) * (size_t)C);
        }
}

static psw_param_id head_kind(const psw_model *m) {
    return m->cfg.tie_word_embeddings ? PSW_P_EMBED : PSW_P_LM_HEAD;
}

/* Rows of the head per conversion chunk / columns per backward chunk. */
static size_t chunk_rows(const psw_model *m) {
    size_t r = m->head_chunk / (size_t)m->cfg.hidden_size;
    return r ? r : 1;
}
static size_t chunk_cols(const psw_model *m) {
    size_t c = m->head_chunk / (size_t)m->cfg.vocab_size;
    return c ? c : 1;
}

void psw_head_forward(psw_model *m, float *logits, const float *x, const int64_t *pos, int P,
                      int T, bool per_seq) {
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size;
    psw_param_id hk = head_kind(m);
    const psw_params *p = &m->params;
    if (p->ptr[hk]) {
        psw_rows_matmul(logits, x, p->ptr[hk], pos, P, T, per_seq, C, V);
        return;
    }
    /* bf16: chunk outside, runs inside, so each chunk is converted once. */
    size_t rows = chunk_rows(m);
    float *w = m->slot[hk];
    for (size_t v0 = 0; v0 < (size_t)V; v0 += rows) {
        size_t n = (size_t)V - v0 < rows ? (size_t)V - v0 : rows;
        psw_bf16_to_f32_n(w, p->bf16[hk] + v0 * (size_t)C, n * (size_t)C);
        if (per_seq)
            psw_matmul_forward_runs(logits + v0, V, x, w, pos, P, T, C, (int)n);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, P, (int)n, C, 1.0f, x, C, w, C,
                        0.0f, logits + v0, V);
    }
}

void psw_head_backward(psw_model *m, float *dx, float *dhead, const float *dlogits,
                       const float *x, int P) {
    int C = m->cfg.hidden_size, V = m->cfg.vocab_size;
    psw_param_id hk = head_kind(m);
    const psw_params *p = &m->params;
    if (p->ptr[hk]) {
        psw_matmul_backward(dx, dhead, dlogits, x, p->ptr[hk], P, C, V);
        return;
    }
    PSW_ASSERT(!dhead); /* bf16 kinds are frozen */
    if (!dx) return;
    size_t cols = chunk_cols(m);
    float *w = m->slot[hk];
    const uint16_t *h = p->bf16[hk];
    for (size_t c0 = 0; c0 < (size_t)C; c0 += cols) {
        size_t n = (size_t)C - c0 < cols ? (size_t)C - c0 : cols;
        for (size_t v = 0; v < (size_t)V; v++) widen(w + v * n, h + v * (size_t)C + c0, n);
        /* dx[:, c0:c0+n] += dlogits (P, V) @ w (V, n): every element one sum over all of V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, P, (int)n, V, 1.0f, dlogits, V, w,
                    (int)n, 1.0f, dx + c0, C);
    }
}
