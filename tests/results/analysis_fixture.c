/* analysis_fixture.c: test helper for tests/cli/test_analysis.sh. Writes a results file through
 * the real results module (psw_results_*) whose outcomes are known in closed form, so the test can
 * compare analysis/summary.py and analysis/plot.py against hand-computed numbers.
 *
 * The design (the test restates it independently):
 *   test set: 11 examples, 5 choices, gold[i] = i % 5 for i < 10, example 10 unlabeled (-1).
 *   every scored example puts probability c on one choice and q = (1 - c) / 4 on the others;
 *   a configuration with k correct examples is right on examples 0..k-1 (top choice = gold) and
 *   wrong on k..9 (top choice = gold + 1 mod 5); the unlabeled example's top choice is 0.
 *   So accuracy = k / 10, entropy = -c ln c - 4 q ln q, nll = (k (-ln c) + (10 - k)(-ln q)) / 10,
 *   ece = mce = |k / 10 - c|, choice mass 0.9 everywhere.
 *   Grid: retention {0.25, 0.5} x loss {ce, kl} x data_size {100, 400} x seed {0, 1, 2};
 *   c = 0.4 + 0.1 seed for ce, 0.5 + 0.1 seed for kl (ce's c in the cell retention 0.5 /
 *   data size 100, where kl equals ce example for example); k from the table K below.
 *   Outcomes that are not ok: (0.25, kl, 400, seed 2) fails first and succeeds on a re-run
 *   appended at the end (the last row counts); (0.5, ce, 400, seed 2) ends failed;
 *   (0.5, kl, 100, seed 2) ends diverged.
 *   References: teacher k = 9, c = 0.8; unrecovered 0.25: k = 2, c = 0.3; 0.5: k = 5, c = 0.5.
 *
 * Commands on stdin, one per line (like results_writer.c):
 *   write N   append the next N rows of the fixture sequence, then print "rows <count>"
 *   close     close the file, print "closed", exit 0
 * On start it prints "open rows=<count> total=<rows in the sequence>". Errors: one line on
 * stderr, exit 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/eval_metrics.h"
#include "psw/results.h"

#define N_EX 11
#define N_LAB 10
#define N_CH 5

static const double ret_axis[2] = {0.25, 0.5};
static const int64_t size_axis[2] = {100, 400};
/* K[retention][loss][data size][seed]: correct examples out of 10 */
static const int K[2][2][2][3] = {
    {{{3, 4, 5}, {6, 5, 7}}, {{5, 6, 6}, {7, 7, 8}}},
    {{{7, 7, 7}, {9, 8, 8}}, {{7, 7, 7}, {8, 8, 7}}},
};

static const char *const ex_ids[N_EX] = {"e00", "e01", "e02", "e03", "e04", "e05",
                                         "e06", "e07", "e08", "e09", "e10"};
static const int32_t gold[N_EX] = {0, 1, 2, 3, 4, 0, 1, 2, 3, 4, -1};
static const char spec_json[] =
    "{\"name\":\"analysis-fixture\",\"grid\":{\"retention\":[0.25,0.5],\"loss\":[\"ce\",\"kl\"],"
    "\"data_size\":[100,400],\"seed\":[0,1,2]}}";

typedef struct fixture_row {
    psw_row_kind kind;
    double retention;
    psw_loss_kind loss;
    int64_t data_size, seed;
    psw_run_status status;
    int k;
    double c;
    const char *message;
} fixture_row;

#define MAX_ROWS 64
static fixture_row seq[MAX_ROWS];
static int n_seq;

static void add(fixture_row r) { seq[n_seq++] = r; }

static void build_sequence(void) {
    add((fixture_row){PSW_ROW_TEACHER, 1.0, PSW_LOSS_NONE, 0, 0, PSW_RUN_OK, 9, 0.8, ""});
    add((fixture_row){PSW_ROW_UNRECOVERED, 0.25, PSW_LOSS_NONE, 0, 0, PSW_RUN_OK, 2, 0.3, ""});
    add((fixture_row){PSW_ROW_UNRECOVERED, 0.5, PSW_LOSS_NONE, 0, 0, PSW_RUN_OK, 5, 0.5, ""});
    for (int ri = 0; ri < 2; ri++)
        for (int li = 0; li < 2; li++)
            for (int di = 0; di < 2; di++)
                for (int s = 0; s < 3; s++) {
                    fixture_row r = {PSW_ROW_RECOVERED, ret_axis[ri], li ? PSW_LOSS_KL : PSW_LOSS_CE,
                                     size_axis[di], s, PSW_RUN_OK, K[ri][li][di][s],
                                     (li ? 0.5 : 0.4) + 0.1 * s, ""};
                    if (ri == 1 && di == 0) r.c = 0.4 + 0.1 * s; /* kl identical to ce */
                    if (ri == 0 && li == 1 && di == 1 && s == 2) {
                        r.status = PSW_RUN_FAILED; /* re-run at the end */
                        r.message = "cannot allocate 1234 bytes of AdamW state";
                    }
                    if (ri == 1 && li == 0 && di == 1 && s == 2) {
                        r.status = PSW_RUN_FAILED;
                        r.message = "model.safetensors: cannot open: No such file or directory";
                    }
                    if (ri == 1 && li == 1 && di == 0 && s == 2) {
                        r.status = PSW_RUN_DIVERGED;
                        r.message = "train step 3: loss is nan";
                    }
                    add(r);
                }
    add((fixture_row){PSW_ROW_RECOVERED, 0.25, PSW_LOSS_KL, 400, 2, PSW_RUN_OK, 8, 0.7, ""});
}

