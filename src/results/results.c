/* results.c: the HDF5 results file (serial HDF5 1.10, one writer, SWMR for live readers).
 * Layout and reader notes: docs/results.md. Only src/results includes <hdf5.h>.
 *
 * Crash model. /runs is the commit record: an append (of one row or a batch of up to
 * PSW_RESULTS_APPEND_MAX) makes the rows' probabilities and curves durable (flush + fsync)
 * before it writes the /runs rows and flushes again. A reader (and resume) trusts len(/runs);
 * trailing /probs or /curves rows past it are leftovers of an interrupted append. A /runs row
 * whose status is "pending" (the all-zero fill value) is an append that died between the extent
 * change and the row write: it is ignored, never rewritten. Batching does not weaken this: the
 * two flushes are per call, and a call returns only when all its rows are durable.
 *
 * Liveness. HDF5 1.10 releases its own flock() once SWMR writing starts (so readers can open the
 * file), and a killed writer leaves the superblock's status flags set. The status flags therefore
 * cannot tell a dead writer from a live one; an open-file-description lock (F_OFD_SETLK) held on
 * the file for the writer's lifetime can, because the kernel drops it when the writer dies. Only
 * with that lock held do we clear the flags (what `h5clear -s` does) and resume. OFD locks and
 * flock() do not conflict on Linux, so SWMR readers are unaffected. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "psw/results.h"

#include "results/h5_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#ifndef F_OFD_SETLK
#error "results.c needs Linux open-file-description locks (F_OFD_SETLK)"
#endif

#define RUNS_CHUNK_ROWS 32
#define CURVE_CHUNK_ROWS 32
/* Private file-access property of HDF5 1.10 (H5Fprivate.h) that h5clear -s sets: an RDWR open
 * with it zeroes the superblock status flags left by a writer that did not close the file. */
#define CLEAR_STATUS_FLAGS_PROP "clear_status_flags"
/* Private property of HDF5 1.10 (h5clear): open even when the file is shorter than the end of
 * allocated space recorded in the superblock. */
#define SKIP_EOF_CHECK_PROP "skip_eof_check"
/* Headroom for metadata an append may allocate (chunk index blocks, object header updates). */
#define APPEND_METADATA_MARGIN (1024 * 1024)

/* One /runs row in memory. The file type is this compound packed (no padding). */
typedef struct h5_row {
    uint64_t config_id;
    int32_t kind, loss, status, rank;
    double retention;
    int64_t data_size, seed;
    char message[PSW_ERR_MSG_SIZE];
    int64_t n_examples, n_labeled;
    double accuracy, entropy, entropy_norm, nll, brier, ece, mce, choice_mass;
    int32_t rel_n_bins, n_curve;
    int64_t rel_count[PSW_ECE_BINS];
    double rel_mean_conf[PSW_ECE_BINS], rel_accuracy[PSW_ECE_BINS];
    int64_t mlp_neurons_kept, mlp_neurons_total, params_total, params_mlp, params_nonembed;
    double retention_mlp, retention_nonembed, retention_total;
    int64_t train_steps;
    double final_loss, seconds_prune, seconds_train, seconds_eval;
    char host[PSW_HOST_SIZE];
    double finish_time;
} h5_row;

typedef enum field_type {
    FT_U64, FT_I64, FT_I32, FT_F64, FT_KIND, FT_LOSS, FT_STATUS, FT_MSG, FT_HOST, FT_AI64, FT_AF64,
    FT_COUNT
} field_type;

static const struct row_field {
    const char *name;
    size_t offset;
    field_type type;
} row_fields[] = {
#define F(name, type) {#name, offsetof(h5_row, name), type}
    F(config_id, FT_U64),         F(kind, FT_KIND),
    F(retention, FT_F64),         F(loss, FT_LOSS),
    F(data_size, FT_I64),         F(seed, FT_I64),
    F(status, FT_STATUS),         F(message, FT_MSG),
    F(n_examples, FT_I64),        F(n_labeled, FT_I64),
    F(accuracy, FT_F64),          F(entropy, FT_F64),
    F(entropy_norm, FT_F64),      F(nll, FT_F64),
    F(brier, FT_F64),             F(ece, FT_F64),
    F(mce, FT_F64),               F(choice_mass, FT_F64),
    F(rel_n_bins, FT_I32),        F(rel_count, FT_AI64),
    F(rel_mean_conf, FT_AF64),    F(rel_accuracy, FT_AF64),
    F(mlp_neurons_kept, FT_I64),  F(mlp_neurons_total, FT_I64),
    F(params_total, FT_I64),      F(params_mlp, FT_I64),
    F(params_nonembed, FT_I64),   F(retention_mlp, FT_F64),
    F(retention_nonembed, FT_F64), F(retention_total, FT_F64),
    F(train_steps, FT_I64),       F(final_loss, FT_F64),
    F(seconds_prune, FT_F64),     F(seconds_train, FT_F64),
    F(seconds_eval, FT_F64),      F(rank, FT_I32),
    F(host, FT_HOST),             F(finish_time, FT_F64),
    F(n_curve, FT_I32),
#undef F
};

/* Latest status per config id: open addressing, capacity a power of two, load <= 1/2. */
typedef struct id_slot {
    uint64_t id;
    int32_t status;
    int32_t used;
} id_slot;

struct psw_results {
    char *path;
    int lock_fd;               /* holds the OFD write lock for the writer's lifetime */
    hid_t file, runs, probs, curves;
    hid_t row_mem;             /* compound, memory layout of h5_row */
    hid_t row_file;            /* the same, packed: what /runs stores */
    int32_t n_examples, n_choices;
    int64_t n_rows;
    bool resumed, broken;
    float *nan_probs;          /* (n_examples, n_choices) NaN, written for rows without probs */
    id_slot *slots;
    size_t cap, n_ids;
    uint64_t *order;           /* (n_ids) ids in first-row order */
    size_t order_cap;
};

/* ---- error handling: psw_h5_fail and H5TRY (src/results/h5_internal.h) ---- */

/* Releases id on a failure path without losing the error stack of the call that failed. */
static void close_keep_stack(hid_t id) {
    if (id < 0) return;
    hid_t saved = H5Eget_current_stack();
    H5Idec_ref(id);
    if (saved >= 0) H5Eset_current_stack(saved);
}

/* ---- types ---- */

static hid_t make_enum(const char *const *names, int n) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT32);
    if (t < 0) return t;
    for (int32_t v = 0; v < n; v++) {
        if (H5Tenum_insert(t, names[v], &v) < 0) {
            close_keep_stack(t);
            return H5I_INVALID_HID;
        }
    }
    return t;
}

