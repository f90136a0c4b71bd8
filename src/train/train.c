/* train.c: the recovery trainer (see train.h). */
#include "psw/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/rng.h"

long psw_train_total_steps(const psw_train_settings *s, size_t n_subset) {
    if (s->steps > 0) return s->steps;
    size_t per_step = (size_t)s->micro_batch * (size_t)s->grad_accum;
    size_t examples = n_subset * (size_t)s->epochs;
    return (long)((examples + per_step - 1) / per_step);
}

int psw_curve_downsample(const double *values, size_t n, float *out) {
    if (n == 0) return 0;
    size_t points = n < PSW_CURVE_POINTS ? n : PSW_CURVE_POINTS;
    for (size_t p = 0; p < points; p++) {
        size_t lo = p * n / points, hi = (p + 1) * n / points;
        double sum = 0.0;
        for (size_t i = lo; i < hi; i++) sum += values[i];
        out[p] = (float)(sum / (double)(hi - lo));
    }
    return (int)points;
}

/* The stream of example indices: epoch 0 in subset order, later epochs reshuffled by seed. */
static int32_t stream_at(const psw_train_data *d, int32_t *epoch_order, long *cached_epoch,
                         uint64_t seed, size_t k) {
    size_t n = d->n_subset, epoch = k / n;
    if ((long)epoch != *cached_epoch) {
        memcpy(epoch_order, d->subset, n * sizeof *epoch_order);
        if (epoch > 0) {
            psw_rng rng;
            psw_rng_seed(&rng, seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)epoch));
            psw_rng_shuffle_i32(&rng, epoch_order, n);
        }
        *cached_epoch = (long)epoch;
    }
    return epoch_order[k % n];
}

