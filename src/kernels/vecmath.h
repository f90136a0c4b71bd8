/* vecmath.h: private to src/kernels: helpers that let the compiler vectorise the element-wise
 * kernels: an exp that is plain arithmetic (libm's expf is a call per element), and a macro that
 * builds AVX-512 / AVX2 clones of a function next to the baseline one, picked at load time, so
 * the binary stays portable across cluster nodes (PSW_NATIVE off).
 *
 * Determinism: the clones run the same operations in the same order (ISO C mode does not
 * contract a*b+c into FMA), so every clone gives bit-identical results. Sums that must be in
 * double use PSW_LANES independent partial sums combined in a fixed order, which the compiler
 * can vectorise without reassociating anything. */
#ifndef PSW_KERNELS_VECMATH_H
#define PSW_KERNELS_VECMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
/* clang 14 emits only NAME.ifunc for target_clones, which other files cannot link against. */
#if __has_attribute(target_clones) && !defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define PSW_VEC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef PSW_VEC_CLONES
#define PSW_VEC_CLONES
#endif
/* Helpers must be inlined into each clone (GCC does not inline across target options otherwise). */
#if defined(__GNUC__)
#define PSW_VEC_INLINE static inline __attribute__((always_inline))
#else
#define PSW_VEC_INLINE static inline
#endif

/* Partial sums per reduction: a multiple of every vector width in doubles. */
#define PSW_LANES 8

/* e^x for x <= 88 (larger x, +inf included, gives e^88: far above anything the kernels pass,
 * which all subtract a row maximum or feed 1/(1+e^x)); x < -87.3 gives 0; NaN stays NaN. Cephes
 * expf: range reduction by ln 2 in two parts and a degree-6 polynomial, relative error below
 * 2e-7, checked against libm in tests/unit/test_kernels_fast.c. */
PSW_VEC_INLINE float psw_vexpf(float x) {
    /* Written so that NaN clamps too (every comparison with NaN is false): the integer
     * conversion below then always sees a finite n. */
    float xc = x < 88.0f ? x : 88.0f;
    xc = xc > -87.3f ? xc : -87.3f;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |n| < 2^22). */
    float t = xc * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * (r * r) + r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    y = y * scale;
    y = x == x ? y : x;
    return x < -87.3f ? 0.0f : y;
}

#endif
