/* spec.c: experiment spec parsing (cJSON), strict validation, normalised JSON, grid expansion
 * and config ids. See include/psw/spec.h and experiments/README.md. */
#include "psw/spec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the accepted keys: one X-macro list per object, for validation and psw_spec_keys ---- */

/* clang-format off */
#define TOP_KEYS(X) X("name") X("comment") X("model") X("data") X("prompt") X("pruning") \
    X("training") X("grid") X("output") X("threads_per_rank")
#define MODEL_KEYS(X) X("path") X("dtype_frozen")
#define DATA_KEYS(X) X("train") X("test") X("dev") X("limit_test")
#define PROMPT_KEYS(X) X("template") X("shots") X("shot_ids") X("chat") X("bos_token") \
    X("format") X("choice_format") X("answer_format") X("shot_separator")
#define PRUNING_KEYS(X) X("score") X("seed")
#define TRAINING_KEYS(X) X("loss_positions") X("temperature") X("alpha") X("lr") X("lr_min") \
    X("warmup_steps") X("warmup_ratio") X("schedule") X("weight_decay") X("beta1") X("beta2") \
    X("eps") X("max_grad_norm") X("micro_batch") X("grad_accum") X("epochs") X("steps") \
    X("trainable") X("eval_batch") X("eval_forward") X("max_seq_len") X("teacher_cache") X("topk")
#define GRID_KEYS(X) X("retention") X("loss") X("data_size") X("seed") X("exclude")
#define EXCLUDE_KEYS(X) X("retention") X("loss") X("data_size") X("seed")
/* clang-format on */

#define AS_KEY(k) k,
static const char *const top_keys[] = {TOP_KEYS(AS_KEY) NULL};
static const char *const model_keys[] = {MODEL_KEYS(AS_KEY) NULL};
static const char *const data_keys[] = {DATA_KEYS(AS_KEY) NULL};
static const char *const prompt_keys[] = {PROMPT_KEYS(AS_KEY) NULL};
static const char *const pruning_keys[] = {PRUNING_KEYS(AS_KEY) NULL};
static const char *const training_keys[] = {TRAINING_KEYS(AS_KEY) NULL};
static const char *const grid_keys[] = {GRID_KEYS(AS_KEY) NULL};
static const char *const exclude_keys[] = {EXCLUDE_KEYS(AS_KEY) NULL};
#undef AS_KEY

#define TOP_PATH(k) k,
#define MODEL_PATH(k) "model." k,
#define DATA_PATH(k) "data." k,
#define PROMPT_PATH(k) "prompt." k,
#define PRUNING_PATH(k) "pruning." k,
#define TRAINING_PATH(k) "training." k,
#define GRID_PATH(k) "grid." k,
#define EXCLUDE_PATH(k) "grid.exclude[]." k,
/* clang-format off */
static const char *const all_key_paths[] = {
    TOP_KEYS(TOP_PATH) MODEL_KEYS(MODEL_PATH) DATA_KEYS(DATA_PATH) PROMPT_KEYS(PROMPT_PATH)
    PRUNING_KEYS(PRUNING_PATH) TRAINING_KEYS(TRAINING_PATH) GRID_KEYS(GRID_PATH)
    EXCLUDE_KEYS(EXCLUDE_PATH) NULL};
/* clang-format on */

const char *const *psw_spec_keys(void) { return all_key_paths; }

/* ---- names of enumerated values (index = enum value) ---- */

static const char *const dtype_names[] = {"f32", "bf16", NULL};
static const char *const template_names[] = {"olmes_mc", "custom", NULL};
static const char *const score_names[] = {"l2", "down", "gate_up", "random", NULL};
static const char *const positions_names[] = {"answer", "all_prompt", NULL};
static const char *const schedule_names[] = {"cosine", "linear", NULL};
static const char *const trainable_names[] = {"all", "mlp", NULL};
static const char *const cache_names[] = {"fp16", "topk", NULL};
static const char *const eval_forward_names[] = {"per_sequence", "batched", NULL};
static const char *const loss_names[] = {"ce", "kl", "mix", NULL}; /* = PSW_LOSS_CE.. MIX */

/* The OLMES multiple-choice format (lm-eval "Question: ...\n A. ...\nAnswer:", scored on " A"). */
#define OLMES_FORMAT "Question: {question}{choices}\nAnswer:"
#define OLMES_CHOICE_FORMAT "\n {label}. {text}"
#define OLMES_ANSWER_FORMAT " {label}"
#define OLMES_SHOT_SEPARATOR "\n\n"

#define MAX_SAFE_INT 9007199254740992LL /* 2^53: the largest exactly representable in a double */
#define INT31_MAX 2147483647LL

bool psw_spec_loss_parse(const char *name, psw_loss_kind *out) {
    for (int i = 0; loss_names[i]; i++)
        if (strcmp(name, loss_names[i]) == 0) {
            *out = (psw_loss_kind)i;
            return true;
        }
    return false;
}

/* ---- small helpers ---- */

/* Shortest of %.15g / %.17g that reads back exactly: 0.1 prints as "0.1", not 0.10000000000000001.
 */
static void fmt_num(char *buf, size_t size, double v) {
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, size, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, size, "%.17g", v);
}

static const char *type_name(const cJSON *item) {
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsNull(item)) return "null";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    return "an invalid value";
}

static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Parse context: every validation error is "SOURCE: PATH: message". */
typedef struct pctx {
    const char *source;
    psw_err *err;
} pctx;

static psw_status fail_at(pctx *c, const char *path, const char *fmt, ...) PSW_PRINTF(3, 4);
static psw_status fail_at(pctx *c, const char *path, const char *fmt, ...) {
    char msg[PSW_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return PSW_FAIL(c->err, PSW_ERR_INVALID_ARG, "%s: %s: %s", c->source, path, msg);
}

static void join_path(char *out, size_t size, const char *parent, const char *key) {
    if (parent[0])
        snprintf(out, size, "%s.%s", parent, key);
    else
        snprintf(out, size, "%s", key);
}

#define PATH_SIZE 192

/* Rejects unknown and duplicate keys of object `obj` at `path`. */
static psw_status check_keys(pctx *c, const cJSON *obj, const char *path,
                             const char *const *allowed) {
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        char p[PATH_SIZE];
        join_path(p, sizeof p, path, item->string);
        bool known = false;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(item->string, allowed[i]) == 0) known = true;
        if (!known) {
            const char *best = NULL;
            size_t best_d = 3;
            for (int i = 0; allowed[i]; i++) {
                size_t d = edit_distance(item->string, allowed[i]);
                if (d < best_d) {
                    best_d = d;
                    best = allowed[i];
                }
            }
            if (best) return fail_at(c, p, "unknown key (did you mean \"%s\"?)", best);
            /* A section key at the top level, e.g. "lr" or "exclude": name its section. */
            if (!path[0])
                for (const char *const *k = all_key_paths; *k; k++) {
                    const char *dot = strrchr(*k, '.');
                    if (dot && strcmp(dot + 1, item->string) == 0)
                        return fail_at(c, p, "unknown key (did you mean \"%s\"?)", *k);
                }
            return fail_at(c, p, "unknown key");
        }
        for (const cJSON *prev = obj->child; prev != item; prev = prev->next)
            if (strcmp(prev->string, item->string) == 0) return fail_at(c, p, "duplicate key");
    }
    return PSW_OK;
}

/* Gets obj[key] when it is present; an absent key leaves *out untouched. Type mismatches fail.
 * `obj` may be NULL (section absent): every key is then absent. */
