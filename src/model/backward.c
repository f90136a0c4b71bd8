/* backward.c: losses and the backward pass. Gradient work is driven by m->trainable: frozen kinds
 * never run their weight-gradient GEMMs, and activation gradients are only propagated as far
 * down as something trainable needs them. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/kernels.h"

static psw_status check_spec(const psw_model *m, const psw_loss_spec *s, psw_err *err) {
    if (s->ce_weight != 0.0f && !s->targets)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "loss: ce_weight=%g needs targets",
                        (double)s->ce_weight);
    if (s->ce_weight == 0.0f && s->targets)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "loss: targets given but ce_weight is 0");
    if (s->kl_weight != 0.0f && !s->teacher_logits)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "loss: kl_weight=%g needs teacher_logits",
                        (double)s->kl_weight);
    if (s->kl_weight == 0.0f && s->teacher_logits)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "loss: teacher_logits given but kl_weight is 0");
    if (s->teacher_logits && !(s->temperature > 0.0f && isfinite(s->temperature)))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "loss: temperature %g must be > 0",
                        (double)s->temperature);
    if (s->targets)
        for (int p = 0; p < s->P; p++)
            if (s->targets[p] < 0 || s->targets[p] >= m->cfg.vocab_size)
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "loss: targets[%d]=%d outside vocabulary 0..%d", p,
                                (int)s->targets[p], m->cfg.vocab_size - 1);
    return PSW_OK;
}

typedef struct loss_job {
    const psw_loss_spec *s;
    float *logits;
    double *row_loss;
    int V;
    bool grad;
} loss_job;

/* Loss rows per pool task (fixed: rows are independent, the split never changes a bit). */
#define LOSS_ROWS_PER_TASK 8

static void loss_task(void *ctx, int task, int thread) {
    const loss_job *j = ctx;
    const psw_loss_spec *s = j->s;
    float gs = s->grad_scale / (float)s->P;
    int p1 = (task + 1) * LOSS_ROWS_PER_TASK < s->P ? (task + 1) * LOSS_ROWS_PER_TASK : s->P;
    for (int p = task * LOSS_ROWS_PER_TASK; p < p1; p++) {
        float *z = j->logits + (size_t)p * j->V;
        j->row_loss[p] =
            psw_loss_row(j->grad ? z : NULL, z, s->targets ? s->targets[p] : -1,
                         s->teacher_logits ? s->teacher_logits + (size_t)p * j->V : NULL, j->V,
                         s->ce_weight, s->kl_weight, s->temperature, gs);
    }
    (void)thread;
}

/* Mean loss over the P rows of logits; with grad, logits become gscale/P * dloss/dlogits. The
 * rows run on the pool; their values are summed in row order. */
static double loss_rows(const psw_model *m, const psw_loss_spec *s, float *logits, bool grad) {
    loss_job j = {.s = s, .logits = logits, .row_loss = m->acts->row_loss,
                  .V = m->cfg.vocab_size, .grad = grad};
    psw_pool_run((s->P + LOSS_ROWS_PER_TASK - 1) / LOSS_ROWS_PER_TASK, loss_task, &j);
    double sum = 0.0;
    for (int p = 0; p < s->P; p++) sum += j.row_loss[p];
    return sum / s->P;
}

psw_status psw_model_loss(psw_model *m, const psw_batch *batch, const psw_loss_spec *loss,
                          double *loss_out, psw_err *err) {
    psw_status st = psw_check_batch(m, batch, loss->pos, loss->P, false, err);
    if (st == PSW_OK) st = check_spec(m, loss, err);
    if (st != PSW_OK) return st;
    psw_forward_run(m, batch, loss->pos, loss->P, m->acts->logits, false,
                    !m->loss_full_last_layer && psw_loss_at_rows(batch, loss->P));
    double l = loss_rows(m, loss, m->acts->logits, false);
    *loss_out = l;
    if (!isfinite(l)) return PSW_FAIL(err, PSW_ERR_NUMERIC, "loss is not finite (%g)", l);
    return PSW_OK;
}

void psw_model_zero_grad(psw_model *m) {
    if (m->grads.base) psw_zero(m->grads.base, m->grads.total);
}

static void zero(float *x, size_t n) { psw_zero(x, n); }

