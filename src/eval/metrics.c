/* metrics.c: choice probabilities and evaluation metrics (include/psw/eval_metrics.h,
 * formulas in docs/metrics.md). */
#include <math.h>
#include <string.h>

#include "psw/eval_metrics.h"

psw_status psw_choice_scores_from_logits(const float *logits, size_t vocab,
                                         const int32_t *letter_ids, int n_choices, int gold,
                                         psw_choice_scores *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    if (n_choices < 2 || n_choices > PSW_MAX_CHOICES)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "choice scores: %d choices, need 2 to %d",
                        n_choices, PSW_MAX_CHOICES);
    if (gold < -1 || gold >= n_choices)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "choice scores: gold %d outside -1..%d", gold,
                        n_choices - 1);
    for (int k = 0; k < n_choices; k++) {
        if (letter_ids[k] < 0 || (size_t)letter_ids[k] >= vocab)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "choice scores: letter id %d (choice %d) outside the vocabulary of %zu",
                            (int)letter_ids[k], k, vocab);
        for (int j = 0; j < k; j++)
            if (letter_ids[j] == letter_ids[k])
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "choice scores: choices %d and %d share the letter id %d", j, k,
                                (int)letter_ids[k]);
    }
    double vmax = -INFINITY;
    for (size_t v = 0; v < vocab; v++) {
        if (!isfinite(logits[v]))
            return PSW_FAIL(err, PSW_ERR_NUMERIC,
                            "choice scores: logit at vocabulary index %zu is %g", v,
                            (double)logits[v]);
        if (logits[v] > vmax) vmax = logits[v];
    }
    double sum = 0.0;
    for (size_t v = 0; v < vocab; v++) sum += exp((double)logits[v] - vmax);
    double log_z = vmax + log(sum);

    double lmax = -INFINITY;
    for (int k = 0; k < n_choices; k++)
        if (logits[letter_ids[k]] > lmax) lmax = logits[letter_ids[k]];
    double e[PSW_MAX_CHOICES], esum = 0.0, mass = 0.0;
    for (int k = 0; k < n_choices; k++) {
        double l = logits[letter_ids[k]];
        e[k] = exp(l - lmax);
        esum += e[k];
        out->logprob_full[k] = l - log_z;
        mass += exp(out->logprob_full[k]);
    }
    for (int k = 0; k < n_choices; k++) out->prob[k] = e[k] / esum;
    out->n_choices = n_choices;
    out->gold = gold;
    out->choice_mass = mass;
    return PSW_OK;
}

int psw_choice_argmax(const double *p, int k) {
    int best = 0;
    for (int i = 1; i < k; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

static psw_status check_scores(const psw_choice_scores *s, size_t i, psw_err *err) {
    int k = s->n_choices;
    if (k < 2 || k > PSW_MAX_CHOICES)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "metrics: example %zu: %d choices, need 2 to %d",
                        i, k, PSW_MAX_CHOICES);
    if (s->gold < -1 || s->gold >= k)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "metrics: example %zu: gold %d outside -1..%d",
                        i, s->gold, k - 1);
    double sum = 0.0;
    for (int c = 0; c < k; c++) {
        double p = s->prob[c];
        if (!(p >= 0.0 && p <= 1.0))
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "metrics: example %zu: probability of choice %d is %g, not in [0, 1]",
                            i, c, p);
        sum += p;
    }
    if (fabs(sum - 1.0) > PSW_PROB_SUM_TOL)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "metrics: example %zu: choice probabilities sum to %.9g, want 1 within %g",
                        i, sum, PSW_PROB_SUM_TOL);
    if (!(s->choice_mass >= 0.0 && s->choice_mass <= 1.0 + PSW_PROB_SUM_TOL))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "metrics: example %zu: choice mass %g is not in [0, 1]", i,
                        s->choice_mass);
    return PSW_OK;
}

/* Bin of a top-label confidence: [b/B, (b+1)/B) for b < B-1, and [(B-1)/B, 1] for the last. */
static int conf_bin(double conf) {
    int b = (int)floor(conf * PSW_ECE_BINS);
    return b < PSW_ECE_BINS ? b : PSW_ECE_BINS - 1;
}

