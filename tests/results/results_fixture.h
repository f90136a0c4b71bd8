/* results_fixture.h: deterministic records and metadata for the results tests and for the
 * results_writer helper used by tests/cli/test_results_h5py.sh. Row i is a pure function of i, so
 * a reader can check any row it finds without talking to the writer.
 * Header-only (static functions); include from one translation unit per executable. */
#ifndef PSW_RESULTS_FIXTURE_H
#define PSW_RESULTS_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "psw/results.h"

#define FX_EXAMPLES 7
#define FX_CHOICES 5

static const char *const fx_ids[FX_EXAMPLES] = {"q-000", "q-001", "q-002", "q-003",
                                                "q-004", "q-005", "q-\xc3\xa9t\xc3\xa9"};
static const int32_t fx_gold[FX_EXAMPLES] = {0, 4, 2, -1, 1, 3, -1};
static const char fx_spec[] = "{\"grid\":{\"retention\":[0.5,0.75],\"seed\":[1,2]},\"name\":\"fx\"}";

static psw_results_meta fx_meta(void) {
    psw_results_meta m = {0};
    m.spec_json = fx_spec;
    m.program_version = "0.1.0-test";
    m.model_fingerprint = "model:0123456789abcdef";
    m.data_fingerprint = "data:fedcba9876543210";
    m.n_examples = FX_EXAMPLES;
    m.n_choices = FX_CHOICES;
    m.example_ids = fx_ids;
    m.gold = fx_gold;
    m.expected_rows = 12;
    return m;
}

/* splitmix64: a value stream independent of anything under test. */
static uint64_t fx_mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double fx_double(uint64_t *s) { return (double)(fx_mix(s) >> 11) * 0x1.0p-53 * 4.0 - 1.0; }

/* Storage behind one record's borrowed arrays. */
typedef struct fx_row {
    psw_run_record rec;
    float probs[FX_EXAMPLES * FX_CHOICES];
    float curve[PSW_CURVE_POINTS];
} fx_row;

static void fx_make(fx_row *x, int i) {
    memset(x, 0, sizeof *x);
    uint64_t s = 0x5EED0000ULL + (uint64_t)i;
    psw_run_record *r = &x->rec;
    r->config_id = 1000 + (uint64_t)i * 7 + (i % 3 == 0 ? 0xF000000000000000ULL : 0);
    r->kind = (psw_row_kind)(i % 3);
    r->retention = 0.5 + i / 8.0;
    r->loss = (psw_loss_kind)(i % 4);
    r->data_size = 1000 * (i + 1);
    r->seed = -i;
    r->status = i % 5 == 3 ? PSW_RUN_FAILED : (i % 5 == 4 ? PSW_RUN_DIVERGED : PSW_RUN_OK);
    if (r->status == PSW_RUN_FAILED)
        snprintf(r->message, sizeof r->message, "row %d: model.safetensors: cannot open", i);
    else if (i == 1) /* the longest message that fits */
        memset(r->message, 'm', sizeof r->message - 1);
    psw_eval_metrics *m = &r->metrics;
    m->n_examples = FX_EXAMPLES;
    m->n_labeled = 5;
    m->accuracy = fx_double(&s);
    m->entropy = fx_double(&s);
    m->entropy_norm = i == 2 ? -0.0 : fx_double(&s);
    m->nll = i == 2 ? INFINITY : fx_double(&s);
    m->brier = 5e-324; /* a denormal */
    m->ece = fx_double(&s);
    m->mce = fx_double(&s);
    m->choice_mass = fx_double(&s);
    m->reliability.n_bins = PSW_ECE_BINS;
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        m->reliability.count[b] = (b + i) % 4 == 0 ? 0 : (long long)(fx_mix(&s) % 100000);
        m->reliability.mean_conf[b] = m->reliability.count[b] ? fx_double(&s) : NAN;
        m->reliability.accuracy[b] = m->reliability.count[b] ? fx_double(&s) : NAN;
    }
    r->mlp_neurons_kept = 3000 + i;
    r->mlp_neurons_total = 8192;
    r->params_total = 7000000000LL + i;
    r->params_mlp = 4000000000LL - i;
    r->params_nonembed = 6000000000LL + 3 * i;
    r->retention_mlp = fx_double(&s);
    r->retention_nonembed = fx_double(&s);
    r->retention_total = fx_double(&s);
    r->train_steps = i % 3 == 0 ? 0 : 10 * i;
    r->final_loss = i % 3 == 0 ? NAN : fx_double(&s);
    r->seconds_prune = fx_double(&s);
    r->seconds_train = fx_double(&s);
    r->seconds_eval = fx_double(&s);
    r->rank = i % 3 + 1;
    snprintf(r->host, sizeof r->host, "node-%02d.cluster", i);
    r->finish_time = 1.7e9 + i * 0.125;
    r->n_examples = FX_EXAMPLES;
    r->n_choices = FX_CHOICES;
    for (int k = 0; k < FX_EXAMPLES * FX_CHOICES; k++)
        x->probs[k] = k % FX_CHOICES == 4 && k / FX_CHOICES == 2 ? NAN : (float)fx_double(&s);
    /* failed rows carry no probabilities: the file stores NaN */
    r->probs = r->status == PSW_RUN_FAILED ? NULL : x->probs;
    r->n_curve = i == 5 ? PSW_CURVE_POINTS : (i * 37) % (PSW_CURVE_POINTS + 1);
    for (int k = 0; k < r->n_curve; k++) x->curve[k] = (float)(3.0 - k * 0.01 + i);
    r->loss_curve = r->n_curve ? x->curve : NULL;
}

#endif
