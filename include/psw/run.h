/* run.h: one configuration's pipeline, prune -> recover -> evaluate, as plain MPI-free functions.
 *
 * A psw_run_context holds what a worker loads once and reuses for every configuration: the
 * unpruned teacher, the tokenizer, the train and test sets (prompted and tokenized once) and the
 * teacher-logits cache. psw_run_task runs one unit of work on it:
 *   TEACHER_CACHE     build the teacher cache file (needed by kl/mix runs)
 *   TEACHER_EVAL      evaluate the unpruned model (a reference row)
 *   UNRECOVERED_EVAL  prune to the retention and evaluate without recovery (a reference row)
 *   RECOVER           prune, train with ce/kl/mix on data_size examples drawn by seed, evaluate
 * `prunesweep recover` and the sweep worker both call it; gdb, valgrind and ASan work on it
 * without mpirun.
 *
 * Recovery set: the train split permuted by the seed, first data_size examples; so for one seed
 * smaller sets are prefixes of larger ones, and ce and kl see the same examples in the same order.
 *
 * Ownership: the caller owns the context struct (psw_run_context_close frees what is inside) and
 * the output struct (psw_run_output_free). The spec is borrowed and must outlive the context. */
#ifndef PSW_RUN_H
#define PSW_RUN_H

#include "psw/eval_metrics.h"
#include "psw/mcset.h"
#include "psw/model.h"
#include "psw/prompt.h"
#include "psw/record.h"
#include "psw/spec.h"
#include "psw/teacher_cache.h"
#include "psw/tokenizer.h"

typedef enum psw_task_kind {
    PSW_TASK_TEACHER_CACHE = 0,
    PSW_TASK_TEACHER_EVAL,
    PSW_TASK_UNRECOVERED_EVAL,
    PSW_TASK_RECOVER,
} psw_task_kind;

typedef struct psw_task {
    psw_task_kind kind;
    psw_spec_config config; /* retention for UNRECOVERED_EVAL; everything for RECOVER */
} psw_task;

typedef struct psw_run_context {
    const psw_spec *spec; /* borrowed */
    char *model_dir, *train_path, *test_path, *cache_path; /* owned, resolved */
    psw_model teacher;     /* read only: private, or borrowed from a node-shared arena */
    psw_tokenizer *tok;
    psw_mc_dataset train_ds, test_ds;
    psw_mc_set train, test;
    psw_prompt_settings prompt;
    psw_mc_example shots[PSW_PROMPT_MAX_SHOTS];
    int n_choices_max;     /* widest test question: axis 2 of the probabilities */
    uint64_t model_hash;   /* of the teacher weights */
    uint64_t cache_fingerprint;
    psw_teacher_cache *cache; /* opened on first use */
    int reserved_B, reserved_T; /* current activation reservation of the teacher */
} psw_run_context;

/* The directory the embedded default lives in: $PSW_DEFAULT_DIR, else
 * $HOME/.cache/prunesweep/default. Caller frees. */
char *psw_run_default_dir(void);

/* Loads the teacher, tokenizer and data and tokenizes them. cache_dir holds the teacher cache
 * (created if missing). threads: OpenBLAS threads (0 = leave as is).
 * Errors: every load error, each naming its file. */
psw_status psw_run_context_open(psw_run_context *ctx, const psw_spec *spec, const char *cache_dir,
                                int threads, psw_err *err);
/* As psw_run_context_open, but the teacher's parameters are `weights` (laid out as
 * psw_params_layout of the model's config.json, 64-byte aligned; n_weights 4-byte words: the
 * floats of an fp32 teacher, or psw_params_bytes rounded up to whole words for a teacher held in
 * bf16 (model.dtype_frozen "bf16": every group bf16, psw_run_teacher_bf16_groups)), already
 * loaded by someone else, e.g. the sweep's node-shared window: borrowed read-only, they must
 * outlive the context.
 * Only config.json is read from the model directory. weights NULL: psw_run_context_open.
 * Every task runs on such a context as on a private one (prune and clone copy out of it).
 * Errors: psw_run_context_open's; PSW_ERR_SHAPE when n_weights does not fit the config. */
psw_status psw_run_context_open_shared(psw_run_context *ctx, const psw_spec *spec,
                                       const char *cache_dir, int threads, const float *weights,
                                       size_t n_weights, psw_err *err);
/* Groups the worker's teacher stores as bf16: all of them when spec's model.dtype_frozen is
 * "bf16" (every teacher kind is frozen), else none. */
unsigned psw_run_teacher_bf16_groups(const psw_spec *spec);
/* Groups a student of spec stores as bf16: the frozen ones (not training.trainable) when
 * model.dtype_frozen is "bf16", else none. */
unsigned psw_run_student_bf16_groups(const psw_spec *spec);
/* The teacher checkpoint directory of spec: model.path, or the embedded default (built when
 * missing). *dir: caller frees. Errors: psw_default_ensure's; PSW_ERR_INVALID_ARG without a path. */
psw_status psw_run_model_dir(const psw_spec *spec, char **dir, psw_err *err);
void psw_run_context_close(psw_run_context *ctx);
/* Fingerprints for results files: model weights and tokenized data (hex strings, static size). */
void psw_run_fingerprints(const psw_run_context *ctx, char model_fp[17], char data_fp[17]);

typedef struct psw_run_output {
    psw_run_record rec; /* rec.probs and rec.loss_curve point into this struct */
    float *probs;       /* owned: (n_test, n_choices_max) */
    float curve[PSW_CURVE_POINTS];
} psw_run_output;

/* Runs one task. Returns PSW_OK when out->rec holds a row, whatever its status: a configuration
 * that fails (divergence, a bad setting) is a row with status diverged/failed and the message.
 * TEACHER_CACHE produces no row (out->rec.status is PSW_RUN_PENDING) and returns its error.
 * rank is stored in the row. */
psw_status psw_run_task(psw_run_context *ctx, const psw_task *task, int rank, psw_run_output *out,
                        psw_err *err);
void psw_run_output_free(psw_run_output *out);
/* As psw_run_task; for RECOVER and UNRECOVERED_EVAL, keep (if not NULL) receives the final
 * student model (caller frees with psw_model_free), e.g. to save it as a checkpoint. */
psw_status psw_run_task_keep(psw_run_context *ctx, const psw_task *task, int rank,
                             psw_model *keep, psw_run_output *out, psw_err *err);

/* The record as a JSON object (every scalar, the metrics and the reliability table; the
 * probabilities are left out). Caller frees with cJSON_Delete; NULL only on OOM. */
struct cJSON *psw_run_record_json(const psw_run_record *rec);

/* The recovery set: the first n of the train indices permuted by seed. idx: caller-owned (n). */
psw_status psw_run_recovery_set(size_t n_train, int64_t n, int64_t seed, int32_t *idx,
                                psw_err *err);

/* Config ids of the reference rows (stable: hashed from the settings). */
uint64_t psw_run_reference_id(const psw_spec *spec, psw_row_kind kind, double retention);

/* Estimated cost (arbitrary units proportional to FLOPs) of a task, for scheduling. */
double psw_run_task_cost(const psw_spec *spec, const psw_model_config *cfg, const psw_task *t,
                         size_t n_train, size_t n_test, int mean_prompt_len);

#endif
