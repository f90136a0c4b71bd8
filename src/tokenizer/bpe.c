/* bpe.c: byte-level BPE model: hash maps, merge loop (array scan for short words, binary heap
 * for long ones) and the word cache. See bpe.h. */
#include "tokenizer/bpe.h"

#include <stdlib.h>
#include <string.h>

const uint16_t psw_bytelevel_char[256] = {
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106, 0x107, 0x108, 0x109, 0x10a, 0x10b,
    0x10c, 0x10d, 0x10e, 0x10f, 0x110, 0x111, 0x112, 0x113, 0x114, 0x115, 0x116, 0x117,
    0x118, 0x119, 0x11a, 0x11b, 0x11c, 0x11d, 0x11e, 0x11f, 0x120, 0x021, 0x022, 0x023,
    0x024, 0x025, 0x026, 0x027, 0x028, 0x029, 0x02a, 0x02b, 0x02c, 0x02d, 0x02e, 0x02f,
    0x030, 0x031, 0x032, 0x033, 0x034, 0x035, 0x036, 0x037, 0x038, 0x039, 0x03a, 0x03b,
    0x03c, 0x03d, 0x03e, 0x03f, 0x040, 0x041, 0x042, 0x043, 0x044, 0x045, 0x046, 0x047,
    0x048, 0x049, 0x04a, 0x04b, 0x04c, 0x04d, 0x04e, 0x04f, 0x050, 0x051, 0x052, 0x053,
    0x054, 0x055, 0x056, 0x057, 0x058, 0x059, 0x05a, 0x05b, 0x05c, 0x05d, 0x05e, 0x05f,
    0x060, 0x061, 0x062, 0x063, 0x064, 0x065, 0x066, 0x067, 0x068, 0x069, 0x06a, 0x06b,
    0x06c, 0x06d, 0x06e, 0x06f, 0x070, 0x071, 0x072, 0x073, 0x074, 0x075, 0x076, 0x077,
    0x078, 0x079, 0x07a, 0x07b, 0x07c, 0x07d, 0x07e, 0x121, 0x122, 0x123, 0x124, 0x125,
    0x126, 0x127, 0x128, 0x129, 0x12a, 0x12b, 0x12c, 0x12d, 0x12e, 0x12f, 0x130, 0x131,
    0x132, 0x133, 0x134, 0x135, 0x136, 0x137, 0x138, 0x139, 0x13a, 0x13b, 0x13c, 0x13d,
    0x13e, 0x13f, 0x140, 0x141, 0x142, 0x0a1, 0x0a2, 0x0a3, 0x0a4, 0x0a5, 0x0a6, 0x0a7,
    0x0a8, 0x0a9, 0x0aa, 0x0ab, 0x0ac, 0x143, 0x0ae, 0x0af, 0x0b0, 0x0b1, 0x0b2, 0x0b3,
    0x0b4, 0x0b5, 0x0b6, 0x0b7, 0x0b8, 0x0b9, 0x0ba, 0x0bb, 0x0bc, 0x0bd, 0x0be, 0x0bf,
    0x0c0, 0x0c1, 0x0c2, 0x0c3, 0x0c4, 0x0c5, 0x0c6, 0x0c7, 0x0c8, 0x0c9, 0x0ca, 0x0cb,
    0x0cc, 0x0cd, 0x0ce, 0x0cf, 0x0d0, 0x0d1, 0x0d2, 0x0d3, 0x0d4, 0x0d5, 0x0d6, 0x0d7,
    0x0d8, 0x0d9, 0x0da, 0x0db, 0x0dc, 0x0dd, 0x0de, 0x0df, 0x0e0, 0x0e1, 0x0e2, 0x0e3,
    0x0e4, 0x0e5, 0x0e6, 0x0e7, 0x0e8, 0x0e9, 0x0ea, 0x0eb, 0x0ec, 0x0ed, 0x0ee, 0x0ef,
    0x0f0, 0x0f1, 0x0f2, 0x0f3, 0x0f4, 0x0f5, 0x0f6, 0x0f7, 0x0f8, 0x0f9, 0x0fa, 0x0fb,
    0x0fc, 0x0fd, 0x0fe, 0x0ff,
};

