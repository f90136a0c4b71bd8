/* forward.c: the activation arena (layout, reserve, memory plan) and the forward pass of both
 * architectures. Backward is in backward.c, the optimizer in optim.c. */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/kernels.h"

/* Arena slices are rounded to 16 floats so every tensor starts 64-byte aligned. */
static size_t take(size_t *off, size_t n) {
    size_t at = *off;
    *off += (n + 15) & ~(size_t)15;
    return at;
}

/* Offsets (in floats) of every activation tensor; turned into pointers once the arena exists.
 * Layer tensors are stored once per layer when training (backward reads them) and once in total
 * for inference (every layer overwrites the same buffers). */
typedef struct layer_off {
    size_t ln1, ln1_rstd, qraw, kraw, q_rstd, k_rstd, q, k, v, att, atty, attn_o, attn_rstd, mid,
        ln2, ln2_rstd, gate, up, act, mlp_o, mlp_rstd;
} layer_off;

typedef struct acts_off {
    size_t rope_cos, rope_sin, resid0, xg, lnf, lnf_rstd, row_loss, logits;
    size_t dres, dtmp, dq, dk, dv, dqraw, dkraw, datty, dgate, dup, dact, datt, dxg, dlnf;
    size_t layer0, layer_stride, n_resid, total, logits_floats;
    layer_off lo; /* offsets within one layer block */
} acts_off;

static void acts_plan(const psw_model_config *cfg, int B, int T, int P, bool training,
                      acts_off *o) {
    memset(o, 0, sizeof *o);
    size_t BT = (size_t)B * T, C = (size_t)cfg->hidden_size, H = (size_t)cfg->intermediate_size;
    size_t QD = (size_t)cfg->num_heads * cfg->head_dim, KD = (size_t)cfg->num_kv_heads * cfg->head_dim;
    size_t V = (size_t)cfg->vocab_size, L = (size_t)cfg->num_layers;
    size_t att = (size_t)B * cfg->num_heads * T * T;
    bool olmo2 = cfg->arch == PSW_ARCH_OLMO2;

    /* one layer block */
    size_t lo = 0;
    layer_off *l = &o->lo;
    if (!olmo2) {
        l->ln1 = take(&lo, BT * C);
        l->ln1_rstd = take(&lo, BT);
        l->ln2 = take(&lo, BT * C);
        l->ln2_rstd = take(&lo, BT);
    } else {
        l->qraw = take(&lo, BT * QD);
        l->kraw = take(&lo, BT * KD);
        l->q_rstd = take(&lo, BT);
        l->k_rstd = take(&lo, BT);
        l->attn_o = take(&lo, BT * C);
        l->attn_rstd = take(&lo, BT);
        l->mlp_o = take(&lo, BT * C);
        l->mlp_rstd = take(&lo, BT);
    }
    l->q = take(&lo, BT * QD);
    l->k = take(&lo, BT * KD);
    l->v = take(&lo, BT * KD);
    l->att = take(&lo, att);
    l->atty = take(&lo, BT * QD);
    l->mid = take(&lo, BT * C);
    l->gate = take(&lo, BT * H);
    l->up = take(&lo, BT * H);
    l->act = take(&lo, BT * H);
    o->layer_stride = lo;

    size_t off = 0;
    o->rope_cos = take(&off, (size_t)T * (cfg->head_dim / 2));
    o->rope_sin = take(&off, (size_t)T * (cfg->head_dim / 2));
    o->n_resid = training ? L + 1 : 2;
    o->resid0 = off;
    for (size_t i = 0; i < o->n_resid; i++) take(&off, BT * C);
    o->layer0 = off;
    off += (training ? L : 1) * o->layer_stride;
    o->xg = take(&off, (size_t)P * C);
    o->lnf = take(&off, (size_t)P * C);
    o->lnf_rstd = take(&off, (size_t)P);
    o->row_loss = take(&off, 2 * (size_t)P); /* P doubles */
    if (training) {
        o->dres = take(&off, BT * C);
        o->dtmp = take(&off, BT * C);
        o->dq = take(&off, BT * QD);
        o->dk = take(&off, BT * KD);
        o->dv = take(&off, BT * KD);
        if (olmo2) {
            o->dqraw = take(&off, BT * QD);
            o->dkraw = take(&off, BT * KD);
        }
        o->datty = take(&off, BT * QD);
        o->dgate = take(&off, BT * H);
        o->dup = take(&off, BT * H);
        o->dact = take(&off, BT * H);
        o->datt = take(&off, (size_t)T * T);
        o->dxg = take(&off, (size_t)P * C);
        o->dlnf = take(&off, (size_t)P * C);
    }
    size_t before = off;
    /* Logits last; backward turns them into dlogits in place. */
    o->logits = take(&off, (size_t)P * V);
    o->logits_floats = off - before;
    o->total = off;
}