static psw_status make_row_types(const char *path, hid_t *mem_out, hid_t *file_out, psw_err *err) {
    psw_status st = PSW_OK;
    hid_t ft[FT_COUNT];
    for (int i = 0; i < FT_COUNT; i++) ft[i] = H5I_INVALID_HID;
    hid_t mem = H5I_INVALID_HID, file = H5I_INVALID_HID;
    const char *kinds[] = {psw_row_kind_name(PSW_ROW_RECOVERED), psw_row_kind_name(PSW_ROW_TEACHER),
                           psw_row_kind_name(PSW_ROW_UNRECOVERED)};
    const char *losses[] = {psw_loss_kind_name(PSW_LOSS_CE), psw_loss_kind_name(PSW_LOSS_KL),
                            psw_loss_kind_name(PSW_LOSS_MIX), psw_loss_kind_name(PSW_LOSS_NONE)};
    const char *statuses[] = {psw_run_status_name(PSW_RUN_PENDING), psw_run_status_name(PSW_RUN_OK),
                              psw_run_status_name(PSW_RUN_DIVERGED),
                              psw_run_status_name(PSW_RUN_FAILED)};
    hsize_t bins[1] = {PSW_ECE_BINS};

    H5TRY(ft[FT_U64] = H5Tcopy(H5T_NATIVE_UINT64), "row type");
    H5TRY(ft[FT_I64] = H5Tcopy(H5T_NATIVE_INT64), "row type");
    H5TRY(ft[FT_I32] = H5Tcopy(H5T_NATIVE_INT32), "row type");
    H5TRY(ft[FT_F64] = H5Tcopy(H5T_NATIVE_DOUBLE), "row type");
    H5TRY(ft[FT_KIND] = make_enum(kinds, 3), "row type: kind enum");
    H5TRY(ft[FT_LOSS] = make_enum(losses, 4), "row type: loss enum");
    H5TRY(ft[FT_STATUS] = make_enum(statuses, 4), "row type: status enum");
    H5TRY(ft[FT_MSG] = H5Tcopy(H5T_C_S1), "row type");
    H5TRY(H5Tset_size(ft[FT_MSG], PSW_ERR_MSG_SIZE), "row type: message");
    H5TRY(H5Tset_strpad(ft[FT_MSG], H5T_STR_NULLTERM), "row type: message");
    H5TRY(ft[FT_HOST] = H5Tcopy(H5T_C_S1), "row type");
    H5TRY(H5Tset_size(ft[FT_HOST], PSW_HOST_SIZE), "row type: host");
    H5TRY(H5Tset_strpad(ft[FT_HOST], H5T_STR_NULLTERM), "row type: host");
    H5TRY(ft[FT_AI64] = H5Tarray_create2(H5T_NATIVE_INT64, 1, bins), "row type");
    H5TRY(ft[FT_AF64] = H5Tarray_create2(H5T_NATIVE_DOUBLE, 1, bins), "row type");

    H5TRY(mem = H5Tcreate(H5T_COMPOUND, sizeof(h5_row)), "row type");
    for (size_t i = 0; i < sizeof row_fields / sizeof row_fields[0]; i++)
        H5TRY(H5Tinsert(mem, row_fields[i].name, row_fields[i].offset, ft[row_fields[i].type]),
              "row type: insert field");
    H5TRY(file = H5Tcopy(mem), "row type");
    H5TRY(H5Tpack(file), "row type: pack");
    *mem_out = mem;
    *file_out = file;
    mem = file = H5I_INVALID_HID;
fail:
    psw_h5_close_id(&file);
    psw_h5_close_id(&mem);
    for (int i = 0; i < FT_COUNT; i++) psw_h5_close_id(&ft[i]);
    return st;
}

static hid_t make_vlstr_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        close_keep_stack(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* ---- attributes ---- */

static psw_status write_str_attr(const char *path, hid_t loc, const char *name, const char *value,
                                 psw_err *err) {
    psw_status st = PSW_OK;
    hid_t t = H5I_INVALID_HID, s = H5I_INVALID_HID, a = H5I_INVALID_HID;
    char what[96];
    snprintf(what, sizeof what, "write attribute '%s'", name);
    H5TRY(t = make_vlstr_type(), what);
    H5TRY(s = H5Screate(H5S_SCALAR), what);
    H5TRY(a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT), what);
    H5TRY(H5Awrite(a, t, &value), what);
fail:
    psw_h5_close_id(&a);
    psw_h5_close_id(&s);
    psw_h5_close_id(&t);
    return st;
}

static psw_status write_num_attr(const char *path, hid_t loc, const char *name, hid_t file_type,
                                 hid_t mem_type, const void *value, psw_err *err) {
    psw_status st = PSW_OK;
    hid_t s = H5I_INVALID_HID, a = H5I_INVALID_HID;
    char what[96];
    snprintf(what, sizeof what, "write attribute '%s'", name);
    H5TRY(s = H5Screate(H5S_SCALAR), what);
    H5TRY(a = H5Acreate2(loc, name, file_type, s, H5P_DEFAULT, H5P_DEFAULT), what);
    H5TRY(H5Awrite(a, mem_type, value), what);
fail:
    psw_h5_close_id(&a);
    psw_h5_close_id(&s);
    return st;
}

/* Reads a scalar variable-length string attribute. *out is malloc'd (caller frees), NULL when
 * the attribute does not exist or is not a scalar variable-length string. */
static psw_status read_str_attr(const char *path, hid_t loc, const char *name, char **out,
                                psw_err *err) {
    psw_status st = PSW_OK;
    hid_t a = H5I_INVALID_HID, ft = H5I_INVALID_HID, s = H5I_INVALID_HID, mt = H5I_INVALID_HID;
    char *value = NULL;
    char what[96];
    snprintf(what, sizeof what, "read attribute '%s'", name);
    *out = NULL;
    htri_t exists;
    H5TRY(exists = H5Aexists(loc, name), what);
    if (!exists) goto fail;
    H5TRY(a = H5Aopen(loc, name, H5P_DEFAULT), what);
    H5TRY(ft = H5Aget_type(a), what);
    H5TRY(s = H5Aget_space(a), what);
    H5T_class_t cls;
    htri_t vl;
    H5S_class_t scls;
    H5TRY(cls = H5Tget_class(ft), what);
    if (cls != H5T_STRING) goto fail;
    H5TRY(vl = H5Tis_variable_str(ft), what);
    H5TRY(scls = H5Sget_simple_extent_type(s), what);
    if (!vl || scls != H5S_SCALAR) goto fail;
    H5TRY(mt = make_vlstr_type(), what);
    H5TRY(H5Aread(a, mt, &value), what);
    *out = psw_xstrdup(value ? value : "");
    H5free_memory(value);
fail:
    psw_h5_close_id(&mt);
    psw_h5_close_id(&s);
    psw_h5_close_id(&ft);
    psw_h5_close_id(&a);
    return st;
}

/* ---- config-id index ---- */

static size_t slot_of(const psw_results *r, uint64_t id) {
    size_t mask = r->cap - 1;
    size_t i = (size_t)(psw_fnv1a(&id, sizeof id, PSW_FNV_SEED) & mask);
    while (r->slots[i].used && r->slots[i].id != id) i = (i + 1) & mask;
    return i;
}

static void index_put(psw_results *r, uint64_t id, psw_run_status status) {
    if (2 * (r->n_ids + 1) > r->cap) {
        id_slot *old = r->slots;
        size_t old_cap = r->cap;
        r->cap = old_cap ? 2 * old_cap : 64;
        r->slots = psw_xcalloc(r->cap, sizeof *r->slots);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].used) r->slots[slot_of(r, old[i].id)] = old[i];
        free(old);
    }
    size_t i = slot_of(r, id);
    if (!r->slots[i].used) {
        r->slots[i].used = 1;
        r->slots[i].id = id;
        if (r->n_ids == r->order_cap) {
            r->order_cap = r->order_cap ? 2 * r->order_cap : 64;
            r->order = psw_xrealloc(r->order, r->order_cap * sizeof *r->order);
        }
        r->order[r->n_ids++] = id;
    }
    r->slots[i].status = (int32_t)status;
}

