/* test_metrics.c: choice probabilities from logits and the evaluation metrics, against
 * hand-computed values (dyadic probabilities so that every bin index is exact), with the edges:
 * all correct, all wrong, ties, empty bins, confidence exactly 1.0 and on a bin's lower edge,
 * unlabeled examples, K = 2..10 mixed; plus every input error.
 *
 * `test_metrics --dump FILE` instead writes random cases (logits, letter ids, gold, the C
 * probabilities and metrics) as JSON for tests/reference/metrics_ref.py, the independent numpy
 * implementation (driven by tests/cli/test_metrics_numpy.sh). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/eval_metrics.h"
#include "psw/rng.h"
#include "test.h"

#define TOL 1e-12

static psw_choice_scores mk(int k, int gold, const double *p, double mass) {
    psw_choice_scores s;
    memset(&s, 0, sizeof s);
    s.n_choices = k;
    s.gold = gold;
    for (int i = 0; i < k; i++) s.prob[i] = p[i];
    s.choice_mass = mass;
    return s;
}

/* -sum p log p over k entries, 0 log 0 = 0 (the definition, written out for expected values). */
static double ent(const double *p, int k) {
    double h = 0.0;
    for (int i = 0; i < k; i++)
        if (p[i] > 0) h -= p[i] * log(p[i]);
    return h;
}

static void check_bins(const psw_eval_metrics *m, const int *bins, const long long *counts,
                       const double *conf, const double *acc, int n_nonempty) {
    CHECK(m->reliability.n_bins == 15, "n_bins %d", m->reliability.n_bins);
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        int j = -1;
        for (int i = 0; i < n_nonempty; i++)
            if (bins[i] == b) j = i;
        if (j < 0) {
            CHECK(m->reliability.count[b] == 0 && isnan(m->reliability.mean_conf[b]) &&
                      isnan(m->reliability.accuracy[b]),
                  "bin %d should be empty (count %lld)", b, m->reliability.count[b]);
            continue;
        }
        CHECK(m->reliability.count[b] == counts[j], "bin %d count %lld want %lld", b,
              m->reliability.count[b], counts[j]);
        CHECK_CLOSE(m->reliability.mean_conf[b], conf[j], TOL, 0, "bin mean confidence");
        CHECK_CLOSE(m->reliability.accuracy[b], acc[j], TOL, 0, "bin accuracy");
    }
}

static void test_all_correct(void) {
    /* K=2: confidences 0.75 (bin 11 = [11/15, 12/15)) and 0.875 (bin 13). */
    double p0[] = {0.75, 0.25}, p1[] = {0.125, 0.875};
    psw_choice_scores s[] = {mk(2, 0, p0, 0.5), mk(2, 1, p1, 0.25)};
    psw_eval_metrics m;
    psw_err err;
    CHECK_OK(psw_eval_metrics_compute(s, 2, &m, &err), &err);
    CHECK(m.n_examples == 2 && m.n_labeled == 2, "counts");
    CHECK_CLOSE(m.accuracy, 1.0, TOL, 0, "all correct: accuracy");
    CHECK_CLOSE(m.nll, (-log(0.75) - log(0.875)) / 2, TOL, 0, "all correct: nll");
    CHECK_CLOSE(m.brier, (2 * 0.0625 + 2 * 0.015625) / 2, TOL, 0, "all correct: brier");
    CHECK_CLOSE(m.entropy, (ent(p0, 2) + ent(p1, 2)) / 2, TOL, 0, "all correct: entropy");
    CHECK_CLOSE(m.entropy_norm, (ent(p0, 2) + ent(p1, 2)) / 2 / log(2.0), TOL, 0,
                "all correct: entropy_norm");
    /* 0.5*|1-0.75| + 0.5*|1-0.875| */
    CHECK_CLOSE(m.ece, 0.1875, TOL, 0, "all correct: ece");
    CHECK_CLOSE(m.mce, 0.25, TOL, 0, "all correct: mce");
    CHECK_CLOSE(m.choice_mass, 0.375, TOL, 0, "all correct: choice mass");
    int bins[] = {11, 13};
    long long counts[] = {1, 1};
    double conf[] = {0.75, 0.875}, acc[] = {1, 1};
    check_bins(&m, bins, counts, conf, acc, 2);
}

