/* teacher_cache.c: building, mapping and decoding the teacher-logits cache. */
#include "psw/teacher_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psw/evaluate.h"
#include "psw/safetensors.h"

#define CACHE_MAGIC "PSWTCH01"

typedef struct psw_cache_header {
    char magic[8];
    uint64_t fingerprint;
    uint64_t n_examples;
    uint64_t n_rows;
    int32_t vocab;
    int32_t format;
    int32_t topk;
    int32_t all_positions;
} psw_cache_header;

struct psw_teacher_cache {
    void *map;
    size_t map_bytes;
    psw_cache_header hdr;
    const int64_t *offsets; /* (n+1) row offsets */
    const unsigned char *rows;
    size_t row_bytes;
};

uint64_t psw_teacher_cache_fingerprint(uint64_t model_hash, uint64_t prompts_hash,
                                       bool all_positions, psw_cache_format fmt, int topk) {
    uint64_t parts[5] = {model_hash, prompts_hash, all_positions, (uint64_t)fmt,
                         fmt == PSW_CACHE_TOPK ? (uint64_t)topk : 0};
    return psw_fnv1a(parts, sizeof parts, PSW_FNV_SEED);
}

uint16_t psw_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7fffffffu;
    if (mag >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
    if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past the largest half */
    if (mag < 0x38800000u) {                                     /* subnormal half or zero */
        if (mag < 0x33000000u) return (uint16_t)sign;
        uint32_t mant = (mag & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(mag >> 23); /* value = mant * 2^(e-150) = half * 2^-24 */
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((mag - 0x38000000u) >> 13);
    uint32_t rem = mag & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
    return (uint16_t)(sign | half);
}

static size_t row_bytes_of(psw_cache_format fmt, int vocab, int topk) {
    if (fmt == PSW_CACHE_FP16) return (size_t)vocab * sizeof(uint16_t);
    return (size_t)topk * (sizeof(int32_t) + sizeof(float)) + sizeof(float);
}

typedef struct logit_index {
    float logit;
    int32_t id;
} logit_index;

static int by_logit_desc(const void *a, const void *b) {
    const logit_index *x = a, *y = b;
    if (x->logit != y->logit) return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Encodes one row of logits (V) into out (row_bytes). scratch: (V) logit_index. */
static void encode_row(const float *logits, int V, psw_cache_format fmt, int topk,
                       logit_index *scratch, unsigned char *out) {
    if (fmt == PSW_CACHE_FP16) {
        uint16_t *h = (uint16_t *)out;
        for (int v = 0; v < V; v++) h[v] = psw_f32_to_f16(logits[v]);
        return;
    }
    for (int v = 0; v < V; v++) scratch[v] = (logit_index){logits[v], v};
    qsort(scratch, (size_t)V, sizeof *scratch, by_logit_desc);
    int32_t *ids = (int32_t *)out;
    float *vals = (float *)(out + (size_t)topk * sizeof(int32_t));
    for (int i = 0; i < topk; i++) {
        ids[i] = scratch[i].id;
        vals[i] = scratch[i].logit;
    }
    double rest = 0.0, max = scratch[0].logit;
    for (int i = topk; i < V; i++) rest += exp((double)scratch[i].logit - max);
    vals[topk] = topk < V && rest > 0 ? (float)(max + log(rest)) : -INFINITY;
}

psw_status psw_teacher_cache_build(psw_model *teacher, const psw_mc_prompts *p, bool all_positions,
                                   psw_cache_format fmt, int topk, int batch, uint64_t fingerprint,
                                   const char *path, psw_err *err) {
    int V = teacher->cfg.vocab_size;
    if (fmt == PSW_CACHE_TOPK && (topk < 1 || topk > V))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "training.topk: %d is outside 1..%d", topk, V);
    size_t n = p->n, T = (size_t)p->max_len, row_bytes = row_bytes_of(fmt, V, topk);
    size_t max_P = all_positions ? (size_t)batch * T : (size_t)batch;
    psw_status st = PSW_OK;
    FILE *f = NULL;
    char *tmp = NULL;
    int64_t *offsets = psw_try_alloc((n + 1) * sizeof *offsets);
    int32_t *order = psw_try_alloc(n * sizeof *order);
    int32_t *tokens = psw_try_alloc((size_t)batch * T * sizeof *tokens);
    int32_t *lengths = psw_try_alloc((size_t)batch * sizeof *lengths);
    int64_t *pos = psw_try_alloc(max_P * sizeof *pos);
    float *logits = psw_try_alloc(max_P * (size_t)V * sizeof *logits);
    logit_index *scratch = psw_try_alloc((size_t)V * sizeof *scratch);
    unsigned char *row = psw_try_alloc(row_bytes);
    if (!offsets || !order || !tokens || !lengths || !pos || !logits || !scratch || !row) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "teacher cache: cannot allocate buffers");
        goto fail;
    }
    offsets[0] = 0;
    for (size_t i = 0; i < n; i++)
        offsets[i + 1] = offsets[i] + (all_positions ? p->offsets[i + 1] - p->offsets[i] : 1);
    psw_cache_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memcpy(hdr.magic, CACHE_MAGIC, 8);
    hdr.fingerprint = fingerprint;
    hdr.n_examples = n;
    hdr.n_rows = (uint64_t)offsets[n];
    hdr.vocab = V;
    hdr.format = (int32_t)fmt;
    hdr.topk = fmt == PSW_CACHE_TOPK ? topk : 0;
    hdr.all_positions = all_positions;

    size_t tmp_len = strlen(path) + 32;
    tmp = psw_xmalloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp%ld", path, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fwrite(&hdr, sizeof hdr, 1, f) != 1 ||
        fwrite(offsets, sizeof *offsets, n + 1, f) != n + 1) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
        goto fail;
    }
    /* Rows are written in example order: batch in index order so the file is sequential. */
    psw_progress progress;
    psw_progress_start(&progress, "teacher cache", "examples", (long long)n);
    for (size_t start = 0; start < n; start += (size_t)batch) {
        int B = (int)(n - start < (size_t)batch ? n - start : (size_t)batch);
        int Tb = 0;
        for (int b = 0; b < B; b++) {
            int len = (int)(p->offsets[start + b + 1] - p->offsets[start + b]);
            if (len > Tb) Tb = len;
        }
        memset(tokens, 0, (size_t)B * (size_t)Tb * sizeof *tokens);
        int P = 0;
        for (int b = 0; b < B; b++) {
            size_t i = start + (size_t)b;
            int len = (int)(p->offsets[i + 1] - p->offsets[i]);
            memcpy(tokens + (size_t)b * Tb, p->ids + p->offsets[i], (size_t)len * sizeof *tokens);
            lengths[b] = len;
            for (int t = all_positions ? 0 : len - 1; t < len; t++) pos[P++] = (int64_t)b * Tb + t;
        }
        psw_batch bt = {.tokens = tokens, .lengths = lengths, .B = B, .T = Tb};
        st = psw_model_forward(teacher, &bt, pos, P, logits, err);
        if (st != PSW_OK) goto fail;
        for (int r = 0; r < P; r++) {
            encode_row(logits + (size_t)r * V, V, fmt, topk, scratch, row);
            if (fwrite(row, 1, row_bytes, f) != row_bytes) {
                st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
                goto fail;
            }
        }
        psw_progress_update(&progress, (long long)(start + (size_t)B));
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: flush failed: %s", tmp, strerror(errno));
        goto fail;
    }
    st = psw_file_commit(f, tmp, path, err);
    f = NULL;
    free(tmp);
    tmp = NULL;
