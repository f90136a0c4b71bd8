#define _XOPEN_SOURCE 700 /* nftw */
#include "test.h"

#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int psw_test_passed, psw_test_failed;

void psw_test_check(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        psw_test_passed++;
        return;
    }
    psw_test_failed++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void psw_test_check_close(double a, double b, double atol, double rtol, const char *file, int line,
                          const char *what) {
    int ok = isfinite(a) && isfinite(b) ? fabs(a - b) <= atol + rtol * fabs(b) : a == b;
    psw_test_check(ok, file, line, "%s: got %.9g want %.9g (atol %g rtol %g)", what, a, b, atol,
                   rtol);
}

void psw_test_check_ok(psw_status st, const psw_err *err, const char *file, int line,
                       const char *expr) {
    psw_test_check(st == PSW_OK, file, line, "%s returned %s: %s", expr, psw_status_str(st),
                   st == PSW_OK ? "" : err->msg);
}

void psw_test_check_fails(psw_status st, const psw_err *err, psw_status want, const char *needle,
                          const char *file, int line, const char *expr) {
    int ok = st == want && (!needle || strstr(err->msg, needle) != NULL);
    psw_test_check(ok, file, line, "%s: want %s containing \"%s\", got %s: \"%s\"", expr,
                   psw_status_str(want), needle ? needle : "", psw_status_str(st),
                   st == PSW_OK ? "" : err->msg);
    if (ok) printf("  expected error: %s\n", err->msg);
}

int psw_test_check_tensor(const char *name, const float *got, const float *want, size_t n,
                          double atol, double rtol) {
    double max_diff = 0.0;
    size_t bad = 0, first_bad = n;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= max_diff)) max_diff = isfinite(d) ? d : INFINITY;
        if (!(d <= atol + rtol * fabs((double)want[i]))) {
            if (first_bad == n) first_bad = i;
            bad++;
        }
    }
    printf("%-40s n=%zu max|diff|=%.3g", name, n, max_diff);
    for (size_t i = 0; i < n && i < 3; i++) printf("  [%zu] %.6g/%.6g", i, got[i], want[i]);
    printf("%s\n", bad ? "  MISMATCH" : "");
    if (bad)
        fprintf(stderr, "FAIL %s: %zu of %zu differ; first at %zu: got %.9g want %.9g\n", name,
                bad, n, first_bad, got[first_bad], want[first_bad]);
    psw_test_check(bad == 0, __FILE__, __LINE__, "tensor %s", name);
    return bad == 0;
}

const char *psw_test_shared_dir(void) {
    const char *d = getenv("PSW_SHARED_DIR");
    return d && *d ? d : NULL;
}

char *psw_test_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/psw_test_XXXXXX", base && *base ? base : "/tmp");
    char *dir = psw_xstrdup(tmpl);
    if (!mkdtemp(dir)) PSW_ABORT("mkdtemp %s failed", tmpl);
    return dir;
}

int psw_test_finish(void) {
    printf("%d passed, %d failed\n", psw_test_passed, psw_test_failed);
    return psw_test_failed == 0 && psw_test_passed > 0 ? 0 : 1;
}

psw_model_config psw_test_tiny_config(psw_arch arch, bool tied, int max_positions) {
    psw_model_config c = {0};
    c.arch = arch;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 37;
    c.max_position_embeddings = max_positions;
    c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f;
    c.tie_word_embeddings = tied;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int psw_test_rmtree(const char *dir) { return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
