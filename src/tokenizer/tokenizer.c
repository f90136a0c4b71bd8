/* tokenizer.c: loading a HuggingFace tokenizer.json and the encode pipeline of HF tokenizers:
 * UTF-8 check -> added tokens (non-normalized set, then normalized set) -> Split pre-tokenizers
 * (PCRE2) -> ByteLevel (prefix space, optional GPT-2 regex) -> BPE. Decode maps ids back to
 * bytes with the ByteLevel decoder. docs/tokenizer.md lists what is supported. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/tokenizer.h"
#include "tokenizer/bpe.h"
#include "tokenizer/unicode16.h"

/* The regex of HF's ByteLevel pre-tokenizer when use_regex is true (GPT-2's). */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Largest id we accept: ids index dense tables. */
#define MAX_TOKEN_ID (1 << 26)

typedef enum behavior {
    BEH_REMOVED,
    BEH_ISOLATED,
    BEH_MERGED_PREV,
    BEH_MERGED_NEXT,
    BEH_CONTIGUOUS
} behavior;

typedef struct split_step {
    pcre2_code *re;
    behavior beh;
    bool invert;
} split_step;

typedef struct added_tok {
    char *content;
    size_t len;
    int32_t id;
    bool special, normalized;
} added_tok;

/* Tokens of one matching pass, grouped by first byte and longest first, so the first hit at
 * the leftmost position is HF's Aho-Corasick LeftmostLongest match. */
typedef struct match_set {
    size_t n;
    uint32_t *order;          /* indices into psw_tokenizer.added */
    uint32_t first_start[257]; /* bucket of first byte b: order[first_start[b] .. first_start[b+1]) */
} match_set;

struct psw_tokenizer {
    psw_bpe bpe;
    added_tok *added; /* HF order: special tokens, then the others */
    size_t n_added;
    match_set sets[2]; /* 0: normalized == false, 1: normalized == true */
    split_step *steps;
    size_t n_steps;
    size_t prefix_step; /* ByteLevel's add_prefix_space acts on pieces entering this step */
    bool add_prefix_space;
    size_t vocab_size;   /* one past the largest id */
    uint32_t *dec_off;   /* [vocab_size] into dec_arena */
    uint32_t *dec_len;   /* [vocab_size], UINT32_MAX = no token */
    uint8_t *dec_arena;
    pthread_mutex_t cache_lock; /* guards cache; encode uses it only when trylock succeeds */
    psw_bpe_cache *cache;
};

/* ---------------------------------------------------------------- UTF-8 */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), as Rust's str. */
static bool utf8_valid(const uint8_t *s, size_t len, size_t *bad) {
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;
                continue;
            }
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            min = 0x10000;
        } else {
            *bad = i;
            return false;
        }
        if (i + n > len) {
            *bad = i;
            return false;
        }
        uint32_t cp = c & (0x7Fu >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            *bad = i;
            return false;
        }
        i += n;
    }
    return true;
}

static size_t utf8_char_len(uint8_t c) {
    return c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* ---------------------------------------------------------------- encode */

typedef struct enc {
    const psw_tokenizer *tok;
    psw_bpe_cache *cache;
    psw_bpe_scratch scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* only when a match needed a bigger JIT stack */
    pcre2_jit_stack *jit_stack;
    psw_idvec out;
    psw_err *err;
} enc;

static psw_status pretok(enc *e, size_t step, const char *s, size_t len);

/* Streaming form of HF's SplitDelimiterBehavior over (piece, is_match) in order. */
typedef struct splitter {
    enc *e;
    size_t step;
    const char *s;
    behavior beh;
    bool have;      /* a pending piece */
    size_t ps, pe;  /* pending piece */
    bool prev_m;    /* is_match of the previous piece */
    bool lone_match; /* MergedWithNext: the pending piece is an unmerged match */
} splitter;

static psw_status emit(splitter *sp, size_t a, size_t b) {
    return pretok(sp->e, sp->step + 1, sp->s + a, b - a);
}

static psw_status flush(splitter *sp) {
    if (!sp->have) return PSW_OK;
    sp->have = false;
    return emit(sp, sp->ps, sp->pe);
}

static psw_status piece(splitter *sp, size_t a, size_t b, bool m) {
    psw_status st = PSW_OK;
    switch (sp->beh) {
    case BEH_ISOLATED:
        return emit(sp, a, b);
    case BEH_REMOVED:
        return m ? PSW_OK : emit(sp, a, b);
    case BEH_MERGED_PREV:
        /* A match joins the piece before it (unless that was a match too). */
        if (m && !sp->prev_m && sp->have) {
            sp->pe = b;
        } else {
            st = flush(sp);
            sp->have = true;
            sp->ps = a;
            sp->pe = b;
        }
        sp->prev_m = m;
        return st;
    case BEH_MERGED_NEXT:
        /* A match joins the piece after it, when that one is not a match. */
        if (sp->have && sp->lone_match && !m) {
            sp->pe = b;
            sp->lone_match = false;
        } else {
            st = flush(sp);
            sp->have = true;
            sp->ps = a;
            sp->pe = b;
            sp->lone_match = m;
        }
        return st;
    case BEH_CONTIGUOUS:
        if (sp->have && m == sp->prev_m) {
            sp->pe = b;
        } else {
            st = flush(sp);
            sp->have = true;
            sp->ps = a;
            sp->pe = b;
        }
        sp->prev_m = m;
        return st;
    }
    return st;
}

static psw_status regex_fail(enc *e, int rc, size_t len) {
    PCRE2_UCHAR msg[160];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0) strcpy((char *)msg, "unknown error");
    return PSW_FAIL(e->err, rc == PCRE2_ERROR_NOMEMORY ? PSW_ERR_NOMEM : PSW_ERR_INVALID_ARG,
                    "tokenizer: pre_tokenizer regex failed on a piece of %zu bytes: %s", len,
                    (const char *)msg);
}