psw_status psw_train(psw_model *student, const psw_train_settings *s, const psw_train_data *d,
                     psw_train_result *result, psw_err *err) {
    memset(result, 0, sizeof *result);
    result->diverged_at = -1;
    result->final_loss = NAN;
    bool wants_ce = s->loss == PSW_LOSS_CE || s->loss == PSW_LOSS_MIX;
    bool wants_kl = s->loss == PSW_LOSS_KL || s->loss == PSW_LOSS_MIX;
    if (s->loss == PSW_LOSS_NONE) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "train: no loss");
    if (wants_ce != (d->gold != NULL))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "train: loss %s %s labels",
                        psw_loss_kind_name(s->loss), wants_ce ? "needs" : "must not be given");
    if (wants_kl != (d->cache != NULL))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "train: loss %s %s a teacher cache",
                        psw_loss_kind_name(s->loss), wants_kl ? "needs" : "must not be given");
    if (s->all_positions && s->loss != PSW_LOSS_KL)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "training.loss_positions: all_prompt works with loss kl only, not %s",
                        psw_loss_kind_name(s->loss));
    if (s->all_positions && !psw_teacher_cache_all_positions(d->cache))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "train: the teacher cache holds answer positions only");
    if (d->n_subset == 0) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "train: empty recovery set");
    if (s->micro_batch < 1 || s->grad_accum < 1 || (s->steps <= 0 && s->epochs < 1))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "train: micro_batch %d, grad_accum %d and epochs %d (without steps) must "
                        "be >= 1",
                        s->micro_batch, s->grad_accum, s->epochs);
    if (wants_kl && !(s->temperature > 0.0 && isfinite(s->temperature)))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "training.temperature: %g must be > 0",
                        s->temperature);
    if (s->loss == PSW_LOSS_MIX && !(s->alpha >= 0.0 && s->alpha <= 1.0))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "training.alpha: %g is outside [0, 1]",
                        s->alpha);
    for (size_t k = 0; k < d->n_subset; k++)
        if (d->subset[k] < 0 || (size_t)d->subset[k] >= d->prompts->n)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "train: recovery-set index %d outside the %zu train examples",
                            (int)d->subset[k], d->prompts->n);
    if (wants_ce)
        for (size_t k = 0; k < d->n_subset; k++) {
            int32_t i = d->subset[k], g = d->gold[i];
            if (g < 0 || g >= d->prompts->n_choices[i])
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "train: loss %s needs labels, but train example %d has none",
                                psw_loss_kind_name(s->loss), (int)i);
        }
    /* The weights of the two terms. A mix at alpha 1 or 0 reads only the term it weighs: the
     * engine refuses a zero-weighted input, and a zero weight must not read what it ignores. */
    float ce_w = s->loss == PSW_LOSS_CE    ? 1.0f
                 : s->loss == PSW_LOSS_MIX ? (float)s->alpha
                                           : 0.0f;
    float kl_w = s->loss == PSW_LOSS_KL    ? 1.0f
                 : s->loss == PSW_LOSS_MIX ? (float)(1.0 - s->alpha)
                                           : 0.0f;
    bool uses_ce = ce_w != 0.0f, uses_kl = kl_w != 0.0f;

    const psw_mc_prompts *p = d->prompts;
    size_t V = (size_t)student->cfg.vocab_size, T = (size_t)p->max_len;
    size_t MB = (size_t)s->micro_batch, max_P = s->all_positions ? MB * T : MB;
    long total_steps = psw_train_total_steps(s, d->n_subset);
    long warmup = s->warmup_steps >= 0 ? s->warmup_steps
                                       : (long)floor(s->warmup_ratio * (double)total_steps);
    size_t total_examples = s->steps > 0 ? (size_t)total_steps * MB * (size_t)s->grad_accum
                                         : d->n_subset * (size_t)s->epochs;
    psw_status st = PSW_OK;
    int32_t *tokens = psw_try_alloc(MB * T * sizeof *tokens);
    int32_t *lengths = psw_try_alloc(MB * sizeof *lengths);
    int64_t *pos = psw_try_alloc(max_P * sizeof *pos);
    int32_t *targets = psw_try_alloc(max_P * sizeof *targets);
    float *teacher = wants_kl ? psw_try_alloc(max_P * V * sizeof *teacher) : NULL;
    int32_t *epoch_order = psw_try_alloc(d->n_subset * sizeof *epoch_order);
    int32_t *idx = psw_try_alloc(MB * sizeof *idx);
    double *losses = psw_try_alloc((size_t)(total_steps > 0 ? total_steps : 1) * sizeof *losses);
    if (!tokens || !lengths || !pos || !targets || (wants_kl && !teacher) || !epoch_order || !idx ||
        !losses) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "train: cannot allocate batch buffers");
        goto done;
    }
    /* Reallocates the gradient arenas when the caller reserved for another set. */
    if ((st = psw_model_set_trainable(student, s->trainable_groups, err)) != PSW_OK) goto done;
    long cached_epoch = -1;
    size_t next = 0;
    psw_progress progress;
    psw_progress_start(&progress, "train", "steps", total_steps);
    for (long step = 0; step < total_steps && next < total_examples; step++) {
        psw_model_zero_grad(student);
        size_t step_examples = (size_t)s->grad_accum * MB;
        if (step_examples > total_examples - next) step_examples = total_examples - next;
        double step_loss = 0.0;
        for (int a = 0; a < s->grad_accum && next < total_examples; a++) {
            int B = (int)(total_examples - next < MB ? total_examples - next : MB);
            int Tb = 0;
            for (int b = 0; b < B; b++) {
                idx[b] = stream_at(d, epoch_order, &cached_epoch, s->shuffle_seed, next + (size_t)b);
                int len = (int)(p->offsets[idx[b] + 1] - p->offsets[idx[b]]);
                if (len > Tb) Tb = len;
            }
            next += (size_t)B;
            memset(tokens, 0, (size_t)B * (size_t)Tb * sizeof *tokens);
            int P = 0;
            for (int b = 0; b < B; b++) {
                size_t i = (size_t)idx[b];
                int len = (int)(p->offsets[i + 1] - p->offsets[i]);
                memcpy(tokens + (size_t)b * Tb, p->ids + p->offsets[i], (size_t)len * sizeof *tokens);
                lengths[b] = len;
                int first = s->all_positions ? 0 : len - 1;
                for (int t = first; t < len; t++) {
                    pos[P] = (int64_t)b * Tb + t;
                    if (uses_ce) targets[P] = p->letters[i * PSW_MAX_CHOICES + (size_t)d->gold[i]];
                    if (uses_kl) {
                        int row = psw_teacher_cache_rows(d->cache, i) == 1 ? 0 : t;
                        psw_teacher_cache_row(d->cache, i, row, teacher + (size_t)P * V);
                    }
                    P++;
                }
            }
            psw_batch batch = {.tokens = tokens, .lengths = lengths, .B = B, .T = Tb};
            psw_loss_spec ls = {.P = P,
                                .pos = pos,
                                .targets = uses_ce ? targets : NULL,
                                .teacher_logits = uses_kl ? teacher : NULL,
                                .temperature = (float)s->temperature,
                                .ce_weight = ce_w,
                                .kl_weight = kl_w,
                                .grad_scale = (float)B / (float)step_examples};
            double loss = 0.0;
            st = psw_model_forward_backward(student, &batch, &ls, &loss, err);
            if (st == PSW_ERR_NUMERIC || (st == PSW_OK && !isfinite(loss))) {
                result->diverged_at = step;
                st = PSW_FAIL(err, PSW_ERR_NUMERIC, "training diverged at step %ld: loss %g",
                              step, loss);
                goto done;
            }
            if (st != PSW_OK) goto done;
            step_loss += loss * (double)B / (double)step_examples;
        }
        psw_adamw opt = s->opt;
        opt.lr = psw_lr_at(s->schedule, step, warmup, total_steps, s->opt.lr, s->lr_min);
        double grad_norm = 0.0;
        st = psw_model_adamw_step(student, &opt, &grad_norm, err);
        if (st == PSW_ERR_NUMERIC) {
            result->diverged_at = step;
            st = PSW_FAIL(err, PSW_ERR_NUMERIC,
                          "training diverged at step %ld: gradient norm %g", step, grad_norm);
            goto done;
        }
        if (st != PSW_OK) goto done;
        losses[step] = step_loss;
        result->steps = step + 1;
        result->final_loss = step_loss;
        psw_progress_update(&progress, step + 1);
    }
done:
    result->n_curve = losses ? psw_curve_downsample(losses, (size_t)result->steps, result->curve) : 0;
    free(tokens);
    free(lengths);
    free(pos);
    free(targets);
    free(teacher);
    free(epoch_order);
    free(idx);
    free(losses);
    return st;
}