static void test_all_wrong(void) {
    /* K=5: confidences 0.5 (bin 7) and 0.75 (bin 11), both wrong. */
    double p0[] = {0.5, 0.125, 0.125, 0.125, 0.125};
    double p1[] = {0.0625, 0.0625, 0.0625, 0.0625, 0.75};
    psw_choice_scores s[] = {mk(5, 1, p0, 1.0), mk(5, 0, p1, 0.0)};
    psw_eval_metrics m;
    psw_err err;
    CHECK_OK(psw_eval_metrics_compute(s, 2, &m, &err), &err);
    CHECK_CLOSE(m.accuracy, 0.0, TOL, 0, "all wrong: accuracy");
    CHECK_CLOSE(m.nll, 3.5 * log(2.0), TOL, 0, "all wrong: nll = (ln 8 + ln 16) / 2");
    /* (0.25 + 0.765625 + 3*0.015625 + 0.87890625 + 3*0.00390625 + 0.5625) / 2 */
    CHECK_CLOSE(m.brier, (1.0625 + 1.453125) / 2, TOL, 0, "all wrong: brier");
    CHECK_CLOSE(m.entropy, (2 * log(2.0) + log(2.0) - 0.75 * log(0.75)) / 2, TOL, 0,
                "all wrong: entropy");
    CHECK_CLOSE(m.entropy_norm, (2 * log(2.0) + log(2.0) - 0.75 * log(0.75)) / 2 / log(5.0), TOL,
                0, "all wrong: entropy_norm");
    CHECK_CLOSE(m.ece, 0.625, TOL, 0, "all wrong: ece");
    CHECK_CLOSE(m.mce, 0.75, TOL, 0, "all wrong: mce");
    CHECK_CLOSE(m.choice_mass, 0.5, TOL, 0, "all wrong: choice mass");
    int bins[] = {7, 11};
    long long counts[] = {1, 1};
    double conf[] = {0.5, 0.75}, acc[] = {0, 0};
    check_bins(&m, bins, counts, conf, acc, 2);
}

static void test_ties_edges_mixed(void) {
    double p0[] = {0.25, 0.375, 0.375}; /* tie 1/2 -> argmax 1, gold 2: wrong; bin 5 */
    double p1[] = {0.25, 0.25, 0.25, 0.25}; /* 4-way tie -> 0 = gold: right; 0.25*15=3.75 bin 3 */
    double p2[] = {0.0, 1.0};               /* conf exactly 1.0 -> last bin 14; entropy 0 */
    double p3[10];                          /* unlabeled, uniform over 10 */
    for (int i = 0; i < 10; i++) p3[i] = 0.1;
    double p4[] = {0.5, 0.5};   /* tie -> argmax 0, gold 1: wrong; bin 7 */
    double p5[] = {0.8, 0.2};   /* 0.8*15 == 12 exactly in double: lower edge of bin 12 */
    double p6[] = {0.2, 0.2, 0.6}; /* 0.6*15 == 9 exactly: bin 9; gold 2: right */
    psw_choice_scores s[] = {mk(3, 2, p0, 0.5),  mk(4, 0, p1, 1.0), mk(2, 1, p2, 0.25),
                             mk(10, -1, p3, 0.0), mk(2, 1, p4, 0.75), mk(2, 0, p5, 0.5),
                             mk(3, 2, p6, 0.5)};
    psw_eval_metrics m;
    psw_err err;
    CHECK_OK(psw_eval_metrics_compute(s, 7, &m, &err), &err);
    CHECK(m.n_examples == 7 && m.n_labeled == 6, "n %lld labeled %lld", m.n_examples,
          m.n_labeled);
    CHECK_CLOSE(m.accuracy, 4.0 / 6, TOL, 0, "mixed: accuracy (ties to lowest index)");
    CHECK_CLOSE(m.nll,
                (-log(0.375) - log(0.25) - log(1.0) - log(0.5) - log(0.8) - log(0.6)) / 6, TOL,
                0, "mixed: nll");
    /* 0.59375 + 0.75 + 0 + 0.5 + 0.08 + 0.24 */
    CHECK_CLOSE(m.brier, 2.16375 / 6, TOL, 0, "mixed: brier");
    double h[] = {ent(p0, 3), log(4.0), 0.0, log(10.0), log(2.0), ent(p5, 2), ent(p6, 3)};
    double hn[] = {h[0] / log(3.0), 1, 0, 1, 1, h[5] / log(2.0), h[6] / log(3.0)};
    double hs = 0, hns = 0;
    for (int i = 0; i < 7; i++) {
        hs += h[i];
        hns += hn[i];
    }
    CHECK_CLOSE(m.entropy, hs / 7, TOL, 0, "mixed: entropy over all 7");
    CHECK_CLOSE(m.entropy_norm, hns / 7, TOL, 0, "mixed: entropy_norm over all 7");
    /* gaps: bin 5 |0-.375|, bin 3 |1-.25|, bin 14 0, bin 7 .5, bin 12 .2, bin 9 .4 */
    CHECK_CLOSE(m.ece, (0.375 + 0.75 + 0 + 0.5 + 0.2 + 0.4) / 6, TOL, 0, "mixed: ece");
    CHECK_CLOSE(m.mce, 0.75, TOL, 0, "mixed: mce");
    CHECK_CLOSE(m.choice_mass, 3.5 / 7, TOL, 0, "mixed: choice mass");
    int bins[] = {5, 3, 14, 7, 12, 9};
    long long counts[] = {1, 1, 1, 1, 1, 1};
    double conf[] = {0.375, 0.25, 1.0, 0.5, 0.8, 0.6}, acc[] = {0, 1, 1, 0, 1, 1};
    check_bins(&m, bins, counts, conf, acc, 6);
}

