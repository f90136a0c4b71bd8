/* rng.c: splitmix64-seeded xoshiro256** (Blackman & Vigna). */
#include "psw/rng.h"

#include <math.h>
#include <stddef.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void psw_rng_seed(psw_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t psw_rng_u64(psw_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t psw_rng_below(psw_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = psw_rng_u64(r);
    while (v >= limit);
    return v % n;
}

float psw_rng_uniform(psw_rng *r) { return (float)(psw_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float psw_rng_normal(psw_rng *r) {
    double u1 = ((double)(psw_rng_u64(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    double u2 = (double)(psw_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void psw_rng_shuffle_i32(psw_rng *r, int32_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)psw_rng_below(r, i);
        int32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