static psw_status get_object(pctx *c, const cJSON *obj, const char *parent, const char *key,
                             const cJSON **out) {
    *out = NULL;
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, parent, key);
    if (!cJSON_IsObject(item)) return fail_at(c, p, "expected an object, got %s", type_name(item));
    *out = item;
    return PSW_OK;
}

static psw_status get_string(pctx *c, const cJSON *obj, const char *parent, const char *key,
                             bool allow_empty, char **out, bool *present) {
    *present = false;
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, parent, key);
    if (!cJSON_IsString(item) || !item->valuestring)
        return fail_at(c, p, "expected a string, got %s", type_name(item));
    if (!allow_empty && item->valuestring[0] == '\0') return fail_at(c, p, "must not be empty");
    free(*out);
    *out = psw_xstrdup(item->valuestring);
    *present = true;
    return PSW_OK;
}

/* Range bounds for a number: lo/hi with open or closed ends; +-INFINITY for none. */
typedef struct range {
    double lo, hi;
    bool lo_open, hi_open;
} range;

static void fmt_range(char *buf, size_t size, range r) {
    char lo[40], hi[40];
    fmt_num(lo, sizeof lo, r.lo);
    fmt_num(hi, sizeof hi, r.hi);
    snprintf(buf, size, "%c%s, %s%c", r.lo_open ? '(' : '[', lo, hi, r.hi_open ? ')' : ']');
}

static bool in_range(double v, range r) {
    if (!isfinite(v)) return false;
    if (r.lo_open ? !(v > r.lo) : !(v >= r.lo)) return false;
    if (r.hi_open ? !(v < r.hi) : !(v <= r.hi)) return false;
    return true;
}

static psw_status check_number(pctx *c, const cJSON *item, const char *p, range r, double *out) {
    if (!cJSON_IsNumber(item)) return fail_at(c, p, "expected a number, got %s", type_name(item));
    double v = item->valuedouble;
    if (!in_range(v, r)) {
        char vs[40], rs[96];
        fmt_num(vs, sizeof vs, v);
        fmt_range(rs, sizeof rs, r);
        return fail_at(c, p, "%s is outside %s", vs, rs);
    }
    *out = v;
    return PSW_OK;
}

static psw_status check_int(pctx *c, const cJSON *item, const char *p, int64_t lo, int64_t hi,
                            int64_t *out) {
    if (!cJSON_IsNumber(item)) return fail_at(c, p, "expected an integer, got %s", type_name(item));
    double v = item->valuedouble;
    char vs[40];
    fmt_num(vs, sizeof vs, v);
    if (!isfinite(v) || floor(v) != v) return fail_at(c, p, "%s is not an integer", vs);
    if (v < (double)lo || v > (double)hi)
        return fail_at(c, p, "%s is outside [%lld, %lld]", vs, (long long)lo, (long long)hi);
    *out = (int64_t)v;
    return PSW_OK;
}

static psw_status get_number(pctx *c, const cJSON *obj, const char *parent, const char *key,
                             range r, double *out, bool *present) {
    if (present) *present = false;
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, parent, key);
    psw_status st = check_number(c, item, p, r, out);
    if (st == PSW_OK && present) *present = true;
    return st;
}

static psw_status get_int(pctx *c, const cJSON *obj, const char *parent, const char *key,
                          int64_t lo, int64_t hi, int64_t *out, bool *present) {
    if (present) *present = false;
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, parent, key);
    psw_status st = check_int(c, item, p, lo, hi, out);
    if (st == PSW_OK && present) *present = true;
    return st;
}

static psw_status get_int32(pctx *c, const cJSON *obj, const char *parent, const char *key,
                            int64_t lo, int64_t hi, int *out, bool *present) {
    int64_t v = 0;
    bool have = false;
    psw_status st = get_int(c, obj, parent, key, lo, hi, &v, &have);
    if (st == PSW_OK && have) *out = (int)v;
    if (present) *present = have;
    return st;
}

static psw_status check_enum(pctx *c, const cJSON *item, const char *p, const char *const *names,
                             int *out) {
    if (!cJSON_IsString(item) || !item->valuestring)
        return fail_at(c, p, "expected a string, got %s", type_name(item));
    for (int i = 0; names[i]; i++)
        if (strcmp(item->valuestring, names[i]) == 0) {
            *out = i;
            return PSW_OK;
        }
    char list[160] = "";
    size_t at = 0;
    for (int i = 0; names[i] && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s\"%s\"", i ? ", " : "", names[i]);
    return fail_at(c, p, "\"%s\" is not one of %s", item->valuestring, list);
}

static psw_status get_enum(pctx *c, const cJSON *obj, const char *parent, const char *key,
                           const char *const *names, int *out) {
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!item) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, parent, key);
    return check_enum(c, item, p, names, out);
}

static char *resolve_path(const char *base_dir, const char *raw) {
    if (raw[0] == '/' || !base_dir || !base_dir[0]) return psw_xstrdup(raw);
    return psw_path_join(base_dir, raw);
}

static psw_status get_path(pctx *c, const cJSON *obj, const char *parent, const char *key,
                           const char *base_dir, psw_spec_path *out) {
    char *raw = NULL;
    bool present = false;
    psw_status st = get_string(c, obj, parent, key, false, &raw, &present);
    if (st != PSW_OK || !present) return st;
    free(out->raw);
    free(out->resolved);
    out->raw = raw;
    out->resolved = resolve_path(base_dir, raw);
    return PSW_OK;
}

static void path_free(psw_spec_path *p) {
    free(p->raw);
    free(p->resolved);
    p->raw = p->resolved = NULL;
}

/* Checks a format string's placeholders the way the prompt module substitutes them: each name in
 * `names` must appear as "{name}" exactly once; any other brace is literal text. */
static psw_status check_placeholders(pctx *c, const char *p, const char *s,
                                     const char *const *names) {
    for (int i = 0; names[i]; i++) {
        char ph[32];
        snprintf(ph, sizeof ph, "{%s}", names[i]);
        int count = 0;
        for (const char *q = strstr(s, ph); q; q = strstr(q + strlen(ph), ph)) count++;
        if (count != 1)
            return fail_at(c, p, "%s appears %d times, expected exactly once", ph, count);
    }
    return PSW_OK;
}

/* ---- defaults ---- */

static void set_prompt_olmes(psw_spec_prompt *pr) {
    free(pr->format);
    free(pr->choice_format);
    free(pr->answer_format);
    free(pr->shot_separator);
    pr->format = psw_xstrdup(OLMES_FORMAT);
    pr->choice_format = psw_xstrdup(OLMES_CHOICE_FORMAT);
    pr->answer_format = psw_xstrdup(OLMES_ANSWER_FORMAT);
    pr->shot_separator = psw_xstrdup(OLMES_SHOT_SEPARATOR);
}

/* Default name: the spec file's base name without ".json"; "experiment" if that is not a
 * valid name. */
