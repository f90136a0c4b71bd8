/* cmd_status.c: `prunesweep status RESULTS.h5`: progress of a sweep (done, failed, pending) and
 * a table of mean ± sample standard deviation over seeds per (retention, loss, data size). Reads
 * the file in SWMR mode, so it works while the sweep runs and after a crash. A configuration's
 * outcome is its last row (failed rows are retried on resume). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/results.h"
#include "psw/run.h"
#include "psw/spec.h"

static void usage(FILE *f) {
    fputs("usage: prunesweep status RESULTS.h5\n"
          "Prints done / failed / pending counts and, per (retention, loss, data size), the mean\n"
          "± sample standard deviation over seeds of accuracy, NLL, Brier, ECE and normalised\n"
          "entropy (ok rows only; 'ok/n' counts the seeds).\n",
          f);
}

/* One configuration the sweep produces (from the spec), or one seen in the file. */
typedef struct item {
    psw_row_kind kind;
    double retention;
    psw_loss_kind loss;
    int64_t data_size, seed;
    uint64_t id;
    const psw_run_record *last; /* latest row, NULL = pending */
} item;

typedef struct by_id {
    uint64_t id;
    size_t row;
} by_id;

static int cmp_by_id(const void *pa, const void *pb) {
    const by_id *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

static const psw_run_record *find_last(const by_id *idx, size_t n, const psw_results_snapshot *s,
                                       uint64_t id) {
    size_t lo = 0, hi = n; /* first entry with id > wanted */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid].id <= id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || idx[lo - 1].id != id) return NULL;
    return &s->rows[idx[lo - 1].row];
}

/* Teacher first, then retention descending; per retention the unrecovered row, then the
 * recovered ones by loss and data size; seeds last. */
