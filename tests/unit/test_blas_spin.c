/* test_blas_spin.c: psw_blas_tune_spin.
 *  - With OPENBLAS_THREAD_TIMEOUT unset it sets the variable to PSW_BLAS_SPIN_LOG2, OpenBLAS
 *    reports that timeout, and the restarted threads compute a 2-thread sgemm equal to a plain
 *    loop (within fp32 rounding) and bit-identical to the same call before the restart.
 *  - A second call changes nothing.
 *  - With the variable set by the user (a child process started with OPENBLAS_THREAD_TIMEOUT=8)
 *    it keeps the user's value.
 * Skipped (77) when this OpenBLAS does not expose the timeout. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "psw/kernels.h"
#include "test.h"

extern int openblas_thread_timeout(void) __attribute__((weak));

enum { M = 300, K = 200, N = 260 };

static void sgemm2(const float *a, const float *b, float *c) {
    openblas_set_num_threads(2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
}

static int child_user_set(void) {
    int got = psw_blas_tune_spin();
    const char *v = getenv("OPENBLAS_THREAD_TIMEOUT");
    CHECK(got == 8, "user's OPENBLAS_THREAD_TIMEOUT=8 is kept (got %d)", got);
    CHECK(v && strcmp(v, "8") == 0, "the variable is left as the user set it (%s)", v ? v : "unset");
    return psw_test_finish();
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--child") == 0) return child_user_set();
    if (!openblas_thread_timeout) {
        printf("skipped: this OpenBLAS does not export openblas_thread_timeout\n");
        return 77;
    }
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N);
    float *before = malloc(sizeof(float) * M * N), *after = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 37 % 101) - 50) / 64.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 53 % 97) - 48) / 32.0f;
    sgemm2(a, b, before); /* threads running with the timeout read at load */

    unsetenv("OPENBLAS_THREAD_TIMEOUT");
    int got = psw_blas_tune_spin();
    CHECK(got == PSW_BLAS_SPIN_LOG2, "timeout set to %d (got %d)", PSW_BLAS_SPIN_LOG2, got);
    CHECK(openblas_thread_timeout() == PSW_BLAS_SPIN_LOG2, "OpenBLAS reports %d",
          openblas_thread_timeout());
    const char *v = getenv("OPENBLAS_THREAD_TIMEOUT");
    CHECK(v && atoi(v) == PSW_BLAS_SPIN_LOG2, "OPENBLAS_THREAD_TIMEOUT=%s", v ? v : "unset");

    sgemm2(a, b, after);
    CHECK(memcmp(before, after, sizeof(float) * M * N) == 0,
          "the restarted threads give the same sgemm bits");
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
            double e = fabs(s - after[i * N + j]) / (fabs(s) + 1.0);
            worst = e > worst ? e : worst;
        }
    CHECK(worst < 1e-5, "2-thread sgemm after the restart matches the loop (worst %.2g)", worst);
    CHECK(psw_blas_tune_spin() == PSW_BLAS_SPIN_LOG2, "a second call keeps the timeout");

    /* A process started with the variable set keeps it. */
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "8", 1);
        /* argv[0], not /proc/self/exe: under valgrind that is valgrind's launcher */
        execl(argv[0], argv[0], "--child", (char *)NULL);
        _exit(127);
    }
    int status = -1;
    bool waited = pid > 0 && waitpid(pid, &status, 0) == pid;
    CHECK(waited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the child with OPENBLAS_THREAD_TIMEOUT=8 passed (wait status %d)", status);
    free(a), free(b), free(before), free(after);
    return psw_test_finish();
}
