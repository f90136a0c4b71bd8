/* prune.c: MLP neuron scoring, selection and physical removal (see prune.h). */
#include "psw/prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/rng.h"
#include "psw/safetensors.h"

static const char *const score_names[] = {"l2", "down", "gate_up", "random"};

const char *psw_prune_score_name(psw_prune_score s) {
    PSW_ASSERT(s >= PSW_PRUNE_L2 && s <= PSW_PRUNE_RANDOM);
    return score_names[s];
}

bool psw_prune_score_parse(const char *name, psw_prune_score *out) {
    for (int i = 0; i <= PSW_PRUNE_RANDOM; i++)
        if (strcmp(name, score_names[i]) == 0) {
            *out = (psw_prune_score)i;
            return true;
        }
    return false;
}

int psw_prune_keep_count(int H, double retention) {
    /* Halves round up. The 1e-9 slack makes a retention that is x.5 neurons in decimal count as
     * such although r*H is not exact in binary (0.35 * 90 = 31.499999999999996 -> 32, as
     * 0.55 * 50 = 27.500000000000004 -> 28 already does). */
    long keep = (long)floor(retention * (double)H + 0.5 + 1e-9);
    if (keep < 1) keep = 1;
    if (keep > H) keep = H;
    return (int)keep;
}

/* Element i of kind id as fp32, whatever the storage. */
static double wv(const psw_params *p, psw_param_id id, size_t i) {
    return p->ptr[id] ? (double)p->ptr[id][i] : (double)psw_bf16_to_f32(p->bf16[id][i]);
}

static double row_sq(const psw_params *p, psw_param_id id, size_t at, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = wv(p, id, at + i);
        s += v * v;
    }
    return s;
}

void psw_prune_scores(const psw_model *m, psw_prune_score kind, uint64_t seed, double *scores) {
    size_t C = (size_t)m->cfg.hidden_size, H = (size_t)m->cfg.intermediate_size;
    size_t L = (size_t)m->cfg.num_layers;
    const psw_params *p = &m->params;
    psw_rng rng;
    psw_rng_seed(&rng, seed);
    for (size_t l = 0; l < L; l++) {
        size_t gate = l * H * C, up = l * H * C; /* (H, C) */
        size_t down = l * C * H;                 /* (C, H) */
        double *s = scores + l * H;
        for (size_t j = 0; j < H; j++) {
            double gate_up = row_sq(p, PSW_P_GATE, gate + j * C, C) + row_sq(p, PSW_P_UP, up + j * C, C);
            double down_sq = 0.0;
            for (size_t c = 0; c < C; c++) {
                double v = wv(p, PSW_P_DOWN, down + c * H + j);
                down_sq += v * v;
            }
            switch (kind) {
            case PSW_PRUNE_L2: s[j] = sqrt(gate_up + down_sq); break;
            case PSW_PRUNE_DOWN: s[j] = sqrt(down_sq); break;
            case PSW_PRUNE_GATE_UP: s[j] = sqrt(gate_up); break;
            case PSW_PRUNE_RANDOM: s[j] = (double)psw_rng_uniform(&rng); break;
            }
        }
    }
}

typedef struct scored {
    double score;
    int32_t index;
} scored;