static bool valid_name(const char *s) {
    if (!s[0] || strlen(s) > 128) return false;
    for (const char *q = s; *q; q++) {
        char ch = *q;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

static char *default_name(const char *source) {
    if (!source) return psw_xstrdup("experiment");
    const char *slash = strrchr(source, '/');
    const char *base = slash ? slash + 1 : source;
    char *name = psw_xstrdup(base);
    size_t n = strlen(name);
    if (n > 5 && strcmp(name + n - 5, ".json") == 0) name[n - 5] = '\0';
    if (!valid_name(name)) {
        free(name);
        name = psw_xstrdup("experiment");
    }
    return name;
}

void psw_spec_init_defaults(psw_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->source = psw_xstrdup("(defaults)");
    spec->base_dir = psw_xstrdup("");
    spec->name = psw_xstrdup("experiment");
    spec->model.dtype_frozen = PSW_SPEC_DTYPE_F32;
    spec->data.limit_test = 0;
    spec->prompt.template_kind = PSW_SPEC_TEMPLATE_OLMES_MC;
    spec->prompt.shots = PSW_SPEC_BUILTIN_SHOTS;
    set_prompt_olmes(&spec->prompt);
    spec->pruning.score = PSW_PRUNE_L2;
    spec->pruning.seed = 0;
    psw_spec_training *t = &spec->training;
    t->loss_positions = PSW_SPEC_POSITIONS_ANSWER;
    t->temperature = 1.0;
    t->alpha = 0.5;
    t->lr = 1e-4;
    t->lr_min = 0.0;
    t->has_warmup_steps = false;
    t->warmup_steps = 0;
    t->warmup_ratio = 0.1;
    t->schedule = PSW_SCHEDULE_COSINE;
    t->weight_decay = 0.0;
    t->beta1 = 0.9;
    t->beta2 = 0.999;
    t->eps = 1e-8;
    t->max_grad_norm = 1.0;
    t->micro_batch = 8;
    t->grad_accum = 1;
    t->has_steps = false;
    t->epochs = 1;
    t->steps = 0;
    t->trainable = PSW_SPEC_TRAINABLE_ALL;
    t->eval_batch = 16;
    t->max_seq_len = 1024;
    t->teacher_cache = PSW_SPEC_CACHE_FP16;
    t->topk = 64;
    spec->output.raw = psw_xstrdup("experiment.h5");
    spec->output.resolved = psw_xstrdup("experiment.h5");
    spec->threads_per_rank = 0;
}

void psw_spec_free(psw_spec *spec) {
    if (!spec) return;
    free(spec->source);
    free(spec->base_dir);
    free(spec->name);
    free(spec->comment);
    path_free(&spec->model.path);
    path_free(&spec->data.train);
    path_free(&spec->data.test);
    path_free(&spec->data.dev);
    for (int i = 0; i < spec->prompt.n_shot_ids; i++) free(spec->prompt.shot_ids[i]);
    free(spec->prompt.shot_ids);
    free(spec->prompt.chat);
    free(spec->prompt.bos_token);
    free(spec->prompt.format);
    free(spec->prompt.choice_format);
    free(spec->prompt.answer_format);
    free(spec->prompt.shot_separator);
    free(spec->grid.retention);
    free(spec->grid.loss);
    free(spec->grid.data_size);
    free(spec->grid.seed);
    free(spec->grid.exclude);
    free(spec->grid.configs);
    path_free(&spec->output);
    memset(spec, 0, sizeof *spec);
}

/* ---- sections ---- */

static psw_status parse_model(pctx *c, const cJSON *obj, const char *base_dir, psw_spec *s) {
    psw_status st;
    if (obj && (st = check_keys(c, obj, "model", model_keys)) != PSW_OK) return st;
    char *raw = NULL;
    bool present = false;
    if ((st = get_string(c, obj, "model", "path", false, &raw, &present)) != PSW_OK) return st;
    if (present) {
        s->model.path.raw = raw;
        s->model.is_default = strcmp(raw, "default") == 0;
        s->model.path.resolved = s->model.is_default ? NULL : resolve_path(base_dir, raw);
    }
    int v = (int)s->model.dtype_frozen;
    if ((st = get_enum(c, obj, "model", "dtype_frozen", dtype_names, &v)) != PSW_OK) return st;
    s->model.dtype_frozen = (psw_spec_dtype)v;
    return PSW_OK;
}

static psw_status parse_data(pctx *c, const cJSON *obj, const char *base_dir, psw_spec *s) {
    psw_status st;
    if (obj && (st = check_keys(c, obj, "data", data_keys)) != PSW_OK) return st;
    if ((st = get_path(c, obj, "data", "train", base_dir, &s->data.train)) != PSW_OK) return st;
    if ((st = get_path(c, obj, "data", "test", base_dir, &s->data.test)) != PSW_OK) return st;
    if ((st = get_path(c, obj, "data", "dev", base_dir, &s->data.dev)) != PSW_OK) return st;
    return get_int(c, obj, "data", "limit_test", 0, INT31_MAX, &s->data.limit_test, NULL);
}

static psw_status parse_prompt(pctx *c, const cJSON *obj, psw_spec *s) {
    psw_status st;
    psw_spec_prompt *pr = &s->prompt;
    if (obj && (st = check_keys(c, obj, "prompt", prompt_keys)) != PSW_OK) return st;
    int v = (int)pr->template_kind;
    if ((st = get_enum(c, obj, "prompt", "template", template_names, &v)) != PSW_OK) return st;
    pr->template_kind = (psw_spec_template)v;
    bool has_shots = false;
    if ((st = get_int32(c, obj, "prompt", "shots", 0, PSW_SPEC_MAX_SHOTS, &pr->shots,
                        &has_shots)) != PSW_OK)
        return st;

    const cJSON *ids = obj ? cJSON_GetObjectItemCaseSensitive(obj, "shot_ids") : NULL;
    if (ids) {
        if (!cJSON_IsArray(ids))
            return fail_at(c, "prompt.shot_ids", "expected an array, got %s", type_name(ids));
        int n = cJSON_GetArraySize(ids);
        if (!has_shots) {
            if (n > PSW_SPEC_MAX_SHOTS)
                return fail_at(c, "prompt.shot_ids", "%d ids, at most %d shots are allowed", n,
                               PSW_SPEC_MAX_SHOTS);
            pr->shots = n;
        }
        if (n != pr->shots)
            return fail_at(c, "prompt.shot_ids", "%d ids but prompt.shots is %d", n, pr->shots);
        pr->shot_ids = psw_xcalloc((size_t)(n > 0 ? n : 1), sizeof *pr->shot_ids);
        const cJSON *item;
        int i = 0;
        cJSON_ArrayForEach(item, ids) {
            char p[PATH_SIZE];
            snprintf(p, sizeof p, "prompt.shot_ids[%d]", i);
            if (!cJSON_IsString(item) || !item->valuestring)
                return fail_at(c, p, "expected a string, got %s", type_name(item));
            if (!item->valuestring[0]) return fail_at(c, p, "must not be empty");
            for (int j = 0; j < i; j++)
                if (strcmp(pr->shot_ids[j], item->valuestring) == 0)
                    return fail_at(c, p, "\"%s\" duplicates prompt.shot_ids[%d]", item->valuestring,
                                   j);
            pr->shot_ids[i++] = psw_xstrdup(item->valuestring);
            pr->n_shot_ids = i;
        }
    }

    if (pr->n_shot_ids == 0 && pr->shots > PSW_SPEC_BUILTIN_SHOTS)
        return fail_at(c, "prompt.shots",
                       "%d shots need prompt.shot_ids (there are %d built-in OLMES shots)",
                       pr->shots, PSW_SPEC_BUILTIN_SHOTS);

    const cJSON *bos = obj ? cJSON_GetObjectItemCaseSensitive(obj, "bos_token") : NULL;
    if (bos && !cJSON_IsNull(bos)) {
        bool present = false;
        if ((st = get_string(c, obj, "prompt", "bos_token", false, &pr->bos_token, &present)) !=
            PSW_OK)
            return st;
    }

    const cJSON *chat = obj ? cJSON_GetObjectItemCaseSensitive(obj, "chat") : NULL;
    if (chat) {
        if (cJSON_IsBool(chat)) {
            pr->chat = cJSON_IsTrue(chat) ? psw_xstrdup(PSW_SPEC_CHAT_OLMO2) : NULL;
        } else if (cJSON_IsString(chat) && chat->valuestring) {
            static const char *const names[] = {"prompt", NULL};
            if ((st = check_placeholders(c, "prompt.chat", chat->valuestring, names)) != PSW_OK)
                return st;
            pr->chat = psw_xstrdup(chat->valuestring);
        } else {
            return fail_at(c, "prompt.chat", "expected a boolean or a string, got %s",
                           type_name(chat));
        }
    }

    static const char *const fmt_names[] = {"question", "choices", NULL};
    static const char *const choice_names[] = {"label", "text", NULL};
    static const char *const answer_names[] = {"label", NULL};
    static const char *const no_names[] = {NULL};
    struct {
        const char *key;
        char **field;
        const char *const *names;
    } fmts[] = {
        {"format", &pr->format, fmt_names},
        {"choice_format", &pr->choice_format, choice_names},
        {"answer_format", &pr->answer_format, answer_names},
        {"shot_separator", &pr->shot_separator, no_names},
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, fmts[i].key) : NULL;
        if (!item) continue;
        char p[PATH_SIZE];
        join_path(p, sizeof p, "prompt", fmts[i].key);
        if (pr->template_kind != PSW_SPEC_TEMPLATE_CUSTOM)
            return fail_at(c, p, "only allowed with \"template\": \"custom\"");
        bool present = false;
        if ((st = get_string(c, obj, "prompt", fmts[i].key, true, fmts[i].field, &present)) !=
            PSW_OK)
            return st;
        if ((st = check_placeholders(c, p, *fmts[i].field, fmts[i].names)) != PSW_OK) return st;
    }
    return PSW_OK;
}

static psw_status parse_pruning(pctx *c, const cJSON *obj, psw_spec *s) {
    psw_status st;
    if (obj && (st = check_keys(c, obj, "pruning", pruning_keys)) != PSW_OK) return st;
    int v = (int)s->pruning.score;
    if ((st = get_enum(c, obj, "pruning", "score", score_names, &v)) != PSW_OK) return st;
    s->pruning.score = (psw_prune_score)v;
    int64_t seed = (int64_t)s->pruning.seed;
    if ((st = get_int(c, obj, "pruning", "seed", 0, MAX_SAFE_INT, &seed, NULL)) != PSW_OK)
        return st;
    s->pruning.seed = (uint64_t)seed;
    return PSW_OK;
}

static const range R_POSITIVE = {0.0, INFINITY, true, true}; /* (0, inf) */
static const range R_NONNEG = {0.0, INFINITY, false, true};  /* [0, inf) */
static const range R_UNIT = {0.0, 1.0, false, false};        /* [0, 1] */
static const range R_UNIT_HALF = {0.0, 1.0, false, true};    /* [0, 1) */
static const range R_RETENTION = {0.0, 1.0, true, false};    /* (0, 1] */

static psw_status parse_training(pctx *c, const cJSON *obj, psw_spec *s) {
    psw_status st;
    psw_spec_training *t = &s->training;
    const char *P = "training";
    if (obj && (st = check_keys(c, obj, P, training_keys)) != PSW_OK) return st;
    int v;
    v = (int)t->loss_positions;
    if ((st = get_enum(c, obj, P, "loss_positions", positions_names, &v)) != PSW_OK) return st;
    t->loss_positions = (psw_spec_loss_positions)v;
    if ((st = get_number(c, obj, P, "temperature", R_POSITIVE, &t->temperature, NULL)) != PSW_OK)
        return st;
    if ((st = get_number(c, obj, P, "alpha", R_UNIT, &t->alpha, NULL)) != PSW_OK) return st;
    if ((st = get_number(c, obj, P, "lr", R_POSITIVE, &t->lr, NULL)) != PSW_OK) return st;
    if ((st = get_number(c, obj, P, "lr_min", R_NONNEG, &t->lr_min, NULL)) != PSW_OK) return st;
    if (t->lr_min > t->lr) {
        char a[40], b[40];
        fmt_num(a, sizeof a, t->lr_min);
        fmt_num(b, sizeof b, t->lr);
        return fail_at(c, "training.lr_min", "%s exceeds training.lr (%s)", a, b);
    }
    bool has_ws = false, has_wr = false;
    if ((st = get_int(c, obj, P, "warmup_steps", 0, INT31_MAX, &t->warmup_steps, &has_ws)) !=
        PSW_OK)
        return st;
    if ((st = get_number(c, obj, P, "warmup_ratio", R_UNIT_HALF, &t->warmup_ratio, &has_wr)) !=
        PSW_OK)
        return st;
    if (has_ws && has_wr)
        return fail_at(c, P, "\"warmup_steps\" and \"warmup_ratio\" are exclusive; give one");
    if (has_ws) {
        t->has_warmup_steps = true;
        t->warmup_ratio = 0.0;
    }
    v = (int)t->schedule;
    if ((st = get_enum(c, obj, P, "schedule", schedule_names, &v)) != PSW_OK) return st;
    t->schedule = (psw_schedule_kind)v;
    if ((st = get_number(c, obj, P, "weight_decay", R_NONNEG, &t->weight_decay, NULL)) != PSW_OK)
        return st;
    if ((st = get_number(c, obj, P, "beta1", R_UNIT_HALF, &t->beta1, NULL)) != PSW_OK) return st;
    if ((st = get_number(c, obj, P, "beta2", R_UNIT_HALF, &t->beta2, NULL)) != PSW_OK) return st;
    if ((st = get_number(c, obj, P, "eps", R_POSITIVE, &t->eps, NULL)) != PSW_OK) return st;
    if ((st = get_number(c, obj, P, "max_grad_norm", R_NONNEG, &t->max_grad_norm, NULL)) != PSW_OK)
        return st;
    if ((st = get_int32(c, obj, P, "micro_batch", 1, 65536, &t->micro_batch, NULL)) != PSW_OK)
        return st;
    if ((st = get_int32(c, obj, P, "grad_accum", 1, 65536, &t->grad_accum, NULL)) != PSW_OK)
        return st;
    bool has_epochs = false, has_steps = false;
    if ((st = get_int32(c, obj, P, "epochs", 1, 100000, &t->epochs, &has_epochs)) != PSW_OK)
        return st;
    if ((st = get_int(c, obj, P, "steps", 1, INT31_MAX, &t->steps, &has_steps)) != PSW_OK)
        return st;
    if (has_epochs && has_steps)
        return fail_at(c, P, "\"epochs\" and \"steps\" are exclusive; give one");
    if (has_steps) {
        t->has_steps = true;
        t->epochs = 0;
    }
    v = (int)t->trainable;
    if ((st = get_enum(c, obj, P, "trainable", trainable_names, &v)) != PSW_OK) return st;
    t->trainable = (psw_spec_trainable)v;
    if ((st = get_int32(c, obj, P, "eval_batch", 1, 65536, &t->eval_batch, NULL)) != PSW_OK)
        return st;
    v = (int)t->eval_forward;
    if ((st = get_enum(c, obj, P, "eval_forward", eval_forward_names, &v)) != PSW_OK) return st;
    t->eval_forward = (psw_spec_eval_forward)v;
    if ((st = get_int32(c, obj, P, "max_seq_len", 1, 1048576, &t->max_seq_len, NULL)) != PSW_OK)
        return st;
    v = (int)t->teacher_cache;
    if ((st = get_enum(c, obj, P, "teacher_cache", cache_names, &v)) != PSW_OK) return st;
    t->teacher_cache = (psw_spec_teacher_cache)v;
    bool has_topk = false;
    if ((st = get_int32(c, obj, P, "topk", 1, 1048576, &t->topk, &has_topk)) != PSW_OK) return st;
    if (has_topk && t->teacher_cache != PSW_SPEC_CACHE_TOPK)
        return fail_at(c, "training.topk", "only used with \"teacher_cache\": \"topk\"");
    return PSW_OK;
}

/* Reads grid.<key> as an array; *arr NULL when absent. */
static psw_status grid_array(pctx *c, const cJSON *grid, const char *key, const cJSON **arr) {
    *arr = cJSON_GetObjectItemCaseSensitive(grid, key);
    if (!*arr) return PSW_OK;
    char p[PATH_SIZE];
    join_path(p, sizeof p, "grid", key);
    if (!cJSON_IsArray(*arr)) return fail_at(c, p, "expected an array, got %s", type_name(*arr));
    if (cJSON_GetArraySize(*arr) == 0) return fail_at(c, p, "must not be empty");
    return PSW_OK;
}

static psw_status parse_exclude(pctx *c, const cJSON *arr, psw_spec_grid *g) {
    if (!cJSON_IsArray(arr))
        return fail_at(c, "grid.exclude", "expected an array, got %s", type_name(arr));
    size_t n = (size_t)cJSON_GetArraySize(arr);
    g->exclude = psw_xcalloc(n ? n : 1, sizeof *g->exclude);
    const cJSON *rule;
    size_t i = 0;
    psw_status st;
    cJSON_ArrayForEach(rule, arr) {
        char p[64], q[PATH_SIZE];
        snprintf(p, sizeof p, "grid.exclude[%zu]", i);
        if (!cJSON_IsObject(rule))
            return fail_at(c, p, "expected an object, got %s", type_name(rule));
        if (!rule->child) return fail_at(c, p, "an empty rule would exclude every configuration");
        if ((st = check_keys(c, rule, p, exclude_keys)) != PSW_OK) return st;
        psw_spec_exclude *e = &g->exclude[i];
        const cJSON *item;
        char vs[40];
        if ((item = cJSON_GetObjectItemCaseSensitive(rule, "retention"))) {
            snprintf(q, sizeof q, "%s.retention", p);
            if ((st = check_number(c, item, q, R_RETENTION, &e->retention)) != PSW_OK) return st;
            bool found = false;
            for (size_t k = 0; k < g->n_retention; k++) found |= g->retention[k] == e->retention;
            fmt_num(vs, sizeof vs, e->retention);
            if (!found) return fail_at(c, q, "%s is not in grid.retention", vs);
            e->has_retention = true;
        }
        if ((item = cJSON_GetObjectItemCaseSensitive(rule, "loss"))) {
            snprintf(q, sizeof q, "%s.loss", p);
            int v = 0;
            if ((st = check_enum(c, item, q, loss_names, &v)) != PSW_OK) return st;
            e->loss = (psw_loss_kind)v;
            bool found = false;
            for (size_t k = 0; k < g->n_loss; k++) found |= g->loss[k] == e->loss;
            if (!found) return fail_at(c, q, "\"%s\" is not in grid.loss", loss_names[v]);
            e->has_loss = true;
        }
        if ((item = cJSON_GetObjectItemCaseSensitive(rule, "data_size"))) {
            snprintf(q, sizeof q, "%s.data_size", p);
            if ((st = check_int(c, item, q, 1, INT31_MAX, &e->data_size)) != PSW_OK) return st;
            bool found = false;
            for (size_t k = 0; k < g->n_data_size; k++) found |= g->data_size[k] == e->data_size;
            if (!found)
                return fail_at(c, q, "%lld is not in grid.data_size", (long long)e->data_size);
            e->has_data_size = true;
        }
        if ((item = cJSON_GetObjectItemCaseSensitive(rule, "seed"))) {
            snprintf(q, sizeof q, "%s.seed", p);
            if ((st = check_int(c, item, q, 0, MAX_SAFE_INT, &e->seed)) != PSW_OK) return st;
            bool found = false;
            for (size_t k = 0; k < g->n_seed; k++) found |= g->seed[k] == e->seed;
            if (!found) return fail_at(c, q, "%lld is not in grid.seed", (long long)e->seed);
            e->has_seed = true;
        }
        i++;
        g->n_exclude = i;
    }
    return PSW_OK;
}

static psw_status parse_grid(pctx *c, const cJSON *grid, psw_spec *s) {
    psw_status st;
    psw_spec_grid *g = &s->grid;
    if ((st = check_keys(c, grid, "grid", grid_keys)) != PSW_OK) return st;
    g->present = true;
    const cJSON *arr, *item;
    char p[PATH_SIZE];

    if ((st = grid_array(c, grid, "retention", &arr)) != PSW_OK) return st;
    if (!arr) return fail_at(c, "grid.retention", "missing (required when there is a grid)");
    g->retention = psw_xcalloc((size_t)cJSON_GetArraySize(arr), sizeof *g->retention);
    cJSON_ArrayForEach(item, arr) {
        size_t i = g->n_retention;
        snprintf(p, sizeof p, "grid.retention[%zu]", i);
        if ((st = check_number(c, item, p, R_RETENTION, &g->retention[i])) != PSW_OK) return st;
        for (size_t j = 0; j < i; j++)
            if (g->retention[j] == g->retention[i]) {
                char vs[40];
                fmt_num(vs, sizeof vs, g->retention[i]);
                return fail_at(c, p, "%s duplicates grid.retention[%zu]", vs, j);
            }
        g->n_retention++;
    }

    if ((st = grid_array(c, grid, "loss", &arr)) != PSW_OK) return st;
    if (arr) {
        g->loss = psw_xcalloc((size_t)cJSON_GetArraySize(arr), sizeof *g->loss);
        cJSON_ArrayForEach(item, arr) {
            size_t i = g->n_loss;
            snprintf(p, sizeof p, "grid.loss[%zu]", i);
            int v = 0;
            if ((st = check_enum(c, item, p, loss_names, &v)) != PSW_OK) return st;
            g->loss[i] = (psw_loss_kind)v;
            for (size_t j = 0; j < i; j++)
                if (g->loss[j] == g->loss[i])
                    return fail_at(c, p, "\"%s\" duplicates grid.loss[%zu]", loss_names[v], j);
            g->n_loss++;
        }
    } else {
        g->loss = psw_xcalloc(2, sizeof *g->loss);
        g->loss[0] = PSW_LOSS_CE;
        g->loss[1] = PSW_LOSS_KL;
        g->n_loss = 2;
    }

    if ((st = grid_array(c, grid, "data_size", &arr)) != PSW_OK) return st;
    if (!arr) return fail_at(c, "grid.data_size", "missing (required when there is a grid)");
    g->data_size = psw_xcalloc((size_t)cJSON_GetArraySize(arr), sizeof *g->data_size);
    cJSON_ArrayForEach(item, arr) {
        size_t i = g->n_data_size;
        snprintf(p, sizeof p, "grid.data_size[%zu]", i);
        if ((st = check_int(c, item, p, 1, INT31_MAX, &g->data_size[i])) != PSW_OK) return st;
        for (size_t j = 0; j < i; j++)
            if (g->data_size[j] == g->data_size[i])
                return fail_at(c, p, "%lld duplicates grid.data_size[%zu]",
                               (long long)g->data_size[i], j);
        g->n_data_size++;
    }

    if ((st = grid_array(c, grid, "seed", &arr)) != PSW_OK) return st;
    if (arr) {
        g->seed = psw_xcalloc((size_t)cJSON_GetArraySize(arr), sizeof *g->seed);
        cJSON_ArrayForEach(item, arr) {
            size_t i = g->n_seed;
            snprintf(p, sizeof p, "grid.seed[%zu]", i);
            if ((st = check_int(c, item, p, 0, MAX_SAFE_INT, &g->seed[i])) != PSW_OK) return st;
            for (size_t j = 0; j < i; j++)
                if (g->seed[j] == g->seed[i])
                    return fail_at(c, p, "%lld duplicates grid.seed[%zu]", (long long)g->seed[i],
                                   j);
            g->n_seed++;
        }
    } else {
        g->seed = psw_xcalloc(1, sizeof *g->seed);
        g->n_seed = 1;
    }

    if ((arr = cJSON_GetObjectItemCaseSensitive(grid, "exclude")))
        if ((st = parse_exclude(c, arr, g)) != PSW_OK) return st;
    return PSW_OK;
}

/* ---- the parser ---- */

static void line_col(const char *json, size_t offset, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset; i++) {
        if (json[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

psw_status psw_spec_parse(const char *json, size_t len, const char *source, const char *base_dir,
                          psw_spec_mode mode, psw_spec *spec, psw_err *err) {
    if (!source) source = "(spec)";
    pctx ctx = {source, err};
    pctx *c = &ctx;
    psw_status st = PSW_OK;
    psw_spec_init_defaults(spec);
    free(spec->source);
    free(spec->base_dir);
    spec->source = psw_xstrdup(source);
    spec->base_dir = psw_xstrdup(base_dir ? base_dir : "");

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!root) {
        size_t off = end && end >= json ? (size_t)(end - json) : 0;
        if (off > len) off = len;
        size_t line, col;
        line_col(json, off, &line, &col);
        st =
            PSW_FAIL(err, PSW_ERR_FORMAT, "%s: malformed JSON near line %zu, column %zu (byte %zu)",
                     source, line, col, off);
        goto fail;
    }
    {
        size_t off = (size_t)(end - json);
        while (off < len &&
               (json[off] == ' ' || json[off] == '\t' || json[off] == '\n' || json[off] == '\r'))
            off++;
        if (off < len) {
            size_t line, col;
            line_col(json, off, &line, &col);
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s: malformed JSON: unexpected data after the value at line %zu, "
                          "column %zu (byte %zu)",
                          source, line, col, off);
            goto fail;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: the spec must be a JSON object, got %s",
                      source, type_name(root));
        goto fail;
    }
    if ((st = check_keys(c, root, "", top_keys)) != PSW_OK) goto fail;

    bool present = false;
    char *name = NULL;
    if ((st = get_string(c, root, "", "name", false, &name, &present)) != PSW_OK) goto fail;
    free(spec->name);
    if (present) {
        spec->name = name;
        if (!valid_name(name)) {
            st = fail_at(c, "name", "\"%s\" must be 1 to 128 letters, digits, '.', '_' or '-'",
                         name);
            goto fail;
        }
    } else {
        spec->name = default_name(source);
    }
    if ((st = get_string(c, root, "", "comment", true, &spec->comment, &present)) != PSW_OK)
        goto fail;

    const cJSON *sec;
    if ((st = get_object(c, root, "", "model", &sec)) != PSW_OK) goto fail;
    if ((st = parse_model(c, sec, spec->base_dir, spec)) != PSW_OK) goto fail;
    if ((st = get_object(c, root, "", "data", &sec)) != PSW_OK) goto fail;
    if ((st = parse_data(c, sec, spec->base_dir, spec)) != PSW_OK) goto fail;
    if ((st = get_object(c, root, "", "prompt", &sec)) != PSW_OK) goto fail;
    if ((st = parse_prompt(c, sec, spec)) != PSW_OK) goto fail;
    if ((st = get_object(c, root, "", "pruning", &sec)) != PSW_OK) goto fail;
    if ((st = parse_pruning(c, sec, spec)) != PSW_OK) goto fail;
    if ((st = get_object(c, root, "", "training", &sec)) != PSW_OK) goto fail;
    if ((st = parse_training(c, sec, spec)) != PSW_OK) goto fail;
    if ((st = get_object(c, root, "", "grid", &sec)) != PSW_OK) goto fail;
    if (sec && (st = parse_grid(c, sec, spec)) != PSW_OK) goto fail;

    path_free(&spec->output);
    if ((st = get_path(c, root, "", "output", spec->base_dir, &spec->output)) != PSW_OK) goto fail;
    if (!spec->output.raw) {
        size_t n = strlen(spec->name) + 4;
        spec->output.raw = psw_xmalloc(n);
        snprintf(spec->output.raw, n, "%s.h5", spec->name);
        spec->output.resolved = resolve_path(spec->base_dir, spec->output.raw);
    }
    if ((st = get_int32(c, root, "", "threads_per_rank", 0, 4096, &spec->threads_per_rank, NULL)) !=
        PSW_OK)
        goto fail;

    if (mode == PSW_SPEC_MODE_RUN) {
        if (!spec->model.path.raw) {
            st = fail_at(c, "model.path", "missing (required for run)");
            goto fail;
        }
        if (!spec->model.is_default && !spec->data.train.raw) {
            st = fail_at(c, "data.train",
                         "missing (required for run unless model.path is \"default\")");
            goto fail;
        }
        if (!spec->model.is_default && !spec->data.test.raw) {
            st = fail_at(c, "data.test",
                         "missing (required for run unless model.path is \"default\")");
            goto fail;
        }
        if (!spec->grid.present) {
            st = fail_at(c, "grid", "missing (required for run)");
            goto fail;
        }
    }
    if ((st = psw_spec_expand(spec, err)) != PSW_OK) goto fail;
    cJSON_Delete(root);
    return PSW_OK;

fail:
    cJSON_Delete(root);
    psw_spec_free(spec);
    return st;
}

psw_status psw_spec_load(const char *path, psw_spec_mode mode, psw_spec *spec, psw_err *err) {
    memset(spec, 0, sizeof *spec);
    char *text = NULL;
    size_t len = 0;
    psw_status st = psw_read_file(path, &text, &len, err);
    if (st != PSW_OK) return st;
    char *dir = psw_path_dirname(path);
    st = psw_spec_parse(text, len, path, dir, mode, spec, err);
    free(dir);
    free(text);
    return st;
}

/* ---- normalised JSON ---- */

/* cJSON reports allocation failure as NULL: treat it like psw_xmalloc (small bookkeeping). */
static cJSON *ok_json(cJSON *j) {
    if (!j) PSW_ABORT("out of memory building JSON");
    return j;
}
static void add_str(cJSON *o, const char *k, const char *v) {
    ok_json(cJSON_AddStringToObject(o, k, v));
}
/* Numbers are written as the config id text writes retention (fmt_num: %.15g, or %.17g when
 * that does not read back exactly). cJSON's own printer accepts a %.15g text that is merely
 * close to the value, so it wrote 0.75184467440737091 as 0.751844674407371 and 2^53 as
 * 9.00719925474099e+15: the spec changed on re-parse, and with it the grid's config ids.
 * -0 is written 0, as cJSON did. Every value here is finite (validated). */
static cJSON *num_item(double v) {
    PSW_ASSERT(isfinite(v));
    char buf[40];
    fmt_num(buf, sizeof buf, v == 0 ? 0.0 : v);
    return ok_json(cJSON_CreateRaw(buf));
}
static void add_num(cJSON *o, const char *k, double v) {
    if (!cJSON_AddItemToObject(o, k, num_item(v))) PSW_ABORT("cJSON_AddItemToObject failed");
}
static void add_bool(cJSON *o, const char *k, bool v) { ok_json(cJSON_AddBoolToObject(o, k, v)); }
static cJSON *add_obj(cJSON *o, const char *k) { return ok_json(cJSON_AddObjectToObject(o, k)); }
static cJSON *add_arr(cJSON *o, const char *k) { return ok_json(cJSON_AddArrayToObject(o, k)); }
static void push(cJSON *arr, cJSON *item) {
    ok_json(item);
    if (!cJSON_AddItemToArray(arr, item)) PSW_ABORT("cJSON_AddItemToArray failed");
}

static void json_model(cJSON *root, const psw_spec *s) {
    cJSON *o = add_obj(root, "model");
    if (s->model.path.raw) add_str(o, "path", s->model.path.raw);
    add_str(o, "dtype_frozen", dtype_names[s->model.dtype_frozen]);
}

static void json_data(cJSON *root, const psw_spec *s) {
    cJSON *o = add_obj(root, "data");
    if (s->data.train.raw) add_str(o, "train", s->data.train.raw);
    if (s->data.test.raw) add_str(o, "test", s->data.test.raw);
    if (s->data.dev.raw) add_str(o, "dev", s->data.dev.raw);
    add_num(o, "limit_test", (double)s->data.limit_test);
}

static void json_prompt(cJSON *root, const psw_spec *s) {
    const psw_spec_prompt *pr = &s->prompt;
    cJSON *o = add_obj(root, "prompt");
    add_str(o, "template", template_names[pr->template_kind]);
    add_num(o, "shots", pr->shots);
    if (pr->n_shot_ids > 0) {
        cJSON *a = add_arr(o, "shot_ids");
        for (int i = 0; i < pr->n_shot_ids; i++) push(a, cJSON_CreateString(pr->shot_ids[i]));
    }
    if (pr->chat)
        add_str(o, "chat", pr->chat);
    else
        add_bool(o, "chat", false);
    if (pr->bos_token)
        add_str(o, "bos_token", pr->bos_token);
    else
        ok_json(cJSON_AddNullToObject(o, "bos_token"));
    if (pr->template_kind == PSW_SPEC_TEMPLATE_CUSTOM) {
        add_str(o, "format", pr->format);
        add_str(o, "choice_format", pr->choice_format);
        add_str(o, "answer_format", pr->answer_format);
        add_str(o, "shot_separator", pr->shot_separator);
    }
}

static void json_pruning(cJSON *root, const psw_spec *s) {
    cJSON *o = add_obj(root, "pruning");
    add_str(o, "score", score_names[s->pruning.score]);
    add_num(o, "seed", (double)s->pruning.seed);
}

static void json_training(cJSON *root, const psw_spec *s) {
    const psw_spec_training *t = &s->training;
    cJSON *o = add_obj(root, "training");
    add_str(o, "loss_positions", positions_names[t->loss_positions]);
    add_num(o, "temperature", t->temperature);
    add_num(o, "alpha", t->alpha);
    add_num(o, "lr", t->lr);
    add_num(o, "lr_min", t->lr_min);
    if (t->has_warmup_steps)
        add_num(o, "warmup_steps", (double)t->warmup_steps);
    else
        add_num(o, "warmup_ratio", t->warmup_ratio);
    add_str(o, "schedule", schedule_names[t->schedule]);
    add_num(o, "weight_decay", t->weight_decay);
    add_num(o, "beta1", t->beta1);
    add_num(o, "beta2", t->beta2);
    add_num(o, "eps", t->eps);
    add_num(o, "max_grad_norm", t->max_grad_norm);
    add_num(o, "micro_batch", t->micro_batch);
    add_num(o, "grad_accum", t->grad_accum);
    if (t->has_steps)
        add_num(o, "steps", (double)t->steps);
    else
        add_num(o, "epochs", t->epochs);
    add_str(o, "trainable", trainable_names[t->trainable]);
    add_num(o, "eval_batch", t->eval_batch);
    /* Only when not the default, so the normalised spec (and the config ids) of specs written
     * before this key existed stay the same. */
    if (t->eval_forward != PSW_SPEC_EVAL_PER_SEQUENCE)
        add_str(o, "eval_forward", eval_forward_names[t->eval_forward]);
    add_num(o, "max_seq_len", t->max_seq_len);
    add_str(o, "teacher_cache", cache_names[t->teacher_cache]);
    if (t->teacher_cache == PSW_SPEC_CACHE_TOPK) add_num(o, "topk", t->topk);
}

static void json_grid(cJSON *root, const psw_spec *s) {
    const psw_spec_grid *g = &s->grid;
    cJSON *o = add_obj(root, "grid");
    cJSON *a = add_arr(o, "retention");
    for (size_t i = 0; i < g->n_retention; i++) push(a, num_item(g->retention[i]));
    a = add_arr(o, "loss");
    for (size_t i = 0; i < g->n_loss; i++) push(a, cJSON_CreateString(loss_names[g->loss[i]]));
    a = add_arr(o, "data_size");
    for (size_t i = 0; i < g->n_data_size; i++)
        push(a, num_item((double)g->data_size[i]));
    a = add_arr(o, "seed");
    for (size_t i = 0; i < g->n_seed; i++) push(a, num_item((double)g->seed[i]));
    a = add_arr(o, "exclude");
    for (size_t i = 0; i < g->n_exclude; i++) {
        const psw_spec_exclude *e = &g->exclude[i];
        cJSON *r = ok_json(cJSON_CreateObject());
        if (e->has_retention) add_num(r, "retention", e->retention);
        if (e->has_loss) add_str(r, "loss", loss_names[e->loss]);
        if (e->has_data_size) add_num(r, "data_size", (double)e->data_size);
        if (e->has_seed) add_num(r, "seed", (double)e->seed);
        push(a, r);
    }
}

static char *print_json(cJSON *root, bool formatted) {
    char *text = formatted ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!text) PSW_ABORT("out of memory printing JSON");
    /* cJSON allocates with its own hooks (malloc by default); hand back a psw_xstrdup copy so
     * the caller's free() is right even if the hooks change. */
    char *copy = psw_xstrdup(text);
    cJSON_free(text);
    cJSON_Delete(root);
    return copy;
}

char *psw_spec_settings_json(const psw_spec *spec) {
    cJSON *root = ok_json(cJSON_CreateObject());
    json_model(root, spec);
    json_data(root, spec);
    json_prompt(root, spec);
    json_pruning(root, spec);
    json_training(root, spec);
    return print_json(root, false);
}

char *psw_spec_to_json(const psw_spec *spec, bool formatted) {
    cJSON *root = ok_json(cJSON_CreateObject());
    add_str(root, "name", spec->name);
    if (spec->comment) add_str(root, "comment", spec->comment);
    json_model(root, spec);
    json_data(root, spec);
    json_prompt(root, spec);
    json_pruning(root, spec);
    json_training(root, spec);
    if (spec->grid.present) json_grid(root, spec);
    add_str(root, "output", spec->output.raw);
    add_num(root, "threads_per_rank", spec->threads_per_rank);
    return print_json(root, formatted);
}

/* ---- config ids and expansion ---- */

static size_t config_text(char *buf, size_t size, double retention, psw_loss_kind loss,
                          int64_t data_size, int64_t seed) {
    char r[40];
    fmt_num(r, sizeof r, retention);
    int n =
        snprintf(buf, size, "{\"retention\":%s,\"loss\":\"%s\",\"data_size\":%lld,\"seed\":%lld}",
                 r, psw_loss_kind_name(loss), (long long)data_size, (long long)seed);
    PSW_ASSERT(n > 0 && (size_t)n < size);
    return (size_t)n;
}

static uint64_t id_from(const char *settings, size_t settings_len, double retention,
                        psw_loss_kind loss, int64_t data_size, int64_t seed) {
    char cfg[160];
    size_t n = config_text(cfg, sizeof cfg, retention, loss, data_size, seed);
    uint64_t h = psw_fnv1a(settings, settings_len, PSW_FNV_SEED);
    h = psw_fnv1a("\n", 1, h);
    return psw_fnv1a(cfg, n, h);
}

char *psw_spec_config_id_text(const psw_spec *spec, double retention, psw_loss_kind loss,
                              int64_t data_size, int64_t seed) {
    char *settings = psw_spec_settings_json(spec);
    char cfg[160];
    size_t n = config_text(cfg, sizeof cfg, retention, loss, data_size, seed);
    size_t sl = strlen(settings);
    char *text = psw_xmalloc(sl + 1 + n + 1);
    memcpy(text, settings, sl);
    text[sl] = '\n';
    memcpy(text + sl + 1, cfg, n + 1);
    free(settings);
    return text;
}

uint64_t psw_spec_config_id(const psw_spec *spec, double retention, psw_loss_kind loss,
                            int64_t data_size, int64_t seed) {
    char *settings = psw_spec_settings_json(spec);
    uint64_t id = id_from(settings, strlen(settings), retention, loss, data_size, seed);
    free(settings);
    return id;
}

static bool excluded(const psw_spec_grid *g, double r, psw_loss_kind l, int64_t d, int64_t s) {
    for (size_t i = 0; i < g->n_exclude; i++) {
        const psw_spec_exclude *e = &g->exclude[i];
        if (e->has_retention && e->retention != r) continue;
        if (e->has_loss && e->loss != l) continue;
        if (e->has_data_size && e->data_size != d) continue;
        if (e->has_seed && e->seed != s) continue;
        return true;
    }
    return false;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

psw_status psw_spec_expand(psw_spec *spec, psw_err *err) {
    psw_spec_grid *g = &spec->grid;
    free(g->configs);
    g->configs = NULL;
    g->n_configs = 0;
    g->n_excluded = 0;
    if (!g->present) return PSW_OK;
    size_t prod = 1;
    size_t lens[4] = {g->n_retention, g->n_loss, g->n_data_size, g->n_seed};
    for (int i = 0; i < 4; i++)
        if (!psw_size_mul(prod, lens[i], &prod) || prod > PSW_SPEC_MAX_CONFIGS)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: grid: more than %d configurations",
                            spec->source, PSW_SPEC_MAX_CONFIGS);
    g->n_product = prod;
    if (prod == 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: grid: an axis is empty", spec->source);

    char *settings = psw_spec_settings_json(spec);
    size_t sl = strlen(settings);
    psw_status st = PSW_OK;
    uint64_t *ids = NULL;
    g->configs = psw_try_alloc(prod * sizeof *g->configs);
    if (!g->configs) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: grid: cannot allocate %zu configurations",
                      spec->source, prod);
        goto fail;
    }
    size_t n = 0;
    for (size_t a = 0; a < g->n_retention; a++)
        for (size_t b = 0; b < g->n_loss; b++)
            for (size_t d = 0; d < g->n_data_size; d++)
                for (size_t e = 0; e < g->n_seed; e++) {
                    double r = g->retention[a];
                    psw_loss_kind l = g->loss[b];
                    int64_t ds = g->data_size[d], sd = g->seed[e];
                    if (excluded(g, r, l, ds, sd)) continue;
                    psw_spec_config *cf = &g->configs[n];
                    cf->index = n;
                    cf->retention = r;
                    cf->loss = l;
                    cf->data_size = ds;
                    cf->seed = sd;
                    cf->id = id_from(settings, sl, r, l, ds, sd);
                    n++;
                }
    g->n_configs = n;
    g->n_excluded = prod - n;
    if (n == 0) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: grid.exclude: excludes all %zu configurations",
                      spec->source, prod);
        goto fail;
    }
    /* Ids are 64-bit hashes: a collision is astronomically unlikely, but it would silently merge
     * two rows of the results file, so it is checked. */
    ids = psw_try_alloc(n * sizeof *ids);
    if (!ids) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: grid: cannot allocate %zu ids", spec->source, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) ids[i] = g->configs[i].id;
    qsort(ids, n, sizeof *ids, cmp_u64);
    for (size_t i = 1; i < n; i++)
        if (ids[i] == ids[i - 1]) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: grid: config id collision (%016llx)",
                          spec->source, (unsigned long long)ids[i]);
            goto fail;
        }
    free(ids);
    free(settings);
    return PSW_OK;

