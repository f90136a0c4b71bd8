/* evaluate.h: multiple-choice evaluation of a model on a tokenized set.
 * Examples are sorted longest first (ties by index) and run eval_batch at a time, right-padded
 * to the longest of the batch, with logits only at each answer position; the choice-letter
 * softmax, the metrics and the per-example scores come from eval_metrics.h. Results are stored
 * in the set's order. They are bit-identical whatever eval_batch, padding, rank or rank count:
 * psw_model_forward computes each sequence with exactly the operations of its solo forward.
 *
 * The caller reserves the model first (psw_model_reserve with B >= eval_batch, T >= the set's
 * max_len, P >= eval_batch). Scores are caller-owned arrays of n. */
#ifndef PSW_EVALUATE_H
#define PSW_EVALUATE_H

#include "psw/eval_metrics.h"
#include "psw/mcset.h"
#include "psw/model.h"

/* Order in which psw_evaluate visits examples: indices sorted by prompt length, longest first.
 * order: caller-owned (n). */
void psw_mc_length_order(const psw_mc_prompts *p, int32_t *order);

/* Scores every example of p (gold: (n) or NULL for none) into scores[n].
 * Errors: PSW_ERR_INVALID_ARG (eval_batch < 1), those of psw_model_forward and
 * psw_choice_scores_from_logits, PSW_ERR_NOMEM. */
psw_status psw_evaluate_scores(psw_model *m, const psw_mc_prompts *p, const int32_t *gold,
                               int eval_batch, psw_choice_scores *scores, psw_err *err);

/* Scores and metrics for a labeled or unlabeled set. scores may be NULL (then kept internally).
 * probs, if not NULL, receives (n, n_choices_max) choice probabilities, NaN-padded. */
psw_status psw_evaluate(psw_model *m, const psw_mc_set *set, int eval_batch,
                        psw_choice_scores *scores, float *probs, int n_choices_max,
                        psw_eval_metrics *metrics, psw_err *err);

#endif