psw_run_status psw_results_lookup(const psw_results *r, uint64_t config_id) {
    PSW_ASSERT(r);
    if (r->cap == 0) return PSW_RUN_PENDING;
    size_t i = slot_of(r, config_id);
    return r->slots[i].used ? (psw_run_status)r->slots[i].status : PSW_RUN_PENDING;
}

psw_status psw_results_finished(const psw_results *r, uint64_t **ids, size_t *n, psw_err *err) {
    PSW_ASSERT(r && ids && n);
    *ids = NULL;
    *n = 0;
    size_t count = 0;
    for (size_t k = 0; k < r->n_ids; k++) {
        psw_run_status s = psw_results_lookup(r, r->order[k]);
        if (s == PSW_RUN_OK || s == PSW_RUN_DIVERGED) count++;
    }
    if (count == 0) return PSW_OK;
    uint64_t *out = psw_xmalloc(count * sizeof *out);
    size_t j = 0;
    for (size_t k = 0; k < r->n_ids; k++) {
        psw_run_status s = psw_results_lookup(r, r->order[k]);
        if (s == PSW_RUN_OK || s == PSW_RUN_DIVERGED) out[j++] = r->order[k];
    }
    *ids = out;
    *n = count;
    return PSW_OK;
}

bool psw_results_resumed(const psw_results *r) { return r->resumed; }
int64_t psw_results_row_count(const psw_results *r) { return r->n_rows; }

/* ---- open helpers ---- */

static psw_status check_meta(const char *path, const psw_results_meta *m, psw_err *err) {
    if (!m->spec_json || !m->program_version || !m->model_fingerprint || !m->data_fingerprint)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: meta: spec, program version and fingerprints are required", path);
    if (m->n_examples < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: meta: n_examples is %d, need >= 1", path,
                        (int)m->n_examples);
    if (m->n_choices < 1 || m->n_choices > PSW_MAX_CHOICES)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: meta: n_choices is %d, need 1..%d", path,
                        (int)m->n_choices, PSW_MAX_CHOICES);
    if (!m->example_ids || !m->gold)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: meta: example ids and gold are required",
                        path);
    for (int32_t i = 0; i < m->n_examples; i++) {
        if (!m->example_ids[i])
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: meta: example id %d is NULL", path,
                            (int)i);
        if (m->gold[i] < -1 || m->gold[i] >= m->n_choices)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "%s: meta: gold[%d] = %d is outside [-1, %d)", path, (int)i,
                            (int)m->gold[i], (int)m->n_choices);
    }
    return PSW_OK;
}

/* Takes the writer lock on fd; fails when another live process holds it. */
static psw_status take_lock(const char *path, int fd, psw_err *err) {
    struct flock fl = {0};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return PSW_OK;
    if (errno == EAGAIN || errno == EACCES) {
        struct flock who = {0};
        who.l_type = F_WRLCK;
        who.l_whence = SEEK_SET;
        /* OFD locks report l_pid = -1; the message does without a pid then. */
        if (fcntl(fd, F_OFD_GETLK, &who) == 0 && who.l_type != F_UNLCK && who.l_pid > 0)
            return PSW_FAIL(err, PSW_ERR_IO,
                            "%s: another process (pid %ld) is writing this results file", path,
                            (long)who.l_pid);
        return PSW_FAIL(err, PSW_ERR_IO, "%s: another process is writing this results file",
                        path);
    }
    return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
}

static hid_t make_fapl(bool clear_status_flags, bool skip_eof_check) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    /* SWMR needs the 1.10 file format (superblock v3). */
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0) goto bad;
    hbool_t yes = 1; /* both private properties are registered with sizeof(hbool_t) */
    if (clear_status_flags && H5Pset(fapl, CLEAR_STATUS_FLAGS_PROP, &yes) < 0) goto bad;
    if (skip_eof_check && H5Pset(fapl, SKIP_EOF_CHECK_PROP, &yes) < 0) goto bad;
    return fapl;
bad:
    close_keep_stack(fapl);
    return H5I_INVALID_HID;
}