int psw_bytelevel_byte(uint32_t cp) {
    /* Printable Latin-1 bytes stand for themselves; the rest (0-32, 127-160, 173, in order)
     * were moved to 256 + their index. */
    if ((cp >= 33 && cp <= 126) || (cp >= 161 && cp <= 172) || (cp >= 174 && cp <= 255))
        return (int)cp;
    if (cp < 256 || cp >= PSW_BYTELEVEL_MAX_CP) return -1;
    uint32_t k = cp - 256;
    if (k <= 32) return (int)k;
    if (k <= 66) return (int)(127 + (k - 33));
    return 173;
}

/* Next code point of valid-or-not UTF-8 (file strings come from cJSON, which accepts what it
 * is given); returns the byte count, 1 for a stray byte (cp = 0xFFFFFFFF). */
static size_t utf8_next(const uint8_t *s, size_t len, uint32_t *cp) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (n == 0 || n > len) {
        *cp = 0xFFFFFFFFu;
        return 1;
    }
    uint32_t v = c & (0x3Fu >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFFFFFFu;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    *cp = v;
    return n;
}

bool psw_bytelevel_decode(const char *s, size_t len, uint8_t **out, size_t *out_len,
                          size_t *out_cap) {
    if (*out_len + len > *out_cap) {
        size_t cap = *out_cap ? *out_cap : 64;
        while (cap < *out_len + len) cap *= 2;
        *out = psw_xrealloc(*out, cap);
        *out_cap = cap;
    }
    const uint8_t *u = (const uint8_t *)s;
    size_t start = *out_len, i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = utf8_next(u + i, len - i, &cp);
        int b = cp == 0xFFFFFFFFu ? -1 : psw_bytelevel_byte(cp);
        if (b < 0) {
            /* Not a byte-level string: HF keeps the token's own bytes. A decoded prefix is never
             * longer than the source, so the space reserved above suffices. */
            memcpy(*out + start, s, len);
            *out_len = start + len;
            return false;
        }
        (*out)[(*out_len)++] = (uint8_t)b;
        i += k;
    }
    return true;
}

uint64_t psw_bpe_hash(const void *data, size_t len) {
    /* 64-bit FNV-1a with a final mix: words are short, so byte-at-a-time is fine. */
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

/* ---- string maps (keys resolved through the per-id offset/length tables) ---- */

static psw_status strmap_init(psw_strmap *m, size_t n, psw_err *err) {
    m->cap = pow2_at_least(n * 2 + 1);
    m->count = 0;
    m->slots = psw_try_alloc(m->cap * sizeof *m->slots);
    if (!m->slots) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for a map of %zu entries", n);
    memset(m->slots, 0xff, m->cap * sizeof *m->slots);
    return PSW_OK;
}

static int32_t strmap_find(const psw_strmap *m, const void *arena, const uint32_t *off,
                           const uint32_t *lens, const void *key, size_t len) {
    if (!m->slots) return -1;
    size_t mask = m->cap - 1, i = (size_t)psw_bpe_hash(key, len) & mask;
    for (;;) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (lens[id] == len && memcmp((const char *)arena + off[id], key, len) == 0) return id;
        i = (i + 1) & mask;
    }
}

/* Inserts id unless the key is present; returns the id that holds the key afterwards. */
static int32_t strmap_insert(psw_strmap *m, const void *arena, const uint32_t *off,
                             const uint32_t *lens, int32_t id) {
    const void *key = (const char *)arena + off[id];
    size_t len = lens[id];
    size_t mask = m->cap - 1, i = (size_t)psw_bpe_hash(key, len) & mask;
    for (;;) {
        int32_t cur = m->slots[i];
        if (cur < 0) {
            m->slots[i] = id;
            m->count++;
            return id;
        }
        if (lens[cur] == len && memcmp((const char *)arena + off[cur], key, len) == 0) return cur;
        i = (i + 1) & mask;
    }
}