static void test_shared_bin(void) {
    /* Two examples in bin 13 (0.875*15 = 13.125, 0.9*15 = 13.5): means over the bin. */
    double p0[] = {0.875, 0.125}, p1[] = {0.9, 0.025, 0.025, 0.025, 0.025};
    psw_choice_scores s[] = {mk(2, 0, p0, 1.0), mk(5, 1, p1, 1.0)};
    psw_eval_metrics m;
    psw_err err;
    CHECK_OK(psw_eval_metrics_compute(s, 2, &m, &err), &err);
    int bins[] = {13};
    long long counts[] = {2};
    double conf[] = {0.8875}, acc[] = {0.5};
    check_bins(&m, bins, counts, conf, acc, 1);
    CHECK_CLOSE(m.ece, 0.3875, TOL, 0, "shared bin: ece");
    CHECK_CLOSE(m.mce, 0.3875, TOL, 0, "shared bin: mce");
}

static void test_unlabeled_only(void) {
    double p0[] = {0.5, 0.5}, p1[] = {0.25, 0.75};
    psw_choice_scores s[] = {mk(2, -1, p0, 0.5), mk(2, -1, p1, 1.0)};
    psw_eval_metrics m;
    psw_err err;
    CHECK_OK(psw_eval_metrics_compute(s, 2, &m, &err), &err);
    CHECK(m.n_labeled == 0 && m.n_examples == 2, "unlabeled counts");
    CHECK(isnan(m.accuracy) && isnan(m.nll) && isnan(m.brier) && isnan(m.ece) && isnan(m.mce),
          "unlabeled: label metrics are NaN");
    CHECK_CLOSE(m.entropy, (log(2.0) + ent(p1, 2)) / 2, TOL, 0, "unlabeled: entropy");
    CHECK_CLOSE(m.choice_mass, 0.75, TOL, 0, "unlabeled: choice mass");
    check_bins(&m, NULL, NULL, NULL, NULL, 0);

    cJSON *j = psw_eval_metrics_json(&m);
    CHECK(j != NULL, "json");
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    if (txt) {
        printf("json: %s\n", txt);
        CHECK(strstr(txt, "\"accuracy\":null") != NULL, "NaN accuracy is null");
        CHECK(strstr(txt, "\"ece_bins\":15") != NULL, "ece_bins");
        CHECK(strstr(txt, "\"count\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]") != NULL, "counts");
        CHECK(strstr(txt, "\"choice_mass\":0.75") != NULL, "choice_mass");
    }
    free(txt);
    cJSON_Delete(j);
}