/* Gradient buffer of layer l for kind id, or NULL when the kind is frozen (skips its GEMM). */
static float *gparam(psw_model *m, psw_param_id id, int l) {
    return m->trainable[id] ? psw_layer_param(&m->grads, &m->cfg, id, l) : NULL;
}

static bool any_trainable(const psw_model *m, const psw_param_id *ids, int n) {
    for (int i = 0; i < n; i++)
        if (m->trainable[ids[i]] && m->params.count[ids[i]]) return true;
    return false;
}

/* Backward through layer l. On entry a->dres holds d(output of layer l); on exit d(input of
 * layer l) when need_dx (otherwise dres is left partly updated and must not be used). */
static void layer_backward(psw_model *m, int l, const psw_batch *batch, bool need_dx) {
    const psw_model_config *cfg = &m->cfg;
    struct psw_acts *a = m->acts;
    psw_layer_acts *la = &a->layer[l];
    int B = batch->B, T = batch->T, BT = B * T;
    int C = cfg->hidden_size, H = cfg->intermediate_size, NH = cfg->num_heads,
        NKV = cfg->num_kv_heads, HD = cfg->head_dim;
    int QD = NH * HD, KD = NKV * HD;
    size_t BTC = (size_t)BT * C, BTH = (size_t)BT * H;
    const float *x = a->resid[l];
    float *dres = a->dres, *dtmp = a->dtmp;
    bool tr[PSW_P_COUNT];
    for (int i = 0; i < PSW_P_COUNT; i++) tr[i] = m->trainable[i] && m->params.count[i];
#define W(id) psw_model_weight(m, (id), l) /* fp32 slice, or bf16 converted to scratch */
#define G(id) gparam(m, (id), l)
    static const psw_param_id attn_ids[] = {PSW_P_Q, PSW_P_K, PSW_P_V, PSW_P_O,
                                            PSW_P_Q_NORM, PSW_P_K_NORM, PSW_P_ATTN_NORM};
    bool need_attn = need_dx || any_trainable(m, attn_ids, 7);
    bool need_dact = need_attn || tr[PSW_P_GATE] || tr[PSW_P_UP];
    bool qkv_below = need_dx || tr[PSW_P_Q] || tr[PSW_P_K] || tr[PSW_P_V];

    if (cfg->arch == PSW_ARCH_LLAMA) {
        /* out = mid + down(silu(gate(ln2)) * up(ln2)),  ln2 = norm(mid) */
        need_dact = need_dact || tr[PSW_P_MLP_NORM];
        if (need_dact) zero(a->dact, BTH);
        psw_matmul_backward(need_dact ? a->dact : NULL, G(PSW_P_DOWN), dres, la->act,
                            W(PSW_P_DOWN), BT, H, C);
        if (need_dact) {
            zero(a->dgate, BTH), zero(a->dup, BTH);
            psw_swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, BTH);
            bool need_dln2 = need_attn || tr[PSW_P_MLP_NORM];
            if (need_dln2) zero(dtmp, BTC);
            psw_matmul_backward(need_dln2 ? dtmp : NULL, G(PSW_P_GATE), a->dgate, la->ln2,
                                W(PSW_P_GATE), BT, C, H);
            psw_matmul_backward(need_dln2 ? dtmp : NULL, G(PSW_P_UP), a->dup, la->ln2,
                                W(PSW_P_UP), BT, C, H);
            if (need_dln2)
                psw_rmsnorm_backward(need_attn ? dres : NULL, G(PSW_P_MLP_NORM), dtmp, la->mid,
                                     W(PSW_P_MLP_NORM), la->ln2_rstd, BT, C);
        }
        if (!need_attn) goto done;
        /* mid = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))),  ln1 = norm(x) */
        bool need_datty = qkv_below || tr[PSW_P_ATTN_NORM];
        if (need_datty) zero(a->datty, (size_t)BT * QD);
        psw_matmul_backward(need_datty ? a->datty : NULL, G(PSW_P_O), dres, la->atty, W(PSW_P_O),
                            BT, QD, C);
        if (!need_datty) goto done;
        zero(a->dq, (size_t)BT * QD), zero(a->dk, (size_t)BT * KD), zero(a->dv, (size_t)BT * KD);
        psw_attention_backward(a->dq, a->dk, a->dv, a->datt, a->datty, la->att, la->q, la->k,
                               la->v, batch->lengths, B, T, NH, NKV, HD);
        psw_rope_backward(a->dq, a->rope_cos, a->rope_sin, B, T, NH, HD);
        psw_rope_backward(a->dk, a->rope_cos, a->rope_sin, B, T, NKV, HD);
        bool need_dln1 = need_dx || tr[PSW_P_ATTN_NORM];
        if (need_dln1) zero(dtmp, BTC);
        float *dl1 = need_dln1 ? dtmp : NULL;
        psw_matmul_backward(dl1, G(PSW_P_Q), a->dq, la->ln1, W(PSW_P_Q), BT, C, QD);
        psw_matmul_backward(dl1, G(PSW_P_K), a->dk, la->ln1, W(PSW_P_K), BT, C, KD);
        psw_matmul_backward(dl1, G(PSW_P_V), a->dv, la->ln1, W(PSW_P_V), BT, C, KD);
        if (need_dln1)
            psw_rmsnorm_backward(need_dx ? dres : NULL, G(PSW_P_ATTN_NORM), dtmp, x,
                                 W(PSW_P_ATTN_NORM), la->ln1_rstd, BT, C);
    } else {
        /* out = mid + norm(down(silu(gate(mid)) * up(mid))) */
        bool need_dmlpo = need_dact || tr[PSW_P_DOWN];
        if (need_dmlpo) zero(dtmp, BTC);
        psw_rmsnorm_backward(need_dmlpo ? dtmp : NULL, G(PSW_P_MLP_NORM), dres, la->mlp_o,
                             W(PSW_P_MLP_NORM), la->mlp_rstd, BT, C);
        if (!need_dmlpo) goto done;
        if (need_dact) zero(a->dact, BTH);
        psw_matmul_backward(need_dact ? a->dact : NULL, G(PSW_P_DOWN), dtmp, la->act,
                            W(PSW_P_DOWN), BT, H, C);
        if (!need_dact) goto done;
        zero(a->dgate, BTH), zero(a->dup, BTH);
        psw_swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, BTH);
        /* dres: d(out) -> d(mid) by accumulating the MLP input gradient onto the residual. */
        psw_matmul_backward(need_attn ? dres : NULL, G(PSW_P_GATE), a->dgate, la->mid,
                            W(PSW_P_GATE), BT, C, H);
        psw_matmul_backward(need_attn ? dres : NULL, G(PSW_P_UP), a->dup, la->mid, W(PSW_P_UP), BT,
                            C, H);
        if (!need_attn) goto done;
        /* mid = x + norm(o(attn(rope(qnorm(q(x))), rope(knorm(k(x))), v(x)))) */
        bool need_datty = qkv_below || tr[PSW_P_Q_NORM] || tr[PSW_P_K_NORM];
        bool need_dattno = need_datty || tr[PSW_P_O];
        if (need_dattno) zero(dtmp, BTC);
        psw_rmsnorm_backward(need_dattno ? dtmp : NULL, G(PSW_P_ATTN_NORM), dres, la->attn_o,
                             W(PSW_P_ATTN_NORM), la->attn_rstd, BT, C);
        if (!need_dattno) goto done;
        if (need_datty) zero(a->datty, (size_t)BT * QD);
        psw_matmul_backward(need_datty ? a->datty : NULL, G(PSW_P_O), dtmp, la->atty, W(PSW_P_O),
                            BT, QD, C);
        if (!need_datty) goto done;
        zero(a->dq, (size_t)BT * QD), zero(a->dk, (size_t)BT * KD), zero(a->dv, (size_t)BT * KD);
        psw_attention_backward(a->dq, a->dk, a->dv, a->datt, a->datty, la->att, la->q, la->k,
                               la->v, batch->lengths, B, T, NH, NKV, HD);
        psw_rope_backward(a->dq, a->rope_cos, a->rope_sin, B, T, NH, HD);
        psw_rope_backward(a->dk, a->rope_cos, a->rope_sin, B, T, NKV, HD);
        bool need_draw_q = need_dx || tr[PSW_P_Q], need_draw_k = need_dx || tr[PSW_P_K];
        if (need_draw_q) zero(a->dqraw, (size_t)BT * QD);
        if (need_draw_k) zero(a->dkraw, (size_t)BT * KD);
        psw_rmsnorm_backward(need_draw_q ? a->dqraw : NULL, G(PSW_P_Q_NORM), a->dq, la->qraw,
                             W(PSW_P_Q_NORM), la->q_rstd, BT, QD);
        psw_rmsnorm_backward(need_draw_k ? a->dkraw : NULL, G(PSW_P_K_NORM), a->dk, la->kraw,
                             W(PSW_P_K_NORM), la->k_rstd, BT, KD);
        float *dx = need_dx ? dres : NULL;
        if (need_draw_q)
            psw_matmul_backward(dx, G(PSW_P_Q), a->dqraw, x, W(PSW_P_Q), BT, C, QD);
        if (need_draw_k)
            psw_matmul_backward(dx, G(PSW_P_K), a->dkraw, x, W(PSW_P_K), BT, C, KD);
        psw_matmul_backward(dx, G(PSW_P_V), a->dv, x, W(PSW_P_V), BT, C, KD);
    }
