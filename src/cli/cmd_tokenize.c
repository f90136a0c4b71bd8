/* cmd_tokenize.c: `prunesweep tokenize TOKENIZER.json [--whole] [--decode] [--time]`.
 * Encode (default): one line of space-separated ids per stdin line (the '\n' is not encoded;
 * a '\r' before it is). --whole encodes all of stdin as one text and prints one line.
 * --decode reads lines of ids and prints each decoded line followed by '\n'; with --whole it
 * decodes all ids of stdin as one sequence and writes the bytes exactly (no newline added).
 * --time prints the encode/decode time and throughput (excluding load and I/O) on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/tokenizer.h"

static const char usage[] = "usage: prunesweep tokenize TOKENIZER.json [--whole] [--decode] [--time]";

static bool read_all(FILE *f, char **out, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return false;
    for (;;) {
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return false;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return false;
    }
    *out = buf;
    *len = n;
    return true;
}

static void print_ids(const int32_t *ids, size_t n) {
    char tmp[16];
    for (size_t i = 0; i < n; i++) {
        int32_t v = ids[i];
        int k = 0;
        do {
            tmp[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        if (i) putchar(' ');
        while (k) putchar(tmp[--k]);
    }
    putchar('\n');
}

/* Parses a line of space/tab-separated non-negative ids. Returns false on a bad token. */
static bool parse_ids(char *line, int32_t **ids, size_t *n, size_t *cap) {
    *n = 0;
    char *save = NULL;
    for (char *tokp = strtok_r(line, " \t\r\n", &save); tokp; tokp = strtok_r(NULL, " \t\r\n", &save)) {
        long v;
        if (!psw_parse_long(tokp, &v) || v < 0 || v > INT32_MAX) return false;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *ids = psw_xrealloc(*ids, *cap * sizeof **ids);
        }
        (*ids)[(*n)++] = (int32_t)v;
    }
    return true;
}

static int run_encode(const psw_tokenizer *tok, bool whole, bool timing) {
    psw_err err = {0};
    double t_work = 0.0;
    size_t bytes = 0, n_total = 0;
    if (whole) {
        char *text;
        size_t len;
        if (!read_all(stdin, &text, &len)) {
            psw_cli_error("tokenize: cannot read stdin: %s", strerror(errno));
            return PSW_EXIT_FAIL;
        }
        int32_t *ids;
        size_t n;
        double t0 = psw_now();
        psw_status st = psw_tokenizer_encode(tok, text, len, &ids, &n, &err);
        t_work = psw_now() - t0;
        free(text);
        if (st) {
            psw_cli_error("tokenize: stdin: %s", err.msg);
            return PSW_EXIT_FAIL;
        }
        print_ids(ids, n);
        free(ids);
        bytes = len;
        n_total = n;
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        long lineno = 0;
        while ((got = getline(&line, &cap, stdin)) >= 0) {
            lineno++;
            size_t len = (size_t)got;
            if (len && line[len - 1] == '\n') len--;
            int32_t *ids;
            size_t n;
            double t0 = psw_now();
            psw_status st = psw_tokenizer_encode(tok, line, len, &ids, &n, &err);
            t_work += psw_now() - t0;
            if (st) {
                psw_cli_error("tokenize: stdin line %ld: %s", lineno, err.msg);
                free(line);
                return PSW_EXIT_FAIL;
            }
            print_ids(ids, n);
            free(ids);
            bytes += len;
            n_total += n;
        }
        free(line);
        if (ferror(stdin)) {
            psw_cli_error("tokenize: cannot read stdin: %s", strerror(errno));
            return PSW_EXIT_FAIL;
        }
    }
    if (timing)
        fprintf(stderr, "tokenize: encoded %zu bytes into %zu ids in %.6f s (%.2f MB/s)\n", bytes, n_total,
                t_work, t_work > 0 ? bytes / t_work / 1e6 : 0.0);
    return PSW_EXIT_OK;
}

static int run_decode(const psw_tokenizer *tok, bool whole, bool timing) {
    psw_err err = {0};
    int32_t *ids = NULL;
    size_t n = 0, idcap = 0, bytes = 0;
    double t_work = 0.0;
    int rc = PSW_EXIT_OK;
    char *line = NULL;
    if (whole) {
        size_t len;
        if (!read_all(stdin, &line, &len)) {
            psw_cli_error("tokenize: cannot read stdin: %s", strerror(errno));
            return PSW_EXIT_FAIL;
        }
        char *z = psw_xrealloc(line, len + 1);
        z[len] = '\0';
        line = z;
        if (!parse_ids(line, &ids, &n, &idcap)) {
            psw_cli_error("tokenize: stdin: expected space-separated ids in [0, %d]", INT32_MAX);
            rc = PSW_EXIT_FAIL;
            goto done;
        }
        char *text;
        size_t tlen;
        double t0 = psw_now();
        psw_status st = psw_tokenizer_decode(tok, ids, n, &text, &tlen, &err);
        t_work = psw_now() - t0;
        if (st) {
            psw_cli_error("tokenize: stdin: %s", err.msg);
            rc = PSW_EXIT_FAIL;
            goto done;
        }
        fwrite(text, 1, tlen, stdout);
        bytes = tlen;
        free(text);
    } else {
        size_t cap = 0;
        long lineno = 0;
        while (getline(&line, &cap, stdin) >= 0) {
            lineno++;
            if (!parse_ids(line, &ids, &n, &idcap)) {
                psw_cli_error("tokenize: stdin line %ld: expected space-separated ids in [0, %d]", lineno,
                              INT32_MAX);
                rc = PSW_EXIT_FAIL;
                goto done;
            }
            char *text;
            size_t tlen;
            double t0 = psw_now();
            psw_status st = psw_tokenizer_decode(tok, ids, n, &text, &tlen, &err);
            t_work += psw_now() - t0;
            if (st) {
                psw_cli_error("tokenize: stdin line %ld: %s", lineno, err.msg);
                rc = PSW_EXIT_FAIL;
                goto done;
            }
            fwrite(text, 1, tlen, stdout);
            putchar('\n');
            bytes += tlen;
            free(text);
        }
    }
    if (timing)
        fprintf(stderr, "tokenize: decoded %zu bytes in %.6f s (%.2f MB/s)\n", bytes, t_work,
                t_work > 0 ? bytes / t_work / 1e6 : 0.0);
done:
    free(line);
    free(ids);
    return rc;
}

int psw_cmd_tokenize(int argc, char **argv) {
    const char *path = NULL;
    bool whole = false, decode = false, timing = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--whole") == 0) {
            whole = true;
        } else if (strcmp(argv[i], "--decode") == 0) {
            decode = true;
        } else if (strcmp(argv[i], "--time") == 0) {
            timing = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts(usage);
            return PSW_EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            psw_cli_error("tokenize: unknown option '%s' (%s)", argv[i], usage);
            return PSW_EXIT_USAGE;
        } else if (path) {
            psw_cli_error("tokenize: more than one tokenizer file given (%s)", usage);
            return PSW_EXIT_USAGE;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        psw_cli_error("tokenize: missing TOKENIZER.json (%s)", usage);
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_tokenizer *tok;
    if (psw_tokenizer_load(path, &tok, &err)) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    int rc = decode ? run_decode(tok, whole, timing) : run_encode(tok, whole, timing);
    if (fflush(stdout) != 0 && rc == PSW_EXIT_OK) {
        psw_cli_error("tokenize: cannot write stdout: %s", strerror(errno));
        rc = PSW_EXIT_FAIL;
    }
    psw_tokenizer_free(tok);
    return rc;
}
