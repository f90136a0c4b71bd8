/* run.c: the MPI-free unit of work: prune -> recover -> evaluate (see run.h). */
#include "psw/run.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "psw/evaluate.h"
#include "psw/model_io.h"
#include "psw/pretrain.h"
#include "psw/prune.h"
#include "psw/rng.h"
#include "psw/train.h"

char *psw_run_default_dir(void) {
    const char *env = getenv("PSW_DEFAULT_DIR");
    if (env && *env) return psw_xstrdup(env);
    const char *home = getenv("HOME");
    char *base = psw_path_join(home && *home ? home : "/tmp", ".cache/prunesweep");
    char *dir = psw_path_join(base, "default");
    free(base);
    return dir;
}

void psw_run_context_close(psw_run_context *ctx) {
    psw_teacher_cache_close(ctx->cache);
    psw_mc_set_free(&ctx->train);
    psw_mc_set_free(&ctx->test);
    psw_mc_dataset_free(&ctx->train_ds);
    psw_mc_dataset_free(&ctx->test_ds);
    psw_tokenizer_free(ctx->tok);
    psw_model_free(&ctx->teacher);
    free(ctx->model_dir);
    free(ctx->train_path);
    free(ctx->test_path);
    free(ctx->cache_path);
    memset(ctx, 0, sizeof *ctx);
}

static void prompt_from_spec(const psw_spec_prompt *sp, psw_prompt_settings *ps) {
    psw_prompt_settings_default(ps);
    ps->format = sp->format;
    ps->choice_format = sp->choice_format;
    ps->answer_format = sp->answer_format;
    ps->shot_separator = sp->shot_separator;
    ps->chat = sp->chat;
    ps->bos_token = sp->bos_token;
}

/* Reserves the teacher's activations for the largest batch any task on it needs. */
static psw_status reserve_for(psw_model *m, int B, int T, int P, bool training, psw_err *err) {
    return psw_model_reserve(m, B, T, P, training, err);
}

psw_status psw_run_model_dir(const psw_spec *spec, char **dir, psw_err *err) {
    *dir = NULL;
    if (spec->model.is_default) return psw_default_ensure(dir, err);
    if (!spec->model.path.resolved)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: model.path is required", spec->source);
    *dir = psw_xstrdup(spec->model.path.resolved);
    return PSW_OK;
}

psw_status psw_run_context_open(psw_run_context *ctx, const psw_spec *spec, const char *cache_dir,
                                int threads, psw_err *err) {
    return psw_run_context_open_shared(ctx, spec, cache_dir, threads, NULL, 0, err);
}

static unsigned trainable_groups_of(const psw_spec_training *tr);

unsigned psw_run_teacher_bf16_groups(const psw_spec *spec) {
    return spec->model.dtype_frozen == PSW_SPEC_DTYPE_BF16 ? (1u << PSW_GROUP_COUNT) - 1u : 0u;
}

unsigned psw_run_student_bf16_groups(const psw_spec *spec) {
    return spec->model.dtype_frozen == PSW_SPEC_DTYPE_BF16
               ? ((1u << PSW_GROUP_COUNT) - 1u) & ~trainable_groups_of(&spec->training)
               : 0u;
}

/* The teacher over the borrowed arena (n_words 4-byte words, see run.h): config.json of dir, no
 * weight read. */
static psw_status borrow_teacher(psw_model *m, const char *dir, unsigned bf16_groups,
                                 const float *weights, size_t n_words, psw_err *err) {
    char *cfg_path = psw_path_join(dir, "config.json");
    psw_model_config cfg;
    psw_status st = psw_config_load(cfg_path, &cfg, err);
    size_t bytes = 0, words = 0;
    if (st == PSW_OK) {
        bytes = psw_params_bytes(&cfg, bf16_groups);
        words = (bytes + sizeof(float) - 1) / sizeof(float);
        if (n_words != words)
            st = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: the shared teacher weights hold %zu floats, the "
                          "model takes %zu", cfg_path, n_words, words);
    }
    if (st == PSW_OK)
        st = psw_model_init_borrowed_storage(m, &cfg, bf16_groups, weights, bytes, err);
    free(cfg_path);
    return st;
}