done:;
#undef W
#undef G
}

/* dst rows pos[p] += src row p, in p order (repeated positions add up). */
static void scatter_add_rows(float *dst, const float *src, const int64_t *pos, int P, int C) {
    for (int p = 0; p < P; p++) {
        float *d = dst + (size_t)pos[p] * C;
        const float *g = src + (size_t)p * C;
        for (int i = 0; i < C; i++) d[i] += g[i];
    }
}

/* Backward of the last layer run at the P loss rows only (psw_forward_run's last_layer_at_pos):
 * from a->dxg (d of the layer's output at those rows) to a->dres (d of its input, every row).
 * Queries, output projection and MLP go back through the P rows; keys and values through every
 * row, since the queries attended to them. Every activation gradient is computed; frozen kinds
 * skip only their weight-gradient GEMMs. a->dlnf (free after the final norm's backward) holds
 * d(mid) at the rows. */
static void last_layer_backward_at(psw_model *m, const psw_batch *batch, const int64_t *pos,
                                   int P) {
    const psw_model_config *cfg = &m->cfg;
    struct psw_acts *a = m->acts;
    int l = cfg->num_layers - 1;
    psw_layer_acts *la = &a->layer[l];
    int B = batch->B, T = batch->T, BT = B * T;
    int C = cfg->hidden_size, H = cfg->intermediate_size, NH = cfg->num_heads,
        NKV = cfg->num_kv_heads, HD = cfg->head_dim;
    int QD = NH * HD, KD = NKV * HD;
    size_t PC = (size_t)P * C, PH = (size_t)P * H, BTC = (size_t)BT * C;
    const float *x = a->resid[l];
    float *dout = a->dxg, *dmid = a->dlnf;
#define W(id) psw_model_weight(m, (id), l)
#define G(id) gparam(m, (id), l)
    if (cfg->arch == PSW_ARCH_LLAMA) {
        /* out = mid + down(silu(gate(ln2)) * up(ln2)),  ln2 = norm(mid) */
        zero(a->dact, PH);
        psw_matmul_backward(a->dact, G(PSW_P_DOWN), dout, la->act, W(PSW_P_DOWN), P, H, C);
        zero(a->dgate, PH), zero(a->dup, PH);
        psw_swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, PH);
        zero(a->dtmp, PC);
        psw_matmul_backward(a->dtmp, G(PSW_P_GATE), a->dgate, la->ln2, W(PSW_P_GATE), P, C, H);
        psw_matmul_backward(a->dtmp, G(PSW_P_UP), a->dup, la->ln2, W(PSW_P_UP), P, C, H);
        memcpy(dmid, dout, PC * sizeof(float));
        psw_rmsnorm_backward(dmid, G(PSW_P_MLP_NORM), a->dtmp, la->mid, W(PSW_P_MLP_NORM),
                             la->ln2_rstd, P, C);
        /* mid = x + o(attn(rope(q(ln1)), rope(k(ln1)), v(ln1))),  ln1 = norm(x) */
        zero(a->datty, (size_t)P * QD);
        psw_matmul_backward(a->datty, G(PSW_P_O), dmid, la->atty, W(PSW_P_O), P, QD, C);
    } else {
        /* out = mid + norm(down(silu(gate(mid)) * up(mid))) */
        zero(a->dtmp, PC);
        psw_rmsnorm_backward(a->dtmp, G(PSW_P_MLP_NORM), dout, la->mlp_o, W(PSW_P_MLP_NORM),
                             la->mlp_rstd, P, C);
        zero(a->dact, PH);
        psw_matmul_backward(a->dact, G(PSW_P_DOWN), a->dtmp, la->act, W(PSW_P_DOWN), P, H, C);
        zero(a->dgate, PH), zero(a->dup, PH);
        psw_swiglu_backward(a->dgate, a->dup, a->dact, la->gate, la->up, PH);
        memcpy(dmid, dout, PC * sizeof(float));
        psw_matmul_backward(dmid, G(PSW_P_GATE), a->dgate, la->mid, W(PSW_P_GATE), P, C, H);
        psw_matmul_backward(dmid, G(PSW_P_UP), a->dup, la->mid, W(PSW_P_UP), P, C, H);
        /* mid = x + norm(o(attn(rope(qnorm(q(x))), rope(knorm(k(x))), v(x)))) */
        zero(a->dtmp, PC);
        psw_rmsnorm_backward(a->dtmp, G(PSW_P_ATTN_NORM), dmid, la->attn_o, W(PSW_P_ATTN_NORM),
                             la->attn_rstd, P, C);
        zero(a->datty, (size_t)P * QD);
        psw_matmul_backward(a->datty, G(PSW_P_O), a->dtmp, la->atty, W(PSW_P_O), P, QD, C);
    }
    zero(a->dq, (size_t)P * QD), zero(a->dk, (size_t)BT * KD), zero(a->dv, (size_t)BT * KD);
    psw_attention_backward_at(a->dq, a->dk, a->dv, a->datt, a->datty, la->att, la->q, la->k,
                              la->v, pos, P, B, T, NH, NKV, HD);
    psw_rope_backward_at(a->dq, a->rope_cos, a->rope_sin, pos, P, T, NH, HD);
    psw_rope_backward(a->dk, a->rope_cos, a->rope_sin, B, T, NKV, HD);
    zero(dout, PC); /* now d(query input) at the rows */
    if (cfg->arch == PSW_ARCH_LLAMA) {
        psw_gather_rows(a->dtmp, la->ln1, pos, P, C);
        psw_matmul_backward(dout, G(PSW_P_Q), a->dq, a->dtmp, W(PSW_P_Q), P, C, QD);
        zero(a->dtmp, BTC); /* d(ln1), every row */
        psw_matmul_backward(a->dtmp, G(PSW_P_K), a->dk, la->ln1, W(PSW_P_K), BT, C, KD);
        psw_matmul_backward(a->dtmp, G(PSW_P_V), a->dv, la->ln1, W(PSW_P_V), BT, C, KD);
        scatter_add_rows(a->dtmp, dout, pos, P, C);
        zero(a->dres, BTC);
        psw_rmsnorm_backward(a->dres, G(PSW_P_ATTN_NORM), a->dtmp, x, W(PSW_P_ATTN_NORM),
                             la->ln1_rstd, BT, C);
    } else {
        zero(a->dqraw, (size_t)P * QD), zero(a->dkraw, (size_t)BT * KD);
        psw_rmsnorm_backward(a->dqraw, G(PSW_P_Q_NORM), a->dq, la->qraw, W(PSW_P_Q_NORM),
                             la->q_rstd, P, QD);
        psw_rmsnorm_backward(a->dkraw, G(PSW_P_K_NORM), a->dk, la->kraw, W(PSW_P_K_NORM),
                             la->k_rstd, BT, KD);
        zero(a->dres, BTC);
        psw_matmul_backward(a->dres, G(PSW_P_K), a->dkraw, x, W(PSW_P_K), BT, C, KD);
        psw_matmul_backward(a->dres, G(PSW_P_V), a->dv, x, W(PSW_P_V), BT, C, KD);
        psw_gather_rows(a->dtmp, x, pos, P, C);
        psw_matmul_backward(dout, G(PSW_P_Q), a->dqraw, a->dtmp, W(PSW_P_Q), P, C, QD);
        scatter_add_rows(a->dres, dout, pos, P, C);
    }
    scatter_add_rows(a->dres, dmid, pos, P, C); /* the residual path */
