/* bpe_train.c: byte-level BPE training and tokenizer.json output (see include/psw/bpe_train.h). */
#include "psw/bpe_train.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- GPT-2 bytes_to_unicode ---- */

static bool byte_is_printable(unsigned b) {
    return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
}

uint32_t psw_bpe_train_byte_to_unicode(uint8_t byte) {
    if (byte_is_printable(byte)) return byte;
    uint32_t n = 0;
    for (unsigned b = 0; b < byte; b++)
        if (!byte_is_printable(b)) n++;
    return 256 + n;
}

int32_t psw_bpe_train_byte_id(uint8_t byte) {
    /* The 188 printable bytes first, in byte order, then the others in byte order. */
    int32_t printable_before = 0, other_before = 0;
    for (unsigned b = 0; b < byte; b++) {
        if (byte_is_printable(b)) printable_before++;
        else other_before++;
    }
    return byte_is_printable(byte) ? printable_before : 188 + other_before;
}

/* ---- strict UTF-8 validation; returns the offset of the first bad byte, or len ---- */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (i + n > len) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

/* ---- training state ---- */

typedef struct word {
    size_t off;   /* first symbol in sym[] */
    size_t n;     /* current number of symbols */
    int64_t count;
} word;

typedef struct trainer {
    /* unique pieces: bytes in an arena, looked up through an open-addressing table */
    char *arena;
    size_t arena_len, arena_cap;
    size_t *piece_off, *piece_len;
    int64_t *piece_count;
    size_t n_pieces, pieces_cap;
    int32_t *table; /* [table_cap] piece index or -1 */
    size_t table_cap;
    /* symbols of every piece, compacted in place as merges apply */
    int32_t *sym;
    word *words;
    /* the vocabulary grown so far */
    psw_bpe_train_result *res;
    size_t tokens_cap;
    bool oom;
} trainer;

static uint64_t hash_bytes(const char *s, size_t n) { return psw_fnv1a(s, n, PSW_FNV_SEED); }

static void *grow(void *p, size_t *cap, size_t need, size_t elem, bool *oom) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    size_t bytes;
    if (!psw_size_mul(c, elem, &bytes)) {
        *oom = true;
        return p;
    }
    void *q = realloc(p, bytes);
    if (!q) {
        *oom = true;
        return p;
    }
    *cap = c;
    return q;
}

static void table_rebuild(trainer *t, size_t cap) {
    int32_t *tab = malloc(cap * sizeof *tab);
    if (!tab) {
        t->oom = true;
        return;
    }
    for (size_t i = 0; i < cap; i++) tab[i] = -1;
    for (size_t p = 0; p < t->n_pieces; p++) {
        size_t h = (size_t)hash_bytes(t->arena + t->piece_off[p], t->piece_len[p]) & (cap - 1);
        while (tab[h] >= 0) h = (h + 1) & (cap - 1);
        tab[h] = (int32_t)p;
    }
    free(t->table);
    t->table = tab;
    t->table_cap = cap;
}

static void add_piece(trainer *t, const char *s, size_t n) {
    if (t->oom || n == 0) return;
    if (2 * (t->n_pieces + 1) > t->table_cap) {
        table_rebuild(t, t->table_cap ? 2 * t->table_cap : 1024);
        if (t->oom) return;
    }
    size_t h = (size_t)hash_bytes(s, n) & (t->table_cap - 1);
    for (; t->table[h] >= 0; h = (h + 1) & (t->table_cap - 1)) {
        int32_t p = t->table[h];
        if (t->piece_len[p] == n && memcmp(t->arena + t->piece_off[p], s, n) == 0) {
            t->piece_count[p]++;
            return;
        }
    }
    size_t cap_before = t->pieces_cap;
    t->piece_off = grow(t->piece_off, &t->pieces_cap, t->n_pieces + 1, sizeof(size_t), &t->oom);
    size_t cap2 = cap_before;
    t->piece_len = grow(t->piece_len, &cap2, t->n_pieces + 1, sizeof(size_t), &t->oom);
    cap2 = cap_before;
    t->piece_count = grow(t->piece_count, &cap2, t->n_pieces + 1, sizeof(int64_t), &t->oom);
    t->arena = grow(t->arena, &t->arena_cap, t->arena_len + n, 1, &t->oom);
    if (t->oom) return;
    memcpy(t->arena + t->arena_len, s, n);
    t->piece_off[t->n_pieces] = t->arena_len;
    t->piece_len[t->n_pieces] = n;
    t->piece_count[t->n_pieces] = 1;
    t->arena_len += n;
    t->table[h] = (int32_t)t->n_pieces;
    t->n_pieces++;
}

