/* results.h: the sweep's HDF5 results file (layout: docs/results.md).
 *
 * One writer (rank 0) creates the file, or reopens an existing one to resume, and appends one row
 * per finished configuration to /runs (compound), /probs (rows, examples, choices) and /curves
 * (rows, PSW_CURVE_POINTS). Each append is flushed and fsync'ed before it returns, so a row that
 * psw_results_append reported as written survives a SIGKILL of the writer. The file is in SWMR
 * mode while open: readers (h5py) must open it with swmr=True, also after a crash.
 *
 * What it does not do: parallel HDF5 (only one process writes), deleting or rewriting rows
 * (append-only: nothing written is ever overwritten), deciding what to run next (the sweep asks
 * psw_results_lookup / psw_results_finished), or replacing a file for `--new` (the caller removes
 * or renames the old file first).
 *
 * Resume rule: a configuration is finished when its latest row has status ok or diverged; these
 * are deterministic outcomes. A failed row (missing file, out of memory, ...) is environmental, so
 * it is kept as history and the configuration is run again on resume; its new row is appended
 * (readers take the last row of a config id as its outcome).
 *
 * This header exposes no HDF5 types; only src/results includes <hdf5.h>. A psw_results handle is
 * not thread-safe. HDF5's automatic error printing is switched off by psw_results_open, and so
 * is SIGXFSZ's default action (when no handler is installed): a write past RLIMIT_FSIZE then
 * fails with EFBIG and is reported, instead of killing the process. */
#ifndef PSW_RESULTS_H
#define PSW_RESULTS_H

#include "psw/common.h"
#include "psw/record.h"

#define PSW_RESULTS_FORMAT "prunesweep-results/1"

typedef struct psw_results psw_results; /* opaque */

/* What the file is about. Every pointer is borrowed for the duration of psw_results_open. */
typedef struct psw_results_meta {
    const char *spec_json;         /* normalised spec text; must equal the file's on resume */
    const char *program_version;   /* e.g. PSW_VERSION; informational */
    const char *model_fingerprint; /* must equal the file's on resume */
    const char *data_fingerprint;  /* must equal the file's on resume */
    int32_t n_examples;            /* test examples, >= 1: rows of /test, axis 1 of /probs */
    int32_t n_choices;             /* 1..PSW_MAX_CHOICES: axis 2 of /probs */
    const char *const *example_ids; /* (n_examples) test example ids, UTF-8 */
    const int32_t *gold;           /* (n_examples) gold choice index, -1 when unlabeled */
    int64_t expected_rows;         /* grid size incl. reference rows; informational */
    bool simulated;                /* rows from `run --simulate` (synthetic): root attribute
                                    * simulated = 1; must equal the file's on resume */
} psw_results_meta;

/* Opens `path` for writing: creates it when it does not exist, otherwise validates that it is a
 * prunesweep results file made from the same spec, model and data, and resumes it (a file left by a
 * killed writer is recovered like `h5clear -s`). A new file is built under a temporary name and
 * linked into place only when complete, so a failed creation leaves nothing at `path`.
 * On success *out is owned by the caller (psw_results_close).
 * Errors: PSW_ERR_INVALID_ARG (bad meta; the file was made from a different spec, model or data, or
 * is simulated (see meta.simulated) when this run is not, or the other way round),
 * PSW_ERR_IO (directory missing or not writable, file locked by another writer, disk full: a
 * new file and its first row must fit in the free space and under RLIMIT_FSIZE),
 * PSW_ERR_FORMAT (not HDF5, not a prunesweep file, truncated or corrupted),
 * PSW_ERR_HDF5 (other library failures), PSW_ERR_NOMEM. Nothing in an existing file is changed
 * when open fails. */
psw_status psw_results_open(const char *path, const psw_results_meta *meta, psw_results **out,
                            psw_err *err);

/* True when psw_results_open found an existing file (resume) rather than creating one. */
bool psw_results_resumed(const psw_results *r);

/* Rows in /runs, including failed ones and rows from earlier runs of the sweep. */
int64_t psw_results_row_count(const psw_results *r);

