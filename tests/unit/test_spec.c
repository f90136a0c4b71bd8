/* test_spec.c: experiment spec parsing, validation messages, defaults, grid expansion, config ids
 * and the normalised JSON (src/run/spec.c). JSON literals are written with ' for " (see q()). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/rng.h"
#include "psw/spec.h"
#include "test.h"

/* Replaces ' with " so JSON fits in C literals. Returns a static buffer. */
static const char *q(const char *s) {
    static char buf[1 << 16];
    size_t n = strlen(s);
    PSW_ASSERT(n < sizeof buf);
    for (size_t i = 0; i <= n; i++) buf[i] = s[i] == '\'' ? '"' : s[i];
    return buf;
}

static psw_status parse_mode(const char *json, psw_spec_mode mode, psw_spec *s, psw_err *e) {
    const char *text = q(json);
    return psw_spec_parse(text, strlen(text), "t.json", "/base", mode, s, e);
}

static psw_status parse_run(const char *json, psw_spec *s, psw_err *e) {
    return parse_mode(json, PSW_SPEC_MODE_RUN, s, e);
}

/* A minimal valid run spec with the given extra top-level members (", ..." or ""). */
#define BASE "'model':{'path':'m'},'data':{'train':'tr.jsonl','test':'/abs/te.jsonl'}"
#define GRID "'grid':{'retention':[1,0.5],'data_size':[8]}"

/* Parses in run mode and checks the failure status and message. */
#define EXPECT_FAIL(json, status, needle)                                                          \
    do {                                                                                           \
        psw_spec s_;                                                                               \
        psw_err e_ = {0};                                                                          \
        CHECK_FAILS(parse_run((json), &s_, &e_), &e_, (status), (needle));                         \
    } while (0)
#define EXPECT_INVALID(json, needle) EXPECT_FAIL(json, PSW_ERR_INVALID_ARG, needle)

static void test_defaults(void) {
    psw_spec s;
    psw_err e = {0};
    CHECK_OK(parse_run("{" BASE "," GRID "}", &s, &e), &e);
    CHECK(strcmp(s.name, "t") == 0, "name defaults to the file's base name: %s", s.name);
    CHECK(s.comment == NULL, "no comment");
    CHECK(strcmp(s.model.path.raw, "m") == 0 && strcmp(s.model.path.resolved, "/base/m") == 0,
          "model path resolved against base_dir: %s", s.model.path.resolved);
    CHECK(!s.model.is_default, "not default");
    CHECK(s.model.dtype_frozen == PSW_SPEC_DTYPE_F32, "dtype_frozen f32");
    CHECK(strcmp(s.data.train.resolved, "/base/tr.jsonl") == 0, "train resolved");
    CHECK(strcmp(s.data.test.resolved, "/abs/te.jsonl") == 0, "absolute path kept");
    CHECK(s.data.dev.raw == NULL && s.data.dev.resolved == NULL, "dev absent");
    CHECK(s.data.limit_test == 0, "limit_test 0");
    const psw_spec_prompt *p = &s.prompt;
    CHECK(p->template_kind == PSW_SPEC_TEMPLATE_OLMES_MC, "olmes template");
    CHECK(p->shots == 5 && p->n_shot_ids == 0 && p->shot_ids == NULL, "5 built-in shots");
    CHECK(p->chat == NULL && p->bos_token == NULL, "no chat, no bos");
    CHECK(strcmp(p->format, "Question: {question}{choices}\nAnswer:") == 0, "format");
    CHECK(strcmp(p->choice_format, "\n {label}. {text}") == 0, "choice_format");
    CHECK(strcmp(p->answer_format, " {label}") == 0, "answer_format");
    CHECK(strcmp(p->shot_separator, "\n\n") == 0, "shot_separator");
    CHECK(s.pruning.score == PSW_PRUNE_L2 && s.pruning.seed == 0, "pruning defaults");
    const psw_spec_training *t = &s.training;
    CHECK(t->loss_positions == PSW_SPEC_POSITIONS_ANSWER, "loss_positions");
    CHECK(t->temperature == 1.0 && t->alpha == 0.5, "temperature 1, alpha 0.5");
    CHECK(t->lr == 1e-4 && t->lr_min == 0.0, "lr");
    CHECK(!t->has_warmup_steps && t->warmup_ratio == 0.1, "warmup ratio 0.1");
    CHECK(t->schedule == PSW_SCHEDULE_COSINE, "cosine");
    CHECK(t->weight_decay == 0.0 && t->beta1 == 0.9 && t->beta2 == 0.999 && t->eps == 1e-8,
          "adamw defaults");
    CHECK(t->max_grad_norm == 1.0, "clip 1");
    CHECK(t->micro_batch == 8 && t->grad_accum == 1, "batching");
    CHECK(!t->has_steps && t->epochs == 1, "1 epoch");
    CHECK(t->trainable == PSW_SPEC_TRAINABLE_ALL, "trainable all");
    CHECK(t->eval_batch == 16 && t->max_seq_len == 1024, "eval_batch, max_seq_len");
    CHECK(t->eval_forward == PSW_SPEC_EVAL_PER_SEQUENCE, "eval_forward per_sequence by default");
    CHECK(t->teacher_cache == PSW_SPEC_CACHE_FP16 && t->topk == 64, "teacher cache");
    CHECK(s.grid.present && s.grid.n_loss == 2 && s.grid.loss[0] == PSW_LOSS_CE &&
              s.grid.loss[1] == PSW_LOSS_KL,
          "grid.loss defaults to [ce, kl]");
    CHECK(s.grid.n_seed == 1 && s.grid.seed[0] == 0, "grid.seed defaults to [0]");
    CHECK(psw_spec_grid_count(&s) == 4, "2 x 2 x 1 x 1 = 4 configs, got %zu",
          psw_spec_grid_count(&s));
    CHECK(strcmp(s.output.raw, "t.h5") == 0 && strcmp(s.output.resolved, "/base/t.h5") == 0,
          "output defaults to NAME.h5 next to the spec: %s", s.output.resolved);
    CHECK(s.threads_per_rank == 0, "threads auto");

    /* The documented SETTINGS text, written out by hand. */
    char *settings = psw_spec_settings_json(&s);
    const char *want =
        "{'model':{'path':'m','dtype_frozen':'f32'},"
        "'data':{'train':'tr.jsonl','test':'/abs/te.jsonl','limit_test':0},"
        "'prompt':{'template':'olmes_mc','shots':5,'chat':false,'bos_token':null},"
        "'pruning':{'score':'l2','seed':0},"
        "'training':{'loss_positions':'answer','temperature':1,'alpha':0.5,'lr':0.0001,"
        "'lr_min':0,'warmup_ratio':0.1,'schedule':'cosine','weight_decay':0,'beta1':0.9,"
        "'beta2':0.999,'eps':1e-08,'max_grad_norm':1,'micro_batch':8,'grad_accum':1,'epochs':1,"
        "'trainable':'all','eval_batch':16,'max_seq_len':1024,'teacher_cache':'fp16'}}";
    CHECK(strcmp(settings, q(want)) == 0, "settings json:\n got %s\nwant %s", settings, q(want));
    /* The config id is FNV-1a of SETTINGS "\n" CONFIG. */
    char *text = psw_spec_config_id_text(&s, 0.5, PSW_LOSS_KL, 8, 0);
    char expect_text[4096];
    snprintf(expect_text, sizeof expect_text, "%s\n%s", settings,
             q("{'retention':0.5,'loss':'kl','data_size':8,'seed':0}"));
    CHECK(strcmp(text, expect_text) == 0, "id text: %s", text);
    uint64_t id = psw_fnv1a(expect_text, strlen(expect_text), PSW_FNV_SEED);
    CHECK(psw_spec_config_id(&s, 0.5, PSW_LOSS_KL, 8, 0) == id, "config id = fnv1a(text)");
    psw_spec_config cf;
    CHECK_OK(psw_spec_grid_get(&s, 3, &cf, &e), &e);
    CHECK(cf.index == 3 && cf.retention == 0.5 && cf.loss == PSW_LOSS_KL && cf.data_size == 8 &&
              cf.seed == 0 && cf.id == id,
          "grid config 3 is (0.5, kl, 8, 0) with the documented id");
    free(text);
    free(settings);
    psw_spec_free(&s);

    /* psw_spec_init_defaults and an empty recover spec have the same settings. */
    psw_spec d;
    psw_spec_init_defaults(&d);
    CHECK_OK(parse_mode("{}", PSW_SPEC_MODE_RECOVER, &s, &e), &e);
    char *a = psw_spec_settings_json(&d), *b = psw_spec_settings_json(&s);
    CHECK(strcmp(a, b) == 0, "init_defaults == parse('{}'):\n%s\n%s", a, b);
    CHECK(psw_spec_grid_count(&s) == 0 && !s.grid.present, "no grid in recover mode");
    CHECK(s.model.path.raw == NULL, "no model path");
    free(a);
    free(b);
    psw_spec_free(&d);
    psw_spec_free(&s);
}

