/* test_teacher_cache.c: the teacher-logits cache (teacher_cache.h).
 *  - psw_f32_to_f16 against hand-computed bits (rounding to nearest even at normal, subnormal and
 *    overflow boundaries, NaN, signed zero) and as the exact inverse of psw_f16_to_f32 on all
 *    65536 half values;
 *  - fp16 cache: every decoded logit is the fp16 rounding of the teacher's fp32 logit (so within
 *    2^-11 relative); the KL(exact teacher || cached teacher) it introduces, at T = 1 and T = 2,
 *    measured, printed and bounded by (max |error| / T)^2;
 *  - top-k cache (k = 8, 32): decoded rows equal an independent construction (top-k exact, the
 *    rest of the mass spread evenly), the KL it introduces measured, printed and bounded by
 *    tail_mass * log(V - k);
 *  - all-positions rows; rows in example order whatever the batch size;
 *  - errors: missing file, bad magic, truncated, stale fingerprint, other example count or
 *    vocabulary, bad topk. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/safetensors.h"
#include "psw/teacher_cache.h"
#include "test.h"

static float f32_of_bits(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

static void test_f16_hand(void) {
    const struct {
        float f;
        uint16_t want;
        const char *what;
    } cases[] = {
        {1.0f, 0x3c00, "1"},
        {-2.0f, 0xc000, "-2"},
        {0.5f, 0x3800, "0.5"},
        {65504.0f, 0x7bff, "65504 (largest half)"},
        {65519.996f, 0x7bff, "just below 65520 rounds down to 65504"},
        {65520.0f, 0x7c00, "65520 ties to even: inf"},
        {1e6f, 0x7c00, "1e6 overflows to inf"},
        {-65520.0f, 0xfc00, "-65520 -> -inf"},
        {INFINITY, 0x7c00, "inf"},
        {-INFINITY, 0xfc00, "-inf"},
        {0x1p-14f, 0x0400, "2^-14 (smallest normal)"},
        {0x1p-24f, 0x0001, "2^-24 (smallest subnormal)"},
        {0x1p-25f, 0x0000, "2^-25 ties to even: 0"},
        {0x1.000002p-25f, 0x0001, "just above 2^-25 rounds up to 2^-24"},
        {0x3p-25f, 0x0002, "3*2^-25 ties to even: 2^-23"},
        {0x5p-26f, 0x0001, "1.25*2^-24 -> 2^-24"},
        {0x7fep-25f, 0x03ff, "1023*2^-24 (largest subnormal)"},
        {0x7ffp-25f, 0x0400, "1023.5*2^-24 ties to even: 2^-14"},
        {1e-10f, 0x0000, "1e-10 underflows to 0"},
        {-1e-10f, 0x8000, "-1e-10 underflows to -0"},
        {0.0f, 0x0000, "+0"},
        {-0.0f, 0x8000, "-0"},
        {1.0f + 0x1p-11f, 0x3c00, "1+2^-11 ties to even: 1"},
        {1.0f + 0x3p-11f, 0x3c02, "1+3*2^-11 ties to even: 1+2^-9"},
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01, "just above the tie rounds up"},
        {0.1f, 0x2e66, "0.1"},
        {3.14159265f, 0x4248, "pi"},
        {-12.375f, 0xca30, "-12.375 exact"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint16_t got = psw_f32_to_f16(cases[i].f);
        CHECK(got == cases[i].want, "f32_to_f16(%s) = 0x%04x, want 0x%04x", cases[i].what, got,
              cases[i].want);
    }
    uint16_t qnan = psw_f32_to_f16(NAN), nnan = psw_f32_to_f16(f32_of_bits(0xff800001u));
    CHECK((qnan & 0x7c00) == 0x7c00 && (qnan & 0x3ff) != 0, "NaN -> a half NaN (0x%04x)", qnan);
    CHECK((nnan & 0x7c00) == 0x7c00 && (nnan & 0x3ff) != 0 && (nnan & 0x8000),
          "signalling negative NaN -> a negative half NaN, not inf (0x%04x)", nnan);
    CHECK(isnan(psw_f16_to_f32(qnan)), "NaN survives the round trip");

    /* Exact inverse on every half value. */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan) continue;
        if (psw_f32_to_f16(psw_f16_to_f32((uint16_t)h)) != h && bad++ < 3)
            printf("  round trip of 0x%04x gives 0x%04x\n", h,
                   psw_f32_to_f16(psw_f16_to_f32((uint16_t)h)));
    }
    CHECK(bad == 0, "f32_to_f16(f16_to_f32(h)) == h for all non-NaN halves (%d bad)", bad);

    /* Round to nearest on a sweep of floats: no half is closer than the chosen one. */
    int worse = 0;
    for (uint32_t k = 0; k < 200000; k++) {
        uint32_t bits = 0x33000000u + k * 0x4a3bu; /* 2^-25 .. above 65504 */
        float f = f32_of_bits(bits);
        uint16_t h = psw_f32_to_f16(f);
        double got = psw_f16_to_f32(h), err = fabs(got - f);
        if (isinf(got)) continue;
        double lo = psw_f16_to_f32((uint16_t)(h - (h & 0x7fff ? 1 : 0)));
        double hi = psw_f16_to_f32((uint16_t)(h + 1));
        if ((h & 0x7fff) && fabs(lo - f) < err) worse++;
        if ((h & 0x7fff) != 0x7bff && !isinf(hi) && fabs(hi - f) < err) worse++;
    }
    CHECK(worse == 0, "no neighbouring half is nearer (%d cases)", worse);
}

