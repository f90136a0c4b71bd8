/* test_world_encode.c: the tokenizer.json that psw_world_make_dir trains, read back by our
 * encoder (tokenizer.h): the corpus round-trips byte for byte, the answer letters and the
 * special tokens are single ids at their documented places, and words of the world are
 * compressed by the learned merges. (tests/tokenizer/test_world_tokenizer.sh compares the ids
 * with HF tokenizers.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/tokenizer.h"
#include "psw/world.h"
#include "test.h"

static size_t encode(const psw_tokenizer *tok, const char *s, int32_t **ids) {
    size_t n = 0;
    psw_err err = {0};
    CHECK_OK(psw_tokenizer_encode(tok, s, strlen(s), ids, &n, &err), &err);
    return n;
}

int main(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.seed = 21;
    o.n_entities = 25;
    o.n_train = 500;
    char *dir = psw_test_tmpdir();
    psw_err err = {0};
    CHECK_OK(psw_world_make_dir(&o, 700, dir, &err), &err);
    char *tok_path = psw_path_join(dir, "tokenizer.json");
    char *corpus_path = psw_path_join(dir, "corpus.txt");
    psw_tokenizer *tok = NULL;
    CHECK_OK(psw_tokenizer_load(tok_path, &tok, &err), &err);
    char *corpus = NULL;
    size_t corpus_len = 0;
    CHECK_OK(psw_read_file(corpus_path, &corpus, &corpus_len, &err), &err);
    if (!tok || !corpus) return psw_test_finish();

    size_t vs = psw_tokenizer_vocab_size(tok);
    CHECK(vs == 700, "vocab size 700 (the corpus has enough pairs), got %zu", vs);
    CHECK(psw_tokenizer_token_to_id(tok, PSW_WORLD_EOT_TOKEN) == (int32_t)vs - 2,
          "<|endoftext|> is vocab-2");
    CHECK(psw_tokenizer_token_to_id(tok, PSW_WORLD_PAD_TOKEN) == (int32_t)vs - 1,
          "<|pad|> is vocab-1");

    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(psw_tokenizer_encode(tok, corpus, corpus_len, &ids, &n, &err), &err);
    CHECK(n > 0 && n < corpus_len * 2 / 5, "corpus of %zu bytes compresses to %zu ids (< 2/5)",
          corpus_len, n);
    char *back = NULL;
    size_t back_len = 0;
    CHECK_OK(psw_tokenizer_decode(tok, ids, n, &back, &back_len, &err), &err);
    CHECK(back && back_len == corpus_len && memcmp(back, corpus, corpus_len) == 0,
          "corpus decodes back byte for byte");
    free(back);
    free(ids);

    const char *letters[] = {" A", " B", " C", " D", " E"};
    for (int i = 0; i < 5; i++) {
        size_t k = encode(tok, letters[i], &ids);
        CHECK(k == 1 && ids[0] == 256 + i, "\"%s\" is the single id %d", letters[i], 256 + i);
        free(ids);
    }
    /* after "Answer:" the letter is its own token, as the eval scores it */
    size_t k = encode(tok, "\nAnswer: C", &ids);
    CHECK(k >= 2 && ids[k - 1] == 258, "\"\\nAnswer: C\" ends with id 258");
    free(ids);
    /* <|endoftext|> inside text is matched as the special token */
    k = encode(tok, "Question:<|endoftext|>", &ids);
    CHECK(k >= 2 && ids[k - 1] == (int32_t)vs - 2, "special token split out of text");
    free(ids);

    psw_tokenizer_free(tok);
    free(corpus);
    static const char *const files[] = {"train.jsonl", "dev.jsonl",      "test.jsonl",
                                        "corpus.txt",  "tokenizer.json", "world.json"};
    for (int i = 0; i < 6; i++) {
        char *p = psw_path_join(dir, files[i]);
        remove(p);
        free(p);
    }
    remove(dir);
    free(dir);
    free(tok_path);
    free(corpus_path);
    return psw_test_finish();
}