static int run_match(enc *e, const pcre2_code *re, const char *s, size_t len, size_t start) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, e->md, e->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !e->jit_stack) {
        /* Rare (very long pieces): retry with a big JIT stack, kept for the rest of the call. */
        e->jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
        e->mctx = pcre2_match_context_create(NULL);
        if (!e->jit_stack || !e->mctx) return PCRE2_ERROR_NOMEMORY;
        pcre2_jit_stack_assign(e->mctx, NULL, e->jit_stack);
        rc = pcre2_match(re, (PCRE2_SPTR)s, len, start, PCRE2_NO_UTF_CHECK, e->md, e->mctx);
    }
    return rc;
}

/* HF's Split: the regex's matches and the gaps between them, found as onig's find_iter does
 * (an empty match right after the previous match is skipped by one character). */
static psw_status split(enc *e, size_t step, const char *s, size_t len) {
    const split_step *ss = &e->tok->steps[step];
    splitter sp = {.e = e, .step = step, .s = s, .beh = ss->beh};
    size_t last_end = 0, prev = 0, last_match_end = 0;
    bool any_match = false;
    psw_status st;
    while (last_end <= len) {
        int rc = run_match(e, ss->re, s, len, last_end);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) return regex_fail(e, rc, len);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t ms = ov[0], me = ov[1] < ov[0] ? ov[0] : ov[1];
        if (ms == me && any_match && last_match_end == me) {
            last_end += last_end < len ? utf8_char_len((uint8_t)s[last_end]) : 1;
            continue;
        }
        last_end = me;
        last_match_end = me;
        any_match = true;
        if (prev != ms && (st = piece(&sp, prev, ms, ss->invert))) return st;
        if ((st = piece(&sp, ms, me, !ss->invert))) return st;
        prev = me;
    }
    if (prev != len && (st = piece(&sp, prev, len, ss->invert))) return st;
    return flush(&sp);
}

static psw_status pretok(enc *e, size_t step, const char *s, size_t len) {
    if (len == 0) return PSW_OK; /* HF drops empty splits */
    const psw_tokenizer *t = e->tok;
    char *buf = NULL;
    if (step == t->prefix_step && t->add_prefix_space && s[0] != ' ') {
        buf = malloc(len + 1);
        if (!buf) return PSW_FAIL(e->err, PSW_ERR_NOMEM, "tokenizer: out of memory for a piece of %zu bytes", len);
        buf[0] = ' ';
        memcpy(buf + 1, s, len);
        s = buf;
        len++;
    }
    psw_status st;
    if (step == t->n_steps)
        st = psw_bpe_word(&t->bpe, e->cache, &e->scratch, (const uint8_t *)s, len, &e->out, e->err);
    else
        st = split(e, step, s, len);
    free(buf);
    return st;
}