/* Splits one special-free segment with the regex; gaps between matches are pieces too. */
static psw_status split_segment(trainer *t, pcre2_code *re, pcre2_match_data *md,
                                const char *seg, size_t n, psw_err *err) {
    size_t off = 0;
    while (off < n && !t->oom) {
        int rc = pcre2_match(re, (PCRE2_SPTR)seg, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            add_piece(t, seg + off, n - off);
            break;
        }
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return PSW_FAIL(err, PSW_ERR_FORMAT, "bpe training text: regex match failed: %s",
                            (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[0] > off) add_piece(t, seg + off, ov[0] - off);
        if (ov[1] > ov[0]) {
            add_piece(t, seg + ov[0], ov[1] - ov[0]);
            off = ov[1];
        } else {
            /* An empty match cannot come from this regex; step one character to be safe. */
            size_t step = 1;
            while (ov[0] + step < n && ((unsigned char)seg[ov[0] + step] & 0xC0) == 0x80) step++;
            add_piece(t, seg + ov[0], step);
            off = ov[0] + step;
        }
    }
    return PSW_OK;
}

/* Cuts out special tokens (earliest occurrence first, longest at a position) and splits the
 * rest. */
static psw_status collect_pieces(trainer *t, const char *text, size_t len,
                                 const psw_bpe_train_opts *o, psw_err *err) {
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)PSW_BPE_SPLIT_REGEX, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &ecode, &eoff, NULL);
    if (!re) PSW_ABORT("PSW_BPE_SPLIT_REGEX does not compile (error %d at %zu)", ecode, eoff);
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional speed-up; failure is fine */
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) {
        pcre2_code_free(re);
        return PSW_FAIL(err, PSW_ERR_NOMEM, "bpe training: out of memory for regex match data");
    }
    psw_status st = PSW_OK;
    size_t seg_start = 0, i = 0;
    while (i <= len && st == PSW_OK) {
        size_t match_len = 0;
        if (i < len)
            for (size_t k = 0; k < o->n_special; k++) {
                size_t sl = strlen(o->special_tokens[k]);
                if (sl > match_len && sl <= len - i && memcmp(text + i, o->special_tokens[k], sl) == 0)
                    match_len = sl;
            }
        if (i == len || match_len > 0) {
            st = split_segment(t, re, md, text + seg_start, i - seg_start, err);
            if (i == len) break;
            i += match_len;
            seg_start = i;
        } else {
            i++;
        }
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return st;
}

static void add_token(trainer *t, const char *bytes, size_t n) {
    psw_bpe_train_result *r = t->res;
    size_t cap = t->tokens_cap;
    r->token = grow(r->token, &cap, r->n_tokens + 1, sizeof(char *), &t->oom);
    cap = t->tokens_cap;
    r->token_len = grow(r->token_len, &cap, r->n_tokens + 1, sizeof(size_t), &t->oom);
    if (t->oom) return;
    t->tokens_cap = cap;
    char *s = malloc(n + 1);
    if (!s) {
        t->oom = true;
        return;
    }
    memcpy(s, bytes, n);
    s[n] = '\0';
    r->token[r->n_tokens] = s;
    r->token_len[r->n_tokens] = n;
    r->n_tokens++;
}

static int32_t find_token(const psw_bpe_train_result *r, const char *bytes, size_t n) {
    for (size_t i = 0; i < r->n_tokens; i++)
        if (r->token_len[i] == n && memcmp(r->token[i], bytes, n) == 0) return (int32_t)i;
    return -1;
}

