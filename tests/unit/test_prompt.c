/* test_prompt.c: prompt templates and their tokenization.
 *  - The default settings reproduce AI2's OLMES csqa:mc 5-shot contexts byte for byte: 20
 *    committed requests (tests/data/csqa/olmes_requests_small.jsonl) always, and all 6105 of
 *    ../shared/data/csqa/olmes_mc_5shot/requests.jsonl.gz (read through `gzip -dc`) with
 *    PSW_SHARED_DIR.
 *  - Hand-written expected strings for 0-shot, custom templates, chat wrapper, placeholders
 *    inside inserted text; every settings and shot-selection error.
 *  - Tokenization with tests/data/csqa/tiny_tokenizer.json (ids derivable by hand: bytes, with
 *    " A".." E" merged to 256..260; checked against HF tokenizers when it was made) and, with
 *    PSW_SHARED_DIR, the OLMo 2 tokenizer against HF tokenizers' ids of the OLMES contexts
 *    (tests/data/csqa/olmo2_context_ids.jsonl, made by make_olmo2_ids.js). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/prompt.h"
#include "test.h"

/* Calls fn(record, ud) for each JSON line of a stream; returns the number of lines. */
static long for_each_json_line(FILE *f, void (*fn)(const cJSON *, void *), void *ud) {
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
        CHECK(j != NULL, "line %ld is not JSON", n + 1);
        if (j) fn(j, ud);
        cJSON_Delete(j);
        n++;
    }
    free(line);
    return n;
}

typedef struct ctx_check {
    const psw_mc_dataset *dev;
    const psw_prompt_settings *s;
    long n_ok, n_bad;
} ctx_check;

/* Accepts both the full request layout (request.context) and the committed small layout. */
static void check_request(const cJSON *r, void *ud) {
    ctx_check *c = ud;
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(r, "request");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(r, "doc");
    const cJSON *src = req ? req : r;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "native_id"));
    const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(src, "context"));
    const char *cont = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(src, "continuation"));
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(r, "idx");
    const cJSON *gold = cJSON_GetObjectItemCaseSensitive(doc ? doc : r, "gold");
    if (!id || !ctx || !cont || !cJSON_IsNumber(idx) || !cJSON_IsNumber(gold)) {
        CHECK(0, "request without native_id/context/continuation/idx/gold");
        c->n_bad++;
        return;
    }
    const psw_mc_example *ex = psw_mc_dataset_find(c->dev, id);
    CHECK(ex != NULL, "request id %s not in dev", id);
    if (!ex) {
        c->n_bad++;
        return;
    }
    char *text = NULL;
    size_t len = 0;
    psw_err err;
    psw_status st = psw_prompt_build(c->s, ex, &text, &len, &err);
    CHECK_OK(st, &err);
    int k = (int)idx->valuedouble;
    char *mine = k >= 0 && k < ex->n_choices ? psw_prompt_continuation(c->s, ex->labels[k]) : NULL;
    bool ok = st == PSW_OK && len == strlen(ctx) && memcmp(text, ctx, len) == 0 && mine &&
              strcmp(mine, cont) == 0 && (int)gold->valuedouble == ex->gold;
    if (!ok && c->n_bad < 3) {
        size_t i = 0;
        while (text && i < len && ctx[i] && text[i] == ctx[i]) i++;
        fprintf(stderr, "MISMATCH %s idx %d: first difference at byte %zu (len %zu vs %zu)\n", id,
                k, i, len, strlen(ctx));
    }
    CHECK(ok, "context of %s idx %d reproduced byte for byte", id, k);
    ok ? c->n_ok++ : c->n_bad++;
    free(text);
    free(mine);
}