/* Higher score first; equal scores keep the lower index first. */
static int by_score_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int by_int_asc(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void psw_prune_select(const double *scores, int H, int keep, int32_t *kept) {
    scored *order = psw_xmalloc((size_t)H * sizeof *order);
    for (int j = 0; j < H; j++) order[j] = (scored){scores[j], j};
    qsort(order, (size_t)H, sizeof *order, by_score_desc);
    for (int i = 0; i < keep; i++) kept[i] = order[i].index;
    qsort(kept, (size_t)keep, sizeof *kept, by_int_asc);
    free(order);
}

static int64_t count_group(const psw_params *layout, psw_param_group g) {
    int64_t n = 0;
    for (int i = 0; i < PSW_P_COUNT; i++)
        if (psw_param_group_of((psw_param_id)i) == g) n += (int64_t)layout->count[i];
    return n;
}

void psw_prune_report_fill(const psw_model_config *pruned, const psw_model_config *reference,
                           psw_prune_report *rep) {
    psw_params a, b;
    psw_params_layout(pruned, &a);
    psw_params_layout(reference, &b);
    rep->neurons_kept = (int64_t)pruned->intermediate_size * pruned->num_layers;
    rep->neurons_total = (int64_t)reference->intermediate_size * reference->num_layers;
    rep->params_total = (int64_t)a.total;
    rep->ref_params_total = (int64_t)b.total;
    rep->params_mlp = count_group(&a, PSW_GROUP_MLP);
    rep->ref_params_mlp = count_group(&b, PSW_GROUP_MLP);
    /* Non-embedding: everything but the token embeddings and the LM head (tied or not). */
    rep->params_nonembed =
        rep->params_total - count_group(&a, PSW_GROUP_EMBED) - count_group(&a, PSW_GROUP_HEAD);
    rep->ref_params_nonembed =
        rep->ref_params_total - count_group(&b, PSW_GROUP_EMBED) - count_group(&b, PSW_GROUP_HEAD);
    rep->retention_mlp = (double)rep->params_mlp / (double)rep->ref_params_mlp;
    rep->retention_nonembed = (double)rep->params_nonembed / (double)rep->ref_params_nonembed;
    rep->retention_total = (double)rep->params_total / (double)rep->ref_params_total;
}

/* Copies n values of kind id from src element `from` to dst element `to`, converting between
 * the storages (bf16 -> fp32 exact, fp32 -> bf16 rounded once). */
static void copy_vals(psw_params *dst, const psw_params *src, psw_param_id id, size_t to,
                      size_t from, size_t n) {
    if (dst->ptr[id] && src->ptr[id])
        memcpy(dst->ptr[id] + to, src->ptr[id] + from, n * sizeof(float));
    else if (dst->bf16[id] && src->bf16[id])
        memcpy(dst->bf16[id] + to, src->bf16[id] + from, n * sizeof(uint16_t));
    else if (dst->ptr[id])
        for (size_t i = 0; i < n; i++) dst->ptr[id][to + i] = psw_bf16_to_f32(src->bf16[id][from + i]);
    else
        for (size_t i = 0; i < n; i++) dst->bf16[id][to + i] = psw_f32_to_bf16(src->ptr[id][from + i]);
}

psw_status psw_prune_mlp(const psw_model *src, double retention, psw_prune_score kind,
                         uint64_t seed, psw_model *dst, int32_t *kept_out,
                         psw_prune_report *report, psw_err *err) {
    return psw_prune_mlp_storage(src, retention, kind, seed, src->params.bf16_groups, dst,
                                 kept_out, report, err);
}

psw_status psw_prune_mlp_storage(const psw_model *src, double retention, psw_prune_score kind,
                                 uint64_t seed, unsigned bf16_groups, psw_model *dst,
                                 int32_t *kept_out, psw_prune_report *report, psw_err *err) {
    memset(dst, 0, sizeof *dst);
    if (!(retention > 0.0 && retention <= 1.0))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "retention %g is outside (0, 1]", retention);
    const psw_model_config *cfg = &src->cfg;
    int H = cfg->intermediate_size, keep = psw_prune_keep_count(H, retention);
    size_t L = (size_t)cfg->num_layers, C = (size_t)cfg->hidden_size;
    psw_status st = PSW_OK;
    double *scores = NULL;
    int32_t *kept = NULL;
    size_t n_scores = L * (size_t)H;
    scores = psw_try_alloc(n_scores * sizeof *scores);
    kept = psw_try_alloc(L * (size_t)keep * sizeof *kept);
    if (!scores || !kept) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "prune: cannot allocate scores for %zu neurons", n_scores);
        goto fail;
    }
    psw_prune_scores(src, kind, seed, scores);
    for (size_t l = 0; l < L; l++)
        psw_prune_select(scores + l * (size_t)H, H, keep, kept + l * (size_t)keep);

    psw_model_config pruned_cfg = *cfg;
    pruned_cfg.intermediate_size = keep;
    st = psw_model_init_storage(dst, &pruned_cfg, bf16_groups, err);
    if (st != PSW_OK) goto fail;
    const psw_params *sp = &src->params;
    psw_params *dp = &dst->params;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (i == PSW_P_GATE || i == PSW_P_UP || i == PSW_P_DOWN || !sp->count[i]) continue;
        copy_vals(dp, sp, (psw_param_id)i, 0, 0, sp->count[i]);
    }
    for (size_t l = 0; l < L; l++) {
        const int32_t *k = kept + l * (size_t)keep;
        for (int p = PSW_P_GATE; p <= PSW_P_UP; p++) /* (H, C) -> (keep, C) */
            for (int i = 0; i < keep; i++)
                copy_vals(dp, sp, (psw_param_id)p, (l * (size_t)keep + (size_t)i) * C,
                          (l * (size_t)H + (size_t)k[i]) * C, C);
        /* down (C, H) -> (C, keep) */
        for (size_t c = 0; c < C; c++)
            for (int i = 0; i < keep; i++)
                copy_vals(dp, sp, PSW_P_DOWN, l * C * (size_t)keep + c * (size_t)keep + (size_t)i,
                          l * C * (size_t)H + c * (size_t)H + (size_t)k[i], 1);
    }
    /* src's trainable flags, except that dst's bf16 kinds stay frozen (init_storage) and a kind
     * frozen in src only because src stores it as bf16 may train in dst. */
    for (int i = 0; i < PSW_P_COUNT; i++)
        dst->trainable[i] =
            dst->trainable[i] &&
            (src->trainable[i] || ((sp->bf16_groups >> psw_param_group_of((psw_param_id)i)) & 1u));
    if (kept_out) memcpy(kept_out, kept, L * (size_t)keep * sizeof *kept);
    if (report) psw_prune_report_fill(&dst->cfg, cfg, report);
    free(scores);
    free(kept);
    return PSW_OK;
fail:
    free(scores);
    free(kept);
    psw_model_free(dst);
    return st;
}