void psw_model_memory_plan_groups(const psw_model_config *cfg, int B, int T, int P, bool training,
                                  unsigned trainable_groups, psw_model_memory *out) {
    psw_params lay, glay;
    psw_params_layout(cfg, &lay);
    bool tr[PSW_P_COUNT];
    for (int i = 0; i < PSW_P_COUNT; i++)
        tr[i] = (trainable_groups >> psw_param_group_of((psw_param_id)i)) & 1u;
    psw_params_layout_trainable(cfg, tr, &glay);
    acts_off o;
    acts_plan(cfg, B, T, P, training, &o);
    out->params = lay.total * sizeof(float);
    out->grads = training ? glay.total * sizeof(float) : 0;
    out->optimizer = training ? 2 * glay.total * sizeof(float) : 0;
    out->activations = (o.total - o.logits_floats) * sizeof(float);
    out->logits = o.logits_floats * sizeof(float);
}

void psw_model_memory_plan(const psw_model_config *cfg, int B, int T, int P, bool training,
                           psw_model_memory *out) {
    psw_model_memory_plan_groups(cfg, B, T, P, training, (1u << PSW_GROUP_COUNT) - 1u, out);
}

void psw_acts_free(struct psw_acts *a) {
    if (!a) return;
    free(a->base);
    free(a->resid);
    free(a->layer);
    free(a);
}

