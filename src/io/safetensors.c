/* safetensors.c: validated, memory-mapped safetensors reader and an F32/BF16 writer.
 * Sizes read from files are never trusted: JSON numbers must be exact integers below 2^53,
 * products and sums go through psw_size_mul/psw_size_add, and offsets are compared against
 * the data section size before any pointer is formed. */
#include "psw/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (safetensors data is little-endian)"
#endif

/* The reference implementation's limit; a larger header is a corrupt length field. */
#define HEADER_MAX ((uint64_t)100 * 1024 * 1024)
/* Largest integer a JSON number (a double in cJSON) represents exactly. */
#define EXACT_INT_MAX 9007199254740992.0

/* ---------------------------------------------------------------- scalar conversions */

float psw_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t psw_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float psw_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0 && man == 0) {
        bits = sign;
    } else if (exp == 0) { /* subnormal: normalise into a float exponent */
        int e = 1;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        man &= 0x3ffu;
        bits = sign | ((uint32_t)(e + 112) << 23) | (man << 13);
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

const char *psw_dtype_name(psw_dtype d) {
    switch (d) {
    case PSW_DTYPE_F32: return "F32";
    case PSW_DTYPE_BF16: return "BF16";
    case PSW_DTYPE_F16: return "F16";
    case PSW_DTYPE_OTHER: return "other";
    }
    return "other";
}

/* Every dtype of the safetensors spec, so that valid files with other tensors still parse. */
static const struct {
    const char *name;
    size_t size;
    psw_dtype dtype;
} dtype_table[] = {
    {"F32", 4, PSW_DTYPE_F32},     {"BF16", 2, PSW_DTYPE_BF16},   {"F16", 2, PSW_DTYPE_F16},
    {"F64", 8, PSW_DTYPE_OTHER},   {"I64", 8, PSW_DTYPE_OTHER},   {"U64", 8, PSW_DTYPE_OTHER},
    {"I32", 4, PSW_DTYPE_OTHER},   {"U32", 4, PSW_DTYPE_OTHER},   {"I16", 2, PSW_DTYPE_OTHER},
    {"U16", 2, PSW_DTYPE_OTHER},   {"I8", 1, PSW_DTYPE_OTHER},    {"U8", 1, PSW_DTYPE_OTHER},
    {"BOOL", 1, PSW_DTYPE_OTHER},  {"F8_E4M3", 1, PSW_DTYPE_OTHER}, {"F8_E5M2", 1, PSW_DTYPE_OTHER},
};

/* ---------------------------------------------------------------- reader */

typedef struct tensor_list {
    psw_st_tensor *v;
    size_t n, cap;
} tensor_list;

static psw_st_tensor *list_push(tensor_list *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = psw_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    psw_st_tensor *t = &l->v[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

static void list_free(tensor_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* A JSON number that must be an exact non-negative integer. */
static bool json_uint(const cJSON *it, double *out) {
    if (!cJSON_IsNumber(it)) return false;
    double v = it->valuedouble;
    if (!(v >= 0 && v == floor(v) && v < EXACT_INT_MAX)) return false;
    *out = v;
    return true;
}

static void shape_str(const psw_st_tensor *t, char *buf, size_t n) {
    size_t at = 0;
    at += (size_t)snprintf(buf + at, n - at, "[");
    for (int d = 0; d < t->ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%zu", d ? ", " : "", t->shape[d]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* Parses one tensor entry of the header. begin/end are offsets into the data section. */
static psw_status parse_entry(const char *path, const cJSON *e, size_t data_size, psw_st_tensor *t,
                              size_t *begin, size_t *end, psw_err *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: header entry must be an object",
                        path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: missing or non-string dtype", path,
                        name);
    size_t elsize = 0;
    for (size_t i = 0; i < sizeof dtype_table / sizeof dtype_table[0]; i++)
        if (strcmp(dt->valuestring, dtype_table[i].name) == 0) {
            elsize = dtype_table[i].size;
            t->dtype = dtype_table[i].dtype;
            snprintf(t->dtype_str, sizeof t->dtype_str, "%s", dtype_table[i].name);
        }
    if (!elsize)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: unknown dtype \"%.32s\"", path, name,
                        dt->valuestring);
    if (!cJSON_IsArray(shape))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: missing or non-list shape", path,
                        name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > PSW_ST_MAX_DIMS)
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: tensor %s: %d dimensions (at most %d)",
                        path, name, ndim, PSW_ST_MAX_DIMS);
    t->ndim = ndim;
    t->numel = 1;
    bool overflow = false;
    int d = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, shape) {
        double v;
        if (!json_uint(it, &v))
            return PSW_FAIL(err, PSW_ERR_FORMAT,
                            "%s: tensor %s: shape entry %d is not a non-negative integer below 2^53",
                            path, name, d);
        t->shape[d++] = (size_t)v;
        if (!psw_size_mul(t->numel, (size_t)v, &t->numel)) overflow = true;
    }
    char sbuf[160];
    shape_str(t, sbuf, sizeof sbuf);
    if (overflow || !psw_size_mul(t->numel, elsize, &t->nbytes))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: shape %s x %s overflows the size range",
                        path, name, sbuf, t->dtype_str);
    double o[2];
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &o[0]) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &o[1])) {
        /* A huge offset (>= 2^53) is certainly past the end of any file we can map. */
        if (cJSON_IsArray(offs) && cJSON_GetArraySize(offs) == 2 &&
            cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) &&
            cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)) &&
            cJSON_GetArrayItem(offs, 0)->valuedouble >= 0 &&
            cJSON_GetArrayItem(offs, 1)->valuedouble >= EXACT_INT_MAX)
            return PSW_FAIL(err, PSW_ERR_FORMAT,
                            "%s: tensor %s: data_offsets [%.0f, %.0f] out of bounds (data "
                            "section is %zu bytes)",
                            path, name, cJSON_GetArrayItem(offs, 0)->valuedouble,
                            cJSON_GetArrayItem(offs, 1)->valuedouble, data_size);
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: tensor %s: data_offsets must be a list of two non-negative integers",
                        path, name);
    }
    if (o[0] > o[1])
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: data_offsets [%.0f, %.0f] end before "
                        "they begin", path, name, o[0], o[1]);
    if (o[1] > (double)data_size || (size_t)o[1] > data_size)
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%.0f, %.0f] out of bounds (data section is "
                        "%zu bytes)",
                        path, name, o[0], o[1], data_size);
    *begin = (size_t)o[0];
    *end = (size_t)o[1];
    if (*end - *begin != t->nbytes)
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: tensor %s: data_offsets [%zu, %zu] hold %zu bytes but shape %s x %s "
                        "needs %zu",
                        path, name, *begin, *end, *end - *begin, sbuf, t->dtype_str, t->nbytes);
    return PSW_OK;
}