fail:
    if (f) fclose(f);
    if (tmp) unlink(tmp);
    free(tmp);
    free(offsets);
    free(order);
    free(tokens);
    free(lengths);
    free(pos);
    free(logits);
    free(scratch);
    free(row);
    return st;
}

psw_status psw_teacher_cache_open(const char *path, uint64_t fingerprint, size_t n_examples,
                                  int vocab, psw_teacher_cache **out, psw_err *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    size_t bytes = (size_t)sb.st_size;
    if (bytes < sizeof(psw_cache_header)) {
        close(fd);
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: teacher cache truncated (%zu bytes)", path, bytes);
    }
    void *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return PSW_FAIL(err, PSW_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    psw_status st = PSW_OK;
    psw_teacher_cache *c = psw_xcalloc(1, sizeof *c);
    c->map = map;
    c->map_bytes = bytes;
    memcpy(&c->hdr, map, sizeof c->hdr);
    const psw_cache_header *h = &c->hdr;
    if (memcmp(h->magic, CACHE_MAGIC, 8) != 0) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not a prunesweep teacher cache", path);
        goto fail;
    }
    if (h->fingerprint != fingerprint || h->n_examples != n_examples || h->vocab != vocab) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "%s: stale teacher cache (fingerprint %016llx, %llu examples, vocab %d; "
                      "expected %016llx, %zu, %d)",
                      path, (unsigned long long)h->fingerprint,
                      (unsigned long long)h->n_examples, h->vocab,
                      (unsigned long long)fingerprint, n_examples, vocab);
        goto fail;
    }
    if ((h->format != PSW_CACHE_FP16 && h->format != PSW_CACHE_TOPK) ||
        (h->format == PSW_CACHE_TOPK && (h->topk < 1 || h->topk > vocab))) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: bad format field", path);
        goto fail;
    }
    c->row_bytes = row_bytes_of((psw_cache_format)h->format, vocab, h->topk);
    size_t off_bytes = ((size_t)h->n_examples + 1) * sizeof(int64_t);
    size_t need = sizeof *h + off_bytes, rows_bytes;
    if (!psw_size_mul((size_t)h->n_rows, c->row_bytes, &rows_bytes) ||
        !psw_size_add(need, rows_bytes, &need) || need != bytes) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: size %zu does not match its header", path, bytes);
        goto fail;
    }
    c->offsets = (const int64_t *)((const char *)map + sizeof *h);
    c->rows = (const unsigned char *)map + sizeof *h + off_bytes;
    for (size_t i = 0; i < n_examples; i++)
        if (c->offsets[i + 1] <= c->offsets[i]) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: bad row offsets at example %zu", path, i);
            goto fail;
        }
    if (c->offsets[0] != 0 || (uint64_t)c->offsets[n_examples] != h->n_rows) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: bad row offsets", path);
        goto fail;
    }
    *out = c;
    return PSW_OK;
