/* eval_metrics.h: from the logits at the answer position to choice probabilities, and from
 * per-example choice probabilities to psw_eval_metrics (metrics.h). Formulas, bin edges and the
 * handling of ties and empty bins: docs/metrics.md (the code follows it exactly).
 *
 * Pipeline the evaluator runs per example:
 *   logits[V] at the answer position + letter ids (prompt.h)
 *     -> psw_choice_scores_from_logits -> psw_choice_scores (also what --predictions writes)
 *   all examples -> psw_eval_metrics_compute -> psw_eval_metrics.
 *
 * What it does not do: no model calls, no I/O. All sums are in double, in example (or
 * vocabulary) order, so results do not depend on threads or batching.
 *
 * Ownership: plain value structs; inputs are borrowed; psw_eval_metrics_json returns a cJSON
 * tree owned by the caller. */
#ifndef PSW_EVAL_METRICS_H
#define PSW_EVAL_METRICS_H

#include <cjson/cJSON.h>

#include "psw/common.h"
#include "psw/metrics.h"

/* Tolerances of the input checks of psw_eval_metrics_compute. */
#define PSW_PROB_SUM_TOL 1e-6

typedef struct psw_choice_scores {
    int n_choices;                        /* K, 2..PSW_MAX_CHOICES */
    int gold;                             /* 0..K-1, or -1 when unlabeled */
    double prob[PSW_MAX_CHOICES];         /* [K] softmax over the K letter logits */
    double logprob_full[PSW_MAX_CHOICES]; /* [K] log softmax over the whole vocabulary, at the
                                             letter ids */
    double choice_mass;                   /* sum_k exp(logprob_full[k]), in [0, 1] */
} psw_choice_scores;

/* Scores one example from its answer-position logits. logits: [V] (V = vocab), fp32;
 * letter_ids: [K] distinct ids in 0..V-1. Everything is computed in double: the letter softmax
 * with the letters' max subtracted, the full log-sum-exp with the vocabulary max subtracted and
 * the sum in vocabulary order. Errors: PSW_ERR_INVALID_ARG (K out of range, gold out of -1..K-1,
 * a letter id out of range or repeated), PSW_ERR_NUMERIC (a non-finite logit, naming its index). */
psw_status psw_choice_scores_from_logits(const float *logits, size_t vocab,
                                         const int32_t *letter_ids, int n_choices, int gold,
                                         psw_choice_scores *out, psw_err *err);

/* Index of the largest of p[0..k); ties go to the lowest index. */
int psw_choice_argmax(const double *p, int k);

/* Computes every metric of psw_eval_metrics over scores[0..n). Accuracy, NLL, Brier, ECE, MCE
 * and the reliability table use the labeled examples only (NaN, and empty bins, when there are
 * none); entropy and choice mass use all examples. Errors: PSW_ERR_INVALID_ARG naming the
 * example index: n == 0, K out of range, gold out of range, a probability that is not finite or
 * outside [0, 1], probabilities summing further than PSW_PROB_SUM_TOL from 1, a choice mass not
 * in [0, 1 + PSW_PROB_SUM_TOL]. */
psw_status psw_eval_metrics_compute(const psw_choice_scores *scores, size_t n,
                                    psw_eval_metrics *out, psw_err *err);

/* The metrics as a JSON object: n_examples, n_labeled, accuracy, entropy, entropy_norm, nll,
 * brier, ece, mce, choice_mass, ece_bins, reliability {count, mean_conf, accuracy} (arrays of
 * ece_bins). NaN is written as null. Caller frees with cJSON_Delete; NULL only on OOM. */
cJSON *psw_eval_metrics_json(const psw_eval_metrics *m);

/* One --predictions line: {"id", "gold" (index, -1 unlabeled), "labels" [K], "prob" [K],
 * "logprob_full" [K], "choice_mass"}. id and labels ([K] strings) are copied. Non-finite numbers
 * are written as null. Caller frees with cJSON_Delete; NULL only on OOM. */
cJSON *psw_choice_scores_json(const char *id, const char *const *labels,
                              const psw_choice_scores *s);

#endif
