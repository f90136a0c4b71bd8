/* test_results.c: the HDF5 results file. Rows are written through psw_results and read back with
 * the plain HDF5 API (this test's own types, fields matched by name), so a layout or conversion
 * bug in results.c cannot hide itself. Covers create, append, resume, the resume rule for failed
 * rows, a SIGKILLed writer, a live second writer, a disk-full writer (RLIMIT_FSIZE), files or
 * directories that must be refused without being modified, batched appends (and a torn batch),
 * and simulated files. */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "results_fixture.h"
#include "test.h"

/* ---- independent reader ---- */

/* Deliberately not results.c's field order: HDF5 matches compound members by name. */
typedef struct t_row {
    char host[PSW_HOST_SIZE];
    double finish_time;
    int32_t n_curve, rank;
    double seconds_eval, seconds_train, seconds_prune, final_loss;
    int64_t train_steps;
    double retention_total, retention_nonembed, retention_mlp;
    int64_t params_nonembed, params_mlp, params_total, mlp_neurons_total, mlp_neurons_kept;
    double rel_accuracy[PSW_ECE_BINS], rel_mean_conf[PSW_ECE_BINS];
    int64_t rel_count[PSW_ECE_BINS];
    int32_t rel_n_bins;
    double choice_mass, mce, ece, brier, nll, entropy_norm, entropy, accuracy;
    int64_t n_labeled, n_examples;
    char message[PSW_ERR_MSG_SIZE];
    int32_t status;
    int64_t seed, data_size;
    int32_t loss;
    double retention;
    int32_t kind;
    uint64_t config_id;
} t_row;

static hid_t t_enum(const char *(*name)(int), int n) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT32);
    for (int32_t v = 0; v < n; v++) H5Tenum_insert(t, name(v), &v);
    return t;
}
static const char *kind_name(int v) { return psw_row_kind_name((psw_row_kind)v); }
static const char *loss_name(int v) { return psw_loss_kind_name((psw_loss_kind)v); }
static const char *status_name(int v) { return psw_run_status_name((psw_run_status)v); }

static hid_t t_row_type(void) {
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(t_row));
    hid_t msg = H5Tcopy(H5T_C_S1), host = H5Tcopy(H5T_C_S1);
    H5Tset_size(msg, PSW_ERR_MSG_SIZE);
    H5Tset_size(host, PSW_HOST_SIZE);
    hsize_t bins = PSW_ECE_BINS;
    hid_t ai = H5Tarray_create2(H5T_NATIVE_INT64, 1, &bins);
    hid_t ad = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, &bins);
    hid_t ek = t_enum(kind_name, 3), el = t_enum(loss_name, 4), es = t_enum(status_name, 4);
#define I(f, ty) H5Tinsert(t, #f, HOFFSET(t_row, f), ty)
    I(host, host); I(finish_time, H5T_NATIVE_DOUBLE); I(n_curve, H5T_NATIVE_INT32);
    I(rank, H5T_NATIVE_INT32); I(seconds_eval, H5T_NATIVE_DOUBLE);
    I(seconds_train, H5T_NATIVE_DOUBLE); I(seconds_prune, H5T_NATIVE_DOUBLE);
    I(final_loss, H5T_NATIVE_DOUBLE); I(train_steps, H5T_NATIVE_INT64);
    I(retention_total, H5T_NATIVE_DOUBLE); I(retention_nonembed, H5T_NATIVE_DOUBLE);
    I(retention_mlp, H5T_NATIVE_DOUBLE); I(params_nonembed, H5T_NATIVE_INT64);
    I(params_mlp, H5T_NATIVE_INT64); I(params_total, H5T_NATIVE_INT64);
    I(mlp_neurons_total, H5T_NATIVE_INT64); I(mlp_neurons_kept, H5T_NATIVE_INT64);
    I(rel_accuracy, ad); I(rel_mean_conf, ad); I(rel_count, ai); I(rel_n_bins, H5T_NATIVE_INT32);
    I(choice_mass, H5T_NATIVE_DOUBLE); I(mce, H5T_NATIVE_DOUBLE); I(ece, H5T_NATIVE_DOUBLE);
    I(brier, H5T_NATIVE_DOUBLE); I(nll, H5T_NATIVE_DOUBLE); I(entropy_norm, H5T_NATIVE_DOUBLE);
    I(entropy, H5T_NATIVE_DOUBLE); I(accuracy, H5T_NATIVE_DOUBLE);
    I(n_labeled, H5T_NATIVE_INT64); I(n_examples, H5T_NATIVE_INT64); I(message, msg);
    I(status, es); I(seed, H5T_NATIVE_INT64); I(data_size, H5T_NATIVE_INT64); I(loss, el);
    I(retention, H5T_NATIVE_DOUBLE); I(kind, ek); I(config_id, H5T_NATIVE_UINT64);
#undef I
    H5Tclose(msg); H5Tclose(host); H5Tclose(ai); H5Tclose(ad);
    H5Tclose(ek); H5Tclose(el); H5Tclose(es);
    return t;
}

