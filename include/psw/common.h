/* common.h: status codes, the caller-owned error buffer, always-on asserts, allocation tiers,
 * logging and small checked-arithmetic helpers shared by every module.
 *
 * Two kinds of failure (see docs/errors.md):
 *  - runtime failures (I/O, bad input, big allocations, numerics) are returned as psw_status
 *    with a one-line message in a caller-owned psw_err;
 *  - programmer errors hit PSW_ASSERT / PSW_ABORT, which are on in every build type.
 * Nothing here is thread-safe except the pure helpers; logging is configured once at startup. */
#ifndef PSW_COMMON_H
#define PSW_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PSW_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))

/* Append-only; never renumber (stored in results files). */
typedef enum psw_status {
    PSW_OK = 0,
    PSW_ERR_NOMEM,       /* a model- or data-sized allocation failed */
    PSW_ERR_IO,          /* open/read/write/mmap failed; message carries path + strerror */
    PSW_ERR_FORMAT,      /* malformed file: safetensors, JSON, JSONL, tokenizer */
    PSW_ERR_INVALID_ARG, /* bad user input: out-of-range value, unknown key, bad flag */
    PSW_ERR_SHAPE,       /* tensor shape or dtype disagrees with the config */
    PSW_ERR_NUMERIC,     /* non-finite loss or gradient: the run diverged */
    PSW_ERR_UNSUPPORTED, /* a feature (architecture, dtype, tokenizer option) we do not implement */
    PSW_ERR_HDF5,
    PSW_ERR_MPI,
    PSW_ERR_INTERRUPTED, /* stopped by a signal; resumable */
    PSW_STATUS_COUNT
} psw_status;

#define PSW_ERR_MSG_SIZE 512

/* Caller-owned error detail. Functions that fail write one line (no trailing newline) here. */
typedef struct psw_err {
    psw_status status;
    char msg[PSW_ERR_MSG_SIZE];
} psw_err;

/* Static string, never NULL. */
const char *psw_status_str(psw_status s);

/* Fills err (which may be NULL) and returns s, so callers write `return PSW_FAIL(err, ...)`. */
psw_status psw_err_set(psw_err *err, psw_status s, const char *fmt, ...) PSW_PRINTF(3, 4);
#define PSW_FAIL(err, s, ...) psw_err_set((err), (s), __VA_ARGS__)

/* Prepends context ("load teacher: ") to an existing message; keeps the status. */
void psw_err_prefix(psw_err *err, const char *fmt, ...) PSW_PRINTF(2, 3);

/* Programmer errors: print file:line, flush, abort (MPI_Abort when a hook is installed). */
_Noreturn void psw_abort_at(const char *file, int line, const char *func, const char *fmt, ...)
    PSW_PRINTF(4, 5);
#define PSW_ABORT(...) psw_abort_at(__FILE__, __LINE__, __func__, __VA_ARGS__)
#define PSW_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) psw_abort_at(__FILE__, __LINE__, __func__, "assertion failed: %s", #cond);   \
    } while (0)

/* The sweep installs this so that an abort on one rank takes the whole job down cleanly. */
void psw_set_abort_hook(void (*hook)(void));

/* Small bookkeeping allocations: abort on OOM. Returned memory is owned by the caller (free()). */
void *psw_xmalloc(size_t n);
void *psw_xcalloc(size_t count, size_t size);
void *psw_xrealloc(void *p, size_t n);
char *psw_xstrdup(const char *s);

/* Model- or data-sized buffers: 64-byte aligned, NULL on failure (the caller reports
 * PSW_ERR_NOMEM). Release with free(). */
void *psw_try_alloc(size_t bytes);

/* Overflow-checked size arithmetic for sizes that come from files. Return false on overflow. */
bool psw_size_mul(size_t a, size_t b, size_t *out);
bool psw_size_add(size_t a, size_t b, size_t *out);

/* Wall-clock seconds from a monotonic clock. */
double psw_now(void);

/* Reads a whole file into a NUL-terminated buffer. On success *out is owned by the caller. */
psw_status psw_read_file(const char *path, char **out, size_t *len, psw_err *err);
/* Writes a buffer to path atomically (temp file + rename). */
psw_status psw_write_file(const char *path, const void *data, size_t len, psw_err *err);
/* Joins dir and name into a malloc'd path (caller frees). */
char *psw_path_join(const char *dir, const char *name);
/* The directory part of path, malloc'd: "" when there is none, "/" for the root. */
char *psw_path_dirname(const char *path);
/* Finishes a file written to tmp and moves it to path atomically: fclose, rename, and on any
 * failure unlink(tmp). f is always closed. Errors: PSW_ERR_IO naming path. */
psw_status psw_file_commit(FILE *f, const char *tmp, const char *path, psw_err *err);
/* mkdir -p; ok if it exists. */
psw_status psw_mkdir_p(const char *path, psw_err *err);

/* Strict integer / float parsing for command-line values; false when s is not entirely a number. */
bool psw_parse_long(const char *s, long *out);
bool psw_parse_double(const char *s, double *out);

/* ---- logging ---- */
typedef enum psw_log_level {
    PSW_LOG_LEVEL_ERROR = 0,
    PSW_LOG_LEVEL_WARN,
    PSW_LOG_LEVEL_INFO,
    PSW_LOG_LEVEL_DEBUG
} psw_log_level;

extern psw_log_level psw_log_current_level; /* set once at startup; read by the macros */
void psw_log_set_level(psw_log_level level);
/* Reads PSW_LOG_LEVEL (error|warn|info|debug) from the environment, if set. */
void psw_log_init_from_env(void);
/* Rank and config id shown on every line; -1 prints "-". */
void psw_log_set_context(int rank, long long config_id);
void psw_log_write(psw_log_level level, const char *fmt, ...) PSW_PRINTF(2, 3);

#define PSW_LOG(level, ...)                                                                        \
    do {                                                                                           \
        if ((level) <= psw_log_current_level) psw_log_write((level), __VA_ARGS__);                \
    } while (0)
#define PSW_LOG_ERROR(...) PSW_LOG(PSW_LOG_LEVEL_ERROR, __VA_ARGS__)
#define PSW_LOG_WARN(...) PSW_LOG(PSW_LOG_LEVEL_WARN, __VA_ARGS__)
#define PSW_LOG_INFO(...) PSW_LOG(PSW_LOG_LEVEL_INFO, __VA_ARGS__)
#define PSW_LOG_DEBUG(...) PSW_LOG(PSW_LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Progress on stderr for long work: "label: done/total, rate/s, ETA". Throttled to one line
 * every `interval` seconds, plus the final line. Caller owns the struct. */
typedef struct psw_progress {
    const char *label; /* borrowed */
    const char *unit;  /* borrowed, e.g. "examples" */
    long long total;
    double start, last_print, interval;
} psw_progress;
void psw_progress_start(psw_progress *p, const char *label, const char *unit, long long total);
void psw_progress_update(psw_progress *p, long long done);

/* 64-bit FNV-1a, for fingerprints and stable config ids. */
uint64_t psw_fnv1a(const void *data, size_t len, uint64_t seed);
#define PSW_FNV_SEED 0xcbf29ce484222325ULL

#endif