typedef struct span {
    size_t begin, end, idx; /* idx into the tensor list */
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static bool metadata_ok(const cJSON *meta) {
    if (!cJSON_IsObject(meta)) return false;
    const cJSON *m;
    cJSON_ArrayForEach(m, meta) if (!cJSON_IsString(m)) return false;
    return true;
}

/* Maps `path` and appends its tensors to `list` with file index `fi`. */
static psw_status parse_file(const char *path, int fi, psw_st_file *f, tensor_list *list,
                             psw_err *err) {
    psw_status st = PSW_OK;
    cJSON *root = NULL;
    span *spans = NULL;
    size_t first = list->n;
    f->path = psw_xstrdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return PSW_FAIL(err, PSW_ERR_IO, "%s: not a regular file", path);
    }
    f->size = (size_t)sb.st_size;
    if (f->size > 0) {
        void *map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, f->size,
                          strerror(errno));
            close(fd);
            return st;
        }
        f->map = map;
    }
    close(fd);
    const unsigned char *base = f->map;
    if (f->size < 8)
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: file is %zu bytes, too short for the 8-byte header length (truncated?)",
                        path, f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | base[i];
    if (hlen > (uint64_t)(f->size - 8))
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s: header length %llu runs past the end of the file (%zu bytes; "
                        "truncated?)",
                        path, (unsigned long long)hlen, f->size);
    if (hlen > HEADER_MAX)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header length %llu exceeds the %llu-byte limit",
                        path, (unsigned long long)hlen, (unsigned long long)HEADER_MAX);
    const char *hdr = (const char *)base + 8;
    size_t data_size = f->size - 8 - (size_t)hlen;
    const unsigned char *data = base + 8 + hlen;
    if (hlen < 2 || hdr[0] != '{')
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header does not start with a JSON object", path);
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    if (!root)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header is not valid JSON (near byte %td of %llu)",
                        path, end ? end - hdr : (ptrdiff_t)0, (unsigned long long)hlen);
    for (const char *p = end; p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s: header has trailing bytes after the JSON object (at byte %td)",
                          path, p - hdr);
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto fail;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!metadata_ok(e)) {
                st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: __metadata__ must map strings to strings",
                              path);
                goto fail;
            }
            continue;
        }
        psw_st_tensor *t = list_push(list);
        t->name = psw_xstrdup(e->string);
        t->file = fi;
        size_t b = 0, en = 0;
        st = parse_entry(path, e, data_size, t, &b, &en, err);
        if (st != PSW_OK) goto fail;
        t->data = data + b;
    }
    /* Offsets must tile the data section exactly: sorted by begin, each starts where the
     * previous ended, the last ends at the end of the file. */
    size_t n = list->n - first;
    spans = psw_xmalloc((n ? n : 1) * sizeof *spans);
    for (size_t i = 0; i < n; i++) {
        const psw_st_tensor *t = &list->v[first + i];
        spans[i].begin = (size_t)(t->data - data);
        spans[i].end = spans[i].begin + t->nbytes;
        spans[i].idx = first + i;
    }
    qsort(spans, n, sizeof *spans, span_cmp);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = list->v[spans[i].idx].name;
        if (spans[i].begin < at) {
            const span *prev = &spans[i - 1];
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s: tensor %s: data_offsets [%zu, %zu] overlap tensor %s [%zu, %zu]",
                          path, name, spans[i].begin, spans[i].end, list->v[prev->idx].name,
                          prev->begin, prev->end);
            goto fail;
        }
        if (spans[i].begin > at) {
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s: tensor %s: data_offsets [%zu, %zu] leave bytes [%zu, %zu) of the "
                          "data section unused",
                          path, name, spans[i].begin, spans[i].end, at, spans[i].begin);
            goto fail;
        }
        at = spans[i].end;
    }
    if (at != data_size) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: data section is %zu bytes but the tensors cover only %zu (trailing "
                      "bytes)",
                      path, data_size, at);
        goto fail;
    }