psw_status psw_bpe_set_vocab(psw_bpe *bpe, const char *const *strs, const size_t *lens,
                             const int32_t *ids, size_t n, bool ignore_merges, psw_err *err) {
    int32_t max_id = -1;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] > max_id) max_id = ids[i];
        total += lens[i];
    }
    if (total >= UINT32_MAX) return PSW_FAIL(err, PSW_ERR_FORMAT, "model.vocab: strings too large");
    bpe->max_id = max_id;
    bpe->n_entries = n;
    bpe->ignore_merges = ignore_merges;
    size_t nid = (size_t)max_id + 1;
    bpe->str_off = psw_try_alloc((nid + 1) * sizeof(uint32_t));
    bpe->str_len = psw_try_alloc((nid + 1) * sizeof(uint32_t));
    bpe->raw_off = psw_try_alloc((nid + 1) * sizeof(uint32_t));
    bpe->raw_len = psw_try_alloc((nid + 1) * sizeof(uint32_t));
    bpe->raw_clean = psw_try_alloc(nid + 1);
    bpe->str_arena = psw_try_alloc(total + 1);
    if (!bpe->str_off || !bpe->str_len || !bpe->raw_off || !bpe->raw_len || !bpe->raw_clean ||
        !bpe->str_arena)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "model.vocab: out of memory for %zu entries", n);
    for (size_t i = 0; i < nid; i++) {
        bpe->str_len[i] = UINT32_MAX;
        bpe->raw_len[i] = 0;
        bpe->raw_off[i] = 0;
        bpe->raw_clean[i] = false;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (bpe->str_len[id] != UINT32_MAX)
            return PSW_FAIL(err, PSW_ERR_FORMAT, "model.vocab: id %d is given to \"%.*s\" and \"%.*s\"",
                            (int)id, (int)(bpe->str_len[id] > 60 ? 60 : bpe->str_len[id]),
                            bpe->str_arena + bpe->str_off[id], (int)(lens[i] > 60 ? 60 : lens[i]),
                            strs[i]);
        memcpy(bpe->str_arena + pos, strs[i], lens[i]);
        bpe->str_off[id] = (uint32_t)pos;
        bpe->str_len[id] = (uint32_t)lens[i];
        pos += lens[i];
    }
    bpe->str_arena_len = pos;
    psw_status st = strmap_init(&bpe->vocab, n, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++)
        strmap_insert(&bpe->vocab, bpe->str_arena, bpe->str_off, bpe->str_len, ids[i]);

    /* Raw bytes of every entry (never longer than the string). */
    uint8_t *raw = NULL;
    size_t raw_len = 0, raw_cap = 0;
    for (size_t id = 0; id < nid; id++) {
        if (bpe->str_len[id] == UINT32_MAX) continue;
        size_t before = raw_len;
        bpe->raw_clean[id] = psw_bytelevel_decode(bpe->str_arena + bpe->str_off[id],
                                                  bpe->str_len[id], &raw, &raw_len, &raw_cap);
        bpe->raw_off[id] = (uint32_t)before;
        bpe->raw_len[id] = (uint32_t)(raw_len - before);
    }
    bpe->raw_arena = raw ? raw : psw_xmalloc(1);
    if (ignore_merges) {
        st = strmap_init(&bpe->raw, n, err);
        if (st) return st;
        for (size_t id = 0; id < nid; id++)
            if (bpe->raw_clean[id])
                strmap_insert(&bpe->raw, bpe->raw_arena, bpe->raw_off, bpe->raw_len, (int32_t)id);
    }

    for (int b = 0; b < 256; b++) {
        char u[3];
        uint16_t cp = psw_bytelevel_char[b];
        size_t ul;
        if (cp < 0x80) {
            u[0] = (char)cp;
            ul = 1;
        } else {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            ul = 2;
        }
        bpe->byte_id[b] = psw_bpe_lookup(bpe, u, ul);
    }
    return PSW_OK;
}

int32_t psw_bpe_lookup(const psw_bpe *bpe, const char *s, size_t len) {
    return strmap_find(&bpe->vocab, bpe->str_arena, bpe->str_off, bpe->str_len, s, len);
}

/* ---- merges ---- */

static inline size_t merge_slot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}

