/* coordinator.c: rank 0 of the sweep. Opens a run context to learn what the results file
 * needs (fingerprints, test ids and gold, the cost model's sizes), opens the results file,
 * builds the task table, then either runs every task itself (one process) or farms the tasks
 * to the workers, writing each row before the worker that produced it gets its next task.
 *
 * Group commit: results that arrive while others wait to be written are appended together
 * (psw_results_append_rows: one flush + fsync pair per batch, not per row), when no further
 * message is waiting, the batch is full or its oldest row waited PSW_SWEEP_BATCH_AGE. Their
 * workers get their next task right after the batch is durable, so the guarantee above holds
 * per row; only the fsyncs are shared (bench/README.md, "Coordinator scale"). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "psw/teacher_cache.h"
#include "sweep_internal.h"

typedef enum worker_state {
    W_LOADING = 0, /* has not sent READY yet */
    W_BUSY,        /* running task `task` */
    W_WAITING,     /* idle, waiting for the cache to be built */
    W_STAGED,      /* its result waits in the batch; its next task follows the commit */
    W_GONE         /* got STOP */
} worker_state;

typedef struct worker {
    worker_state state;
    size_t task;
} worker;

typedef struct coord {
    const psw_sweep_env *env;
    psw_run_context ctx;
    bool have_ctx;
    psw_results *results;
    psw_sched sched;
    int32_t n_examples, n_choices;
    char host[PSW_HOST_SIZE];
    double work_seconds; /* task wall time summed over workers */
    double append_seconds;          /* wall time in psw_results_append(_rows) */
    double first_row, last_row;     /* psw_now() of the first and last row written */
    size_t n_written, n_appends;    /* rows written by this run, in that many appends */
    double idle_seconds;            /* MPI mode: waiting for a READY or RESULT */
    double probs_seconds;           /* MPI mode: receiving probabilities */
    /* MPI mode */
    worker *workers; /* (size) index = rank; [0] unused */
    int n_active;    /* workers that have not been sent STOP */
    /* The batch: rows received, not yet written (group commit). */
    psw_run_record *batch;  /* (PSW_RESULTS_APPEND_MAX) probs / loss_curve point below */
    int *batch_rank;        /* (PSW_RESULTS_APPEND_MAX) worker of each row */
    double *batch_seconds;  /* (PSW_RESULTS_APPEND_MAX) task wall time on the worker */
    uint32_t *batch_task;   /* (PSW_RESULTS_APPEND_MAX) task index */
    float *batch_probs;     /* (PSW_RESULTS_APPEND_MAX, n_examples, n_choices) */
    float *batch_curves;    /* (PSW_RESULTS_APPEND_MAX, PSW_CURVE_POINTS) */
    size_t n_batch;
    double batch_start;     /* psw_now() when its first row arrived */
    bool stopping;   /* no more work is handed out */
    double deadline; /* when stopping: in-flight tasks must be back by then */
    psw_status failure; /* a results write failed: the sweep ends with this */
    psw_err failure_err;
    psw_status worker_status; /* first worker that could not open its context */
    char worker_msg[PSW_ERR_MSG_SIZE];
    int n_dead;
} coord;

/* ---- start-up ---- */

static int mean_prompt_len(const psw_mc_prompts *p) {
    if (p->n == 0) return 1;
    int64_t m = p->offsets[p->n] / (int64_t)p->n;
    return m < 1 ? 1 : (int)m;
}