static hid_t create_ext(hid_t loc, const char *name, hid_t type, int rank, const hsize_t *chunk,
                        const hsize_t *dims_after_row, hid_t fill_type, const void *fill) {
    hsize_t dims[3], maxdims[3];
    for (int i = 0; i < rank; i++) {
        dims[i] = i == 0 ? 0 : dims_after_row[i];
        maxdims[i] = i == 0 ? H5S_UNLIMITED : dims_after_row[i];
    }
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    if ((space = H5Screate_simple(rank, dims, maxdims)) < 0) goto done;
    if ((dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0) goto done;
    if (H5Pset_chunk(dcpl, rank, chunk) < 0) goto done;
    if (fill && H5Pset_fill_value(dcpl, fill_type, fill) < 0) goto done;
    ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
done:
    /* The caller reports a failure from the stack, so keep it intact while cleaning up. */
    close_keep_stack(dcpl);
    close_keep_stack(space);
    return ds;
}

static psw_status create_layout(const char *path, psw_results *r, const psw_results_meta *m,
                                psw_err *err) {
    psw_status st = PSW_OK;
    hid_t g = H5I_INVALID_HID, s = H5I_INVALID_HID, t = H5I_INVALID_HID, d = H5I_INVALID_HID;
    hid_t fid = r->file;

    /* Root attributes. */
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx",
             (unsigned long long)psw_fnv1a(m->spec_json, strlen(m->spec_json), PSW_FNV_SEED));
    time_t now = time(NULL);
    struct tm tmv;
    char iso[32] = "unknown";
    if (gmtime_r(&now, &tmv)) strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    unsigned maj = 0, min = 0, rel = 0;
    H5TRY(H5get_libversion(&maj, &min, &rel), "library version");
    char h5ver[32];
    snprintf(h5ver, sizeof h5ver, "%u.%u.%u", maj, min, rel);
    double created_unix = (double)now;
    st = write_str_attr(path, fid, "format", PSW_RESULTS_FORMAT, err);
    if (!st) st = write_str_attr(path, fid, "spec", m->spec_json, err);
    if (!st) st = write_str_attr(path, fid, "spec_fingerprint", fp, err);
    if (!st) st = write_str_attr(path, fid, "program_version", m->program_version, err);
    if (!st) st = write_str_attr(path, fid, "model_fingerprint", m->model_fingerprint, err);
    if (!st) st = write_str_attr(path, fid, "data_fingerprint", m->data_fingerprint, err);
    if (!st) st = write_str_attr(path, fid, "created", iso, err);
    if (!st) st = write_str_attr(path, fid, "hdf5_version", h5ver, err);
    if (!st)
        st = write_num_attr(path, fid, "created_unix", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                            &created_unix, err);
    if (!st)
        st = write_num_attr(path, fid, "expected_rows", H5T_STD_I64LE, H5T_NATIVE_INT64,
                            &m->expected_rows, err);
    /* Only files of `run --simulate` carry it, so real files keep their layout. */
    int32_t simulated = 1;
    if (!st && m->simulated)
        st = write_num_attr(path, fid, "simulated", H5T_STD_I32LE, H5T_NATIVE_INT32, &simulated,
                            err);
    if (st) goto fail;

    /* /test: written once, before SWMR starts (no object can be created after that). */
    hsize_t ne = (hsize_t)m->n_examples;
    H5TRY(g = H5Gcreate2(fid, "test", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create /test");
    H5TRY(s = H5Screate_simple(1, &ne, NULL), "create /test/ids");
    H5TRY(t = make_vlstr_type(), "create /test/ids");
    H5TRY(d = H5Dcreate2(g, "ids", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          "create /test/ids");
    H5TRY(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->example_ids), "write /test/ids");
    psw_h5_close_id(&d);
    H5TRY(d = H5Dcreate2(g, "gold", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
          "create /test/gold");
    H5TRY(H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, m->gold),
          "write /test/gold");
    psw_h5_close_id(&d);

    /* Extendible per-row datasets. */
    h5_row zero_row;
    memset(&zero_row, 0, sizeof zero_row); /* status 0 = pending: marks an unwritten row */
    float nan = NAN;
    hsize_t runs_chunk[1] = {RUNS_CHUNK_ROWS}, runs_dims[1] = {0};
    H5TRY(d = create_ext(fid, "runs", r->row_file, 1, runs_chunk, runs_dims, r->row_mem,
                         &zero_row),
          "create /runs");
    psw_h5_close_id(&d);
    hsize_t pdims[3] = {0, ne, (hsize_t)m->n_choices};
    hsize_t pchunk[3] = {1, ne, (hsize_t)m->n_choices};
    H5TRY(d = create_ext(fid, "probs", H5T_IEEE_F32LE, 3, pchunk, pdims, H5T_NATIVE_FLOAT, &nan),
          "create /probs");
    psw_h5_close_id(&d);
    hsize_t cdims[2] = {0, PSW_CURVE_POINTS}, cchunk[2] = {CURVE_CHUNK_ROWS, PSW_CURVE_POINTS};
    H5TRY(d = create_ext(fid, "curves", H5T_IEEE_F32LE, 2, cchunk, cdims, H5T_NATIVE_FLOAT, &nan),
          "create /curves");
    psw_h5_close_id(&d);
fail:
    psw_h5_close_id(&d);
    psw_h5_close_id(&t);
    psw_h5_close_id(&s);
    psw_h5_close_id(&g);
    return st;
}

static psw_status open_datasets(const char *path, psw_results *r, psw_err *err) {
    psw_status st = PSW_OK;
    H5TRY(r->runs = H5Dopen2(r->file, "runs", H5P_DEFAULT), "open /runs");
    H5TRY(r->probs = H5Dopen2(r->file, "probs", H5P_DEFAULT), "open /probs");
    H5TRY(r->curves = H5Dopen2(r->file, "curves", H5P_DEFAULT), "open /curves");
fail:
    return st;
}

/* Dims of a dataset; fails unless its rank is `rank`. */
static psw_status get_dims(const char *path, hid_t ds, const char *name, int rank, hsize_t *dims,
                           psw_err *err) {
    psw_status st = PSW_OK;
    hid_t s = H5I_INVALID_HID;
    int got;
    H5TRY(s = H5Dget_space(ds), name);
    H5TRY(got = H5Sget_simple_extent_ndims(s), name);
    if (got != rank) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: %s has rank %d, expected %d", path, name, got,
                      rank);
        goto fail;
    }
    H5TRY(H5Sget_simple_extent_dims(s, dims, NULL), name);
fail:
    psw_h5_close_id(&s);
    return st;
}

/* Checks an open file (any mode) is ours and matches meta. */
static psw_status validate_file(const char *path, hid_t fid, const psw_results_meta *m,
                                hid_t row_file, psw_err *err) {
    psw_status st = PSW_OK;
    char *format = NULL, *spec = NULL, *model_fp = NULL, *data_fp = NULL, *version = NULL;
    hid_t d = H5I_INVALID_HID, t = H5I_INVALID_HID;
    st = read_str_attr(path, fid, "format", &format, err);
    if (st) goto fail;
    if (!format) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: not a prunesweep results file (no 'format' attribute); "
                      "refusing to touch it",
                      path);
        goto fail;
    }
    if (strcmp(format, PSW_RESULTS_FORMAT) != 0) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: format is '%.80s', expected '%s'", path, format,
                      PSW_RESULTS_FORMAT);
        goto fail;
    }
    st = read_str_attr(path, fid, "spec", &spec, err);
    if (!st) st = read_str_attr(path, fid, "model_fingerprint", &model_fp, err);
    if (!st) st = read_str_attr(path, fid, "data_fingerprint", &data_fp, err);
    if (!st) st = read_str_attr(path, fid, "program_version", &version, err);
    if (st) goto fail;
    if (!spec || !model_fp || !data_fp) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: damaged results file: spec or fingerprint attribute missing", path);
        goto fail;
    }
    if (strcmp(spec, m->spec_json) != 0) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "%s: made from a different spec (fingerprint %016llx in the file, %016llx "
                      "now); use --new for a fresh file or another output path",
                      path, (unsigned long long)psw_fnv1a(spec, strlen(spec), PSW_FNV_SEED),
                      (unsigned long long)psw_fnv1a(m->spec_json, strlen(m->spec_json),
                                                    PSW_FNV_SEED));
        goto fail;
    }
    if (strcmp(model_fp, m->model_fingerprint) != 0) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "%s: made with a different model (fingerprint %.64s in the file, %.64s now)",
                      path, model_fp, m->model_fingerprint);
        goto fail;
    }
    if (strcmp(data_fp, m->data_fingerprint) != 0) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "%s: made with different data (fingerprint %.64s in the file, %.64s now)",
                      path, data_fp, m->data_fingerprint);
        goto fail;
    }
    bool simulated = false;
    st = psw_h5_read_simulated(path, fid, &simulated, err);
    if (st) goto fail;
    if (simulated != m->simulated) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      simulated ? "%s: holds simulated rows (made by 'run --simulate'); a real "
                                  "run does not resume it: use --new or another output path"
                                : "%s: holds real results; 'run --simulate' does not add "
                                  "synthetic rows to it: use another output path",
                      path);
        goto fail;
    }
    if (version && strcmp(version, m->program_version) != 0)
        PSW_LOG_WARN("%s: written by prunesweep %s, resuming with %s", path, version,
                     m->program_version);

    hsize_t dims[3];
    htri_t same;
    H5TRY(d = H5Dopen2(fid, "runs", H5P_DEFAULT), "open /runs");
    H5TRY(t = H5Dget_type(d), "/runs type");
    H5TRY(same = H5Tequal(t, row_file), "/runs type");
    if (!same) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: /runs has a different row layout than this prunesweep writes", path);
        goto fail;
    }
    psw_h5_close_id(&t);
    psw_h5_close_id(&d);
    H5TRY(d = H5Dopen2(fid, "probs", H5P_DEFAULT), "open /probs");
    st = get_dims(path, d, "/probs", 3, dims, err);
    if (st) goto fail;
    if (dims[1] != (hsize_t)m->n_examples || dims[2] != (hsize_t)m->n_choices) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "%s: /probs is for %llu examples x %llu choices, this run has %d x %d",
                      path, (unsigned long long)dims[1], (unsigned long long)dims[2],
                      (int)m->n_examples, (int)m->n_choices);
        goto fail;
    }
    psw_h5_close_id(&d);
    H5TRY(d = H5Dopen2(fid, "curves", H5P_DEFAULT), "open /curves");
    st = get_dims(path, d, "/curves", 2, dims, err);
    if (st) goto fail;
    if (dims[1] != PSW_CURVE_POINTS) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: /curves has %llu points per row, expected %d",
                      path, (unsigned long long)dims[1], PSW_CURVE_POINTS);
        goto fail;
    }