/* Splits out the added tokens of set `level` (0, then 1), then pre-tokenizes the rest. */
static psw_status added_split(enc *e, int level, const char *s, size_t len) {
    if (len == 0) return PSW_OK;
    if (level == 2) return pretok(e, 0, s, len);
    const psw_tokenizer *t = e->tok;
    const match_set *ms = &t->sets[level];
    if (ms->n == 0) return added_split(e, level + 1, s, len);
    psw_status st;
    size_t start = 0, i = 0;
    const uint8_t *u = (const uint8_t *)s;
    while (i < len) {
        uint32_t a = ms->first_start[u[i]], b = ms->first_start[u[i] + 1];
        const added_tok *hit = NULL;
        for (uint32_t k = a; k < b; k++) {
            const added_tok *at = &t->added[ms->order[k]];
            if (at->len <= len - i && memcmp(s + i, at->content, at->len) == 0) {
                hit = at;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        if ((st = added_split(e, level + 1, s + start, i - start))) return st;
        if ((st = psw_idvec_push(&e->out, hit->id, e->err))) return st;
        i += hit->len;
        start = i;
    }
    return added_split(e, level + 1, s + start, len - start);
}

psw_status psw_tokenizer_encode(const psw_tokenizer *tok, const char *text, size_t len,
                                int32_t **ids, size_t *n_ids, psw_err *err) {
    *ids = NULL;
    *n_ids = 0;
    size_t bad = 0;
    if (!utf8_valid((const uint8_t *)text, len, &bad))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "tokenizer: input is not valid UTF-8 at byte offset %zu (byte 0x%02x)", bad,
                        (unsigned)(uint8_t)text[bad]);
    psw_tokenizer *mut = (psw_tokenizer *)tok; /* only the lock and the cache are written */
    enc e = {.tok = tok, .err = err};
    e.md = pcre2_match_data_create(1, NULL);
    if (!e.md) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for PCRE2 match data");
    bool locked = pthread_mutex_trylock(&mut->cache_lock) == 0;
    if (locked) {
        if (!mut->cache) mut->cache = psw_bpe_cache_new(); /* NULL: encode without a cache */
        e.cache = mut->cache;
    }
    psw_status st = added_split(&e, 0, text, len);
    if (locked) pthread_mutex_unlock(&mut->cache_lock);
    pcre2_match_data_free(e.md);
    pcre2_match_context_free(e.mctx);
    pcre2_jit_stack_free(e.jit_stack);
    psw_bpe_scratch_free(&e.scratch);
    if (st) {
        free(e.out.ids);
        return st;
    }
    *ids = e.out.ids ? e.out.ids : psw_xmalloc(sizeof(int32_t));
    *n_ids = e.out.n;
    return PSW_OK;
}

/* ---------------------------------------------------------------- decode */

psw_status psw_tokenizer_decode(const psw_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                char **text, size_t *len, psw_err *err) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (id < 0 || (size_t)id >= tok->vocab_size || tok->dec_len[id] == UINT32_MAX)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "tokenizer: id %d (position %zu) is not in the vocabulary (%zu ids)",
                            (int)id, i, tok->vocab_size);
        total += tok->dec_len[id];
    }
    char *out = psw_try_alloc(total + 1);
    if (!out) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory decoding %zu bytes", total);
    size_t pos = 0;
    for (size_t i = 0; i < n_ids; i++) {
        memcpy(out + pos, tok->dec_arena + tok->dec_off[ids[i]], tok->dec_len[ids[i]]);
        pos += tok->dec_len[ids[i]];
    }
    out[pos] = '\0';
    *text = out;
    *len = pos;
    return PSW_OK;
}

int32_t psw_tokenizer_token_to_id(const psw_tokenizer *tok, const char *token) {
    size_t len = strlen(token);
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].len == len && memcmp(tok->added[i].content, token, len) == 0)
            return tok->added[i].id;
    return psw_bpe_lookup(&tok->bpe, token, len);
}

size_t psw_tokenizer_vocab_size(const psw_tokenizer *tok) { return tok->vocab_size; }

/* ---------------------------------------------------------------- load */

void psw_tokenizer_free(psw_tokenizer *tok) {
    if (!tok) return;
    psw_bpe_free(&tok->bpe);
    for (size_t i = 0; i < tok->n_added; i++) free(tok->added[i].content);
    free(tok->added);
    for (int k = 0; k < 2; k++) free(tok->sets[k].order);
    for (size_t i = 0; i < tok->n_steps; i++) pcre2_code_free(tok->steps[i].re);
    free(tok->steps);
    free(tok->dec_off);
    free(tok->dec_len);
    free(tok->dec_arena);
    psw_bpe_cache_free(tok->cache);
    pthread_mutex_destroy(&tok->cache_lock);
    free(tok);
}

static bool is_null_or_absent(const cJSON *j) { return !j || cJSON_IsNull(j); }

/* Reads an optional boolean; absent or null gives def. False when present with another type. */
static bool opt_bool(const cJSON *obj, const char *key, bool def, bool *out) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (is_null_or_absent(j)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsBool(j)) return false;
    *out = cJSON_IsTrue(j);
    return true;
}

static const char *type_of(const cJSON *obj) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* HF runs Split regexes with Oniguruma, whose Unicode classes are not PCRE2's:
 *   onig \s = [\t\n\v\f\r\x{85}\p{Z}]   (PCRE2 also matches U+180E)
 *   onig \w = [\p{Alphabetic}\p{M}\p{Nd}\p{Pc}], plus the Latin-1 ¹ ² ³ ¼ ½ ¾ when \w stands
 *              outside a class (PCRE2 10.42: \p{L}, \p{N} and '_')
 *   onig \h = a hex digit                (PCRE2: horizontal space)
 *   \p{L}, \p{N}, \d, \w: Oniguruma knows Unicode 16, PCRE2 10.42 Unicode 14 (unicode16.h)
 * so these escapes are rewritten into explicit classes; each set was measured against HF over
 * every code point. A negated one (\S, \W, \H, \D, \P{L}, \P{N}) inside a character class has
 * no such spelling and is reported as unsupported. */