fail:
    psw_teacher_cache_close(c);
    return st;
}

void psw_teacher_cache_close(psw_teacher_cache *c) {
    if (!c) return;
    if (c->map) munmap(c->map, c->map_bytes);
    free(c);
}

int psw_teacher_cache_rows(const psw_teacher_cache *c, size_t example) {
    return (int)(c->offsets[example + 1] - c->offsets[example]);
}

bool psw_teacher_cache_all_positions(const psw_teacher_cache *c) { return c->hdr.all_positions; }

void psw_teacher_cache_row(const psw_teacher_cache *c, size_t example, int row, float *logits) {
    int V = c->hdr.vocab;
    const unsigned char *src = c->rows + ((size_t)c->offsets[example] + (size_t)row) * c->row_bytes;
    if (c->hdr.format == PSW_CACHE_FP16) {
        uint16_t h;
        for (int v = 0; v < V; v++) {
            memcpy(&h, src + (size_t)v * 2, 2);
            logits[v] = psw_f16_to_f32(h);
        }
        return;
    }
    int k = c->hdr.topk;
    float rest;
    memcpy(&rest, src + (size_t)k * 8, sizeof rest);
    /* The remaining mass, exp(rest), spread evenly over the V-k other tokens. */
    float fill = k < V ? (float)((double)rest - log((double)(V - k))) : -INFINITY;
    for (int v = 0; v < V; v++) logits[v] = fill;
    for (int i = 0; i < k; i++) {
        int32_t id;
        float val;
        memcpy(&id, src + (size_t)i * 4, 4);
        memcpy(&val, src + (size_t)k * 4 + (size_t)i * 4, 4);
        logits[id] = val;
    }
}
