/* results_read.c: read-only access to a results file for `prunesweep status` and analysis:
 * the root attributes and every committed /runs row, opened in SWMR-read mode so it works while
 * a sweep writes the file and after its writer was killed. Never modifies the file. */
#include "psw/results.h"

#include "results/h5_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(psw_row_kind) == 4 && sizeof(psw_loss_kind) == 4 &&
                   sizeof(psw_run_status) == 4,
               "the enums of psw_run_record are read as 32-bit HDF5 enums");


/* Scalar variable-length string attribute; *out NULL when absent or of another type. */
static psw_status read_str_attr(const char *path, hid_t loc, const char *name, char **out,
                                psw_err *err) {
    psw_status st = PSW_OK;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, mt = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    char *value = NULL;
    htri_t exists, vl;
    *out = NULL;
    H5TRY(exists = H5Aexists(loc, name), name);
    if (!exists) return PSW_OK;
    H5TRY(a = H5Aopen(loc, name, H5P_DEFAULT), name);
    H5TRY(ft = H5Aget_type(a), name);
    H5TRY(sp = H5Aget_space(a), name);
    if (H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_type(sp) != H5S_SCALAR) goto fail;
    H5TRY(vl = H5Tis_variable_str(ft), name);
    if (!vl) goto fail;
    H5TRY(mt = H5Tcopy(H5T_C_S1), name);
    H5TRY(H5Tset_size(mt, H5T_VARIABLE), name);
    H5TRY(H5Tset_cset(mt, H5T_CSET_UTF8), name);
    H5TRY(H5Aread(a, mt, &value), name);
    *out = psw_xstrdup(value ? value : "");
    H5free_memory(value);
fail:
    psw_h5_close_id(&mt);
    psw_h5_close_id(&sp);
    psw_h5_close_id(&ft);
    psw_h5_close_id(&a);
    return st;
}

static hid_t make_enum(const char *const *names, int n) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT32);
    if (t < 0) return t;
    for (int32_t v = 0; v < n; v++)
        if (H5Tenum_insert(t, names[v], &v) < 0) {
            H5Idec_ref(t);
            return H5I_INVALID_HID;
        }
    return t;
}

/* The memory type: /runs fields mapped by name straight into psw_run_record. */
static psw_status make_record_type(const char *path, hid_t *out, psw_err *err) {
    psw_status st = PSW_OK;
    hid_t t = H5I_INVALID_HID, kind = H5I_INVALID_HID, loss = H5I_INVALID_HID,
          status = H5I_INVALID_HID, msg = H5I_INVALID_HID, host = H5I_INVALID_HID,
          ai = H5I_INVALID_HID, af = H5I_INVALID_HID;
    const char *kinds[] = {psw_row_kind_name(PSW_ROW_RECOVERED), psw_row_kind_name(PSW_ROW_TEACHER),
                           psw_row_kind_name(PSW_ROW_UNRECOVERED)};
    const char *losses[] = {psw_loss_kind_name(PSW_LOSS_CE), psw_loss_kind_name(PSW_LOSS_KL),
                            psw_loss_kind_name(PSW_LOSS_MIX), psw_loss_kind_name(PSW_LOSS_NONE)};
    const char *statuses[] = {psw_run_status_name(PSW_RUN_PENDING), psw_run_status_name(PSW_RUN_OK),
                              psw_run_status_name(PSW_RUN_DIVERGED),
                              psw_run_status_name(PSW_RUN_FAILED)};
    hsize_t bins[1] = {PSW_ECE_BINS};
    H5TRY(kind = make_enum(kinds, 3), "row type");
    H5TRY(loss = make_enum(losses, 4), "row type");
    H5TRY(status = make_enum(statuses, 4), "row type");
    H5TRY(msg = H5Tcopy(H5T_C_S1), "row type");
    H5TRY(H5Tset_size(msg, PSW_ERR_MSG_SIZE), "row type");
    H5TRY(host = H5Tcopy(H5T_C_S1), "row type");
    H5TRY(H5Tset_size(host, PSW_HOST_SIZE), "row type");
    H5TRY(ai = H5Tarray_create2(H5T_NATIVE_LLONG, 1, bins), "row type");
    H5TRY(af = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, bins), "row type");
    H5TRY(t = H5Tcreate(H5T_COMPOUND, sizeof(psw_run_record)), "row type");