/* Records merge (a, b) as the next rank and applies it to every piece. */
static void do_merge(trainer *t, int32_t a, int32_t b, size_t *merges_cap) {
    psw_bpe_train_result *r = t->res;
    size_t la = r->token_len[a], lb = r->token_len[b];
    char *buf = malloc(la + lb);
    if (!buf) {
        t->oom = true;
        return;
    }
    memcpy(buf, r->token[a], la);
    memcpy(buf + la, r->token[b], lb);
    add_token(t, buf, la + lb);
    free(buf);
    size_t cap = *merges_cap;
    r->merge_left = grow(r->merge_left, &cap, r->n_merges + 1, sizeof(int32_t), &t->oom);
    cap = *merges_cap;
    r->merge_right = grow(r->merge_right, &cap, r->n_merges + 1, sizeof(int32_t), &t->oom);
    if (t->oom) return;
    *merges_cap = cap;
    r->merge_left[r->n_merges] = a;
    r->merge_right[r->n_merges] = b;
    r->n_merges++;
    int32_t id = (int32_t)(r->n_tokens - 1);
    for (size_t w = 0; w < t->n_pieces; w++) {
        int32_t *s = t->sym + t->words[w].off;
        size_t n = t->words[w].n, out = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[out++] = id;
                i++;
            } else {
                s[out++] = s[i];
            }
        }
        t->words[w].n = out;
    }
}

/* memcmp order with a proper prefix first. */
static int cmp_bytes(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

/* Does pair (a1,b1) beat (a2,b2) on the tie-break? */
static bool pair_before(const psw_bpe_train_result *r, int32_t a1, int32_t b1, int32_t a2, int32_t b2) {
    int c = cmp_bytes(r->token[a1], r->token_len[a1], r->token[a2], r->token_len[a2]);
    if (c) return c < 0;
    return cmp_bytes(r->token[b1], r->token_len[b1], r->token[b2], r->token_len[b2]) < 0;
}

static psw_status check_opts(const psw_bpe_train_opts *o, psw_err *err) {
    if (o->min_frequency < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "bpe training: min_frequency = %ld, expected >= 1",
                        o->min_frequency);
    size_t forced_bytes = 0;
    for (size_t i = 0; i < o->n_forced; i++) {
        size_t n = strlen(o->forced_tokens[i]);
        if (n < 2)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "bpe training: forced token %zu (\"%s\") has fewer than 2 bytes", i,
                            o->forced_tokens[i]);
        forced_bytes += n - 1;
    }
    for (size_t i = 0; i < o->n_special; i++) {
        if (!o->special_tokens[i][0])
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "bpe training: special token %zu is empty",
                            i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->special_tokens[i], o->special_tokens[j]) == 0)
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "bpe training: special token \"%s\" is listed twice",
                                o->special_tokens[i]);
    }
    size_t need = 256 + o->n_special + forced_bytes;
    if (o->vocab_size < need)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "bpe training: vocab_size = %zu is below %zu (256 bytes + %zu special + "
                        "%zu forced merges)",
                        o->vocab_size, need, o->n_special, forced_bytes);
    return PSW_OK;
}

static void trainer_free(trainer *t) {
    free(t->arena);
    free(t->piece_off);
    free(t->piece_len);
    free(t->piece_count);
    free(t->table);
    free(t->sym);
    free(t->words);
}

