/* spec.h: the experiment spec. One JSON file drives both `prunesweep recover --config EXP.json`
 * and `prunesweep run SPEC.json`. It is parsed with cJSON into plain C structs, validated strictly,
 * and its grid is expanded into a deterministic list of configurations, each with a stable
 * 64-bit config id. Every key, its type, range and default is documented in experiments/README.md
 * (tests/cli/test_spec_docs.sh checks that the two stay in sync through psw_spec_keys()).
 *
 * Strictness: unknown keys, duplicate keys, wrong types and out-of-range values are
 * PSW_ERR_INVALID_ARG with a one-line message "SOURCE: JSON.PATH: what is wrong", e.g.
 * "exp.json: grid.retention[3]: 1.5 is outside (0, 1]". Malformed JSON is PSW_ERR_FORMAT naming
 * the file, the line, the column and the byte offset.
 *
 * Paths: a relative path in the spec resolves relative to the directory of the spec file
 * (base_dir); absolute paths are kept. model.path "default" means the embedded default model built
 * by `prunesweep prepare-default` and is not resolved.
 *
 * Config id (what is hashed, exactly): psw_fnv1a(PSW_FNV_SEED) over the text
 *     SETTINGS "\n" CONFIG
 * where SETTINGS is psw_spec_settings_json(): the unformatted normalised JSON object
 *     {"model":{...},"data":{...},"prompt":{...},"pruning":{...},"training":{...}}
 * with every default filled in and the paths as written in the spec (not resolved, so moving an
 * experiment folder keeps its ids), and CONFIG is
 *     {"retention":R,"loss":"L","data_size":N,"seed":S}
 * with R printed as the shortest of %.15g / %.17g that reads back exactly. Not hashed: "name",
 * "comment", "output", "threads_per_rank" and the rest of the grid, so a config keeps its id when
 * the grid is reordered, extended or given other exclusions, and changes when any setting that can
 * change its result changes.
 *
 * Does not: read the model, data or tokenizer files, or check that paths exist (the run does);
 * build prompts (the prompt module does, from psw_spec_prompt).
 *
 * Ownership: psw_spec owns every string and array inside it; release with psw_spec_free.
 * Not thread-safe while being parsed (cJSON records parse errors in a global) or expanded;
 * read-only use from several threads is fine. */
#ifndef PSW_SPEC_H
#define PSW_SPEC_H

#include "psw/common.h"
#include "psw/model.h"  /* psw_schedule_kind */
#include "psw/prompt.h" /* PSW_PROMPT_MAX_SHOTS, PSW_PROMPT_OLMES_SHOTS */
#include "psw/prune.h"  /* psw_prune_score */
#include "psw/record.h" /* psw_loss_kind */

/* What the spec must contain. RUN (prunesweep run / validate): model.path, data.train and
 * data.test (both optional when model.path is "default"), and grid with retention and
 * data_size. RECOVER (prunesweep recover --config): nothing is required; a grid, if present, is
 * validated and expanded but the command line picks the configuration. */
typedef enum psw_spec_mode { PSW_SPEC_MODE_RECOVER = 0, PSW_SPEC_MODE_RUN = 1 } psw_spec_mode;

typedef enum psw_spec_dtype { PSW_SPEC_DTYPE_F32 = 0, PSW_SPEC_DTYPE_BF16 } psw_spec_dtype;
typedef enum psw_spec_template {
    PSW_SPEC_TEMPLATE_OLMES_MC = 0, /* lm-eval / OLMES multiple choice, scored on " A".." E" */
    PSW_SPEC_TEMPLATE_CUSTOM,       /* the four format strings below, set by the spec */
} psw_spec_template;
typedef enum psw_spec_loss_positions {
    PSW_SPEC_POSITIONS_ANSWER = 0, /* the answer position only */
    PSW_SPEC_POSITIONS_ALL_PROMPT, /* every prompt position (KL; CE stays on the answer) */
} psw_spec_loss_positions;
typedef enum psw_spec_trainable {
    PSW_SPEC_TRAINABLE_ALL = 0,
    PSW_SPEC_TRAINABLE_MLP
} psw_spec_trainable;
typedef enum psw_spec_teacher_cache {
    PSW_SPEC_CACHE_FP16 = 0, /* full vocabulary at the needed positions, in fp16 */
    PSW_SPEC_CACHE_TOPK,     /* top-k logits plus the remaining mass */
} psw_spec_teacher_cache;

/* How evaluation runs its batched forward (training.eval_forward). */
typedef enum psw_spec_eval_forward {
    PSW_SPEC_EVAL_PER_SEQUENCE = 0, /* GEMMs per sequence: bit-identical for any eval_batch
                                     * and thread count */
    PSW_SPEC_EVAL_BATCHED,          /* one GEMM over each batch: faster at small shapes; the
                                     * bits then depend on eval_batch (not on the rank) */
} psw_spec_eval_forward;

/* A path from the spec: raw as written (used for hashing and psw_spec_to_json), resolved against
 * the spec's directory (used to open files). Both NULL when absent; resolved is NULL for
 * model.path "default". Owned by the spec. */