typedef struct onig_class {
    const char *esc, *neg;        /* spelling after the backslash, and of the negated form */
    const char *outside, *inside; /* class contents when the escape stands alone / in a class */
} onig_class;
#define ONIG_SPACE "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}"
#define ONIG_WORD "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}" U16_EXTRA_W
static const onig_class onig_classes[] = {
    {"s", "S", ONIG_SPACE, ONIG_SPACE},
    {"w", "W", ONIG_WORD "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}", ONIG_WORD},
    {"h", "H", "0-9a-fA-F", "0-9a-fA-F"},
    {"d", "D", "\\p{Nd}" U16_EXTRA_ND, "\\p{Nd}" U16_EXTRA_ND},
    {"p{L}", "P{L}", "\\p{L}" U16_EXTRA_L, "\\p{L}" U16_EXTRA_L},
    {"p{N}", "P{N}", "\\p{N}" U16_EXTRA_N, "\\p{N}" U16_EXTRA_N},
};

static void sb_put(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap) *cap = *cap ? *cap * 2 : 256;
        *buf = psw_xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static psw_status onig_to_pcre2(const char *path, const char *jpath, const char *p, char **out,
                                psw_err *err) {
    char *b = NULL;
    size_t len = 0, cap = 0, n = strlen(p);
    int depth = 0; /* character-class nesting */
    sb_put(&b, &len, &cap, "", 0);
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 'Q') { /* literal up to \\E */
                const char *e = strstr(p + i + 2, "\\E");
                size_t end = e ? (size_t)(e - p) + 2 : n;
                sb_put(&b, &len, &cap, p + i, end - i);
                i = end - 1;
                continue;
            }
            const onig_class *oc = NULL;
            bool neg = false;
            size_t el = 0;
            for (size_t k = 0; k < sizeof onig_classes / sizeof onig_classes[0] && !oc; k++) {
                const onig_class *c2 = &onig_classes[k];
                if (strncmp(p + i + 1, c2->esc, strlen(c2->esc)) == 0) {
                    oc = c2;
                    el = strlen(c2->esc);
                } else if (strncmp(p + i + 1, c2->neg, strlen(c2->neg)) == 0) {
                    oc = c2;
                    neg = true;
                    el = strlen(c2->neg);
                }
            }
            if (oc) {
                if (depth > 0 && neg) {
                    free(b);
                    return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                                    "%s: %s: \\%s inside a character class is not supported", path,
                                    jpath, oc->neg);
                }
                const char *set = depth == 0 ? oc->outside : oc->inside;
                if (depth == 0) sb_put(&b, &len, &cap, neg ? "[^" : "[", neg ? 2 : 1);
                sb_put(&b, &len, &cap, set, strlen(set));
                if (depth == 0) sb_put(&b, &len, &cap, "]", 1);
                i += el;
                continue;
            }
            sb_put(&b, &len, &cap, p + i, 2);
            i++;
            continue;
        }
        if (c == '[') {
            if (depth > 0 && i + 1 < n && p[i + 1] == ':') { /* POSIX [:name:] */
                const char *e = strstr(p + i + 2, ":]");
                size_t end = e ? (size_t)(e - p) + 2 : n;
                sb_put(&b, &len, &cap, p + i, end - i);
                i = end - 1;
                continue;
            }
            depth++;
            sb_put(&b, &len, &cap, p + i, 1);
            /* A ']' right after '[' or '[^' is a literal. */
            if (i + 1 < n && p[i + 1] == '^') sb_put(&b, &len, &cap, p + ++i, 1);
            if (i + 1 < n && p[i + 1] == ']') sb_put(&b, &len, &cap, p + ++i, 1);
            continue;
        }
        if (c == ']' && depth > 0) depth--;
        sb_put(&b, &len, &cap, p + i, 1);
    }
    *out = b;
    return PSW_OK;
}

