/* worker.c: ranks 1..N-1 of the sweep: open the run context once, then run the tasks rank 0
 * sends until it says STOP. A stop signal does not interrupt the running task; it is reported
 * with the result, and rank 0 decides (it keeps the grace period). Under --simulate no context
 * is opened and simulate.c stands in for psw_run_task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_internal.h"

static void send_and_wait(const void *buf, int count, MPI_Datatype type, int tag, MPI_Comm comm,
                          const char *what) {
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Isend(buf, count, type, 0, tag, comm, &req), what);
    psw_sweep_wait(&req, NULL, what);
}

/* Sends a RESULT and, when res->n_probs > 0, its probabilities. The probabilities are sent
 * first, so they are on their way when rank 0 takes the RESULT and posts their receive (sent
 * after it, they cost rank 0 a poll interval whenever this process is not scheduled). */
static void send_result(const psw_msg_result *res, const float *probs) {
    MPI_Request preq = MPI_REQUEST_NULL, rreq;
    if (res->n_probs > 0)
        PSW_MPI_CHECK(MPI_Isend(probs, res->n_probs, MPI_FLOAT, 0, PSW_TAG_PROBS, psw_sweep_data,
                                &preq),
                      "MPI_Isend (probabilities)");
    PSW_MPI_CHECK(MPI_Isend(res, (int)sizeof *res, MPI_BYTE, 0, PSW_TAG_RESULT, psw_sweep_ctrl,
                            &rreq),
                  "MPI_Isend (RESULT)");
    psw_sweep_wait(&rreq, NULL, "MPI_Isend (RESULT)");
    if (preq != MPI_REQUEST_NULL) psw_sweep_wait(&preq, NULL, "MPI_Isend (probabilities)");
}

/* Runs one task and sends its result (and the probabilities of an ok row). */
static void serve(psw_run_context *ctx, int rank, const psw_msg_work *w, psw_msg_result *res) {
    memset(res, 0, sizeof *res);
    res->proto_version = PSW_PROTO_VERSION;
    res->task_index = w->task_index;
    res->task_kind = (int32_t)w->task.kind;
    psw_run_output out;
    psw_err err = {0};
    double t0 = psw_now();
    psw_status st = psw_run_task(ctx, &w->task, rank, &out, &err);
    res->seconds = psw_now() - t0;
    res->status = (int32_t)st;
    if (w->task.kind == PSW_TASK_TEACHER_CACHE) {
        snprintf(res->message, sizeof res->message, "%s", err.msg);
    } else {
        res->has_row = 1;
        if (st != PSW_OK) { /* run.h promises a row; keep the sweep going regardless */
            out.rec.status = PSW_RUN_FAILED;
            snprintf(out.rec.message, sizeof out.rec.message, "%s", err.msg);
        }
        res->rec = out.rec;
        res->rec.probs = NULL;
        res->rec.loss_curve = NULL;
        memcpy(res->curve, out.curve, sizeof res->curve);
        /* Only an ok row has meaningful probabilities; the others are stored as NaN. */
        if (out.rec.status == PSW_RUN_OK && out.probs)
            res->n_probs = out.rec.n_examples * out.rec.n_choices;
    }
    res->stop_requested = psw_sweep_stop_requested();
    send_result(res, out.probs);
    psw_run_output_free(&out);
}

/* --simulate: the same messages as serve, from psw_sweep_simulate. *probs (capacity *cap
 * floats) is reused across tasks. */
static void serve_simulated(int rank, const psw_msg_work *w, psw_msg_result *res, float **probs,
                            size_t *cap) {
    size_t n = (size_t)(w->sim_examples > 0 ? w->sim_examples : 0) *
               (size_t)(w->sim_choices > 0 ? w->sim_choices : 0);
    if (w->task.kind != PSW_TASK_TEACHER_CACHE &&
        (n == 0 || n > (size_t)INT32_MAX || w->sim_choices > PSW_MAX_CHOICES)) {
        PSW_LOG_ERROR("sweep: --simulate: rank 0 sent a %d x %d probability shape",
                      (int)w->sim_examples, (int)w->sim_choices);
        psw_sweep_abort(1);
    }
    if (n > *cap) {
        free(*probs);
        *probs = psw_xmalloc(n * sizeof **probs);
        *cap = n;
    }
    psw_sweep_simulate(w, rank, res, *probs);
    res->stop_requested = psw_sweep_stop_requested();
    send_result(res, *probs);
}

void psw_sweep_work(const psw_sweep_env *env) {
    psw_run_context ctx;
    psw_err err = {0};
    bool sim = env->opt->simulate > 0;
    psw_status st =
        sim ? PSW_OK
            : psw_run_context_open_shared(&ctx, env->spec, env->cache_dir, env->threads,
                                          env->teacher_weights, env->teacher_floats, &err);
    psw_msg_ready ready;
    memset(&ready, 0, sizeof ready);
    ready.proto_version = PSW_PROTO_VERSION;
    ready.status = (int32_t)st;
    ready.threads = env->threads;
    snprintf(ready.message, sizeof ready.message, "%s", err.msg);
    send_and_wait(&ready, (int)sizeof ready, MPI_BYTE, PSW_TAG_READY, psw_sweep_ctrl,
                  "MPI_Isend (READY)");

    union {
        psw_msg_work work;
        psw_msg_stop stop;
    } in;
    psw_msg_result *res = psw_xmalloc(sizeof *res);
    float *sim_probs = NULL;
    size_t sim_cap = 0;
    for (;;) {
        MPI_Request req;
        MPI_Status status;
        PSW_MPI_CHECK(MPI_Irecv(&in, (int)sizeof in, MPI_BYTE, 0, MPI_ANY_TAG, psw_sweep_ctrl,
                                &req),
                      "MPI_Irecv (WORK/STOP)");
        psw_sweep_wait(&req, &status, "MPI_Irecv (WORK/STOP)");
        int bytes = -1;
        PSW_MPI_CHECK(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
        if (status.MPI_TAG == PSW_TAG_STOP && bytes == (int)sizeof in.stop &&
            in.stop.proto_version == PSW_PROTO_VERSION)
            break;
        if (status.MPI_TAG != PSW_TAG_WORK || bytes != (int)sizeof in.work ||
            in.work.proto_version != PSW_PROTO_VERSION || st != PSW_OK) {
            PSW_LOG_ERROR("sweep: unexpected message from rank 0 (tag %d, %d bytes); different "
                          "prunesweep builds in one job?",
                          status.MPI_TAG, bytes);
            psw_sweep_abort(1);
        }
        if (sim)
            serve_simulated(env->rank, &in.work, res, &sim_probs, &sim_cap);
        else
            serve(&ctx, env->rank, &in.work, res);
    }
    free(sim_probs);
    free(res);
    if (st == PSW_OK && !sim) psw_run_context_close(&ctx);
}