typedef struct psw_spec_path {
    char *raw;
    char *resolved;
} psw_spec_path;

typedef struct psw_spec_model {
    psw_spec_path path;
    bool is_default;             /* path.raw is "default" */
    psw_spec_dtype dtype_frozen; /* storage of frozen (non-trainable) weights; default f32 */
} psw_spec_model;

typedef struct psw_spec_data {
    psw_spec_path train, test, dev; /* dev optional */
    int64_t limit_test;             /* 0 = all test examples */
} psw_spec_data;

/* Prompt settings, field for field what psw_prompt_settings (prompt.h) borrows: format,
 * choice_format, answer_format, shot_separator, chat and bos_token are copied as pointers, and
 * the shots come from psw_prompt_select_shots(train, shot_ids, n_shot_ids, shots, ...). For the
 * olmes_mc template the four format strings hold the OLMES values (the prompt module's
 * defaults), so the caller can always map the strings. */
#define PSW_SPEC_MAX_SHOTS PSW_PROMPT_MAX_SHOTS       /* 10 */
#define PSW_SPEC_BUILTIN_SHOTS PSW_PROMPT_OLMES_SHOTS /* 5: shots usable without shot_ids */
typedef struct psw_spec_prompt {
    psw_spec_template template_kind;
    int shots;           /* 0..PSW_SPEC_MAX_SHOTS; default 5 */
    char **shot_ids;     /* (n_shot_ids) example ids of the train split, or NULL */
    int n_shot_ids;      /* 0 or shots; 0 = the first `shots` built-in OLMES shots */
    char *chat;          /* wrapper containing "{prompt}" once, or NULL for none */
    char *bos_token;     /* token string whose id is prepended, or NULL for none */
    char *format;        /* contains {question} and {choices} once each */
    char *choice_format; /* contains {label} and {text} once each */
    char *answer_format; /* contains {label} once */
    char *shot_separator;
} psw_spec_prompt;

typedef struct psw_spec_pruning {
    psw_prune_score score;
    uint64_t seed; /* for the random score */
} psw_spec_pruning;

typedef struct psw_spec_training {
    psw_spec_loss_positions loss_positions;
    double temperature;    /* KL temperature, > 0 */
    double alpha;          /* loss "mix": alpha*CE + (1-alpha)*KL */
    double lr, lr_min;     /* peak and final learning rate; lr_min <= lr */
    bool has_warmup_steps; /* true: warmup_steps is used; false: warmup_ratio */
    int64_t warmup_steps;
    double warmup_ratio; /* of the total optimizer steps, [0, 1) */
    psw_schedule_kind schedule;
    double weight_decay, beta1, beta2, eps;
    double max_grad_norm; /* 0 disables clipping */
    int micro_batch, grad_accum;
    bool has_steps; /* true: train `steps` optimizer steps; false: `epochs` epochs */
    int epochs;
    int64_t steps;
    psw_spec_trainable trainable;
    int eval_batch;
    psw_spec_eval_forward eval_forward;
    int max_seq_len;
    psw_spec_teacher_cache teacher_cache;
    int topk; /* used only with teacher_cache topk */
} psw_spec_training;

/* One exclusion rule: a configuration matching every present key is excluded. */
typedef struct psw_spec_exclude {
    bool has_retention, has_loss, has_data_size, has_seed;
    double retention;
    psw_loss_kind loss;
    int64_t data_size;
    int64_t seed;
} psw_spec_exclude;

/* One configuration of the expanded grid. */
typedef struct psw_spec_config {
    size_t index; /* position in the expanded grid, 0..psw_spec_grid_count-1 */
    uint64_t id;  /* stable config id (see the top of this file) */
    double retention;
    psw_loss_kind loss;
    int64_t data_size;
    int64_t seed;
} psw_spec_config;

typedef struct psw_spec_grid {
    bool present;
    double *retention; /* (n_retention) owned */
    size_t n_retention;
    psw_loss_kind *loss; /* (n_loss) owned */
    size_t n_loss;
    int64_t *data_size; /* (n_data_size) owned */
    size_t n_data_size;
    int64_t *seed; /* (n_seed) owned */
    size_t n_seed;
    psw_spec_exclude *exclude; /* (n_exclude) owned */
    size_t n_exclude;
    size_t n_product;         /* product of the axis lengths */
    size_t n_excluded;        /* n_product - n_configs */
    psw_spec_config *configs; /* (n_configs) owned, row-major minus exclusions */
    size_t n_configs;
} psw_spec_grid;

typedef struct psw_spec {
    char *source;   /* file name used in messages */
    char *base_dir; /* directory relative paths resolve against ("" = as written) */
    char *name;
    char *comment; /* NULL when absent */
    psw_spec_model model;
    psw_spec_data data;
    psw_spec_prompt prompt;
    psw_spec_pruning pruning;
    psw_spec_training training;
    psw_spec_grid grid;
    psw_spec_path output;
    int threads_per_rank; /* 0 = auto (cores / workers) */
} psw_spec;