psw_status psw_run_context_open_shared(psw_run_context *ctx, const psw_spec *spec,
                                       const char *cache_dir, int threads, const float *weights,
                                       size_t n_weights, psw_err *err) {
    memset(ctx, 0, sizeof *ctx);
    ctx->spec = spec;
    psw_status st = PSW_OK;
    char *tok_path = NULL;
    if (threads > 0) openblas_set_num_threads(threads);
    if (spec->model.is_default) {
        st = psw_default_ensure(&ctx->model_dir, err);
        if (st != PSW_OK) goto fail;
        ctx->train_path = spec->data.train.resolved ? psw_xstrdup(spec->data.train.resolved)
                                                    : psw_path_join(ctx->model_dir, "train.jsonl");
        ctx->test_path = spec->data.test.resolved ? psw_xstrdup(spec->data.test.resolved)
                                                  : psw_path_join(ctx->model_dir, "dev.jsonl");
    } else {
        if (!spec->model.path.resolved || !spec->data.train.resolved || !spec->data.test.resolved) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                          "%s: model.path, data.train and data.test are required", spec->source);
            goto fail;
        }
        ctx->model_dir = psw_xstrdup(spec->model.path.resolved);
        ctx->train_path = psw_xstrdup(spec->data.train.resolved);
        ctx->test_path = psw_xstrdup(spec->data.test.resolved);
    }
    /* dtype_frozen "bf16": every kind of the teacher is frozen, so all of it is held in bf16. */
    unsigned half = psw_run_teacher_bf16_groups(spec);
    st = weights ? borrow_teacher(&ctx->teacher, ctx->model_dir, half, weights, n_weights, err)
                 : psw_model_load_storage(&ctx->teacher, ctx->model_dir, half, err);
    if (st != PSW_OK) goto fail;
    tok_path = psw_path_join(ctx->model_dir, "tokenizer.json");
    st = psw_tokenizer_load(tok_path, &ctx->tok, err);
    if (st != PSW_OK) goto fail;
    st = psw_mc_dataset_load(ctx->train_path, &ctx->train_ds, err);
    if (st != PSW_OK) goto fail;
    st = psw_mc_dataset_load(ctx->test_path, &ctx->test_ds, err);
    if (st != PSW_OK) goto fail;
    if (spec->data.limit_test > 0 && (size_t)spec->data.limit_test < ctx->test_ds.n)
        ctx->test_ds.n = (size_t)spec->data.limit_test;

    prompt_from_spec(&spec->prompt, &ctx->prompt);
    st = psw_prompt_select_shots(&ctx->train_ds, (const char *const *)spec->prompt.shot_ids,
                                 spec->prompt.n_shot_ids, spec->prompt.shots, ctx->shots, err);
    if (st != PSW_OK) goto fail;
    ctx->prompt.shots = ctx->shots;
    ctx->prompt.n_shots = spec->prompt.shots;
    int max_len = spec->training.max_seq_len;
    if (max_len > ctx->teacher.cfg.max_position_embeddings)
        max_len = ctx->teacher.cfg.max_position_embeddings;
    st = psw_mc_set_build(&ctx->train_ds, &ctx->prompt, ctx->tok, max_len, &ctx->train, err);
    if (st != PSW_OK) goto fail;
    st = psw_mc_set_build(&ctx->test_ds, &ctx->prompt, ctx->tok, max_len, &ctx->test, err);
    if (st != PSW_OK) goto fail;
    for (size_t i = 0; i < ctx->test.prompts.n; i++)
        if (ctx->test.n_choices[i] > ctx->n_choices_max) ctx->n_choices_max = ctx->test.n_choices[i];

    uint64_t cfg_hash = psw_fnv1a(&ctx->teacher.cfg, sizeof ctx->teacher.cfg, PSW_FNV_SEED);
    /* A bf16 teacher hashes its bf16 bytes (and the storage), so its teacher cache and
     * fingerprints differ from the fp32 teacher's; an fp32 one hashes as it always did. */
    ctx->model_hash =
        half ? psw_fnv1a(ctx->teacher.params.base, ctx->teacher.params.bytes,
                         psw_fnv1a("bf16", 4, cfg_hash))
             : psw_hash_floats(ctx->teacher.params.base, ctx->teacher.params.total, cfg_hash);
    const psw_spec_training *tr = &spec->training;
    bool all_positions = tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT;
    psw_cache_format fmt = tr->teacher_cache == PSW_SPEC_CACHE_TOPK ? PSW_CACHE_TOPK : PSW_CACHE_FP16;
    ctx->cache_fingerprint = psw_teacher_cache_fingerprint(
        ctx->model_hash, psw_mc_prompts_fingerprint(&ctx->train.prompts), all_positions, fmt,
        tr->topk);
    st = psw_mkdir_p(cache_dir, err);
    if (st != PSW_OK) goto fail;
    char name[64];
    snprintf(name, sizeof name, "teacher-%016llx.bin", (unsigned long long)ctx->cache_fingerprint);
    ctx->cache_path = psw_path_join(cache_dir, name);
    free(tok_path);
    return PSW_OK;
