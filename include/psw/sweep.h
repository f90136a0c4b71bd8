/* sweep.h: the distributed sweep behind `prunesweep run SPEC.json`.
 *
 * Every rank of the MPI job calls psw_sweep_run. Rank 0 coordinates: it reads the spec and
 * broadcasts its text (so every rank parses the same bytes), opens the results file (the only
 * writer), and farms tasks dynamically, most expensive first, to ranks 1..N-1, which each open
 * one psw_run_context (model, tokenizer, tokenized data, teacher cache) and reuse it for every
 * task. The workers of a node share one read-only copy of the teacher's weights, loaded once
 * into an MPI shared-memory window by the node's first worker (opt->no_shared_weights: one copy
 * each; bench/README.md "Shared teacher weights" has the PSS figures). Shared work is farmed too and done once: the teacher's evaluation, the teacher-logits
 * cache (kl/mix configurations are not handed out before it is built) and the unrecovered
 * evaluation per retention. Each result row is appended (flushed, fsync'ed) before the worker
 * that produced it gets its next task; results that arrive while others wait to be written are
 * appended together, with one flush + fsync for the batch (group commit). With one process (no mpirun, or -np 1) the same call
 * runs every task itself, in the same order.
 *
 * Resume: configurations whose row in an existing results file is ok or diverged are skipped;
 * a file made from a different spec, model or data is refused (fresh = true moves it aside to
 * OUTPUT.bak-YYYYmmdd-HHMMSS first).
 *
 * Only the cache (opt->only_cache, `run --only-cache`): rank 0 loads the model and data, builds
 * the teacher cache if no valid one exists (and if any kl/mix configuration reads it), and the
 * call returns PSW_OK on every rank; no results file is read or created. A stop signal during
 * the build gives it grace_seconds, then the process exits with 3 (a killed build leaves no
 * partial cache: psw_teacher_cache_build writes a temp file and renames it).
 *
 * Signals: SIGTERM, SIGINT and SIGUSR1, on any rank, stop the sweep gracefully: no new work is
 * handed out, in-flight tasks get grace_seconds to finish and be written, then the file is
 * closed and the call returns PSW_ERR_INTERRUPTED on every rank (exit status 3). When the grace
 * runs out the file is closed and the job ends with MPI_Abort(3) (serial: _exit(3)); the rows
 * written before survive either way. Under mpirun, send SIGUSR1 to mpirun (it forwards it) or any
 * signal to a rank's process; mpirun turns its own SIGTERM/SIGINT into a kill after ~2 s.
 *
 * MPI errors: MPI_ERRORS_RETURN is set on MPI_COMM_WORLD and every call is checked; on a failure
 * the coordinator closes the results file, the error is logged and the job ends with MPI_Abort.
 * PSW_ASSERT failures also end the whole job (psw_set_abort_hook).
 *
 * This header exposes no MPI types; only src/sweep includes <mpi.h>. MPI_Init and MPI_Finalize
 * happen inside psw_sweep_run, so it can be called once per process. */
#ifndef PSW_SWEEP_H
#define PSW_SWEEP_H

#include "psw/common.h"

#define PSW_SWEEP_DEFAULT_GRACE 60.0

typedef struct psw_sweep_options {
    const char *spec_path; /* borrowed; read by rank 0 only */
    bool fresh;            /* --new: move an existing results file aside and start a new one */
    double grace_seconds;  /* >= 0: how long in-flight tasks may finish after a stop signal */
    int threads_per_rank;  /* OpenBLAS threads; 0 = the spec's threads_per_rank, and when that
                            * is 0 too: cores of the node / workers on the node (>= 1), or the
                            * cores the launcher bound the rank to when that is fewer (mpirun
                            * binds each rank to one core with -np <= 2: use --bind-to none) */
    const char *cache_dir; /* teacher cache directory; NULL = "<output>.cache" */
    bool only_cache;       /* --only-cache: build the teacher cache (and the embedded default)
                            * on rank 0, then stop; no results file is opened or created.
                            * threads_per_rank 0 then means every core rank 0 may use */
    /* Called on rank 0 with a failing verdict before the other ranks are released, so the
     * message is out before any rank exits non-zero (mpirun kills the job at the first non-zero
     * exit, which could otherwise cut rank 0 off before it prints). NULL: the caller prints. */
    void (*report_failure)(psw_status st, const char *msg);
    /* --no-shared-weights: every worker loads its own copy of the teacher. By default the
     * workers of a node share one read-only copy in an MPI shared-memory window, loaded once by
     * the node's first worker (falling back to private copies, with a warning, when the
     * window cannot be had). */
    bool no_shared_weights;
    /* --simulate SCALE (> 0; 0 = a real sweep): measures the coordinator, not the models.
     * Workers load no model: each task sleeps its cost-model time (psw_run_task_cost at the
     * calibrated one-thread rate PSW_PLAN_CAL_TRAIN_1T) times SCALE and returns a row of
     * deterministic synthetic metrics and probabilities (status ok, message "simulated",
     * probabilities of the test set's real size). Rank 0 still opens the run context (the
     * results file needs the test ids, gold and fingerprints). The file gets the root attribute
     * simulated = 1, and a resume refuses to mix simulated and real rows either way. Needs
     * mpirun with >= 2 ranks (PSW_ERR_INVALID_ARG otherwise). */
    double simulate;
} psw_sweep_options;

/* What a rank learned about the sweep; filled also on failure (as far as it got). */
typedef struct psw_sweep_outcome {
    int rank, size;    /* this process in MPI_COMM_WORLD */
    bool report;       /* true on rank 0 when err is still to be printed: report_failure was
                        * NULL (other ranks stay quiet) */
    bool spec_error;   /* the failure is a bad or unreadable spec (exit status 2 for a bad one) */
    int threads;       /* OpenBLAS threads this rank used (0 on a coordinator that runs nothing) */
    size_t n_rows;     /* rows the whole sweep produces: teacher + unrecovered + grid */
    size_t n_skipped;  /* finished in an earlier run */
    size_t n_finished; /* rows written by this run with status ok or diverged */
    size_t n_failed;   /* rows written by this run with status failed */
    size_t n_pending;  /* rows still missing when the call returned */
} psw_sweep_outcome;

/* Runs this process's part of the sweep (see the top of this file). out is caller-owned.
 * Returns PSW_OK when every row is present (failed rows count as present; they rerun on resume),
 * PSW_ERR_INTERRUPTED when stopped by a signal before that (resumable).
 * Errors, the same status on every rank, with the message on rank 0: the spec's
 * (PSW_ERR_IO unreadable, PSW_ERR_FORMAT, PSW_ERR_INVALID_ARG; out->spec_error set), the run
 * context's (model, tokenizer, data files), PSW_ERR_IO when the output's directory is missing,
 * not a directory or not writable (checked by rank 0 before any rank loads the model; it is never
 * created), the results file's (PSW_ERR_INVALID_ARG for a file
 * from another spec, model or data; PSW_ERR_IO, PSW_ERR_FORMAT, PSW_ERR_HDF5), PSW_ERR_IO (--new
 * cannot move the old file), PSW_ERR_MPI (no worker could open its context). MPI failures do not
 * return: they abort the job. */
psw_status psw_sweep_run(const psw_sweep_options *opt, psw_sweep_outcome *out, psw_err *err);

#endif
