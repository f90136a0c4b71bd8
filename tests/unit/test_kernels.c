/* test_kernels.c: each BLAS-backed kernel against its plain-loop _ref twin on random inputs
 * (normalised MSE <= 1e-10), plus hand-computed values for the loss row and the RoPE table. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "psw/kernels.h"
#include "psw/rng.h"
#include "test.h"

static float *rnd(psw_rng *r, size_t n, float scale) {
    float *x = psw_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * psw_rng_normal(r);
    return x;
}

static float *copy(const float *x, size_t n) {
    float *y = psw_xmalloc(n * sizeof(float));
    memcpy(y, x, n * sizeof(float));
    return y;
}

/* ggml-style normalised mean squared error. */
static double nmse(const float *a, const float *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

static void check_nmse(const char *what, const float *got, const float *want, size_t n) {
    double e = nmse(got, want, n);
    printf("%-32s n=%zu nmse=%.3g\n", what, n, e);
    CHECK(e <= 1e-10, "%s: nmse %.3g > 1e-10", what, e);
}

static void test_matmul(psw_rng *r, int N, int IN, int OUT) {
    float *x = rnd(r, (size_t)N * IN, 1.0f), *w = rnd(r, (size_t)OUT * IN, 0.5f);
    float *dout = rnd(r, (size_t)N * OUT, 1.0f);
    float *o1 = psw_xmalloc(sizeof(float) * N * OUT), *o2 = psw_xmalloc(sizeof(float) * N * OUT);
    psw_matmul_forward(o1, x, w, N, IN, OUT);
    psw_matmul_forward_ref(o2, x, w, N, IN, OUT);
    check_nmse("matmul_forward", o1, o2, (size_t)N * OUT);
    /* backward accumulates: start both from the same nonzero values */
    float *dx1 = rnd(r, (size_t)N * IN, 1.0f), *dx2 = copy(dx1, (size_t)N * IN);
    float *dw1 = rnd(r, (size_t)OUT * IN, 1.0f), *dw2 = copy(dw1, (size_t)OUT * IN);
    psw_matmul_backward(dx1, dw1, dout, x, w, N, IN, OUT);
    psw_matmul_backward_ref(dx2, dw2, dout, x, w, N, IN, OUT);
    check_nmse("matmul_backward dinp", dx1, dx2, (size_t)N * IN);
    check_nmse("matmul_backward dw", dw1, dw2, (size_t)OUT * IN);
    /* NULL outputs are skipped */
    float *dw3 = copy(dw2, (size_t)OUT * IN);
    psw_matmul_backward(NULL, dw3, dout, x, w, N, IN, OUT);
    psw_matmul_backward_ref(NULL, dw2, dout, x, w, N, IN, OUT);
    check_nmse("matmul_backward dw only", dw3, dw2, (size_t)OUT * IN);
    free(x), free(w), free(dout), free(o1), free(o2), free(dx1), free(dx2), free(dw1), free(dw2),
        free(dw3);
}

/* The per-sequence GEMMs on 3 pool threads, with OUT under one column block and over two
 * (PSW_SEQ_GEMM_COLS): each sequence's rows against the reference on those rows alone, padding
 * rows zero; and gathered runs written into a column block of a wider output (the bf16 head's
 * chunks), the other columns untouched. */
static void test_matmul_seqs(psw_rng *r, int OUT) {
    enum { B = 5, T = 9, IN = 24 };
    int WIDE = OUT + 6;
    const int32_t lengths[B] = {9, 1, 4, 7, 2};
    float *x = rnd(r, (size_t)B * T * IN, 1.0f), *w = rnd(r, (size_t)OUT * IN, 0.5f);
    float *got = rnd(r, (size_t)B * T * OUT, 1.0f), *want = psw_xmalloc(sizeof(float) * T * OUT);
    psw_pool_set_threads(3);
    psw_matmul_forward_seqs(got, x, w, lengths, B, T, IN, OUT);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        psw_matmul_forward_ref(want, x + row * IN, w, lengths[b], IN, OUT);
        check_nmse("matmul_forward_seqs", got + row * OUT, want, (size_t)lengths[b] * OUT);
        bool pad_zero = true;
        for (size_t i = (size_t)lengths[b] * OUT; i < (size_t)T * OUT; i++)
            pad_zero &= got[row * OUT + i] == 0.0f;
        CHECK(pad_zero, "matmul_forward_seqs: sequence %d's padding rows are zero", b);
    }
    /* positions: runs {0, 1} of sequence 0, {9+0} of 1, {27+3, 27+5} of 3, {0+4} of 0 again */
    const int64_t pos[6] = {0, 1, 9, 30, 32, 4};
    float *xg = rnd(r, 6 * IN, 1.0f), *out = rnd(r, 6 * (size_t)WIDE, 1.0f);
    float *keep = copy(out, 6 * (size_t)WIDE), *ref = psw_xmalloc(sizeof(float) * 6 * OUT);
    psw_matmul_forward_runs(out + 3, WIDE, xg, w, pos, 6, T, IN, OUT);
    psw_matmul_forward_ref(ref, xg, w, 6, IN, OUT);
    double e = 0;
    bool others = true;
    for (int p = 0; p < 6; p++)
        for (int c = 0; c < WIDE; c++) {
            float v = out[p * WIDE + c];
            if (c >= 3 && c < 3 + OUT) e = fmax(e, fabs((double)v - ref[p * OUT + c - 3]));
            else others &= v == keep[p * WIDE + c];
        }
    CHECK(e <= 1e-5, "matmul_forward_runs OUT=%d: max |diff| %.3g against the reference", OUT, e);
    CHECK(others, "matmul_forward_runs OUT=%d: columns outside the block untouched", OUT);
    psw_pool_set_threads(0);
    free(x), free(w), free(got), free(want), free(xg), free(out), free(keep), free(ref);
}

