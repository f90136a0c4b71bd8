/* pool_internal.h: private to src/kernels: pool helpers for the kernels' task splits. */
#ifndef PSW_KERNELS_POOL_INTERNAL_H
#define PSW_KERNELS_POOL_INTERNAL_H

#include "psw/kernels.h"

/* Contiguous fixed-size chunks: the number of chunks of `chunk` items covering n. */
static inline int psw_chunks(size_t n, size_t chunk) { return (int)((n + chunk - 1) / chunk); }

#endif
