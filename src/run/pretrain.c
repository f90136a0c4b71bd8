/* pretrain.c: causal-LM pretraining and the embedded default (see pretrain.h). */
#include "psw/pretrain.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/evaluate.h"
#include "psw/model_io.h"
#include "psw/rng.h"
#include "psw/run.h"
#include "psw/tokenizer.h"
#include "psw/train.h"

psw_status psw_pretrain(psw_model *m, const int32_t *tokens, size_t n, const psw_pretrain_opts *o,
                        double *final_loss, psw_err *err) {
    size_t B = (size_t)o->batch, T = (size_t)o->seq_len, P = B * (T - 1);
    if (n < T + 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "pretrain: %zu tokens, fewer than a window of %zu",
                        n, T + 1);
    psw_status st = psw_model_reserve(m, (int)B, (int)T, (int)P, true, err);
    if (st != PSW_OK) return st;
    int32_t *batch_tokens = psw_try_alloc(B * T * sizeof *batch_tokens);
    int32_t *lengths = psw_try_alloc(B * sizeof *lengths);
    int64_t *pos = psw_try_alloc(P * sizeof *pos);
    int32_t *targets = psw_try_alloc(P * sizeof *targets);
    if (!batch_tokens || !lengths || !pos || !targets) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "pretrain: cannot allocate batch buffers");
        goto done;
    }
    psw_rng rng;
    psw_rng_seed(&rng, o->seed ^ 0x7072657472ULL);
    double tail_sum = 0.0;
    long tail_from = o->steps - (o->steps / 10 > 0 ? o->steps / 10 : 1), tail_n = 0;
    psw_progress progress;
    psw_progress_start(&progress, "pretrain", "steps", o->steps);
    for (long step = 0; step < o->steps; step++) {
        size_t p = 0;
        for (size_t b = 0; b < B; b++) {
            size_t start = (size_t)psw_rng_below(&rng, (uint64_t)(n - T));
            memcpy(batch_tokens + b * T, tokens + start, T * sizeof *batch_tokens);
            lengths[b] = (int32_t)T;
            for (size_t t = 0; t + 1 < T; t++, p++) {
                pos[p] = (int64_t)(b * T + t);
                targets[p] = tokens[start + t + 1];
            }
        }
        psw_batch batch = {.tokens = batch_tokens, .lengths = lengths, .B = (int)B, .T = (int)T};
        psw_loss_spec ls = {.P = (int)P, .pos = pos, .targets = targets, .temperature = 1.0f,
                            .ce_weight = 1.0f, .kl_weight = 0.0f, .grad_scale = 1.0f};
        double loss = 0.0, grad_norm = 0.0;
        psw_model_zero_grad(m);
        st = psw_model_forward_backward(m, &batch, &ls, &loss, err);
        if (st != PSW_OK) goto done;
        psw_adamw opt = {.lr = psw_lr_at(PSW_SCHEDULE_COSINE, step, o->warmup, o->steps, o->lr,
                                         o->lr_min),
                         .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                         .weight_decay = o->weight_decay, .max_grad_norm = o->max_grad_norm};
        st = psw_model_adamw_step(m, &opt, &grad_norm, err);
        if (st != PSW_OK) goto done;
        if (step >= tail_from) {
            tail_sum += loss;
            tail_n++;
        }
        if ((step + 1) % 100 == 0) PSW_LOG_DEBUG("pretrain: step %ld loss %.4f", step + 1, loss);
        psw_progress_update(&progress, step + 1);
    }
    if (final_loss) *final_loss = tail_n ? tail_sum / (double)tail_n : NAN;
done:
    free(batch_tokens);
    free(lengths);
    free(pos);
    free(targets);
    return st;
}

void psw_default_opts_init(psw_default_opts *o) {
    memset(o, 0, sizeof *o);
    psw_world_opts_default(&o->world);
    o->vocab_size = 1024;
    o->hidden = 128;
    o->layers = 4;
    o->heads = 4;
    o->kv_heads = 2;
    o->intermediate = 64; /* small, so the world's facts fill the MLP and pruning costs knowledge */
    o->train = (psw_pretrain_opts){.batch = 16, .seq_len = 128, .steps = 150, .warmup = 30,
                                   .lr = 3e-3f, .lr_min = 1e-4f, .weight_decay = 0.01f,
                                   .max_grad_norm = 1.0f, .seed = 0};
    o->world.fixed_choices = true;
    /* 300 facts in a narrow MLP: enough knowledge that pruning to 25% costs ~25 points
     * (measured; README), little enough that the teacher learns it in about a minute. */
    o->world.n_entities = 60;
    o->world.n_train = 3000;
    o->sft_epochs = 8;
    o->sft_batch = 32;
    o->sft_lr = 2e-3f;
}

