/* test.h: minimal test harness. Checks continue past failures; psw_test_finish() prints
 * "N passed, M failed" and returns the process exit code (0 only if nothing failed).
 * Tests needing ../shared call psw_test_shared_dir(), which returns NULL when PSW_SHARED_DIR
 * is unset; the test then exits with PSW_TEST_SKIP (77, CTest's skip code). */
#ifndef PSW_TEST_H
#define PSW_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "psw/common.h"
#include "psw/config.h"

#define PSW_TEST_SKIP 77

extern int psw_test_passed, psw_test_failed;

void psw_test_check(int ok, const char *file, int line, const char *fmt, ...) PSW_PRINTF(4, 5);
#define CHECK(cond, ...) psw_test_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol, what)                                                        \
    psw_test_check_close((double)(a), (double)(b), (atol), (rtol), __FILE__, __LINE__, (what))
void psw_test_check_close(double a, double b, double atol, double rtol, const char *file, int line,
                          const char *what);
/* Checks a status is PSW_OK, printing err->msg otherwise. */
#define CHECK_OK(st, err) psw_test_check_ok((st), (err), __FILE__, __LINE__, #st)
void psw_test_check_ok(psw_status st, const psw_err *err, const char *file, int line,
                       const char *expr);
/* Checks a call failed with status `want` and its message contains `needle`. */
#define CHECK_FAILS(st, err, want, needle)                                                         \
    psw_test_check_fails((st), (err), (want), (needle), __FILE__, __LINE__, #st)
void psw_test_check_fails(psw_status st, const psw_err *err, psw_status want, const char *needle,
                          const char *file, int line, const char *expr);
/* Compares arrays elementwise with |got-want| <= atol + rtol*|want|; prints the first values and
 * the max difference (llm.c style). Returns 1 if all match. */
int psw_test_check_tensor(const char *name, const float *got, const float *want, size_t n,
                          double atol, double rtol);

/* The tests' tiny transformer: C=16 H=24 L=2 NH=4 NKV=2 (GQA) HD=4 V=37, rope_theta 1e4, RMSNorm
 * eps 1e-5, no special token ids. */
psw_model_config psw_test_tiny_config(psw_arch arch, bool tied, int max_positions);

const char *psw_test_shared_dir(void);
/* Path of a fresh temporary directory (caller frees); aborts on failure. */
char *psw_test_tmpdir(void);
/* Removes dir and everything below it (no symlinks followed); 0 on success. */
int psw_test_rmtree(const char *dir);
int psw_test_finish(void);

#endif