fail:
    psw_h5_close_id(&t);
    psw_h5_close_id(&d);
    free(version);
    free(data_fp);
    free(model_fp);
    free(spec);
    free(format);
    return st;
}

typedef struct id_status {
    uint64_t id;
    int32_t status;
} id_status;

/* Reads (config_id, status) of every row of the /runs dataset ds. *rows is malloc'd (caller
 * frees; NULL when *n == 0). */
static psw_status read_id_status(const char *path, hid_t ds, id_status **rows_out, hsize_t *n,
                                 psw_err *err) {
    psw_status st = PSW_OK;
    hid_t t = H5I_INVALID_HID, et = H5I_INVALID_HID;
    id_status *rows = NULL;
    hsize_t dims[1];
    *rows_out = NULL;
    *n = 0;
    st = get_dims(path, ds, "/runs", 1, dims, err);
    if (st || dims[0] == 0) goto fail;
    size_t bytes;
    if (!psw_size_mul((size_t)dims[0], sizeof *rows, &bytes) || !(rows = psw_try_alloc(bytes))) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: no memory to index %llu rows", path,
                      (unsigned long long)dims[0]);
        goto fail;
    }
    /* A compound with a subset of the fields reads just those columns. */
    const char *statuses[] = {"pending", "ok", "diverged", "failed"};
    H5TRY(et = make_enum(statuses, 4), "index /runs");
    H5TRY(t = H5Tcreate(H5T_COMPOUND, sizeof(id_status)), "index /runs");
    H5TRY(H5Tinsert(t, "config_id", offsetof(id_status, id), H5T_NATIVE_UINT64), "index /runs");
    H5TRY(H5Tinsert(t, "status", offsetof(id_status, status), et), "index /runs");
    H5TRY(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), "read /runs");
    *rows_out = rows;
    *n = dims[0];
    rows = NULL;
fail:
    free(rows);
    psw_h5_close_id(&t);
    psw_h5_close_id(&et);
    return st;
}

/* Fills the index from /runs; pending rows (incomplete appends) are skipped. */
static psw_status load_index(const char *path, psw_results *r, psw_err *err) {
    id_status *rows = NULL;
    hsize_t n = 0;
    psw_status st = read_id_status(path, r->runs, &rows, &n, err);
    if (st) return st;
    r->n_rows = (int64_t)n;
    for (hsize_t i = 0; i < n; i++)
        if (rows[i].status != PSW_RUN_PENDING)
            index_put(r, rows[i].id, (psw_run_status)rows[i].status);
    free(rows);
    return PSW_OK;
}

/* Fails unless the chunk of ds holding row `row` lies wholly inside the first `size` bytes. */
static psw_status chunk_present(const char *path, hid_t ds, const char *name, hsize_t row,
                                hsize_t chunk_rows, uint64_t size, bool *ok, psw_err *err) {
    psw_status st = PSW_OK;
    hsize_t coord[3] = {row - row % chunk_rows, 0, 0};
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t bytes = 0;
    H5TRY(H5Dget_chunk_info_by_coord(ds, coord, &mask, &addr, &bytes), name);
    *ok = addr != HADDR_UNDEF && (uint64_t)addr + (uint64_t)bytes <= size;
fail:
    return st;
}

/* For a file shorter than its recorded size (an append whose flush failed). Bytes past the end
 * read as zeros. A torn append loses only its own rows, the last ones of /runs, which then read
 * as pending (the last row always may; earlier trailing ones when their /probs and /curves
 * chunks are present, as a torn batch leaves them); every earlier row must be intact: not pending, and its /runs, /probs and /curves
 * chunks wholly present. Anything else means committed data is gone (the file was truncated by
 * something else), and we refuse rather than resume over the damage. */
static psw_status check_torn_tail(const char *path, hid_t fid, uint64_t size, uint64_t eoa,
                                  psw_err *err) {
    psw_status st = PSW_OK;
    hid_t d[3] = {H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID};
    static const char *const names[3] = {"/runs", "/probs", "/curves"};
    static const hsize_t chunk_rows[3] = {RUNS_CHUNK_ROWS, 1, CURVE_CHUNK_ROWS};
    id_status *rows = NULL;
    hsize_t n = 0, committed, bad = 0;
    for (int k = 0; k < 3; k++) H5TRY(d[k] = H5Dopen2(fid, names[k] + 1, H5P_DEFAULT), names[k]);
    st = read_id_status(path, d[0], &rows, &n, err);
    if (st) goto fail;
    committed = n > 0 && rows[n - 1].status == PSW_RUN_PENDING ? n - 1 : n;
    /* A torn batch leaves more pending rows at the end. Its /runs rows are written only after
     * its /probs and /curves rows were made durable, so those chunks are present for each of
     * them; a pending row whose chunks are missing is damage, not a torn append. */
    while (committed > 0 && rows[committed - 1].status == PSW_RUN_PENDING) {
        bool ok = true;
        for (int k = 1; k < 3 && ok; k++) {
            st = chunk_present(path, d[k], names[k], committed - 1, chunk_rows[k], size, &ok, err);
            if (st) goto fail;
        }
        if (!ok) break;
        committed--;
    }
    for (hsize_t i = 0; i < committed; i++) {
        bool ok = rows[i].status != PSW_RUN_PENDING;
        for (int k = 0; k < 3 && ok; k++) {
            st = chunk_present(path, d[k], names[k], i, chunk_rows[k], size, &ok, err);
            if (st) goto fail;
        }
        if (!ok) bad++;
    }
    if (bad)
        st = PSW_FAIL(err, PSW_ERR_FORMAT,
                      "%s: truncated: %llu of %llu bytes present and %llu of %llu written rows "
                      "damaged; not resuming (restore a copy, or use --new)",
                      path, (unsigned long long)size, (unsigned long long)eoa,
                      (unsigned long long)bad, (unsigned long long)committed);
fail:
    free(rows);
    for (int k = 0; k < 3; k++) psw_h5_close_id(&d[k]);
    return st;
}

static void results_free(psw_results *r) {
    if (!r) return;
    psw_h5_close_id(&r->curves);
    psw_h5_close_id(&r->probs);
    psw_h5_close_id(&r->runs);
    psw_h5_close_id(&r->row_file);
    psw_h5_close_id(&r->row_mem);
    if (r->file >= 0) H5Fclose(r->file);
    if (r->lock_fd >= 0) close(r->lock_fd);
    free(r->nan_probs);
    free(r->slots);
    free(r->order);
    free(r->path);
    free(r);
}

/* Chunks of `chunk_rows` rows that rows [first, first + k) touch (k >= 1). */
static uint64_t chunks_touched(uint64_t first, uint64_t k, uint64_t chunk_rows) {
    return (first + k - 1) / chunk_rows - first / chunk_rows + 1;
}

/* Upper bound on the bytes appending k >= 1 rows after row `first` allocates in the file: new
 * chunks for every dataset plus headroom for metadata (chunk index blocks, object header
 * updates). */