static void test_olmes_fixture(void) {
    psw_mc_dataset dev;
    psw_err err;
    CHECK_OK(psw_mc_dataset_load("data/csqa/dev_small.jsonl", &dev, &err), &err);
    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    CHECK(s.n_shots == 5 && s.chat == NULL && s.bos_token == NULL, "defaults");
    ctx_check c = {.dev = &dev, .s = &s};
    FILE *f = fopen("data/csqa/olmes_requests_small.jsonl", "r");
    CHECK(f != NULL, "open olmes_requests_small.jsonl");
    if (f) {
        long n = for_each_json_line(f, check_request, &c);
        fclose(f);
        CHECK(n == 20 && c.n_ok == 20, "fixture: %ld requests, %ld reproduced", n, c.n_ok);
        printf("OLMES fixture: %ld of %ld contexts reproduced byte for byte\n", c.n_ok, n);
    }
    psw_mc_dataset_free(&dev);
}

static void same_example(const psw_mc_example *a, const psw_mc_example *b) {
    bool ok = strcmp(a->id, b->id) == 0 && strcmp(a->stem, b->stem) == 0 &&
              strcmp(a->concept, b->concept) == 0 && a->n_choices == b->n_choices &&
              a->gold == b->gold;
    for (int k = 0; ok && k < a->n_choices; k++)
        ok = strcmp(a->labels[k], b->labels[k]) == 0 && strcmp(a->texts[k], b->texts[k]) == 0;
    CHECK(ok, "built-in shot %s equals the train file's", a->id);
}

static void test_shots(void) {
    int n;
    const psw_mc_example *olmes = psw_prompt_olmes_csqa_shots(&n);
    CHECK(n == 5, "5 OLMES shots");
    psw_mc_dataset train;
    psw_err err;
    CHECK_OK(psw_mc_dataset_load("data/csqa/train_small.jsonl", &train, &err), &err);
    /* train_small holds train lines 1..5: OLMES shots 0..2 are its lines 2, 4, 5. */
    const char *ids[] = {olmes[0].id, olmes[1].id, olmes[2].id};
    psw_mc_example out[PSW_PROMPT_MAX_SHOTS];
    CHECK_OK(psw_prompt_select_shots(&train, ids, 3, 3, out, &err), &err);
    for (int i = 0; i < 3; i++) same_example(&olmes[i], &out[i]);
    CHECK(out[0].line == 2 && out[1].line == 4 && out[2].line == 5, "train lines");
    CHECK_OK(psw_prompt_select_shots(NULL, NULL, 0, 4, out, &err), &err);
    CHECK(strcmp(out[3].id, olmes[3].id) == 0, "default shots are the OLMES ones");

    CHECK_FAILS(psw_prompt_select_shots(NULL, NULL, 0, 6, out, &err), &err, PSW_ERR_INVALID_ARG,
                "prompt.shots: 6, but only the 5 OLMES examples are built in");
    CHECK_FAILS(psw_prompt_select_shots(NULL, NULL, 0, 11, out, &err), &err,
                PSW_ERR_INVALID_ARG, "prompt.shots: 11, need 0 to 10");
    CHECK_FAILS(psw_prompt_select_shots(&train, ids, 3, 2, out, &err), &err,
                PSW_ERR_INVALID_ARG, "prompt.shot_ids: 3 ids for 2 shots");
    CHECK_FAILS(psw_prompt_select_shots(NULL, ids, 3, 3, out, &err), &err, PSW_ERR_INVALID_ARG,
                "prompt.shot_ids: no training set");
    const char *bad[] = {olmes[0].id, "nope"};
    CHECK_FAILS(psw_prompt_select_shots(&train, bad, 2, 2, out, &err), &err,
                PSW_ERR_INVALID_ARG,
                "prompt.shot_ids[1]: 'nope' is not in data/csqa/train_small.jsonl");
    psw_mc_dataset test;
    CHECK_OK(psw_mc_dataset_load("data/csqa/test_small.jsonl", &test, &err), &err);
    const char *unl[] = {"26cf1eca0eafba24ed7efe1c8c4f6170"};
    CHECK_FAILS(psw_prompt_select_shots(&test, unl, 1, 1, out, &err), &err, PSW_ERR_INVALID_ARG,
                "prompt.shot_ids[0]: '26cf1eca0eafba24ed7efe1c8c4f6170' has no answerKey");
    psw_mc_dataset_free(&test);
    psw_mc_dataset_free(&train);
}