/* ---- a tiny random teacher and a hand-made prompt set ---- */
enum { V = 300, N_EX = 7 };
static const int lens[N_EX] = {5, 9, 3, 12, 9, 1, 7};

typedef struct prompts_buf {
    int64_t offsets[N_EX + 1];
    int32_t ids[64];
    int32_t n_choices[N_EX];
    int32_t letters[N_EX * PSW_MAX_CHOICES];
    psw_mc_prompts p;
} prompts_buf;

static void make_prompts(prompts_buf *b) {
    b->offsets[0] = 0;
    int max_len = 0;
    for (int i = 0; i < N_EX; i++) {
        b->offsets[i + 1] = b->offsets[i] + lens[i];
        if (lens[i] > max_len) max_len = lens[i];
        b->n_choices[i] = 5;
        for (int k = 0; k < PSW_MAX_CHOICES; k++)
            b->letters[i * PSW_MAX_CHOICES + k] = k < 5 ? 10 + k : -1;
    }
    for (int64_t j = 0; j < b->offsets[N_EX]; j++) b->ids[j] = (int32_t)((j * 37 + 11) % V);
    b->p = (psw_mc_prompts){.n = N_EX,
                            .offsets = b->offsets,
                            .ids = b->ids,
                            .n_choices = b->n_choices,
                            .letters = b->letters,
                            .max_len = max_len};
}

static void make_teacher(psw_model *m) {
    psw_model_config cfg = {.arch = PSW_ARCH_OLMO2,
                            .hidden_size = 32,
                            .intermediate_size = 64,
                            .num_layers = 2,
                            .num_heads = 4,
                            .num_kv_heads = 2,
                            .head_dim = 8,
                            .vocab_size = V,
                            .max_position_embeddings = 32,
                            .rope_theta = 10000.0f,
                            .rms_norm_eps = 1e-6f,
                            .bos_token_id = -1,
                            .eos_token_id = -1,
                            .pad_token_id = -1};
    psw_err err = {0};
    CHECK_OK(psw_model_init(m, &cfg, &err), &err);
    psw_model_init_random(m, 77, 0.2f);
    /* Logits of a trained model's scale (std ~ 5, peaks ~ 15) rather than a random model's ~0.2:
     * fp16 rounding error grows with the logit's magnitude. */
    float *head = m->params.ptr[PSW_P_LM_HEAD];
    for (size_t i = 0; i < m->params.count[PSW_P_LM_HEAD]; i++) head[i] *= 5.0f;
}

/* Teacher fp32 logits of example i, run alone (batch 1): at every position into out (len, V),
 * and separately at the answer position alone into answer (V), the call the cache makes (the
 * LM head's sgemm kernel, and so its rounding, depends on the number of rows in the call). */