static int cmp_item(const void *pa, const void *pb) {
    const item *a = pa, *b = pb;
    int ta = a->kind != PSW_ROW_TEACHER, tb = b->kind != PSW_ROW_TEACHER;
    if (ta != tb) return ta - tb;
    if (a->retention != b->retention) return a->retention > b->retention ? -1 : 1;
    int ua = a->kind != PSW_ROW_UNRECOVERED, ub = b->kind != PSW_ROW_UNRECOVERED;
    if (ua != ub) return ua - ub;
    if (a->loss != b->loss) return (int)a->loss - (int)b->loss;
    if (a->data_size != b->data_size) return a->data_size < b->data_size ? -1 : 1;
    if (a->seed != b->seed) return a->seed < b->seed ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static bool same_group(const item *a, const item *b) {
    return a->kind == b->kind && a->retention == b->retention && a->loss == b->loss &&
           a->data_size == b->data_size;
}

#define N_METRICS 5
static double metric(const psw_run_record *r, int k) {
    switch (k) {
    case 0: return r->metrics.accuracy;
    case 1: return r->metrics.nll;
    case 2: return r->metrics.brier;
    case 3: return r->metrics.ece;
    default: return r->metrics.entropy_norm;
    }
}

static void print_cell(const double *v, size_t n) {
    char buf[40];
    if (n == 0) {
        snprintf(buf, sizeof buf, "-");
    } else {
        double sum = 0.0;
        for (size_t i = 0; i < n; i++) sum += v[i];
        double mean = sum / (double)n;
        if (n == 1) {
            snprintf(buf, sizeof buf, "%.4f", mean);
        } else {
            double ss = 0.0;
            for (size_t i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
            snprintf(buf, sizeof buf, "%.4f ± %.4f", mean, sqrt(ss / (double)(n - 1)));
        }
    }
    /* "±" is two bytes but one column: pad by display width. */
    int width = (int)strlen(buf) - (strstr(buf, "±") ? 1 : 0);
    printf("  %s%*s", buf, 17 - width > 0 ? 17 - width : 0, "");
}

int psw_cmd_status(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return PSW_EXIT_OK;
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("status: unknown option '%s' (see 'prunesweep status --help')", a);
            return PSW_EXIT_USAGE;
        } else if (path) {
            psw_cli_error("status: more than one file given ('%s' and '%s')", path, a);
            return PSW_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        psw_cli_error("status: missing RESULTS.h5 (see 'prunesweep status --help')");
        return PSW_EXIT_USAGE;
    }

    psw_results_snapshot snap;
    psw_err err = {0};
    if (psw_results_read(path, &snap, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    psw_spec spec;
    bool have_spec = psw_spec_parse(snap.spec_json, strlen(snap.spec_json), path, "",
                                    PSW_SPEC_MODE_RUN, &spec, &err) == PSW_OK;
    if (!have_spec)
        fprintf(stderr, "prunesweep: warning: %s: cannot read the spec stored in the file (%s); "
                        "pending configurations are not listed\n",
                path, err.msg);

    by_id *idx = psw_xmalloc((snap.n_rows ? snap.n_rows : 1) * sizeof *idx);
    for (size_t i = 0; i < snap.n_rows; i++) idx[i] = (by_id){snap.rows[i].config_id, i};
    qsort(idx, snap.n_rows, sizeof *idx, cmp_by_id);

    /* The configurations: every row the spec implies, else every id in the file. */
    size_t n_items = 0;
    item *items;
    if (have_spec) {
        items = psw_xmalloc((1 + spec.grid.n_retention + spec.grid.n_configs) * sizeof *items);
        items[n_items++] = (item){.kind = PSW_ROW_TEACHER, .retention = 1.0,
                                  .loss = PSW_LOSS_NONE,
                                  .id = psw_run_reference_id(&spec, PSW_ROW_TEACHER, 1.0)};
        for (size_t i = 0; i < spec.grid.n_retention; i++)
            items[n_items++] = (item){
                .kind = PSW_ROW_UNRECOVERED, .retention = spec.grid.retention[i],
                .loss = PSW_LOSS_NONE,
                .id = psw_run_reference_id(&spec, PSW_ROW_UNRECOVERED, spec.grid.retention[i])};
        for (size_t i = 0; i < spec.grid.n_configs; i++) {
            const psw_spec_config *c = &spec.grid.configs[i];
            items[n_items++] = (item){.kind = PSW_ROW_RECOVERED, .retention = c->retention,
                                      .loss = c->loss, .data_size = c->data_size,
                                      .seed = c->seed, .id = c->id};
        }
    } else {
        items = psw_xmalloc((snap.n_rows ? snap.n_rows : 1) * sizeof *items);
        for (size_t i = 0; i < snap.n_rows; i++) {
            if (i > 0 && idx[i].id == idx[i - 1].id) continue;
            const psw_run_record *r = &snap.rows[idx[i].row];
            items[n_items++] = (item){.kind = r->kind, .retention = r->retention, .loss = r->loss,
                                      .data_size = r->data_size, .seed = r->seed,
                                      .id = r->config_id};
        }
    }
    size_t n_ok = 0, n_div = 0, n_failed = 0, n_pending = 0;
    for (size_t i = 0; i < n_items; i++) {
        items[i].last = find_last(idx, snap.n_rows, &snap, items[i].id);
        if (!items[i].last) n_pending++;
        else if (items[i].last->status == PSW_RUN_OK) n_ok++;
        else if (items[i].last->status == PSW_RUN_DIVERGED) n_div++;
        else n_failed++;
    }
    qsort(items, n_items, sizeof *items, cmp_item);

    printf("%s: spec \"%s\", prunesweep %s, %zu rows in the file\n", path,
           have_spec ? spec.name : "?", snap.program_version ? snap.program_version : "?",
           snap.n_rows);
    if (snap.simulated)
        printf("SIMULATED: every row was made by `run --simulate` (sleeping workers, synthetic "
               "metrics); these are not results\n");
    printf("progress: %zu/%zu done (%zu ok, %zu diverged), %zu failed, %zu pending\n",
           n_ok + n_div, n_items, n_ok, n_div, n_failed, n_pending);
    printf("\n%-10s %-5s %9s %7s  %-17s  %-17s  %-17s  %-17s  %-17s\n", "retention", "loss",
           "data_size", "ok/n", "accuracy", "nll", "brier", "ece", "entropy_norm");
    double *vals = psw_xmalloc(N_METRICS * (n_items ? n_items : 1) * sizeof *vals);
    for (size_t g = 0; g < n_items;) {
        size_t end = g + 1;
        while (end < n_items && same_group(&items[g], &items[end])) end++;
        size_t n = 0;
        for (size_t i = g; i < end; i++) {
            const psw_run_record *r = items[i].last;
            if (!r || r->status != PSW_RUN_OK) continue;
            for (int k = 0; k < N_METRICS; k++) vals[k * n_items + n] = metric(r, k);
            n++;
        }
        char ret[32], size[32], okn[32];
        if (items[g].kind == PSW_ROW_TEACHER)
            snprintf(ret, sizeof ret, "teacher");
        else
            snprintf(ret, sizeof ret, "%.6g", items[g].retention);
        if (items[g].kind == PSW_ROW_RECOVERED)
            snprintf(size, sizeof size, "%lld", (long long)items[g].data_size);
        else
            snprintf(size, sizeof size, "-");
        snprintf(okn, sizeof okn, "%zu/%zu", n, end - g);
        printf("%-10s %-5s %9s %7s", ret, psw_loss_kind_name(items[g].loss), size, okn);
        for (int k = 0; k < N_METRICS; k++) print_cell(&vals[k * n_items], n);
        printf("\n");
        g = end;
    }
    free(vals);
    free(items);
    free(idx);
    if (have_spec) psw_spec_free(&spec);
    psw_results_snapshot_free(&snap);
    return PSW_EXIT_OK;
}