/* The options as the text stored in prepared.json: a different text means a different default. */
static void opts_text(const psw_default_opts *o, char *buf, size_t n) {
    snprintf(buf, n,
             "world seed=%llu entities=%d facts=%d train=%d dev=%d test=%d holdout=%d drills=%d "
             "fixed=%d vocab=%d "
             "model hidden=%d layers=%d heads=%d kv=%d inter=%d train batch=%d seq=%d steps=%ld "
             "warmup=%ld lr=%g lr_min=%g wd=%g clip=%g seed=%llu sft epochs=%d batch=%d lr=%g",
             (unsigned long long)o->world.seed, o->world.n_entities, o->world.facts_per_entity,
             o->world.n_train, o->world.n_dev, o->world.n_test, o->world.holdout_pct,
             o->world.n_drills, (int)o->world.fixed_choices, o->vocab_size, o->hidden, o->layers, o->heads, o->kv_heads, o->intermediate,
             o->train.batch, o->train.seq_len, o->train.steps, o->train.warmup,
             (double)o->train.lr, (double)o->train.lr_min, (double)o->train.weight_decay,
             (double)o->train.max_grad_norm, (unsigned long long)o->train.seed, o->sft_epochs,
             o->sft_batch, (double)o->sft_lr);
}

bool psw_default_ready(const char *dir, const psw_default_opts *o) {
    char *path = psw_path_join(dir, "prepared.json");
    char *text = NULL;
    size_t len = 0;
    psw_status st = psw_read_file(path, &text, &len, NULL);
    free(path);
    if (st != PSW_OK) return false;
    char want[1024];
    opts_text(o, want, sizeof want);
    bool ok = strstr(text, want) != NULL;
    free(text);
    return ok;
}

/* Tokenizes the corpus: documents ("\n\n"-separated) joined by the end-of-text token. */
static psw_status tokenize_corpus(const psw_tokenizer *tok, const char *text, size_t len,
                                  int32_t **out, size_t *n_out, psw_err *err) {
    int32_t eot = psw_tokenizer_token_to_id(tok, "<|endoftext|>");
    if (eot < 0) return PSW_FAIL(err, PSW_ERR_FORMAT, "default tokenizer has no <|endoftext|>");
    size_t cap = len / 2 + 16, used = 0;
    int32_t *ids = psw_try_alloc(cap * sizeof *ids);
    if (!ids) return PSW_FAIL(err, PSW_ERR_NOMEM, "corpus: cannot allocate token buffer");
    const char *at = text, *end = text + len;
    while (at < end) {
        const char *sep = strstr(at, "\n\n");
        const char *doc_end = sep ? sep : end;
        int32_t *doc = NULL;
        size_t n = 0;
        psw_status st = psw_tokenizer_encode(tok, at, (size_t)(doc_end - at), &doc, &n, err);
        if (st != PSW_OK) {
            free(ids);
            return st;
        }
        if (used + n + 1 > cap) {
            cap = (used + n + 1) * 2;
            int32_t *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) {
                free(doc);
                free(ids);
                return PSW_FAIL(err, PSW_ERR_NOMEM, "corpus: cannot grow token buffer");
            }
            ids = grown;
        }
        memcpy(ids + used, doc, n * sizeof *ids);
        used += n;
        ids[used++] = eot;
        free(doc);
        at = sep ? sep + 2 : end;
    }
    *out = ids;
    *n_out = used;
    return PSW_OK;
}

/* Loads a split and prompts it 0-shot in the plain multiple-choice format. */
static psw_status load_split(const char *path, const psw_tokenizer *tok, int max_len,
                             psw_mc_dataset *ds, psw_mc_set *set, psw_err *err) {
    psw_prompt_settings ps;
    psw_prompt_settings_default(&ps);
    ps.n_shots = 0;
    ps.shots = NULL;
    psw_status st = psw_mc_dataset_load(path, ds, err);
    if (st == PSW_OK) st = psw_mc_set_build(ds, &ps, tok, max_len, set, err);
    return st;
}

