/* train.h: recovery training of a pruned student on multiple-choice prompts.
 *   CE  (L2PFT): cross-entropy of the gold letter at the answer position; reads labels only.
 *   KL  (L2PSD): T^2 * KL(teacher_T || student_T) over the full vocabulary at the answer
 *                position (or every prompt position), from the teacher cache; reads no labels.
 *   MIX:         alpha * CE + (1 - alpha) * KL.
 * The inputs make the separation structural: a CE run gets no cache, a KL run gets no labels
 * (psw_train refuses otherwise), so neither can read what it must not.
 * AdamW, linear warmup then cosine/linear decay, global-norm clipping, micro-batches with
 * gradient accumulation. A non-finite loss or gradient norm stops the run as diverged.
 * Ownership: everything is borrowed; the student is updated in place. */
#ifndef PSW_TRAIN_H
#define PSW_TRAIN_H

#include "psw/mcset.h"
#include "psw/model.h"
#include "psw/record.h"
#include "psw/teacher_cache.h"

typedef struct psw_train_settings {
    psw_loss_kind loss;
    double alpha;          /* MIX only */
    double temperature;    /* KL temperature */
    bool all_positions;    /* KL at every prompt position (KL only) */
    psw_adamw opt;         /* opt.lr is the peak learning rate */
    float lr_min;
    psw_schedule_kind schedule;
    long warmup_steps;     /* resolved (ratio * total already applied) */
    double warmup_ratio;   /* used when warmup_steps < 0 */
    int micro_batch, grad_accum;
    int epochs;            /* used when steps <= 0 */
    long steps;            /* optimizer steps; <= 0: run `epochs` epochs */
    unsigned trainable_groups; /* bit mask of psw_param_group */
    uint64_t shuffle_seed; /* order of epochs after the first */
} psw_train_settings;

typedef struct psw_train_data {
    const psw_mc_prompts *prompts;   /* the whole train split, label-free */
    const int32_t *gold;             /* (n) gold choice index: CE and MIX only, else NULL */
    const psw_teacher_cache *cache;  /* KL and MIX only, else NULL */
    const int32_t *subset;           /* (n_subset) recovery-set indices into prompts, in order */
    size_t n_subset;
} psw_train_data;

typedef struct psw_train_result {
    int64_t steps;
    double final_loss;                /* mean loss of the last optimizer step */
    float curve[PSW_CURVE_POINTS];    /* per-step losses, bucket-averaged */
    int n_curve;
    int64_t diverged_at;              /* step of divergence, -1 if none */
} psw_train_result;

/* Total optimizer steps the settings imply for n_subset examples. */
long psw_train_total_steps(const psw_train_settings *s, size_t n_subset);

/* Trains the student (reserved by the caller for B >= micro_batch, T >= prompts->max_len,
 * P >= micro_batch * (all_positions ? max_len : 1), training = true).
 * Errors: PSW_ERR_INVALID_ARG (inputs that break the CE/KL separation, bad settings),
 * PSW_ERR_NUMERIC (diverged; result filled up to that step), PSW_ERR_NOMEM, engine errors. */
psw_status psw_train(psw_model *student, const psw_train_settings *s, const psw_train_data *d,
                     psw_train_result *result, psw_err *err);

/* Down-samples n values into at most PSW_CURVE_POINTS bucket means. Returns the count. */
int psw_curve_downsample(const double *values, size_t n, float *out);

#endif