#define PSW_SPEC_MAX_CONFIGS 1000000 /* a larger grid product is rejected */
/* The chat wrapper `"chat": true` stands for (OLMo2 SFT). */
#define PSW_SPEC_CHAT_OLMO2 "<|endoftext|><|user|>\n{prompt}\n<|assistant|>\n"

/* Fills spec with every default (no grid, no paths, name "experiment", output "experiment.h5").
 * The spec owns what it allocates: call psw_spec_free. Used by `recover` without --config. */
void psw_spec_init_defaults(psw_spec *spec);

/* Parses and validates spec JSON text of len bytes. source names the file in messages; base_dir
 * (may be NULL or "") is where relative paths resolve. On success spec is filled, the grid (if
 * any) expanded, and the caller must psw_spec_free it; on failure spec holds nothing to free.
 * Errors: PSW_ERR_FORMAT (malformed JSON: line, column, byte offset), PSW_ERR_INVALID_ARG
 * (unknown or duplicate key, wrong type, out-of-range or duplicate value, missing required key). */
psw_status psw_spec_parse(const char *json, size_t len, const char *source, const char *base_dir,
                          psw_spec_mode mode, psw_spec *spec, psw_err *err);

/* Reads the file at path and parses it with base_dir = its directory. Errors: PSW_ERR_IO
 * (unreadable), PSW_ERR_NOMEM, and those of psw_spec_parse. */
psw_status psw_spec_load(const char *path, psw_spec_mode mode, psw_spec *spec, psw_err *err);

/* Frees everything the spec owns and zeroes it; safe on a zeroed spec. */
void psw_spec_free(psw_spec *spec);

/* (Re)computes grid.configs and their ids from the axes, exclusions and current settings.
 * Parse calls it; call it again after changing settings fields programmatically.
 * Errors: PSW_ERR_INVALID_ARG (more than PSW_SPEC_MAX_CONFIGS, an empty axis, everything
 * excluded, a config id collision), PSW_ERR_NOMEM. */
psw_status psw_spec_expand(psw_spec *spec, psw_err *err);

/* Number of configurations in the expanded grid (0 without a grid). */
size_t psw_spec_grid_count(const psw_spec *spec);
/* Copies configuration `index` (row-major order over retention, loss, data_size, seed, seed
 * fastest, skipping exclusions). Errors: PSW_ERR_INVALID_ARG (index out of range). */
psw_status psw_spec_grid_get(const psw_spec *spec, size_t index, psw_spec_config *config,
                             psw_err *err);
/* Finds the configuration with this id; false if none. */
bool psw_spec_grid_find(const psw_spec *spec, uint64_t id, size_t *index);

/* The config id of any (retention, loss, data_size, seed) under the spec's current settings, for
 * configurations given on the command line (recover). */
uint64_t psw_spec_config_id(const psw_spec *spec, double retention, psw_loss_kind loss,
                            int64_t data_size, int64_t seed);

/* The exact text hashed into config ids, for this configuration. Caller frees. */
char *psw_spec_config_id_text(const psw_spec *spec, double retention, psw_loss_kind loss,
                              int64_t data_size, int64_t seed);
/* The SETTINGS part of that text (see the top of this file). Caller frees. */
char *psw_spec_settings_json(const psw_spec *spec);

/* Normalised JSON of the whole spec with every default filled in, keys in documentation order,
 * paths as written; parsing it again (same base_dir) gives the same spec. For results files.
 * formatted: indented, otherwise one line. Caller frees. */
char *psw_spec_to_json(const psw_spec *spec, bool formatted);

/* Training examples one configuration processes (data_size * epochs, or steps * micro_batch *
 * grad_accum), the basis of the cost estimates. */
int64_t psw_spec_train_examples(const psw_spec *spec, const psw_spec_config *config);
/* Estimated tokens per prompt: (shots + 1) * PSW_SPEC_TOKENS_PER_QUESTION, capped at
 * max_seq_len. An estimate, not a measurement of the spec's data: with the OLMo2 tokenizer, the
 * OLMES question block of 100 CommonsenseQA dev questions is 42.9 tokens on average (33-69), and
 * the full 5-shot context 269.9 (260-296), i.e. about 45 per question. */
#define PSW_SPEC_TOKENS_PER_QUESTION 45
int64_t psw_spec_prompt_tokens_estimate(const psw_spec *spec);

/* Every key path the parser accepts, e.g. "training.lr", "grid.exclude[].loss"; NULL-terminated,
 * static. The single source for `prunesweep validate --list-keys` and the docs test. */
const char *const *psw_spec_keys(void);

/* Sets a path given on the command line (relative to the working directory): raw and resolved
 * both become a copy of path. Call psw_spec_expand afterwards if ids matter. */
void psw_spec_set_path(psw_spec_path *p, const char *path);
/* Sets model.path, handling "default" like the parser does. */
void psw_spec_set_model(psw_spec *spec, const char *path);

/* Parses a loss name ("ce", "kl", "mix"); false otherwise (PSW_LOSS_NONE is not a grid loss). */
bool psw_spec_loss_parse(const char *name, psw_loss_kind *out);

#endif