/* Moves an existing results file aside: OUTPUT.bak-YYYYmmdd-HHMMSS (-N when taken). */
static psw_status move_aside(const char *path, psw_err *err) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return PSW_OK;
        return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    time_t now = time(NULL);
    struct tm tmv;
    char stamp[32] = "unknown";
    if (localtime_r(&now, &tmv)) strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    char bak[4096];
    for (int k = 0;; k++) {
        int len = k == 0 ? snprintf(bak, sizeof bak, "%s.bak-%s", path, stamp)
                         : snprintf(bak, sizeof bak, "%s.bak-%s-%d", path, stamp, k);
        if (len < 0 || (size_t)len >= sizeof bak)
            return PSW_FAIL(err, PSW_ERR_IO, "%s: --new: path too long for a backup name", path);
        if (stat(bak, &sb) != 0 && errno == ENOENT) break;
        if (k == 1000) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot find a free backup name", path);
    }
    if (rename(path, bak) != 0)
        return PSW_FAIL(err, PSW_ERR_IO, "%s: --new: cannot rename to %s: %s", path, bak,
                        strerror(errno));
    PSW_LOG_INFO("--new: moved the old results to %s", bak);
    return PSW_OK;
}

static psw_status start(coord *c, psw_err *err) {
    const psw_sweep_env *env = c->env;
    const psw_spec *spec = env->spec;
    char *spec_json = NULL;
    psw_status st = psw_run_context_open(&c->ctx, spec, env->cache_dir,
                                         env->size == 1 ? env->threads : 1, err);
    if (st != PSW_OK) return st;
    c->have_ctx = true;
    psw_run_context *ctx = &c->ctx;
    if (ctx->test.prompts.n == 0 || ctx->test.prompts.n > INT32_MAX || ctx->n_choices_max < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: the test set has no usable question",
                        ctx->test_path);
    c->n_examples = (int32_t)ctx->test.prompts.n;
    c->n_choices = ctx->n_choices_max;

    psw_sched_costs costs = {.cfg = ctx->teacher.cfg,
                             .n_train = ctx->train.prompts.n,
                             .n_test = ctx->test.prompts.n,
                             .mean_prompt_len = mean_prompt_len(&ctx->train.prompts)};
    /* A cache left by an earlier run is reused when it matches (the fingerprint covers the
     * teacher, the prompts and the format). */
    bool cache_valid = false;
    psw_teacher_cache *tc = NULL;
    psw_err ignored = {0};
    if (psw_teacher_cache_open(ctx->cache_path, ctx->cache_fingerprint, ctx->train.prompts.n,
                               (size_t)ctx->teacher.cfg.vocab_size, &tc, &ignored) == PSW_OK) {
        cache_valid = true;
        psw_teacher_cache_close(tc);
    }

    if (env->opt->fresh) {
        st = move_aside(env->output, err);
        if (st != PSW_OK) return st;
    }
    char model_fp[17], data_fp[17];
    psw_run_fingerprints(ctx, model_fp, data_fp);
    spec_json = psw_spec_to_json(spec, false);
    psw_results_meta meta = {.spec_json = spec_json,
                             .program_version = PSW_VERSION,
                             .model_fingerprint = model_fp,
                             .data_fingerprint = data_fp,
                             .n_examples = c->n_examples,
                             .n_choices = c->n_choices,
                             .example_ids = ctx->test.example_ids,
                             .gold = ctx->test.gold,
                             .expected_rows =
                                 (int64_t)(1 + spec->grid.n_retention + spec->grid.n_configs),
                             .simulated = env->opt->simulate > 0};
    st = psw_results_open(env->output, &meta, &c->results, err);
    free(spec_json);
    if (st != PSW_OK) return st;
    psw_sweep_register_results(c->results);
    psw_sched_build(&c->sched, spec, c->results, &costs, cache_valid);
    if (gethostname(c->host, sizeof c->host) != 0) snprintf(c->host, sizeof c->host, "?");
    c->host[sizeof c->host - 1] = '\0';
    PSW_LOG_INFO("sweep: %s: %zu rows (1 teacher, %zu unrecovered, %zu recovered), %zu already "
                 "finished, %zu to run%s; %d rank%s",
                 env->output, c->sched.n_rows, spec->grid.n_retention, spec->grid.n_configs,
                 c->sched.n_skipped, psw_sched_rows_left(&c->sched),
                 c->sched.cache == PSW_CACHE_MISSING ? " after building the teacher cache" : "",
                 env->size, env->size == 1 ? "" : "s");
    if (env->opt->simulate > 0)
        PSW_LOG_WARN("sweep: --simulate %g: workers load no model and sleep the cost model's "
                     "time x %g; every row is synthetic (the file is marked simulated)",
                     env->opt->simulate, env->opt->simulate);
    return PSW_OK;
}