#undef W
#undef G
}

static void backward_run(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                         bool at_rows) {
    const psw_model_config *cfg = &m->cfg;
    struct psw_acts *a = m->acts;
    int C = cfg->hidden_size, L = cfg->num_layers;
    bool tied = cfg->tie_word_embeddings;
    static const psw_param_id layer_ids[] = {
        PSW_P_Q,    PSW_P_K,  PSW_P_V,    PSW_P_O,       PSW_P_Q_NORM, PSW_P_K_NORM,
        PSW_P_ATTN_NORM, PSW_P_GATE, PSW_P_UP, PSW_P_DOWN, PSW_P_MLP_NORM};
    bool embed_tr = m->trainable[PSW_P_EMBED];
    bool layers_needed = embed_tr || any_trainable(m, layer_ids, 11);
    bool final_tr = m->trainable[PSW_P_FINAL_NORM];
    psw_param_id head_id = tied ? PSW_P_EMBED : PSW_P_LM_HEAD;
    float *dhead = m->trainable[head_id] ? m->grads.ptr[head_id] : NULL;

    /* logits (P, V) = lnf (P, C) @ head^T; a->logits now holds dlogits */
    bool need_dlnf = layers_needed || final_tr;
    if (need_dlnf) zero(a->dlnf, (size_t)P * C);
    psw_head_backward(m, need_dlnf ? a->dlnf : NULL, dhead, a->logits, a->lnf, P);
    if (!need_dlnf) return;
    if (layers_needed) zero(a->dxg, (size_t)P * C);
    psw_rmsnorm_backward(layers_needed ? a->dxg : NULL,
                         final_tr ? m->grads.ptr[PSW_P_FINAL_NORM] : NULL, a->dlnf, a->xg,
                         psw_model_weight(m, PSW_P_FINAL_NORM, 0), a->lnf_rstd, P, C);
    if (!layers_needed) return;
    int below = L;
    if (at_rows) {
        last_layer_backward_at(m, batch, pos, P);
        below = L - 1;
    } else {
        zero(a->dres, (size_t)batch->B * batch->T * C);
        scatter_add_rows(a->dres, a->dxg, pos, P, C);
    }
    for (int l = below - 1; l >= 0; l--) layer_backward(m, l, batch, l > 0 || embed_tr);
    if (embed_tr)
        psw_embedding_backward(m->grads.ptr[PSW_P_EMBED], a->dres, batch->tokens, batch->lengths,
                               batch->B, batch->T, C);
}