psw_status psw_bpe_train(const char *text, size_t len, const psw_bpe_train_opts *o,
                         psw_bpe_train_result *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    psw_status st = check_opts(o, err);
    if (st != PSW_OK) return st;
    size_t bad = utf8_invalid_at((const unsigned char *)text, len);
    if (bad < len)
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "bpe training text: invalid UTF-8 at byte %zu (0x%02x)", bad,
                        (unsigned char)text[bad]);

    trainer t = {0};
    t.res = out;
    int64_t *pair_count = NULL;
    uint64_t *pair_key = NULL;
    size_t merges_cap = 0;

    st = collect_pieces(&t, text, len, o, err);
    if (st != PSW_OK) goto fail;
    if (t.oom) goto oom;

    /* Symbols: the byte ids of every unique piece. */
    t.sym = psw_try_alloc((t.arena_len ? t.arena_len : 1) * sizeof *t.sym);
    t.words = psw_try_alloc((t.n_pieces ? t.n_pieces : 1) * sizeof *t.words);
    if (!t.sym || !t.words) goto oom;
    for (size_t p = 0; p < t.n_pieces; p++) {
        t.words[p].off = t.piece_off[p];
        t.words[p].n = t.piece_len[p];
        t.words[p].count = t.piece_count[p];
        for (size_t i = 0; i < t.piece_len[p]; i++)
            t.sym[t.piece_off[p] + i] = psw_bpe_train_byte_id((uint8_t)t.arena[t.piece_off[p] + i]);
    }

    /* The 256 byte tokens, in id order. */
    for (int id = 0; id < 256; id++) {
        for (unsigned b = 0; b < 256; b++) {
            if (psw_bpe_train_byte_id((uint8_t)b) == id) {
                char c = (char)b;
                add_token(&t, &c, 1);
                break;
            }
        }
    }
    if (t.oom) goto oom;

    /* Forced tokens: built left to right, reusing tokens that already exist. */
    for (size_t f = 0; f < o->n_forced; f++) {
        const char *s = o->forced_tokens[f];
        size_t n = strlen(s);
        int32_t cur = psw_bpe_train_byte_id((uint8_t)s[0]);
        for (size_t k = 2; k <= n; k++) {
            int32_t next = find_token(out, s, k);
            if (next < 0) {
                do_merge(&t, cur, psw_bpe_train_byte_id((uint8_t)s[k - 1]), &merges_cap);
                if (t.oom) goto oom;
                next = (int32_t)(out->n_tokens - 1);
            }
            cur = next;
        }
    }

    size_t target = o->vocab_size - o->n_special;
    size_t table_cap = 1024;
    while (table_cap < 2 * (t.arena_len + 1)) table_cap *= 2;
    pair_count = psw_try_alloc(table_cap * sizeof *pair_count);
    pair_key = psw_try_alloc(table_cap * sizeof *pair_key);
    if (!pair_count || !pair_key) goto oom;

    psw_progress prog;
    if (o->progress)
        psw_progress_start(&prog, "bpe", "merges", (long long)(target - out->n_tokens));
    size_t start_tokens = out->n_tokens;
    while (out->n_tokens < target) {
        memset(pair_count, 0, table_cap * sizeof *pair_count);
        for (size_t w = 0; w < t.n_pieces; w++) {
            const int32_t *s = t.sym + t.words[w].off;
            for (size_t i = 0; i + 1 < t.words[w].n; i++) {
                uint64_t key = ((uint64_t)(uint32_t)s[i] << 32) | (uint32_t)s[i + 1];
                size_t h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & (table_cap - 1);
                while (pair_count[h] != 0 && pair_key[h] != key) h = (h + 1) & (table_cap - 1);
                pair_key[h] = key;
                pair_count[h] += t.words[w].count;
            }
        }
        int64_t best = 0;
        int32_t ba = -1, bb = -1;
        for (size_t h = 0; h < table_cap; h++) {
            if (pair_count[h] == 0) continue;
            int32_t a = (int32_t)(pair_key[h] >> 32), b = (int32_t)(pair_key[h] & 0xffffffffu);
            if (pair_count[h] > best ||
                (pair_count[h] == best && pair_before(out, a, b, ba, bb))) {
                best = pair_count[h];
                ba = a;
                bb = b;
            }
        }
        if (ba < 0 || best < o->min_frequency) break;
        do_merge(&t, ba, bb, &merges_cap);
        if (t.oom) goto oom;
        if (o->progress) psw_progress_update(&prog, (long long)(out->n_tokens - start_tokens));
    }
    if (o->progress && out->n_tokens < target) { /* stopped early: print the final line */
        prog.total = (long long)(out->n_tokens - start_tokens);
        psw_progress_update(&prog, prog.total);
    }

    out->special = psw_xcalloc(o->n_special ? o->n_special : 1, sizeof *out->special);
    out->n_special = o->n_special;
    for (size_t i = 0; i < o->n_special; i++) out->special[i] = psw_xstrdup(o->special_tokens[i]);
    free(pair_count);
    free(pair_key);
    trainer_free(&t);
    return PSW_OK;
oom:
    st = PSW_FAIL(err, PSW_ERR_NOMEM, "bpe training: out of memory (%zu bytes of text)", len);
fail:
    free(pair_count);
    free(pair_key);
    trainer_free(&t);
    psw_bpe_train_result_free(out);
    return st;
}