#define R(name, field, type)                                                                       \
    H5TRY(H5Tinsert(t, name, offsetof(psw_run_record, field), type), "row type: " name)
    R("config_id", config_id, H5T_NATIVE_UINT64);
    R("kind", kind, kind);
    R("retention", retention, H5T_NATIVE_DOUBLE);
    R("loss", loss, loss);
    R("data_size", data_size, H5T_NATIVE_INT64);
    R("seed", seed, H5T_NATIVE_INT64);
    R("status", status, status);
    R("message", message, msg);
    R("n_examples", metrics.n_examples, H5T_NATIVE_LLONG);
    R("n_labeled", metrics.n_labeled, H5T_NATIVE_LLONG);
    R("accuracy", metrics.accuracy, H5T_NATIVE_DOUBLE);
    R("entropy", metrics.entropy, H5T_NATIVE_DOUBLE);
    R("entropy_norm", metrics.entropy_norm, H5T_NATIVE_DOUBLE);
    R("nll", metrics.nll, H5T_NATIVE_DOUBLE);
    R("brier", metrics.brier, H5T_NATIVE_DOUBLE);
    R("ece", metrics.ece, H5T_NATIVE_DOUBLE);
    R("mce", metrics.mce, H5T_NATIVE_DOUBLE);
    R("choice_mass", metrics.choice_mass, H5T_NATIVE_DOUBLE);
    R("rel_n_bins", metrics.reliability.n_bins, H5T_NATIVE_INT);
    R("rel_count", metrics.reliability.count, ai);
    R("rel_mean_conf", metrics.reliability.mean_conf, af);
    R("rel_accuracy", metrics.reliability.accuracy, af);
    R("mlp_neurons_kept", mlp_neurons_kept, H5T_NATIVE_INT64);
    R("mlp_neurons_total", mlp_neurons_total, H5T_NATIVE_INT64);
    R("params_total", params_total, H5T_NATIVE_INT64);
    R("params_mlp", params_mlp, H5T_NATIVE_INT64);
    R("params_nonembed", params_nonembed, H5T_NATIVE_INT64);
    R("retention_mlp", retention_mlp, H5T_NATIVE_DOUBLE);
    R("retention_nonembed", retention_nonembed, H5T_NATIVE_DOUBLE);
    R("retention_total", retention_total, H5T_NATIVE_DOUBLE);
    R("train_steps", train_steps, H5T_NATIVE_INT64);
    R("final_loss", final_loss, H5T_NATIVE_DOUBLE);
    R("seconds_prune", seconds_prune, H5T_NATIVE_DOUBLE);
    R("seconds_train", seconds_train, H5T_NATIVE_DOUBLE);
    R("seconds_eval", seconds_eval, H5T_NATIVE_DOUBLE);
    R("rank", rank, H5T_NATIVE_INT32);
    R("host", host, host);
    R("finish_time", finish_time, H5T_NATIVE_DOUBLE);
    R("n_curve", n_curve, H5T_NATIVE_INT32);
#undef R
    *out = t;
    t = H5I_INVALID_HID;
fail:
    psw_h5_close_id(&t);
    psw_h5_close_id(&af);
    psw_h5_close_id(&ai);
    psw_h5_close_id(&host);
    psw_h5_close_id(&msg);
    psw_h5_close_id(&status);
    psw_h5_close_id(&loss);
    psw_h5_close_id(&kind);
    return st;
}

void psw_results_snapshot_free(psw_results_snapshot *s) {
    if (!s) return;
    free(s->spec_json);
    free(s->program_version);
    free(s->model_fingerprint);
    free(s->data_fingerprint);
    free(s->rows);
    memset(s, 0, sizeof *s);
}

psw_status psw_h5_read_simulated(const char *path, hid_t fid, bool *out, psw_err *err) {
    psw_status st = PSW_OK;
    hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, sp = H5I_INVALID_HID;
    htri_t exists;
    *out = false;
    H5TRY(exists = H5Aexists(fid, "simulated"), "simulated");
    if (!exists) return PSW_OK;
    H5TRY(a = H5Aopen(fid, "simulated", H5P_DEFAULT), "simulated");
    H5TRY(t = H5Aget_type(a), "simulated");
    H5TRY(sp = H5Aget_space(a), "simulated");
    if (H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_type(sp) != H5S_SCALAR) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: damaged results file: attribute 'simulated' is not a scalar integer",
                      path);
        goto fail;
    }
    int32_t v = 0;
    H5TRY(H5Aread(a, H5T_NATIVE_INT32, &v), "simulated");
    *out = v != 0;
fail:
    psw_h5_close_id(&sp);
    psw_h5_close_id(&t);
    psw_h5_close_id(&a);
    return st;
}