static void expect_prompt(const psw_prompt_settings *s, const psw_mc_example *ex,
                          const char *want, int line) {
    char *text = NULL;
    size_t len = 0;
    psw_err err;
    psw_status st = psw_prompt_build(s, ex, &text, &len, &err);
    psw_test_check_ok(st, &err, __FILE__, line, "psw_prompt_build");
    bool ok = st == PSW_OK && len == strlen(want) && strcmp(text, want) == 0;
    psw_test_check(ok, __FILE__, line, "prompt\n--- got ---\n%s\n--- want ---\n%s",
                   text ? text : "(null)", want);
    free(text);
}

static void test_templates(void) {
    psw_mc_dataset mixed;
    psw_err err;
    CHECK_OK(psw_mc_dataset_load("data/csqa/mixed_k.jsonl", &mixed, &err), &err);
    if (mixed.n != 3) {
        psw_mc_dataset_free(&mixed);
        return;
    }
    const psw_mc_example *k2 = &mixed.examples[0], *k3 = &mixed.examples[1];
    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    s.n_shots = 0;
    expect_prompt(&s, k3,
                  "Question: Which is largest? \"quoted\" \xc3\xa9\n 1. one\n 2. two\n 3. "
                  "three\nAnswer:",
                  __LINE__);
    char *cont = psw_prompt_continuation(&s, k3->labels[2]);
    CHECK(strcmp(cont, " 3") == 0, "continuation '%s'", cont);
    free(cont);

    /* One shot (the K=2 example, answer B), custom templates and a chat wrapper. */
    psw_prompt_settings c = {
        .format = "Q: {question}\n{choices}A:",
        .choice_format = "({label}) {text}\n",
        .answer_format = " {label}",
        .shot_separator = "\n---\n",
        .shots = k2,
        .n_shots = 1,
        .chat = "<|user|>\n{prompt}\n<|assistant|>\n",
    };
    expect_prompt(&c, k3,
                  "<|user|>\nQ: Is the sky green?\n(A) yes\n(B) no\nA: B\n---\nQ: Which is "
                  "largest? \"quoted\" \xc3\xa9\n(1) one\n(2) two\n(3) three\nA:\n<|assistant|>\n",
                  __LINE__);

    /* Placeholders inside inserted text stay literal; other braces are literal too. */
    psw_mc_example braces = *k2;
    braces.stem = "What is {choices} or {label}?";
    braces.texts[0] = "{text}";
    psw_prompt_settings z = {.format = "{x} {question}{choices}",
                             .choice_format = "|{label}={text}",
                             .answer_format = "{label}",
                             .shot_separator = ""};
    expect_prompt(&z, &braces, "{x} What is {choices} or {label}?|A={text}|B=no", __LINE__);

    /* Settings errors. */
    char *text = NULL;
    psw_prompt_settings e;
#define EXPECT_INVALID(mutate, needle)                                                             \
    do {                                                                                           \
        psw_prompt_settings_default(&e);                                                           \
        mutate;                                                                                    \
        CHECK_FAILS(psw_prompt_build(&e, k3, &text, NULL, &err), &err, PSW_ERR_INVALID_ARG,       \
                    needle);                                                                       \
        CHECK(text == NULL, "no text on failure");                                                 \
    } while (0)
    EXPECT_INVALID(e.format = "Question: {question}\nAnswer:",
                   "prompt.format: contains {choices} 0 times, want exactly once");
    EXPECT_INVALID(e.format = "{question}{question}{choices}",
                   "prompt.format: contains {question} 2 times, want exactly once");
    EXPECT_INVALID(e.format = NULL, "prompt.format: not set");
    EXPECT_INVALID(e.choice_format = "\n {label}.",
                   "prompt.choice_format: contains {text} 0 times, want exactly once");
    EXPECT_INVALID(e.answer_format = " ", "prompt.answer_format: contains {label} 0 times");
    EXPECT_INVALID(e.shot_separator = NULL, "prompt.shot_separator: not set");
    EXPECT_INVALID(e.chat = "<|user|>\n", "prompt.chat: contains {prompt} 0 times");
    EXPECT_INVALID(e.chat = "{prompt}{prompt}", "prompt.chat: contains {prompt} 2 times");
    EXPECT_INVALID(e.n_shots = 11, "prompt.shots: 11, need 0 to 10");
    EXPECT_INVALID(e.shots = NULL, "prompt.shots: 5 shots requested, none given");
    EXPECT_INVALID((e.shots = k3, e.n_shots = 1, braces.gold = -1, e.shots = &braces),
                   "prompt.shots[0]: example 'k2' has no answer");
#undef EXPECT_INVALID
    psw_mc_dataset_free(&mixed);
}