fail:
    free(spans);
    cJSON_Delete(root);
    return st;
}

static int tensor_cmp(const void *a, const void *b) {
    return strcmp(((const psw_st_tensor *)a)->name, ((const psw_st_tensor *)b)->name);
}

/* Sorts by name and rejects duplicates (within a header or across shards). */
static psw_status finish_list(psw_safetensors *st, tensor_list *list, psw_err *err) {
    if (list->n) qsort(list->v, list->n, sizeof *list->v, tensor_cmp);
    for (size_t i = 1; i < list->n; i++)
        if (strcmp(list->v[i].name, list->v[i - 1].name) == 0) {
            const psw_st_tensor *a = &list->v[i - 1], *b = &list->v[i];
            if (a->file == b->file)
                return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s appears twice in the header",
                                st->files[a->file].path, a->name);
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s appears in both %s and %s",
                            st->source, a->name, st->files[a->file].path, st->files[b->file].path);
        }
    st->tensors = list->v;
    st->n_tensors = list->n;
    return PSW_OK;
}

void psw_st_close(psw_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n_files; i++) {
        if (st->files[i].map) munmap(st->files[i].map, st->files[i].size);
        free(st->files[i].path);
    }
    free(st->files);
    for (size_t i = 0; i < st->n_tensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->source);
    memset(st, 0, sizeof *st);
}

psw_status psw_st_open_file(psw_safetensors *st, const char *path, psw_err *err) {
    memset(st, 0, sizeof *st);
    tensor_list list = {0};
    st->source = psw_xstrdup(path);
    st->files = psw_xcalloc(1, sizeof *st->files);
    st->n_files = 1;
    psw_status s = parse_file(path, 0, &st->files[0], &list, err);
    if (s == PSW_OK) s = finish_list(st, &list, err);
    if (s != PSW_OK) {
        list_free(&list);
        psw_st_close(st);
    }
    return s;
}

typedef struct map_entry {
    const char *name, *file; /* borrowed from the index JSON */
} map_entry;

static int map_entry_cmp(const void *a, const void *b) {
    return strcmp(((const map_entry *)a)->name, ((const map_entry *)b)->name);
}