fail:
    free(tok_path);
    psw_run_context_close(ctx);
    return st;
}

void psw_run_fingerprints(const psw_run_context *ctx, char model_fp[17], char data_fp[17]) {
    snprintf(model_fp, 17, "%016llx", (unsigned long long)ctx->model_hash);
    uint64_t h = psw_mc_prompts_fingerprint(&ctx->train.prompts);
    h = psw_fnv1a(ctx->test.gold, ctx->test.prompts.n * sizeof *ctx->test.gold,
                  psw_mc_prompts_fingerprint(&ctx->test.prompts) ^ h);
    if (ctx->train.labeled)
        h = psw_fnv1a(ctx->train.gold, ctx->train.prompts.n * sizeof *ctx->train.gold, h);
    snprintf(data_fp, 17, "%016llx", (unsigned long long)h);
}

psw_status psw_run_recovery_set(size_t n_train, int64_t n, int64_t seed, int32_t *idx,
                                psw_err *err) {
    if (n < 1 || (uint64_t)n > n_train)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "grid.data_size: %lld is outside 1..%zu (the train split's size)",
                        (long long)n, n_train);
    int32_t *perm = psw_try_alloc(n_train * sizeof *perm);
    if (!perm) return PSW_FAIL(err, PSW_ERR_NOMEM, "recovery set: cannot allocate");
    for (size_t i = 0; i < n_train; i++) perm[i] = (int32_t)i;
    psw_rng rng;
    psw_rng_seed(&rng, 0x5eed0000ULL ^ (uint64_t)seed);
    psw_rng_shuffle_i32(&rng, perm, n_train);
    memcpy(idx, perm, (size_t)n * sizeof *idx);
    free(perm);
    return PSW_OK;
}

uint64_t psw_run_reference_id(const psw_spec *spec, psw_row_kind kind, double retention) {
    char *settings = psw_spec_settings_json(spec);
    char tail[96];
    snprintf(tail, sizeof tail, "\n{\"reference\":\"%s\",\"retention\":%.17g}",
             psw_row_kind_name(kind), kind == PSW_ROW_TEACHER ? 1.0 : retention);
    uint64_t h = psw_fnv1a(settings, strlen(settings), PSW_FNV_SEED);
    h = psw_fnv1a(tail, strlen(tail), h);
    free(settings);
    return h;
}

double psw_run_task_cost(const psw_spec *spec, const psw_model_config *cfg, const psw_task *t,
                         size_t n_train, size_t n_test, int mean_prompt_len) {
    psw_params lay;
    psw_params_layout(cfg, &lay);
    double params = (double)lay.total;
    double retention = t->kind == PSW_TASK_TEACHER_EVAL || t->kind == PSW_TASK_TEACHER_CACHE
                           ? 1.0 : t->config.retention;
    double mlp = 3.0 * cfg->hidden_size * (double)cfg->intermediate_size * cfg->num_layers;
    double active = params - mlp * (1.0 - retention);
    double forward_per_token = 2.0 * active, tokens_per_example = (double)mean_prompt_len;
    double eval = (double)n_test * tokens_per_example * forward_per_token;
    switch (t->kind) {
    case PSW_TASK_TEACHER_CACHE:
        return (double)n_train * tokens_per_example * forward_per_token;
    case PSW_TASK_TEACHER_EVAL:
    case PSW_TASK_UNRECOVERED_EVAL: return eval;
    case PSW_TASK_RECOVER: {
        psw_spec_config c = t->config;
        double examples = (double)psw_spec_train_examples(spec, &c);
        return 2.0 * eval + examples * tokens_per_example * 3.0 * forward_per_token;
    }
    }
    return eval;
}