/* Supervised fine-tuning on the train questions (CE of the gold letter), then the 0-shot dev
 * accuracy. */
static psw_status sft_and_score(psw_model *m, const psw_tokenizer *tok, const char *train_path,
                                const char *dev_path, const psw_default_opts *o, double *acc,
                                psw_err *err) {
    psw_mc_dataset train_ds = {0}, dev_ds = {0};
    psw_mc_set train = {0}, dev = {0};
    int32_t *order = NULL;
    int max_len = m->cfg.max_position_embeddings;
    psw_status st = load_split(train_path, tok, max_len, &train_ds, &train, err);
    if (st == PSW_OK) st = load_split(dev_path, tok, max_len, &dev_ds, &dev, err);
    if (st != PSW_OK) goto done;
    int T = train.prompts.max_len > dev.prompts.max_len ? train.prompts.max_len : dev.prompts.max_len;
    int B = o->sft_batch > 32 ? o->sft_batch : 32;
    if (o->sft_epochs > 0) {
        st = psw_model_reserve(m, B, T, B, true, err);
        if (st != PSW_OK) goto done;
        size_t n = train.prompts.n;
        order = psw_try_alloc(n * sizeof *order);
        if (!order) {
            st = PSW_FAIL(err, PSW_ERR_NOMEM, "sft: cannot allocate");
            goto done;
        }
        psw_rng rng;
        psw_rng_seed(&rng, o->train.seed ^ 0x736674ULL);
        for (size_t i = 0; i < n; i++) order[i] = (int32_t)i;
        psw_rng_shuffle_i32(&rng, order, n);
        psw_train_settings ts = {.loss = PSW_LOSS_CE,
                                 .temperature = 1.0,
                                 .opt = {.lr = o->sft_lr, .beta1 = 0.9f, .beta2 = 0.95f,
                                         .eps = 1e-8f, .weight_decay = 0.0f,
                                         .max_grad_norm = 1.0f},
                                 .lr_min = o->sft_lr * 0.05f,
                                 .schedule = PSW_SCHEDULE_COSINE,
                                 .warmup_steps = 20,
                                 .micro_batch = o->sft_batch,
                                 .grad_accum = 1,
                                 .epochs = o->sft_epochs,
                                 .trainable_groups = (1u << PSW_GROUP_COUNT) - 1u,
                                 .shuffle_seed = o->train.seed};
        psw_train_data td = {.prompts = &train.prompts, .gold = train.gold,
                             .subset = order, .n_subset = n};
        psw_train_result res;
        /* The teacher's recipe: every row of the last layer, as when the default was fixed
         * (the loss-rows-only path rounds differently, and the SFT trajectory amplifies it). */
        m->loss_full_last_layer = true;
        st = psw_train(m, &ts, &td, &res, err);
        m->loss_full_last_layer = false;
        if (st != PSW_OK) goto done;
        PSW_LOG_INFO("prepare-default: SFT %lld steps, final loss %.4f", (long long)res.steps,
                     res.final_loss);
    }
    st = psw_model_reserve(m, 32, dev.prompts.max_len, 32, false, err);
    psw_eval_metrics metrics;
    if (st == PSW_OK) st = psw_evaluate(m, &dev, 32, NULL, NULL, 0, &metrics, err);
    if (st == PSW_OK) *acc = metrics.accuracy;
done:
    free(order);
    psw_mc_set_free(&train);
    psw_mc_set_free(&dev);
    psw_mc_dataset_free(&train_ds);
    psw_mc_dataset_free(&dev_ds);
    return st;
}