psw_status psw_st_open_index(psw_safetensors *st, const char *index_path, psw_err *err) {
    memset(st, 0, sizeof *st);
    tensor_list list = {0};
    char *text = NULL, *dir = NULL;
    cJSON *root = NULL;
    map_entry *entries = NULL;
    const char *ip = index_path;
    psw_status s = psw_read_file(index_path, &text, NULL, err);
    if (s != PSW_OK) return s;
    st->source = psw_xstrdup(index_path);
    root = cJSON_Parse(text);
    if (!root || !cJSON_IsObject(root)) {
        s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not a valid JSON object", ip);
        goto fail;
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm)) {
        s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: weight_map missing or not an object", ip);
        goto fail;
    }
    int n_map = cJSON_GetArraySize(wm);
    entries = psw_xmalloc((size_t)(n_map ? n_map : 1) * sizeof *entries);
    st->files = psw_xcalloc((size_t)(n_map ? n_map : 1), sizeof *st->files);
    const char *slash = strrchr(index_path, '/');
    dir = psw_xstrdup(slash ? index_path : ".");
    if (slash) dir[slash == index_path ? 1 : slash - index_path] = '\0';
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, wm) {
        if (!cJSON_IsString(e)) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: weight_map: tensor %s: file name must be a string",
                         ip, e->string);
            goto fail;
        }
        const char *fname = e->valuestring;
        if (!*fname || strchr(fname, '/') || strcmp(fname, ".") == 0 || strcmp(fname, "..") == 0) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT,
                         "%s: weight_map: tensor %s: file \"%.64s\" must be a plain file name", ip,
                         e->string, fname);
            goto fail;
        }
        entries[k].name = e->string;
        entries[k++].file = fname;
        bool seen = false;
        for (int i = 0; i < st->n_files && !seen; i++) {
            const char *b = strrchr(st->files[i].path, '/');
            seen = strcmp(b ? b + 1 : st->files[i].path, fname) == 0;
        }
        if (seen) continue;
        char *path = psw_path_join(dir, fname);
        int fi = st->n_files++;
        s = parse_file(path, fi, &st->files[fi], &list, err);
        free(path);
        if (s != PSW_OK) goto fail;
    }
    qsort(entries, (size_t)k, sizeof *entries, map_entry_cmp);
    for (int i = 1; i < k; i++)
        if (strcmp(entries[i].name, entries[i - 1].name) == 0) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: weight_map lists tensor %s twice", ip,
                         entries[i].name);
            goto fail;
        }
    if ((s = finish_list(st, &list, err)) != PSW_OK) goto fail;
    list.v = NULL, list.n = 0; /* now owned by st */
    for (int i = 0; i < k; i++) {
        const psw_st_tensor *t = psw_st_find(st, entries[i].name);
        if (!t) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: weight_map names %s, which does not "
                         "contain it", ip, entries[i].name, entries[i].file);
            goto fail;
        }
        const char *p = st->files[t->file].path, *b = strrchr(p, '/');
        if (strcmp(b ? b + 1 : p, entries[i].file) != 0) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s: weight_map names %s but it is in %s",
                         ip, entries[i].name, entries[i].file, p);
            goto fail;
        }
    }
    for (size_t i = 0; i < st->n_tensors; i++) {
        map_entry key = {st->tensors[i].name, NULL};
        if (!bsearch(&key, entries, (size_t)k, sizeof *entries, map_entry_cmp)) {
            s = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: tensor %s is not listed in the weight_map of %s",
                         st->files[st->tensors[i].file].path, st->tensors[i].name, ip);
            goto fail;
        }
    }
fail:
    free(entries);
    free(dir);
    cJSON_Delete(root);
    free(text);
    if (s != PSW_OK) {
        list_free(&list);
        psw_st_close(st);
    }
    return s;
}

psw_status psw_st_open_dir(psw_safetensors *st, const char *dir, psw_err *err) {
    char *single = psw_path_join(dir, "model.safetensors");
    char *index = psw_path_join(dir, "model.safetensors.index.json");
    psw_status s;
    if (access(single, F_OK) == 0) s = psw_st_open_file(st, single, err);
    else if (access(index, F_OK) == 0) s = psw_st_open_index(st, index, err);
    else {
        memset(st, 0, sizeof *st);
        s = PSW_FAIL(err, PSW_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json",
                     dir);
    }
    free(single);
    free(index);
    return s;
}

const psw_st_tensor *psw_st_find(const psw_safetensors *st, const char *name) {
    if (st->n_tensors == 0) return NULL; /* tensors may be NULL */
    psw_st_tensor key;
    memset(&key, 0, sizeof key);
    key.name = (char *)(uintptr_t)name;
    return bsearch(&key, st->tensors, st->n_tensors, sizeof key, tensor_cmp);
}

const char *psw_st_file_of(const psw_safetensors *st, const psw_st_tensor *t) {
    PSW_ASSERT(t->file >= 0 && t->file < st->n_files);
    return st->files[t->file].path;
}

