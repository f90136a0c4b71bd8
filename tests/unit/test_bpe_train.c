/* test_bpe_train.c: byte-level BPE training on hand-checkable texts (merge order, tie-break,
 * piece boundaries, forced and special tokens), GPT-2's byte order, the tokenizer.json
 * structure, and the option errors. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "psw/bpe_train.h"
#include "test.h"

static psw_bpe_train_opts opts(size_t vocab) {
    psw_bpe_train_opts o = {.vocab_size = vocab, .min_frequency = 2};
    return o;
}

/* The bytes of merge r as "left|right". */
static void merge_str(const psw_bpe_train_result *r, size_t m, char *buf, size_t n) {
    snprintf(buf, n, "%s|%s", r->token[r->merge_left[m]], r->token[r->merge_right[m]]);
}

static void check_merges(const psw_bpe_train_result *r, const char *const *want, size_t n_want,
                         const char *what) {
    CHECK(r->n_merges == n_want, "%s: %zu merges, want %zu", what, r->n_merges, n_want);
    for (size_t m = 0; m < n_want && m < r->n_merges; m++) {
        char got[128];
        merge_str(r, m, got, sizeof got);
        CHECK(strcmp(got, want[m]) == 0, "%s: merge %zu is '%s', want '%s'", what, m, got,
              want[m]);
        CHECK(r->token_len[256 + m] ==
                  r->token_len[r->merge_left[m]] + r->token_len[r->merge_right[m]],
              "%s: token %zu is its two parts", what, 256 + m);
    }
}

static void test_byte_order(void) {
    /* GPT-2's vocab.json: "!" 0, "~" 93, "\xa1" 94, "Ā" (byte 0) 188, "Ċ" ('\n') 198,
     * "Ġ" (' ') 220, byte 0xAD 255 */
    CHECK(psw_bpe_train_byte_id('!') == 0, "'!' is id 0");
    CHECK(psw_bpe_train_byte_id('~') == 93, "'~' is id 93");
    CHECK(psw_bpe_train_byte_id(0xA1) == 94, "0xA1 is id 94");
    CHECK(psw_bpe_train_byte_id(0xAE) == 106, "0xAE is id 106");
    CHECK(psw_bpe_train_byte_id(0xFF) == 187, "0xFF is id 187");
    CHECK(psw_bpe_train_byte_id(0) == 188, "byte 0 is id 188");
    CHECK(psw_bpe_train_byte_id('\n') == 198, "'\\n' is id 198");
    CHECK(psw_bpe_train_byte_id(' ') == 220, "' ' is id 220");
    CHECK(psw_bpe_train_byte_id(0xAD) == 255, "0xAD is id 255");
    CHECK(psw_bpe_train_byte_to_unicode(' ') == 0x120, "' ' -> U+0120");
    CHECK(psw_bpe_train_byte_to_unicode('\n') == 0x10A, "'\\n' -> U+010A");
    CHECK(psw_bpe_train_byte_to_unicode('a') == 'a', "'a' -> itself");
    CHECK(psw_bpe_train_byte_to_unicode(0xAD) == 0x143, "0xAD -> U+0143");
}

