/* test_kernels_fast.c: the vectorised element-wise kernels against plain double-precision loops
 * written here: the polynomial exp (src/kernels/vecmath.h) against libm, SwiGLU, RMSNorm and the
 * loss row (CE and KL) over rows long enough to run the vector bodies and their tails. Also the
 * bit-level contracts the vector code must keep: in place == out of place, loss with and without
 * gradient identical, identical logits give exactly zero KL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/vecmath.h"
#include "psw/kernels.h"
#include "psw/rng.h"
#include "test.h"

static void test_vexpf(void) {
    double worst = 0.0, worst_x = 0.0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 2000000.0f;
        double want = exp((double)x), got = (double)psw_vexpf(x);
        double rel = fabs(got - want) / want;
        if (rel > worst) worst = rel, worst_x = x;
    }
    printf("vexpf worst relative error %.3g at x=%g\n", worst, worst_x);
    CHECK(worst < 3e-7, "vexpf relative error %.3g at x=%g", worst, worst_x);
    CHECK(psw_vexpf(0.0f) == 1.0f, "vexpf(0) = 1 exactly");
    CHECK(psw_vexpf(-88.0f) == 0.0f && psw_vexpf(-1e30f) == 0.0f, "vexpf underflows to 0");
    CHECK(isfinite(psw_vexpf(1e30f)) && psw_vexpf(1e30f) > 1e38f, "vexpf clamps large x finite");
    CHECK(isnan(psw_vexpf(NAN)), "vexpf(NaN) is NaN");
}

static float *rnd(psw_rng *r, size_t n, float scale) {
    float *x = psw_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * psw_rng_normal(r);
    return x;
}

static double max_rel(const float *got, const double *want, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > num) num = d;
        if (fabs(want[i]) > den) den = fabs(want[i]);
    }
    return den > 0 ? num / den : num;
}

static void test_swiglu(psw_rng *r) {
    size_t n = 1037; /* vector bodies plus a tail */
    float *g = rnd(r, n, 4.0f), *u = rnd(r, n, 1.0f), *d = rnd(r, n, 1.0f);
    g[0] = -100.0f, g[1] = 100.0f; /* saturated sigmoid on both sides */
    float *out = psw_xmalloc(n * sizeof(float));
    float *dg = psw_xcalloc(n, sizeof(float)), *du = psw_xcalloc(n, sizeof(float));
    float *dg1 = psw_xcalloc(n, sizeof(float)), *du1 = psw_xcalloc(n, sizeof(float));
    double *wo = psw_xmalloc(n * sizeof(double)), *wg = psw_xmalloc(n * sizeof(double)),
           *wu = psw_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double s = 1.0 / (1.0 + exp(-(double)g[i]));
        wo[i] = g[i] * s * u[i];
        wg[i] = d[i] * u[i] * s * (1.0 + g[i] * (1.0 - s));
        wu[i] = d[i] * g[i] * s;
    }
    psw_swiglu_forward(out, g, u, n);
    psw_swiglu_backward(dg, du, d, g, u, n);
    CHECK(max_rel(out, wo, n) < 1e-6, "swiglu forward rel err %.3g", max_rel(out, wo, n));
    CHECK(max_rel(dg, wg, n) < 1e-6, "swiglu dgate rel err %.3g", max_rel(dg, wg, n));
    CHECK(max_rel(du, wu, n) < 1e-6, "swiglu dup rel err %.3g", max_rel(du, wu, n));
    /* each gradient alone is the same as both together */
    psw_swiglu_backward(dg1, NULL, d, g, u, n);
    psw_swiglu_backward(NULL, du1, d, g, u, n);
    CHECK(memcmp(dg, dg1, n * sizeof(float)) == 0, "swiglu dgate alone equals dgate with dup");
    CHECK(memcmp(du, du1, n * sizeof(float)) == 0, "swiglu dup alone equals dup with dgate");
    free(g), free(u), free(d), free(out), free(dg), free(du), free(dg1), free(du1), free(wo),
        free(wg), free(wu);
}

