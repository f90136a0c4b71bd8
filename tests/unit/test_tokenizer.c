/* test_tokenizer.c: the tokenizer on a tiny hand-written tokenizer.json (GPT-2 style ByteLevel
 * pre-tokenizer, five merges, one added token): hand-computed ids (merge order, leftmost tie
 * break, bytes missing from the vocabulary dropped as HF does, the heap path for long words),
 * decode round trips, and every unsupported-feature and malformed-file error. Agreement with
 * HuggingFace on real files is tested in tests/tokenizer/. */
#include <stdlib.h>
#include <string.h>

#include "psw/tokenizer.h"
#include "test.h"

static char *dir;

/* vocab ids: a0 b1 c2 Ġ3 !4 ab5 abc6 Ġa7 Ġab8 <s>9 aa10 ("Ġ" = U+0120, the byte-level space) */
#define VOCAB                                                                                      \
    "{\"a\":0,\"b\":1,\"c\":2,\"\\u0120\":3,\"!\":4,\"ab\":5,\"abc\":6,\"\\u0120a\":7,"           \
    "\"\\u0120ab\":8,\"<s>\":9,\"aa\":10}"
#define MERGES "[\"a b\",\"ab c\",\"\\u0120 a\",\"\\u0120 ab\",\"a a\"]"
#define MERGES_PAIRS "[[\"a\",\"b\"],[\"ab\",\"c\"],[\"\\u0120\",\"a\"],[\"\\u0120\",\"ab\"],[\"a\",\"a\"]]"
#define PRETOK "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true}"
#define ADDED                                                                                      \
    "[{\"id\":9,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"     \
    "\"normalized\":false,\"special\":true}]"
#define MODEL_OPTS "\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":null,"      \
    "\"end_of_word_suffix\":null,\"fuse_unk\":false,\"byte_fallback\":false,"

typedef struct parts {
    const char *top;        /* extra top-level members, each followed by a comma */
    const char *normalizer; /* JSON value */
    const char *pretok;
    const char *decoder;
    const char *model_type;
    const char *model_opts; /* members, each followed by a comma */
    const char *vocab;
    const char *merges;
    const char *added;
} parts;

static parts base(void) {
    return (parts){"", "null", PRETOK, "{\"type\":\"ByteLevel\",\"add_prefix_space\":true}",
                   "BPE", MODEL_OPTS, VOCAB, MERGES, ADDED};
}

static char *write_json(const parts *p, const char *name) {
    size_t cap = 8192;
    char *buf = psw_xmalloc(cap);
    int n = snprintf(buf, cap,
                     "{%s\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":%s,"
                     "\"normalizer\":%s,\"pre_tokenizer\":%s,\"post_processor\":{\"type\":\"ByteLevel\","
                     "\"add_prefix_space\":true,\"trim_offsets\":false,\"use_regex\":true},"
                     "\"decoder\":%s,\"model\":{\"type\":\"%s\",%s\"vocab\":%s,\"merges\":%s}}",
                     p->top, p->added, p->normalizer, p->pretok, p->decoder, p->model_type,
                     p->model_opts, p->vocab, p->merges);
    PSW_ASSERT(n > 0 && (size_t)n < cap);
    char *path = psw_path_join(dir, name);
    psw_err err;
    PSW_ASSERT(psw_write_file(path, buf, (size_t)n, &err) == PSW_OK);
    free(buf);
    return path;
}

/* Encodes text and compares with the expected ids (terminated by -1). */
static void check_ids(const psw_tokenizer *tok, const char *text, size_t len, const int32_t *want,
                      const char *what) {
    psw_err err = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    psw_status st = psw_tokenizer_encode(tok, text, len, &ids, &n, &err);
    CHECK_OK(st, &err);
    size_t nw = 0;
    while (want[nw] >= 0) nw++;
    int same = st == PSW_OK && n == nw;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    CHECK(same, "%s: got %zu ids (first %d), want %zu ids (first %d)", what, n, n ? ids[0] : -1,
          nw, nw ? want[0] : -1);
    free(ids);
}
#define IDS(...) ((const int32_t[]){__VA_ARGS__, -1})
#define NOIDS ((const int32_t[]){-1})

static void check_load_fails(const parts *p, psw_status want, const char *needle, const char *what) {
    char *path = write_json(p, "bad.json");
    psw_tokenizer *tok = NULL;
    psw_err err = {0};
    psw_status st = psw_tokenizer_load(path, &tok, &err);
    CHECK(st == want && strstr(err.msg, needle) && strstr(err.msg, "bad.json") && !tok,
          "%s: status %s, message \"%s\" (want %s containing \"%s\" and the file name)", what,
          psw_status_str(st), err.msg, psw_status_str(want), needle);
    psw_tokenizer_free(tok);
    free(path);
}