/* A spec that sets every key. */
#define ALL_KEYS                                                                                   \
    "{'name':'exp-1','comment':'c','model':{'path':'default','dtype_frozen':'bf16'},"              \
    "'data':{'dev':'d.jsonl','limit_test':100},"                                                   \
    "'prompt':{'template':'custom','shot_ids':['x','y'],'chat':true,'bos_token':'<s>',"            \
    "'format':'Q: {question}{choices}\\nA:','choice_format':'\\n({label}) {text}',"                \
    "'answer_format':' ({label})','shot_separator':'\\n---\\n'},"                                  \
    "'pruning':{'score':'gate_up','seed':7},"                                                      \
    "'training':{'loss_positions':'all_prompt','temperature':2,'alpha':0.25,'lr':0.001,"           \
    "'lr_min':0.0001,'warmup_steps':5,'schedule':'linear','weight_decay':0.01,'beta1':0.8,"        \
    "'beta2':0.95,'eps':1e-6,'max_grad_norm':0,'micro_batch':4,'grad_accum':2,'steps':10,"         \
    "'trainable':'mlp','eval_batch':32,'eval_forward':'batched','max_seq_len':100,"                \
    "'teacher_cache':'topk','topk':20},"                                                           \
    "'grid':{'retention':[0.25],'loss':['mix'],'data_size':[16],'seed':[3]},"                      \
    "'output':'out/r.h5','threads_per_rank':2}"