static psw_status compile_regex(const char *path, const char *jpath, const char *pattern,
                                bool literal, pcre2_code **out, psw_err *err) {
    int ec;
    PCRE2_SIZE eo;
    char *translated = NULL;
    if (!literal) {
        psw_status st = onig_to_pcre2(path, jpath, pattern, &translated, err);
        if (st) return st;
        pattern = translated;
    }
    /* PCRE2_LITERAL allows UTF only (no UCP, no NEVER_BACKSLASH_C). \C (one code unit) could end a
     * match inside a UTF-8 character, which every later step assumes never happens: refused at
     * compile time. */
    uint32_t opts = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    free(translated);
    if (!re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) strcpy((char *)msg, "unknown error");
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: %s: PCRE2 cannot compile the regex at offset %zu: %s",
                        path, jpath, (size_t)eo, (const char *)msg);
    }
    /* JIT is an optimisation: without it pcre2_match interprets the same pattern. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    *out = re;
    return PSW_OK;
}

static psw_status add_step(psw_tokenizer *t, pcre2_code *re, behavior beh, bool invert) {
    t->steps = psw_xrealloc(t->steps, (t->n_steps + 1) * sizeof *t->steps);
    t->steps[t->n_steps++] = (split_step){.re = re, .beh = beh, .invert = invert};
    return PSW_OK;
}

static psw_status parse_one_pretok(psw_tokenizer *t, const char *path, const cJSON *pt,
                                   const char *jpath, bool *seen_bytelevel, psw_err *err) {
    if (!cJSON_IsObject(pt)) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s is not an object", path, jpath);
    const char *type = type_of(pt);
    if (!type) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s.type is missing or not a string", path, jpath);
    if (strcmp(type, "Split") == 0) {
        if (*seen_bytelevel)
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                            "%s: %s: a Split after ByteLevel is not supported", path, jpath);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern");
        const cJSON *rx = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (!cJSON_IsObject(pat) || (!cJSON_IsString(rx) && !cJSON_IsString(lit)))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s.pattern must be {\"Regex\": string} or {\"String\": string}",
                            path, jpath);
        const char *bs = NULL;
        const cJSON *bj = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
        if (cJSON_IsString(bj)) bs = bj->valuestring;
        static const char *names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                      "Contiguous"};
        int beh = -1;
        for (int k = 0; bs && k < 5; k++)
            if (strcmp(bs, names[k]) == 0) beh = k;
        if (beh < 0)
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s.behavior \"%s\" is not one of Removed, Isolated, "
                            "MergedWithPrevious, MergedWithNext, Contiguous", path, jpath, bs ? bs : "(missing)");
        bool invert;
        if (!opt_bool(pt, "invert", false, &invert))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s.invert is not a boolean", path, jpath);
        bool literal = !cJSON_IsString(rx);
        const char *p = literal ? lit->valuestring : rx->valuestring;
        if (p[0] == '\0')
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: %s.pattern is empty", path, jpath);
        char jp[160];
        snprintf(jp, sizeof jp, "%s.pattern.%s", jpath, literal ? "String" : "Regex");
        pcre2_code *re = NULL;
        psw_status st = compile_regex(path, jp, p, literal, &re, err);
        if (st) return st;
        return add_step(t, re, (behavior)beh, invert);
    }
    if (strcmp(type, "ByteLevel") == 0) {
        if (*seen_bytelevel)
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: %s: a second ByteLevel is not supported", path, jpath);
        *seen_bytelevel = true;
        bool aps, use_regex;
        if (!opt_bool(pt, "add_prefix_space", true, &aps) || !opt_bool(pt, "use_regex", true, &use_regex))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s.add_prefix_space / use_regex must be booleans",
                            path, jpath);
        t->add_prefix_space = aps;
        t->prefix_step = t->n_steps;
        if (use_regex) {
            pcre2_code *re = NULL;
            psw_status st = compile_regex(path, jpath, gpt2_regex, false, &re, err);
            if (st) return st;
            return add_step(t, re, BEH_ISOLATED, false);
        }
        return PSW_OK;
    }
    return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                    "%s: %s.type \"%s\" is not supported (only Split and ByteLevel)", path, jpath, type);
}

static psw_status parse_pretok(psw_tokenizer *t, const char *path, const cJSON *pt, psw_err *err) {
    if (is_null_or_absent(pt))
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                        "%s: pre_tokenizer is null: only byte-level BPE (with a ByteLevel pre-tokenizer) is supported",
                        path);
    bool seen = false;
    psw_status st;
    const char *type = cJSON_IsObject(pt) ? type_of(pt) : NULL;
    if (type && strcmp(type, "Sequence") == 0) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers");
        if (!cJSON_IsArray(arr))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: pre_tokenizer.pretokenizers is not an array", path);
        int i = 0;
        const cJSON *el;
        cJSON_ArrayForEach(el, arr) {
            char jp[64];
            snprintf(jp, sizeof jp, "pre_tokenizer.pretokenizers[%d]", i++);
            if ((st = parse_one_pretok(t, path, el, jp, &seen, err))) return st;
        }
    } else if ((st = parse_one_pretok(t, path, pt, "pre_tokenizer", &seen, err))) {
        return st;
    }
    if (!seen)
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                        "%s: pre_tokenizer has no ByteLevel step: only byte-level BPE is supported", path);
    return PSW_OK;
}

/* Strings of model.vocab are JSON object keys; cJSON gives them NUL-terminated. */
static psw_status parse_model(psw_tokenizer *t, const char *path, const cJSON *model, psw_err *err) {
    psw_status st = PSW_OK;
    const char **strs = NULL;
    size_t *lens = NULL;
    int32_t *ids = NULL;
    char *tmp = NULL;
    if (!cJSON_IsObject(model)) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model is missing or not an object", path);
    const char *type = type_of(model);
    if (!type) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.type is missing or not a string", path);
    if (strcmp(type, "BPE") != 0)
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: model.type \"%s\" is not supported (only BPE)", path, type);
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (!is_null_or_absent(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0.0))
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: model.dropout is set: BPE dropout is not supported", path);
    static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affixes[k]);
        if (is_null_or_absent(a) || (cJSON_IsString(a) && a->valuestring[0] == '\0')) continue;
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: model.%s is set: not supported", path, affixes[k]);
    }
    bool ignore_merges, byte_fallback;
    if (!opt_bool(model, "ignore_merges", false, &ignore_merges))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.ignore_merges is not a boolean", path);
    if (!opt_bool(model, "byte_fallback", false, &byte_fallback))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.byte_fallback is not a boolean", path);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (!is_null_or_absent(unk) && !cJSON_IsString(unk))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.unk_token is not a string", path);

    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsObject(vocab)) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.vocab is missing or not an object", path);
    size_t n = (size_t)cJSON_GetArraySize(vocab);
    strs = psw_try_alloc((n + 1) * sizeof *strs);
    lens = psw_try_alloc((n + 1) * sizeof *lens);
    ids = psw_try_alloc((n + 1) * sizeof *ids);
    if (!strs || !lens || !ids) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: model.vocab: out of memory for %zu entries", path, n);
        goto fail;
    }
    size_t i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, vocab) {
        double v = cJSON_IsNumber(el) ? el->valuedouble : -1.0;
        if (v < 0 || v > MAX_TOKEN_ID || v != (double)(int32_t)v) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.vocab[\"%.60s\"] is not an id in [0, %d]", path,
                          el->string, MAX_TOKEN_ID);
            goto fail;
        }
        strs[i] = el->string;
        lens[i] = strlen(el->string);
        ids[i] = (int32_t)v;
        i++;
    }
    psw_err verr = {0};
    if ((st = psw_bpe_set_vocab(&t->bpe, strs, lens, ids, n, ignore_merges, &verr))) {
        st = PSW_FAIL(err, st, "%s: %s", path, verr.msg);
        goto fail;
    }

    /* unk_token and byte_fallback only act on a character missing from the vocabulary; in
     * byte-level BPE every character is one of the 256 byte symbols. */
    bool all_bytes = true;
    for (int b = 0; b < 256; b++) all_bytes &= t->bpe.byte_id[b] >= 0;
    if (!all_bytes && (byte_fallback || cJSON_IsString(unk))) {
        st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: model.%s with a vocabulary lacking byte-level symbols is not supported",
                      path, byte_fallback ? "byte_fallback" : "unk_token");
        goto fail;
    }

    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.merges is missing or not an array", path);
        goto fail;
    }
    size_t nm = (size_t)cJSON_GetArraySize(merges);
    if ((st = psw_bpe_reserve_merges(&t->bpe, nm, err))) goto fail;
    size_t idx = 0, tmp_cap = 0;
    uint32_t rank = 0;
    cJSON_ArrayForEach(el, merges) {
        const char *a, *b;
        size_t al, bl;
        if (cJSON_IsString(el)) {
            const char *s = el->valuestring;
            if (strncmp(s, "#version", 8) == 0) { /* HF skips these lines of merges.txt */
                idx++;
                continue;
            }
            const char *sp = strchr(s, ' ');
            if (!sp || strchr(sp + 1, ' ')) {
                st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.merges[%zu] \"%.60s\" is not two tokens separated by one space",
                              path, idx, s);
                goto fail;
            }
            a = s;
            al = (size_t)(sp - s);
            b = sp + 1;
            bl = strlen(b);
        } else if (cJSON_IsArray(el) && cJSON_GetArraySize(el) == 2 &&
                   cJSON_IsString(cJSON_GetArrayItem(el, 0)) && cJSON_IsString(cJSON_GetArrayItem(el, 1))) {
            a = cJSON_GetArrayItem(el, 0)->valuestring;
            b = cJSON_GetArrayItem(el, 1)->valuestring;
            al = strlen(a);
            bl = strlen(b);
        } else {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", path, idx);
            goto fail;
        }
        int32_t ia = psw_bpe_lookup(&t->bpe, a, al), ib = psw_bpe_lookup(&t->bpe, b, bl);
        if (ia < 0 || ib < 0) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.merges[%zu]: token \"%.*s\" is not in model.vocab", path,
                          idx, (int)(ia < 0 ? (al > 60 ? 60 : al) : (bl > 60 ? 60 : bl)), ia < 0 ? a : b);
            goto fail;
        }
        if (al + bl + 1 > tmp_cap) {
            tmp_cap = 2 * (al + bl + 1);
            tmp = psw_xrealloc(tmp, tmp_cap);
        }
        memcpy(tmp, a, al);
        memcpy(tmp + al, b, bl);
        int32_t im = psw_bpe_lookup(&t->bpe, tmp, al + bl);
        if (im < 0) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: model.merges[%zu]: merged token \"%.*s\" is not in model.vocab",
                          path, idx, (int)(al + bl > 60 ? 60 : al + bl), tmp);
            goto fail;
        }
        if ((st = psw_bpe_add_merge(&t->bpe, ia, ib, im, rank++, err))) goto fail;
        idx++;
    }