/* ---- rows ---- */

static void format_duration(double s, char *buf, size_t n) {
    if (s < 0) {
        snprintf(buf, n, "?");
    } else if (s < 60) {
        snprintf(buf, n, "%.0fs", s);
    } else if (s < 3600) {
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    } else {
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    }
}

static void describe(const psw_run_record *rec, char *buf, size_t n) {
    if (rec->kind == PSW_ROW_TEACHER)
        snprintf(buf, n, "teacher");
    else if (rec->kind == PSW_ROW_UNRECOVERED)
        snprintf(buf, n, "unrecovered retention %.6g", rec->retention);
    else
        snprintf(buf, n, "retention %.6g %s data %lld seed %lld", rec->retention,
                 psw_loss_kind_name(rec->loss), (long long)rec->data_size, (long long)rec->seed);
}

/* Appends rows (one flush + fsync pair for all) and times it. */
static psw_status append(coord *c, const psw_run_record *recs, size_t k, psw_err *err) {
    double t0 = psw_now();
    psw_status st = psw_results_append_rows(c->results, recs, k, err);
    double t1 = psw_now();
    c->append_seconds += t1 - t0;
    if (st != PSW_OK) return st;
    if (c->n_written == 0) c->first_row = t1;
    c->n_written += k;
    c->n_appends++;
    c->last_row = t1;
    return PSW_OK;
}

/* Bookkeeping of a written row: the task is done; the progress line. */
static void row_written(coord *c, size_t ti, const psw_run_record *rec, double seconds) {
    psw_sched_done(&c->sched, ti, rec->status);
    c->work_seconds += seconds;
    const psw_sched *s = &c->sched;
    char what[160], eta[32], result[PSW_ERR_MSG_SIZE + 32];
    describe(rec, what, sizeof what);
    format_duration(psw_sched_rows_left(s) ? psw_sched_eta(s) : 0.0, eta, sizeof eta);
    if (rec->status == PSW_RUN_OK)
        snprintf(result, sizeof result, "ok, accuracy %.4f", rec->metrics.accuracy);
    else
        snprintf(result, sizeof result, "%s: %s", psw_run_status_name(rec->status),
                 rec->message);
    PSW_LOG_INFO("sweep: %zu/%zu done (%zu failed): %s: %s (rank %d, %.1f s); ETA %s",
                 s->n_skipped + s->n_finished + s->n_failed, s->n_rows, s->n_failed, what, result,
                 (int)rec->rank, seconds, eta);
}

/* Appends one row (flushed and fsync'ed) and prints the progress line. */
static psw_status write_row(coord *c, size_t ti, const psw_run_record *rec, double seconds,
                            psw_err *err) {
    psw_status st = append(c, rec, 1, err);
    if (st == PSW_OK) row_written(c, ti, rec, seconds);
    return st;
}

/* A kl/mix row that cannot run because the teacher cache could not be built. */
static void blocked_record(const coord *c, const psw_task *t, const char *why,
                           psw_run_record *rec) {
    memset(rec, 0, sizeof *rec);
    rec->config_id = t->config.id;
    rec->kind = PSW_ROW_RECOVERED;
    rec->retention = t->config.retention;
    rec->loss = t->config.loss;
    rec->data_size = t->config.data_size;
    rec->seed = t->config.seed;
    rec->status = PSW_RUN_FAILED;
    snprintf(rec->message, sizeof rec->message, "teacher cache: %s", why);
    psw_eval_metrics *m = &rec->metrics;
    m->accuracy = m->entropy = m->entropy_norm = m->nll = m->brier = m->ece = m->mce =
        m->choice_mass = NAN;
    m->reliability.n_bins = PSW_ECE_BINS;
    for (int b = 0; b < PSW_ECE_BINS; b++)
        m->reliability.mean_conf[b] = m->reliability.accuracy[b] = NAN;
    rec->retention_mlp = rec->retention_nonembed = rec->retention_total = NAN;
    rec->final_loss = NAN;
    rec->rank = 0;
    memcpy(rec->host, c->host, sizeof rec->host);
    rec->finish_time = (double)time(NULL);
    rec->n_examples = c->n_examples;
    rec->n_choices = c->n_choices;
}