static void test_encode_decode(const char *merges, const char *what) {
    parts p = base();
    p.merges = merges;
    char *path = write_json(&p, "tiny.json");
    psw_tokenizer *tok = NULL;
    psw_err err = {0};
    CHECK_OK(psw_tokenizer_load(path, &tok, &err), &err);
    free(path);
    if (!tok) return;
    printf("%s\n", what);
    CHECK(psw_tokenizer_vocab_size(tok) == 11, "vocab size %zu", psw_tokenizer_vocab_size(tok));
    CHECK(psw_tokenizer_token_to_id(tok, "<s>") == 9, "<s> id");
    CHECK(psw_tokenizer_token_to_id(tok, "\xc4\xa0" "ab") == 8, "Ġab id");
    CHECK(psw_tokenizer_token_to_id(tok, "zz") == -1, "unknown token");

    /* a+b (rank 0) then ab+c (rank 1). */
    check_ids(tok, "abc", 3, IDS(6), "abc");
    /* GPT-2 regex: "ab" | " ab"; Ġ a b -> Ġ ab (rank 0) -> Ġab (rank 3). */
    check_ids(tok, "ab ab", 5, IDS(5, 8), "ab ab");
    check_ids(tok, " ac", 3, IDS(7, 2), "' ac'");
    /* Leftmost of two equal-rank pairs merges first. */
    check_ids(tok, "aaa", 3, IDS(10, 0), "aaa");
    check_ids(tok, "abab", 4, IDS(5, 5), "abab");
    /* 'x' has no byte-level symbol: dropped, so a and b become neighbours and merge (HF). */
    check_ids(tok, "axb", 3, IDS(5), "axb");
    check_ids(tok, "x", 1, NOIDS, "x alone");
    check_ids(tok, "", 0, NOIDS, "empty text");
    check_ids(tok, "!!", 2, IDS(4, 4), "!!");
    /* Added token split out before the regex, also inside a word. */
    check_ids(tok, "<s>abc<s>", 9, IDS(9, 6, 9), "<s>abc<s>");
    check_ids(tok, "a<s>b", 5, IDS(0, 9, 1), "a<s>b");
    check_ids(tok, "<s", 2, NOIDS, "'<s' has no symbols");
    /* Long words take the heap path (more than 48 symbols). */
    {
        char w[200];
        int32_t want[101];
        for (int i = 0; i < 60; i++) w[i] = i % 2 ? 'b' : 'a';
        for (int i = 0; i < 30; i++) want[i] = 5;
        want[30] = -1;
        check_ids(tok, w, 60, want, "(ab)x30");
        memset(w, 'a', 101);
        for (int i = 0; i < 50; i++) want[i] = 10;
        want[50] = 0;
        want[51] = -1;
        check_ids(tok, w, 101, want, "a x 101");
        /* abc (ranks 0, 1), then 57 a's pair up leftmost first: 28 aa and one a. */
        memcpy(w, "abc", 3);
        memset(w + 3, 'a', 57);
        want[0] = 6;
        for (int i = 1; i <= 28; i++) want[i] = 10;
        want[29] = 0;
        want[30] = -1;
        check_ids(tok, w, 60, want, "abc + a x 57");
    }

    /* Decode: byte-level symbols back to bytes; the added token as its content. */
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(psw_tokenizer_decode(tok, IDS(9, 6, 8, 4, 3), 5, &text, &len, &err), &err);
    CHECK(text && len == 11 && memcmp(text, "<s>abc ab! ", 11) == 0 && text[len] == '\0',
          "decode: \"%s\"", text ? text : "(null)");
    free(text);
    /* Round trip through encode. */
    int32_t *ids = NULL;
    size_t n = 0;
    const char *s = "ab ab  abc!<s> a";
    CHECK_OK(psw_tokenizer_encode(tok, s, strlen(s), &ids, &n, &err), &err);
    CHECK_OK(psw_tokenizer_decode(tok, ids, n, &text, &len, &err), &err);
    CHECK(text && len == strlen(s) && memcmp(text, s, len) == 0, "round trip: \"%s\"", text ? text : "");
    free(ids);
    free(text);
    CHECK_FAILS(psw_tokenizer_decode(tok, IDS(0, 11), 2, &text, &len, &err), &err,
                PSW_ERR_INVALID_ARG, "id 11 (position 1) is not in the vocabulary (11 ids)");
    CHECK_FAILS(psw_tokenizer_decode(tok, IDS(-3), 1, &text, &len, &err), &err, PSW_ERR_INVALID_ARG,
                "id -3 (position 0)");

    /* Invalid UTF-8 is rejected with its byte offset (docs/tokenizer.md). */
    CHECK_FAILS(psw_tokenizer_encode(tok, "ab\xe2\x82", 4, &ids, &n, &err), &err, PSW_ERR_INVALID_ARG,
                "not valid UTF-8 at byte offset 2 (byte 0xe2)");
    CHECK(ids == NULL && n == 0, "no ids on failure");
    CHECK_FAILS(psw_tokenizer_encode(tok, "a\x80", 2, &ids, &n, &err), &err, PSW_ERR_INVALID_ARG,
                "byte offset 1 (byte 0x80)");
    /* A NUL byte is a valid character (no symbol in this vocabulary: dropped). */
    check_ids(tok, "a\0b", 3, IDS(0, 1), "a NUL b");
    psw_tokenizer_free(tok);
}