psw_status psw_bpe_reserve_merges(psw_bpe *bpe, size_t n, psw_err *err) {
    bpe->mcap = pow2_at_least(n * 2 + 1);
    bpe->mcount = 0;
    bpe->mkey = psw_try_alloc(bpe->mcap * sizeof *bpe->mkey);
    bpe->mrank = psw_try_alloc(bpe->mcap * sizeof *bpe->mrank);
    bpe->mnew = psw_try_alloc(bpe->mcap * sizeof *bpe->mnew);
    if (!bpe->mkey || !bpe->mrank || !bpe->mnew)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "model.merges: out of memory for %zu merges", n);
    memset(bpe->mkey, 0xff, bpe->mcap * sizeof *bpe->mkey);
    return PSW_OK;
}

psw_status psw_bpe_add_merge(psw_bpe *bpe, int32_t left, int32_t right, int32_t merged,
                             uint32_t rank, psw_err *err) {
    PSW_ASSERT(bpe->mkey && bpe->mcount * 2 < bpe->mcap);
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t mask = bpe->mcap - 1, i = merge_slot(key, mask);
    while (bpe->mkey[i] != UINT64_MAX && bpe->mkey[i] != key) i = (i + 1) & mask;
    if (bpe->mkey[i] == UINT64_MAX) bpe->mcount++;
    bpe->mkey[i] = key;
    bpe->mrank[i] = rank;
    bpe->mnew[i] = merged;
    return PSW_OK;
}

/* Rank of the pair, UINT32_MAX when there is no merge; *merged gets the result id. */
static inline uint32_t merge_find(const psw_bpe *bpe, int32_t left, int32_t right,
                                  int32_t *merged) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    size_t mask = bpe->mcap - 1, i = merge_slot(key, mask);
    for (;;) {
        uint64_t k = bpe->mkey[i];
        if (k == key) {
            *merged = bpe->mnew[i];
            return bpe->mrank[i];
        }
        if (k == UINT64_MAX) return UINT32_MAX;
        i = (i + 1) & mask;
    }
}

void psw_bpe_free(psw_bpe *bpe) {
    if (!bpe) return;
    free(bpe->str_off);
    free(bpe->str_len);
    free(bpe->str_arena);
    free(bpe->vocab.slots);
    free(bpe->raw_off);
    free(bpe->raw_len);
    free(bpe->raw_clean);
    free(bpe->raw_arena);
    free(bpe->raw.slots);
    free(bpe->mkey);
    free(bpe->mrank);
    free(bpe->mnew);
    memset(bpe, 0, sizeof *bpe);
}

/* ---- output and scratch ---- */

psw_status psw_idvec_push(psw_idvec *v, int32_t id, psw_err *err) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        int32_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for %zu ids", cap);
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
    return PSW_OK;
}