static void test_all_keys_set(void) {
    psw_spec s;
    psw_err e = {0};
    const char *json = ALL_KEYS;
    ;
    CHECK_OK(parse_run(json, &s, &e), &e);
    CHECK(strcmp(s.name, "exp-1") == 0 && strcmp(s.comment, "c") == 0, "name, comment");
    CHECK(s.model.is_default && s.model.path.resolved == NULL, "model default is not resolved");
    CHECK(s.model.dtype_frozen == PSW_SPEC_DTYPE_BF16, "bf16");
    CHECK(s.data.train.raw == NULL && strcmp(s.data.dev.resolved, "/base/d.jsonl") == 0,
          "default model needs no train/test; dev resolved");
    CHECK(s.data.limit_test == 100, "limit_test");
    const psw_spec_prompt *p = &s.prompt;
    CHECK(p->template_kind == PSW_SPEC_TEMPLATE_CUSTOM, "custom");
    CHECK(p->shots == 2 && p->n_shot_ids == 2 && strcmp(p->shot_ids[1], "y") == 0,
          "shots follow shot_ids");
    CHECK(strcmp(p->chat, PSW_SPEC_CHAT_OLMO2) == 0, "chat true = OLMo2 wrapper");
    CHECK(strcmp(p->bos_token, "<s>") == 0, "bos");
    CHECK(strcmp(p->format, "Q: {question}{choices}\nA:") == 0, "format");
    CHECK(strcmp(p->choice_format, "\n({label}) {text}") == 0, "choice_format");
    CHECK(strcmp(p->answer_format, " ({label})") == 0, "answer_format");
    CHECK(strcmp(p->shot_separator, "\n---\n") == 0, "shot_separator");
    CHECK(s.pruning.score == PSW_PRUNE_GATE_UP && s.pruning.seed == 7, "pruning");
    const psw_spec_training *t = &s.training;
    CHECK(t->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT && t->temperature == 2.0 &&
              t->alpha == 0.25 && t->lr == 0.001 && t->lr_min == 0.0001,
          "training numbers");
    CHECK(t->has_warmup_steps && t->warmup_steps == 5 && t->warmup_ratio == 0.0, "warmup steps");
    CHECK(t->schedule == PSW_SCHEDULE_LINEAR && t->weight_decay == 0.01 && t->beta1 == 0.8 &&
              t->beta2 == 0.95 && t->eps == 1e-6 && t->max_grad_norm == 0.0,
          "optimizer");
    CHECK(t->micro_batch == 4 && t->grad_accum == 2 && t->has_steps && t->steps == 10 &&
              t->epochs == 0,
          "steps");
    CHECK(t->trainable == PSW_SPEC_TRAINABLE_MLP && t->eval_batch == 32 && t->max_seq_len == 100,
          "trainable, eval_batch, max_seq_len");
    CHECK(t->eval_forward == PSW_SPEC_EVAL_BATCHED, "eval_forward batched");
    CHECK(t->teacher_cache == PSW_SPEC_CACHE_TOPK && t->topk == 20, "topk cache");
    CHECK(strcmp(s.output.resolved, "/base/out/r.h5") == 0 && s.threads_per_rank == 2, "output");
    CHECK(psw_spec_grid_count(&s) == 1 && s.grid.configs[0].loss == PSW_LOSS_MIX, "1 mix config");

    /* Estimates: steps mode = steps * micro_batch * grad_accum; prompt capped at max_seq_len. */
    CHECK(psw_spec_train_examples(&s, &s.grid.configs[0]) == 80, "10 x 4 x 2 examples");
    CHECK(psw_spec_prompt_tokens_estimate(&s) == 100, "(2+1)*45 = 135 capped at 100");

    /* Round trip: the normalised JSON parses to the same spec and the same ids. */
    char *j1 = psw_spec_to_json(&s, true);
    psw_spec s2;
    CHECK_OK(psw_spec_parse(j1, strlen(j1), "t.json", "/base", PSW_SPEC_MODE_RUN, &s2, &e), &e);
    char *j2 = psw_spec_to_json(&s2, true);
    CHECK(strcmp(j1, j2) == 0, "round trip:\n%s\n%s", j1, j2);
    CHECK(strstr(j1, "\"eval_forward\"") && strstr(j1, "\"batched\""), "eval_forward kept: %s", j1);
    CHECK(psw_spec_grid_count(&s2) == 1 && s2.grid.configs[0].id == s.grid.configs[0].id,
          "round trip keeps the id");
    free(j1);
    free(j2);
    psw_spec_free(&s2);
    psw_spec_free(&s);

    /* Epochs mode estimate and the chat string form. */
    CHECK_OK(parse_run("{" BASE ",'training':{'epochs':3},'prompt':{'shots':0,'chat':'[{prompt}]'},"
                       "'grid':{'retention':[1],'data_size':[8]}}",
                       &s, &e),
             &e);
    CHECK(psw_spec_train_examples(&s, &s.grid.configs[0]) == 24, "8 x 3 epochs");
    CHECK(psw_spec_prompt_tokens_estimate(&s) == 45, "0 shots: 45 tokens");
    CHECK(strcmp(s.prompt.chat, "[{prompt}]") == 0, "chat string");
    psw_spec_free(&s);
}