static uint64_t append_bound(const psw_results *r, uint64_t first, uint64_t k) {
    uint64_t b = APPEND_METADATA_MARGIN;
    b += k * (uint64_t)r->n_examples * (uint64_t)r->n_choices * sizeof(float);
    b += chunks_touched(first, k, CURVE_CHUNK_ROWS) * CURVE_CHUNK_ROWS * PSW_CURVE_POINTS *
         sizeof(float);
    b += chunks_touched(first, k, RUNS_CHUNK_ROWS) * RUNS_CHUNK_ROWS * sizeof(h5_row);
    return b;
}

/* Fails with "disk full" when `need` more bytes may not fit: fewer are free on the file system
 * (avail), or the file of `size` bytes would pass RLIMIT_FSIZE. `what` names the operation. */
static psw_status check_room(const char *path, const char *what, uint64_t size, uint64_t avail,
                             uint64_t need, psw_err *err) {
    if (avail < need)
        return PSW_FAIL(err, PSW_ERR_IO, "%s: disk full: %s needs up to %llu bytes, %llu are free",
                        path, what, (unsigned long long)need, (unsigned long long)avail);
    struct rlimit lim;
    if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        size + need > (uint64_t)lim.rlim_cur)
        return PSW_FAIL(err, PSW_ERR_IO,
                        "%s: disk full: %s needs up to %llu bytes, the file-size limit "
                        "(RLIMIT_FSIZE %llu) leaves %llu",
                        path, what, (unsigned long long)need, (unsigned long long)lim.rlim_cur,
                        (unsigned long long)((uint64_t)lim.rlim_cur > size
                                                 ? (uint64_t)lim.rlim_cur - size
                                                 : 0));
    return PSW_OK;
}

static psw_status open_existing(psw_results *r, const psw_results_meta *m, psw_err *err) {
    psw_status st = PSW_OK;
    const char *path = r->path;
    hid_t fapl = H5I_INVALID_HID, fid = H5I_INVALID_HID;

    r->lock_fd = open(path, O_RDWR | O_CLOEXEC);
    if (r->lock_fd < 0)
        return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open for writing: %s", path,
                        strerror(errno));
    st = take_lock(path, r->lock_fd, err);
    if (st) return st;

    /* Inspect read-only first, so a foreign or mismatched file is never modified. SWMR read
     * also opens a file whose writer was killed (status flags still set). */
    H5TRY(fapl = make_fapl(false, true), "file access list");
    /* SWMR readers retry a bad checksum ~100 times with back-off (a writer may be mid-flush),
     * which turns a corrupted file into a minutes-long hang. We hold the writer lock, so no
     * writer is active: one attempt is right. */
    H5TRY(H5Pset_metadata_read_attempts(fapl, 1), "file access list");
    fid = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl);
    if (fid < 0) {
        /* HDF5's own words for a foreign file ("file signature not found") do not say what is
         * wrong with it; ours start with the signature (no user block). */
        static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
        unsigned char head[8];
        if (pread(r->lock_fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
            memcmp(head, sig, sizeof sig) != 0) {
            H5Eclear2(H5E_DEFAULT);
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s: not an HDF5 file (no HDF5 signature); refusing to touch it", path);
        } else {
            st = psw_h5_fail(err, PSW_ERR_FORMAT, path, "cannot open existing file");
        }
        goto fail;
    }
    st = validate_file(path, fid, m, r->row_file, err);
    if (st) goto fail;
    haddr_t eoa = 0;
    H5TRY(H5Fget_eoa(fid, &eoa), "read end of allocated space");
    struct stat sb;
    if (fstat(r->lock_fd, &sb) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    bool torn = eoa != HADDR_UNDEF && (uint64_t)eoa > (uint64_t)sb.st_size;
    if (torn) {
        st = check_torn_tail(path, fid, (uint64_t)sb.st_size, (uint64_t)eoa, err);
        if (st) goto fail;
    }
    H5TRY(H5Fclose(fid), "close after inspection");
    fid = H5I_INVALID_HID;
    psw_h5_close_id(&fapl);

    /* A writer whose flush failed (disk full) can leave a superblock that records more space
     * than reached the disk; HDF5 then refuses the file as truncated. The rows committed before
     * are intact, and the bytes that never arrived belong to the failed append, whose /runs row
     * then reads as the all-zero fill ("pending") and is ignored. Extending the file with zeros
     * to the recorded size (appending, never overwriting) makes it openable again. */
    if (torn) {
        PSW_LOG_WARN("%s: file is %lld bytes but records %llu (an earlier write failed); "
                     "extending it with zeros to resume",
                     path, (long long)sb.st_size, (unsigned long long)eoa);
        if (ftruncate(r->lock_fd, (off_t)eoa) != 0) {
            st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot extend to %llu bytes to recover: %s", path,
                          (unsigned long long)eoa, strerror(errno));
            goto fail;
        }
    }

    /* A cleanly closed file opens as is. Otherwise its status flags are set, and since we hold
     * the writer lock they were left by a dead writer: clear them (h5clear -s). */
    H5TRY(fapl = make_fapl(false, false), "file access list");
    r->file = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
    bool crashed = r->file < 0;
    if (crashed) {
        H5Eclear2(H5E_DEFAULT);
        psw_h5_close_id(&fapl);
        H5TRY(fapl = make_fapl(true, false), "file access list");
        r->file = H5Fopen(path, H5F_ACC_RDWR | H5F_ACC_SWMR_WRITE, fapl);
        if (r->file < 0) {
            st = psw_h5_fail(err, PSW_ERR_HDF5, path, "cannot reopen for writing");
            goto fail;
        }
        /* The superblock of a killed SWMR writer can record less allocated space than the file
         * uses (its end-of-allocation is not rewritten on every flush): rows past it would be
         * unreadable and, worse, new allocations would overlap them. Like h5clear --increment,
         * move the end of allocation past the end of file, by more than one append can have
         * allocated without writing. */
        H5TRY(H5Fincrement_filesize(
                  r->file, (hsize_t)append_bound(r, (uint64_t)r->n_rows, PSW_RESULTS_APPEND_MAX)),
              "move the end of allocation past the end of file");
        PSW_LOG_WARN("%s: recovered a file whose writer did not close it (killed or crashed)",
                     path);
    }
    st = open_datasets(path, r, err);
    if (!st) st = load_index(path, r, err);
    if (st) goto fail;
    r->resumed = true;
fail:
    if (fid >= 0) H5Fclose(fid);
    psw_h5_close_id(&fapl);
    return st;
}

