/* bpe_train.h: trains a byte-level BPE tokenizer (GPT-2 style) on a text and writes it as a
 * HuggingFace tokenizer.json that tokenizer.h and HF tokenizers both load.
 *
 * Pipeline, the same one the written file describes so that encoding reproduces training:
 *  1. special tokens are cut out of the text (they are never merged);
 *  2. each remaining segment is split by PSW_BPE_SPLIT_REGEX (PCRE2, UTF + UCP; unmatched gaps
 *     would be kept as pieces, as HF's Split "Isolated" does, though this regex matches
 *     everything);
 *  3. every piece is a sequence of byte tokens; ids 0..255 are the 256 bytes in GPT-2's
 *     bytes_to_unicode order (id 0 = '!', ..., id 188 = byte 0x00), as in GPT-2's vocab;
 *  4. the forced tokens are built first, by merges of their bytes left to right (ranks 0..);
 *  5. then, repeatedly, the most frequent adjacent pair (weighted by piece counts) is merged.
 *     Ties go to the pair whose left token's bytes sort first (memcmp order, a prefix sorts
 *     first), then the right token's. Merge r creates id 256 + r. Training stops at the target
 *     vocabulary size or when no pair occurs min_frequency times.
 * Special tokens get the ids after the last merge, in the order given.
 *
 * What it does not do: no encoding (tokenizer.h), no normalisation, no unknown token.
 *
 * Ownership: psw_bpe_train fills a caller-owned psw_bpe_train_result that psw_bpe_train_result_free
 * releases; psw_bpe_train_to_json returns a malloc'd string the caller frees. */
#ifndef PSW_BPE_TRAIN_H
#define PSW_BPE_TRAIN_H

#include "psw/common.h"

/* GPT-2's pre-tokenisation regex (contractions, letters, digits, punctuation, whitespace), as
 * written into the tokenizer.json's Split pre-tokenizer. */
#define PSW_BPE_SPLIT_REGEX                                                                        \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct psw_bpe_train_opts {
    size_t vocab_size;                 /* total ids: 256 bytes + merges + special tokens */
    long min_frequency;                /* >= 1: a pair must occur this often to be merged */
    const char *const *special_tokens; /* [n_special] added tokens (special), non-empty, distinct */
    size_t n_special;
    const char *const *forced_tokens; /* [n_forced] strings of >= 2 bytes that become single
                                         tokens whatever their frequency (e.g. " A") */
    size_t n_forced;
    bool progress; /* report merges on stderr (psw_progress) */
} psw_bpe_train_opts;

typedef struct psw_bpe_train_result {
    size_t n_tokens;     /* 256 + n_merges: the BPE vocabulary without special tokens */
    char **token;        /* [n_tokens] the bytes of each id (owned; NUL-terminated for display) */
    size_t *token_len;   /* [n_tokens] byte lengths */
    size_t n_merges;     /* merge r joins ids merge_left[r] and merge_right[r] into 256 + r */
    int32_t *merge_left; /* [n_merges] */
    int32_t *merge_right; /* [n_merges] */
    char **special;       /* [n_special] copies; special i has id n_tokens + i */
    size_t n_special;
} psw_bpe_train_result;

/* Trains on len bytes of UTF-8 text. On success *out (zeroed first) holds the result.
 * Errors: PSW_ERR_INVALID_ARG (vocab_size too small for the bytes, forced and special tokens;
 * min_frequency < 1; an empty, duplicate or too short special/forced token),
 * PSW_ERR_FORMAT (text is not valid UTF-8, with the byte offset), PSW_ERR_NOMEM.
 * On failure *out is left empty (safe to free). */
psw_status psw_bpe_train(const char *text, size_t len, const psw_bpe_train_opts *o,
                         psw_bpe_train_result *out, psw_err *err);
void psw_bpe_train_result_free(psw_bpe_train_result *r);

/* Serialises the result as tokenizer.json (version "1.0"; added_tokens; normalizer null;
 * pre_tokenizer Sequence[Split(PSW_BPE_SPLIT_REGEX, Isolated), ByteLevel(add_prefix_space
 * false, use_regex false)]; model BPE with vocab and "left right" merges; decoder ByteLevel).
 * *json is malloc'd (caller frees); *len, if not NULL, receives its length.
 * Errors: PSW_ERR_NOMEM. */
psw_status psw_bpe_train_to_json(const psw_bpe_train_result *r, char **json, size_t *len, psw_err *err);

/* Id (0..255) of a byte in the GPT-2 byte order described above. */
int32_t psw_bpe_train_byte_id(uint8_t byte);
/* GPT-2 bytes_to_unicode: the code point that stands for a byte in the vocab strings. */
uint32_t psw_bpe_train_byte_to_unicode(uint8_t byte);

#endif
