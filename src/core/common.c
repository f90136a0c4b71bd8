/* common.c: status strings, error buffers, aborts, allocation tiers, file helpers. */
#include "psw/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const status_names[PSW_STATUS_COUNT] = {
    [PSW_OK] = "ok",
    [PSW_ERR_NOMEM] = "out of memory",
    [PSW_ERR_IO] = "I/O error",
    [PSW_ERR_FORMAT] = "malformed input",
    [PSW_ERR_INVALID_ARG] = "invalid argument",
    [PSW_ERR_SHAPE] = "shape mismatch",
    [PSW_ERR_NUMERIC] = "diverged",
    [PSW_ERR_UNSUPPORTED] = "unsupported",
    [PSW_ERR_HDF5] = "HDF5 error",
    [PSW_ERR_MPI] = "MPI error",
    [PSW_ERR_INTERRUPTED] = "interrupted",
};

const char *psw_status_str(psw_status s) {
    if ((int)s < 0 || s >= PSW_STATUS_COUNT) return "unknown status";
    return status_names[s];
}

/* Names from files (tensor names, JSON keys) may hold control bytes; an error stays one line:
 * they are shown as \n, \t or \xHH. */
static void one_line(char *msg) {
    char out[PSW_ERR_MSG_SIZE];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof out; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            out[o++] = (char)*p;
        else if (*p == '\n')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\n");
        else if (*p == '\t')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\t");
        else
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", *p);
    }
    out[o] = '\0';
    memcpy(msg, out, o + 1);
}

psw_status psw_err_set(psw_err *err, psw_status s, const char *fmt, ...) {
    if (err) {
        err->status = s;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        one_line(err->msg);
    }
    return s;
}

void psw_err_prefix(psw_err *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[PSW_ERR_MSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strnlen(prefix, sizeof prefix - 1);
    size_t mlen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen + mlen > sizeof err->msg - 1) mlen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
    one_line(err->msg);
}

static void (*abort_hook)(void);

void psw_set_abort_hook(void (*hook)(void)) { abort_hook = hook; }

_Noreturn void psw_abort_at(const char *file, int line, const char *func, const char *fmt, ...) {
    fprintf(stderr, "%s:%d %s: internal error: ", file, line, func);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    if (abort_hook) abort_hook();
    abort();
}

void *psw_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) PSW_ABORT("out of memory allocating %zu bytes", n);
    return p;
}

void *psw_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) PSW_ABORT("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *psw_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) PSW_ABORT("out of memory reallocating %zu bytes", n);
    return q;
}

char *psw_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = psw_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

void *psw_try_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

bool psw_size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}

bool psw_size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return false;
    *out = a + b;
    return true;
}

double psw_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

psw_status psw_read_file(const char *path, char **out, size_t *len, psw_err *err) {
    *out = NULL;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    psw_status st = PSW_OK;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: is a directory, expected a file", path);
        goto fail;
    }
    size_t size = (size_t)sb.st_size;
    buf = psw_try_alloc(size + 1);
    if (!buf) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
        goto fail;
    }
    if (size > 0 && fread(buf, 1, size, f) != size) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: short read", path);
        goto fail;
    }
    buf[size] = '\0';
    if (fclose(f) != 0) {
        f = NULL;
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto fail;
    }
    *out = buf;
    if (len) *len = size;
    return PSW_OK;
fail:
    free(buf);
    if (f) fclose(f);
    return st;
}

psw_status psw_write_file(const char *path, const void *data, size_t len, psw_err *err) {
    size_t tmp_len = strlen(path) + 16;
    char *tmp = psw_xmalloc(tmp_len);
    snprintf(tmp, tmp_len, "%s.tmp%ld", path, (long)getpid());
    psw_status st = PSW_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    if (len > 0 && fwrite(data, 1, len, f) != len) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto done;
    }
    st = psw_file_commit(f, tmp, path, err);
done:
    free(tmp);
    return st;
}

char *psw_path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return psw_xstrdup("");
    if (slash == path) return psw_xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *dir = psw_xmalloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

psw_status psw_file_commit(FILE *f, const char *tmp, const char *path, psw_err *err) {
    if (fclose(f) != 0) {
        int e = errno;
        unlink(tmp);
        return PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return PSW_FAIL(err, PSW_ERR_IO, "%s: rename failed: %s", path, strerror(e));
    }
    return PSW_OK;
}

char *psw_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = psw_xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t at = a;
    if (a > 0 && dir[a - 1] != '/') p[at++] = '/';
    memcpy(p + at, name, b + 1);
    return p;
}

psw_status psw_mkdir_p(const char *path, psw_err *err) {
    char *copy = psw_xstrdup(path);
    psw_status st = PSW_OK;
    for (char *p = copy + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
                st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot create directory: %s", copy,
                              strerror(errno));
                break;
            }
            *p = saved;
            if (saved == '\0') break;
        }
    }
    if (st == PSW_OK) {
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = PSW_FAIL(err, PSW_ERR_IO, "%s: exists and is not a directory", path);
    }
    free(copy);
    return st;
}

bool psw_parse_long(const char *s, long *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

bool psw_parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !isfinite(v)) return false;
    *out = v;
    return true;
}

uint64_t psw_fnv1a(const void *data, size_t len, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