psw_status psw_st_read_f32(const psw_safetensors *st, const psw_st_tensor *t, float *out,
                           psw_err *err) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case PSW_DTYPE_F32:
        if (t->nbytes) memcpy(out, p, t->nbytes);
        return PSW_OK;
    case PSW_DTYPE_BF16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = psw_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return PSW_OK;
    case PSW_DTYPE_F16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = psw_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return PSW_OK;
    case PSW_DTYPE_OTHER: break;
    }
    return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                    "%s: tensor %s: dtype %s cannot be read as floats (F32, BF16 or F16 only)",
                    psw_st_file_of(st, t), t->name, t->dtype_str);
}

/* ---------------------------------------------------------------- writer */

typedef struct strbuf {
    char *s;
    size_t n, cap;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 1024;
        b->s = psw_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_printf(strbuf *b, const char *fmt, ...) PSW_PRINTF(2, 3);
static void sb_printf(strbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    PSW_ASSERT(n >= 0 && (size_t)n < sizeof tmp);
    sb_add(b, tmp, (size_t)n);
}

static void sb_json_string(strbuf *b, const char *s) {
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            sb_add(b, esc, 2);
        } else if (*p < 0x20) {
            sb_printf(b, "\\u%04x", *p);
        } else {
            sb_add(b, (const char *)p, 1);
        }
    }
    sb_add(b, "\"", 1);
}

static bool write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

/* Writes tensors [lo, hi) into one file at path. */
static psw_status write_shard(const char *path, const psw_st_write_tensor *ts, const size_t *numel,
                              size_t lo, size_t hi, psw_dtype dtype, psw_err *err) {
    size_t elsize = dtype == PSW_DTYPE_F32 ? 4 : 2;
    const char *dname = psw_dtype_name(dtype);
    strbuf h = {0};
    sb_add(&h, "{\"__metadata__\":{\"format\":\"pt\"}", 31);
    size_t off = 0;
    for (size_t i = lo; i < hi; i++) {
        sb_add(&h, ",", 1);
        sb_json_string(&h, ts[i].name);
        sb_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dname);
        for (int d = 0; d < ts[i].ndim; d++) sb_printf(&h, "%s%zu", d ? "," : "", ts[i].shape[d]);
        size_t nb = numel[i] * elsize;
        sb_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    sb_add(&h, "}", 1);
    while (h.n % 8 != 0) sb_add(&h, " ", 1); /* data starts 8-byte aligned, as HF writes it */

    psw_status st = PSW_OK;
    size_t plen = strlen(path) + 32;
    char *tmp = psw_xmalloc(plen);
    snprintf(tmp, plen, "%s.tmp%ld", path, (long)getpid());
    uint16_t *conv = NULL;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(((uint64_t)h.n >> (8 * i)) & 0xff);
    bool ok = write_all(f, len8, 8) && write_all(f, h.s, h.n);
    if (dtype == PSW_DTYPE_BF16) conv = psw_xmalloc(65536 * sizeof *conv);
    for (size_t i = lo; ok && i < hi; i++) {
        if (dtype == PSW_DTYPE_F32) {
            ok = write_all(f, ts[i].data, numel[i] * 4);
            continue;
        }
        for (size_t j = 0; ok && j < numel[i]; j += 65536) {
            size_t m = numel[i] - j < 65536 ? numel[i] - j : 65536;
            for (size_t q = 0; q < m; q++) conv[q] = psw_f32_to_bf16(ts[i].data[j + q]);
            ok = write_all(f, conv, m * 2);
        }
    }
    if (!ok) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto done;
    }
    st = psw_file_commit(f, tmp, path, err);
done:
    free(conv);
    free(tmp);
    free(h.s);
    return st;
}

/* Shard file names of an existing index in dir (for stale-file removal); NULL-terminated list,
 * empty when there is no readable index. */
static char **old_shards(const char *index_path) {
    char **out = psw_xcalloc(1, sizeof *out);
    size_t n = 0;
    char *text = NULL;
    if (psw_read_file(index_path, &text, NULL, NULL) != PSW_OK) return out;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map"), *e;
    if (cJSON_IsObject(wm)) {
        cJSON_ArrayForEach(e, wm) {
            if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !*e->valuestring) continue;
            bool seen = false;
            for (size_t i = 0; i < n && !seen; i++) seen = strcmp(out[i], e->valuestring) == 0;
            if (seen) continue;
            out = psw_xrealloc(out, (n + 2) * sizeof *out);
            out[n++] = psw_xstrdup(e->valuestring);
            out[n] = NULL;
        }
    }
    cJSON_Delete(root);
    return out;
}