psw_status psw_eval_metrics_compute(const psw_choice_scores *scores, size_t n,
                                    psw_eval_metrics *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    if (n == 0) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "metrics: no examples");
    for (size_t i = 0; i < n; i++) {
        psw_status st = check_scores(&scores[i], i, err);
        if (st) return st;
    }
    double ent = 0.0, ent_norm = 0.0, mass = 0.0, correct = 0.0, nll = 0.0, brier = 0.0;
    double bin_conf[PSW_ECE_BINS] = {0}, bin_correct[PSW_ECE_BINS] = {0};
    long long bin_count[PSW_ECE_BINS] = {0}, n_labeled = 0;
    for (size_t i = 0; i < n; i++) {
        const psw_choice_scores *s = &scores[i];
        int k = s->n_choices;
        double h = 0.0;
        for (int c = 0; c < k; c++)
            if (s->prob[c] > 0.0) h -= s->prob[c] * log(s->prob[c]);
        ent += h;
        ent_norm += h / log((double)k);
        mass += s->choice_mass;
        if (s->gold < 0) continue;
        n_labeled++;
        int top = psw_choice_argmax(s->prob, k);
        double conf = s->prob[top], ok = top == s->gold ? 1.0 : 0.0;
        correct += ok;
        nll -= log(s->prob[s->gold]);
        double b = 0.0;
        for (int c = 0; c < k; c++) {
            double d = s->prob[c] - (c == s->gold ? 1.0 : 0.0);
            b += d * d;
        }
        brier += b;
        int bin = conf_bin(conf);
        bin_count[bin]++;
        bin_conf[bin] += conf;
        bin_correct[bin] += ok;
    }
    out->n_examples = (long long)n;
    out->n_labeled = n_labeled;
    out->entropy = ent / (double)n;
    out->entropy_norm = ent_norm / (double)n;
    out->choice_mass = mass / (double)n;
    out->reliability.n_bins = PSW_ECE_BINS;
    double nl = (double)n_labeled;
    out->accuracy = n_labeled ? correct / nl : NAN;
    out->nll = n_labeled ? nll / nl : NAN;
    out->brier = n_labeled ? brier / nl : NAN;
    double ece = 0.0, mce = 0.0;
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        out->reliability.count[b] = bin_count[b];
        if (bin_count[b] == 0) {
            out->reliability.mean_conf[b] = NAN;
            out->reliability.accuracy[b] = NAN;
            continue;
        }
        double cnt = (double)bin_count[b];
        double mc = bin_conf[b] / cnt, acc = bin_correct[b] / cnt, gap = fabs(acc - mc);
        out->reliability.mean_conf[b] = mc;
        out->reliability.accuracy[b] = acc;
        ece += cnt / nl * gap;
        if (gap > mce) mce = gap;
    }
    out->ece = n_labeled ? ece : NAN;
    out->mce = n_labeled ? mce : NAN;
    return PSW_OK;
}

static cJSON *num_or_null(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static bool add(cJSON *obj, const char *key, cJSON *item) {
    if (!item) return false;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool add_to_array(cJSON *arr, cJSON *item) {
    if (!item) return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

cJSON *psw_eval_metrics_json(const psw_eval_metrics *m) {
    cJSON *o = cJSON_CreateObject(), *rel = cJSON_CreateObject();
    cJSON *cnt = cJSON_CreateArray(), *conf = cJSON_CreateArray(), *acc = cJSON_CreateArray();
    bool ok = o && rel && cnt && conf && acc;
    for (int b = 0; ok && b < m->reliability.n_bins; b++) {
        cJSON *c = cJSON_CreateNumber((double)m->reliability.count[b]);
        cJSON *f = num_or_null(m->reliability.mean_conf[b]);
        cJSON *a = num_or_null(m->reliability.accuracy[b]);
        ok = c && f && a;
        if (ok) {
            cJSON_AddItemToArray(cnt, c);
            cJSON_AddItemToArray(conf, f);
            cJSON_AddItemToArray(acc, a);
        } else {
            cJSON_Delete(c);
            cJSON_Delete(f);
            cJSON_Delete(a);
        }
    }
    if (ok) {
        ok = add(rel, "count", cnt);
        cnt = NULL;
    }
    if (ok) {
        ok = add(rel, "mean_conf", conf);
        conf = NULL;
    }
    if (ok) {
        ok = add(rel, "accuracy", acc);
        acc = NULL;
    }
    ok = ok && add(o, "n_examples", cJSON_CreateNumber((double)m->n_examples)) &&
         add(o, "n_labeled", cJSON_CreateNumber((double)m->n_labeled)) &&
         add(o, "accuracy", num_or_null(m->accuracy)) &&
         add(o, "entropy", num_or_null(m->entropy)) &&
         add(o, "entropy_norm", num_or_null(m->entropy_norm)) &&
         add(o, "nll", num_or_null(m->nll)) && add(o, "brier", num_or_null(m->brier)) &&
         add(o, "ece", num_or_null(m->ece)) && add(o, "mce", num_or_null(m->mce)) &&
         add(o, "choice_mass", num_or_null(m->choice_mass)) &&
         add(o, "ece_bins", cJSON_CreateNumber(m->reliability.n_bins));
    if (ok) {
        ok = add(o, "reliability", rel);
        rel = NULL;
    }
    cJSON_Delete(cnt);
    cJSON_Delete(conf);
    cJSON_Delete(acc);
    cJSON_Delete(rel);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *double_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        if (!add_to_array(a, num_or_null(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

cJSON *psw_choice_scores_json(const char *id, const char *const *labels,
                              const psw_choice_scores *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON *lab = cJSON_CreateStringArray(labels, s->n_choices);
    bool ok = o && lab && add(o, "id", cJSON_CreateString(id)) &&
              add(o, "gold", cJSON_CreateNumber(s->gold));
    if (ok) {
        ok = add(o, "labels", lab);
        lab = NULL;
    }
    ok = ok && add(o, "prob", double_array(s->prob, s->n_choices)) &&
         add(o, "logprob_full", double_array(s->logprob_full, s->n_choices)) &&
         add(o, "choice_mass", num_or_null(s->choice_mass));
    cJSON_Delete(lab);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