/* Appends one row (finish order): rec's scalars to /runs, rec->probs to /probs (NaN when NULL),
 * rec->loss_curve to /curves (NaN-padded to PSW_CURVE_POINTS), then flushes and fsyncs.
 * rec is borrowed. rec->probs, when not NULL, must be (meta.n_examples, meta.n_choices).
 * Errors: PSW_ERR_INVALID_ARG (enum out of range, n_curve > PSW_CURVE_POINTS, probs shape differs
 * from the file's, message or host not NUL-terminated), PSW_ERR_IO (disk full, write error),
 * PSW_ERR_HDF5. Before writing, the free space and RLIMIT_FSIZE are checked against a generous
 * bound (~1 MiB + one chunk per dataset): a shortfall is PSW_ERR_IO "disk full: ..." with nothing
 * written and the handle still usable. After a failure while writing, the handle refuses further
 * appends (the rows written before stay intact); close it and resume. */
psw_status psw_results_append(psw_results *r, const psw_run_record *rec, psw_err *err);

/* Most rows one psw_results_append_rows call takes. */
#define PSW_RESULTS_APPEND_MAX 64

/* Appends recs[0..k) (1 <= k <= PSW_RESULTS_APPEND_MAX) as psw_results_append does one, with
 * one flush + fsync pair for the whole batch instead of one per row: when it returns PSW_OK
 * every row is durable; when a kill interrupts it, none of its rows counts (they read as
 * pending or are past len(/runs)), and every earlier row is intact. The free-space check covers
 * all k rows ("appending K rows needs up to ..."). Errors as psw_results_append's; a failing
 * record is refused before anything is written. */
psw_status psw_results_append_rows(psw_results *r, const psw_run_record *recs, size_t k,
                                   psw_err *err);

/* Status of the latest row for config_id, or PSW_RUN_PENDING when it has no row. Cannot fail. */
psw_run_status psw_results_lookup(const psw_results *r, uint64_t config_id);

/* Config ids whose latest row is ok or diverged (the ones a resume skips), in first-finish order.
 * On success *ids is malloc'd and owned by the caller (free(); NULL when *n == 0). */
psw_status psw_results_finished(const psw_results *r, uint64_t **ids, size_t *n, psw_err *err);

/* Flushes and closes everything and frees r (NULL is fine). Returns the first failure, but always
 * releases r. Errors: PSW_ERR_IO, PSW_ERR_HDF5. */
psw_status psw_results_close(psw_results *r, psw_err *err);

/* ---- reading (src/results/results_read.c) ---- */

/* What a results file holds, read once: the root attributes and every committed /runs row. */
typedef struct psw_results_snapshot {
    char *spec_json;         /* owned: the normalised spec the file was made from */
    char *program_version;   /* owned; NULL when absent */
    char *model_fingerprint; /* owned; NULL when absent */
    char *data_fingerprint;  /* owned; NULL when absent */
    int64_t expected_rows;   /* informational; 0 when absent */
    bool simulated;          /* root attribute simulated = 1: synthetic rows (`run --simulate`) */
    int32_t n_examples, n_choices; /* axes 1 and 2 of /probs */
    psw_run_record *rows;    /* (n_rows) owned, in file (finish) order; pending rows dropped;
                              * probs and loss_curve are NULL, n_examples/n_choices as above */
    size_t n_rows;
} psw_results_snapshot;

/* Reads a results file without modifying it, opened in SWMR-read mode (works while a sweep is
 * writing it and after its writer was killed). On success out is owned by the caller
 * (psw_results_snapshot_free); on failure it holds nothing.
 * Errors: PSW_ERR_IO (missing or unreadable), PSW_ERR_FORMAT (not HDF5, not a prunesweep results
 * file, damaged), PSW_ERR_HDF5, PSW_ERR_NOMEM. */
psw_status psw_results_read(const char *path, psw_results_snapshot *out, psw_err *err);
/* Frees what the snapshot owns and zeroes it; NULL and a zeroed snapshot are fine. */
void psw_results_snapshot_free(psw_results_snapshot *s);

#endif
