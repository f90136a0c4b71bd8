/* record.h: one finished configuration, as the sweep stores it (one row of /runs) and as
 * `prunesweep recover` prints it. Plain value struct; array fields are borrowed views. */
#ifndef PSW_RECORD_H
#define PSW_RECORD_H

#include "psw/metrics.h"

/* Stored as integers in results files: append-only. */
typedef enum psw_run_status {
    PSW_RUN_PENDING = 0,
    PSW_RUN_OK = 1,
    PSW_RUN_DIVERGED = 2,
    PSW_RUN_FAILED = 3,
} psw_run_status;

typedef enum psw_loss_kind {
    PSW_LOSS_CE = 0,   /* L2PFT: cross-entropy on the gold letter */
    PSW_LOSS_KL = 1,   /* L2PSD: KL(teacher || student), no labels */
    PSW_LOSS_MIX = 2,  /* alpha * CE + (1 - alpha) * KL */
    PSW_LOSS_NONE = 3, /* reference rows: no recovery */
} psw_loss_kind;

/* What a row is: a recovered configuration, or one of the shared reference evaluations. */
typedef enum psw_row_kind {
    PSW_ROW_RECOVERED = 0,
    PSW_ROW_TEACHER = 1,     /* the unpruned model */
    PSW_ROW_UNRECOVERED = 2, /* pruned, before recovery (one per retention) */
} psw_row_kind;

#define PSW_HOST_SIZE 64
#define PSW_CURVE_POINTS 128 /* training-loss curve, down-sampled to at most this many points */

typedef struct psw_run_record {
    uint64_t config_id;
    psw_row_kind kind;
    double retention;
    psw_loss_kind loss;
    int64_t data_size;
    int64_t seed;
    psw_run_status status;
    char message[PSW_ERR_MSG_SIZE]; /* empty when ok */

    psw_eval_metrics metrics;

    int64_t mlp_neurons_kept, mlp_neurons_total; /* summed over layers */
    int64_t params_total, params_mlp, params_nonembed;
    double retention_mlp, retention_nonembed, retention_total; /* vs the unpruned model */

    int64_t train_steps;
    double final_loss; /* NaN when there was no training */
    double seconds_prune, seconds_train, seconds_eval;
    int32_t rank;
    char host[PSW_HOST_SIZE];
    double finish_time; /* Unix seconds */

    /* Borrowed arrays. probs: (n_examples, n_choices) with NaN for absent choices. */
    int32_t n_examples, n_choices;
    const float *probs;
    int32_t n_curve; /* <= PSW_CURVE_POINTS */
    const float *loss_curve;
} psw_run_record;

const char *psw_run_status_name(psw_run_status s); /* "pending", "ok", "diverged", "failed" */
const char *psw_loss_kind_name(psw_loss_kind k);   /* "ce", "kl", "mix", "none" */
const char *psw_row_kind_name(psw_row_kind k);     /* "recovered", "teacher", "unrecovered" */

#endif