psw_status psw_default_prepare(const char *dir, const psw_default_opts *o, double *dev_accuracy,
                               psw_err *err) {
    double t0 = psw_now();
    psw_status st = psw_world_make_dir(&o->world, (size_t)o->vocab_size, dir, err);
    if (st != PSW_OK) return st;
    char *tok_path = psw_path_join(dir, "tokenizer.json");
    char *corpus_path = psw_path_join(dir, "corpus.txt");
    char *dev_path = psw_path_join(dir, "dev.jsonl");
    char *train_path = psw_path_join(dir, "train.jsonl");
    char *marker = psw_path_join(dir, "prepared.json");
    psw_tokenizer *tok = NULL;
    char *corpus = NULL;
    int32_t *stream = NULL;
    size_t corpus_len = 0, n_stream = 0;
    psw_model m = {0};
    st = psw_tokenizer_load(tok_path, &tok, err);
    if (st == PSW_OK) st = psw_read_file(corpus_path, &corpus, &corpus_len, err);
    if (st == PSW_OK) st = tokenize_corpus(tok, corpus, corpus_len, &stream, &n_stream, err);
    if (st != PSW_OK) goto done;
    int32_t eot = psw_tokenizer_token_to_id(tok, "<|endoftext|>");
    int32_t pad = psw_tokenizer_token_to_id(tok, "<|pad|>");
    psw_model_config cfg = {.arch = PSW_ARCH_OLMO2,
                            .hidden_size = o->hidden,
                            .intermediate_size = o->intermediate,
                            .num_layers = o->layers,
                            .num_heads = o->heads,
                            .num_kv_heads = o->kv_heads,
                            .head_dim = o->hidden / o->heads,
                            .vocab_size = (int)psw_tokenizer_vocab_size(tok),
                            .max_position_embeddings = 512,
                            .rope_theta = 10000.0f,
                            .rms_norm_eps = 1e-6f,
                            .tie_word_embeddings = false,
                            .bos_token_id = eot,
                            .eos_token_id = eot,
                            .pad_token_id = pad};
    PSW_LOG_INFO("prepare-default: corpus %zu tokens; teacher OLMo2 hidden %d, %d layers, "
                 "%d heads (%d kv), MLP %d, vocab %d; %ld steps of %d x %d tokens",
                 n_stream, cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads,
                 cfg.intermediate_size, cfg.vocab_size, o->train.steps, o->train.batch,
                 o->train.seq_len);
    st = psw_model_init(&m, &cfg, err);
    if (st != PSW_OK) goto done;
    psw_model_init_random(&m, o->train.seed ^ 0x6d6f64656cULL, 0.02f);
    double final_loss = NAN;
    st = psw_pretrain(&m, stream, n_stream, &o->train, &final_loss, err);
    if (st != PSW_OK) goto done;
    double acc = NAN;
    st = sft_and_score(&m, tok, train_path, dev_path, o, &acc, err);
    if (st != PSW_OK) goto done;
    st = psw_model_save(&m, dir, PSW_SAVE_F32, 0, err);
    if (st != PSW_OK) goto done;
    char opts[1024], json[1400];
    opts_text(o, opts, sizeof opts);
    int len = snprintf(json, sizeof json,
                       "{\"format\": 1, \"options\": \"%s\", \"final_loss\": %.6f, "
                       "\"dev_accuracy\": %.6f, \"seconds\": %.1f}\n",
                       opts, final_loss, acc, psw_now() - t0);
    st = psw_write_file(marker, json, (size_t)len, err);
    if (st != PSW_OK) goto done;
    PSW_LOG_INFO("prepare-default: teacher final loss %.4f, dev accuracy %.3f, %.0f s total",
                 final_loss, acc, psw_now() - t0);
    if (dev_accuracy) *dev_accuracy = acc;
done:
    psw_model_free(&m);
    free(stream);
    free(corpus);
    psw_tokenizer_free(tok);
    free(tok_path);
    free(corpus_path);
    free(dev_path);
    free(train_path);
    free(marker);
    return st;
}

psw_status psw_default_ensure(char **dir, psw_err *err) {
    *dir = psw_run_default_dir();
    psw_default_opts o;
    psw_default_opts_init(&o);
    if (psw_default_ready(*dir, &o)) return PSW_OK;
    PSW_LOG_INFO("the embedded default is missing in %s: building it (about a minute)", *dir);
    psw_status st = psw_mkdir_p(*dir, err);
    if (st == PSW_OK) st = psw_default_prepare(*dir, &o, NULL, err);
    if (st != PSW_OK) {
        psw_err_prefix(err, "prepare-default %s: ", *dir);
        free(*dir);
        *dir = NULL;
    }
    return st;
}