psw_status psw_model_reserve(psw_model *m, int max_B, int max_T, int max_P, bool training,
                             psw_err *err) {
    const psw_model_config *cfg = &m->cfg;
    if (max_B < 1 || max_T < 1 || max_P < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_reserve: batch shape B=%d T=%d P=%d must be positive", max_B,
                        max_T, max_P);
    if (max_T > cfg->max_position_embeddings)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_reserve: T=%d exceeds max_position_embeddings=%d", max_T,
                        cfg->max_position_embeddings);
    if (max_P > max_B * max_T)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_reserve: P=%d exceeds B*T=%d positions", max_P, max_B * max_T);
    if (training && m->params.borrowed)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "psw_model_reserve: training=true on borrowed read-only parameters "
                        "(a shared teacher); train a pruned copy or a psw_model_clone instead");
    psw_acts_free(m->acts);
    m->acts = NULL;

    acts_off o;
    acts_plan(cfg, max_B, max_T, max_P, training, &o);
    struct psw_acts *a = psw_xcalloc(1, sizeof *a);
    size_t bytes;
    if (!psw_size_mul(o.total, sizeof(float), &bytes)) {
        free(a);
        return PSW_FAIL(err, PSW_ERR_NOMEM, "activation arena size overflows");
    }
    a->base = psw_try_alloc(bytes);
    if (!a->base) {
        free(a);
        return PSW_FAIL(err, PSW_ERR_NOMEM,
                        "cannot allocate %zu bytes of activations for B=%d T=%d P=%d", bytes,
                        max_B, max_T, max_P);
    }
    memset(a->base, 0, bytes);
    a->max_B = max_B, a->max_T = max_T, a->max_P = max_P, a->training = training;
    a->bytes = bytes;
    float *base = a->base;
    a->rope_cos = base + o.rope_cos;
    a->rope_sin = base + o.rope_sin;
    psw_rope_table(a->rope_cos, a->rope_sin, max_T, cfg->head_dim, (double)cfg->rope_theta);
    int L = cfg->num_layers;
    a->resid = psw_xmalloc(sizeof(float *) * (size_t)(L + 1));
    size_t BTC = (size_t)max_B * max_T * cfg->hidden_size;
    for (int i = 0; i <= L; i++)
        a->resid[i] = base + o.resid0 + (training ? (size_t)i : (size_t)(i % 2)) * ((BTC + 15) & ~(size_t)15);
    a->layer = psw_xcalloc((size_t)L, sizeof *a->layer);
    bool olmo2 = cfg->arch == PSW_ARCH_OLMO2;
    for (int i = 0; i < L; i++) {
        float *lb = base + o.layer0 + (training ? (size_t)i : 0) * o.layer_stride;
        psw_layer_acts *la = &a->layer[i];
        const layer_off *lo = &o.lo;
        if (!olmo2) {
            la->ln1 = lb + lo->ln1, la->ln1_rstd = lb + lo->ln1_rstd;
            la->ln2 = lb + lo->ln2, la->ln2_rstd = lb + lo->ln2_rstd;
        } else {
            la->qraw = lb + lo->qraw, la->kraw = lb + lo->kraw;
            la->q_rstd = lb + lo->q_rstd, la->k_rstd = lb + lo->k_rstd;
            la->attn_o = lb + lo->attn_o, la->attn_rstd = lb + lo->attn_rstd;
            la->mlp_o = lb + lo->mlp_o, la->mlp_rstd = lb + lo->mlp_rstd;
        }
        la->q = lb + lo->q, la->k = lb + lo->k, la->v = lb + lo->v;
        la->att = lb + lo->att, la->atty = lb + lo->atty, la->mid = lb + lo->mid;
        la->gate = lb + lo->gate, la->up = lb + lo->up, la->act = lb + lo->act;
    }
    a->xg = base + o.xg, a->lnf = base + o.lnf, a->lnf_rstd = base + o.lnf_rstd;
    a->row_loss = (double *)(void *)(base + o.row_loss);
    a->logits = base + o.logits;
    if (training) {
        a->dres = base + o.dres, a->dtmp = base + o.dtmp;
        a->dq = base + o.dq, a->dk = base + o.dk, a->dv = base + o.dv;
        a->dqraw = olmo2 ? base + o.dqraw : NULL, a->dkraw = olmo2 ? base + o.dkraw : NULL;
        a->datty = base + o.datty;
        a->dgate = base + o.dgate, a->dup = base + o.dup, a->dact = base + o.dact;
        a->datt = base + o.datt, a->dxg = base + o.dxg, a->dlnf = base + o.dlnf;
    }
    m->acts = a;

    /* Gradients and AdamW state for the current trainable set; kept across re-reservations
     * (optimizer state survives a new batch shape). */
    if (training && !m->grads.base) return psw_model_alloc_train_state(m, err);
    return PSW_OK;
}

float *psw_layer_param(const psw_params *p, const psw_model_config *cfg, psw_param_id id, int l) {
    if (!p->ptr[id]) return NULL;
    return p->ptr[id] + (size_t)l * (p->count[id] / (size_t)cfg->num_layers);
}

psw_status psw_check_batch(const psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                           bool training, psw_err *err) {
    const struct psw_acts *a = m->acts;
    if (!a)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "model: call psw_model_reserve before forward");
    if (training && !a->training)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "model: activations were reserved for inference; reserve with training=true");
    if (batch->B < 1 || batch->T < 1 || batch->B > a->max_B || batch->T > a->max_T)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "batch: shape B=%d T=%d outside the reserved B<=%d T<=%d", batch->B,
                        batch->T, a->max_B, a->max_T);
    if (P < 1 || P > a->max_P)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "batch: P=%d positions outside 1..%d reserved",
                        P, a->max_P);
    int V = m->cfg.vocab_size;
    for (int b = 0; b < batch->B; b++) {
        int len = batch->lengths[b];
        if (len < 1 || len > batch->T)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "batch: lengths[%d]=%d outside 1..%d", b,
                            len, batch->T);
        for (int t = 0; t < len; t++) {
            int32_t tok = batch->tokens[(size_t)b * batch->T + t];
            if (tok < 0 || tok >= V)
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "batch: token %d at [%d, %d] outside vocabulary 0..%d", (int)tok,
                                b, t, V - 1);
        }
    }
    for (int p = 0; p < P; p++) {
        int64_t q = pos[p];
        int64_t b = q / batch->T, t = q % batch->T;
        if (q < 0 || b >= batch->B || t >= batch->lengths[b])
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "batch: position pos[%d]=%lld is not inside a sequence (B=%d T=%d)", p,
                            (long long)q, batch->B, batch->T);
    }
    return PSW_OK;
}

