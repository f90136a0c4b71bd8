/* test_recover.c: the recovery pipeline without MPI (run.h, train.h), on a tiny synthetic world
 * (psw_world_make_dir) and a tiny random OLMo2 teacher saved next to it.
 *  - the KL of the teacher against itself is exactly 0 with exactly zero gradient (fp32 logits
 *    of the training forward),
 *    and at step 0 of a KL run at retention 1 through the fp16 cache it is the cache's rounding
 *    error only (measured);
 *  - CE training overfits 16 examples: the loss falls from ~log V below 0.05;
 *  - the same seed gives bit-identical records and probabilities on a rerun (ce and kl);
 *  - recovery sets: nested prefixes for one seed; ce and kl see the same examples in the same
 *    order (a mix at alpha 1 is the ce run and at alpha 0 the kl run, bit for bit);
 *  - CE never reads teacher logits and KL never reads labels: psw_train refuses the other input,
 *    and a KL run on an unlabeled copy of the train file, or on one with every answer changed,
 *    gives bit-identical results (same cache); a CE run on the unlabeled copy is a failed row;
 *  - a diverging run (lr 1e30) is a "diverged" row with a message; data_size larger than the
 *    train split is a "failed" row naming grid.data_size. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/model_io.h"
#include "psw/prune.h"
#include "psw/run.h"
#include "psw/train.h"
#include "psw/world.h"
#include "test.h"

enum { N_TRAIN = 48 };

/* The world (train/dev/test JSONL + tokenizer.json) and a random teacher in dir. */
static bool make_world(const char *dir) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.seed = 3;
    o.n_entities = 12;
    o.facts_per_entity = 3;
    o.n_train = N_TRAIN;
    o.n_dev = 16;
    o.n_test = 16;
    o.n_drills = 0;
    psw_err err = {0};
    CHECK_OK(psw_world_make_dir(&o, 330, dir, &err), &err);
    if (err.status != PSW_OK) return false;
    psw_tokenizer *tok = NULL;
    char *tok_path = psw_path_join(dir, "tokenizer.json");
    CHECK_OK(psw_tokenizer_load(tok_path, &tok, &err), &err);
    free(tok_path);
    if (!tok) return false;
    psw_model_config cfg = {.arch = PSW_ARCH_OLMO2,
                            .hidden_size = 32,
                            .intermediate_size = 64,
                            .num_layers = 2,
                            .num_heads = 4,
                            .num_kv_heads = 2,
                            .head_dim = 8,
                            .vocab_size = (int)psw_tokenizer_vocab_size(tok),
                            .max_position_embeddings = 128,
                            .rope_theta = 10000.0f,
                            .rms_norm_eps = 1e-6f,
                            .bos_token_id = -1,
                            .eos_token_id = -1,
                            .pad_token_id = -1};
    psw_tokenizer_free(tok);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 21, 0.1f);
    CHECK_OK(psw_model_save(&m, dir, PSW_SAVE_F32, 0, &err), &err);
    psw_model_free(&m);
    return err.status == PSW_OK;
}

/* Writes a copy of src with every answerKey removed (mode 0) or moved to another label (1). */
static void rewrite_labels(const char *src, const char *dst, int mode) {
    char *text = NULL;
    size_t len = 0;
    psw_err err = {0};
    CHECK_OK(psw_read_file(src, &text, &len, &err), &err);
    FILE *f = fopen(dst, "w");
    CHECK(f != NULL, "create %s", dst);
    if (!text || !f) {
        free(text);
        if (f) fclose(f);
        return;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        CHECK(o != NULL, "parse a train line");
        if (!o) continue;
        if (mode == 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(o, "answerKey");
        } else {
            const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "answerKey");
            char other[2] = {key && cJSON_IsString(key) && key->valuestring[0] == 'A' ? 'B' : 'A', 0};
            cJSON_ReplaceItemInObjectCaseSensitive(o, "answerKey", cJSON_CreateString(other));
        }
        char *out = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", out);
        cJSON_free(out);
        cJSON_Delete(o);
    }
    fclose(f);
    free(text);
}