void psw_bpe_scratch_free(psw_bpe_scratch *s) {
    free(s->sym);
    free(s->nw);
    free(s->prev);
    free(s->next);
    free(s->rk);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

static psw_status scratch_reserve(psw_bpe_scratch *s, size_t n, psw_err *err) {
    if (n <= s->cap) return PSW_OK;
    size_t cap = pow2_at_least(n);
    int32_t *sym = realloc(s->sym, cap * sizeof *sym);
    if (sym) s->sym = sym;
    int32_t *nw = realloc(s->nw, cap * sizeof *nw);
    if (nw) s->nw = nw;
    int32_t *prev = realloc(s->prev, cap * sizeof *prev);
    if (prev) s->prev = prev;
    int32_t *next = realloc(s->next, cap * sizeof *next);
    if (next) s->next = next;
    uint32_t *rk = realloc(s->rk, cap * sizeof *rk);
    if (rk) s->rk = rk;
    if (!sym || !nw || !prev || !next || !rk)
        return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for a word of %zu bytes", n);
    s->cap = cap;
    return PSW_OK;
}

/* ---- word cache ---- */

#define CACHE_SLOTS (1u << 16)
#define CACHE_MAX_ENTRIES (CACHE_SLOTS / 2)
#define CACHE_MAX_KEY 64
#define CACHE_KEY_ARENA (CACHE_MAX_ENTRIES * 16u)
#define CACHE_ID_ARENA (CACHE_MAX_ENTRIES * 8u)

struct psw_bpe_cache {
    uint64_t hash[CACHE_SLOTS]; /* 0 = empty */
    uint32_t key_off[CACHE_SLOTS], ids_off[CACHE_SLOTS];
    uint8_t key_len[CACHE_SLOTS], ids_n[CACHE_SLOTS];
    size_t count, keys_used, ids_used;
    uint8_t keys[CACHE_KEY_ARENA];
    int32_t ids[CACHE_ID_ARENA];
};

psw_bpe_cache *psw_bpe_cache_new(void) {
    psw_bpe_cache *c = psw_try_alloc(sizeof *c);
    if (!c) return NULL;
    memset(c->hash, 0, sizeof c->hash);
    c->count = c->keys_used = c->ids_used = 0;
    return c;
}

void psw_bpe_cache_free(psw_bpe_cache *c) { free(c); }

static void cache_put(psw_bpe_cache *c, uint64_t h, const uint8_t *w, size_t len,
                      const int32_t *ids, size_t n) {
    if (n > 255) return;
    if (c->count >= CACHE_MAX_ENTRIES || c->keys_used + len > CACHE_KEY_ARENA ||
        c->ids_used + n > CACHE_ID_ARENA) {
        /* Full: start over (cheap, and the frequent words come back at once). */
        memset(c->hash, 0, sizeof c->hash);
        c->count = c->keys_used = c->ids_used = 0;
    }
    size_t i = (size_t)h & (CACHE_SLOTS - 1);
    while (c->hash[i]) i = (i + 1) & (CACHE_SLOTS - 1);
    c->hash[i] = h;
    c->key_off[i] = (uint32_t)c->keys_used;
    c->key_len[i] = (uint8_t)len;
    memcpy(c->keys + c->keys_used, w, len);
    c->keys_used += len;
    c->ids_off[i] = (uint32_t)c->ids_used;
    c->ids_n[i] = (uint8_t)n;
    memcpy(c->ids + c->ids_used, ids, n * sizeof *ids);
    c->ids_used += n;
    c->count++;
}

/* ---- merge loop ---- */

/* Short words: ranks of adjacent pairs in an array; each step takes the leftmost pair of lowest
 * rank, which is the order of HF's heap (rank, then position). */
static size_t merge_small(const psw_bpe *bpe, int32_t *sym, uint32_t *rk, int32_t *nw, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) rk[i] = merge_find(bpe, sym[i], sym[i + 1], &nw[i]);
    while (n > 1) {
        uint32_t best = UINT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < n; i++)
            if (rk[i] < best) {
                best = rk[i];
                bi = i;
            }
        if (best == UINT32_MAX) break;
        sym[bi] = nw[bi];
        /* Remove symbol bi+1 and pair bi+1. */
        memmove(sym + bi + 1, sym + bi + 2, (n - bi - 2) * sizeof *sym);
        if (bi + 2 < n) {
            memmove(rk + bi + 1, rk + bi + 2, (n - bi - 3) * sizeof *rk);
            memmove(nw + bi + 1, nw + bi + 2, (n - bi - 3) * sizeof *nw);
        }
        n--;
        if (bi > 0) rk[bi - 1] = merge_find(bpe, sym[bi - 1], sym[bi], &nw[bi - 1]);
        if (bi + 1 < n) rk[bi] = merge_find(bpe, sym[bi], sym[bi + 1], &nw[bi]);
    }
    return n;
}

static void heap_push(uint64_t *h, size_t *n, uint64_t v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= v) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

/* Long words: linked list of symbols and a min-heap of (rank, position); stale entries are
 * skipped when popped, as HF does. Pairs are keyed rank << 32 | position, so ties go left. */
