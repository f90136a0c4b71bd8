/* evaluate.c: batched, length-sorted multiple-choice evaluation (see evaluate.h). */
#include "psw/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t prompt_len(const psw_mc_prompts *p, size_t i) {
    return p->offsets[i + 1] - p->offsets[i];
}

typedef struct len_index {
    int64_t len;
    int32_t index;
} len_index;

static int by_length_desc(const void *a, const void *b) {
    const len_index *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void psw_mc_length_order(const psw_mc_prompts *p, int32_t *order) {
    len_index *keys = psw_xmalloc(p->n * sizeof *keys);
    for (size_t i = 0; i < p->n; i++) keys[i] = (len_index){prompt_len(p, i), (int32_t)i};
    qsort(keys, p->n, sizeof *keys, by_length_desc);
    for (size_t i = 0; i < p->n; i++) order[i] = keys[i].index;
    free(keys);
}

psw_status psw_evaluate_scores(psw_model *m, const psw_mc_prompts *p, const int32_t *gold,
                               int eval_batch, psw_choice_scores *scores, psw_err *err) {
    size_t n = p->n, V = (size_t)m->cfg.vocab_size;
    int T = p->max_len;
    if (eval_batch < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "evaluate: eval_batch %d must be >= 1",
                        eval_batch);
    if ((size_t)eval_batch > n) eval_batch = n > 0 ? (int)n : 1; /* buffers for real batches only */
    psw_status st = PSW_OK;
    int32_t *order = psw_try_alloc(n * sizeof *order);
    int32_t *tokens = psw_try_alloc((size_t)eval_batch * (size_t)T * sizeof *tokens);
    int32_t *lengths = psw_try_alloc((size_t)eval_batch * sizeof *lengths);
    int64_t *pos = psw_try_alloc((size_t)eval_batch * sizeof *pos);
    float *logits = psw_try_alloc((size_t)eval_batch * V * sizeof *logits);
    if (!order || !tokens || !lengths || !pos || !logits) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "evaluate: cannot allocate batch buffers (B=%d T=%d)",
                      eval_batch, T);
        goto done;
    }
    psw_mc_length_order(p, order);
    psw_progress progress;
    psw_progress_start(&progress, "eval", "examples", (long long)n);
    /* Batches of eval_batch examples of similar length (the order is longest first), right-
     * padded to the longest of the batch, logits only at each answer position. The result does
     * not depend on the batching: psw_model_forward runs every linear layer per sequence with
     * the shapes of a solo forward, and every other op is per row or per sequence. */
    for (size_t k0 = 0; k0 < n; k0 += (size_t)eval_batch) {
        int B = n - k0 < (size_t)eval_batch ? (int)(n - k0) : eval_batch;
        int Tb = (int)prompt_len(p, (size_t)order[k0]);
        for (int b = 1; b < B; b++) {
            int len = (int)prompt_len(p, (size_t)order[k0 + (size_t)b]);
            if (len > Tb) Tb = len;
        }
        for (int b = 0; b < B; b++) {
            size_t i = (size_t)order[k0 + (size_t)b];
            int len = (int)prompt_len(p, i);
            int32_t *row = tokens + (size_t)b * (size_t)Tb;
            memcpy(row, p->ids + p->offsets[i], (size_t)len * sizeof *tokens);
            memset(row + len, 0, (size_t)(Tb - len) * sizeof *tokens);
            lengths[b] = len;
            pos[b] = (int64_t)b * Tb + len - 1;
        }
        psw_batch batch = {.tokens = tokens, .lengths = lengths, .B = B, .T = Tb};
        st = psw_model_forward(m, &batch, pos, B, logits, err);
        if (st != PSW_OK) goto done;
        for (int b = 0; b < B; b++) {
            size_t i = (size_t)order[k0 + (size_t)b];
            st = psw_choice_scores_from_logits(logits + (size_t)b * V, V,
                                               p->letters + i * PSW_MAX_CHOICES, p->n_choices[i],
                                               gold ? gold[i] : -1, &scores[i], err);
            if (st != PSW_OK) {
                psw_err_prefix(err, "example %zu: ", i);
                goto done;
            }
        }
        psw_progress_update(&progress, (long long)(k0 + (size_t)B));
    }
done:
    free(order);
    free(tokens);
    free(lengths);
    free(pos);
    free(logits);
    return st;
}

psw_status psw_evaluate(psw_model *m, const psw_mc_set *set, int eval_batch,
                        psw_choice_scores *scores, float *probs, int n_choices_max,
                        psw_eval_metrics *metrics, psw_err *err) {
    size_t n = set->prompts.n;
    psw_choice_scores *owned = NULL;
    if (!scores) {
        owned = psw_try_alloc(n * sizeof *owned);
        if (!owned) return PSW_FAIL(err, PSW_ERR_NOMEM, "evaluate: cannot allocate scores");
        scores = owned;
    }
    psw_status st = psw_evaluate_scores(m, &set->prompts, set->gold, eval_batch, scores, err);
    if (st == PSW_OK) st = psw_eval_metrics_compute(scores, n, metrics, err);
    if (st == PSW_OK && probs) {
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < n_choices_max; k++)
                probs[i * (size_t)n_choices_max + (size_t)k] =
                    k < scores[i].n_choices ? (float)scores[i].prob[k] : NAN;
    }
    free(owned);
    return st;
}