void psw_run_output_free(psw_run_output *out) {
    free(out->probs);
    memset(out, 0, sizeof *out);
}

static unsigned trainable_groups_of(const psw_spec_training *tr) {
    return tr->trainable == PSW_SPEC_TRAINABLE_MLP ? 1u << PSW_GROUP_MLP
                                                   : (1u << PSW_GROUP_COUNT) - 1u;
}

static void train_settings_from_spec(const psw_spec_training *tr, psw_loss_kind loss,
                                     int64_t seed, psw_train_settings *s) {
    memset(s, 0, sizeof *s);
    s->loss = loss;
    s->alpha = tr->alpha;
    s->temperature = tr->temperature;
    s->all_positions = tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT;
    s->opt = (psw_adamw){.lr = (float)tr->lr,
                         .beta1 = (float)tr->beta1,
                         .beta2 = (float)tr->beta2,
                         .eps = (float)tr->eps,
                         .weight_decay = (float)tr->weight_decay,
                         .max_grad_norm = (float)tr->max_grad_norm};
    s->lr_min = (float)tr->lr_min;
    s->schedule = tr->schedule;
    s->warmup_steps = tr->has_warmup_steps ? (long)tr->warmup_steps : -1;
    s->warmup_ratio = tr->warmup_ratio;
    s->micro_batch = tr->micro_batch;
    s->grad_accum = tr->grad_accum;
    s->epochs = tr->epochs;
    s->steps = tr->has_steps ? (long)tr->steps : 0;
    s->trainable_groups = trainable_groups_of(tr);
    s->shuffle_seed = (uint64_t)seed;
}

static psw_status ensure_cache(psw_run_context *ctx, psw_err *err) {
    if (ctx->cache) return PSW_OK;
    return psw_teacher_cache_open(ctx->cache_path, ctx->cache_fingerprint, ctx->train.prompts.n,
                                  ctx->teacher.cfg.vocab_size, &ctx->cache, err);
}

static psw_status build_cache(psw_run_context *ctx, psw_err *err) {
    const psw_spec_training *tr = &ctx->spec->training;
    bool all_positions = tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT;
    int B = tr->eval_batch, T = ctx->train.prompts.max_len;
    psw_status st = reserve_for(&ctx->teacher, B, T, all_positions ? B * T : B, false, err);
    if (st != PSW_OK) return st;
    psw_cache_format fmt = tr->teacher_cache == PSW_SPEC_CACHE_TOPK ? PSW_CACHE_TOPK : PSW_CACHE_FP16;
    return psw_teacher_cache_build(&ctx->teacher, &ctx->train.prompts, all_positions, fmt,
                                   tr->topk, B, ctx->cache_fingerprint, ctx->cache_path, err);
}

static void fill_common(psw_run_record *rec, const psw_task *t, int rank) {
    rec->retention = t->kind == PSW_TASK_TEACHER_EVAL ? 1.0 : t->config.retention;
    rec->loss = t->kind == PSW_TASK_RECOVER ? t->config.loss : PSW_LOSS_NONE;
    rec->data_size = t->kind == PSW_TASK_RECOVER ? t->config.data_size : 0;
    rec->seed = t->kind == PSW_TASK_RECOVER ? t->config.seed : 0;
    rec->kind = t->kind == PSW_TASK_RECOVER        ? PSW_ROW_RECOVERED
                : t->kind == PSW_TASK_TEACHER_EVAL ? PSW_ROW_TEACHER
                                                   : PSW_ROW_UNRECOVERED;
    rec->config_id = t->config.id; /* reference rows: replaced by psw_run_reference_id */
    rec->rank = rank;
    rec->final_loss = NAN;
    if (gethostname(rec->host, sizeof rec->host) != 0) snprintf(rec->host, sizeof rec->host, "?");
    rec->host[sizeof rec->host - 1] = '\0';
}