/* out (BT, out_dim) = in (BT, in_dim) @ w^T. With per_seq (inference forwards), one call per
 * sequence on its lengths[b] real rows, the very sgemm a forward of that sequence alone makes
 * (psw_matmul_forward_seqs: OpenBLAS's result for a row depends on how many rows share the call,
 * so one BT-row call would make a sequence's activations depend on its batch mates and on the
 * padded length). Padding rows are set to zero, which every later op keeps zero (and no real row
 * reads them). Training keeps the one big call: it is faster and needs no batch invariance. */
static void seq_matmul(float *out, const float *in, const float *w, const psw_batch *batch,
                       bool per_seq, int in_dim, int out_dim) {
    if (per_seq)
        psw_matmul_forward_seqs(out, in, w, batch->lengths, batch->B, batch->T, in_dim, out_dim);
    else
        psw_matmul_forward(out, in, w, batch->B * batch->T, in_dim, out_dim);
}

/* The rows a layer's row-wise work runs on: every row of the batch (pos NULL; linear layers via
 * seq_matmul), or the P gathered rows at pos (psw_rows_matmul). */
typedef struct layer_rows {
    const psw_batch *batch;
    const int64_t *pos;
    int P;
    bool per_seq;
} layer_rows;

static void rows_linear(const layer_rows *r, float *out, const float *in, const float *w,
                        int in_dim, int out_dim) {
    if (r->pos)
        psw_rows_matmul(out, in, w, r->pos, r->P, r->batch->T, r->per_seq, in_dim, out_dim);
    else
        seq_matmul(out, in, w, r->batch, r->per_seq, in_dim, out_dim);
}

/* Layer l after attention, on the rows r (the first N rows of la's buffers): output
 * projection of la->atty, residual from res, MLP; writes the layer output to out. out may be res:
 * res is read before out is written. */
static void attn_out_mlp(psw_model *m, int l, psw_layer_acts *la, const layer_rows *r,
                         const float *res, float *out) {
    const psw_model_config *cfg = &m->cfg;
    int N = r->pos ? r->P : r->batch->B * r->batch->T;
    int C = cfg->hidden_size, H = cfg->intermediate_size, QD = cfg->num_heads * cfg->head_dim;
    float eps = cfg->rms_norm_eps;
    size_t NC = (size_t)N * C;
#define W(id) psw_model_weight(m, (id), l) /* fp32 slice, or bf16 converted to scratch */
#define LINEAR(o, i, id, in_dim, out_dim) rows_linear(r, (o), (i), W(id), (in_dim), (out_dim))
    if (cfg->arch == PSW_ARCH_LLAMA) {
        LINEAR(la->mid, la->atty, PSW_P_O, QD, C);
        psw_add_inplace(la->mid, res, NC);
        psw_rmsnorm_forward(la->ln2, la->ln2_rstd, la->mid, W(PSW_P_MLP_NORM), N, C, eps);
        LINEAR(la->gate, la->ln2, PSW_P_GATE, C, H);
        LINEAR(la->up, la->ln2, PSW_P_UP, C, H);
        psw_swiglu_forward(la->act, la->gate, la->up, (size_t)N * H);
        LINEAR(out, la->act, PSW_P_DOWN, H, C);
    } else {
        LINEAR(la->attn_o, la->atty, PSW_P_O, QD, C);
        psw_rmsnorm_forward(la->mid, la->attn_rstd, la->attn_o, W(PSW_P_ATTN_NORM), N, C, eps);
        psw_add_inplace(la->mid, res, NC);
        LINEAR(la->gate, la->mid, PSW_P_GATE, C, H);
        LINEAR(la->up, la->mid, PSW_P_UP, C, H);
        psw_swiglu_forward(la->act, la->gate, la->up, (size_t)N * H);
        LINEAR(la->mlp_o, la->act, PSW_P_DOWN, H, C);
        psw_rmsnorm_forward(out, la->mlp_rstd, la->mlp_o, W(PSW_P_MLP_NORM), N, C, eps);
    }
    psw_add_inplace(out, la->mid, NC);
#undef LINEAR
#undef W
}