/* Expected ids under tiny_tokenizer.json: one id per byte, except that a space followed by
 * A..E is the single token 256..260 (its only merges). */
static size_t tiny_expected(const char *s, int32_t *out) {
    size_t n = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == ' ' && s[i + 1] >= 'A' && s[i + 1] <= 'E') {
            out[n++] = 256 + (s[i + 1] - 'A');
            i++;
        } else {
            out[n++] = (unsigned char)s[i];
        }
    }
    return n;
}

static void test_tokenize_tiny(void) {
    psw_tokenizer *tok = NULL;
    psw_err err;
    CHECK_OK(psw_tokenizer_load("data/csqa/tiny_tokenizer.json", &tok, &err), &err);
    if (!tok) return;
    psw_mc_dataset dev, mixed;
    CHECK_OK(psw_mc_dataset_load("data/csqa/dev_small.jsonl", &dev, &err), &err);
    CHECK_OK(psw_mc_dataset_load("data/csqa/mixed_k.jsonl", &mixed, &err), &err);
    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    for (size_t i = 0; i < dev.n; i++) {
        psw_prompt_tokens pt;
        char *text = NULL;
        CHECK_OK(psw_prompt_build(&s, &dev.examples[i], &text, NULL, &err), &err);
        CHECK_OK(psw_prompt_tokenize(&s, tok, &dev.examples[i], &pt, &err), &err);
        if (!text || !pt.ids) {
            free(text);
            psw_prompt_tokens_free(&pt);
            continue;
        }
        int32_t *want = psw_xmalloc((strlen(text) + 1) * sizeof *want);
        size_t n_want = tiny_expected(text, want);
        CHECK(pt.n_ids == n_want && memcmp(pt.ids, want, n_want * sizeof *want) == 0,
              "tiny: prompt ids of %s (%zu vs %zu)", dev.examples[i].id, pt.n_ids, n_want);
        CHECK(pt.n_choices == 5, "K");
        for (int k = 0; k < 5; k++) CHECK(pt.letter_ids[k] == 256 + k, "letter %d id", k);
        CHECK(pt.ids[pt.n_ids - 1] == ':', "answer position holds ':'");
        free(want);
        free(text);
        psw_prompt_tokens_free(&pt);
    }
    /* BOS prepended as one id. */
    psw_prompt_tokens pt;
    s.bos_token = "<|endoftext|>";
    s.n_shots = 0;
    CHECK_OK(psw_prompt_tokenize(&s, tok, &mixed.examples[0], &pt, &err), &err);
    CHECK(pt.ids && pt.ids[0] == 261 && pt.ids[1] == 'Q' && pt.n_choices == 2 &&
              pt.letter_ids[1] == 257,
          "bos");
    psw_prompt_tokens_free(&pt);
    s.bos_token = "<s>";
    CHECK_FAILS(psw_prompt_tokenize(&s, tok, &mixed.examples[0], &pt, &err), &err,
                PSW_ERR_INVALID_ARG, "prompt.bos_token: \"<s>\" is not a token of the tokenizer");
    CHECK(pt.ids == NULL && pt.n_ids == 0, "empty on failure");
    s.bos_token = NULL;
    /* K=10 labels A..J: " F" is two tokens here. */
    CHECK_FAILS(psw_prompt_tokenize(&s, tok, &mixed.examples[2], &pt, &err), &err,
                PSW_ERR_INVALID_ARG,
                "example 'k10': answer letter \"F\": continuation \" F\" is 2 tokens [32 70], but "
                "each answer letter must be a single token");
    CHECK_FAILS(psw_prompt_tokenize(&s, tok, &mixed.examples[1], &pt, &err), &err,
                PSW_ERR_INVALID_ARG, "answer letter \"1\": continuation \" 1\" is 2 tokens");
    /* The prompt ends in a space and the continuation is the bare letter: " A" merges. */
    s.format = "Question: {question}{choices}\nAnswer: ";
    s.answer_format = "{label}";
    CHECK_FAILS(psw_prompt_tokenize(&s, tok, &mixed.examples[0], &pt, &err), &err,
                PSW_ERR_INVALID_ARG,
                "example 'k2': prompt + continuation of \"A\" does not tokenize as the prompt "
                "tokens followed by the letter token 65");
    psw_mc_dataset_free(&dev);
    psw_mc_dataset_free(&mixed);
    psw_tokenizer_free(tok);
}