/* The cache task ended: on failure every kl/mix task becomes a failed row (rerun on resume). */
static psw_status cache_done(coord *c, size_t ti, bool ok, const char *msg, double seconds,
                             psw_err *err) {
    psw_sched_done(&c->sched, ti, ok ? PSW_RUN_OK : PSW_RUN_FAILED);
    c->work_seconds += seconds;
    if (ok) {
        c->sched.cache = PSW_CACHE_READY;
        PSW_LOG_INFO("sweep: teacher cache built in %.1f s", seconds);
        return PSW_OK;
    }
    c->sched.cache = PSW_CACHE_FAILED;
    PSW_LOG_ERROR("sweep: teacher cache: %s; its kl/mix configurations are recorded as failed",
                  msg);
    for (size_t i = 0; i < c->sched.n_tasks; i++) {
        psw_sched_task *t = &c->sched.tasks[i];
        if (t->state != PSW_SCHED_PENDING || !t->needs_cache) continue;
        t->state = PSW_SCHED_RUNNING;
        psw_run_record rec;
        blocked_record(c, &t->task, msg, &rec);
        psw_status st = write_row(c, i, &rec, 0.0, err);
        if (st != PSW_OK) return st;
    }
    return PSW_OK;
}

/* ---- serial: one process runs every task ---- */

static psw_status run_serial(coord *c, psw_err *err) {
    psw_sweep_set_serial_grace(c->env->opt->grace_seconds);
    psw_status st = PSW_OK;
    size_t ti;
    while (!psw_sweep_stop_requested() && psw_sched_next(&c->sched, &ti) == PSW_PICK_TASK) {
        const psw_task *task = &c->sched.tasks[ti].task;
        psw_run_output out;
        psw_err terr = {0};
        double t0 = psw_now();
        psw_status rs = psw_run_task(&c->ctx, task, 0, &out, &terr);
        double seconds = psw_now() - t0;
        if (task->kind == PSW_TASK_TEACHER_CACHE) {
            st = cache_done(c, ti, rs == PSW_OK, terr.msg, seconds, err);
        } else {
            if (rs != PSW_OK) { /* run.h promises a row; keep the sweep going regardless */
                out.rec.status = PSW_RUN_FAILED;
                snprintf(out.rec.message, sizeof out.rec.message, "%s", terr.msg);
            }
            /* Only an ok row has meaningful probabilities. */
            if (out.rec.status != PSW_RUN_OK) out.rec.probs = NULL;
            st = write_row(c, ti, &out.rec, seconds, err);
        }
        psw_run_output_free(&out);
        if (st != PSW_OK) break;
    }
    psw_sweep_cancel_serial_grace();
    return st;
}

/* ---- MPI: farm tasks to ranks 1..N-1 ---- */

static void send_msg(const void *msg, int bytes, int dest, int tag, const char *what) {
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Isend(msg, bytes, MPI_BYTE, dest, tag, psw_sweep_ctrl, &req), what);
    psw_sweep_wait(&req, NULL, what);
}

static void send_stop(coord *c, int rank) {
    psw_msg_stop m = {.proto_version = PSW_PROTO_VERSION};
    send_msg(&m, (int)sizeof m, rank, PSW_TAG_STOP, "MPI_Isend (STOP)");
    c->workers[rank].state = W_GONE;
    c->n_active--;
}