static void test_grid_order_and_exclusion(void) {
    psw_spec s;
    psw_err e = {0};
    CHECK_OK(parse_run("{" BASE ",'grid':{'retention':[1,0.5],'loss':['ce','kl'],"
                       "'data_size':[4,8],'seed':[0,1]}}",
                       &s, &e),
             &e);
    CHECK(psw_spec_grid_count(&s) == 16, "16 configs");
    const double R[2] = {1, 0.5};
    const psw_loss_kind L[2] = {PSW_LOSS_CE, PSW_LOSS_KL};
    const int64_t D[2] = {4, 8}, S[2] = {0, 1};
    int ok = 1;
    for (size_t i = 0; i < 16; i++) {
        psw_spec_config c;
        if (psw_spec_grid_get(&s, i, &c, &e) != PSW_OK) ok = 0;
        /* row-major, seed fastest */
        size_t si = i % 2, di = (i / 2) % 2, li = (i / 4) % 2, ri = i / 8;
        if (c.index != i || c.retention != R[ri] || c.loss != L[li] || c.data_size != D[di] ||
            c.seed != S[si])
            ok = 0;
        size_t found = 99;
        if (!psw_spec_grid_find(&s, c.id, &found) || found != i) ok = 0;
    }
    CHECK(ok, "row-major order over (retention, loss, data_size, seed), find by id");
    psw_spec_config c;
    CHECK_FAILS(psw_spec_grid_get(&s, 16, &c, &e), &e, PSW_ERR_INVALID_ARG,
                "t.json: config index 16 is outside the grid of 16");
    size_t idx;
    CHECK(!psw_spec_grid_find(&s, 12345, &idx), "unknown id not found");
    uint64_t full_ids[16];
    for (size_t i = 0; i < 16; i++) full_ids[i] = s.grid.configs[i].id;
    psw_spec_free(&s);

    /* Exclusions: rule 1 removes (1, kl, *, *) = 4, rule 2 removes (*, *, 8, 1) = 4, overlap 1. */
    CHECK_OK(parse_run("{" BASE ",'grid':{'retention':[1,0.5],'loss':['ce','kl'],"
                       "'data_size':[4,8],'seed':[0,1],'exclude':[{'retention':1,'loss':'kl'},"
                       "{'seed':1,'data_size':8}]}}",
                       &s, &e),
             &e);
    CHECK(psw_spec_grid_count(&s) == 9 && s.grid.n_excluded == 7 && s.grid.n_product == 16,
          "16 - 7 excluded = 9, got %zu", psw_spec_grid_count(&s));
    size_t n = 0;
    ok = 1;
    for (size_t i = 0; i < 16; i++) {
        size_t si = i % 2, di = (i / 2) % 2, li = (i / 4) % 2, ri = i / 8;
        bool ex = (ri == 0 && li == 1) || (si == 1 && di == 1);
        if (ex) continue;
        const psw_spec_config *k = &s.grid.configs[n];
        if (k->index != n || k->retention != R[ri] || k->loss != L[li] || k->data_size != D[di] ||
            k->seed != S[si] || k->id != full_ids[i])
            ok = 0;
        n++;
    }
    CHECK(ok && n == 9, "exclusions keep row-major order and ids");
    psw_spec_free(&s);

    /* Too large a grid: 10 x 3 x 200 x 200 = 1.2M configurations. */
    char *big = psw_xmalloc(1 << 16);
    size_t at = (size_t)snprintf(big, 1 << 16, "{" BASE ",'grid':{'retention':[");
    for (int i = 1; i <= 10; i++)
        at += (size_t)snprintf(big + at, 64, "%s%g", i > 1 ? "," : "", i / 10.0);
    at += (size_t)snprintf(big + at, 64, "],'loss':['ce','kl','mix'],'data_size':[");
    for (int i = 1; i <= 200; i++)
        at += (size_t)snprintf(big + at, 64, "%s%d", i > 1 ? "," : "", i);
    at += (size_t)snprintf(big + at, 64, "],'seed':[");
    for (int i = 0; i < 200; i++) at += (size_t)snprintf(big + at, 64, "%s%d", i ? "," : "", i);
    snprintf(big + at, 64, "]}}");
    EXPECT_INVALID(big, "t.json: grid: more than 1000000 configurations");
    free(big);

    /* An axis emptied programmatically is reported by psw_spec_expand. */
    CHECK_OK(parse_run("{" BASE "," GRID "}", &s, &e), &e);
    s.grid.n_seed = 0;
    CHECK_FAILS(psw_spec_expand(&s, &e), &e, PSW_ERR_INVALID_ARG, "t.json: grid: an axis is empty");
    s.grid.n_seed = 1;
    CHECK_OK(psw_spec_expand(&s, &e), &e);
    CHECK(psw_spec_grid_count(&s) == 4, "re-expanded");
    psw_spec_free(&s);
}

static uint64_t id_of(const psw_spec *s, double r, psw_loss_kind l, int64_t d, int64_t seed) {
    for (size_t i = 0; i < s->grid.n_configs; i++) {
        const psw_spec_config *c = &s->grid.configs[i];
        if (c->retention == r && c->loss == l && c->data_size == d && c->seed == seed) return c->id;
    }
    return 0;
}

static void test_config_ids(void) {
    psw_spec a, b, c;
    psw_err e = {0};
    CHECK_OK(parse_run("{" BASE ",'grid':{'retention':[1,0.5],'loss':['ce','kl'],'data_size':[8],"
                       "'seed':[0,1]}}",
                       &a, &e),
             &e);
    /* Reordered and extended grid, other exclusions, name, output and threads: same ids. */
    CHECK_OK(parse_run("{'name':'other','output':'x.h5','threads_per_rank':3," BASE
                       ",'grid':{'retention':[0.25,0.5,1],'loss':['kl','mix','ce'],"
                       "'data_size':[16,8],'seed':[1,0],'exclude':[{'retention':0.25}]}}",
                       &b, &e),
             &e);
    int same = 1, distinct = 1;
    for (size_t i = 0; i < a.grid.n_configs; i++) {
        const psw_spec_config *k = &a.grid.configs[i];
        if (id_of(&b, k->retention, k->loss, k->data_size, k->seed) != k->id) same = 0;
        for (size_t j = 0; j < i; j++)
            if (a.grid.configs[j].id == k->id) distinct = 0;
    }
    CHECK(same, "a config keeps its id in a reordered grid");
    CHECK(distinct, "ids differ between configs");
    CHECK(a.grid.configs[0].index == 0 && id_of(&b, 1, PSW_LOSS_CE, 8, 0) == a.grid.configs[0].id &&
              b.grid.configs[0].retention == 0.5,
          "index differs, id does not");

    /* A training setting changes every id. */
    CHECK_OK(parse_run("{" BASE ",'training':{'lr':0.0002},'grid':{'retention':[1,0.5],"
                       "'loss':['ce','kl'],'data_size':[8],'seed':[0,1]}}",
                       &c, &e),
             &e);
    int changed = 1;
    for (size_t i = 0; i < a.grid.n_configs; i++)
        if (c.grid.configs[i].id == a.grid.configs[i].id) changed = 0;
    CHECK(changed, "training.lr changes the ids");
    psw_spec_free(&c);
    /* ...and so do the data, prompt and pruning sections; an explicit default does not. */
    const char *variants[] = {
        "{'model':{'path':'m'},'data':{'train':'tr.jsonl','test':'/abs/te.jsonl','limit_test':5},",
        "{" BASE ",'prompt':{'shots':3},",
        "{" BASE ",'pruning':{'score':'random'},",
        "{'model':{'path':'m','dtype_frozen':'bf16'},'data':{'train':'tr.jsonl','test':'/abs/"
        "te.jsonl'},",
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s'grid':{'retention':[1],'loss':['ce'],'data_size':[8]}}",
                 variants[v]);
        psw_status st = parse_run(buf, &c, &e);
        CHECK_OK(st, &e);
        if (st == PSW_OK) {
            CHECK(c.grid.configs[0].id != id_of(&a, 1, PSW_LOSS_CE, 8, 0),
                  "variant %zu changes the id", v);
            psw_spec_free(&c);
        }
    }
    CHECK_OK(parse_run("{" BASE ",'training':{'lr':0.0001,'epochs':1},'pruning':{'score':'l2'},"
                       "'grid':{'retention':[1],'loss':['ce'],'data_size':[8]}}",
                       &c, &e),
             &e);
    CHECK(c.grid.configs[0].id == id_of(&a, 1, PSW_LOSS_CE, 8, 0),
          "spelling out defaults keeps the id");
    psw_spec_free(&c);
    psw_spec_free(&a);
    psw_spec_free(&b);
}