static void test_options(void) {
    /* add_prefix_space: " " is prepended to each piece that lacks one. */
    parts p = base();
    p.pretok = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":true}";
    char *path = write_json(&p, "prefix.json");
    psw_tokenizer *tok = NULL;
    psw_err err = {0};
    CHECK_OK(psw_tokenizer_load(path, &tok, &err), &err);
    free(path);
    if (tok) {
        check_ids(tok, "ab", 2, IDS(8), "prefix: ab -> Ġab");
        check_ids(tok, "<s>ab", 5, IDS(9, 8), "prefix after added token");
        psw_tokenizer_free(tok);
    }
    /* ignore_merges: a word in the vocabulary is one token even without a merge path. */
    p = base();
    p.merges = "[\"a b\"]";
    p.model_opts = MODEL_OPTS "\"ignore_merges\":true,";
    path = write_json(&p, "ignore.json");
    CHECK_OK(psw_tokenizer_load(path, &tok, &err), &err);
    free(path);
    if (tok) {
        check_ids(tok, "abc", 3, IDS(6), "ignore_merges: abc in vocab");
        check_ids(tok, "abcc", 4, IDS(5, 2, 2), "ignore_merges: abcc by merges");
        psw_tokenizer_free(tok);
    }
    /* Split Removed + invert (the OLMo2/cl100k form) then ByteLevel without its regex. */
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
               "\"a+|\\\\s\"},\"behavior\":\"Removed\",\"invert\":true},{\"type\":\"ByteLevel\","
               "\"add_prefix_space\":false,\"use_regex\":false}]}";
    path = write_json(&p, "split.json");
    CHECK_OK(psw_tokenizer_load(path, &tok, &err), &err);
    free(path);
    if (tok) {
        /* Pieces are the matches only: "aa", " ", "a"; the gaps "b" and "c" are removed. */
        check_ids(tok, "aab ac", 6, IDS(10, 3, 0), "Removed+invert");
        psw_tokenizer_free(tok);
    }
}