/* Gives `rank` its next task, makes it wait for the cache, or stops it. */
static void dispatch(coord *c, int rank) {
    if (c->stopping || c->failure != PSW_OK) {
        send_stop(c, rank);
        return;
    }
    size_t ti;
    psw_sched_pick pick = psw_sched_next(&c->sched, &ti);
    if (pick == PSW_PICK_WAIT) {
        c->workers[rank].state = W_WAITING;
        return;
    }
    if (pick == PSW_PICK_NONE) {
        send_stop(c, rank);
        return;
    }
    psw_msg_work m;
    memset(&m, 0, sizeof m);
    m.proto_version = PSW_PROTO_VERSION;
    m.task_index = (uint32_t)ti;
    m.task = c->sched.tasks[ti].task;
    if (c->env->opt->simulate > 0) {
        m.sim_seconds = psw_sweep_sim_seconds(c->sched.tasks[ti].cost, c->env->opt->simulate);
        m.sim_examples = c->n_examples;
        m.sim_choices = c->n_choices;
    }
    c->workers[rank].state = W_BUSY;
    c->workers[rank].task = ti;
    send_msg(&m, (int)sizeof m, rank, PSW_TAG_WORK, "MPI_Isend (WORK)");
}

static void dispatch_waiting(coord *c) {
    for (int r = 1; r < c->env->size; r++)
        if (c->workers[r].state == W_WAITING) dispatch(c, r);
}

static void begin_stop(coord *c, const char *why) {
    if (c->stopping) return;
    c->stopping = true;
    c->deadline = psw_now() + c->env->opt->grace_seconds;
    int busy = 0;
    for (int r = 1; r < c->env->size; r++) busy += c->workers[r].state == W_BUSY;
    PSW_LOG_WARN("sweep: %s: handing out no more work; waiting up to %.0f s for %d task%s in "
                 "flight",
                 why, c->env->opt->grace_seconds, busy, busy == 1 ? "" : "s");
    for (int r = 1; r < c->env->size; r++)
        if (c->workers[r].state == W_WAITING) send_stop(c, r);
}

static void check_count(const MPI_Status *s, int want, const char *what) {
    int got = -1;
    PSW_MPI_CHECK(MPI_Get_count(s, MPI_BYTE, &got), what);
    if (got != want) {
        PSW_LOG_ERROR("sweep: %s from rank %d has %d bytes, expected %d (different prunesweep "
                      "builds in one job?)",
                      what, s->MPI_SOURCE, got, want);
        psw_sweep_abort(1);
    }
}

static void check_version(uint32_t v, int rank) {
    if (v != PSW_PROTO_VERSION) {
        PSW_LOG_ERROR("sweep: rank %d speaks protocol %u, this is %u (different prunesweep "
                      "builds in one job?)",
                      rank, (unsigned)v, (unsigned)PSW_PROTO_VERSION);
        psw_sweep_abort(1);
    }
}

static void on_ready(coord *c, const psw_msg_ready *m, int rank) {
    if (m->status != PSW_OK) {
        if (c->worker_status == PSW_OK) {
            c->worker_status = (psw_status)m->status;
            snprintf(c->worker_msg, sizeof c->worker_msg, "%s", m->message);
        }
        c->n_dead++;
        PSW_LOG_ERROR("sweep: rank %d cannot work: %s", rank, m->message);
        send_stop(c, rank);
        return;
    }
    PSW_LOG_INFO("sweep: rank %d ready (%d OpenBLAS thread%s)", rank, (int)m->threads,
                 m->threads == 1 ? "" : "s");
    dispatch(c, rank);
}

static void fail_writes(coord *c, psw_status st) {
    c->failure = st;
    PSW_LOG_ERROR("sweep: %s; stopping", c->failure_err.msg);
    begin_stop(c, "the results file cannot be written");
}

/* Writes the batch (one durable append), then gives each of its workers its next task (or
 * STOP, when the write failed or the sweep is stopping). */
static void commit_batch(coord *c) {
    size_t k = c->n_batch;
    if (k == 0) return;
    c->n_batch = 0;
    /* After a failed write (e.g. of a blocked row) the file takes nothing more. */
    psw_status st = c->failure;
    if (st == PSW_OK) {
        st = append(c, c->batch, k, &c->failure_err);
        if (st != PSW_OK) fail_writes(c, st);
    }
    for (size_t j = 0; j < k; j++) {
        if (st == PSW_OK) row_written(c, c->batch_task[j], &c->batch[j], c->batch_seconds[j]);
        dispatch(c, c->batch_rank[j]);
    }
}

