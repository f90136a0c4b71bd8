/* rng.h: explicit, seedable random numbers (no global state, no rand()).
 * splitmix64 seeding into xoshiro256**; floats from the top 24 bits so results are identical
 * on every platform. The caller owns the state struct. */
#ifndef PSW_RNG_H
#define PSW_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct psw_rng {
    uint64_t s[4];
} psw_rng;

void psw_rng_seed(psw_rng *r, uint64_t seed);
uint64_t psw_rng_u64(psw_rng *r);
/* Uniform in [0, n); n > 0. Unbiased (rejection). */
uint64_t psw_rng_below(psw_rng *r, uint64_t n);
/* Uniform float in [0, 1). */
float psw_rng_uniform(psw_rng *r);
/* Standard normal (Box-Muller, computed in double, rounded once to float). */
float psw_rng_normal(psw_rng *r);
/* In-place Fisher-Yates shuffle of n int32 values. */
void psw_rng_shuffle_i32(psw_rng *r, int32_t *v, size_t n);

#endif