static void test_merges(void) {
    psw_err err = {0};
    psw_bpe_train_result r;
    psw_bpe_train_opts o = opts(1000);

    /* "aaabdaaabac" (one piece): a a (4); then (aa,a) and (a,b) tie at 2 and "a" sorts before
     * "aa"; then aa ab (2); then every pair occurs once. */
    const char *t1 = "aaabdaaabac";
    CHECK_OK(psw_bpe_train(t1, strlen(t1), &o, &r, &err), &err);
    static const char *const w1[] = {"a|a", "a|b", "aa|ab"};
    check_merges(&r, w1, 3, "aaabdaaabac");
    CHECK(r.n_tokens == 259, "259 tokens, got %zu", r.n_tokens);
    psw_bpe_train_result_free(&r);

    /* pieces "hug", " hug", " hug", " pug": u g (4), h ug (3), ' ' hug (2), nothing else
     * reaches 2; no merge crosses a piece boundary ("g " never forms). */
    const char *t2 = "hug hug hug pug";
    CHECK_OK(psw_bpe_train(t2, strlen(t2), &o, &r, &err), &err);
    static const char *const w2[] = {"u|g", "h|ug", " |hug"};
    check_merges(&r, w2, 3, "hug hug hug pug");
    psw_bpe_train_result_free(&r);

    /* min_frequency 1 merges on until every piece is one token: after the three merges above,
     * ( ,p) and (p,ug) occur once each and ( ,p) wins the tie (" " < "p"), then ( p,ug). */
    o.min_frequency = 1;
    CHECK_OK(psw_bpe_train(t2, strlen(t2), &o, &r, &err), &err);
    static const char *const w3[] = {"u|g", "h|ug", " |hug", " |p", " p|ug"};
    check_merges(&r, w3, 5, "min_frequency 1");
    psw_bpe_train_result_free(&r);

    /* the vocabulary target stops training: 256 + 2 merges + 1 special = 259 */
    o = opts(259);
    const char *special[] = {"<|endoftext|>"};
    o.special_tokens = special;
    o.n_special = 1;
    CHECK_OK(psw_bpe_train(t2, strlen(t2), &o, &r, &err), &err);
    check_merges(&r, w2, 2, "vocab 259");
    CHECK(r.n_special == 1 && strcmp(r.special[0], "<|endoftext|>") == 0, "special kept");
    psw_bpe_train_result_free(&r);

    /* forced tokens come first, built left to right, reusing existing tokens */
    o = opts(1000);
    const char *forced[] = {" A", " AB", " A"};
    o.forced_tokens = forced;
    o.n_forced = 3;
    CHECK_OK(psw_bpe_train(t2, strlen(t2), &o, &r, &err), &err);
    static const char *const w4[] = {" |A", " A|B", "u|g", "h|ug", " |hug"};
    check_merges(&r, w4, 5, "forced");
    psw_bpe_train_result_free(&r);

    /* special tokens are cut out before counting: "<|" would merge otherwise */
    const char *t5 = "<|x|><|x|>";
    o = opts(1000);
    CHECK_OK(psw_bpe_train(t5, strlen(t5), &o, &r, &err), &err);
    CHECK(r.n_merges >= 1 && r.token_len[256] == 2, "without specials a 2-byte pair merges");
    psw_bpe_train_result_free(&r);
    static const char *const sp2[] = {"<|x|>"};
    o.special_tokens = sp2;
    o.n_special = 1;
    CHECK_OK(psw_bpe_train(t5, strlen(t5), &o, &r, &err), &err);
    CHECK(r.n_merges == 0, "specials cut out: no merges, got %zu", r.n_merges);
    psw_bpe_train_result_free(&r);
}