/* Takes a RESULT (and its probabilities). Returns true when the worker is to get its next task
 * now; false when its row waits in the batch (it gets the task after the commit). */
static bool on_result(coord *c, psw_msg_result *m, int rank) {
    worker *w = &c->workers[rank];
    if (w->state != W_BUSY || m->task_index != w->task) {
        PSW_LOG_ERROR("sweep: rank %d sent a result for task %u it was not given", rank,
                      (unsigned)m->task_index);
        psw_sweep_abort(1);
    }
    size_t expect = (size_t)c->n_examples * (size_t)c->n_choices;
    if (m->n_probs != 0 && (size_t)m->n_probs != expect) {
        PSW_LOG_ERROR("sweep: rank %d sent %d probabilities, expected %zu", rank,
                      (int)m->n_probs, expect);
        psw_sweep_abort(1);
    }
    /* The batch is never full here (a full one is committed at once), so slot n_batch is free. */
    float *probs = c->batch_probs + c->n_batch * expect;
    if (m->n_probs > 0) {
        double t0 = psw_now();
        MPI_Request req;
        PSW_MPI_CHECK(MPI_Irecv(probs, m->n_probs, MPI_FLOAT, rank, PSW_TAG_PROBS,
                                psw_sweep_data, &req),
                      "MPI_Irecv (probabilities)");
        psw_sweep_wait(&req, NULL, "MPI_Irecv (probabilities)");
        c->probs_seconds += psw_now() - t0;
    }
    if (m->stop_requested) begin_stop(c, "a worker got a stop signal");
    if (c->failure != PSW_OK) return true; /* the file is not written any more */
    if (m->task_kind == PSW_TASK_TEACHER_CACHE) {
        m->message[sizeof m->message - 1] = '\0';
        psw_status st = cache_done(c, m->task_index, m->status == PSW_OK, m->message, m->seconds,
                                   &c->failure_err);
        if (st != PSW_OK) fail_writes(c, st);
        return true;
    }
    size_t j = c->n_batch++;
    if (j == 0) c->batch_start = psw_now();
    psw_run_record *rec = &c->batch[j];
    *rec = m->rec;
    float *curve = c->batch_curves + j * PSW_CURVE_POINTS;
    memcpy(curve, m->curve, sizeof m->curve);
    rec->probs = m->n_probs > 0 ? probs : NULL;
    rec->loss_curve = curve;
    c->batch_rank[j] = rank;
    c->batch_seconds[j] = m->seconds;
    c->batch_task[j] = m->task_index;
    w->state = W_STAGED;
    if (c->n_batch == PSW_RESULTS_APPEND_MAX) commit_batch(c);
    return false;
}

/* True when a READY or RESULT is waiting to be received. */
static bool message_waiting(void) {
    int flag = 0;
    PSW_MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, psw_sweep_ctrl, &flag,
                             MPI_STATUS_IGNORE),
                  "MPI_Iprobe (READY/RESULT)");
    return flag != 0;
}

static void grace_over(coord *c) {
    int busy = 0;
    for (int r = 1; r < c->env->size; r++) busy += c->workers[r].state == W_BUSY;
    PSW_LOG_ERROR("sweep: the grace period of %.0f s is over with %d task%s in flight; closing "
                  "the results file and ending the job (exit 3, resumable)",
                  c->env->opt->grace_seconds, busy, busy == 1 ? "" : "s");
    psw_sweep_abort(3);
}