static void teacher_rows(psw_model *m, const psw_mc_prompts *p, size_t i, float *out,
                         float *answer) {
    int len = (int)(p->offsets[i + 1] - p->offsets[i]);
    int64_t pos[32];
    for (int t = 0; t < len; t++) pos[t] = t;
    psw_batch b = {.tokens = p->ids + p->offsets[i], .lengths = &len, .B = 1, .T = len};
    psw_err err = {0};
    CHECK_OK(psw_model_forward(m, &b, pos, len, out, &err), &err);
    if (answer) CHECK_OK(psw_model_forward(m, &b, pos + len - 1, 1, answer, &err), &err);
}

/* KL(softmax(a/T) || softmax(b/T)) in double. */
static double kl_T(const float *a, const float *b, int n, double T) {
    double ma = -INFINITY, mb = -INFINITY;
    for (int v = 0; v < n; v++) {
        if (a[v] / T > ma) ma = a[v] / T;
        if (b[v] / T > mb) mb = b[v] / T;
    }
    double za = 0, zb = 0;
    for (int v = 0; v < n; v++) {
        za += exp(a[v] / T - ma);
        zb += exp(b[v] / T - mb);
    }
    double lza = ma + log(za), lzb = mb + log(zb), kl = 0;
    for (int v = 0; v < n; v++) {
        double lp = a[v] / T - lza, lq = b[v] / T - lzb;
        kl += exp(lp) * (lp - lq);
    }
    return kl;
}

static void test_fp16_cache(const char *dir, psw_model *m, const prompts_buf *pb) {
    const psw_mc_prompts *p = &pb->p;
    psw_err err = {0};
    char *path = psw_path_join(dir, "fp16.bin");
    uint64_t fp = psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), false,
                                                PSW_CACHE_FP16, 0);
    CHECK_OK(psw_model_reserve(m, 4, p->max_len, 4 * p->max_len, false, &err), &err);
    CHECK_OK(psw_teacher_cache_build(m, p, false, PSW_CACHE_FP16, 0, 1, fp, path, &err), &err);
    psw_teacher_cache *c = NULL;
    CHECK_OK(psw_teacher_cache_open(path, fp, N_EX, V, &c, &err), &err);
    if (!c) {
        free(path);
        return;
    }
    CHECK(!psw_teacher_cache_all_positions(c), "answer-position cache");
    float exact[32 * V], dec[V];
    double max_abs = 0, max_rel = 0, kl_max[2] = {0, 0}, kl_sum[2] = {0, 0}, logit_max = 0;
    int not_rounding = 0;
    for (size_t i = 0; i < N_EX; i++) {
        CHECK(psw_teacher_cache_rows(c, i) == 1, "one row per example");
        float x[V];
        teacher_rows(m, p, i, exact, x);
        psw_teacher_cache_row(c, i, 0, dec);
        for (int v = 0; v < V; v++) {
            if (dec[v] != psw_f16_to_f32(psw_f32_to_f16(x[v]))) not_rounding++;
            double e = fabs((double)dec[v] - x[v]);
            if (e > max_abs) max_abs = e;
            if (fabs(x[v]) > 0x1p-14 && e / fabs(x[v]) > max_rel) max_rel = e / fabs(x[v]);
            if (fabs(x[v]) > logit_max) logit_max = fabs(x[v]);
        }
        for (int k = 0; k < 2; k++) {
            double T = k == 0 ? 1.0 : 2.0, kl = kl_T(x, dec, V, T);
            kl_sum[k] += kl;
            if (kl > kl_max[k]) kl_max[k] = kl;
        }
    }
    CHECK(not_rounding == 0, "fp16 rows are the rounding of the batch-1 fp32 logits (%d differ)",
          not_rounding);
    CHECK(max_rel <= 0x1p-11, "fp16 relative error %.3g <= 2^-11", max_rel);
    CHECK(max_abs <= logit_max * 0x1p-11, "fp16 abs error %.3g <= max|logit| %.2f * 2^-11",
          max_abs, logit_max);
    for (int k = 0; k < 2; k++) {
        double T = k == 0 ? 1.0 : 2.0, bound = (max_abs / T) * (max_abs / T);
        printf("fp16 cache: T=%g KL(exact||cached) mean %.3e max %.3e (T^2*KL max %.3e), "
               "bound (max|err|/T)^2 = %.3e; max|logit| %.2f, max|err| %.3e\n",
               T, kl_sum[k] / N_EX, kl_max[k], T * T * kl_max[k], bound, logit_max, max_abs);
        CHECK(kl_max[k] >= 0 && kl_max[k] <= bound, "fp16 KL at T=%g: %.3e <= %.3e", T, kl_max[k],
              bound);
        /* The stated bound: negligible next to the KL a pruned student starts recovery from
         * (~1e-1 and up). */
        CHECK(kl_max[k] < 1e-4, "fp16 KL at T=%g below 1e-4 (%.3e)", T, kl_max[k]);
    }
    psw_teacher_cache_close(c);

    /* The same cache built in batches of 3 holds the same rows, in example order. The engine's
     * logits are not bit-invariant to the batch shape for a model this small (OpenBLAS picks
     * another sgemm kernel by matrix size), so rows agree to an fp16 ulp, not bit for bit. */
    char *path3 = psw_path_join(dir, "fp16_b3.bin");
    CHECK_OK(psw_teacher_cache_build(m, p, false, PSW_CACHE_FP16, 0, 3, fp, path3, &err), &err);
    psw_teacher_cache *c3 = NULL;
    CHECK_OK(psw_teacher_cache_open(path, fp, N_EX, V, &c, &err), &err);
    CHECK_OK(psw_teacher_cache_open(path3, fp, N_EX, V, &c3, &err), &err);
    double excess = 0;
    for (size_t i = 0; c && c3 && i < N_EX; i++) {
        float r3[V];
        psw_teacher_cache_row(c, i, 0, dec);
        psw_teacher_cache_row(c3, i, 0, r3);
        for (int v = 0; v < V; v++) {
            double e = fabs((double)dec[v] - r3[v]) - fabs((double)dec[v]) * 0x1p-10 - 1e-6;
            if (e > excess) excess = e;
        }
    }
    CHECK(c && c3 && excess <= 0, "batch 3 gives the batch-1 rows in example order (excess %.3g)",
          excess);
    psw_teacher_cache_close(c);
    psw_teacher_cache_close(c3);
    free(path3);
    free(path);
}