fail:
    free(strs);
    free(lens);
    free(ids);
    free(tmp);
    return st;
}

static int32_t added_lookup(const psw_tokenizer *t, const char *s, size_t len) {
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].len == len && memcmp(t->added[i].content, s, len) == 0) return t->added[i].id;
    return -1;
}

/* Bucket order: by first byte, longest first; equal first byte and length keep HF's pattern
 * order (the earlier pattern wins a tie). */
static bool order_before(const added_tok *tk, uint32_t x, uint32_t y) {
    const added_tok *a = &tk[x], *b = &tk[y];
    uint8_t fa = (uint8_t)a->content[0], fb = (uint8_t)b->content[0];
    if (fa != fb) return fa < fb;
    if (a->len != b->len) return a->len > b->len;
    return x < y;
}

static psw_status parse_added(psw_tokenizer *t, const char *path, const cJSON *arr, psw_err *err) {
    if (is_null_or_absent(arr)) return PSW_OK;
    if (!cJSON_IsArray(arr)) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: added_tokens is not an array", path);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    size_t i = 0;
    psw_status st = PSW_OK;
    const cJSON *el;
    /* HF (tokenizers 0.22) adds the file's tokens as one batch in file order: a content already
     * known (added before, or in the model vocabulary) keeps that id; each new one takes the
     * next id counting from the model vocabulary's entry count. */
    int32_t next_id = (int32_t)t->bpe.n_entries;
    t->added = psw_xcalloc(n + 1, sizeof *t->added);
    cJSON_ArrayForEach(el, arr) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(el, "content");
        const cJSON *idj = cJSON_GetObjectItemCaseSensitive(el, "id");
        if (!cJSON_IsObject(el) || !cJSON_IsString(c) || !cJSON_IsNumber(idj) || idj->valuedouble < 0 ||
            idj->valuedouble > MAX_TOKEN_ID) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: added_tokens[%zu] needs a string \"content\" and an id in [0, %d]",
                          path, i, MAX_TOKEN_ID);
            goto fail;
        }
        bool single_word, lstrip, rstrip, normalized, special;
        if (!opt_bool(el, "single_word", false, &single_word) || !opt_bool(el, "lstrip", false, &lstrip) ||
            !opt_bool(el, "rstrip", false, &rstrip) || !opt_bool(el, "normalized", true, &normalized) ||
            !opt_bool(el, "special", false, &special)) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: added_tokens[%zu]: a flag is not a boolean", path, i);
            goto fail;
        }
        const char *feature = single_word ? "single_word" : lstrip ? "lstrip" : rstrip ? "rstrip" : NULL;
        if (feature) {
            st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: added_tokens[%zu] \"%.60s\": %s is not supported", path, i,
                          c->valuestring, feature);
            goto fail;
        }
        size_t len = strlen(c->valuestring);
        i++;
        if (len == 0) continue; /* HF ignores empty tokens */
        int32_t id = added_lookup(t, c->valuestring, len);
        if (id < 0) id = psw_bpe_lookup(&t->bpe, c->valuestring, len);
        if (id < 0) id = next_id++;
        if (id != (int32_t)idj->valuedouble)
            PSW_LOG_WARN("%s: added token \"%s\" has id %d in the file; HF tokenizers gives it %d, and so do we",
                         path, c->valuestring, (int)idj->valuedouble, (int)id);
        /* Record in the id map (a repeated content overwrites, as HF's map does). */
        size_t k;
        for (k = 0; k < t->n_added; k++)
            if (t->added[k].len == len && memcmp(t->added[k].content, c->valuestring, len) == 0) break;
        if (k == t->n_added) {
            t->added[k].content = psw_xstrdup(c->valuestring);
            t->added[k].len = len;
            t->n_added++;
        }
        t->added[k].id = id;
        t->added[k].special = special;
        t->added[k].normalized = normalized;
    }
    /* Matching order: special tokens first, then the others (HF's refresh_added_tokens). Token
     * ids and flags are those of the map; the order matters only for equal-length ties. */
    {
        added_tok *ordered = psw_xcalloc(t->n_added + 1, sizeof *ordered);
        size_t m = 0;
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = 0; k < t->n_added; k++)
                if (t->added[k].special == (pass == 0)) ordered[m++] = t->added[k];
        free(t->added);
        t->added = ordered;
    }
    for (int set = 0; set < 2; set++) {
        match_set *ms = &t->sets[set];
        ms->order = psw_xcalloc(t->n_added + 1, sizeof *ms->order);
        ms->n = 0;
        for (size_t k = 0; k < t->n_added; k++)
            if (t->added[k].normalized == (set == 1)) ms->order[ms->n++] = (uint32_t)k;
        /* Insertion sort: a few hundred tokens at most, once per load. */
        for (size_t k = 1; k < ms->n; k++) {
            uint32_t v = ms->order[k];
            size_t j = k;
            for (; j > 0 && order_before(t->added, v, ms->order[j - 1]); j--) ms->order[j] = ms->order[j - 1];
            ms->order[j] = v;
        }
        uint32_t counts[256] = {0};
        for (size_t k = 0; k < ms->n; k++) counts[(uint8_t)t->added[ms->order[k]].content[0]]++;
        ms->first_start[0] = 0;
        for (int b = 0; b < 256; b++) ms->first_start[b + 1] = ms->first_start[b] + counts[b];
    }