/* The streaming ops on 2 pool threads, across several chunks: zero-fill and y += x against a
 * plain loop, bit for bit. */
static void test_stream(psw_rng *r) {
    size_t n = 3 * 262144 + 5;
    float *y = rnd(r, n, 1.0f), *x = rnd(r, n, 1.0f), *want = copy(y, n);
    for (size_t i = 0; i < n; i++) want[i] += x[i];
    psw_pool_set_threads(2);
    psw_add_inplace(y, x, n);
    CHECK(memcmp(y, want, n * sizeof(float)) == 0, "add_inplace: bit-identical to a plain loop");
    psw_zero(y, n);
    bool zero = true;
    for (size_t i = 0; i < n; i++) zero &= y[i] == 0.0f;
    CHECK(zero, "zero: all %zu floats zero", n);
    psw_pool_set_threads(0);
    free(y), free(x), free(want);
}

static void test_attention(psw_rng *r) {
    const int B = 3, T = 7, NH = 4, NKV = 2, HD = 8;
    const int32_t lengths[3] = {7, 4, 1};
    size_t nq = (size_t)B * T * NH * HD, nk = (size_t)B * T * NKV * HD, na = (size_t)B * NH * T * T;
    float *q = rnd(r, nq, 1.0f), *k = rnd(r, nk, 1.0f), *v = rnd(r, nk, 1.0f);
    float *dout = rnd(r, nq, 1.0f);
    float *o1 = psw_xcalloc(nq, 4), *o2 = psw_xcalloc(nq, 4);
    float *a1 = rnd(r, na, 1.0f), *a2 = rnd(r, na, 1.0f); /* garbage must be overwritten */
    psw_attention_forward(o1, a1, q, k, v, lengths, B, T, NH, NKV, HD);
    psw_attention_forward_ref(o2, a2, q, k, v, lengths, B, T, NH, NKV, HD);
    check_nmse("attention_forward out", o1, o2, nq);
    check_nmse("attention_forward att", a1, a2, na);
    /* probabilities of a real row sum to 1; the padding rows of sequence 1 are zero */
    double s = 0;
    for (int j = 0; j < T; j++) s += a1[((size_t)(0 * NH + 1) * T + 5) * T + j];
    CHECK_CLOSE(s, 1.0, 1e-6, 0, "attention row sum");
    CHECK(o1[((size_t)1 * T + 5) * NH * HD] == 0.0f, "padding output row is zero");
    float *dq1 = rnd(r, nq, 1.0f), *dq2 = copy(dq1, nq);
    float *dk1 = rnd(r, nk, 1.0f), *dk2 = copy(dk1, nk);
    float *dv1 = rnd(r, nk, 1.0f), *dv2 = copy(dv1, nk);
    float *scratch = psw_xmalloc(sizeof(float) * T * T);
    psw_attention_backward(dq1, dk1, dv1, scratch, dout, a1, q, k, v, lengths, B, T, NH, NKV, HD);
    psw_attention_backward_ref(dq2, dk2, dv2, dout, a2, q, k, v, lengths, B, T, NH, NKV, HD);
    check_nmse("attention_backward dq", dq1, dq2, nq);
    check_nmse("attention_backward dk", dk1, dk2, nk);
    check_nmse("attention_backward dv", dv1, dv2, nk);
    free(q), free(k), free(v), free(dout), free(o1), free(o2), free(a1), free(a2), free(dq1),
        free(dq2), free(dk1), free(dk2), free(dv1), free(dv2), free(scratch);
}