void psw_bpe_train_result_free(psw_bpe_train_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n_tokens; i++) free(r->token[i]);
    for (size_t i = 0; i < r->n_special; i++) free(r->special[i]);
    free(r->token);
    free(r->token_len);
    free(r->merge_left);
    free(r->merge_right);
    free(r->special);
    memset(r, 0, sizeof *r);
}

/* ---- tokenizer.json ---- */

/* The vocab string of a token: each byte as its bytes_to_unicode code point, UTF-8 encoded. */
static char *token_string(const char *bytes, size_t n) {
    char *s = psw_xmalloc(2 * n + 1); /* every code point is < 0x800: at most 2 bytes */
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = psw_bpe_train_byte_to_unicode((uint8_t)bytes[i]);
        if (cp < 0x80) {
            s[o++] = (char)cp;
        } else {
            s[o++] = (char)(0xC0 | (cp >> 6));
            s[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    s[o] = '\0';
    return s;
}

psw_status psw_bpe_train_to_json(const psw_bpe_train_result *r, char **json, size_t *len, psw_err *err) {
    *json = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (size_t i = 0; i < r->n_special; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", (double)(r->n_tokens + i));
        cJSON_AddStringToObject(a, "content", r->special[i]);
        cJSON_AddBoolToObject(a, "single_word", false);
        cJSON_AddBoolToObject(a, "lstrip", false);
        cJSON_AddBoolToObject(a, "rstrip", false);
        cJSON_AddBoolToObject(a, "normalized", false);
        cJSON_AddBoolToObject(a, "special", true);
        cJSON_AddItemToArray(added, a);
    }
    cJSON_AddNullToObject(root, "normalizer");
    cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
    cJSON_AddStringToObject(pre, "type", "Sequence");
    cJSON *seq = cJSON_AddArrayToObject(pre, "pretokenizers");
    cJSON *split = cJSON_CreateObject();
    cJSON_AddStringToObject(split, "type", "Split");
    cJSON *pat = cJSON_AddObjectToObject(split, "pattern");
    cJSON_AddStringToObject(pat, "Regex", PSW_BPE_SPLIT_REGEX);
    cJSON_AddStringToObject(split, "behavior", "Isolated");
    cJSON_AddBoolToObject(split, "invert", false);
    cJSON_AddItemToArray(seq, split);
    cJSON *bl = cJSON_CreateObject();
    cJSON_AddStringToObject(bl, "type", "ByteLevel");
    cJSON_AddBoolToObject(bl, "add_prefix_space", false);
    cJSON_AddBoolToObject(bl, "trim_offsets", true);
    cJSON_AddBoolToObject(bl, "use_regex", false);
    cJSON_AddItemToArray(seq, bl);
    cJSON_AddNullToObject(root, "post_processor");
    cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
    cJSON_AddStringToObject(dec, "type", "ByteLevel");
    cJSON_AddBoolToObject(dec, "add_prefix_space", true);
    cJSON_AddBoolToObject(dec, "trim_offsets", true);
    cJSON_AddBoolToObject(dec, "use_regex", true);
    cJSON *model = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", false);
    cJSON_AddBoolToObject(model, "byte_fallback", false);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (size_t i = 0; i < r->n_tokens; i++) {
        char *s = token_string(r->token[i], r->token_len[i]);
        cJSON_AddNumberToObject(vocab, s, (double)i);
        free(s);
    }
    for (size_t i = 0; i < r->n_special; i++)
        cJSON_AddNumberToObject(vocab, r->special[i], (double)(r->n_tokens + i));
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    for (size_t m = 0; m < r->n_merges; m++) {
        int32_t a = r->merge_left[m], b = r->merge_right[m];
        char *sa = token_string(r->token[a], r->token_len[a]);
        char *sb = token_string(r->token[b], r->token_len[b]);
        size_t n = strlen(sa) + strlen(sb) + 2;
        char *line = psw_xmalloc(n);
        snprintf(line, n, "%s %s", sa, sb);
        cJSON_AddItemToArray(merges, cJSON_CreateString(line));
        free(line);
        free(sa);
        free(sb);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return PSW_FAIL(err, PSW_ERR_NOMEM, "tokenizer.json: out of memory serialising");
    *json = text;
    if (len) *len = strlen(text);
    return PSW_OK;
}