static void spec_for(psw_spec *spec, const char *dir, const char *train) {
    psw_spec_init_defaults(spec);
    psw_spec_set_model(spec, dir);
    char *test = psw_path_join(dir, "dev.jsonl");
    psw_spec_set_path(&spec->data.train, train);
    psw_spec_set_path(&spec->data.test, test);
    free(test);
    spec->prompt.shots = 0;
    psw_spec_training *t = &spec->training;
    t->micro_batch = 4;
    t->grad_accum = 2;
    t->epochs = 2;
    t->has_steps = false;
    t->lr = 3e-3;
    t->lr_min = 3e-4;
    t->eval_batch = 8;
}

static psw_task recover_task(const psw_spec *spec, psw_loss_kind loss, int64_t n, int64_t seed) {
    psw_task t = {.kind = PSW_TASK_RECOVER};
    t.config.retention = 0.5;
    t.config.loss = loss;
    t.config.data_size = n;
    t.config.seed = seed;
    t.config.id = psw_spec_config_id(spec, 0.5, loss, n, seed);
    return t;
}

static bool metrics_same(const psw_eval_metrics *a, const psw_eval_metrics *b) {
    const double *da[] = {&a->accuracy, &a->entropy, &a->entropy_norm, &a->nll,
                          &a->brier,    &a->ece,     &a->mce,          &a->choice_mass};
    const double *db[] = {&b->accuracy, &b->entropy, &b->entropy_norm, &b->nll,
                          &b->brier,    &b->ece,     &b->mce,          &b->choice_mass};
    bool ok = a->n_examples == b->n_examples && a->n_labeled == b->n_labeled;
    for (int i = 0; i < 8; i++) ok &= memcmp(da[i], db[i], sizeof(double)) == 0;
    return ok && memcmp(a->reliability.count, b->reliability.count, sizeof a->reliability.count) == 0;
}

/* Two rows agree bit for bit: metrics, probabilities, loss and curve. */
static bool rows_same(const psw_run_output *a, const psw_run_output *b) {
    const psw_run_record *x = &a->rec, *y = &b->rec;
    size_t np = (size_t)x->n_examples * (size_t)x->n_choices;
    return x->status == PSW_RUN_OK && y->status == PSW_RUN_OK && x->n_examples == y->n_examples &&
           x->n_choices == y->n_choices && memcmp(a->probs, b->probs, np * sizeof(float)) == 0 &&
           metrics_same(&x->metrics, &y->metrics) &&
           memcmp(&x->final_loss, &y->final_loss, sizeof(double)) == 0 &&
           x->train_steps == y->train_steps && x->n_curve == y->n_curve &&
           memcmp(a->curve, b->curve, (size_t)x->n_curve * sizeof(float)) == 0;
}

static void run(psw_run_context *ctx, const psw_task *t, psw_run_output *out) {
    psw_err err = {0};
    CHECK_OK(psw_run_task(ctx, t, 0, out, &err), &err);
}

static void test_recovery_sets(void) {
    psw_err err = {0};
    int32_t a[32], b[8], c[32];
    CHECK_OK(psw_run_recovery_set(N_TRAIN, 32, 7, a, &err), &err);
    CHECK_OK(psw_run_recovery_set(N_TRAIN, 8, 7, b, &err), &err);
    CHECK_OK(psw_run_recovery_set(N_TRAIN, 32, 8, c, &err), &err);
    CHECK(memcmp(a, b, sizeof b) == 0, "data_size 8 is a prefix of data_size 32 (seed 7)");
    CHECK(memcmp(a, c, sizeof a) != 0, "another seed draws another set");
    bool seen[N_TRAIN] = {false}, distinct = true, identity = true;
    for (int i = 0; i < 32; i++) {
        distinct &= a[i] >= 0 && a[i] < N_TRAIN && !seen[a[i]];
        if (a[i] >= 0 && a[i] < N_TRAIN) seen[a[i]] = true;
        identity &= a[i] == i;
    }
    CHECK(distinct && !identity, "32 distinct train indices, shuffled");
    CHECK_FAILS(psw_run_recovery_set(N_TRAIN, N_TRAIN + 1, 7, a, &err), &err, PSW_ERR_INVALID_ARG,
                "grid.data_size: 49 is outside 1..48");
    CHECK_FAILS(psw_run_recovery_set(N_TRAIN, 0, 7, a, &err), &err, PSW_ERR_INVALID_ARG,
                "grid.data_size: 0");
}