static int same_d(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }
static int same_f(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Compares every field of a row read back against fixture row i. Returns mismatches. */
static int compare_row(const t_row *g, int i) {
    fx_row x;
    fx_make(&x, i);
    const psw_run_record *w = &x.rec;
    const psw_eval_metrics *m = &w->metrics;
    int bad = 0;
#define EQ(cond, field)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            bad++;                                                                                 \
            printf("  row %d: field %s differs\n", i, field);                                     \
        }                                                                                          \
    } while (0)
    EQ(g->config_id == w->config_id, "config_id");
    EQ(g->kind == (int32_t)w->kind, "kind");
    EQ(same_d(g->retention, w->retention), "retention");
    EQ(g->loss == (int32_t)w->loss, "loss");
    EQ(g->data_size == w->data_size, "data_size");
    EQ(g->seed == w->seed, "seed");
    EQ(g->status == (int32_t)w->status, "status");
    EQ(strcmp(g->message, w->message) == 0, "message");
    EQ(g->n_examples == m->n_examples, "n_examples");
    EQ(g->n_labeled == m->n_labeled, "n_labeled");
    EQ(same_d(g->accuracy, m->accuracy), "accuracy");
    EQ(same_d(g->entropy, m->entropy), "entropy");
    EQ(same_d(g->entropy_norm, m->entropy_norm), "entropy_norm");
    EQ(same_d(g->nll, m->nll), "nll");
    EQ(same_d(g->brier, m->brier), "brier");
    EQ(same_d(g->ece, m->ece), "ece");
    EQ(same_d(g->mce, m->mce), "mce");
    EQ(same_d(g->choice_mass, m->choice_mass), "choice_mass");
    EQ(g->rel_n_bins == m->reliability.n_bins, "rel_n_bins");
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        EQ(g->rel_count[b] == m->reliability.count[b], "rel_count");
        EQ(same_d(g->rel_mean_conf[b], m->reliability.mean_conf[b]), "rel_mean_conf");
        EQ(same_d(g->rel_accuracy[b], m->reliability.accuracy[b]), "rel_accuracy");
    }
    EQ(g->mlp_neurons_kept == w->mlp_neurons_kept, "mlp_neurons_kept");
    EQ(g->mlp_neurons_total == w->mlp_neurons_total, "mlp_neurons_total");
    EQ(g->params_total == w->params_total, "params_total");
    EQ(g->params_mlp == w->params_mlp, "params_mlp");
    EQ(g->params_nonembed == w->params_nonembed, "params_nonembed");
    EQ(same_d(g->retention_mlp, w->retention_mlp), "retention_mlp");
    EQ(same_d(g->retention_nonembed, w->retention_nonembed), "retention_nonembed");
    EQ(same_d(g->retention_total, w->retention_total), "retention_total");
    EQ(g->train_steps == w->train_steps, "train_steps");
    EQ(same_d(g->final_loss, w->final_loss), "final_loss");
    EQ(same_d(g->seconds_prune, w->seconds_prune), "seconds_prune");
    EQ(same_d(g->seconds_train, w->seconds_train), "seconds_train");
    EQ(same_d(g->seconds_eval, w->seconds_eval), "seconds_eval");
    EQ(g->rank == w->rank, "rank");
    EQ(strcmp(g->host, w->host) == 0, "host");
    EQ(same_d(g->finish_time, w->finish_time), "finish_time");
    EQ(g->n_curve == w->n_curve, "n_curve");
#undef EQ
    return bad;
}

static char *read_attr_str(hid_t fid, const char *name) {
    hid_t a = H5Aopen(fid, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL, *out = NULL;
    if (H5Aread(a, t, &v) >= 0 && v) out = psw_xstrdup(v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

static void check_attr(hid_t fid, const char *name, const char *want) {
    char *got = read_attr_str(fid, name);
    CHECK(got && strcmp(got, want) == 0, "attribute %s = '%s', want '%s'", name,
          got ? got : "(missing)", want);
    free(got);
}

/* Checks the whole file: attributes, /test, and row j of /runs, /probs, /curves against fixture
 * row j. Rows whose status is pending are incomplete appends and
 * only counted. Opens with SWMR read, which also works on a file left by a killed writer.
 * Returns the number of rows in /runs. */
static hsize_t check_file(const char *path, hsize_t want_rows, int *n_pending) {
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    CHECK(fid >= 0, "%s opens with SWMR read", path);
    if (fid < 0) return 0;
    psw_results_meta meta = fx_meta();
    check_attr(fid, "format", PSW_RESULTS_FORMAT);
    check_attr(fid, "spec", meta.spec_json);
    check_attr(fid, "program_version", meta.program_version);
    check_attr(fid, "model_fingerprint", meta.model_fingerprint);
    check_attr(fid, "data_fingerprint", meta.data_fingerprint);
    char *created = read_attr_str(fid, "created");
    CHECK(created && strlen(created) == 20 && created[10] == 'T' && created[19] == 'Z',
          "created is ISO-8601 UTC: %s", created ? created : "(missing)");
    free(created);
    int64_t expected = 0;
    hid_t a = H5Aopen(fid, "expected_rows", H5P_DEFAULT);
    CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_INT64, &expected) >= 0 && expected == 12,
          "expected_rows = %lld", (long long)expected);
    if (a >= 0) H5Aclose(a);

    /* /test */
    hid_t d = H5Dopen2(fid, "test/ids", H5P_DEFAULT);
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    char *ids[FX_EXAMPLES] = {0};
    CHECK(d >= 0 && H5Dread(d, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ids) >= 0, "read /test/ids");
    for (int k = 0; k < FX_EXAMPLES; k++) {
        CHECK(ids[k] && strcmp(ids[k], fx_ids[k]) == 0, "/test/ids[%d]", k);
        H5free_memory(ids[k]);
    }
    H5Tclose(vt);
    if (d >= 0) H5Dclose(d);
    int32_t gold[FX_EXAMPLES] = {0};
    d = H5Dopen2(fid, "test/gold", H5P_DEFAULT);
    CHECK(d >= 0 && H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, gold) >= 0,
          "read /test/gold");
    CHECK(memcmp(gold, fx_gold, sizeof gold) == 0, "/test/gold round-trips");
    if (d >= 0) H5Dclose(d);

    /* /runs */
    hsize_t n = 0;
    d = H5Dopen2(fid, "runs", H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    H5Sget_simple_extent_dims(s, &n, NULL);
    H5Sclose(s);
    if (want_rows != (hsize_t)-1) CHECK(n == want_rows, "/runs has %llu rows, want %llu",
                                         (unsigned long long)n, (unsigned long long)want_rows);
    t_row *rows = psw_xcalloc(n ? n : 1, sizeof *rows);
    hid_t rt = t_row_type();
    CHECK(n == 0 || H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0, "read /runs");
    /* The file's enum names, independently of how this test built its own. */
    hid_t ft = H5Dget_type(d);
    int si = H5Tget_member_index(ft, "status");
    hid_t st_t = H5Tget_member_type(ft, (unsigned)si);
    char nm[32];
    int32_t v = 3;
    CHECK(H5Tenum_nameof(st_t, &v, nm, sizeof nm) >= 0 && strcmp(nm, "failed") == 0,
          "status enum 3 is 'failed'");
    H5Tclose(st_t);
    H5Tclose(ft);
    H5Tclose(rt);
    H5Dclose(d);

    /* /probs and /curves: at least n rows (an interrupted append may leave one more) */
    hsize_t pd[3] = {0}, cd[2] = {0};
    hid_t dp = H5Dopen2(fid, "probs", H5P_DEFAULT), dc = H5Dopen2(fid, "curves", H5P_DEFAULT);
    s = H5Dget_space(dp);
    H5Sget_simple_extent_dims(s, pd, NULL);
    H5Sclose(s);
    s = H5Dget_space(dc);
    H5Sget_simple_extent_dims(s, cd, NULL);
    H5Sclose(s);
    CHECK(pd[0] >= n && pd[1] == FX_EXAMPLES && pd[2] == FX_CHOICES, "/probs dims %llu x %llu x %llu",
          (unsigned long long)pd[0], (unsigned long long)pd[1], (unsigned long long)pd[2]);
    CHECK(cd[0] >= n && cd[1] == PSW_CURVE_POINTS, "/curves dims %llu x %llu",
          (unsigned long long)cd[0], (unsigned long long)cd[1]);
    size_t np = (size_t)pd[0] * FX_EXAMPLES * FX_CHOICES, nc = (size_t)cd[0] * PSW_CURVE_POINTS;
    float *probs = psw_xcalloc(np ? np : 1, sizeof(float));
    float *curves = psw_xcalloc(nc ? nc : 1, sizeof(float));
    CHECK(np == 0 || H5Dread(dp, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, probs) >= 0,
          "read /probs");
    CHECK(nc == 0 || H5Dread(dc, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, curves) >= 0,
          "read /curves");
    H5Dclose(dp);
    H5Dclose(dc);

    int bad = 0, pending = 0;
    for (hsize_t j = 0; j < n; j++) {
        if (rows[j].status == PSW_RUN_PENDING) {
            pending++;
            continue;
        }
        int i = (int)j;
        bad += compare_row(&rows[j], i);
        fx_row x;
        fx_make(&x, i);
        const float *p = probs + j * FX_EXAMPLES * FX_CHOICES;
        int badp = 0, badc = 0;
        for (int k = 0; k < FX_EXAMPLES * FX_CHOICES; k++) {
            int ok = x.rec.probs ? same_f(p[k], x.probs[k]) : isnan(p[k]);
            if (!ok) badp++;
        }
        const float *c = curves + j * PSW_CURVE_POINTS;
        for (int k = 0; k < PSW_CURVE_POINTS; k++) {
            int ok = k < x.rec.n_curve ? same_f(c[k], x.curve[k]) : isnan(c[k]);
            if (!ok) badc++;
        }
        if (badp || badc)
            printf("  row %llu: %d probs and %d curve values differ (probs[0] %g, want %g)\n",
                   (unsigned long long)j, badp, badc, (double)p[0], (double)x.probs[0]);
        bad += badp + badc;
    }
    CHECK(bad == 0, "%s: every value of %llu rows round-trips exactly (%d mismatches)", path,
          (unsigned long long)n, bad);
    if (n_pending) *n_pending = pending;
    else CHECK(pending == 0, "no pending rows");
    free(probs);
    free(curves);
    free(rows);
    CHECK(H5Fclose(fid) >= 0, "close reader");
    return n;
}

/* ---- helpers ---- */

static char *join(const char *dir, const char *name) { return psw_path_join(dir, name); }

static psw_status append_fx(psw_results *r, int i, psw_err *err) {
    fx_row x;
    fx_make(&x, i);
    return psw_results_append(r, &x.rec, err);
}

/* Whole-file snapshot, to prove a refused file was not modified. */
typedef struct snap {
    char *data;
    size_t len;
} snap;
static snap take_snap(const char *path) {
    snap s = {0};
    psw_err err = {0};
    if (psw_read_file(path, &s.data, &s.len, &err) != PSW_OK) PSW_ABORT("%s", err.msg);
    return s;
}
static void check_unchanged(const char *path, snap *before) {
    snap after = take_snap(path);
    CHECK(after.len == before->len && memcmp(after.data, before->data, after.len) == 0,
          "%s unchanged (%zu -> %zu bytes)", path, before->len, after.len);
    free(after.data);
    free(before->data);
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) PSW_ABORT("write %s", path);
}