static void nan_metrics(psw_eval_metrics *m) {
    double *fields[] = {&m->accuracy, &m->entropy, &m->entropy_norm, &m->nll, &m->brier,
                        &m->ece,      &m->mce,     &m->choice_mass};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) *fields[i] = NAN;
    m->reliability.n_bins = PSW_ECE_BINS;
    for (int b = 0; b < PSW_ECE_BINS; b++)
        m->reliability.mean_conf[b] = m->reliability.accuracy[b] = NAN;
}

/* Evaluates m on the test set into out. */
static psw_status evaluate_into(psw_run_context *ctx, psw_model *m, psw_run_output *out,
                                psw_err *err) {
    double t0 = psw_now();
    bool was_batched = m->batched_forward;
    m->batched_forward = ctx->spec->training.eval_forward == PSW_SPEC_EVAL_BATCHED;
    psw_status st = psw_evaluate(m, &ctx->test, ctx->spec->training.eval_batch, NULL, out->probs,
                                 ctx->n_choices_max, &out->rec.metrics, err);
    m->batched_forward = was_batched;
    out->rec.seconds_eval = psw_now() - t0;
    return st;
}

psw_status psw_run_task(psw_run_context *ctx, const psw_task *task, int rank, psw_run_output *out,
                        psw_err *err) {
    return psw_run_task_keep(ctx, task, rank, NULL, out, err);
}