static psw_status create_new(psw_results *r, const psw_results_meta *m, psw_err *err) {
    psw_status st = PSW_OK;
    const char *path = r->path;
    hid_t fapl = H5I_INVALID_HID;
    size_t tlen = strlen(path) + 32;
    char *tmp = psw_xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp-%ld", path, (long)getpid());
    bool tmp_exists = false;

    /* The new file plus its first row must fit; checked up front so a full disk or a small
     * file-size limit is reported as such. A missing directory fails in H5Fcreate below. */
    char *dir = psw_path_dirname(path);
    struct statvfs vfs;
    if (statvfs(*dir ? dir : ".", &vfs) == 0)
        st = check_room(path, "creating the file", 0,
                        (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize, append_bound(r, 0, 1), err);
    free(dir);
    if (st) goto fail;

    H5TRY(fapl = make_fapl(false, false), "file access list");
    r->file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl);
    if (r->file < 0) {
        st = psw_h5_fail(err, PSW_ERR_IO, path, "cannot create");
        goto fail;
    }
    tmp_exists = true;
    r->lock_fd = open(tmp, O_RDWR | O_CLOEXEC);
    if (r->lock_fd < 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open %s: %s", path, tmp, strerror(errno));
        goto fail;
    }
    st = take_lock(path, r->lock_fd, err);
    if (!st) st = create_layout(path, r, m, err);
    if (st) goto fail;
    H5TRY(H5Fflush(r->file, H5F_SCOPE_GLOBAL), "flush new file");
    if (fsync(r->lock_fd) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: fsync: %s", path, strerror(errno));
        goto fail;
    }
    /* link() never replaces: if `path` appeared meanwhile, that file is left alone. */
    if (link(tmp, path) != 0) {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot put the new file in place: %s", path,
                      errno == EEXIST ? "another process created it meanwhile" : strerror(errno));
        goto fail;
    }
    if (unlink(tmp) != 0) PSW_LOG_WARN("%s: cannot remove %s: %s", path, tmp, strerror(errno));
    tmp_exists = false;
    /* From here on readers may open the file with swmr=True; no new objects can be created. */
    H5TRY(H5Fstart_swmr_write(r->file), "start SWMR writing");
    st = open_datasets(path, r, err);
fail:
    if (tmp_exists) {
        if (r->file >= 0) H5Fclose(r->file);
        r->file = H5I_INVALID_HID;
        unlink(tmp);
    }
    psw_h5_close_id(&fapl);
    free(tmp);
    return st;
}

psw_status psw_results_open(const char *path, const psw_results_meta *meta, psw_results **out,
                            psw_err *err) {
    PSW_ASSERT(path && meta && out);
    *out = NULL;
    psw_status st = check_meta(path, meta, err);
    if (st) return st;
    /* HDF5 1.10.8 crashes in its exit-time cleanup (H5D_close) after H5Fclose failed on a write
     * error such as a full disk, turning a clear error into a segfault. Every handle is closed
     * explicitly and every row is flushed when appended, so the exit-time cleanup has nothing
     * to add: switch it off. This only works before the library initialises, so later calls
     * fail harmlessly and the result is deliberately ignored. */
    (void)H5dont_atexit();
    if (H5Eset_auto2(H5E_DEFAULT, NULL, NULL) < 0)
        return psw_h5_fail(err, PSW_ERR_HDF5, path, "switch off HDF5 error printing");
    /* A write past RLIMIT_FSIZE raises SIGXFSZ, whose default action kills the process before
     * the error can be reported or a temporary file removed. Ignored, the write fails with
     * EFBIG and is reported like a full disk. A handler someone installed is left alone. */
    struct sigaction old_xfsz;
    if (sigaction(SIGXFSZ, NULL, &old_xfsz) == 0 && old_xfsz.sa_handler == SIG_DFL) {
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        (void)sigaction(SIGXFSZ, &ign, NULL); /* best effort: it only improves the message */
    }

    psw_results *r = psw_xcalloc(1, sizeof *r);
    r->path = psw_xstrdup(path);
    r->lock_fd = -1;
    r->file = r->runs = r->probs = r->curves = r->row_mem = r->row_file = H5I_INVALID_HID;
    r->n_examples = meta->n_examples;
    r->n_choices = meta->n_choices;
    size_t n = (size_t)meta->n_examples * (size_t)meta->n_choices;
    r->nan_probs = psw_try_alloc(n * sizeof(float));
    if (!r->nan_probs) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: no memory for %zu probabilities", path, n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) r->nan_probs[i] = NAN;
    st = make_row_types(path, &r->row_mem, &r->row_file, err);
    if (st) goto fail;

    struct stat sb;
    if (stat(path, &sb) == 0) {
        st = open_existing(r, meta, err);
    } else if (errno == ENOENT) {
        st = create_new(r, meta, err);
    } else {
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (st) goto fail;
    *out = r;
    return PSW_OK;
fail:
    results_free(r);
    return st;
}

/* ---- append ---- */

/* Grows dimension 0 of ds to at least rows (an interrupted append may have grown it already). */
static psw_status grow_to(const char *path, hid_t ds, const char *name, int rank, hsize_t rows,
                          psw_err *err) {
    hsize_t dims[3];
    psw_status st = get_dims(path, ds, name, rank, dims, err);
    if (st) return st;
    if (dims[0] >= rows) return PSW_OK;
    dims[0] = rows;
    H5TRY(H5Dset_extent(ds, dims), name);
fail:
    return st;
}

/* Writes one row at index `row` of a dataset whose rows have shape dims[1..rank-1]. */
static psw_status write_row(const char *path, hid_t ds, const char *name, int rank, hsize_t row,
                            hid_t mem_type, const void *buf, psw_err *err) {
    psw_status st = PSW_OK;
    hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    hsize_t dims[3], start[3] = {row, 0, 0}, count[3];
    st = get_dims(path, ds, name, rank, dims, err);
    if (st) goto fail;
    count[0] = 1;
    for (int i = 1; i < rank; i++) count[i] = dims[i];
    H5TRY(fs = H5Dget_space(ds), name);
    H5TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL), name);
    H5TRY(ms = H5Screate_simple(rank, count, NULL), name);
    H5TRY(H5Dwrite(ds, mem_type, ms, fs, H5P_DEFAULT, buf), name);
fail:
    psw_h5_close_id(&ms);
    psw_h5_close_id(&fs);
    return st;
}

static psw_status check_record(const psw_results *r, const psw_run_record *rec, psw_err *err) {
    const char *path = r->path;
    if ((unsigned)rec->kind > PSW_ROW_UNRECOVERED)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: config %llu: row kind %d out of range",
                        path, (unsigned long long)rec->config_id, (int)rec->kind);
    if ((unsigned)rec->loss > PSW_LOSS_NONE)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: config %llu: loss kind %d out of range",
                        path, (unsigned long long)rec->config_id, (int)rec->loss);
    if (rec->status != PSW_RUN_OK && rec->status != PSW_RUN_DIVERGED &&
        rec->status != PSW_RUN_FAILED)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: config %llu: status %d is not ok, diverged or failed", path,
                        (unsigned long long)rec->config_id, (int)rec->status);
    if (!memchr(rec->message, '\0', sizeof rec->message) || !memchr(rec->host, '\0',
                                                                     sizeof rec->host))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: config %llu: message or host is not NUL-terminated", path,
                        (unsigned long long)rec->config_id);
    if (rec->n_curve < 0 || rec->n_curve > PSW_CURVE_POINTS || (rec->n_curve > 0 && !rec->loss_curve))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: config %llu: loss curve has %d points, need 0..%d with data", path,
                        (unsigned long long)rec->config_id, (int)rec->n_curve, PSW_CURVE_POINTS);
    if (rec->probs && (rec->n_examples != r->n_examples || rec->n_choices != r->n_choices))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: config %llu: probs are %d x %d, the file holds %d x %d", path,
                        (unsigned long long)rec->config_id, (int)rec->n_examples,
                        (int)rec->n_choices, (int)r->n_examples, (int)r->n_choices);
    return PSW_OK;
}