/* A file of the shared folder (PSW_SHARED_DIR may be the shared root or its data/ folder). */
static char *shared_file(const char *shared, const char *rel) {
    const char *subs[] = {"data", "."};
    for (int i = 0; i < 2; i++) {
        char *dir = psw_path_join(shared, subs[i]);
        char *p = psw_path_join(dir, rel);
        free(dir);
        FILE *f = fopen(p, "rb");
        if (f) {
            fclose(f);
            return p;
        }
        free(p);
    }
    CHECK(0, "%s not found under %s", rel, shared);
    return NULL;
}

static void check_ids(const char *what, const int32_t *got, size_t n_got, const cJSON *want) {
    size_t n = (size_t)cJSON_GetArraySize(want);
    bool ok = n == n_got;
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, want) {
        if (!ok) break;
        ok = i < n_got && (int32_t)v->valuedouble == got[i];
        i++;
    }
    CHECK(ok, "%s: %zu ids vs HF %zu (first difference at %zu)", what, n_got, n, i - 1);
}

typedef struct olmo2_check {
    const psw_mc_dataset *dev;
    const psw_tokenizer *tok;
    int n;
} olmo2_check;

static void check_olmo2(const cJSON *r, void *ud) {
    olmo2_check *c = ud;
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "native_id"));
    const psw_mc_example *ex = id ? psw_mc_dataset_find(c->dev, id) : NULL;
    CHECK(ex != NULL, "olmo2 ids: unknown id");
    if (!ex) return;
    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    psw_prompt_tokens pt;
    psw_err err;
    CHECK_OK(psw_prompt_tokenize(&s, c->tok, ex, &pt, &err), &err);
    check_ids("olmo2 5-shot context", pt.ids, pt.n_ids,
              cJSON_GetObjectItemCaseSensitive(r, "context_ids"));
    const cJSON *whole = cJSON_GetObjectItemCaseSensitive(r, "whole_ids");
    int n_whole = cJSON_GetArraySize(whole);
    CHECK(n_whole > 0 &&
              (int32_t)cJSON_GetArrayItem(whole, n_whole - 1)->valuedouble == pt.letter_ids[0],
          "HF context + \" A\" ends in our letter id");
    static const int32_t letters[] = {362, 426, 356, 423, 469}; /* HF: " A" .. " E" */
    for (int k = 0; k < 5; k++) CHECK(pt.letter_ids[k] == letters[k], "olmo2 letter %d", k);
    psw_prompt_tokens_free(&pt);

    s.chat = "<|endoftext|><|user|>\n{prompt}\n<|assistant|>\n";
    CHECK_OK(psw_prompt_tokenize(&s, c->tok, ex, &pt, &err), &err);
    check_ids("olmo2 chat context", pt.ids, pt.n_ids,
              cJSON_GetObjectItemCaseSensitive(r, "chat_ids"));
    CHECK(pt.n_ids > 0 && pt.ids[0] == 100257, "chat starts with <|endoftext|> as one token");
    psw_prompt_tokens_free(&pt);
    c->n++;
}