fail:
    return st;
}

static psw_status build_decode_table(psw_tokenizer *t, psw_err *err) {
    size_t vs = (size_t)(t->bpe.max_id + 1);
    for (size_t k = 0; k < t->n_added; k++)
        if ((size_t)t->added[k].id + 1 > vs) vs = (size_t)t->added[k].id + 1;
    t->vocab_size = vs;
    t->dec_off = psw_try_alloc((vs + 1) * sizeof *t->dec_off);
    t->dec_len = psw_try_alloc((vs + 1) * sizeof *t->dec_len);
    if (!t->dec_off || !t->dec_len)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for a decode table of %zu ids", vs);
    uint8_t *arena = NULL;
    size_t alen = 0, acap = 0;
    for (size_t id = 0; id < vs; id++) {
        t->dec_len[id] = UINT32_MAX;
        t->dec_off[id] = 0;
        if ((int32_t)id <= t->bpe.max_id && t->bpe.str_len[id] != UINT32_MAX) {
            size_t before = alen;
            psw_bytelevel_decode(t->bpe.str_arena + t->bpe.str_off[id], t->bpe.str_len[id], &arena, &alen, &acap);
            t->dec_off[id] = (uint32_t)before;
            t->dec_len[id] = (uint32_t)(alen - before);
        }
    }
    /* An added token's content wins over the model's string for its id (HF's id_to_token). */
    for (size_t k = 0; k < t->n_added; k++) {
        size_t before = alen;
        psw_bytelevel_decode(t->added[k].content, t->added[k].len, &arena, &alen, &acap);
        t->dec_off[t->added[k].id] = (uint32_t)before;
        t->dec_len[t->added[k].id] = (uint32_t)(alen - before);
    }
    t->dec_arena = arena ? arena : psw_xmalloc(1);
    return PSW_OK;
}