static void expect_metrics_error(psw_choice_scores s, const char *needle, int line) {
    psw_eval_metrics m;
    psw_err err = {0};
    psw_choice_scores two[2] = {mk(2, 0, (double[]){0.5, 0.5}, 1.0), s};
    psw_test_check_fails(psw_eval_metrics_compute(two, 2, &m, &err), &err, PSW_ERR_INVALID_ARG,
                         needle, __FILE__, line, "metrics");
}

static void test_metric_errors(void) {
    psw_eval_metrics m;
    psw_err err;
    CHECK_FAILS(psw_eval_metrics_compute(NULL, 0, &m, &err), &err, PSW_ERR_INVALID_ARG,
                "metrics: no examples");
    double ok2[] = {0.5, 0.5};
    double p11[11] = {0};
    p11[0] = 1.0;
    expect_metrics_error(mk(1, 0, (double[]){1.0}, 1.0),
                         "metrics: example 1: 1 choices, need 2 to 10", __LINE__);
    psw_choice_scores big = mk(10, 0, p11, 1.0);
    big.n_choices = 11;
    expect_metrics_error(big, "metrics: example 1: 11 choices, need 2 to 10", __LINE__);
    expect_metrics_error(mk(2, 2, ok2, 1.0), "metrics: example 1: gold 2 outside -1..1",
                         __LINE__);
    expect_metrics_error(mk(2, -2, ok2, 1.0), "metrics: example 1: gold -2 outside -1..1",
                         __LINE__);
    expect_metrics_error(mk(2, 0, (double[]){1.25, -0.25}, 1.0),
                         "metrics: example 1: probability of choice 0 is 1.25, not in [0, 1]",
                         __LINE__);
    expect_metrics_error(mk(2, 0, (double[]){NAN, 0.5}, 1.0),
                         "metrics: example 1: probability of choice 0 is nan", __LINE__);
    expect_metrics_error(mk(2, 0, (double[]){0.5, 0.4}, 1.0),
                         "metrics: example 1: choice probabilities sum to 0.9, want 1 within",
                         __LINE__);
    expect_metrics_error(mk(2, 0, ok2, 1.5), "metrics: example 1: choice mass 1.5 is not in",
                         __LINE__);
    expect_metrics_error(mk(2, 0, ok2, NAN), "metrics: example 1: choice mass nan is not in",
                         __LINE__);
}