static void test_tokenize_olmo2(const char *shared) {
    char *path = shared_file(shared, "tokenizers/olmo2-dolma2/tokenizer.json");
    if (!path) return;
    psw_tokenizer *tok = NULL;
    psw_err err;
    CHECK_OK(psw_tokenizer_load(path, &tok, &err), &err);
    free(path);
    if (!tok) return;
    psw_mc_dataset dev;
    CHECK_OK(psw_mc_dataset_load("data/csqa/dev_small.jsonl", &dev, &err), &err);
    olmo2_check c = {.dev = &dev, .tok = tok};
    FILE *f = fopen("data/csqa/olmo2_context_ids.jsonl", "r");
    CHECK(f != NULL, "open olmo2_context_ids.jsonl");
    if (f) {
        for_each_json_line(f, check_olmo2, &c);
        fclose(f);
    }
    CHECK(c.n == 4, "olmo2: %d examples checked against HF ids", c.n);
    printf("OLMo 2 tokenizer: %d prompts (5-shot and chat) equal HF tokenizers' ids\n", c.n);

    /* ":A" is one cl100k token, so a bare-letter continuation after "Answer:" merges. */
    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    s.answer_format = "{label}";
    psw_prompt_tokens pt;
    CHECK_FAILS(psw_prompt_tokenize(&s, tok, &dev.examples[0], &pt, &err), &err,
                PSW_ERR_INVALID_ARG,
                "prompt + continuation of \"A\" does not tokenize as the prompt tokens followed "
                "by the letter token 32");
    psw_mc_dataset_free(&dev);
    psw_tokenizer_free(tok);
}

static void test_full_requests(const char *shared) {
    char *dev_path = shared_file(shared, "csqa/dev_rand_split.jsonl");
    char *gz = shared_file(shared, "csqa/olmes_mc_5shot/requests.jsonl.gz");
    psw_mc_dataset dev = {0}, train = {0};
    psw_err err;
    char *train_path = shared_file(shared, "csqa/train_rand_split.jsonl");
    if (!dev_path || !gz || !train_path) goto done;
    CHECK_OK(psw_mc_dataset_load(dev_path, &dev, &err), &err);
    CHECK_OK(psw_mc_dataset_load(train_path, &train, &err), &err);

    /* The built-in shots are train lines 2, 4, 5, 17, 59 exactly. */
    int n;
    const psw_mc_example *olmes = psw_prompt_olmes_csqa_shots(&n);
    static const long lines[] = {2, 4, 5, 17, 59};
    for (int i = 0; i < n && train.n; i++) {
        same_example(&olmes[i], &train.examples[lines[i] - 1]);
    }

    psw_prompt_settings s;
    psw_prompt_settings_default(&s);
    ctx_check c = {.dev = &dev, .s = &s};
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", gz);
    double t0 = psw_now();
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "popen %s", cmd);
    if (!p) goto done;
    long lines_read = for_each_json_line(p, check_request, &c);
    int rc = pclose(p);
    CHECK(rc == 0, "gzip -dc exit status %d", rc);
    CHECK(lines_read == 6105 && c.n_ok == 6105 && c.n_bad == 0,
          "requests.jsonl.gz: %ld lines, %ld reproduced, %ld differ", lines_read, c.n_ok,
          c.n_bad);
    printf("OLMES requests.jsonl.gz: %ld of %ld contexts reproduced byte for byte (%.2f s)\n",
           c.n_ok, lines_read, psw_now() - t0);
done:
    psw_mc_dataset_free(&dev);
    psw_mc_dataset_free(&train);
    free(dev_path);
    free(train_path);
    free(gz);
}

int main(void) {
    test_olmes_fixture();
    test_shots();
    test_templates();
    test_tokenize_tiny();
    const char *shared = psw_test_shared_dir();
    if (shared) {
        test_full_requests(shared);
        test_tokenize_olmo2(shared);
    } else {
        printf("PSW_SHARED_DIR unset: full OLMES requests and OLMo 2 tokenizer not checked\n");
    }
    return psw_test_finish();
}