psw_status psw_run_task_keep(psw_run_context *ctx, const psw_task *task, int rank,
                             psw_model *keep, psw_run_output *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    if (keep) memset(keep, 0, sizeof *keep);
    const psw_spec *spec = ctx->spec;
    const psw_spec_training *tr = &spec->training;
    if (task->kind == PSW_TASK_TEACHER_CACHE) return build_cache(ctx, err);

    psw_run_record *rec = &out->rec;
    psw_status st = PSW_OK;
    psw_model student = {0};
    int32_t *subset = NULL;
    psw_err local = {0};
    fill_common(rec, task, rank);
    if (task->kind != PSW_TASK_RECOVER)
        rec->config_id = psw_run_reference_id(spec, rec->kind, rec->retention);
    size_t n_test = ctx->test.prompts.n;
    out->probs = psw_try_alloc(n_test * (size_t)ctx->n_choices_max * sizeof *out->probs);
    if (!out->probs) {
        st = PSW_FAIL(&local, PSW_ERR_NOMEM, "cannot allocate test probabilities");
        goto fail;
    }
    rec->probs = out->probs;
    rec->n_examples = (int32_t)n_test;
    rec->n_choices = ctx->n_choices_max;
    rec->loss_curve = out->curve;

    int Tmax = ctx->train.prompts.max_len > ctx->test.prompts.max_len ? ctx->train.prompts.max_len
                                                                      : ctx->test.prompts.max_len;
    int eval_B = tr->eval_batch;
    if (task->kind == PSW_TASK_TEACHER_EVAL) {
        psw_prune_report rep;
        psw_prune_report_fill(&ctx->teacher.cfg, &ctx->teacher.cfg, &rep);
        rec->mlp_neurons_kept = rep.neurons_kept, rec->mlp_neurons_total = rep.neurons_total;
        rec->params_total = rep.params_total, rec->params_mlp = rep.params_mlp;
        rec->params_nonembed = rep.params_nonembed;
        rec->retention_mlp = rec->retention_nonembed = rec->retention_total = 1.0;
        st = reserve_for(&ctx->teacher, eval_B, ctx->test.prompts.max_len, eval_B, false, &local);
        if (st == PSW_OK) st = evaluate_into(ctx, &ctx->teacher, out, &local);
        if (st != PSW_OK) goto fail;
        goto done;
    }

    double t0 = psw_now();
    psw_prune_report rep;
    psw_prune_score score = spec->pruning.score;
    /* Trainable kinds come out fp32, frozen ones bf16 when dtype_frozen is "bf16". */
    st = psw_prune_mlp_storage(&ctx->teacher, task->config.retention, score, spec->pruning.seed,
                               psw_run_student_bf16_groups(spec), &student, NULL, &rep, &local);
    if (st != PSW_OK) goto fail;
    rec->seconds_prune = psw_now() - t0;
    rec->mlp_neurons_kept = rep.neurons_kept, rec->mlp_neurons_total = rep.neurons_total;
    rec->params_total = rep.params_total, rec->params_mlp = rep.params_mlp;
    rec->params_nonembed = rep.params_nonembed;
    rec->retention_mlp = rep.retention_mlp;
    rec->retention_nonembed = rep.retention_nonembed;
    rec->retention_total = rep.retention_total;

    bool training = task->kind == PSW_TASK_RECOVER;
    bool all_positions = tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT;
    int B = training && tr->micro_batch > eval_B ? tr->micro_batch : eval_B;
    int P = training && all_positions ? B * Tmax : B;
    /* The trainable set before the reservation, so gradients and AdamW state are allocated
     * once and only for the kinds that train (psw_train sets the same set again: a no-op). */
    if (training && (st = psw_model_set_trainable(&student, trainable_groups_of(tr), &local)) != PSW_OK)
        goto fail;
    st = psw_model_reserve(&student, B, Tmax, P, training, &local);
    if (st != PSW_OK) goto fail;

    if (training) {
        const psw_spec_config *c = &task->config;
        if (c->data_size < 1 || (uint64_t)c->data_size > ctx->train.prompts.n) {
            st = PSW_FAIL(&local, PSW_ERR_INVALID_ARG,
                          "grid.data_size: %lld is outside 1..%zu (the train split's size)",
                          (long long)c->data_size, ctx->train.prompts.n);
            goto fail;
        }
        subset = psw_try_alloc((size_t)c->data_size * sizeof *subset);
        if (!subset) {
            st = PSW_FAIL(&local, PSW_ERR_NOMEM, "cannot allocate the recovery set");
            goto fail;
        }
        st = psw_run_recovery_set(ctx->train.prompts.n, c->data_size, c->seed, subset, &local);
        if (st != PSW_OK) goto fail;
        bool wants_ce = c->loss == PSW_LOSS_CE || c->loss == PSW_LOSS_MIX;
        bool wants_kl = c->loss == PSW_LOSS_KL || c->loss == PSW_LOSS_MIX;
        if (wants_ce && !ctx->train.labeled) {
            st = PSW_FAIL(&local, PSW_ERR_INVALID_ARG,
                          "%s: loss %s needs labels, but the train file has no answerKey",
                          ctx->train_path, psw_loss_kind_name(c->loss));
            goto fail;
        }
        if (wants_kl && (st = ensure_cache(ctx, &local)) != PSW_OK) goto fail;
        psw_train_settings ts;
        train_settings_from_spec(tr, c->loss, c->seed, &ts);
        /* Only what the loss may read is handed over: no labels for kl, no teacher for ce. */
        psw_train_data td = {.prompts = &ctx->train.prompts,
                             .gold = wants_ce ? ctx->train.gold : NULL,
                             .cache = wants_kl ? ctx->cache : NULL,
                             .subset = subset,
                             .n_subset = (size_t)c->data_size};
        psw_train_result tres;
        t0 = psw_now();
        st = psw_train(&student, &ts, &td, &tres, &local);
        rec->seconds_train = psw_now() - t0;
        rec->train_steps = tres.steps;
        rec->final_loss = tres.final_loss;
        rec->n_curve = tres.n_curve;
        memcpy(out->curve, tres.curve, sizeof out->curve);
        if (st != PSW_OK) goto fail;
    }
    st = evaluate_into(ctx, &student, out, &local);
    if (st != PSW_OK) goto fail;
done:
    rec->status = PSW_RUN_OK;
    rec->finish_time = (double)time(NULL);
    if (keep && student.params.base) {
        *keep = student; /* ownership moves to the caller */
        memset(&student, 0, sizeof student);
    }
    psw_model_free(&student);
    free(subset);
    return PSW_OK;
fail:
    /* A failed configuration is a row, not an error of the sweep. */
    rec->status = st == PSW_ERR_NUMERIC ? PSW_RUN_DIVERGED : PSW_RUN_FAILED;
    nan_metrics(&rec->metrics);
    /* No probabilities either: NaN, not whatever the buffer or a partial evaluation held. */
    if (out->probs)
        for (size_t i = 0; i < n_test * (size_t)ctx->n_choices_max; i++) out->probs[i] = NAN;
    snprintf(rec->message, sizeof rec->message, "%s", local.msg);
    rec->finish_time = (double)time(NULL);
    psw_model_free(&student);
    free(subset);
    (void)err;
    return PSW_OK;
}
