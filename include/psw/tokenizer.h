/* tokenizer.h: HuggingFace tokenizer.json byte-level BPE (OLMo2/cl100k, GPT-2, Llama 3) in C.
 * Added/special tokens are matched first, then the file's Split regex (PCRE2, UTF + UCP, JIT),
 * ByteLevel byte-to-unicode mapping, and merges by rank. A feature of tokenizer.json that is
 * not implemented is PSW_ERR_UNSUPPORTED naming the feature.
 *
 * Ownership: psw_tokenizer_load returns a handle the caller releases with psw_tokenizer_free.
 * A loaded tokenizer is read-only; encode/decode may run concurrently on one handle. */
#ifndef PSW_TOKENIZER_H
#define PSW_TOKENIZER_H

#include "psw/common.h"

typedef struct psw_tokenizer psw_tokenizer;

/* Errors: PSW_ERR_IO, PSW_ERR_FORMAT (names the JSON path), PSW_ERR_UNSUPPORTED, PSW_ERR_NOMEM. */
psw_status psw_tokenizer_load(const char *path, psw_tokenizer **out, psw_err *err);
void psw_tokenizer_free(psw_tokenizer *tok);

/* Encodes len bytes of text (no BOS/EOS added). *ids is malloc'd, owned by the caller.
 * Invalid UTF-8: see docs/tokenizer.md. */
psw_status psw_tokenizer_encode(const psw_tokenizer *tok, const char *text, size_t len,
                                int32_t **ids, size_t *n_ids, psw_err *err);
/* Decodes ids to bytes; *text is malloc'd and NUL-terminated, owned by the caller.
 * Errors: PSW_ERR_INVALID_ARG for an id outside the vocabulary. */
psw_status psw_tokenizer_decode(const psw_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                char **text, size_t *len, psw_err *err);
/* Id of an exact vocabulary or added token string, or -1. */
int32_t psw_tokenizer_token_to_id(const psw_tokenizer *tok, const char *token);
/* One past the largest id (vocabulary plus added tokens). */
size_t psw_tokenizer_vocab_size(const psw_tokenizer *tok);

#endif