static psw_status merge_large(const psw_bpe *bpe, psw_bpe_scratch *s, size_t n, psw_err *err) {
    size_t need = 2 * n + 8;
    if (s->heap_cap < need) {
        uint64_t *h = realloc(s->heap, need * sizeof *h);
        if (!h) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for a word of %zu symbols", n);
        s->heap = h;
        s->heap_cap = need;
    }
    int32_t *sym = s->sym, *prev = s->prev, *next = s->next;
    uint64_t *heap = s->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    int32_t dummy = -1;
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t r = merge_find(bpe, sym[i], sym[i + 1], &dummy);
        if (r != UINT32_MAX) heap_push(heap, &hn, ((uint64_t)r << 32) | i);
    }
    while (hn > 0) {
        uint64_t top = heap_pop(heap, &hn);
        uint32_t rank = (uint32_t)(top >> 32);
        int32_t pos = (int32_t)(uint32_t)top;
        if (sym[pos] < 0) continue;
        int32_t nx = next[pos];
        if (nx < 0) continue;
        int32_t merged = -1;
        if (merge_find(bpe, sym[pos], sym[nx], &merged) != rank) continue;
        sym[pos] = merged;
        sym[nx] = -1;
        next[pos] = next[nx];
        if (next[nx] >= 0) prev[next[nx]] = pos;
        /* At most two new pairs per merge, and the heap holds at most n + 2 * merges <= 3n. */
        if (hn + 2 > s->heap_cap) {
            size_t cap = s->heap_cap * 2;
            uint64_t *h = realloc(s->heap, cap * sizeof *h);
            if (!h) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer: out of memory for a word of %zu symbols", n);
            s->heap = heap = h;
            s->heap_cap = cap;
        }
        if (prev[pos] >= 0) {
            uint32_t r = merge_find(bpe, sym[prev[pos]], sym[pos], &dummy);
            if (r != UINT32_MAX) heap_push(heap, &hn, ((uint64_t)r << 32) | (uint32_t)prev[pos]);
        }
        if (next[pos] >= 0) {
            uint32_t r = merge_find(bpe, sym[pos], sym[next[pos]], &dummy);
            if (r != UINT32_MAX) heap_push(heap, &hn, ((uint64_t)r << 32) | (uint32_t)pos);
        }
    }
    return PSW_OK;
}

#define SMALL_WORD 48

psw_status psw_bpe_word(const psw_bpe *bpe, psw_bpe_cache *cache, psw_bpe_scratch *scratch,
                        const uint8_t *w, size_t len, psw_idvec *out, psw_err *err) {
    psw_status st;
    if (len == 1) {
        int32_t id = bpe->byte_id[w[0]];
        return id < 0 ? PSW_OK : psw_idvec_push(out, id, err);
    }
    if (bpe->ignore_merges) {
        int32_t id = strmap_find(&bpe->raw, bpe->raw_arena, bpe->raw_off, bpe->raw_len, w, len);
        if (id >= 0) return psw_idvec_push(out, id, err);
    }
    uint64_t h = 0;
    if (cache && len <= CACHE_MAX_KEY) {
        h = psw_bpe_hash(w, len) | 1;
        size_t i = (size_t)h & (CACHE_SLOTS - 1);
        while (cache->hash[i]) {
            if (cache->hash[i] == h && cache->key_len[i] == len &&
                memcmp(cache->keys + cache->key_off[i], w, len) == 0) {
                const int32_t *ids = cache->ids + cache->ids_off[i];
                for (size_t k = 0; k < cache->ids_n[i]; k++)
                    if ((st = psw_idvec_push(out, ids[k], err))) return st;
                return PSW_OK;
            }
            i = (i + 1) & (CACHE_SLOTS - 1);
        }
    }
    if ((st = scratch_reserve(scratch, len, err))) return st;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t id = bpe->byte_id[w[i]];
        if (id >= 0) scratch->sym[n++] = id;
    }
    if (n <= SMALL_WORD) {
        n = merge_small(bpe, scratch->sym, scratch->rk, scratch->nw, n);
    } else {
        if ((st = merge_large(bpe, scratch, n, err))) return st;
        /* Merged-away symbols are -1; the survivors keep their order. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (scratch->sym[i] >= 0) scratch->sym[m++] = scratch->sym[i];
        n = m;
    }
    size_t first = out->n;
    for (size_t i = 0; i < n; i++)
        if ((st = psw_idvec_push(out, scratch->sym[i], err))) return st;
    /* n == 0 leaves out->ids possibly NULL: nothing to cache, and no pointer arithmetic on it. */
    if (cache && len <= CACHE_MAX_KEY && n > 0) cache_put(cache, h, w, len, out->ids + first, n);
    return PSW_OK;
}