fail:
    free(ids);
    free(settings);
    free(g->configs);
    g->configs = NULL;
    g->n_configs = 0;
    return st;
}

size_t psw_spec_grid_count(const psw_spec *spec) { return spec->grid.n_configs; }

psw_status psw_spec_grid_get(const psw_spec *spec, size_t index, psw_spec_config *config,
                             psw_err *err) {
    if (index >= spec->grid.n_configs)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: config index %zu is outside the grid of %zu",
                        spec->source, index, spec->grid.n_configs);
    *config = spec->grid.configs[index];
    return PSW_OK;
}

bool psw_spec_grid_find(const psw_spec *spec, uint64_t id, size_t *index) {
    for (size_t i = 0; i < spec->grid.n_configs; i++)
        if (spec->grid.configs[i].id == id) {
            *index = i;
            return true;
        }
    return false;
}

int64_t psw_spec_train_examples(const psw_spec *spec, const psw_spec_config *config) {
    const psw_spec_training *t = &spec->training;
    if (t->has_steps) return t->steps * t->micro_batch * t->grad_accum;
    return config->data_size * t->epochs;
}

int64_t psw_spec_prompt_tokens_estimate(const psw_spec *spec) {
    int64_t n = (int64_t)(spec->prompt.shots + 1) * PSW_SPEC_TOKENS_PER_QUESTION;
    return n < spec->training.max_seq_len ? n : spec->training.max_seq_len;
}

void psw_spec_set_path(psw_spec_path *p, const char *path) {
    free(p->raw);
    free(p->resolved);
    p->raw = psw_xstrdup(path);
    p->resolved = psw_xstrdup(path);
}

void psw_spec_set_model(psw_spec *spec, const char *path) {
    psw_spec_set_path(&spec->model.path, path);
    spec->model.is_default = strcmp(path, "default") == 0;
    if (spec->model.is_default) {
        free(spec->model.path.resolved);
        spec->model.path.resolved = NULL;
    }
}