/* Layer l of the batch: input rows x, output rows out, activations in la (the arena's, or
 * seq_view's at one sequence's rows). */
static void layer_forward(psw_model *m, int l, const psw_batch *batch, bool per_seq,
                          psw_layer_acts *la, const float *x, float *out) {
    const psw_model_config *cfg = &m->cfg;
    const struct psw_acts *a = m->acts;
    int B = batch->B, T = batch->T, BT = B * T;
    int C = cfg->hidden_size, NH = cfg->num_heads, NKV = cfg->num_kv_heads, HD = cfg->head_dim;
    int QD = NH * HD, KD = NKV * HD;
    float eps = cfg->rms_norm_eps;
#define W(id) psw_model_weight(m, (id), l) /* fp32 slice, or bf16 converted to scratch */
#define MATMUL(o, i, id, in_dim, out_dim)                                                          \
    seq_matmul((o), (i), W(id), batch, per_seq, (in_dim), (out_dim))
    /* Everything else is per row (norms, RoPE at position r % T, SwiGLU, residual adds) or, in
     * attention, per (sequence, head) on its real length only, so no op below mixes rows of
     * different sequences or depends on T. */
    if (cfg->arch == PSW_ARCH_LLAMA) {
        psw_rmsnorm_forward(la->ln1, la->ln1_rstd, x, W(PSW_P_ATTN_NORM), BT, C, eps);
        MATMUL(la->q, la->ln1, PSW_P_Q, C, QD);
        MATMUL(la->k, la->ln1, PSW_P_K, C, KD);
        MATMUL(la->v, la->ln1, PSW_P_V, C, KD);
    } else {
        MATMUL(la->qraw, x, PSW_P_Q, C, QD);
        MATMUL(la->kraw, x, PSW_P_K, C, KD);
        MATMUL(la->v, x, PSW_P_V, C, KD);
        /* OLMo2: q_norm / k_norm over the full projected width, before heads and RoPE. */
        psw_rmsnorm_forward(la->q, la->q_rstd, la->qraw, W(PSW_P_Q_NORM), BT, QD, eps);
        psw_rmsnorm_forward(la->k, la->k_rstd, la->kraw, W(PSW_P_K_NORM), BT, KD, eps);
    }
    psw_rope_forward(la->q, a->rope_cos, a->rope_sin, B, T, NH, HD);
    psw_rope_forward(la->k, a->rope_cos, a->rope_sin, B, T, NKV, HD);
    /* One task per (sequence, head) on that sequence's real length: the same GEMMs as its solo
     * forward, so no per_seq variant is needed. */
    psw_attention_forward(la->atty, la->att, la->q, la->k, la->v, batch->lengths, B, T, NH, NKV,
                          HD);
    attn_out_mlp(m, l, la, &(layer_rows){.batch = batch, .per_seq = per_seq}, x, out);
#undef MATMUL
#undef W
}

void psw_rows_matmul(float *out, const float *in, const float *w, const int64_t *pos, int P,
                     int T, bool per_seq, int in_dim, int out_dim) {
    if (per_seq)
        psw_matmul_forward_runs(out, out_dim, in, w, pos, P, T, in_dim, out_dim);
    else
        psw_matmul_forward(out, in, w, P, in_dim, out_dim);
}

void psw_gather_rows(float *dst, const float *src, const int64_t *pos, int P, int C) {
    for (int p = 0; p < P; p++)
        memcpy(dst + (size_t)p * C, src + (size_t)pos[p] * C, sizeof(float) * (size_t)C);
}

