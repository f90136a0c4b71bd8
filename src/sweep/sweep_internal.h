/* sweep_internal.h: what the files of src/sweep share: the MPI message protocol, the MPI error
 * policy, the polling wait, the task scheduler and the coordinator / worker entry points.
 * Private to src/sweep (the only module that includes <mpi.h>).
 *
 * Protocol (all messages are fixed-size POD structs sent as MPI_BYTE, each starting with
 * proto_version; every rank runs the same binary, so layouts agree):
 *   worker -> 0   READY  (psw_msg_ready)   once, after opening its run context (ok or not)
 *   0 -> worker   WORK   (psw_msg_work)    a task; or
 *   0 -> worker   STOP   (psw_msg_stop)    no more work: leave the loop
 *   worker -> 0   RESULT (psw_msg_result)  after each WORK; when n_probs > 0 it comes with
 *                                          n_probs floats (n_examples x n_choices) on the data
 *                                          communicator with tag PSW_TAG_PROBS, sent just
 *                                          before it (rank 0 receives them after the RESULT)
 * Every READY and RESULT gets exactly one WORK or STOP back. Control messages travel on
 * psw_sweep_ctrl, probabilities on psw_sweep_data (a duplicate), so a receive with
 * MPI_ANY_TAG on the control communicator never takes a probability message. At the end every
 * rank joins one MPI_Ibcast of the final status from rank 0, so all ranks exit alike. */
#ifndef PSW_SWEEP_INTERNAL_H
#define PSW_SWEEP_INTERNAL_H

#include <mpi.h>

#include "psw/results.h"
#include "psw/run.h"
#include "psw/sweep.h"

#define PSW_PROTO_VERSION 2u
/* Sleep between MPI_Test calls while waiting: Open MPI's blocking calls busy-poll a core. */
#define PSW_SWEEP_POLL_NS 2000000L
/* Group commit (coordinator.c): the oldest row of a batch waits at most this long (seconds)
 * for more results to join it while messages keep arriving. */
#define PSW_SWEEP_BATCH_AGE 0.05

enum { PSW_TAG_READY = 1, PSW_TAG_WORK, PSW_TAG_RESULT, PSW_TAG_STOP, PSW_TAG_PROBS };

typedef struct psw_msg_ready {
    uint32_t proto_version;
    int32_t status;  /* psw_status of psw_run_context_open */
    int32_t threads; /* OpenBLAS threads the worker uses */
    int32_t pad;
    char message[PSW_ERR_MSG_SIZE];
} psw_msg_ready;

typedef struct psw_msg_work {
    uint32_t proto_version;
    uint32_t task_index; /* index into the coordinator's task table, echoed in the result */
    psw_task task;
    /* --simulate only (simulate.c); zero otherwise: */
    double sim_seconds;   /* how long the simulated task sleeps */
    int32_t sim_examples; /* shape of its synthetic probabilities: the results file's */
    int32_t sim_choices;
} psw_msg_work;

typedef struct psw_msg_stop {
    uint32_t proto_version;
    int32_t pad;
} psw_msg_stop;

typedef struct psw_msg_result {
    uint32_t proto_version;
    uint32_t task_index;
    int32_t task_kind;      /* psw_task_kind */
    int32_t has_row;        /* rec holds a row (every kind but TEACHER_CACHE) */
    int32_t status;         /* psw_status of psw_run_task (TEACHER_CACHE: did the build work) */
    int32_t stop_requested; /* the worker got SIGTERM / SIGINT / SIGUSR1 */
    int32_t n_probs;        /* floats in the PSW_TAG_PROBS message that follows; 0 = none */
    int32_t pad;
    double seconds;         /* wall time of the task on the worker */
    char message[PSW_ERR_MSG_SIZE]; /* TEACHER_CACHE failure */
    psw_run_record rec;     /* rec.probs and rec.loss_curve are meaningless on the receiver */
    float curve[PSW_CURVE_POINTS];
} psw_msg_result;

