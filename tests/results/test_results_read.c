/* test_results_read.c: psw_results_read (the reader behind `prunesweep status`) returns exactly
 * the rows and attributes psw_results_append / psw_results_open stored (bitwise, including NaN,
 * -0, infinities and denormals), reads a file whose writer is still running, and reports missing,
 * non-HDF5 and foreign HDF5 files. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_fixture.h"
#include "test.h"

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void check_row(const psw_run_record *got, const psw_run_record *want, int i) {
    const psw_eval_metrics *g = &got->metrics, *w = &want->metrics;
    CHECK(got->config_id == want->config_id, "row %d: config_id", i);
    CHECK(got->kind == want->kind && got->loss == want->loss && got->status == want->status,
          "row %d: kind/loss/status %d/%d/%d", i, (int)got->kind, (int)got->loss,
          (int)got->status);
    CHECK(same_bits(got->retention, want->retention), "row %d: retention", i);
    CHECK(got->data_size == want->data_size && got->seed == want->seed, "row %d: size/seed", i);
    CHECK(strcmp(got->message, want->message) == 0, "row %d: message '%s'", i, got->message);
    CHECK(strcmp(got->host, want->host) == 0, "row %d: host '%s'", i, got->host);
    CHECK(g->n_examples == w->n_examples && g->n_labeled == w->n_labeled, "row %d: counts", i);
    const double gm[] = {g->accuracy, g->entropy, g->entropy_norm, g->nll,
                         g->brier,    g->ece,     g->mce,          g->choice_mass};
    const double wm[] = {w->accuracy, w->entropy, w->entropy_norm, w->nll,
                         w->brier,    w->ece,     w->mce,          w->choice_mass};
    for (int k = 0; k < 8; k++) CHECK(same_bits(gm[k], wm[k]), "row %d: metric %d", i, k);
    CHECK(g->reliability.n_bins == PSW_ECE_BINS, "row %d: n_bins", i);
    for (int b = 0; b < PSW_ECE_BINS; b++)
        CHECK(g->reliability.count[b] == w->reliability.count[b] &&
                  same_bits(g->reliability.mean_conf[b], w->reliability.mean_conf[b]) &&
                  same_bits(g->reliability.accuracy[b], w->reliability.accuracy[b]),
              "row %d: reliability bin %d", i, b);
    CHECK(got->mlp_neurons_kept == want->mlp_neurons_kept &&
              got->mlp_neurons_total == want->mlp_neurons_total &&
              got->params_total == want->params_total && got->params_mlp == want->params_mlp &&
              got->params_nonembed == want->params_nonembed,
          "row %d: parameter counts", i);
    CHECK(same_bits(got->retention_mlp, want->retention_mlp) &&
              same_bits(got->retention_nonembed, want->retention_nonembed) &&
              same_bits(got->retention_total, want->retention_total),
          "row %d: retentions", i);
    CHECK(got->train_steps == want->train_steps && same_bits(got->final_loss, want->final_loss),
          "row %d: training", i);
    CHECK(same_bits(got->seconds_prune, want->seconds_prune) &&
              same_bits(got->seconds_train, want->seconds_train) &&
              same_bits(got->seconds_eval, want->seconds_eval) &&
              same_bits(got->finish_time, want->finish_time) && got->rank == want->rank,
          "row %d: run environment", i);
    CHECK(got->n_curve == want->n_curve, "row %d: n_curve %d", i, (int)got->n_curve);
    CHECK(got->n_examples == FX_EXAMPLES && got->n_choices == FX_CHOICES && !got->probs &&
              !got->loss_curve,
          "row %d: shape and no borrowed arrays", i);
}

static void test_round_trip(const char *dir) {
    char *path = psw_path_join(dir, "rt.h5");
    psw_results_meta meta = fx_meta();
    psw_results *r = NULL;
    psw_err err = {0};
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    fx_row x;
    for (int i = 0; i < 10; i++) {
        fx_make(&x, i);
        CHECK_OK(psw_results_append(r, &x.rec, &err), &err);
    }
    /* The writer is still running: the reader opens the file in SWMR-read mode. */
    psw_results_snapshot s;
    CHECK_OK(psw_results_read(path, &s, &err), &err);
    CHECK(s.n_rows == 10, "live read: %zu rows", s.n_rows);
    psw_results_snapshot_free(&s);
    CHECK_OK(psw_results_close(r, &err), &err);

    CHECK_OK(psw_results_read(path, &s, &err), &err);
    CHECK(s.spec_json && strcmp(s.spec_json, fx_spec) == 0, "spec attribute");
    CHECK(s.program_version && strcmp(s.program_version, "0.1.0-test") == 0, "program version");
    CHECK(s.model_fingerprint && strcmp(s.model_fingerprint, meta.model_fingerprint) == 0,
          "model fingerprint");
    CHECK(s.data_fingerprint && strcmp(s.data_fingerprint, meta.data_fingerprint) == 0,
          "data fingerprint");
    CHECK(s.expected_rows == 12, "expected_rows %lld", (long long)s.expected_rows);
    CHECK(s.n_examples == FX_EXAMPLES && s.n_choices == FX_CHOICES, "probs shape %d x %d",
          (int)s.n_examples, (int)s.n_choices);
    CHECK(s.n_rows == 10, "%zu rows", s.n_rows);
    for (size_t i = 0; i < s.n_rows && i < 10; i++) {
        fx_make(&x, (int)i);
        check_row(&s.rows[i], &x.rec, (int)i);
    }
    psw_results_snapshot_free(&s);
    CHECK(s.rows == NULL && s.spec_json == NULL, "snapshot zeroed after free");
    psw_results_snapshot_free(NULL);
    free(path);
}

static void test_errors(const char *dir) {
    psw_results_snapshot s;
    psw_err err = {0};
    char *missing = psw_path_join(dir, "missing.h5");
    CHECK_FAILS(psw_results_read(missing, &s, &err), &err, PSW_ERR_IO,
                "missing.h5: cannot open: No such file or directory");

    char *text = psw_path_join(dir, "text.h5");
    psw_status st = psw_write_file(text, "not hdf5\n", 9, &err);
    CHECK_OK(st, &err);
    CHECK_FAILS(psw_results_read(text, &s, &err), &err, PSW_ERR_FORMAT,
                "text.h5: not an HDF5 file (no HDF5 signature)");

    char *foreign = psw_path_join(dir, "foreign.h5");
    hid_t f = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0, "create a plain HDF5 file");
    if (f >= 0) H5Fclose(f);
    CHECK_FAILS(psw_results_read(foreign, &s, &err), &err, PSW_ERR_FORMAT,
                "foreign.h5: not a prunesweep results file (format 'none')");
    free(foreign);
    free(text);
    free(missing);
}

int main(void) {
    char *dir = psw_test_tmpdir();
    test_round_trip(dir);
    test_errors(dir);
    free(dir);
    return psw_test_finish();
}