static const cJSON *get(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void test_json(void) {
    psw_err err = {0};
    psw_bpe_train_result r;
    psw_bpe_train_opts o = opts(1000);
    const char *special[] = {"<|endoftext|>", "<|pad|>"};
    o.special_tokens = special;
    o.n_special = 2;
    const char *t2 = "hug hug hug pug\n";
    CHECK_OK(psw_bpe_train(t2, strlen(t2), &o, &r, &err), &err);
    char *json = NULL;
    size_t len = 0;
    CHECK_OK(psw_bpe_train_to_json(&r, &json, &len, &err), &err);
    CHECK(json && len == strlen(json), "json length");
    cJSON *root = cJSON_Parse(json);
    CHECK(root != NULL, "tokenizer.json parses");
    CHECK(cJSON_IsString(get(root, "version")) &&
              strcmp(get(root, "version")->valuestring, "1.0") == 0,
          "version 1.0");
    CHECK(cJSON_IsNull(get(root, "normalizer")), "normalizer null");
    const cJSON *added = get(root, "added_tokens");
    CHECK(cJSON_GetArraySize(added) == 2, "2 added tokens");
    const cJSON *a1 = cJSON_GetArrayItem(added, 1);
    CHECK(get(a1, "id")->valueint == 260 && strcmp(get(a1, "content")->valuestring, "<|pad|>") == 0 &&
              cJSON_IsTrue(get(a1, "special")) && cJSON_IsFalse(get(a1, "normalized")),
          "<|pad|> is special id 260 (256 + 3 merges + 1)");
    const cJSON *pre = get(root, "pre_tokenizer");
    const cJSON *seq = get(pre, "pretokenizers");
    const cJSON *split = cJSON_GetArrayItem(seq, 0), *bl = cJSON_GetArrayItem(seq, 1);
    CHECK(strcmp(get(pre, "type")->valuestring, "Sequence") == 0 && cJSON_GetArraySize(seq) == 2,
          "pre_tokenizer Sequence of 2");
    CHECK(strcmp(get(split, "type")->valuestring, "Split") == 0 &&
              strcmp(get(get(split, "pattern"), "Regex")->valuestring, PSW_BPE_SPLIT_REGEX) == 0 &&
              strcmp(get(split, "behavior")->valuestring, "Isolated") == 0 &&
              cJSON_IsFalse(get(split, "invert")),
          "Split(regex, Isolated)");
    CHECK(strcmp(get(bl, "type")->valuestring, "ByteLevel") == 0 &&
              cJSON_IsFalse(get(bl, "add_prefix_space")) && cJSON_IsFalse(get(bl, "use_regex")),
          "ByteLevel(add_prefix_space false, use_regex false)");
    CHECK(strcmp(get(get(root, "decoder"), "type")->valuestring, "ByteLevel") == 0,
          "decoder ByteLevel");
    const cJSON *model = get(root, "model");
    const cJSON *vocab = get(model, "vocab");
    const cJSON *merges = get(model, "merges");
    CHECK(strcmp(get(model, "type")->valuestring, "BPE") == 0, "model BPE");
    CHECK(cJSON_GetArraySize(vocab) == 261, "vocab has 259 tokens + 2 specials, got %d",
          cJSON_GetArraySize(vocab));
    CHECK(get(vocab, "!")->valueint == 0, "vocab ! = 0");
    CHECK(get(vocab, "\xc4\xa0")->valueint == 220, "vocab \\u0120 (space) = 220");
    CHECK(get(vocab, "\xc4\x8a")->valueint == 198, "vocab \\u010a (newline) = 198");
    CHECK(get(vocab, "ug")->valueint == 256 && get(vocab, "hug")->valueint == 257 &&
              get(vocab, "\xc4\xa0hug")->valueint == 258,
          "merged tokens 256..258");
    CHECK(get(vocab, "<|endoftext|>")->valueint == 259, "<|endoftext|> = 259");
    CHECK(cJSON_GetArraySize(merges) == 3 &&
              strcmp(cJSON_GetArrayItem(merges, 2)->valuestring, "\xc4\xa0 hug") == 0,
          "merges as \"left right\" strings, third is \"\\u0120 hug\"");
    cJSON_Delete(root);
    free(json);
    psw_bpe_train_result_free(&r);
}

static void test_errors(void) {
    psw_err err = {0};
    psw_bpe_train_result r;
    psw_bpe_train_opts o = opts(300);
    const char *t = "hello";
    o.min_frequency = 0;
    CHECK_FAILS(psw_bpe_train(t, 5, &o, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "min_frequency = 0, expected >= 1");
    o = opts(257);
    const char *special[] = {"<|endoftext|>", "<|pad|>"};
    o.special_tokens = special;
    o.n_special = 2;
    CHECK_FAILS(psw_bpe_train(t, 5, &o, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "vocab_size = 257 is below 258 (256 bytes + 2 special + 0 forced merges)");
    o = opts(300);
    const char *dup[] = {"<|x|>", "<|x|>"};
    o.special_tokens = dup;
    o.n_special = 2;
    CHECK_FAILS(psw_bpe_train(t, 5, &o, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "special token \"<|x|>\" is listed twice");
    const char *empty[] = {""};
    o.special_tokens = empty;
    o.n_special = 1;
    CHECK_FAILS(psw_bpe_train(t, 5, &o, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "special token 0 is empty");
    o = opts(300);
    const char *short_forced[] = {" A", "B"};
    o.forced_tokens = short_forced;
    o.n_forced = 2;
    CHECK_FAILS(psw_bpe_train(t, 5, &o, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "forced token 1 (\"B\") has fewer than 2 bytes");
    o = opts(300);
    CHECK_FAILS(psw_bpe_train("ab\xff", 3, &o, &r, &err), &err, PSW_ERR_FORMAT,
                "invalid UTF-8 at byte 2 (0xff)");
    CHECK_FAILS(psw_bpe_train("a\xed\xa0\x80", 4, &o, &r, &err), &err, PSW_ERR_FORMAT,
                "invalid UTF-8 at byte 1"); /* a surrogate */
    CHECK(r.n_tokens == 0 && r.token == NULL, "result empty after failure");
    /* valid multi-byte text trains fine: "é" twice merges its two bytes */
    CHECK_OK(psw_bpe_train("\xc3\xa9 \xc3\xa9", 5, &o, &r, &err), &err);
    CHECK(r.n_merges >= 1 && r.token_len[256] == 2 && memcmp(r.token[256], "\xc3\xa9", 2) == 0,
          "the two bytes of U+00E9 merge first");
    psw_bpe_train_result_free(&r);
}

int main(void) {
    test_byte_order();
    test_merges();
    test_json();
    test_errors();
    return psw_test_finish();
}