psw_status psw_model_forward_backward(psw_model *m, const psw_batch *batch,
                                      const psw_loss_spec *loss, double *loss_out, psw_err *err) {
    return psw_forward_backward_run(
        m, batch, loss, loss_out, !m->loss_full_last_layer && psw_loss_at_rows(batch, loss->P),
        err);
}

psw_status psw_forward_backward_run(psw_model *m, const psw_batch *batch,
                                    const psw_loss_spec *loss, double *loss_out, bool at_rows,
                                    psw_err *err) {
    psw_status st = psw_check_batch(m, batch, loss->pos, loss->P, true, err);
    if (st == PSW_OK) st = check_spec(m, loss, err);
    if (st != PSW_OK) return st;
    psw_forward_run(m, batch, loss->pos, loss->P, m->acts->logits, false, at_rows);
    double l = loss_rows(m, loss, m->acts->logits, true);
    *loss_out = l;
    if (!isfinite(l)) return PSW_FAIL(err, PSW_ERR_NUMERIC, "loss is not finite (%g)", l);
    backward_run(m, batch, loss->pos, loss->P, at_rows);
    return PSW_OK;
}

int psw_causal_lm_targets(const psw_batch *batch, int64_t *pos, int32_t *targets) {
    int P = 0;
    for (int b = 0; b < batch->B; b++)
        for (int t = 0; t + 1 < batch->lengths[b]; t++) {
            pos[P] = (int64_t)b * batch->T + t;
            targets[P] = batch->tokens[(size_t)b * batch->T + t + 1];
            P++;
        }
    return P;
}