static void test_from_logits(void) {
    psw_choice_scores s;
    psw_err err;
    /* Uniform logits: letter softmax 1/2 each, full log-prob -ln 6, mass 2/6. */
    float flat[6] = {0};
    int32_t ids2[] = {2, 4};
    CHECK_OK(psw_choice_scores_from_logits(flat, 6, ids2, 2, 1, &s, &err), &err);
    CHECK(s.n_choices == 2 && s.gold == 1, "fields");
    CHECK_CLOSE(s.prob[0], 0.5, TOL, 0, "flat p0");
    CHECK_CLOSE(s.prob[1], 0.5, TOL, 0, "flat p1");
    CHECK_CLOSE(s.logprob_full[0], -log(6.0), TOL, 0, "flat logprob");
    CHECK_CLOSE(s.choice_mass, 1.0 / 3, TOL, 0, "flat mass");

    /* Large logits (exp would overflow without the max shift): 1000, 1001, 999, 1000. */
    float big[4] = {1000.f, 1001.f, 999.f, 1000.f};
    int32_t ids3[] = {1, 2, 3};
    CHECK_OK(psw_choice_scores_from_logits(big, 4, ids3, 3, 0, &s, &err), &err);
    double e = exp(1.0), z3 = e + 1 / e + 1; /* letters relative to 1000 */
    CHECK_CLOSE(s.prob[0], e / z3, TOL, 0, "big p0");
    CHECK_CLOSE(s.prob[1], (1 / e) / z3, TOL, 0, "big p1");
    CHECK_CLOSE(s.prob[2], 1 / z3, TOL, 0, "big p2");
    double log_z = 1000.0 + log(2 + e + 1 / e);
    CHECK_CLOSE(s.logprob_full[0], 1001.0 - log_z, 1e-9, 0, "big logprob 0");
    CHECK_CLOSE(s.logprob_full[1], 999.0 - log_z, 1e-9, 0, "big logprob 1");
    CHECK_CLOSE(s.choice_mass, z3 / (2 + e + 1 / e), TOL, 0, "big mass");

    /* A letter far below the others gets probability 0 exactly: conf 1.0 case. */
    float sharp[3] = {0.f, 900.f, -900.f};
    int32_t ids_s[] = {1, 2};
    CHECK_OK(psw_choice_scores_from_logits(sharp, 3, ids_s, 2, 0, &s, &err), &err);
    CHECK(s.prob[0] == 1.0 && s.prob[1] == 0.0, "sharp: %g %g", s.prob[0], s.prob[1]);

    float bad[6] = {0.f, 1.f, 2.f, 3.f, 4.f, 5.f};
    bad[3] = INFINITY;
    CHECK_FAILS(psw_choice_scores_from_logits(bad, 6, ids2, 2, 0, &s, &err), &err,
                PSW_ERR_NUMERIC, "choice scores: logit at vocabulary index 3 is inf");
    bad[3] = NAN;
    CHECK_FAILS(psw_choice_scores_from_logits(bad, 6, ids2, 2, 0, &s, &err), &err,
                PSW_ERR_NUMERIC, "choice scores: logit at vocabulary index 3 is nan");
    int32_t out_of_range[] = {1, 6};
    CHECK_FAILS(psw_choice_scores_from_logits(flat, 6, out_of_range, 2, 0, &s, &err), &err,
                PSW_ERR_INVALID_ARG,
                "choice scores: letter id 6 (choice 1) outside the vocabulary of 6");
    int32_t dup[] = {3, 3};
    CHECK_FAILS(psw_choice_scores_from_logits(flat, 6, dup, 2, 0, &s, &err), &err,
                PSW_ERR_INVALID_ARG, "choice scores: choices 0 and 1 share the letter id 3");
    CHECK_FAILS(psw_choice_scores_from_logits(flat, 6, ids2, 1, 0, &s, &err), &err,
                PSW_ERR_INVALID_ARG, "choice scores: 1 choices, need 2 to 10");
    CHECK_FAILS(psw_choice_scores_from_logits(flat, 6, ids2, 2, 2, &s, &err), &err,
                PSW_ERR_INVALID_ARG, "choice scores: gold 2 outside -1..1");

    /* The --predictions line of the flat example. */
    CHECK_OK(psw_choice_scores_from_logits(flat, 6, ids2, 2, -1, &s, &err), &err);
    const char *labels[] = {"A", "B"};
    cJSON *j = psw_choice_scores_json("q1", labels, &s);
    char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
    CHECK(txt && strncmp(txt, "{\"id\":\"q1\",\"gold\":-1,\"labels\":[\"A\",\"B\"],\"prob\":[0.5,0.5],"
                              "\"logprob_full\":[-1.79175946922805",
                         90) == 0,
          "prediction json: %s", txt ? txt : "(null)");
    cJSON *back = txt ? cJSON_Parse(txt) : NULL;
    CHECK_CLOSE(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(back, "choice_mass")),
                1.0 / 3, TOL, 0, "prediction json: choice_mass");
    CHECK_CLOSE(cJSON_GetNumberValue(cJSON_GetArrayItem(
                    cJSON_GetObjectItemCaseSensitive(back, "logprob_full"), 1)),
                -log(6.0), TOL, 0, "prediction json: logprob_full[1]");
    cJSON_Delete(back);
    free(txt);
    cJSON_Delete(j);

    double tie3[] = {0.3, 0.4, 0.4}, tie_first[] = {0.4, 0.4, 0.2};
    CHECK(psw_choice_argmax(tie3, 3) == 1, "argmax tie -> lowest");
    CHECK(psw_choice_argmax(tie_first, 3) == 0, "argmax tie at 0");
}

/* ---- random cases for the numpy reference ---- */

static void put_doubles(FILE *f, const double *v, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.17g", i ? "," : "", v[i]);
    fputc(']', f);
}