static void test_malformed(void) {
    /* cJSON reports the position just after the offending character ('o' is byte 19). */
    EXPECT_FAIL("{\n  'name': 'x',\n  oops\n}", PSW_ERR_FORMAT,
                "t.json: malformed JSON near line 3, column 4 (byte 20)");
    EXPECT_FAIL("{} x", PSW_ERR_FORMAT,
                "t.json: malformed JSON: unexpected data after the value at line 1, column 4 "
                "(byte 3)");
    EXPECT_FAIL("", PSW_ERR_FORMAT, "t.json: malformed JSON near line 1, column 1 (byte 0)");
    EXPECT_INVALID("[1]", "t.json: the spec must be a JSON object, got an array");
}

static void test_unknown_and_duplicate_keys(void) {
    EXPECT_INVALID("{'nmae':'x'}", "t.json: nmae: unknown key (did you mean \"name\"?)");
    EXPECT_INVALID("{'model':{'pth':'m'}}",
                   "t.json: model.pth: unknown key (did you mean \"path\"?)");
    EXPECT_INVALID("{'data':{'trian':'x'}}", "data.trian: unknown key (did you mean \"train\"?)");
    EXPECT_INVALID("{'prompt':{'shot':1}}", "prompt.shot: unknown key (did you mean \"shots\"?)");
    EXPECT_INVALID("{'pruning':{'method':'l2'}}", "t.json: pruning.method: unknown key");
    EXPECT_INVALID("{'training':{'learning_rate':1}}",
                   "t.json: training.learning_rate: unknown key");
    EXPECT_INVALID("{'grid':{'retentions':[1]}}",
                   "grid.retentions: unknown key (did you mean \"retention\"?)");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],'exclude':[{'sed':0}]}}",
                   "grid.exclude[0].sed: unknown key (did you mean \"seed\"?)");
    EXPECT_INVALID("{'training':{'lr':0.001,'lr':0.0001}}", "t.json: training.lr: duplicate key");
    EXPECT_INVALID("{'name':'a','name':'b'}", "t.json: name: duplicate key");
    /* A key with an escaped newline still gives a one-line message. */
    EXPECT_INVALID("{'a\\nb':1}", "t.json: a\\nb: unknown key");
}

static void test_wrong_types(void) {
    EXPECT_INVALID("{'model':'m'}", "t.json: model: expected an object, got a string");
    EXPECT_INVALID("{'name':3}", "t.json: name: expected a string, got a number");
    EXPECT_INVALID("{'model':{'path':''}}", "t.json: model.path: must not be empty");
    EXPECT_INVALID("{'training':{'lr':'0.1'}}",
                   "t.json: training.lr: expected a number, got a string");
    EXPECT_INVALID("{'training':{'micro_batch':2.5}}",
                   "training.micro_batch: 2.5 is not an integer");
    EXPECT_INVALID("{'training':{'epochs':true}}",
                   "training.epochs: expected an integer, got a boolean");
    EXPECT_INVALID("{'training':{'schedule':'cosin'}}",
                   "training.schedule: \"cosin\" is not one of \"cosine\", \"linear\"");
    EXPECT_INVALID("{'training':{'eval_forward':'fast'}}",
                   "training.eval_forward: \"fast\" is not one of \"per_sequence\", \"batched\"");
    EXPECT_INVALID("{'pruning':{'score':'L2'}}",
                   "pruning.score: \"L2\" is not one of \"l2\", \"down\", \"gate_up\", \"random\"");
    EXPECT_INVALID("{'prompt':{'chat':1}}",
                   "prompt.chat: expected a boolean or a string, got a number");
    EXPECT_INVALID("{'prompt':{'shot_ids':'a'}}",
                   "prompt.shot_ids: expected an array, got a string");
    EXPECT_INVALID("{'prompt':{'shots':1,'shot_ids':[1]}}",
                   "prompt.shot_ids[0]: expected a string, got a number");
    EXPECT_INVALID("{'prompt':{'bos_token':false}}",
                   "prompt.bos_token: expected a string, got a boolean");
    EXPECT_INVALID("{'grid':{'retention':0.5}}",
                   "t.json: grid.retention: expected an array, got a number");
    EXPECT_INVALID("{'grid':{'retention':[]}}", "t.json: grid.retention: must not be empty");
    EXPECT_INVALID("{'grid':{'retention':[1],'loss':[1]}}",
                   "grid.loss[0]: expected a string, got a number");
    EXPECT_INVALID("{'grid':{'retention':[1],'loss':['ce','KL']}}",
                   "grid.loss[1]: \"KL\" is not one of \"ce\", \"kl\", \"mix\"");
    EXPECT_INVALID("{'grid':{'retention':['1']}}",
                   "grid.retention[0]: expected a number, got a string");
    EXPECT_INVALID("{'grid':{'retention':[1],'data_size':[8],'exclude':{}}}",
                   "t.json: grid.exclude: expected an array, got an object");
    EXPECT_INVALID("{'grid':{'retention':[1],'data_size':[8],'exclude':[1]}}",
                   "t.json: grid.exclude[0]: expected an object, got a number");
    EXPECT_INVALID("{'output':null}", "t.json: output: expected a string, got null");
}