/* Attention at query rows against the reference's rows at those positions: runs of several rows
 * of one sequence (in any order), single rows, and a sequence visited twice in separate runs. */
static void test_attention_at(psw_rng *r) {
    const int B = 3, T = 7, NH = 4, NKV = 2, HD = 8, P = 7;
    const int32_t lengths[3] = {7, 5, 3};
    const int64_t pos[7] = {0 * T + 6, 0 * T + 2, 1 * T + 4, 2 * T + 0, 2 * T + 2, 1 * T + 1, 0 * T + 5};
    size_t QD = (size_t)NH * HD, nq = (size_t)B * T * QD, nk = (size_t)B * T * NKV * HD;
    float *q = rnd(r, nq, 1.0f), *k = rnd(r, nk, 1.0f), *v = rnd(r, nk, 1.0f);
    float *full = psw_xcalloc(nq, 4), *att = psw_xcalloc((size_t)B * NH * T * T, 4);
    psw_attention_forward_ref(full, att, q, k, v, lengths, B, T, NH, NKV, HD);
    float *qp = psw_xmalloc(sizeof(float) * P * QD), *want = psw_xmalloc(sizeof(float) * P * QD);
    for (int p = 0; p < P; p++) {
        memcpy(qp + p * QD, q + pos[p] * QD, sizeof(float) * QD);
        memcpy(want + p * QD, full + pos[p] * QD, sizeof(float) * QD);
    }
    float *got = rnd(r, (size_t)P * QD, 1.0f), *scratch = rnd(r, (size_t)P * NH * T, 1.0f);
    psw_attention_forward_at(got, scratch, qp, k, v, pos, P, T, NH, NKV, HD);
    check_nmse("attention_forward_at out", got, want, (size_t)P * QD);
    /* RoPE at positions: the rows of a whole-batch rotation. */
    float c[7 * 4], s[7 * 4];
    psw_rope_table(c, s, T, HD, 10000.0);
    float *all = copy(q, nq);
    psw_rope_forward(all, c, s, B, T, NH, HD);
    psw_rope_forward_at(qp, c, s, pos, P, T, NH, HD);
    size_t same = 0;
    for (int p = 0; p < P; p++) same += memcmp(qp + p * QD, all + pos[p] * QD, sizeof(float) * QD) == 0;
    CHECK(same == P, "rope_forward_at: %zu of %d rows equal the batch rotation's", same, P);
    free(q), free(k), free(v), free(full), free(att), free(qp), free(want), free(got),
        free(scratch), free(all);
}

/* Sum of squares against a long double loop, at lengths around the 16-lane blocks; and the
 * hand-computed value of (1, 2, ..., 21): 21 * 22 * 43 / 6 = 3311. */
static void test_sum_squares(psw_rng *r) {
    const size_t lens[] = {0, 1, 15, 16, 17, 33, 1000, 4099};
    float *g = rnd(r, 4099, 3.0f);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        long double want = 0;
        for (size_t k = 0; k < lens[i]; k++) want += (long double)g[k] * g[k];
        double got = psw_sum_squares(g, lens[i]);
        CHECK(fabsl((long double)got - want) <= 1e-13L * (want + 1), "sum_squares n=%zu: %.17g vs %.17Lg",
              lens[i], got, want);
    }
    float ints[21];
    for (int i = 0; i < 21; i++) ints[i] = (float)(i + 1);
    CHECK(psw_sum_squares(ints, 21) == 3311.0, "sum of squares 1..21 = 3311");
    free(g);
}