/* Stable, distinct ids: references by kind and retention, recovered configs by their values. */
static uint64_t id_of(const fixture_row *r) {
    char text[160];
    snprintf(text, sizeof text, "%d %.17g %d %lld %lld", (int)r->kind, r->retention, (int)r->loss,
             (long long)r->data_size, (long long)r->seed);
    return psw_fnv1a(text, strlen(text), PSW_FNV_SEED);
}

typedef struct built_row {
    psw_run_record rec;
    float probs[N_EX * N_CH];
    float curve[8];
} built_row;

static psw_status build_row(const fixture_row *f, built_row *b, psw_err *err) {
    memset(b, 0, sizeof *b);
    psw_run_record *r = &b->rec;
    r->config_id = id_of(f);
    r->kind = f->kind;
    r->retention = f->retention;
    r->loss = f->loss;
    r->data_size = f->data_size;
    r->seed = f->seed;
    r->status = f->status;
    snprintf(r->message, sizeof r->message, "%s", f->message);
    r->mlp_neurons_total = 2 * 64;
    r->mlp_neurons_kept = (int64_t)lround(f->retention * 64) * 2;
    r->retention_mlp = f->retention;
    r->params_total = 100000;
    r->rank = 1;
    snprintf(r->host, sizeof r->host, "fixture-host");
    r->finish_time = 1.7e9;
    r->n_examples = N_EX;
    r->n_choices = N_CH;
    if (f->status != PSW_RUN_OK) { /* as run.c stores a failure: NaN metrics, no probabilities */
        psw_eval_metrics *m = &r->metrics;
        m->accuracy = m->entropy = m->entropy_norm = m->nll = m->brier = NAN;
        m->ece = m->mce = m->choice_mass = NAN;
        m->reliability.n_bins = PSW_ECE_BINS;
        for (int i = 0; i < PSW_ECE_BINS; i++)
            m->reliability.mean_conf[i] = m->reliability.accuracy[i] = NAN;
        r->final_loss = NAN;
        return PSW_OK;
    }
    psw_choice_scores sc[N_EX];
    double q = (1.0 - f->c) / 4.0;
    for (int i = 0; i < N_EX; i++) {
        int top = i == N_LAB ? 0 : (i < f->k ? gold[i] : (gold[i] + 1) % N_CH);
        sc[i].n_choices = N_CH;
        sc[i].gold = gold[i];
        sc[i].choice_mass = 0.9;
        for (int j = 0; j < N_CH; j++) {
            sc[i].prob[j] = j == top ? f->c : q;
            sc[i].logprob_full[j] = log(0.9 * sc[i].prob[j]);
            b->probs[i * N_CH + j] = (float)sc[i].prob[j];
        }
    }
    psw_status st = psw_eval_metrics_compute(sc, N_EX, &r->metrics, err);
    if (st != PSW_OK) return st;
    r->probs = b->probs;
    r->train_steps = f->kind == PSW_ROW_RECOVERED ? f->data_size / 8 : 0;
    r->final_loss = f->kind == PSW_ROW_RECOVERED ? 0.5 : NAN;
    r->n_curve = f->kind == PSW_ROW_RECOVERED ? 8 : 0;
    for (int i = 0; i < 8; i++) b->curve[i] = (float)(2.0 - 0.1 * i);
    r->loss_curve = r->n_curve ? b->curve : NULL;
    return PSW_OK;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: psw_analysis_fixture RESULTS.h5\n");
        return 2;
    }
    build_sequence();
    psw_results_meta meta = {0};
    meta.spec_json = spec_json;
    meta.program_version = "0.1.0-fixture";
    meta.model_fingerprint = "fixture-model";
    meta.data_fingerprint = "fixture-data";
    meta.n_examples = N_EX;
    meta.n_choices = N_CH;
    meta.example_ids = ex_ids;
    meta.gold = gold;
    meta.expected_rows = 27; /* 24 configurations + teacher + 2 unrecovered */
    psw_err err = {0};
    psw_results *res = NULL;
    if (psw_results_open(argv[1], &meta, &res, &err) != PSW_OK) {
        fprintf(stderr, "psw_analysis_fixture: %s\n", err.msg);
        return 1;
    }
    printf("open rows=%lld total=%d\n", (long long)psw_results_row_count(res), n_seq);
    fflush(stdout);
    char line[128];
    static built_row b;
    while (fgets(line, sizeof line, stdin)) {
        long n = 0;
        if (sscanf(line, "write %ld", &n) == 1 && n > 0) {
            for (long j = 0; j < n; j++) {
                int64_t next = psw_results_row_count(res);
                if (next >= n_seq) {
                    fprintf(stderr, "psw_analysis_fixture: the sequence has only %d rows\n", n_seq);
                    psw_results_close(res, NULL);
                    return 1;
                }
                if (build_row(&seq[next], &b, &err) != PSW_OK ||
                    psw_results_append(res, &b.rec, &err) != PSW_OK) {
                    fprintf(stderr, "psw_analysis_fixture: %s\n", err.msg);
                    psw_results_close(res, NULL);
                    return 1;
                }
            }
            printf("rows %lld\n", (long long)psw_results_row_count(res));
            fflush(stdout);
        } else if (strncmp(line, "close", 5) == 0) {
            break;
        } else {
            fprintf(stderr, "psw_analysis_fixture: unknown command: %s", line);
            psw_results_close(res, NULL);
            return 1;
        }
    }
    if (psw_results_close(res, &err) != PSW_OK) {
        fprintf(stderr, "psw_analysis_fixture: %s\n", err.msg);
        return 1;
    }
    printf("closed\n");
    fflush(stdout);
    return 0;
}