static void test_ranges(void) {
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[0.5,1,0.25,1.5],'data_size':[8]}}",
                   "t.json: grid.retention[3]: 1.5 is outside (0, 1]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[0],'data_size':[8]}}",
                   "grid.retention[0]: 0 is outside (0, 1]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[0]}}",
                   "grid.data_size[0]: 0 is outside [1, 2147483647]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],'seed':[-1]}}",
                   "grid.seed[0]: -1 is outside [0, 9007199254740992]");
    EXPECT_INVALID("{'training':{'alpha':1.5}}", "t.json: training.alpha: 1.5 is outside [0, 1]");
    EXPECT_INVALID("{'training':{'lr':0}}", "t.json: training.lr: 0 is outside (0, inf)");
    EXPECT_INVALID("{'training':{'lr':1e999}}", "training.lr: inf is outside (0, inf)");
    EXPECT_INVALID("{'training':{'lr_min':-0.1}}", "training.lr_min: -0.1 is outside [0, inf)");
    EXPECT_INVALID("{'training':{'temperature':-2}}",
                   "training.temperature: -2 is outside (0, inf)");
    EXPECT_INVALID("{'training':{'beta2':1}}", "training.beta2: 1 is outside [0, 1)");
    EXPECT_INVALID("{'training':{'warmup_ratio':1}}", "training.warmup_ratio: 1 is outside [0, 1)");
    EXPECT_INVALID("{'training':{'eps':0}}", "training.eps: 0 is outside (0, inf)");
    EXPECT_INVALID("{'training':{'max_grad_norm':-1}}",
                   "training.max_grad_norm: -1 is outside [0, inf)");
    EXPECT_INVALID("{'training':{'weight_decay':-1}}",
                   "training.weight_decay: -1 is outside [0, inf)");
    EXPECT_INVALID("{'training':{'micro_batch':0}}",
                   "training.micro_batch: 0 is outside [1, 65536]");
    EXPECT_INVALID("{'training':{'steps':0}}", "training.steps: 0 is outside [1, 2147483647]");
    EXPECT_INVALID("{'training':{'max_seq_len':0}}",
                   "training.max_seq_len: 0 is outside [1, 1048576]");
    EXPECT_INVALID("{'prompt':{'shots':11}}", "t.json: prompt.shots: 11 is outside [0, 10]");
    EXPECT_INVALID("{'data':{'limit_test':-1}}", "data.limit_test: -1 is outside [0, 2147483647]");
    EXPECT_INVALID("{'threads_per_rank':-1}", "t.json: threads_per_rank: -1 is outside [0, 4096]");
    EXPECT_INVALID("{'pruning':{'seed':0.5}}", "pruning.seed: 0.5 is not an integer");
}

static void test_cross_field(void) {
    EXPECT_INVALID("{'training':{'lr':0.001,'lr_min':0.01}}",
                   "t.json: training.lr_min: 0.01 exceeds training.lr (0.001)");
    EXPECT_INVALID(
        "{'training':{'warmup_steps':10,'warmup_ratio':0.1}}",
        "t.json: training: \"warmup_steps\" and \"warmup_ratio\" are exclusive; give one");
    EXPECT_INVALID("{'training':{'epochs':2,'steps':100}}",
                   "t.json: training: \"epochs\" and \"steps\" are exclusive; give one");
    EXPECT_INVALID("{'training':{'topk':10}}",
                   "t.json: training.topk: only used with \"teacher_cache\": \"topk\"");
    EXPECT_INVALID("{'prompt':{'shots':3,'shot_ids':['a','b']}}",
                   "t.json: prompt.shot_ids: 2 ids but prompt.shots is 3");
    EXPECT_INVALID("{'prompt':{'shots':2,'shot_ids':['a','a']}}",
                   "t.json: prompt.shot_ids[1]: \"a\" duplicates prompt.shot_ids[0]");
    EXPECT_INVALID("{'prompt':{'shot_ids':['a','b','c','d','e','f','g','h','i','j','k']}}",
                   "prompt.shot_ids: 11 ids, at most 10 shots are allowed");
    EXPECT_INVALID(
        "{'prompt':{'shots':7}}",
        "t.json: prompt.shots: 7 shots need prompt.shot_ids (there are 5 built-in OLMES shots)");
    EXPECT_INVALID("{'prompt':{'format':'{question}{choices}'}}",
                   "t.json: prompt.format: only allowed with \"template\": \"custom\"");
    EXPECT_INVALID("{'prompt':{'template':'custom','format':'Q: {choices}'}}",
                   "t.json: prompt.format: {question} appears 0 times, expected exactly once");
    EXPECT_INVALID("{'prompt':{'template':'custom','choice_format':'{label}{text}{label}'}}",
                   "prompt.choice_format: {label} appears 2 times, expected exactly once");
    EXPECT_INVALID("{'prompt':{'chat':'<user>no placeholder'}}",
                   "t.json: prompt.chat: {prompt} appears 0 times, expected exactly once");
    EXPECT_INVALID("{'name':'a/b'}",
                   "t.json: name: \"a/b\" must be 1 to 128 letters, digits, '.', '_' or '-'");
    /* Custom templates keep literal braces other than the placeholders (as the prompt module). */
    psw_spec s;
    psw_err e = {0};
    CHECK_OK(parse_mode("{'prompt':{'template':'custom','format':'{x} {question}{choices}'}}",
                        PSW_SPEC_MODE_RECOVER, &s, &e),
             &e);
    psw_spec_free(&s);
}

