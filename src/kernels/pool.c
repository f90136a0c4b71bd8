/* pool.c: the persistent worker pool behind psw_pool_run. Workers are created on first need and
 * sleep on a condition variable between jobs (OpenBLAS runs its own pthreads on the same cores,
 * and a spinning pool would starve them). A job is n tasks split into contiguous ranges, one
 * per thread; which thread runs a task never changes its result, because every task writes
 * its own outputs and callers reduce per-task partial results in task order. */
#include <cblas.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "psw/common.h"
#include "psw/kernels.h"
#include "kernels/pool_internal.h"

#define POOL_MAX 64

typedef struct pool {
    int n_workers;     /* started workers (thread ids 1..n_workers) */
    unsigned long start_gen[POOL_MAX]; /* gen when each worker was created */
    unsigned long gen; /* job generation; workers wait for it to change */
    int job_threads;   /* threads taking part in the current job, caller included */
    int pending;       /* workers of the current job still running */
    psw_pool_task fn;
    void *ctx;
    int n_tasks;
    float *scratch;    /* per-thread scratch, scratch_floats each */
    size_t scratch_floats, scratch_threads;
} pool;

static pool g_pool;
/* g_mu guards g_pool; workers sleep on g_wake, the caller waits on g_done. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake = PTHREAD_COND_INITIALIZER, g_done = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t g_run_mu = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static int g_explicit;          /* psw_pool_set_threads value; 0 = follow OpenBLAS */
static _Thread_local int t_in_job; /* nested calls run inline */

static void run_range(psw_pool_task fn, void *ctx, int n_tasks, int thread, int n_threads) {
    int lo = (int)((long long)n_tasks * thread / n_threads);
    int hi = (int)((long long)n_tasks * (thread + 1) / n_threads);
    for (int t = lo; t < hi; t++) fn(ctx, t, thread);
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    pool *p = &g_pool;
    t_in_job = 1;
    pthread_mutex_lock(&g_mu);
    unsigned long seen = p->start_gen[id]; /* a job may have started before this thread ran */
    for (;;) {
        while (p->gen == seen) pthread_cond_wait(&g_wake, &g_mu);
        seen = p->gen;
        if (id >= p->job_threads) continue;
        psw_pool_task fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_tasks, nt = p->job_threads;
        pthread_mutex_unlock(&g_mu);
        run_range(fn, ctx, n, id, nt);
        pthread_mutex_lock(&g_mu);
        if (--p->pending == 0) pthread_cond_signal(&g_done);
    }
    return NULL;
}

void psw_pool_set_threads(int n) {
    pthread_mutex_lock(&g_run_mu);
    g_explicit = n > POOL_MAX ? POOL_MAX : (n < 0 ? 0 : n);
    pthread_mutex_unlock(&g_run_mu);
}

int psw_pool_threads(void) {
    int n = g_explicit;
    if (n <= 0) n = openblas_get_num_threads();
    if (n < 1) n = 1;
    return n > POOL_MAX ? POOL_MAX : n;
}

/* Starts workers up to n_threads - 1; returns how many threads a job can use. */
static int ensure_workers(int n_threads) {
    pool *p = &g_pool;
    pthread_mutex_lock(&g_mu);
    while (p->n_workers < n_threads - 1) {
        pthread_attr_t attr;
        pthread_t tid;
        p->start_gen[p->n_workers + 1] = p->gen;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&tid, &attr, worker,
                                (void *)(intptr_t)(p->n_workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break; /* fewer threads: same results, just slower */
        p->n_workers++;
    }
    int avail = p->n_workers + 1;
    pthread_mutex_unlock(&g_mu);
    return avail < n_threads ? avail : n_threads;
}

static void pool_run(int nt, int n_tasks, psw_pool_task fn, void *ctx) {
    if (nt > n_tasks) nt = n_tasks;
    if (nt <= 1 || t_in_job) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&g_run_mu);
    nt = ensure_workers(nt);
    pool *p = &g_pool;
    pthread_mutex_lock(&g_mu);
    p->fn = fn, p->ctx = ctx, p->n_tasks = n_tasks;
    p->job_threads = nt;
    p->pending = nt - 1;
    p->gen++;
    pthread_cond_broadcast(&g_wake);
    pthread_mutex_unlock(&g_mu);
    t_in_job = 1;
    run_range(fn, ctx, n_tasks, 0, nt);
    t_in_job = 0;
    pthread_mutex_lock(&g_mu);
    while (p->pending > 0) pthread_cond_wait(&g_done, &g_mu);
    pthread_mutex_unlock(&g_mu);
    pthread_mutex_unlock(&g_run_mu);
}

void psw_pool_run(int n_tasks, psw_pool_task fn, void *ctx) {
    pool_run(psw_pool_threads(), n_tasks, fn, ctx);
}

void psw_pool_run_blas1(int n_tasks, psw_pool_task fn, void *ctx) {
    int nt = psw_pool_threads(); /* read first: it may follow OpenBLAS's count */
    int blas = openblas_get_num_threads();
    if (blas > 1 && !t_in_job) openblas_set_num_threads(1);
    pool_run(nt, n_tasks, fn, ctx);
    if (blas > 1 && !t_in_job) openblas_set_num_threads(blas);
}

float *psw_pool_scratch(size_t floats_per_thread) {
    pool *p = &g_pool;
    size_t nt = (size_t)psw_pool_threads();
    pthread_mutex_lock(&g_run_mu);
    /* Grown, never shrunk: after the first step of a shape nothing is allocated. */
    if (p->scratch_floats < floats_per_thread || p->scratch_threads < nt) {
        free(p->scratch);
        p->scratch = NULL;
        p->scratch_floats = 0, p->scratch_threads = 0;
        size_t floats, bytes;
        if (psw_size_mul(floats_per_thread, nt, &floats) &&
            psw_size_mul(floats, sizeof(float), &bytes) &&
            (p->scratch = psw_try_alloc(bytes)) != NULL)
            p->scratch_floats = floats_per_thread, p->scratch_threads = nt;
    }
    float *s = p->scratch;
    pthread_mutex_unlock(&g_run_mu);
    return s;
}

/* OpenBLAS internals that its pthread build exports (openblas_read_env, blas_thread_init and
 * blas_thread_shutdown_ are what its own fork handler uses). Weak: an OpenBLAS without them (the
 * OpenMP or serial builds) leaves them NULL and the tuning is skipped. */
extern int openblas_thread_timeout(void) __attribute__((weak));
extern void openblas_read_env(void) __attribute__((weak));
extern int blas_thread_init(void) __attribute__((weak));
extern int blas_thread_shutdown_(void) __attribute__((weak));

int psw_blas_tune_spin(void) {
    if (!openblas_thread_timeout || !openblas_read_env || !blas_thread_init ||
        !blas_thread_shutdown_)
        return -1;
    const char *set = getenv("OPENBLAS_THREAD_TIMEOUT");
    if (set && *set) return openblas_thread_timeout();
    char v[16];
    snprintf(v, sizeof v, "%d", PSW_BLAS_SPIN_LOG2);
    if (setenv("OPENBLAS_THREAD_TIMEOUT", v, 1) != 0) return openblas_thread_timeout();
    openblas_read_env();
    /* The workers read the timeout when they start: restart them. */
    blas_thread_shutdown_();
    blas_thread_init();
    return openblas_thread_timeout();
}
