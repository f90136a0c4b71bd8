/* metrics.h: multiple-choice evaluation metrics from per-example choice probabilities.
 * Definitions and formulas: docs/metrics.md. All sums accumulate in double, in example order,
 * so results are deterministic. Plain value structs; no ownership. */
#ifndef PSW_METRICS_H
#define PSW_METRICS_H

#include "psw/common.h"

#define PSW_MAX_CHOICES 10
#define PSW_ECE_BINS 15

typedef struct psw_reliability {
    int n_bins;                       /* PSW_ECE_BINS, equal width over [0, 1] */
    long long count[PSW_ECE_BINS];    /* examples whose top-label confidence falls in the bin */
    double mean_conf[PSW_ECE_BINS];   /* NaN for an empty bin */
    double accuracy[PSW_ECE_BINS];    /* NaN for an empty bin */
} psw_reliability;

typedef struct psw_eval_metrics {
    long long n_examples; /* examples scored */
    long long n_labeled;  /* examples with a gold label (accuracy, NLL, Brier, ECE use these) */
    double accuracy;      /* argmax (ties -> lowest index) == gold */
    double entropy;       /* mean predictive entropy over choices, nats */
    double entropy_norm;  /* mean of entropy / log(K) */
    double nll;           /* mean -log p(gold) */
    double brier;         /* mean sum_k (p_k - [k == gold])^2, in [0, 2] */
    double ece, mce;      /* expected / maximum calibration error over PSW_ECE_BINS bins */
    double choice_mass;   /* mean full-vocabulary probability on the choice letters */
    psw_reliability reliability;
} psw_eval_metrics;

#endif