/* Changing a message changes the protocol: bump PSW_PROTO_VERSION and these sizes together. */
_Static_assert(sizeof(psw_msg_ready) == 528, "psw_msg_ready layout changed");
_Static_assert(sizeof(psw_msg_work) == 80, "psw_msg_work layout changed");
_Static_assert(sizeof(psw_msg_stop) == 8, "psw_msg_stop layout changed");
_Static_assert(sizeof(psw_msg_result) == 2296, "psw_msg_result layout changed");

/* ---- MPI error policy (sweep.c) ---- */

extern MPI_Comm psw_sweep_ctrl, psw_sweep_data;

/* Logs "MPI error in WHAT: <MPI_Error_string>", closes the registered results file and ends
 * the job with MPI_Abort. */
_Noreturn void psw_sweep_mpi_fatal(int rc, const char *what);
#define PSW_MPI_CHECK(call, what)                                                                  \
    do {                                                                                           \
        int psw_mpi_rc_ = (call);                                                                  \
        if (psw_mpi_rc_ != MPI_SUCCESS) psw_sweep_mpi_fatal(psw_mpi_rc_, (what));                  \
    } while (0)
/* The results file to close before an abort (rank 0; NULL when none is open). */
void psw_sweep_register_results(psw_results *r);
/* Ends the job after closing the registered results file: MPI_Abort(code), or _exit(code)
 * when MPI is not initialised. */
_Noreturn void psw_sweep_abort(int code);

/* Waits for req without spinning: MPI_Test, then a 2 ms sleep, until it completes. */
void psw_sweep_wait(MPI_Request *req, MPI_Status *status, const char *what);
/* Sleeps PSW_SWEEP_POLL_NS. */
void psw_sweep_nap(void);

/* Stop requests from signal handlers (sweep.c). */
bool psw_sweep_stop_requested(void);
/* Serial mode: after a stop signal, the running task gets grace_seconds, then the process
 * exits with status 3. Negative disables (MPI ranks, where the coordinator keeps the time). */
void psw_sweep_set_serial_grace(double grace_seconds);
void psw_sweep_cancel_serial_grace(void);

/* ---- scheduler (schedule.c, MPI-free) ---- */

typedef enum psw_sched_state {
    PSW_SCHED_PENDING = 0,
    PSW_SCHED_RUNNING,
    PSW_SCHED_DONE
} psw_sched_state;

typedef enum psw_cache_state {
    PSW_CACHE_NOT_NEEDED = 0, /* no pending kl/mix task */
    PSW_CACHE_MISSING,        /* a TEACHER_CACHE task is pending or running */
    PSW_CACHE_READY,
    PSW_CACHE_FAILED
} psw_cache_state;

typedef struct psw_sched_task {
    psw_task task;
    uint64_t row_id;  /* config id of its row (0 for TEACHER_CACHE) */
    double cost;      /* psw_run_task_cost */
    bool needs_cache; /* kl / mix recovery */
    psw_sched_state state;
} psw_sched_task;

typedef struct psw_sched {
    psw_sched_task *tasks; /* (n_tasks) owned; the cache task first, then by cost, descending */
    size_t n_tasks;
    size_t n_rows;         /* rows of the whole sweep */
    size_t n_skipped;      /* rows finished in an earlier run */
    size_t n_finished, n_failed; /* rows written by this run: ok or diverged / failed */
    psw_cache_state cache;
    size_t n_row_tasks, n_rows_done; /* tasks that write a row (all but the cache task) */
    size_t next_pending; /* no task before this index is pending (tasks never return to it) */
    double cost_total, cost_done; /* over this run's row tasks */
    double start;                 /* psw_now() at build */
} psw_sched;

/* The inputs of the cost model (from rank 0's run context). */
typedef struct psw_sched_costs {
    psw_model_config cfg;
    size_t n_train, n_test;
    int mean_prompt_len;
} psw_sched_costs;

/* Lists every row of the sweep (teacher, unrecovered per retention, grid), skips those the
 * results file has as finished, and adds the cache task when a pending kl/mix task needs it
 * and cache_valid is false. s is caller-owned; psw_sched_free releases its tasks. */
void psw_sched_build(psw_sched *s, const psw_spec *spec, const psw_results *r,
                     const psw_sched_costs *costs, bool cache_valid);
void psw_sched_free(psw_sched *s);