/* Refuses an append that might not fit, before anything is written: an HDF5 flush that fails
 * half-way leaves the file needing recovery (see open_existing), and HDF5 1.10 handles objects
 * whose flush failed poorly. The bound is generous: new chunks for every dataset plus a margin. */
static psw_status check_space(const psw_results *r, size_t k, psw_err *err) {
    const char *path = r->path;
    struct stat sb;
    struct statvfs vfs;
    if (fstat(r->lock_fd, &sb) != 0 || fstatvfs(r->lock_fd, &vfs) != 0)
        return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot check free space: %s", path,
                        strerror(errno));
    char what[48];
    if (k == 1)
        snprintf(what, sizeof what, "appending a row");
    else
        snprintf(what, sizeof what, "appending %zu rows", k);
    return check_room(path, what, (uint64_t)sb.st_size,
                      (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize,
                      append_bound(r, (uint64_t)r->n_rows, k), err);
}

static void fill_row(h5_row *row, const psw_run_record *rec) {
    memset(row, 0, sizeof *row);
    const psw_eval_metrics *m = &rec->metrics;
    row->config_id = rec->config_id;
    row->kind = (int32_t)rec->kind;
    row->loss = (int32_t)rec->loss;
    row->status = (int32_t)rec->status;
    row->rank = rec->rank;
    row->retention = rec->retention;
    row->data_size = rec->data_size;
    row->seed = rec->seed;
    memcpy(row->message, rec->message, sizeof row->message);
    row->n_examples = m->n_examples;
    row->n_labeled = m->n_labeled;
    row->accuracy = m->accuracy;
    row->entropy = m->entropy;
    row->entropy_norm = m->entropy_norm;
    row->nll = m->nll;
    row->brier = m->brier;
    row->ece = m->ece;
    row->mce = m->mce;
    row->choice_mass = m->choice_mass;
    row->rel_n_bins = m->reliability.n_bins;
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        row->rel_count[b] = m->reliability.count[b];
        row->rel_mean_conf[b] = m->reliability.mean_conf[b];
        row->rel_accuracy[b] = m->reliability.accuracy[b];
    }
    row->mlp_neurons_kept = rec->mlp_neurons_kept;
    row->mlp_neurons_total = rec->mlp_neurons_total;
    row->params_total = rec->params_total;
    row->params_mlp = rec->params_mlp;
    row->params_nonembed = rec->params_nonembed;
    row->retention_mlp = rec->retention_mlp;
    row->retention_nonembed = rec->retention_nonembed;
    row->retention_total = rec->retention_total;
    row->train_steps = rec->train_steps;
    row->final_loss = rec->final_loss;
    row->seconds_prune = rec->seconds_prune;
    row->seconds_train = rec->seconds_train;
    row->seconds_eval = rec->seconds_eval;
    memcpy(row->host, rec->host, sizeof row->host);
    row->finish_time = rec->finish_time;
    row->n_curve = rec->n_curve;
}

/* H5Fflush hands the bytes to the kernel; fsync makes them survive a node crash too, and
 * orders the two steps of an append on disk. */
static psw_status flush_durable(psw_results *r, const char *what, hsize_t row, psw_err *err) {
    const char *path = r->path;
    psw_status st = PSW_OK;
    char label[64];
    snprintf(label, sizeof label, "flush %s", what);
    H5TRY(H5Fflush(r->file, H5F_SCOPE_GLOBAL), label);
    if (fsync(r->lock_fd) != 0)
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: fsync after %s of row %llu: %s", path, what,
                      (unsigned long long)row, strerror(errno));
fail:
    return st;
}

psw_status psw_results_append_rows(psw_results *r, const psw_run_record *recs, size_t k,
                                   psw_err *err) {
    PSW_ASSERT(r && recs && k >= 1 && k <= PSW_RESULTS_APPEND_MAX);
    const char *path = r->path;
    if (r->broken)
        return PSW_FAIL(err, PSW_ERR_IO,
                        "%s: an earlier write failed; close the file and resume to continue", path);
    psw_status st = PSW_OK;
    for (size_t j = 0; j < k; j++) {
        st = check_record(r, &recs[j], err);
        if (st) return st;
    }
    st = check_space(r, k, err);
    if (st) return st;

    hsize_t n = (hsize_t)r->n_rows;
    size_t failed_at = 0;
    /* Two durable steps. H5Fflush writes dirty metadata in cache order, not call order, so one
     * flush could make a /runs row visible before the /probs chunk index reaches the disk.
     * Step 1 makes the probabilities and curves durable; only then does step 2 add the /runs
     * rows, the commit records. Each dataset grows once per call. */
    st = grow_to(path, r->probs, "/probs", 3, n + k, err);
    if (!st) st = grow_to(path, r->curves, "/curves", 2, n + k, err);
    for (size_t j = 0; j < k && !st; j++) {
        const psw_run_record *rec = &recs[j];
        float curve[PSW_CURVE_POINTS];
        for (int i = 0; i < PSW_CURVE_POINTS; i++)
            curve[i] = i < rec->n_curve ? rec->loss_curve[i] : NAN;
        failed_at = j;
        st = write_row(path, r->probs, "/probs", 3, n + j, H5T_NATIVE_FLOAT,
                       rec->probs ? rec->probs : r->nan_probs, err);
        if (!st) st = write_row(path, r->curves, "/curves", 2, n + j, H5T_NATIVE_FLOAT, curve, err);
    }
    if (!st) st = flush_durable(r, "probabilities and curve", n + k - 1, err);
    if (!st) st = grow_to(path, r->runs, "/runs", 1, n + k, err);
    for (size_t j = 0; j < k && !st; j++) {
        h5_row row;
        fill_row(&row, &recs[j]);
        failed_at = j;
        st = write_row(path, r->runs, "/runs", 1, n + j, r->row_mem, &row, err);
    }
    if (!st) st = flush_durable(r, "row", n + k - 1, err);
    if (st) goto fail;
    r->n_rows += (int64_t)k;
    for (size_t j = 0; j < k; j++) index_put(r, recs[j].config_id, recs[j].status);
    return PSW_OK;
fail:
    r->broken = true;
    if (k == 1)
        psw_err_prefix(err, "config %llu: ", (unsigned long long)recs[0].config_id);
    else
        psw_err_prefix(err, "%zu rows (config %llu): ", k,
                       (unsigned long long)recs[failed_at].config_id);
    return st;
}

psw_status psw_results_append(psw_results *r, const psw_run_record *rec, psw_err *err) {
    return psw_results_append_rows(r, rec, 1, err);
}

psw_status psw_results_close(psw_results *r, psw_err *err) {
    if (!r) return PSW_OK;
    psw_status st = PSW_OK;
    const char *path = r->path;
    psw_h5_close_id(&r->curves);
    psw_h5_close_id(&r->probs);
    psw_h5_close_id(&r->runs);
    if (r->file >= 0) {
        herr_t hs = H5Fclose(r->file);
        r->file = H5I_INVALID_HID;
        if (hs < 0) st = psw_h5_fail(err, PSW_ERR_HDF5, path, "close");
    }
    if (r->lock_fd >= 0) {
        if (!st && fsync(r->lock_fd) != 0)
            st = PSW_FAIL(err, PSW_ERR_IO, "%s: fsync at close: %s", path, strerror(errno));
        close(r->lock_fd);
        r->lock_fd = -1;
    }
    results_free(r);
    return st;
}
