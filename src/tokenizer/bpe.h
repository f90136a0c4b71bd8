/* bpe.h (internal to src/tokenizer): the byte-level BPE model of a tokenizer.json: vocabulary
 * and merge hash maps, the merge loop, and a word cache. It knows nothing about JSON, added
 * tokens or pre-tokenization; tokenizer.c fills it and drives it.
 *
 * Strings: vocabulary entries are stored in their tokenizer.json form (byte-level characters,
 * UTF-8). A "word" handed to psw_bpe_word is the raw bytes of one pre-token; the model maps each
 * byte to its byte-level symbol itself.
 *
 * Ownership: psw_bpe owns every array it points to; psw_bpe_free releases them. A filled model is
 * read-only; the cache is separate (psw_bpe_cache) so that callers can decide who may write it. */
#ifndef PSW_TOKENIZER_BPE_H
#define PSW_TOKENIZER_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "psw/common.h"

/* Open-addressing string -> id map; keys live in a caller-provided table of (offset, length)
 * into an arena, so the map itself stores only ids. */
typedef struct psw_strmap {
    int32_t *slots; /* [cap], -1 = empty */
    size_t cap;     /* power of two */
    size_t count;
} psw_strmap;

typedef struct psw_bpe {
    /* Vocabulary by id. Ids may have holes (len == UINT32_MAX). */
    int32_t max_id;      /* largest model id, -1 when empty */
    size_t n_entries;    /* number of vocabulary entries (HF's get_vocab_size) */
    uint32_t *str_off;   /* [max_id+1] offset into str_arena */
    uint32_t *str_len;   /* [max_id+1] byte length; UINT32_MAX for a hole */
    char *str_arena;
    size_t str_arena_len;
    psw_strmap vocab; /* vocabulary string -> id */

    /* Raw bytes of each entry (the byte-level decoding), for decode and ignore_merges. */
    uint32_t *raw_off;  /* [max_id+1] */
    uint32_t *raw_len;  /* [max_id+1] */
    bool *raw_clean;    /* [max_id+1] every character is a byte-level character */
    uint8_t *raw_arena;
    psw_strmap raw; /* raw bytes -> id, only clean entries; filled when ignore_merges */

    int32_t byte_id[256]; /* id of each byte's byte-level symbol, -1 if absent (dropped, as HF) */

    /* Merges: key (left << 32 | right) -> rank and merged id. */
    uint64_t *mkey; /* [mcap], UINT64_MAX = empty */
    uint32_t *mrank;
    int32_t *mnew;
    size_t mcap, mcount;

    bool ignore_merges;
} psw_bpe;

/* Byte-level alphabet of GPT-2: the code point standing for each byte, and the reverse
 * (code point -> byte, -1 for code points outside the alphabet; valid below 0x144). */
extern const uint16_t psw_bytelevel_char[256];
#define PSW_BYTELEVEL_MAX_CP 0x144
int psw_bytelevel_byte(uint32_t cp);

/* Decodes one byte-level token string (UTF-8) to raw bytes, appending to *out (grown with
 * psw_xrealloc). Returns true when every character is in the alphabet; otherwise appends the
 * string's own UTF-8 bytes, as HF's ByteLevel decoder does, and returns false. */
bool psw_bytelevel_decode(const char *s, size_t len, uint8_t **out, size_t *out_len,
                          size_t *out_cap);

uint64_t psw_bpe_hash(const void *data, size_t len);

/* Builds the vocabulary from parallel arrays of (string, length, id). Strings are copied.
 * Errors: PSW_ERR_FORMAT for a duplicate id (names it), PSW_ERR_NOMEM. */
psw_status psw_bpe_set_vocab(psw_bpe *bpe, const char *const *strs, const size_t *lens,
                             const int32_t *ids, size_t n, bool ignore_merges, psw_err *err);
/* Id of a vocabulary string, or -1. */
int32_t psw_bpe_lookup(const psw_bpe *bpe, const char *s, size_t len);
/* Adds merge (left, right) -> merged with the given rank; a repeated pair takes the later rank,
 * as HF's map does. Errors: PSW_ERR_NOMEM. */
psw_status psw_bpe_add_merge(psw_bpe *bpe, int32_t left, int32_t right, int32_t merged,
                             uint32_t rank, psw_err *err);
/* Prepares merge storage for n merges (call once before psw_bpe_add_merge). */
psw_status psw_bpe_reserve_merges(psw_bpe *bpe, size_t n, psw_err *err);
void psw_bpe_free(psw_bpe *bpe);

/* Word cache: raw pre-token bytes -> ids. Not thread-safe; the owner serialises access. */
typedef struct psw_bpe_cache psw_bpe_cache;
psw_bpe_cache *psw_bpe_cache_new(void);
void psw_bpe_cache_free(psw_bpe_cache *c);

/* Growable id output of an encode call. */
typedef struct psw_idvec {
    int32_t *ids;
    size_t n, cap;
} psw_idvec;
psw_status psw_idvec_push(psw_idvec *v, int32_t id, psw_err *err);

/* Per-call scratch space for the merge loop (reused across words). */
typedef struct psw_bpe_scratch {
    int32_t *sym, *nw, *prev, *next;
    uint32_t *rk;
    uint64_t *heap;
    size_t cap, heap_cap;
} psw_bpe_scratch;
void psw_bpe_scratch_free(psw_bpe_scratch *s);

/* Appends the ids of one word (len > 0 raw bytes) to out. cache may be NULL.
 * Errors: PSW_ERR_NOMEM. */
psw_status psw_bpe_word(const psw_bpe *bpe, psw_bpe_cache *cache, psw_bpe_scratch *scratch,
                        const uint8_t *w, size_t len, psw_idvec *out, psw_err *err);

#endif
