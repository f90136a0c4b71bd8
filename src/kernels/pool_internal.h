/* pool_internal.h: private to src/kernels: pool helpers for kernels that call BLAS in tasks. */
#ifndef PSW_KERNELS_POOL_INTERNAL_H
#define PSW_KERNELS_POOL_INTERNAL_H

#include "psw/kernels.h"

/* psw_pool_run with OpenBLAS held at one thread for the job (restored after): the GEMMs inside
 * tasks are small, and several pool threads each asking OpenBLAS for its threads would only
 * queue on its lock. The same single-threaded GEMMs run at every pool size, so results do not
 * depend on it. Must be called from the thread of control, not from a task. */
void psw_pool_run_blas1(int n_tasks, psw_pool_task fn, void *ctx);

/* Contiguous fixed-size chunks: the number of chunks of `chunk` items covering n. */
static inline int psw_chunks(size_t n, size_t chunk) { return (int)((n + chunk - 1) / chunk); }

#endif