static void test_errors(void) {
    parts p;
    p = base();
    p.normalizer = "{\"type\":\"NFC\"}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "normalizer \"NFC\" is set: not supported", "NFC");
    p = base();
    p.model_type = "WordPiece";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "model.type \"WordPiece\" is not supported", "WordPiece");
    p = base();
    p.model_opts = "\"dropout\":0.1,";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "model.dropout", "dropout");
    p = base();
    p.model_opts = "\"continuing_subword_prefix\":\"##\",";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "model.continuing_subword_prefix", "prefix");
    p = base();
    p.model_opts = "\"byte_fallback\":true,";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "model.byte_fallback", "byte_fallback");
    static const char *flags[] = {"single_word", "lstrip", "rstrip"};
    for (int k = 0; k < 3; k++) {
        char added[300];
        snprintf(added, sizeof added, "[{\"id\":9,\"content\":\"<s>\",\"%s\":true,\"special\":true}]", flags[k]);
        p = base();
        p.added = added;
        char needle[64];
        snprintf(needle, sizeof needle, "added_tokens[0] \"<s>\": %s is not supported", flags[k]);
        check_load_fails(&p, PSW_ERR_UNSUPPORTED, needle, flags[k]);
    }
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true}]}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[0].type \"Digits\" is not supported", "Digits");
    p = base();
    p.pretok = "null";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "pre_tokenizer is null", "no pre_tokenizer");
    p = base();
    p.pretok = "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},\"behavior\":\"Isolated\",\"invert\":false}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "pre_tokenizer has no ByteLevel step", "no ByteLevel");
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[" PRETOK ",{\"type\":\"Split\",\"pattern\":"
               "{\"Regex\":\"a\"},\"behavior\":\"Isolated\",\"invert\":false}]}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[1]: a Split after ByteLevel", "Split after ByteLevel");
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
               "{\"Regex\":\"[^\\\\S]\"},\"behavior\":\"Isolated\",\"invert\":false}," PRETOK "]}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "\\S inside a character class is not supported", "\\S in class");
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
               "{\"Regex\":\"(a\"},\"behavior\":\"Isolated\",\"invert\":false}," PRETOK "]}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "pre_tokenizer.pretokenizers[0].pattern.Regex: PCRE2 cannot compile", "bad regex");
    p = base();
    p.pretok = "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":"
               "{\"Regex\":\"a\"},\"behavior\":\"Sideways\",\"invert\":false}," PRETOK "]}";
    check_load_fails(&p, PSW_ERR_FORMAT, "behavior \"Sideways\" is not one of", "bad behavior");
    p = base();
    p.decoder = "{\"type\":\"WordPiece\"}";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "decoder \"WordPiece\" is not supported", "decoder");
    p = base();
    p.decoder = "null";
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "decoder null is not supported", "null decoder");
    p = base();
    p.top = "\"truncation\":{\"max_length\":5},";
    /* The template also writes "truncation":null after it; cJSON returns the first member. */
    check_load_fails(&p, PSW_ERR_UNSUPPORTED, "truncation is set", "truncation");

    /* Malformed files. */
    p = base();
    p.merges = "[\"a b\",\"q c\"]";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.merges[1]: token \"q\" is not in model.vocab", "merge token");
    p = base();
    p.merges = "[\"b c\"]";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.merges[0]: merged token \"bc\" is not in model.vocab", "merged token");
    p = base();
    p.merges = "[\"a b c\"]";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.merges[0] \"a b c\" is not two tokens separated by one space", "3 parts");
    p = base();
    p.merges = "[[\"a\"]]";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.merges[0] is neither", "1-element pair");
    p = base();
    p.vocab = "{\"a\":0,\"b\":1.5}";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.vocab[\"b\"] is not an id", "fractional id");
    p = base();
    p.vocab = "{\"a\":0,\"b\":0}";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.vocab: id 0 is given to \"a\" and \"b\"", "duplicate id");
    p = base();
    p.vocab = "[]";
    check_load_fails(&p, PSW_ERR_FORMAT, "model.vocab is missing or not an object", "vocab array");
    p = base();
    p.added = "[{\"content\":\"<s>\"}]";
    check_load_fails(&p, PSW_ERR_FORMAT, "added_tokens[0] needs a string \"content\" and an id", "added id");

    char *path = psw_path_join(dir, "bad.json");
    psw_err err = {0};
    psw_tokenizer *tok = NULL;
    const char *broken = "{\"model\": {\"type\": \"BPE\",";
    PSW_ASSERT(psw_write_file(path, broken, strlen(broken), &err) == PSW_OK);
    CHECK_FAILS(psw_tokenizer_load(path, &tok, &err), &err, PSW_ERR_FORMAT, "bad.json: not valid JSON");
    PSW_ASSERT(psw_write_file(path, "[1]", 3, &err) == PSW_OK);
    CHECK_FAILS(psw_tokenizer_load(path, &tok, &err), &err, PSW_ERR_FORMAT, "bad.json: the top level is not a JSON object");
    PSW_ASSERT(psw_write_file(path, "{}", 2, &err) == PSW_OK);
    CHECK_FAILS(psw_tokenizer_load(path, &tok, &err), &err, PSW_ERR_FORMAT, "bad.json: model is missing");
    free(path);
    path = psw_path_join(dir, "missing.json");
    CHECK_FAILS(psw_tokenizer_load(path, &tok, &err), &err, PSW_ERR_IO, "missing.json");
    CHECK(tok == NULL, "no handle on failure");
    free(path);
}

int main(void) {
    dir = psw_test_tmpdir();
    test_encode_decode(MERGES, "merges as \"a b\" strings");
    test_encode_decode(MERGES_PAIRS, "merges as [a, b] pairs");
    test_options();
    test_errors();
    free(dir);
    return psw_test_finish();
}