static void test_loss_row(void) {
    /* z = (1, 2, 3), target 0: CE = log(e + e^2 + e^3) - 1 = 3.40760596 - 1 */
    const float z[3] = {1.0f, 2.0f, 3.0f};
    float d[3];
    double ce = psw_loss_row(d, z, 0, NULL, 3, 1.0f, 0.0f, 1.0f, 1.0f);
    CHECK_CLOSE(ce, 2.40760596444, 1e-6, 0, "CE of (1,2,3) at target 0");
    CHECK_CLOSE(d[0], 0.09003057 - 1.0, 1e-6, 0, "dCE/dz0 = softmax0 - 1");
    CHECK_CLOSE(d[2], 0.66524096, 1e-6, 0, "dCE/dz2 = softmax2");
    /* KL at T=2 against teacher (3, 2, 1): p = softmax(z/2) = (0.18632372, 0.30719589, 0.50648039),
     * q = reversed; T^2 KL = 4 * sum q log(q/p) = 4 * 0.32015666783 */
    const float t[3] = {3.0f, 2.0f, 1.0f};
    double kl = psw_loss_row(d, z, -1, t, 3, 0.0f, 1.0f, 2.0f, 0.5f);
    CHECK_CLOSE(kl, 4.0 * 0.32015666783, 1e-5, 0, "T^2 KL at T=2");
    /* gradient 0.5 * T * (p - q) */
    CHECK_CLOSE(d[0], 0.5 * 2.0 * (0.18632372 - 0.50648039), 1e-6, 0, "dKL/dz0");
    /* in place: dlogits aliasing logits gives the same result */
    float zz[3] = {1.0f, 2.0f, 3.0f};
    psw_loss_row(zz, zz, 0, NULL, 3, 1.0f, 0.0f, 1.0f, 1.0f);
    CHECK_CLOSE(zz[0], 0.09003057 - 1.0, 1e-6, 0, "in-place dCE/dz0");
}

static void test_rope(psw_rng *r) {
    const int T = 5, HD = 8;
    float c[5 * 4], s[5 * 4];
    psw_rope_table(c, s, T, HD, 10000.0);
    /* t=3, pair i=1: angle 3 * 10000^(-2/8) = 0.3 */
    CHECK_CLOSE(c[3 * 4 + 1], cos(0.3), 1e-7, 0, "rope cos");
    CHECK_CLOSE(s[3 * 4 + 1], sin(0.3), 1e-7, 0, "rope sin");
    /* forward then backward is the identity (orthogonal rotation) */
    float *x = rnd(r, (size_t)T * 2 * HD, 1.0f), *y = copy(x, (size_t)T * 2 * HD);
    psw_rope_forward(y, c, s, 1, T, 2, HD);
    CHECK(fabsf(y[(size_t)3 * 2 * HD + 1] - x[(size_t)3 * 2 * HD + 1]) > 1e-3f, "rope rotates");
    /* rotate-half pairing: out[1] = x[1] cos - x[5] sin at t=3, head 0 */
    size_t o = (size_t)3 * 2 * HD;
    CHECK_CLOSE(y[o + 1], x[o + 1] * cos(0.3) - x[o + 5] * sin(0.3), 1e-6, 0, "rope pairing");
    psw_rope_backward(y, c, s, 1, T, 2, HD);
    check_nmse("rope backward(forward(x)) = x", y, x, (size_t)T * 2 * HD);
    free(x), free(y);
}

int main(void) {
    psw_rng r;
    psw_rng_seed(&r, 1234);
    test_matmul(&r, 7, 13, 5);
    test_attention_at(&r);
    test_sum_squares(&r);
    test_matmul(&r, 64, 96, 80);
    test_attention(&r);
    test_loss_row();
    test_rope(&r);
    test_matmul_seqs(&r, 11);
    test_matmul_seqs(&r, 2 * PSW_SEQ_GEMM_COLS + 76);
    test_stream(&r);
    return psw_test_finish();
}