/* KL(teacher || teacher) = 0 with zero gradient; and through the cache at step 0. */
static void test_self_kl(psw_run_context *ctx) {
    psw_err err = {0};
    psw_model student;
    CHECK_OK(psw_prune_mlp(&ctx->teacher, 1.0, PSW_PRUNE_L2, 0, &student, NULL, NULL, &err), &err);
    const psw_mc_prompts *p = &ctx->train.prompts;
    int T = p->max_len, V = student.cfg.vocab_size, B = 4;
    CHECK_OK(psw_model_reserve(&student, B, T, B, true, &err), &err);
    int32_t *tokens = calloc((size_t)B * (size_t)T, sizeof *tokens), lengths[4];
    int64_t pos[4];
    for (int b = 0; b < B; b++) {
        int len = (int)(p->offsets[b + 1] - p->offsets[b]);
        memcpy(tokens + (size_t)b * T, p->ids + p->offsets[b], (size_t)len * sizeof *tokens);
        lengths[b] = len;
        pos[b] = (int64_t)b * T + len - 1;
    }
    psw_batch batch = {.tokens = tokens, .lengths = lengths, .B = B, .T = T};
    float *teacher = malloc((size_t)B * (size_t)V * sizeof *teacher);
    /* The loss's own forward (one GEMM over the batch): psw_model_forward runs per-sequence
     * GEMMs, which may round otherwise. */
    psw_forward_run(&student, &batch, pos, B, teacher, false, psw_loss_at_rows(&batch, B));
    for (int k = 0; k < 2; k++) {
        float temp = k == 0 ? 1.0f : 2.0f;
        psw_loss_spec ls = {.P = B, .pos = pos, .teacher_logits = teacher, .temperature = temp,
                            .kl_weight = 1.0f, .grad_scale = 1.0f};
        double loss = -1;
        psw_model_zero_grad(&student);
        CHECK_OK(psw_model_forward_backward(&student, &batch, &ls, &loss, &err), &err);
        double gmax = 0;
        for (size_t i = 0; i < student.grads.total; i++)
            if (fabs(student.grads.base[i]) > gmax) gmax = fabs(student.grads.base[i]);
        CHECK(loss == 0.0, "KL(teacher || teacher) at T=%g is exactly 0 (got %.3g)", (double)temp,
              loss);
        CHECK(gmax == 0.0, "and its gradient is exactly 0 (max |g| = %.3g)", gmax);
    }
    /* The train path at retention 1 on the fp16 cache: step 0's loss is the cache's rounding. */
    psw_train_settings ts = {.loss = PSW_LOSS_KL, .temperature = 1.0,
                             .opt = {.lr = 0.0f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f},
                             .warmup_steps = 0, .micro_batch = 4, .grad_accum = 1, .steps = 1,
                             .trainable_groups = (1u << PSW_GROUP_COUNT) - 1u};
    int32_t subset[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    psw_train_data td = {.prompts = p, .cache = ctx->cache, .subset = subset, .n_subset = 8};
    psw_train_result res;
    CHECK_OK(psw_train(&student, &ts, &td, &res, &err), &err);
    printf("self-KL at step 0 through the fp16 cache: %.3e\n", res.final_loss);
    /* Not exactly 0: the cache rounds the teacher to fp16, and the engine's float KL of two
     * nearly equal distributions can round a hair below 0. */
    CHECK(res.steps == 1 && fabs(res.final_loss) < 1e-4,
          "self-KL through the fp16 cache at step 0: |%.3e| < 1e-4", res.final_loss);
    free(tokens);
    free(teacher);
    psw_model_free(&student);
}

static void test_overfit(psw_run_context *ctx) {
    psw_err err = {0};
    psw_model student;
    CHECK_OK(psw_prune_mlp(&ctx->teacher, 0.5, PSW_PRUNE_L2, 0, &student, NULL, NULL, &err), &err);
    const psw_mc_prompts *p = &ctx->train.prompts;
    CHECK_OK(psw_model_reserve(&student, 8, p->max_len, 8, true, &err), &err);
    int32_t subset[16];
    CHECK_OK(psw_run_recovery_set(p->n, 16, 1, subset, &err), &err);
    psw_train_settings ts = {.loss = PSW_LOSS_CE,
                             .opt = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                                     .weight_decay = 0.0f, .max_grad_norm = 1.0f},
                             .lr_min = 1e-3f, .schedule = PSW_SCHEDULE_COSINE,
                             .warmup_steps = 5, .micro_batch = 8, .grad_accum = 1, .epochs = 60,
                             .trainable_groups = (1u << PSW_GROUP_COUNT) - 1u,
                             .shuffle_seed = 1};
    psw_train_data td = {.prompts = p, .gold = ctx->train.gold, .subset = subset, .n_subset = 16};
    psw_train_result res;
    CHECK_OK(psw_train(&student, &ts, &td, &res, &err), &err);
    printf("overfit 16 examples (CE): %lld steps, loss %.3f at step 0 -> %.4f\n",
           (long long)res.steps, res.n_curve ? res.curve[0] : NAN, res.final_loss);
    CHECK(res.steps == 120, "60 epochs of 16 in batches of 8: 120 steps (got %lld)",
          (long long)res.steps);
    CHECK(res.n_curve == 120 && res.curve[0] > 3.0, "the loss starts near log V (%.3f)",
          res.n_curve ? res.curve[0] : NAN);
    CHECK(res.final_loss < 0.05, "the loss falls below 0.05 (%.4f)", res.final_loss);
    psw_model_free(&student);
}