static int contains(const char *s, const char *needle) { return strstr(s, needle) != NULL; }

/* ---- cases ---- */

static void test_create_append_resume(const char *dir) {
    char *path = join(dir, "results.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK(!psw_results_resumed(r), "a new file is not a resume");
    for (int i = 0; i < 5; i++) CHECK_OK(append_fx(r, i, &err), &err);
    CHECK(psw_results_row_count(r) == 5, "5 rows");
    /* fixture: rows 0,1,2 ok, 3 failed, 4 diverged */
    fx_row x3, x4;
    fx_make(&x3, 3);
    fx_make(&x4, 4);
    CHECK(psw_results_lookup(r, x3.rec.config_id) == PSW_RUN_FAILED, "row 3 failed");
    CHECK(psw_results_lookup(r, x4.rec.config_id) == PSW_RUN_DIVERGED, "row 4 diverged");
    CHECK(psw_results_lookup(r, 424242) == PSW_RUN_PENDING, "unknown id is pending");
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;

    /* A cleanly closed file opens without SWMR too (status flags cleared). */
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0, "plain read-only open after a clean close");
    if (fid >= 0) H5Fclose(fid);
    check_file(path, 5, NULL);

    /* Resume: finished = ok + diverged, in first-finish order; failed is retried. */
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK(psw_results_resumed(r), "existing file is a resume");
    CHECK(psw_results_row_count(r) == 5, "resume sees 5 rows");
    uint64_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(psw_results_finished(r, &ids, &n, &err), &err);
    uint64_t want[4];
    int wi[4] = {0, 1, 2, 4};
    for (int k = 0; k < 4; k++) {
        fx_row x;
        fx_make(&x, wi[k]);
        want[k] = x.rec.config_id;
    }
    CHECK(n == 4 && ids && memcmp(ids, want, sizeof want) == 0, "finished ids: %zu of 4", n);
    free(ids);
    CHECK(psw_results_lookup(r, x3.rec.config_id) == PSW_RUN_FAILED, "failed after resume");
    /* The retry of config 3 succeeds: its new row is appended, the failed one stays. */
    fx_row retry;
    fx_make(&retry, 3);
    retry.rec.status = PSW_RUN_OK;
    retry.rec.message[0] = '\0';
    retry.rec.probs = retry.probs;
    CHECK_OK(psw_results_append(r, &retry.rec, &err), &err);
    CHECK(psw_results_lookup(r, x3.rec.config_id) == PSW_RUN_OK, "retried config is ok");
    CHECK_OK(psw_results_finished(r, &ids, &n, &err), &err);
    /* order is that of each config's first row, so the retried id keeps its place */
    CHECK(n == 5 && ids[3] == x3.rec.config_id, "retried config now finished (%zu ids)", n);
    free(ids);
    for (int i = 5; i < 9; i++) CHECK_OK(append_fx(r, i, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;

    /* Rows 0..4, the retry of 3, then 5..8. */
    fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(fid, "runs", H5P_DEFAULT);
    hid_t rt = t_row_type();
    t_row *rows = psw_xcalloc(10, sizeof *rows);
    CHECK(H5Dread(d, rt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0, "read 10 rows");
    CHECK(rows[3].status == PSW_RUN_FAILED && rows[5].status == PSW_RUN_OK &&
              rows[5].config_id == x3.rec.config_id && rows[5].message[0] == '\0',
          "failed row kept, retry appended after it");
    free(rows);
    H5Tclose(rt);
    H5Dclose(d);
    H5Fclose(fid);

    /* Invalid records are refused without breaking the handle. */
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    fx_row bad;
    fx_make(&bad, 9);
    bad.rec.n_curve = PSW_CURVE_POINTS + 1;
    CHECK_FAILS(psw_results_append(r, &bad.rec, &err), &err, PSW_ERR_INVALID_ARG,
                "loss curve has 129 points");
    fx_make(&bad, 9);
    bad.rec.n_choices = 4;
    CHECK_FAILS(psw_results_append(r, &bad.rec, &err), &err, PSW_ERR_INVALID_ARG,
                "probs are 7 x 4, the file holds 7 x 5");
    fx_make(&bad, 9);
    bad.rec.status = PSW_RUN_PENDING;
    CHECK_FAILS(psw_results_append(r, &bad.rec, &err), &err, PSW_ERR_INVALID_ARG,
                "status 0 is not ok, diverged or failed");
    CHECK(psw_results_row_count(r) == 10, "refused rows are not counted");
    CHECK_OK(append_fx(r, 9, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    {
        int all[11] = {0, 1, 2, 3, 4, -1, 5, 6, 7, 8, 9};
        /* row 5 (the retry) was checked field by field above; compare the rest here */
        hid_t f2 = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d2 = H5Dopen2(f2, "runs", H5P_DEFAULT);
        hid_t rt2 = t_row_type();
        t_row *rr = psw_xcalloc(11, sizeof *rr);
        CHECK(H5Dread(d2, rt2, H5S_ALL, H5S_ALL, H5P_DEFAULT, rr) >= 0, "read 11 rows");
        int mism = 0;
        for (int j = 0; j < 11; j++)
            if (all[j] >= 0) mism += compare_row(&rr[j], all[j]);
        CHECK(mism == 0, "11 rows round-trip across three sessions (%d mismatches)", mism);
        free(rr);
        H5Tclose(rt2);
        H5Dclose(d2);
        H5Fclose(f2);
    }
done:
    if (r) psw_results_close(r, &err);
    free(path);
}

static void test_mismatch_and_foreign(const char *dir) {
    char *path = join(dir, "results.h5"); /* made by the previous case */
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;

    snap s = take_snap(path);
    psw_results_meta other = meta;
    other.spec_json = "{\"grid\":{\"retention\":[0.5]}}";
    CHECK_FAILS(psw_results_open(path, &other, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "made from a different spec");
    CHECK(r == NULL, "no handle on failure");
    CHECK(contains(err.msg, "results.h5") && contains(err.msg, "--new"), "message: %s", err.msg);
    other = meta;
    other.model_fingerprint = "model:ffff";
    CHECK_FAILS(psw_results_open(path, &other, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "made with a different model (fingerprint model:0123456789abcdef in the file, "
                "model:ffff now)");
    other = meta;
    other.data_fingerprint = "data:0";
    CHECK_FAILS(psw_results_open(path, &other, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "made with different data");
    other = meta;
    other.n_choices = 4;
    int32_t gold4[FX_EXAMPLES] = {0, 3, 2, -1, 1, 3, -1};
    other.gold = gold4;
    CHECK_FAILS(psw_results_open(path, &other, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "/probs is for 7 examples x 5 choices, this run has 7 x 4");
    check_unchanged(path, &s);

    /* Bad meta is refused before anything is touched. */
    other = meta;
    int32_t badgold[FX_EXAMPLES] = {0, 5, 2, -1, 1, 3, -1};
    other.gold = badgold;
    char *p2 = join(dir, "never.h5");
    CHECK_FAILS(psw_results_open(p2, &other, &r, &err), &err, PSW_ERR_INVALID_ARG,
                "gold[1] = 5 is outside [-1, 5)");
    CHECK(access(p2, F_OK) != 0, "no file made for bad meta");
    free(p2);

    /* An HDF5 file that is not ours. */
    char *foreign = join(dir, "foreign.h5");
    hid_t fid = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t three = 3;
    hid_t sp = H5Screate_simple(1, &three, NULL);
    hid_t ds = H5Dcreate2(fid, "x", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    double vals[3] = {1, 2, 3};
    CHECK(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, vals) >= 0, "foreign");
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);
    s = take_snap(foreign);
    CHECK_FAILS(psw_results_open(foreign, &meta, &r, &err), &err, PSW_ERR_FORMAT,
                "not a prunesweep results file (no 'format' attribute)");
    check_unchanged(foreign, &s);
    free(foreign);

    /* A file that is not HDF5 at all, and an empty one. */
    char *text = join(dir, "notes.h5");
    const char words[] = "these are my notes, not an HDF5 file\n";
    write_bytes(text, words, sizeof words - 1);
    s = take_snap(text);
    CHECK_FAILS(psw_results_open(text, &meta, &r, &err), &err, PSW_ERR_FORMAT,
                "notes.h5: not an HDF5 file (no HDF5 signature); refusing to touch it");
    check_unchanged(text, &s);
    write_bytes(text, "", 0);
    CHECK_FAILS(psw_results_open(text, &meta, &r, &err), &err, PSW_ERR_FORMAT,
                "notes.h5: not an HDF5 file (no HDF5 signature); refusing to touch it");
    free(text);

    /* A truncated copy of a real results file. */
    snap whole = take_snap(path);
    char *trunc = join(dir, "truncated.h5");
    write_bytes(trunc, whole.data, whole.len / 2);
    s = take_snap(trunc);
    psw_status st = psw_results_open(trunc, &meta, &r, &err);
    CHECK(st == PSW_ERR_FORMAT || st == PSW_ERR_HDF5 || st == PSW_ERR_IO,
          "truncated file refused: %s", err.msg);
    CHECK(r == NULL && contains(err.msg, "truncated.h5: "), "message names the file: %s", err.msg);
    printf("  truncated: %s\n", err.msg);
    check_unchanged(trunc, &s);
    /* Corrupted: the /runs row area overwritten with garbage past the superblock. */
    char *corrupt = join(dir, "corrupt.h5");
    for (size_t k = 2048; k < whole.len; k += 7) whole.data[k] ^= 0x5A;
    write_bytes(corrupt, whole.data, whole.len);
    s = take_snap(corrupt);
    st = psw_results_open(corrupt, &meta, &r, &err);
    CHECK(st != PSW_OK && r == NULL, "corrupted file refused: %s", err.msg);
    printf("  corrupted: %s\n", err.msg);
    check_unchanged(corrupt, &s);
    if (r) psw_results_close(r, &err);
    free(whole.data);
    free(corrupt);
    free(trunc);
    free(path);
}

static void test_bad_dirs(const char *dir) {
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    char *missing = join(dir, "no/such/dir/results.h5");
    CHECK_FAILS(psw_results_open(missing, &meta, &r, &err), &err, PSW_ERR_IO,
                "no/such/dir/results.h5: cannot create: H5FD__sec2_open: unable to open file");
    CHECK(contains(err.msg, "errno = 2"), "errno in message: %s", err.msg);
    free(missing);

    /* A read-only directory. Root ignores permissions, so the attempt runs in a child that
     * drops to nobody when we are root. */
    char *ro = join(dir, "ro");
    CHECK(mkdir(ro, 0555) == 0 && chmod(ro, 0555) == 0, "mkdir ro");
    chmod(dir, 0755);
    char *ro_path = join(ro, "results.h5");
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        psw_err e = {0};
        psw_results *rr = NULL;
        psw_status cst = psw_results_open(ro_path, &meta, &rr, &e);
        dprintf(p[1], "%d %s", (int)cst, e.msg);
        free(ro_path); /* the child's copies: valgrind checks leaks at _exit too */
        free(ro);
        _exit(rr ? 1 : 0);
    }
    close(p[1]);
    char buf[1024] = {0};
    ssize_t got = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(got > 0 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "read-only child ran");
    CHECK(atoi(buf) == PSW_ERR_IO && contains(buf, "ro/results.h5: cannot create") &&
              contains(buf, "errno = 13"),
          "read-only dir: %s", buf);
    CHECK(access(ro_path, F_OK) != 0, "nothing created in the read-only dir");
    chmod(dir, 0700);
    free(ro_path);
    free(ro);
}

/* Reads "N\n" lines from fd until at least `until` (or EOF when until < 0); returns the last N. */
static int read_counts(FILE *f, int until) {
    char line[64];
    int last = 0;
    while (fgets(line, sizeof line, f)) {
        last = atoi(line);
        if (until >= 0 && last >= until) break;
    }
    return last;
}

static void test_sigkill(const char *dir) {
    char *path = join(dir, "killed.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        psw_err e = {0};
        psw_results *w = NULL;
        if (psw_results_open(path, &meta, &w, &e) != PSW_OK) _exit(2);
        for (int i = 0; i < 100000; i++) {
            if (append_fx(w, i, &e) != PSW_OK) _exit(3);
            dprintf(p[1], "%d\n", i + 1);
        }
        _exit(4);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    int reported = read_counts(f, 20);
    CHECK(reported >= 20, "writer reported %d rows", reported);

    /* A second writer is refused while the first is alive. */
    CHECK_FAILS(psw_results_open(path, &meta, &r, &err), &err, PSW_ERR_IO,
                "killed.h5: another process");
    kill(pid, SIGKILL);
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL, "writer was SIGKILLed mid-sweep");
    int more = read_counts(f, -1); /* rows reported between our last read and the kill */
    if (more > reported) reported = more;
    fclose(f);

    /* The crashed file: plain open refused by HDF5 (status flags), SWMR read works. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid < 0, "plain open of the crashed file fails (writer status flags set)");
    if (fid >= 0) H5Fclose(fid);
    int pending = 0;
    hsize_t n = check_file(path, (hsize_t)-1, &pending);
    CHECK(n >= (hsize_t)reported, "%llu rows on disk >= %d reported written",
          (unsigned long long)n, reported);
    CHECK(pending <= 1, "at most the in-flight row is incomplete (%d)", pending);
    printf("  killed after %d reported rows: %llu rows on disk, %d pending\n", reported,
           (unsigned long long)n, pending);

    /* Resume: rows intact, then more rows. */
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (r) {
        CHECK(psw_results_resumed(r) && psw_results_row_count(r) == (int64_t)n, "resumed at %lld",
              (long long)psw_results_row_count(r));
        for (hsize_t i = 0; i < n; i++) {
            fx_row x;
            fx_make(&x, (int)i);
            if (i + 1 < n || !pending)
                CHECK(psw_results_lookup(r, x.rec.config_id) == x.rec.status,
                      "row %llu known after resume", (unsigned long long)i);
        }
        for (hsize_t i = n; i < n + 3; i++) CHECK_OK(append_fx(r, (int)i, &err), &err);
        CHECK_OK(psw_results_close(r, &err), &err);
    }
    fid = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0, "plain open works after the resumed writer closed");
    if (fid >= 0) H5Fclose(fid);
    int pend2 = 0;
    check_file(path, n + 3, &pend2);
    CHECK(pend2 == pending, "only the old in-flight row is pending");

    /* More kills at spread-out moments (during open, resume or an append), each resumed by the
     * next writer. Row j is always fixture j: a writer appends fixture row_count. */
    int trials = 8, opened_ok = 0;
    for (int t = 0; t < trials; t++) {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            psw_err e = {0};
            psw_results *w = NULL;
            if (psw_results_open(path, &meta, &w, &e) != PSW_OK) {
                fprintf(stderr, "trial writer: %s\n", e.msg);
                _exit(2);
            }
            for (;;)
                if (append_fx(w, (int)psw_results_row_count(w), &e) != PSW_OK) _exit(3);
        }
        struct timespec ts = {0, (long)((t * 7919 % 23) + 1) * 1000000L}; /* 1..23 ms */
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &wst, 0);
        if (WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL) opened_ok++;
        else CHECK(0, "trial %d: writer exited on its own (%d)", t, WEXITSTATUS(wst));
    }
    CHECK(opened_ok == trials, "%d of %d trial writers were killed while running", opened_ok,
          trials);
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (r) {
        int64_t rows_after = psw_results_row_count(r);
        CHECK_OK(append_fx(r, (int)rows_after, &err), &err);
        CHECK_OK(psw_results_close(r, &err), &err);
        r = NULL;
        int pend3 = 0;
        check_file(path, (hsize_t)rows_after + 1, &pend3);
        CHECK(pend3 <= pending + trials, "at most one torn row per kill (%d)", pend3);
        printf("  %d more kills: %lld rows, %d pending\n", trials, (long long)rows_after + 1,
               pend3);
    }
    free(path);
}

static void test_disk_full(const char *dir) {
    char *path = join(dir, "full.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        psw_err e = {0};
        psw_results *w = NULL;
        if (psw_results_open(path, &meta, &w, &e) != PSW_OK) _exit(2);
        int i = 0;
        for (; i < 3; i++)
            if (append_fx(w, i, &e) != PSW_OK) _exit(3);
        struct stat sb;
        if (stat(path, &sb) != 0) _exit(4);
        signal(SIGXFSZ, SIG_IGN);
        /* room for the 1 MiB append margin plus a few dozen rows */
        rlim_t cap = (rlim_t)sb.st_size + 1024 * 1024 + 128 * 1024;
        struct rlimit lim = {cap, cap};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(5);
        psw_status st = PSW_OK;
        for (; i < 400; i++)
            if ((st = append_fx(w, i, &e)) != PSW_OK) break;
        /* rows 0..i-1 were written */
        psw_err e2 = {0};
        psw_status again = append_fx(w, i + 1, &e2);
        psw_err ec = {0};
        psw_status cst = psw_results_close(w, &ec);
        dprintf(p[1], "%d\n%d\n%s\n%d\n%s\n%d\n%s\n", i, (int)st, e.msg, (int)again, e2.msg,
                (int)cst, ec.msg);
        _exit(0);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char l[7][PSW_ERR_MSG_SIZE + 8];
    int lines = 0;
    while (lines < 7 && fgets(l[lines], sizeof l[lines], f)) lines++;
    fclose(f);
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(lines == 7 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "disk-full child ran (%d)",
          WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    if (lines < 7) goto done;
    int written = atoi(l[0]);
    printf("  disk full after %d rows: %s", written, l[2]);
    CHECK(written >= 3 && written < 400, "limit hit after %d rows", written);
    CHECK(written > 3, "rows were appended under the limit (%d)", written);
    CHECK(atoi(l[1]) == PSW_ERR_IO && contains(l[2], "full.h5: disk full: appending a row needs up to") &&
              contains(l[2], "RLIMIT_FSIZE"),
          "disk full is a clear I/O error: %s", l[2]);
    CHECK(atoi(l[3]) == PSW_ERR_IO && contains(l[4], "disk full"), "further appends refused: %s",
          l[4]);
    CHECK(atoi(l[5]) == PSW_OK, "the writer closes cleanly after a refused append: %s", l[6]);

    /* Earlier rows intact; the file resumes once there is space again. */
    int pending = 0;
    hsize_t n = check_file(path, (hsize_t)-1, &pending);
    CHECK(n == (hsize_t)written && pending == 0, "%llu rows == %d written", (unsigned long long)n,
          written);
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (r) {
        CHECK(psw_results_row_count(r) == (int64_t)n, "resume sees %llu rows",
              (unsigned long long)n);
        CHECK_OK(append_fx(r, (int)n, &err), &err);
        CHECK_OK(psw_results_close(r, &err), &err);
        int pend2 = 0;
        check_file(path, n + 1, &pend2);
    }

    /* Disk full during creation: nothing is left at the path. */
    char *path2 = join(dir, "full_at_create.h5");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {1024, 1024};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(5);
        psw_err e = {0};
        psw_results *w = NULL;
        psw_status st = psw_results_open(path2, &meta, &w, &e);
        printf("  disk full at creation: %s\n", e.msg);
        free(path2); /* the child's copy: LeakSanitizer checks at exit() */
        /* exit(), not _exit(): HDF5's exit-time cleanup used to crash after this failure */
        exit(st == PSW_ERR_IO && strstr(e.msg, "full_at_create.h5") ? 0 : 1);
    }
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0,
          "creation on a full disk is an I/O error and the process exits normally (%s %d)",
          WIFSIGNALED(wst) ? "signal" : "status",
          WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
    CHECK(access(path2, F_OK) != 0, "no partial file left at the path");
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp-%ld", path2, (long)pid);
    CHECK(access(tmpname, F_OK) != 0, "no temporary file left");
    free(path2);
done:
    free(path);
}

/* A writer whose flush fails half-way (the disk fills between psw_results' space check and the
 * write, simulated here with raw HDF5 calls under RLIMIT_FSIZE) leaves a superblock that records
 * more bytes than the file has; HDF5 calls that file truncated. Resume must recover it with the
 * committed rows intact. */
/* Waits for the child writer that tore `path` (exit 0 = its write failed at the size limit)
 * and checks the tear: the superblock records more bytes than the file has. */
static void expect_torn(pid_t pid, const char *path, const char *what) {
    int wst = 0;
    waitpid(pid, &wst, 0);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "%s: the child's write did not fail (exit %d)",
          what, WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    haddr_t eoa = 0;
    struct stat sb;
    CHECK(fid >= 0 && H5Fget_eoa(fid, &eoa) >= 0 && stat(path, &sb) == 0 &&
              (long long)eoa > (long long)sb.st_size,
          "%s: file has %lld bytes, superblock records %llu", what, (long long)sb.st_size,
          (unsigned long long)eoa);
    if (fid >= 0) H5Fclose(fid);
}

static void test_failed_flush(const char *dir) {
    char *path = join(dir, "torn.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    for (int i = 0; i < 3; i++) CHECK_OK(append_fx(r, i, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS); /* open it the way psw_results does */
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        hid_t f = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
        hid_t d = H5Dopen2(f, "runs", H5P_DEFAULT);
        hid_t t = H5Dget_type(d);
        if (f < 0 || d < 0 || t < 0) _exit(2);
        struct stat sb;
        if (stat(path, &sb) != 0) _exit(3);
        signal(SIGXFSZ, SIG_IGN);
        /* Nothing may go past the current end: the new /probs chunk cannot be written while
         * metadata updates inside the file (superblock, index) can. */
        struct rlimit lim = {(rlim_t)sb.st_size, (rlim_t)sb.st_size};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(4);
        /* One append the way psw_results does it: /probs row, then the /runs row (as zeros). */
        hid_t dp = H5Dopen2(f, "probs", H5P_DEFAULT);
        hsize_t pdims[3] = {4, FX_EXAMPLES, FX_CHOICES}, pstart[3] = {3, 0, 0};
        hsize_t pcount[3] = {1, FX_EXAMPLES, FX_CHOICES};
        if (dp < 0 || H5Dset_extent(dp, pdims) < 0) _exit(5);
        hid_t pfs = H5Dget_space(dp), pms = H5Screate_simple(3, pcount, NULL);
        H5Sselect_hyperslab(pfs, H5S_SELECT_SET, pstart, NULL, pcount, NULL);
        fx_row x;
        fx_make(&x, 3);
        H5Dwrite(dp, H5T_NATIVE_FLOAT, pms, pfs, H5P_DEFAULT, x.probs);
        hsize_t dims = 4, start = 3, count = 1;
        if (H5Dset_extent(d, &dims) < 0) _exit(5);
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        void *rows = calloc(count, H5Tget_size(t));
        herr_t w = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, rows);
        herr_t fl = H5Fflush(f, H5F_SCOPE_GLOBAL);
        free(rows); /* the child's copies: valgrind checks leaks at _exit too */
        free(path);
        _exit(w < 0 || fl < 0 ? 0 : 6); /* dies like a writer killed after its failure */
    }
    /* Precondition: the superblock records more bytes than the file has. */
    expect_torn(pid, path, "torn");

    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    int64_t n = psw_results_row_count(r);
    CHECK(n == 3 || n == 4, "resumed with %lld rows", (long long)n);
    uint64_t *ids = NULL;
    size_t nf = 0;
    CHECK_OK(psw_results_finished(r, &ids, &nf, &err), &err);
    CHECK(nf == 3, "the 3 committed rows are finished, torn rows ignored (%zu)", nf);
    free(ids);
    /* Rows from here on continue the fixture at their row index. */
    for (int64_t i = n; i < n + 2; i++) CHECK_OK(append_fx(r, (int)i, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    int pending = 0;
    check_file(path, (hsize_t)(n + 2), &pending);
    CHECK(pending == (int)(n - 3), "torn rows read as pending (%d of %lld)", pending,
          (long long)(n - 3));
    printf("  torn flush: resumed with %lld rows, %d pending\n", (long long)n, pending);
done:
    if (r) psw_results_close(r, &err);
    free(path);
}

/* Appends fixture rows first..first+k-1 as one psw_results_append_rows batch. */
static psw_status append_batch_fx(psw_results *r, int first, int k, psw_err *err) {
    fx_row *x = psw_xcalloc((size_t)k, sizeof *x);
    psw_run_record *recs = psw_xcalloc((size_t)k, sizeof *recs);
    for (int j = 0; j < k; j++) {
        fx_make(&x[j], first + j); /* in place: rec's arrays point into x[j] */
        recs[j] = x[j].rec;
    }
    psw_status st = psw_results_append_rows(r, recs, (size_t)k, err);
    free(recs);
    free(x);
    return st;
}

/* Batches (psw_results_append_rows) store exactly what single appends store, across chunk
 * boundaries (/runs and /curves chunks hold 32 rows) and a resume; a bad record anywhere in a
 * batch is refused before anything is written. */
static void test_batches(const char *dir) {
    char *path = join(dir, "batch.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK_OK(append_batch_fx(r, 0, 5, &err), &err);
    CHECK_OK(append_fx(r, 5, &err), &err);
    CHECK(psw_results_row_count(r) == 6, "6 rows after a batch of 5 and one row");
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK_OK(append_batch_fx(r, 6, PSW_RESULTS_APPEND_MAX, &err), &err); /* rows 6..69 */
    fx_row x4;
    fx_make(&x4, 4);
    CHECK(psw_results_lookup(r, x4.rec.config_id) == PSW_RUN_DIVERGED, "batch rows indexed");
    fx_row bad[3];
    psw_run_record recs[3];
    for (int j = 0; j < 3; j++) {
        fx_make(&bad[j], 70 + j);
        recs[j] = bad[j].rec;
    }
    recs[2].n_curve = PSW_CURVE_POINTS + 1;
    CHECK_FAILS(psw_results_append_rows(r, recs, 3, &err), &err, PSW_ERR_INVALID_ARG,
                "loss curve has 129 points");
    CHECK(psw_results_row_count(r) == 70, "a refused batch writes nothing (%lld rows)",
          (long long)psw_results_row_count(r));
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    check_file(path, 70, NULL); /* every row bit-identical to fixture row i at index i */
done:
    if (r) psw_results_close(r, &err);
    free(path);
}

/* meta.simulated: the root attribute simulated = 1, psw_results_read reports it, and neither
 * kind of file resumes as the other (both are left byte-for-byte unchanged). */
static void test_simulated(const char *dir) {
    char *sim = join(dir, "sim.h5"), *real = join(dir, "batch.h5"); /* real: previous case */
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    meta.simulated = true;
    CHECK_OK(psw_results_open(sim, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK_OK(append_batch_fx(r, 0, 3, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    hid_t fid = H5Fopen(sim, H5F_ACC_RDONLY, H5P_DEFAULT);
    int32_t v = 0;
    hid_t a = fid >= 0 ? H5Aopen(fid, "simulated", H5P_DEFAULT) : -1;
    CHECK(a >= 0 && H5Aread(a, H5T_NATIVE_INT32, &v) >= 0 && v == 1, "attribute simulated = %d",
          (int)v);
    if (a >= 0) H5Aclose(a);
    if (fid >= 0) H5Fclose(fid);
    fid = H5Fopen(real, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(fid >= 0 && H5Aexists(fid, "simulated") == 0, "a real file has no simulated attribute");
    if (fid >= 0) H5Fclose(fid);

    psw_results_snapshot snap_sim, snap_real;
    CHECK_OK(psw_results_read(sim, &snap_sim, &err), &err);
    CHECK(snap_sim.simulated && snap_sim.n_rows == 3, "read: simulated, 3 rows");
    psw_results_snapshot_free(&snap_sim);
    CHECK_OK(psw_results_read(real, &snap_real, &err), &err);
    CHECK(!snap_real.simulated, "read: a real file is not simulated");
    psw_results_snapshot_free(&snap_real);

    snap before = take_snap(sim);
    meta.simulated = false;
    char want[256];
    snprintf(want, sizeof want,
             "%s: holds simulated rows (made by 'run --simulate'); a real run does not resume "
             "it: use --new or another output path",
             sim);
    CHECK_FAILS(psw_results_open(sim, &meta, &r, &err), &err, PSW_ERR_INVALID_ARG, want);
    check_unchanged(sim, &before);
    before = take_snap(real);
    meta.simulated = true;
    snprintf(want, sizeof want,
             "%s: holds real results; 'run --simulate' does not add synthetic rows to it: use "
             "another output path",
             real);
    CHECK_FAILS(psw_results_open(real, &meta, &r, &err), &err, PSW_ERR_INVALID_ARG, want);
    check_unchanged(real, &before);
    meta.simulated = true; /* the same kind resumes */
    CHECK_OK(psw_results_open(sim, &meta, &r, &err), &err);
    CHECK(r && psw_results_resumed(r) && psw_results_row_count(r) == 3, "simulated resume");
done:
    if (r) psw_results_close(r, &err);
    free(sim);
    free(real);
}

/* A batch torn the way psw_results_append_rows can be: its /probs and /curves rows were made
 * durable, then the flush of its /runs rows failed half-way (here: RLIMIT_FSIZE stops the new
 * /runs chunk). Several rows are pending at the end; resume keeps the committed rows and
 * ignores the pending ones. */
static void test_torn_batch(const char *dir) {
    char *path = join(dir, "tornbatch.h5");
    psw_results_meta meta = fx_meta();
    psw_err err = {0};
    psw_results *r = NULL;
    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    CHECK_OK(append_batch_fx(r, 0, 31, &err), &err); /* /runs chunk 0 holds rows 0..31 */
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        hid_t f = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
        hid_t d = H5Dopen2(f, "runs", H5P_DEFAULT), dp = H5Dopen2(f, "probs", H5P_DEFAULT);
        hid_t dc = H5Dopen2(f, "curves", H5P_DEFAULT), t = H5Dget_type(d);
        if (f < 0 || d < 0 || dp < 0 || dc < 0 || t < 0) _exit(2);
        /* Step 1 of a batch of rows 31..33: probabilities and curves, flushed. */
        hsize_t pdims[3] = {34, FX_EXAMPLES, FX_CHOICES}, cdims[2] = {34, PSW_CURVE_POINTS};
        if (H5Dset_extent(dp, pdims) < 0 || H5Dset_extent(dc, cdims) < 0) _exit(3);
        for (int i = 31; i < 34; i++) {
            fx_row x;
            fx_make(&x, i);
            hsize_t ps[3] = {(hsize_t)i, 0, 0}, pc[3] = {1, FX_EXAMPLES, FX_CHOICES};
            hsize_t cs[2] = {(hsize_t)i, 0}, cc[2] = {1, PSW_CURVE_POINTS};
            hid_t fs = H5Dget_space(dp), ms = H5Screate_simple(3, pc, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, ps, NULL, pc, NULL);
            if (H5Dwrite(dp, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, x.probs) < 0) _exit(4);
            H5Sclose(fs);
            H5Sclose(ms);
            fs = H5Dget_space(dc);
            ms = H5Screate_simple(2, cc, NULL);
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, cs, NULL, cc, NULL);
            if (H5Dwrite(dc, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, x.curve) < 0) _exit(4);
            H5Sclose(fs);
            H5Sclose(ms);
        }
        if (H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) _exit(5);
        /* Step 2 under a limit at the current size: /runs grows into a new chunk that cannot
         * be written. */
        struct stat sb;
        if (stat(path, &sb) != 0) _exit(6);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = {(rlim_t)sb.st_size, (rlim_t)sb.st_size};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(6);
        hsize_t dims = 34, start = 31, count = 3;
        if (H5Dset_extent(d, &dims) < 0) _exit(7);
        hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        void *rows = calloc(count, H5Tget_size(t)); /* zeros: rows not yet filled in */
        herr_t w = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, rows);
        herr_t fl = H5Fflush(f, H5F_SCOPE_GLOBAL);
        free(rows);
        free(path);
        _exit(w < 0 || fl < 0 ? 0 : 8);
    }
    expect_torn(pid, path, "torn batch");

    CHECK_OK(psw_results_open(path, &meta, &r, &err), &err);
    if (!r) goto done;
    int64_t n = psw_results_row_count(r);
    CHECK(n == 31 || n == 34, "resumed with %lld rows", (long long)n);
    fx_row x30;
    fx_make(&x30, 30);
    CHECK(psw_results_lookup(r, x30.rec.config_id) != PSW_RUN_PENDING, "row 30 kept");
    for (int i = 31; i < 34; i++) {
        fx_row x;
        fx_make(&x, i);
        CHECK(psw_results_lookup(r, x.rec.config_id) == PSW_RUN_PENDING, "torn row %d ignored", i);
    }
    CHECK_OK(append_batch_fx(r, (int)n, 2, &err), &err);
    CHECK_OK(psw_results_close(r, &err), &err);
    r = NULL;
    int pending = 0;
    check_file(path, (hsize_t)(n + 2), &pending);
    CHECK(pending == (int)(n - 31), "torn rows read as pending (%d of %lld)", pending,
          (long long)(n - 31));
    printf("  torn batch: resumed with %lld rows, %d pending\n", (long long)n, pending);
done:
    if (r) psw_results_close(r, &err);
    free(path);
}

int main(void) {
    char *dir = psw_test_tmpdir();
    /* No HDF5 call before the first psw_results_open, as in the real program (see H5dont_atexit
     * in results.c); it also switches off HDF5's error printing. */
    test_create_append_resume(dir);
    test_mismatch_and_foreign(dir);
    test_bad_dirs(dir);
    test_sigkill(dir);
    test_disk_full(dir);
    test_failed_flush(dir);
    test_batches(dir);
    test_simulated(dir);
    test_torn_batch(dir);
    psw_test_rmtree(dir);
    free(dir);
    return psw_test_finish();
}