static int name_ptr_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

psw_status psw_st_write(const char *dir, const psw_st_write_tensor *ts, size_t n, psw_dtype dtype,
                        size_t max_shard_bytes, psw_err *err) {
    if (dtype != PSW_DTYPE_F32 && dtype != PSW_DTYPE_BF16)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: can write F32 or BF16 only, not %s", dir,
                        psw_dtype_name(dtype));
    psw_status st = PSW_OK;
    size_t elsize = dtype == PSW_DTYPE_F32 ? 4 : 2;
    size_t *numel = psw_xcalloc(n ? n : 1, sizeof *numel);
    size_t *shard_of = psw_xcalloc(n ? n : 1, sizeof *shard_of);
    const char **names = psw_xcalloc(n ? n : 1, sizeof *names);
    char *index_path = psw_path_join(dir, "model.safetensors.index.json");
    char *single_path = psw_path_join(dir, "model.safetensors");
    char **stale = old_shards(index_path);
    char **shard_names = NULL;
    cJSON *index = NULL;
    size_t n_shards = 0, total = 0;

    for (size_t i = 0; i < n; i++) {
        PSW_ASSERT(ts[i].ndim >= 0 && ts[i].ndim <= PSW_ST_MAX_DIMS);
        size_t c = 1, nb;
        for (int d = 0; d < ts[i].ndim; d++)
            if (!psw_size_mul(c, ts[i].shape[d], &c)) c = SIZE_MAX;
        if (c == SIZE_MAX || !psw_size_mul(c, elsize, &nb) || !psw_size_add(total, nb, &total)) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: tensor %s: size overflows", dir,
                          ts[i].name);
            goto done;
        }
        numel[i] = c;
        names[i] = ts[i].name;
    }
    qsort(names, n, sizeof *names, name_ptr_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i], names[i - 1]) == 0) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: tensor %s given twice", dir, names[i]);
            goto done;
        }
    /* Greedy sharding in order, as transformers' shard_checkpoint does. */
    size_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        size_t nb = numel[i] * elsize;
        if (max_shard_bytes && cur > 0 && cur + nb > max_shard_bytes) {
            n_shards++;
            cur = 0;
        }
        shard_of[i] = n_shards;
        cur += nb;
    }
    n_shards++;

    if (n_shards == 1) {
        if ((st = write_shard(single_path, ts, numel, 0, n, dtype, err)) != PSW_OK) goto done;
        unlink(index_path);
        for (char **s = stale; *s; s++) {
            char *p = psw_path_join(dir, *s);
            unlink(p);
            free(p);
        }
        goto done;
    }
    shard_names = psw_xcalloc(n_shards, sizeof *shard_names);
    index = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(index, "metadata");
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    cJSON *wm = cJSON_AddObjectToObject(index, "weight_map");
    size_t lo = 0;
    for (size_t s = 0; s < n_shards; s++) {
        char fname[64];
        snprintf(fname, sizeof fname, "model-%05zu-of-%05zu.safetensors", s + 1, n_shards);
        shard_names[s] = psw_xstrdup(fname);
        size_t hi = lo;
        while (hi < n && shard_of[hi] == s) hi++;
        char *p = psw_path_join(dir, fname);
        st = write_shard(p, ts, numel, lo, hi, dtype, err);
        free(p);
        if (st != PSW_OK) goto done;
        for (size_t i = lo; i < hi; i++) cJSON_AddStringToObject(wm, ts[i].name, fname);
        lo = hi;
    }
    char *text = cJSON_Print(index);
    if (!text) PSW_ABORT("out of memory printing the safetensors index");
    st = psw_write_file(index_path, text, strlen(text), err);
    cJSON_free(text);
    if (st != PSW_OK) goto done;
    unlink(single_path);
    for (char **s = stale; *s; s++) {
        bool reused = false;
        for (size_t k = 0; k < n_shards && !reused; k++) reused = strcmp(*s, shard_names[k]) == 0;
        if (reused) continue;
        char *p = psw_path_join(dir, *s);
        unlink(p);
        free(p);
    }
done:
    cJSON_Delete(index);
    if (shard_names)
        for (size_t s = 0; s < n_shards; s++) free(shard_names[s]);
    free(shard_names);
    for (char **s = stale; *s; s++) free(*s);
    free(stale);
    free(index_path);
    free(single_path);
    free(names);
    free(shard_of);
    free(numel);
    return st;
}