/* The last layer when only the rows at pos are read afterwards (inference forwards, and training
 * losses at answer rows, whose backward is last_layer_backward_at): keys and values for every
 * row, since the queries attend to them, and everything else (queries, attention, output
 * projection, MLP) on the P gathered rows only. Writes the layer's output rows to a->xg (P, C).
 * The first P rows of the layer buffers hold the gathered rows; what backward reads stays there. */
static void last_layer_at(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                          bool per_seq) {
    const psw_model_config *cfg = &m->cfg;
    struct psw_acts *a = m->acts;
    int l = cfg->num_layers - 1;
    psw_layer_acts *la = &a->layer[l];
    int B = batch->B, T = batch->T, BT = B * T;
    int C = cfg->hidden_size, NH = cfg->num_heads, NKV = cfg->num_kv_heads, HD = cfg->head_dim;
    int QD = NH * HD, KD = NKV * HD;
    float eps = cfg->rms_norm_eps;
    const float *x = a->resid[l];
    float *xg = a->xg; /* the residual input at pos, then the layer's output */
#define W(id) psw_model_weight(m, (id), l)
#define ROWS(o, i, id, in_dim, out_dim)                                                            \
    psw_rows_matmul((o), (i), W(id), pos, P, T, per_seq, (in_dim), (out_dim))
    psw_gather_rows(xg, x, pos, P, C);
    if (cfg->arch == PSW_ARCH_LLAMA) {
        psw_rmsnorm_forward(la->ln1, la->ln1_rstd, x, W(PSW_P_ATTN_NORM), BT, C, eps);
        seq_matmul(la->k, la->ln1, W(PSW_P_K), batch, per_seq, C, KD);
        seq_matmul(la->v, la->ln1, W(PSW_P_V), batch, per_seq, C, KD);
        psw_gather_rows(la->ln2, la->ln1, pos, P, C);
        ROWS(la->q, la->ln2, PSW_P_Q, C, QD);
    } else {
        seq_matmul(la->kraw, x, W(PSW_P_K), batch, per_seq, C, KD);
        seq_matmul(la->v, x, W(PSW_P_V), batch, per_seq, C, KD);
        psw_rmsnorm_forward(la->k, la->k_rstd, la->kraw, W(PSW_P_K_NORM), BT, KD, eps);
        ROWS(la->qraw, xg, PSW_P_Q, C, QD);
        psw_rmsnorm_forward(la->q, la->q_rstd, la->qraw, W(PSW_P_Q_NORM), P, QD, eps);
    }
    psw_rope_forward_at(la->q, a->rope_cos, a->rope_sin, pos, P, T, NH, HD);
    psw_rope_forward(la->k, a->rope_cos, a->rope_sin, B, T, NKV, HD);
    psw_attention_forward_at(la->atty, la->att, la->q, la->k, la->v, pos, P, T, NH, NKV, HD);
    attn_out_mlp(m, l, la, &(layer_rows){.batch = batch, .pos = pos, .P = P, .per_seq = per_seq},
                 xg, xg);
#undef ROWS
#undef W
}

/* la's buffers at sequence b's rows (for a batch of B = 1 with the same T): row-wise tensors
 * from row b * T, the attention probabilities from (b, head 0). */
static psw_layer_acts seq_view(const psw_layer_acts *la, const psw_model_config *cfg, int b,
                               int T) {
    size_t r = (size_t)b * T, C = (size_t)cfg->hidden_size, H = (size_t)cfg->intermediate_size;
    size_t QD = (size_t)cfg->num_heads * cfg->head_dim;
    size_t KD = (size_t)cfg->num_kv_heads * cfg->head_dim;
    psw_layer_acts v;
#define AT(f, width) v.f = la->f ? la->f + r * (width) : NULL
    AT(ln1, C), AT(ln1_rstd, 1), AT(qraw, QD), AT(kraw, KD), AT(q_rstd, 1), AT(k_rstd, 1);
    AT(q, QD), AT(k, KD), AT(v, KD), AT(att, (size_t)cfg->num_heads * T), AT(atty, QD);
    AT(attn_o, C), AT(attn_rstd, 1), AT(mid, C), AT(ln2, C), AT(ln2_rstd, 1);
    AT(gate, H), AT(up, H), AT(act, H), AT(mlp_o, C), AT(mlp_rstd, 1);
#undef AT
    return v;
}