/* The top-k decode built independently: top-k exact, the other V-k at lse(rest) - log(V-k). */
static void topk_expected(const float *x, int k, float *out, double *tail_mass) {
    int idx[V];
    for (int v = 0; v < V; v++) idx[v] = v;
    for (int i = 0; i < k; i++) { /* selection sort of the top k, ties to the lower id */
        int best = i;
        for (int j = i + 1; j < V; j++)
            if (x[idx[j]] > x[idx[best]] || (x[idx[j]] == x[idx[best]] && idx[j] < idx[best]))
                best = j;
        int t = idx[i];
        idx[i] = idx[best];
        idx[best] = t;
    }
    double mx = -INFINITY;
    for (int v = 0; v < V; v++)
        if (x[v] > mx) mx = x[v];
    double z = 0, rest = 0;
    for (int v = 0; v < V; v++) z += exp(x[v] - mx);
    for (int i = k; i < V; i++) rest += exp(x[idx[i]] - mx);
    *tail_mass = rest / z;
    float fill = (float)((double)(float)(mx + log(rest)) - log((double)(V - k)));
    for (int v = 0; v < V; v++) out[v] = fill;
    for (int i = 0; i < k; i++) out[idx[i]] = x[idx[i]];
}

static void test_topk_cache(const char *dir, psw_model *m, const prompts_buf *pb, int k) {
    const psw_mc_prompts *p = &pb->p;
    psw_err err = {0};
    char name[32];
    snprintf(name, sizeof name, "top%d.bin", k);
    char *path = psw_path_join(dir, name);
    uint64_t fp = psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), false,
                                                PSW_CACHE_TOPK, k);
    CHECK_OK(psw_teacher_cache_build(m, p, false, PSW_CACHE_TOPK, k, 1, fp, path, &err), &err);
    psw_teacher_cache *c = NULL;
    CHECK_OK(psw_teacher_cache_open(path, fp, N_EX, V, &c, &err), &err);
    if (!c) {
        free(path);
        return;
    }
    float exact[32 * V], dec[V], want[V];
    double kl_max[2] = {0, 0}, kl_sum[2] = {0, 0}, mass_max = 0, dec_err = 0;
    bool within = true;
    for (size_t i = 0; i < N_EX; i++) {
        float x[V];
        teacher_rows(m, p, i, exact, x);
        psw_teacher_cache_row(c, i, 0, dec);
        double mass;
        topk_expected(x, k, want, &mass);
        for (int v = 0; v < V; v++)
            if (fabs((double)dec[v] - want[v]) > dec_err) dec_err = fabs((double)dec[v] - want[v]);
        if (mass > mass_max) mass_max = mass;
        /* The decoded row keeps the tail's total mass at T = 1. */
        double kl1 = kl_T(x, dec, V, 1.0);
        within &= kl1 <= mass * log((double)(V - k)) + 1e-12;
        for (int t = 0; t < 2; t++) {
            double kl = kl_T(x, dec, V, t == 0 ? 1.0 : 2.0);
            kl_sum[t] += kl;
            if (kl > kl_max[t]) kl_max[t] = kl;
        }
    }
    CHECK(dec_err <= 1e-5, "top-%d decode equals the independent construction (max diff %.3g)",
          k, dec_err);
    CHECK(within, "top-%d KL at T=1 <= tail mass * log(V-k)", k);
    for (int t = 0; t < 2; t++)
        printf("top-%d cache: T=%d KL(exact||cached) mean %.3e max %.3e (T^2*KL max %.3e); "
               "max tail mass %.3e\n",
               k, t + 1, kl_sum[t] / N_EX, kl_max[t], (t + 1) * (t + 1) * kl_max[t], mass_max);
    CHECK(kl_max[0] <= mass_max * log((double)(V - k)), "top-%d KL bound", k);
    CHECK(kl_max[0] > 1e-6, "top-%d is measurably lossier than fp16 here (KL %.3e)", k, kl_max[0]);
    psw_teacher_cache_close(c);
    free(path);
}