static void run_farm(coord *c) {
    int size = c->env->size;
    c->workers = psw_xcalloc((size_t)size, sizeof *c->workers);
    c->n_active = size - 1;
    size_t n_probs = (size_t)c->n_examples * (size_t)c->n_choices;
    if (n_probs > (size_t)INT32_MAX) PSW_ABORT("probabilities too large for one message");
    size_t cap = PSW_RESULTS_APPEND_MAX;
    c->batch = psw_xcalloc(cap, sizeof *c->batch);
    c->batch_rank = psw_xcalloc(cap, sizeof *c->batch_rank);
    c->batch_seconds = psw_xcalloc(cap, sizeof *c->batch_seconds);
    c->batch_task = psw_xcalloc(cap, sizeof *c->batch_task);
    c->batch_probs = psw_xmalloc(cap * n_probs * sizeof *c->batch_probs);
    c->batch_curves = psw_xmalloc(cap * PSW_CURVE_POINTS * sizeof *c->batch_curves);
    union {
        psw_msg_ready ready;
        psw_msg_result result;
    } *buf = psw_xmalloc(sizeof *buf);
    while (c->n_active > 0) {
        /* Group commit: write the batch once nothing else is waiting (or it is getting old);
         * its workers then get their next tasks, which may end the loop. */
        if (c->n_batch > 0 &&
            (!message_waiting() || psw_now() - c->batch_start > PSW_SWEEP_BATCH_AGE)) {
            commit_batch(c);
            continue;
        }
        MPI_Request req;
        MPI_Status status;
        PSW_MPI_CHECK(MPI_Irecv(buf, (int)sizeof *buf, MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
                                psw_sweep_ctrl, &req),
                      "MPI_Irecv (READY/RESULT)");
        double t0 = psw_now();
        for (;;) {
            int done = 0;
            PSW_MPI_CHECK(MPI_Test(&req, &done, &status), "MPI_Test (READY/RESULT)");
            if (done) break;
            if (psw_sweep_stop_requested()) begin_stop(c, "stop signal");
            if (c->stopping && psw_now() > c->deadline) grace_over(c);
            psw_sweep_nap();
        }
        c->idle_seconds += psw_now() - t0;
        int rank = status.MPI_SOURCE;
        if (status.MPI_TAG == PSW_TAG_READY) {
            check_count(&status, (int)sizeof buf->ready, "READY");
            check_version(buf->ready.proto_version, rank);
            buf->ready.message[sizeof buf->ready.message - 1] = '\0';
            on_ready(c, &buf->ready, rank);
        } else if (status.MPI_TAG == PSW_TAG_RESULT) {
            check_count(&status, (int)sizeof buf->result, "RESULT");
            check_version(buf->result.proto_version, rank);
            if (on_result(c, &buf->result, rank)) dispatch(c, rank);
        } else {
            PSW_LOG_ERROR("sweep: unexpected message tag %d from rank %d", status.MPI_TAG, rank);
            psw_sweep_abort(1);
        }
        /* A finished cache (or a failed one) releases the workers that waited for it. */
        if (c->sched.cache != PSW_CACHE_MISSING) dispatch_waiting(c);
        if (psw_sweep_stop_requested()) begin_stop(c, "stop signal");
    }
    free(buf);
}

/* Answers every worker's READY with STOP (start-up failed on rank 0). */
static void stop_all(const psw_sweep_env *env) {
    psw_msg_ready ready;
    for (int i = 1; i < env->size; i++) {
        MPI_Request req;
        MPI_Status status;
        PSW_MPI_CHECK(MPI_Irecv(&ready, (int)sizeof ready, MPI_BYTE, MPI_ANY_SOURCE, PSW_TAG_READY,
                                psw_sweep_ctrl, &req),
                      "MPI_Irecv (READY)");
        psw_sweep_wait(&req, &status, "MPI_Irecv (READY)");
        psw_msg_stop m = {.proto_version = PSW_PROTO_VERSION};
        send_msg(&m, (int)sizeof m, status.MPI_SOURCE, PSW_TAG_STOP, "MPI_Isend (STOP)");
    }
}

static double cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