typedef struct seq_layer_job {
    psw_model *m;
    const psw_batch *batch;
    int l;
} seq_layer_job;

/* Layer l of sequence b alone: a batch of one at its rows. */
static void seq_layer_task(void *ctx, int b, int thread) {
    const seq_layer_job *j = ctx;
    const struct psw_acts *a = j->m->acts;
    int T = j->batch->T, l = j->l;
    size_t r = (size_t)b * T * j->m->cfg.hidden_size;
    psw_batch one = {.tokens = j->batch->tokens + (size_t)b * T,
                     .lengths = j->batch->lengths + b, .B = 1, .T = T};
    psw_layer_acts view = seq_view(&a->layer[l], &j->m->cfg, b, T);
    layer_forward(j->m, l, &one, true, &view, a->resid[l] + r, a->resid[l + 1] + r);
    (void)thread;
}

/* Whether the per-layer weights are all fp32: bf16 ones are converted into one shared slot per
 * call (psw_model_weight), which tasks running side by side must not do. */
static bool layer_weights_fp32(const psw_model *m) {
    for (int id = PSW_P_Q; id <= PSW_P_MLP_NORM; id++)
        if (m->params.bf16[id]) return false;
    return true;
}

void psw_forward_run(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                     float *logits, bool per_seq, bool last_layer_at_pos) {
    const psw_model_config *cfg = &m->cfg;
    struct psw_acts *a = m->acts;
    int C = cfg->hidden_size, T = batch->T, L = cfg->num_layers;
    psw_embed_lookup(m, a->resid[0], batch);
    int full_layers = last_layer_at_pos ? L - 1 : L;
    /* Per sequence, each full layer can run as one task per sequence: one pool job per layer
     * instead of a dozen, and a sequence's activations stay in its core's cache while the
     * layer's weights are shared by the cores. Every op is per row or per sequence and every
     * GEMM a one-thread call on one sequence either way, so the bits are the same as op by op
     * over the batch (which still runs with fewer sequences than threads, to split the row-wise
     * work, and with bf16 weights). */
    bool seq_tasks = per_seq && batch->B >= psw_pool_threads() && psw_pool_threads() > 1 &&
                     layer_weights_fp32(m);
    for (int l = 0; l < full_layers; l++) {
        if (seq_tasks)
            psw_pool_run_blas1(batch->B, seq_layer_task,
                               &(seq_layer_job){.m = m, .batch = batch, .l = l});
        else
            layer_forward(m, l, batch, per_seq, &a->layer[l], a->resid[l], a->resid[l + 1]);
    }
    /* The final norm is per row, so gathering first is exact, and the LM head (the largest
     * matmul for big vocabularies) runs on P rows only. */
    if (last_layer_at_pos)
        last_layer_at(m, batch, pos, P, per_seq);
    else
        psw_gather_rows(a->xg, a->resid[L], pos, P, C);
    psw_rmsnorm_forward(a->lnf, a->lnf_rstd, a->xg, psw_model_weight(m, PSW_P_FINAL_NORM, 0), P,
                        C, cfg->rms_norm_eps);
    /* With per_seq, per sequence again: each run of consecutive positions in one sequence is one
     * call, as a forward of that sequence alone with those positions makes (one row per sequence
     * when evaluating: M = 1, like the solo forward's P = 1). */
    psw_head_forward(m, logits, a->lnf, pos, P, T, per_seq);
}

psw_status psw_model_forward(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                             float *logits, psw_err *err) {
    psw_status st = psw_check_batch(m, batch, pos, P, false, err);
    if (st != PSW_OK) return st;
    psw_forward_run(m, batch, pos, P, logits, !m->batched_forward, true);
    return PSW_OK;
}