psw_status psw_tokenizer_load(const char *path, psw_tokenizer **out, psw_err *err) {
    *out = NULL;
    char *buf = NULL;
    size_t blen = 0;
    cJSON *root = NULL;
    psw_tokenizer *t = NULL;
    psw_status st = psw_read_file(path, &buf, &blen, err);
    if (st) return st;
    root = cJSON_ParseWithLength(buf, blen);
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        size_t off = ep && ep >= buf && ep <= buf + blen ? (size_t)(ep - buf) : 0;
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not valid JSON (near byte %zu)", path, off);
        goto fail;
    }
    if (!cJSON_IsObject(root)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: the top level is not a JSON object", path);
        goto fail;
    }
    t = psw_xcalloc(1, sizeof *t);
    t->bpe.max_id = -1;
    pthread_mutex_init(&t->cache_lock, NULL);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (ver && !(cJSON_IsString(ver) && strcmp(ver->valuestring, "1.0") == 0)) {
        st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: version is not \"1.0\"", path);
        goto fail;
    }
    static const char *unsupported_if_set[] = {"truncation", "padding", "normalizer"};
    for (int k = 0; k < 3; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, unsupported_if_set[k]);
        if (is_null_or_absent(j)) continue;
        const char *type = cJSON_IsObject(j) ? type_of(j) : NULL;
        st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: %s%s%s%s is set: not supported (only null)", path,
                      unsupported_if_set[k], type ? " \"" : "", type ? type : "", type ? "\"" : "");
        goto fail;
    }
    if ((st = parse_model(t, path, cJSON_GetObjectItemCaseSensitive(root, "model"), err))) goto fail;
    if ((st = parse_pretok(t, path, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), err))) goto fail;
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *dtype = cJSON_IsObject(dec) ? type_of(dec) : NULL;
    if (!dtype || strcmp(dtype, "ByteLevel") != 0) {
        st = PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: decoder %s%s%s is not supported (only ByteLevel)", path,
                      dtype ? "\"" : "", dtype ? dtype : "null", dtype ? "\"" : "");
        goto fail;
    }
    /* post_processor only adds special tokens (never asked for) or adjusts offsets (not
     * computed), so any is accepted. */
    if ((st = parse_added(t, path, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), err))) goto fail;
    if ((st = build_decode_table(t, err))) goto fail;
    cJSON_Delete(root);
    free(buf);
    *out = t;
    return PSW_OK;
fail:
    cJSON_Delete(root);
    free(buf);
    psw_tokenizer_free(t);
    return st;
}