static void test_separation_refusals(psw_run_context *ctx) {
    psw_err err = {0};
    psw_model student;
    CHECK_OK(psw_prune_mlp(&ctx->teacher, 0.5, PSW_PRUNE_L2, 0, &student, NULL, NULL, &err), &err);
    CHECK_OK(psw_model_reserve(&student, 4, ctx->train.prompts.max_len, 4, true, &err), &err);
    int32_t subset[4] = {0, 1, 2, 3};
    psw_train_settings ts = {.temperature = 1.0, .opt = {.lr = 1e-3f, .beta1 = 0.9f,
                                                         .beta2 = 0.999f, .eps = 1e-8f},
                             .micro_batch = 4, .grad_accum = 1, .epochs = 1,
                             .trainable_groups = (1u << PSW_GROUP_COUNT) - 1u};
    psw_train_result res;
    psw_train_data kl_gold = {.prompts = &ctx->train.prompts, .gold = ctx->train.gold,
                              .cache = ctx->cache, .subset = subset, .n_subset = 4};
    ts.loss = PSW_LOSS_KL;
    CHECK_FAILS(psw_train(&student, &ts, &kl_gold, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "loss kl must not be given labels");
    psw_train_data kl_none = {.prompts = &ctx->train.prompts, .subset = subset, .n_subset = 4};
    CHECK_FAILS(psw_train(&student, &ts, &kl_none, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "loss kl needs a teacher cache");
    ts.loss = PSW_LOSS_CE;
    psw_train_data ce_cache = kl_gold;
    CHECK_FAILS(psw_train(&student, &ts, &ce_cache, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "loss ce must not be given a teacher cache");
    CHECK_FAILS(psw_train(&student, &ts, &kl_none, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "loss ce needs labels");
    ts.loss = PSW_LOSS_MIX;
    ts.alpha = 0.5;
    CHECK_FAILS(psw_train(&student, &ts, &kl_none, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "loss mix needs labels");
    ts.micro_batch = 0;
    CHECK_FAILS(psw_train(&student, &ts, &kl_gold, &res, &err), &err, PSW_ERR_INVALID_ARG,
                "micro_batch 0");
    psw_model_free(&student);
}

int main(void) {
    test_recovery_sets();
    char *dir = psw_test_tmpdir();
    if (!make_world(dir)) {
        psw_test_rmtree(dir);
        free(dir);
        return psw_test_finish();
    }
    char *cache_dir = psw_path_join(dir, "cache");
    char *train = psw_path_join(dir, "train.jsonl");
    char *unlabeled = psw_path_join(dir, "train_unlabeled.jsonl");
    char *relabeled = psw_path_join(dir, "train_relabeled.jsonl");
    rewrite_labels(train, unlabeled, 0);
    rewrite_labels(train, relabeled, 1);

    psw_spec spec;
    spec_for(&spec, dir, train);
    psw_run_context ctx;
    psw_err err = {0};
    CHECK_OK(psw_run_context_open(&ctx, &spec, cache_dir, 0, &err), &err);
    if (err.status != PSW_OK) return psw_test_finish();
    CHECK(ctx.train.prompts.n == N_TRAIN && ctx.train.labeled, "48 labeled train examples");
    psw_task cache_task = {.kind = PSW_TASK_TEACHER_CACHE};
    psw_run_output none;
    CHECK_OK(psw_run_task(&ctx, &cache_task, 0, &none, &err), &err);
    CHECK_OK(psw_teacher_cache_open(ctx.cache_path, ctx.cache_fingerprint, ctx.train.prompts.n,
                                    ctx.teacher.cfg.vocab_size, &ctx.cache, &err),
             &err);

    test_self_kl(&ctx);
    test_overfit(&ctx);
    test_separation_refusals(&ctx);

    /* Reruns are bit-identical. */
    psw_run_output ce1, ce2, kl1, kl2, mix1, mix0;
    psw_task ce = recover_task(&spec, PSW_LOSS_CE, 16, 5), kl = recover_task(&spec, PSW_LOSS_KL, 16, 5);
    run(&ctx, &ce, &ce1);
    run(&ctx, &ce, &ce2);
    run(&ctx, &kl, &kl1);
    run(&ctx, &kl, &kl2);
    CHECK(rows_same(&ce1, &ce2), "ce: the same seed gives a bit-identical row (%s / %s)",
          ce1.rec.message, ce2.rec.message);
    CHECK(rows_same(&kl1, &kl2), "kl: the same seed gives a bit-identical row (%s / %s)",
          kl1.rec.message, kl2.rec.message);
    CHECK(ce1.rec.train_steps == 4 && kl1.rec.train_steps == 4,
          "16 examples x 2 epochs / (4 x 2) = 4 optimizer steps (ce %lld, kl %lld)",
          (long long)ce1.rec.train_steps, (long long)kl1.rec.train_steps);
    CHECK(memcmp(ce1.probs, kl1.probs, (size_t)ce1.rec.n_examples * ce1.rec.n_choices * 4) != 0,
          "ce and kl runs differ (the comparisons are not vacuous)");
    printf("ce row: acc %.4f loss %.4f; kl row: acc %.4f loss %.4f\n", ce1.rec.metrics.accuracy,
           ce1.rec.final_loss, kl1.rec.metrics.accuracy, kl1.rec.final_loss);

    /* Same examples, same order: a mix at alpha 1 is the ce run, at alpha 0 the kl run. */
    psw_task mix = recover_task(&spec, PSW_LOSS_MIX, 16, 5);
    spec.training.alpha = 1.0;
    run(&ctx, &mix, &mix1);
    spec.training.alpha = 0.0;
    run(&ctx, &mix, &mix0);
    spec.training.alpha = 0.5;
    CHECK(rows_same(&mix1, &ce1), "mix at alpha 1 == ce, bit for bit (%s)", mix1.rec.message);
    CHECK(rows_same(&mix0, &kl1), "mix at alpha 0 == kl, bit for bit (%s)", mix0.rec.message);

    /* Diverged and failed rows. */
    psw_run_output div, big;
    spec.training.lr = 1e30;
    run(&ctx, &ce, &div);
    spec.training.lr = 3e-3;
    CHECK(div.rec.status == PSW_RUN_DIVERGED, "lr 1e30: status %s, want diverged",
          psw_run_status_name(div.rec.status));
    CHECK(strstr(div.rec.message, "diverged at step") != NULL, "diverged message: '%s'",
          div.rec.message);
    bool nan_probs = isnan(div.rec.metrics.accuracy);
    for (int i = 0; i < div.rec.n_examples * div.rec.n_choices; i++) nan_probs &= isnan(div.probs[i]);
    CHECK(nan_probs, "a diverged row has NaN metrics and probabilities");
    psw_task too_big = recover_task(&spec, PSW_LOSS_CE, N_TRAIN + 1, 5);
    run(&ctx, &too_big, &big);
    CHECK(big.rec.status == PSW_RUN_FAILED &&
              strstr(big.rec.message, "grid.data_size: 49 is outside 1..48") != NULL,
          "data_size 49 > 48: failed row, message '%s'", big.rec.message);

    /* KL reads no labels: the unlabeled and the relabeled train files give the same kl row. */
    const char *variants[2] = {unlabeled, relabeled};
    for (int v = 0; v < 2; v++) {
        psw_spec spec2;
        spec_for(&spec2, dir, variants[v]);
        psw_run_context ctx2;
        CHECK_OK(psw_run_context_open(&ctx2, &spec2, cache_dir, 0, &err), &err);
        if (err.status != PSW_OK) break;
        CHECK(ctx2.train.labeled == (v == 1), "variant %d labeled: %d", v, ctx2.train.labeled);
        CHECK(ctx2.cache_fingerprint == ctx.cache_fingerprint,
              "variant %d: the teacher cache does not depend on labels", v);
        psw_run_output kl_v, ce_v;
        psw_task kl2t = recover_task(&spec2, PSW_LOSS_KL, 16, 5);
        run(&ctx2, &kl2t, &kl_v);
        CHECK(rows_same(&kl_v, &kl1), "%s train file: the kl row is bit-identical (%s)",
              v == 0 ? "unlabeled" : "relabeled", kl_v.rec.message);
        psw_task ce2t = recover_task(&spec2, PSW_LOSS_CE, 16, 5);
        run(&ctx2, &ce2t, &ce_v);
        if (v == 0)
            CHECK(ce_v.rec.status == PSW_RUN_FAILED && strstr(ce_v.rec.message, "needs labels"),
                  "ce on the unlabeled file: failed row '%s'", ce_v.rec.message);
        else /* the relabeled file changes what ce learns, so the comparison above is not moot */
            CHECK(ce_v.rec.status == PSW_RUN_OK && !rows_same(&ce_v, &ce1),
                  "ce on the relabeled file differs from ce on the true labels");
        psw_run_output_free(&kl_v);
        psw_run_output_free(&ce_v);
        psw_run_context_close(&ctx2);
        psw_spec_free(&spec2);
    }

    psw_run_output *outs[] = {&ce1, &ce2, &kl1, &kl2, &mix1, &mix0, &div, &big};
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) psw_run_output_free(outs[i]);
    psw_run_context_close(&ctx);
    psw_spec_free(&spec);
    psw_test_rmtree(dir);
    free(dir);
    free(cache_dir);
    free(train);
    free(unlabeled);
    free(relabeled);
    return psw_test_finish();
}