static void test_all_positions(const char *dir, psw_model *m, const prompts_buf *pb) {
    const psw_mc_prompts *p = &pb->p;
    psw_err err = {0};
    char *path = psw_path_join(dir, "allpos.bin");
    uint64_t fp = psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), true,
                                                PSW_CACHE_FP16, 0);
    CHECK(fp != psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), false,
                                              PSW_CACHE_FP16, 0),
          "the fingerprint includes the positions");
    CHECK_OK(psw_teacher_cache_build(m, p, true, PSW_CACHE_FP16, 0, 2, fp, path, &err), &err);
    psw_teacher_cache *c = NULL;
    CHECK_OK(psw_teacher_cache_open(path, fp, N_EX, V, &c, &err), &err);
    if (!c) {
        free(path);
        return;
    }
    CHECK(psw_teacher_cache_all_positions(c), "all-positions cache");
    float exact[32 * V], dec[V];
    double worst = 0;
    bool rows_ok = true;
    for (size_t i = 0; i < N_EX; i++) {
        rows_ok &= psw_teacher_cache_rows(c, i) == lens[i];
        teacher_rows(m, p, i, exact, NULL);
        for (int t = 0; t < lens[i]; t++) {
            psw_teacher_cache_row(c, i, t, dec);
            for (int v = 0; v < V; v++) {
                double x = exact[(size_t)t * V + (size_t)v];
                double e = fabs(dec[v] - x) - fabs(x) * 0x1p-11 - 1e-5; /* batch 2 vs batch 1 */
                if (e > worst) worst = e;
            }
        }
    }
    CHECK(rows_ok, "one row per prompt position");
    CHECK(worst <= 0, "all-position rows match the teacher at each position (excess %.3g)", worst);
    psw_teacher_cache_close(c);
    free(path);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n, "write %s", path);
    if (f) fclose(f);
}