static void test_rmsnorm(psw_rng *r) {
    int N = 5, C = 203;
    size_t n = (size_t)N * C;
    float *x = rnd(r, n, 2.0f), *w = rnd(r, (size_t)C, 1.0f), *dy = rnd(r, n, 1.0f);
    float *y = psw_xmalloc(n * sizeof(float)), *rstd = psw_xmalloc((size_t)N * sizeof(float));
    float *dx = psw_xcalloc(n, sizeof(float)), *dw = psw_xcalloc((size_t)C, sizeof(float));
    double *wy = psw_xmalloc(n * sizeof(double)), *wdx = psw_xmalloc(n * sizeof(double)),
           *wdw = psw_xcalloc((size_t)C, sizeof(double));
    float eps = 1e-5f;
    for (int i = 0; i < N; i++) {
        const float *xi = x + (size_t)i * C, *gi = dy + (size_t)i * C;
        double ss = 0.0, dot = 0.0;
        for (int j = 0; j < C; j++) ss += (double)xi[j] * xi[j];
        double rs = 1.0 / sqrt(ss / C + eps);
        for (int j = 0; j < C; j++) dot += (double)w[j] * gi[j] * xi[j];
        for (int j = 0; j < C; j++) {
            wy[(size_t)i * C + j] = w[j] * xi[j] * rs;
            wdx[(size_t)i * C + j] = rs * w[j] * gi[j] - dot * rs * rs * rs / C * xi[j];
            wdw[j] += (double)gi[j] * xi[j] * rs;
        }
    }
    psw_rmsnorm_forward(y, rstd, x, w, N, C, eps);
    psw_rmsnorm_backward(dx, dw, dy, x, w, rstd, N, C);
    CHECK(max_rel(y, wy, n) < 1e-6, "rmsnorm forward rel err %.3g", max_rel(y, wy, n));
    CHECK(max_rel(dx, wdx, n) < 1e-5, "rmsnorm dinp rel err %.3g", max_rel(dx, wdx, n));
    CHECK(max_rel(dw, wdw, (size_t)C) < 1e-5, "rmsnorm dw rel err %.3g",
          max_rel(dw, wdw, (size_t)C));
    free(x), free(w), free(dy), free(y), free(rstd), free(dx), free(dw), free(wy), free(wdx),
        free(wdw);
}

/* CE + T^2 KL of one row and its gradient, in double. */
static double loss_ref(double *grad, const float *z, int target, const float *t, int V, double ce_w,
                       double kl_w, double T, double gscale) {
    double mz = -INFINITY, mt = -INFINITY, sz = 0, szT = 0, stT = 0;
    for (int i = 0; i < V; i++) mz = fmax(mz, z[i]), mt = fmax(mt, t[i]);
    for (int i = 0; i < V; i++) {
        sz += exp(z[i] - mz);
        szT += exp((z[i] - mz) / T);
        stT += exp((t[i] - mt) / T);
    }
    double loss = ce_w * (log(sz) - (z[target] - mz)), kl = 0.0;
    for (int i = 0; i < V; i++) {
        double lps = (z[i] - mz) / T - log(szT), lpt = (t[i] - mt) / T - log(stT);
        kl += exp(lpt) * (lpt - lps);
        grad[i] = gscale * (ce_w * (exp(z[i] - mz - log(sz)) - (i == target)) +
                            kl_w * T * (exp(lps) - exp(lpt)));
    }
    return loss + kl_w * T * T * kl;
}

static void test_loss_row(psw_rng *r) {
    int V = 1003, target = 517;
    float *z = rnd(r, (size_t)V, 3.0f), *t = rnd(r, (size_t)V, 3.0f);
    float *d = psw_xmalloc((size_t)V * sizeof(float)), *zz = psw_xmalloc((size_t)V * sizeof(float));
    double *want = psw_xmalloc((size_t)V * sizeof(double));
    /* CE only, KL only, both */
    struct { float ce_w, kl_w; int tgt; const float *teacher; } cases[3] = {
        {1.0f, 0.0f, target, NULL}, {0.0f, 1.0f, -1, t}, {0.7f, 0.3f, target, t}};
    for (int c = 0; c < 3; c++) {
        float T = 2.0f, gs = 0.25f;
        double lw = loss_ref(want, z, c == 1 ? 0 : target, t, V, cases[c].ce_w, cases[c].kl_w, T,
                             gs);
        double l = psw_loss_row(d, z, cases[c].tgt, cases[c].teacher, V, cases[c].ce_w,
                                cases[c].kl_w, T, gs);
        CHECK(fabs(l - lw) <= 1e-6 * (1.0 + fabs(lw)), "loss row case %d: %.9g vs %.9g", c, l, lw);
        CHECK(max_rel(d, want, (size_t)V) < 1e-5, "loss row case %d gradient rel err %.3g", c,
              max_rel(d, want, (size_t)V));
        double l0 = psw_loss_row(NULL, z, cases[c].tgt, cases[c].teacher, V, cases[c].ce_w,
                                 cases[c].kl_w, T, gs);
        CHECK(l0 == l, "loss row case %d: same loss with and without gradient", c);
        memcpy(zz, z, (size_t)V * sizeof(float));
        double l1 = psw_loss_row(zz, zz, cases[c].tgt, cases[c].teacher, V, cases[c].ce_w,
                                 cases[c].kl_w, T, gs);
        CHECK(l1 == l && memcmp(zz, d, (size_t)V * sizeof(float)) == 0,
              "loss row case %d: in place equals out of place", c);
    }
    /* identical student and teacher: exactly zero KL and gradient */
    double kl = psw_loss_row(d, z, -1, z, V, 0.0f, 1.0f, 2.0f, 1.0f);
    int nonzero = 0;
    for (int i = 0; i < V; i++) nonzero += d[i] != 0.0f;
    CHECK(kl == 0.0 && nonzero == 0, "KL against itself %g with %d nonzero gradients", kl, nonzero);
    free(z), free(t), free(d), free(zz), free(want);
}

int main(void) {
    psw_rng r;
    psw_rng_seed(&r, 42);
    test_vexpf();
    test_swiglu(&r);
    test_rmsnorm(&r);
    test_loss_row(&r);
    return psw_test_finish();
}