typedef enum psw_sched_pick {
    PSW_PICK_TASK = 0, /* *index is the task to run */
    PSW_PICK_WAIT,     /* pending tasks wait for the cache being built */
    PSW_PICK_NONE      /* nothing left to hand out */
} psw_sched_pick;
/* The next task: the pending one earliest in the table whose cache dependency is met; it is
 * marked running. */
psw_sched_pick psw_sched_next(psw_sched *s, size_t *index);
/* Marks task i done; row_status is the status of the row written (ignored for the cache task). */
void psw_sched_done(psw_sched *s, size_t i, psw_run_status row_status);
/* Rows not yet written (pending or running). */
size_t psw_sched_rows_left(const psw_sched *s);
/* Seconds left at the cost-weighted rate so far; negative when unknown. */
double psw_sched_eta(const psw_sched *s);

/* ---- roles ---- */

/* What every role gets: the parsed spec and the options. */
typedef struct psw_sweep_env {
    const psw_spec *spec;
    const psw_sweep_options *opt;
    const char *output;    /* results path */
    const char *cache_dir;
    int rank, size;
    int threads;           /* OpenBLAS threads for a rank that runs tasks */
    /* A worker's teacher parameters in the node-shared window (shared_weights.c), borrowed
     * read-only; NULL: the worker loads its own copy. */
    const float *teacher_weights;
    size_t teacher_floats;
} psw_sweep_env;

/* ---- node-shared teacher weights (shared_weights.c) ---- */

typedef struct psw_sweep_shared {
    MPI_Comm node;   /* the workers of this node; MPI_COMM_NULL when not sharing */
    MPI_Win win;     /* the window; MPI_WIN_NULL when not sharing */
    float *weights;  /* the teacher arena inside it (64-byte aligned), or NULL */
    size_t n_weights;
    void *ro;        /* the whole pages of the arena made read-only (mprotect) */
    size_t ro_len;
} psw_sweep_shared;

/* Collective over MPI_COMM_WORLD (every rank calls it with the same `enabled`): when enabled,
 * the workers of each node with two or more workers get one MPI_Win_allocate_shared window of
 * the teacher's parameters, the node's first worker loads the checkpoint into it while the
 * others wait without spinning, and every worker's pages are then made read-only.
 * sh->weights NULL means "load privately": disabled, rank 0, a lone worker, a checkpoint that
 * does not open (its own open reports that), or a failed window or load (one warning from the
 * node's first worker). MPI errors end the job (PSW_MPI_CHECK). */
void psw_sweep_shared_open(const psw_sweep_env *env, bool enabled, psw_sweep_shared *sh);
/* Collective over the node's workers (call it on every rank, after the work is done): frees the
 * window and the communicator. Safe on a struct that shares nothing. */
void psw_sweep_shared_close(psw_sweep_shared *sh);

/* Rank 0. Returns the sweep's final status (broadcast by the caller). size == 1: runs every
 * task itself. */
psw_status psw_sweep_coordinate(const psw_sweep_env *env, psw_sweep_outcome *out, psw_err *err);
/* Ranks 1..N-1: serves tasks until STOP. */
void psw_sweep_work(const psw_sweep_env *env);
/* Rank 0 with opt->only_cache (cache_only.c): builds the teacher cache unless a valid one is
 * there or no kl/mix configuration reads it; opens no results file. Other ranks do nothing.
 * Errors: psw_run_context_open's, the build's, PSW_ERR_INTERRUPTED (a stop signal before the
 * build started). */
psw_status psw_sweep_cache_only(const psw_sweep_env *env, psw_err *err);

/* ---- --simulate (simulate.c) ---- */

/* Seconds a task of cost-model cost `cost` sleeps under --simulate `scale`. */
double psw_sweep_sim_seconds(double cost, double scale);
/* Worker side of --simulate: sleeps w->sim_seconds (a signal does not shorten it, as it does
 * not interrupt a real task), then fills res (header, row or cache outcome) and probs
 * ((w->sim_examples, w->sim_choices), caller-owned, or NULL for the cache task) with values that
 * depend only on the task. res->stop_requested is left to the caller. */
void psw_sweep_simulate(const psw_msg_work *w, int rank, psw_msg_result *res, float *probs);

#endif