psw_status psw_results_read(const char *path, psw_results_snapshot *out, psw_err *err) {
    PSW_ASSERT(path && out);
    memset(out, 0, sizeof *out);
    psw_status st = PSW_OK;
    hid_t fapl = H5I_INVALID_HID, fid = H5I_INVALID_HID, ds = H5I_INVALID_HID,
          sp = H5I_INVALID_HID, mt = H5I_INVALID_HID, a = H5I_INVALID_HID;
    psw_run_record *rows = NULL;
    char *format = NULL;
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return psw_h5_fail(err, PSW_ERR_HDF5, path, "switch off HDF5 error printing");
    FILE *probe = fopen(path, "rb");
    if (!probe) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    /* Results files start with the HDF5 signature (no user block); say so plainly for anything
     * else rather than with HDF5's "file signature not found". */
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    bool is_hdf5 = fread(head, 1, sizeof head, probe) == sizeof head &&
                   memcmp(head, sig, sizeof sig) == 0;
    fclose(probe);
    if (!is_hdf5)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not an HDF5 file (no HDF5 signature)", path);

    H5TRY(fapl = H5Pcreate(H5P_FILE_ACCESS), "file access list");
    /* A bad checksum is retried ~100 times with back-off by SWMR readers (a writer may be
     * mid-flush); a few attempts cover a live writer without hanging on a corrupted file. */
    H5TRY(H5Pset_metadata_read_attempts(fapl, 5), "file access list");
    fid = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    if (fid < 0) {
        st = psw_h5_fail(err, PSW_ERR_FORMAT, path, "cannot open");
        goto fail;
    }
    st = read_str_attr(path, fid, "format", &format, err);
    if (st) goto fail;
    if (!format || strcmp(format, PSW_RESULTS_FORMAT) != 0) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not a prunesweep results file (format '%.80s')",
                      path, format ? format : "none");
        goto fail;
    }
    st = read_str_attr(path, fid, "spec", &out->spec_json, err);
    if (!st) st = read_str_attr(path, fid, "program_version", &out->program_version, err);
    if (!st) st = read_str_attr(path, fid, "model_fingerprint", &out->model_fingerprint, err);
    if (!st) st = read_str_attr(path, fid, "data_fingerprint", &out->data_fingerprint, err);
    if (st) goto fail;
    if (!out->spec_json) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: damaged results file: no 'spec' attribute", path);
        goto fail;
    }
    htri_t has_expected;
    H5TRY(has_expected = H5Aexists(fid, "expected_rows"), "expected_rows");
    if (has_expected) {
        H5TRY(a = H5Aopen(fid, "expected_rows", H5P_DEFAULT), "expected_rows");
        H5TRY(H5Aread(a, H5T_NATIVE_INT64, &out->expected_rows), "expected_rows");
        psw_h5_close_id(&a);
    }
    st = psw_h5_read_simulated(path, fid, &out->simulated, err);
    if (st) goto fail;

    hsize_t pd[3];
    H5TRY(ds = H5Dopen2(fid, "probs", H5P_DEFAULT), "open /probs");
    H5TRY(sp = H5Dget_space(ds), "/probs");
    if (H5Sget_simple_extent_ndims(sp) != 3) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: /probs is not 3-dimensional", path);
        goto fail;
    }
    H5TRY(H5Sget_simple_extent_dims(sp, pd, NULL), "/probs");
    out->n_examples = (int32_t)pd[1];
    out->n_choices = (int32_t)pd[2];
    psw_h5_close_id(&sp);
    psw_h5_close_id(&ds);

    hsize_t n = 0;
    H5TRY(ds = H5Dopen2(fid, "runs", H5P_DEFAULT), "open /runs");
    H5TRY(sp = H5Dget_space(ds), "/runs");
    if (H5Sget_simple_extent_ndims(sp) != 1) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: /runs is not 1-dimensional", path);
        goto fail;
    }
    H5TRY(H5Sget_simple_extent_dims(sp, &n, NULL), "/runs");
    if (n > 0) {
        size_t bytes;
        if (!psw_size_mul((size_t)n, sizeof *rows, &bytes) || !(rows = psw_try_alloc(bytes))) {
            st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: no memory for %llu rows", path,
                          (unsigned long long)n);
            goto fail;
        }
        memset(rows, 0, bytes);
        st = make_record_type(path, &mt, err);
        if (st) goto fail;
        H5TRY(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), "read /runs");
    }
    /* Drop pending rows: appends that died half-way hold no result. */
    size_t kept = 0;
    for (hsize_t i = 0; i < n; i++) {
        if (rows[i].status == PSW_RUN_PENDING) continue;
        rows[kept] = rows[i];
        rows[kept].message[PSW_ERR_MSG_SIZE - 1] = '\0';
        rows[kept].host[PSW_HOST_SIZE - 1] = '\0';
        rows[kept].n_examples = out->n_examples;
        rows[kept].n_choices = out->n_choices;
        rows[kept].probs = NULL;
        rows[kept].loss_curve = NULL;
        kept++;
    }
    out->rows = rows;
    out->n_rows = kept;
    rows = NULL;
fail:
    free(rows);
    free(format);
    psw_h5_close_id(&a);
    psw_h5_close_id(&mt);
    psw_h5_close_id(&sp);
    psw_h5_close_id(&ds);
    if (fid >= 0) H5Fclose(fid);
    psw_h5_close_id(&fapl);
    if (st != PSW_OK) {
        psw_results_snapshot_free(out);
    }
    return st;
}