static int dump_random(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    psw_rng rng;
    psw_rng_seed(&rng, 20250601);
    /* n examples, logit scale, fraction unlabeled (per mille), ties forced, gold drawn from the
     * predicted distribution (calibrated) instead of uniformly */
    static const struct {
        int n;
        float scale;
        int unlabeled_pm;
        int ties, calibrated;
    } cases[] = {{1, 1.f, 0, 0, 0},     {7, 0.5f, 0, 1, 0},   {50, 2.f, 100, 0, 1},
                 {300, 4.f, 200, 1, 0}, {500, 30.f, 0, 0, 1}, {40, 1.f, 1000, 0, 0},
                 {1000, 2.f, 0, 0, 1}};
    const int n_cases = (int)(sizeof cases / sizeof cases[0]);
    const size_t vocab = 24;
    fprintf(f, "{\"ece_bins\": %d, \"cases\": [\n", PSW_ECE_BINS);
    int status = 0;
    for (int c = 0; c < n_cases && !status; c++) {
        int n = cases[c].n;
        psw_choice_scores *s = psw_xcalloc((size_t)n, sizeof *s);
        fprintf(f, "%s{\"vocab\": %zu, \"examples\": [\n", c ? ",\n" : "", vocab);
        for (int i = 0; i < n; i++) {
            float logits[24];
            for (size_t v = 0; v < vocab; v++)
                logits[v] = cases[c].scale * psw_rng_normal(&rng);
            int k = 2 + (int)psw_rng_below(&rng, PSW_MAX_CHOICES - 1);
            int32_t ids[PSW_MAX_CHOICES];
            int32_t perm[24];
            for (int v = 0; v < 24; v++) perm[v] = v;
            psw_rng_shuffle_i32(&rng, perm, vocab);
            for (int j = 0; j < k; j++) ids[j] = perm[j];
            if (cases[c].ties && psw_rng_below(&rng, 2)) logits[ids[1]] = logits[ids[0]];
            int gold = (int)psw_rng_below(&rng, (uint64_t)k);
            if ((int)psw_rng_below(&rng, 1000) < cases[c].unlabeled_pm) gold = -1;
            psw_err err;
            if (psw_choice_scores_from_logits(logits, vocab, ids, k, gold, &s[i], &err)) {
                fprintf(stderr, "from_logits: %s\n", err.msg);
                status = 1;
                break;
            }
            if (cases[c].calibrated && gold >= 0) {
                double u = psw_rng_uniform(&rng), cum = 0.0;
                gold = k - 1;
                for (int j = 0; j < k; j++) {
                    cum += s[i].prob[j];
                    if (u < cum) {
                        gold = j;
                        break;
                    }
                }
                s[i].gold = gold;
            }
            fprintf(f, "%s{\"logits\": [", i ? ",\n" : "");
            for (size_t v = 0; v < vocab; v++)
                fprintf(f, "%s%.9g", v ? "," : "", (double)logits[v]);
            fprintf(f, "], \"letters\": [");
            for (int j = 0; j < k; j++) fprintf(f, "%s%d", j ? "," : "", (int)ids[j]);
            fprintf(f, "], \"gold\": %d, \"prob\": ", gold);
            put_doubles(f, s[i].prob, k);
            fprintf(f, ", \"logprob_full\": ");
            put_doubles(f, s[i].logprob_full, k);
            fprintf(f, ", \"choice_mass\": %.17g}", s[i].choice_mass);
        }
        psw_eval_metrics m;
        psw_err err;
        if (!status && psw_eval_metrics_compute(s, (size_t)n, &m, &err)) {
            fprintf(stderr, "metrics: %s\n", err.msg);
            status = 1;
        }
        if (!status) {
            cJSON *j = psw_eval_metrics_json(&m);
            char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
            if (!txt) status = 1;
            else fprintf(f, "], \"metrics\": %s}", txt);
            free(txt);
            cJSON_Delete(j);
        }
        free(s);
    }
    fprintf(f, "\n]}\n");
    if (fclose(f) != 0) status = 1;
    return status;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--dump") == 0) return dump_random(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_metrics [--dump FILE]\n");
        return 2;
    }
    test_all_correct();
    test_all_wrong();
    test_ties_edges_mixed();
    test_shared_bin();
    test_unlabeled_only();
    test_metric_errors();
    test_from_logits();
    return psw_test_finish();
}