psw_status psw_sweep_coordinate(const psw_sweep_env *env, psw_sweep_outcome *out, psw_err *err) {
    coord c;
    memset(&c, 0, sizeof c);
    c.env = env;
    psw_status st = start(&c, err);
    if (st != PSW_OK) {
        if (env->size > 1) stop_all(env);
        goto done;
    }
    out->n_rows = c.sched.n_rows;
    out->n_skipped = c.sched.n_skipped;

    double wall0 = psw_now(), cpu0 = cpu_seconds();
    int workers = env->size > 1 ? env->size - 1 : 1;
    if (env->size == 1) {
        PSW_LOG_INFO("sweep: running every task in this process, %d OpenBLAS thread%s",
                     env->threads, env->threads == 1 ? "" : "s");
        st = run_serial(&c, err);
    } else {
        psw_run_context_close(&c.ctx); /* rank 0 only coordinates: free the model */
        c.have_ctx = false;
        run_farm(&c);
        if (c.failure != PSW_OK) {
            st = c.failure;
            *err = c.failure_err;
        }
    }
    double wall = psw_now() - wall0, cpu = cpu_seconds() - cpu0;
    out->n_finished = c.sched.n_finished;
    out->n_failed = c.sched.n_failed;
    out->n_pending = psw_sched_rows_left(&c.sched);
    if (env->size > 1)
        PSW_LOG_INFO("sweep: coordinator used %.2f s CPU over %.1f s (%.2f%% of one core)", cpu,
                     wall, wall > 0 ? 100.0 * cpu / wall : 0.0);
    if (c.n_written > 1 && c.last_row > c.first_row)
        PSW_LOG_INFO("sweep: %zu rows written in %zu appends, %.1f rows/s between the first and "
                     "the last; appending took %.2f s (%.3f ms per row)",
                     c.n_written, c.n_appends,
                     (double)(c.n_written - 1) / (c.last_row - c.first_row), c.append_seconds,
                     1e3 * c.append_seconds / (double)c.n_written);
    if (env->size > 1)
        PSW_LOG_INFO("sweep: coordinator wall time: %.2f s waiting for messages, %.2f s "
                     "receiving probabilities, %.2f s appending, %.2f s other",
                     c.idle_seconds, c.probs_seconds, c.append_seconds,
                     wall - c.idle_seconds - c.probs_seconds - c.append_seconds);
    if (wall > 0 && c.work_seconds > 0)
        PSW_LOG_INFO("sweep: %.1f s of task time on %d worker%s in %.1f s: parallel efficiency "
                     "%.1f%%",
                     c.work_seconds, workers, workers == 1 ? "" : "s", wall,
                     100.0 * c.work_seconds / (workers * wall));
    if (st == PSW_OK && out->n_pending > 0) {
        if (env->size > 1 && c.n_dead == env->size - 1 && !c.stopping)
            st = PSW_FAIL(err, c.worker_status != PSW_OK ? c.worker_status : PSW_ERR_MPI,
                          "no worker could start: %s", c.worker_msg);
        else
            st = PSW_FAIL(err, PSW_ERR_INTERRUPTED,
                          "stopped with %zu of %zu rows missing; rerun the same command to "
                          "resume",
                          out->n_pending, out->n_rows);
    }
    if (st == PSW_OK)
        PSW_LOG_INFO("sweep: complete: %zu rows (%zu from earlier runs, %zu written now, %zu of "
                     "them failed) in %s",
                     out->n_rows, out->n_skipped, out->n_finished + out->n_failed, out->n_failed,
                     env->output);
done:
    if (c.results) {
        psw_sweep_register_results(NULL);
        psw_err cerr = {0};
        psw_status cst = psw_results_close(c.results, &cerr);
        if (cst != PSW_OK && (st == PSW_OK || st == PSW_ERR_INTERRUPTED)) {
            st = cst;
            *err = cerr;
        }
    }
    psw_sched_free(&c.sched);
    if (c.have_ctx) psw_run_context_close(&c.ctx);
    free(c.workers);
    free(c.batch);
    free(c.batch_rank);
    free(c.batch_seconds);
    free(c.batch_task);
    free(c.batch_probs);
    free(c.batch_curves);
    return st;
}