static void test_duplicates_and_exclude(void) {
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[0.5,0.25,0.5],'data_size':[8]}}",
                   "t.json: grid.retention[2]: 0.5 duplicates grid.retention[0]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'loss':['kl','kl'],'data_size':[8]}}",
                   "grid.loss[1]: \"kl\" duplicates grid.loss[0]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8,16,8]}}",
                   "grid.data_size[2]: 8 duplicates grid.data_size[0]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],'seed':[0,1,1]}}",
                   "grid.seed[2]: 1 duplicates grid.seed[1]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1,0.5],'data_size':[8],"
                   "'exclude':[{'retention':0.3}]}}",
                   "t.json: grid.exclude[0].retention: 0.3 is not in grid.retention");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'loss':['ce'],'data_size':[8],"
                   "'exclude':[{'loss':'kl'}]}}",
                   "grid.exclude[0].loss: \"kl\" is not in grid.loss");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],"
                   "'exclude':[{'data_size':8,'seed':0},{'data_size':9}]}}",
                   "grid.exclude[1].data_size: 9 is not in grid.data_size");
    EXPECT_INVALID("{" BASE "," GRID ",'exclude':[]}",
                   "t.json: exclude: unknown key (did you mean \"grid.exclude\"?)");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],'exclude':[{'seed':2}]}}",
                   "grid.exclude[0].seed: 2 is not in grid.seed");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1],'data_size':[8],'exclude':[{}]}}",
                   "t.json: grid.exclude[0]: an empty rule would exclude every configuration");
    EXPECT_INVALID("{" BASE
                   ",'grid':{'retention':[1],'data_size':[8],'exclude':[{'retention':2}]}}",
                   "grid.exclude[0].retention: 2 is outside (0, 1]");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1,0.5],'loss':['ce'],'data_size':[8],"
                   "'exclude':[{'retention':1},{'retention':0.5}]}}",
                   "t.json: grid.exclude: excludes all 2 configurations");
}

static void test_required(void) {
    EXPECT_INVALID("{'data':{'train':'a','test':'b'}," GRID "}",
                   "t.json: model.path: missing (required for run)");
    EXPECT_INVALID(
        "{'model':{'path':'m'},'data':{'test':'b'}," GRID "}",
        "t.json: data.train: missing (required for run unless model.path is \"default\")");
    EXPECT_INVALID(
        "{'model':{'path':'m'},'data':{'train':'a'}," GRID "}",
        "t.json: data.test: missing (required for run unless model.path is \"default\")");
    EXPECT_INVALID("{" BASE "}", "t.json: grid: missing (required for run)");
    EXPECT_INVALID("{" BASE ",'grid':{'data_size':[8]}}",
                   "t.json: grid.retention: missing (required when there is a grid)");
    EXPECT_INVALID("{" BASE ",'grid':{'retention':[1]}}",
                   "t.json: grid.data_size: missing (required when there is a grid)");
    psw_spec s;
    psw_err e = {0};
    CHECK_OK(parse_run("{'model':{'path':'default'}," GRID "}", &s, &e), &e);
    psw_spec_free(&s);
    /* recover mode validates a grid when present */
    CHECK_FAILS(
        parse_mode("{'grid':{'retention':[2],'data_size':[1]}}", PSW_SPEC_MODE_RECOVER, &s, &e), &e,
        PSW_ERR_INVALID_ARG, "grid.retention[0]: 2 is outside (0, 1]");
}

static void test_load(void) {
    char *dir = psw_test_tmpdir();
    char *sub = psw_path_join(dir, "exp");
    psw_err e = {0};
    CHECK_OK(psw_mkdir_p(sub, &e), &e);
    char *path = psw_path_join(sub, "study.json");
    const char *text =
        q("{'model':{'path':'../models/m'},'data':{'train':'tr','test':'te'}," GRID "}");
    CHECK_OK(psw_write_file(path, text, strlen(text), &e), &e);
    psw_spec s;
    CHECK_OK(psw_spec_load(path, PSW_SPEC_MODE_RUN, &s, &e), &e);
    char want[1024];
    snprintf(want, sizeof want, "%s/../models/m", sub);
    CHECK(strcmp(s.model.path.resolved, want) == 0, "relative to the spec's directory: %s",
          s.model.path.resolved);
    snprintf(want, sizeof want, "%s/study.h5", sub);
    CHECK(strcmp(s.name, "study") == 0 && strcmp(s.output.resolved, want) == 0,
          "name and output from the file name: %s", s.output.resolved);
    psw_spec_free(&s);

    const char *bad = q("{'training':{'lr':-1}}");
    CHECK_OK(psw_write_file(path, bad, strlen(bad), &e), &e);
    snprintf(want, sizeof want, "%s: training.lr: -1 is outside (0, inf)", path);
    CHECK_FAILS(psw_spec_load(path, PSW_SPEC_MODE_RECOVER, &s, &e), &e, PSW_ERR_INVALID_ARG, want);

    char *missing = psw_path_join(sub, "nope.json");
    CHECK_FAILS(psw_spec_load(missing, PSW_SPEC_MODE_RUN, &s, &e), &e, PSW_ERR_IO, "nope.json");
    CHECK(unlink(path) == 0 && rmdir(sub) == 0 && rmdir(dir) == 0, "cleanup");
    free(missing);
    free(path);
    free(sub);
    free(dir);

    /* No base_dir: paths stay as written. */
    const char *t2 = q("{'model':{'path':'m'}}");
    CHECK_OK(psw_spec_parse(t2, strlen(t2), "x.json", NULL, PSW_SPEC_MODE_RECOVER, &s, &e), &e);
    CHECK(strcmp(s.model.path.resolved, "m") == 0, "no base dir");
    psw_spec_free(&s);
}