static void test_errors(const char *dir, psw_model *m, const prompts_buf *pb) {
    const psw_mc_prompts *p = &pb->p;
    psw_err err = {0};
    psw_teacher_cache *c = NULL;
    char *path = psw_path_join(dir, "fp16.bin"); /* built by test_fp16_cache */
    uint64_t fp = psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), false,
                                                PSW_CACHE_FP16, 0);
    CHECK_FAILS(psw_teacher_cache_open(path, fp ^ 1, N_EX, V, &c, &err), &err,
                PSW_ERR_INVALID_ARG, "stale teacher cache");
    CHECK(c == NULL, "no handle on failure");
    /* Another teacher (model hash) or other prompts give another fingerprint. */
    CHECK(psw_teacher_cache_fingerprint(124, psw_mc_prompts_fingerprint(p), false, PSW_CACHE_FP16,
                                        0) != fp,
          "the fingerprint covers the teacher weights");
    CHECK(psw_teacher_cache_fingerprint(123, psw_mc_prompts_fingerprint(p), false, PSW_CACHE_TOPK,
                                        8) != fp,
          "the fingerprint covers the format");
    CHECK_FAILS(psw_teacher_cache_open(path, fp, N_EX, V + 1, &c, &err), &err, PSW_ERR_INVALID_ARG,
                "vocab 300; expected");
    CHECK_FAILS(psw_teacher_cache_open(path, fp, N_EX - 1, V, &c, &err), &err, PSW_ERR_INVALID_ARG,
                "7 examples");
    char *missing = psw_path_join(dir, "nope.bin");
    CHECK_FAILS(psw_teacher_cache_open(missing, fp, N_EX, V, &c, &err), &err, PSW_ERR_IO,
                "nope.bin: cannot open");
    free(missing);

    char *bytes = NULL;
    size_t len = 0;
    CHECK_OK(psw_read_file(path, &bytes, &len, &err), &err);
    if (!bytes) {
        free(path);
        return;
    }
    char *bad = psw_path_join(dir, "bad.bin");
    write_bytes(bad, bytes, len - 2); /* truncated by one logit */
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "does not match its header");
    write_bytes(bad, bytes, 20); /* shorter than the header */
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "truncated");
    write_bytes(bad, bytes, 0);
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "truncated");
    char *extra = psw_xmalloc(len + 2);
    memcpy(extra, bytes, len);
    extra[len] = extra[len + 1] = 0;
    write_bytes(bad, extra, len + 2); /* trailing bytes */
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "does not match its header");
    free(extra);
    bytes[0] = 'X';
    write_bytes(bad, bytes, len);
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "not a prunesweep teacher cache");
    bytes[0] = 'P';
    /* Offsets start right after the 48-byte header: make example 2 empty. */
    int64_t off;
    memcpy(&off, bytes + 48 + 2 * 8, 8);
    memcpy(bytes + 48 + 3 * 8, &off, 8);
    write_bytes(bad, bytes, len);
    CHECK_FAILS(psw_teacher_cache_open(bad, fp, N_EX, V, &c, &err), &err, PSW_ERR_FORMAT,
                "bad row offsets at example 2");
    free(bytes);
    free(bad);

    char *tk = psw_path_join(dir, "badk.bin");
    CHECK_FAILS(psw_teacher_cache_build(m, p, false, PSW_CACHE_TOPK, 0, 2, fp, tk, &err), &err,
                PSW_ERR_INVALID_ARG, "outside 1..300");
    CHECK_FAILS(psw_teacher_cache_build(m, p, false, PSW_CACHE_TOPK, V + 1, 2, fp, tk, &err), &err,
                PSW_ERR_INVALID_ARG, "training.topk");
    CHECK(access(tk, F_OK) != 0, "a refused build writes nothing");
    char *nodir = psw_path_join(dir, "no/such/dir/c.bin");
    CHECK_FAILS(psw_teacher_cache_build(m, p, false, PSW_CACHE_FP16, 0, 2, fp, nodir, &err), &err,
                PSW_ERR_IO, "cannot create");
    free(nodir);
    free(tk);
    free(path);
}

int main(void) {
    test_f16_hand();
    char *dir = psw_test_tmpdir();
    psw_model m;
    prompts_buf pb;
    make_prompts(&pb);
    make_teacher(&m);
    test_fp16_cache(dir, &m, &pb);
    test_topk_cache(dir, &m, &pb, 8);
    test_topk_cache(dir, &m, &pb, 32);
    test_all_positions(dir, &m, &pb);
    test_errors(dir, &m, &pb);
    psw_model_free(&m);
    psw_test_rmtree(dir);
    free(dir);
    return psw_test_finish();
}