static void test_keys_and_names(void) {
    size_t n = 0;
    bool lr = false, ex_seed = false, top = false;
    for (const char *const *k = psw_spec_keys(); *k; k++) {
        n++;
        lr |= strcmp(*k, "training.lr") == 0;
        ex_seed |= strcmp(*k, "grid.exclude[].seed") == 0;
        top |= strcmp(*k, "threads_per_rank") == 0;
    }
    CHECK(n == 10 + 2 + 4 + 9 + 2 + 23 + 5 + 4, "key count %zu", n);
    CHECK(lr && ex_seed && top, "key paths");
    psw_loss_kind l;
    CHECK(psw_spec_loss_parse("mix", &l) && l == PSW_LOSS_MIX, "mix");
    CHECK(!psw_spec_loss_parse("none", &l), "none is not a grid loss");
}

/* Random byte-level mutations of a spec that sets every key: every outcome is either a spec that
 * round-trips through psw_spec_to_json, or one of the two documented errors with a one-line
 * message naming the file. Under ASan this is also a memory-safety check of the parser. */
static void test_mutations(void) {
    static const char alphabet[] = "0123456789\"{}[],:-.e x\\ntfu";
    char base[4096];
    snprintf(base, sizeof base, "%s", q(ALL_KEYS));
    size_t base_len = strlen(base);
    psw_rng rng;
    psw_rng_seed(&rng, 12345);
    int accepted = 0, rejected = 0, bad = 0;
    char buf[4200];
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, base_len + 1);
        size_t len = base_len;
        int n_mut = 1 + (int)psw_rng_below(&rng, 3);
        for (int m = 0; m < n_mut && len > 1; m++) {
            size_t at = (size_t)psw_rng_below(&rng, len);
            switch (psw_rng_below(&rng, 3)) {
            case 0: buf[at] = alphabet[psw_rng_below(&rng, sizeof alphabet - 1)]; break;
            case 1:
                memmove(buf + at, buf + at + 1, len - at);
                len--;
                break;
            default:
                if (len + 1 < sizeof buf) {
                    memmove(buf + at + 1, buf + at, len - at + 1);
                    buf[at] = alphabet[psw_rng_below(&rng, sizeof alphabet - 1)];
                    len++;
                }
            }
        }
        psw_spec s;
        psw_err e = {0};
        psw_spec_mode mode = it % 2 ? PSW_SPEC_MODE_RUN : PSW_SPEC_MODE_RECOVER;
        psw_status st = psw_spec_parse(buf, len, "t.json", "/base", mode, &s, &e);
        if (st == PSW_OK) {
            accepted++;
            char *j1 = psw_spec_to_json(&s, false);
            psw_spec s2;
            psw_status st2 = psw_spec_parse(j1, strlen(j1), "t.json", "/base", mode, &s2, &e);
            if (st2 != PSW_OK) {
                if (bad++ < 3) fprintf(stderr, "round trip rejected: %s\n%s\n", e.msg, j1);
            } else {
                char *j2 = psw_spec_to_json(&s2, false);
                bool same =
                    strcmp(j1, j2) == 0 && psw_spec_grid_count(&s) == psw_spec_grid_count(&s2);
                for (size_t i = 0; same && i < psw_spec_grid_count(&s); i++)
                    same = s.grid.configs[i].id == s2.grid.configs[i].id;
                if (!same && bad++ < 3) fprintf(stderr, "round trip differs:\n%s\n%s\n", j1, j2);
                free(j2);
                psw_spec_free(&s2);
            }
            free(j1);
            psw_spec_free(&s);
        } else {
            rejected++;
            bool ok = (st == PSW_ERR_FORMAT || st == PSW_ERR_INVALID_ARG) &&
                      strncmp(e.msg, "t.json: ", 8) == 0 && !strchr(e.msg, '\n');
            if (!ok && bad++ < 3) fprintf(stderr, "bad error %d: %s\n", st, e.msg);
        }
    }
    printf("mutations: %d accepted, %d rejected\n", accepted, rejected);
    CHECK(bad == 0, "%d mutated specs broke an invariant", bad);
    CHECK(accepted > 100 && rejected > 100, "both outcomes exercised: %d / %d", accepted, rejected);
}

int main(void) {
    test_defaults();
    test_all_keys_set();
    test_grid_order_and_exclusion();
    test_config_ids();
    test_malformed();
    test_unknown_and_duplicate_keys();
    test_wrong_types();
    test_ranges();
    test_cross_field();
    test_duplicates_and_exclude();
    test_required();
    test_load();
    test_keys_and_names();
    test_mutations();
    return psw_test_finish();
}
