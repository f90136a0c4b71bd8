/* simulate.c: `run --simulate SCALE`, a stand-in for psw_run_task that measures the
 * coordinator (dispatch, result messages, HDF5 appends) without models. A simulated task sleeps
 * its cost-model time times SCALE and returns a row whose values depend only on the task:
 * status ok, message "simulated", synthetic metrics and per-example probabilities of the results
 * file's shape (so the appends are as large as a real sweep's). Nothing here is a measurement of
 * a model; the results file is marked (root attribute simulated = 1) so it cannot pass for one. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "psw/plan.h"
#include "sweep_internal.h"

double psw_sweep_sim_seconds(double cost, double scale) {
    /* The cost model counts FLOPs; one engine thread runs a train step at about
     * PSW_PLAN_CAL_TRAIN_1T GFLOP/s on the development machine. */
    double s = cost / (PSW_PLAN_CAL_TRAIN_1T * 1e9) * scale;
    return isfinite(s) && s > 0 ? s : 0.0;
}

/* splitmix64: a small deterministic generator for the synthetic values. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double next_unit(uint64_t *state) { return (double)(next_u64(state) >> 11) * 0x1.0p-53; }

/* Sleeps the whole duration: a stop signal ends nanosleep early with EINTR, but a real task is
 * not interrupted by one either (the coordinator keeps the grace period). */
static void sleep_for(double seconds) {
    if (!(seconds > 0)) return;
    struct timespec left = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

static void fill_row(const psw_msg_work *w, int rank, psw_run_record *rec, float *probs) {
    const psw_task *t = &w->task;
    memset(rec, 0, sizeof *rec);
    rec->config_id = t->config.id;
    rec->kind = t->kind == PSW_TASK_TEACHER_EVAL        ? PSW_ROW_TEACHER
                : t->kind == PSW_TASK_UNRECOVERED_EVAL ? PSW_ROW_UNRECOVERED
                                                       : PSW_ROW_RECOVERED;
    rec->retention = rec->kind == PSW_ROW_TEACHER ? 1.0 : t->config.retention;
    rec->loss = rec->kind == PSW_ROW_RECOVERED ? t->config.loss : PSW_LOSS_NONE;
    rec->data_size = rec->kind == PSW_ROW_RECOVERED ? t->config.data_size : 0;
    rec->seed = rec->kind == PSW_ROW_RECOVERED ? t->config.seed : 0;
    rec->status = PSW_RUN_OK;
    snprintf(rec->message, sizeof rec->message, "simulated");

    uint64_t state = t->config.id ^ 0x53494d554c415445ULL; /* "SIMULATE" */
    int32_t ne = w->sim_examples, nc = w->sim_choices;
    /* Probabilities: positive weights normalised per example (sums of nc terms, in double). */
    double entropy_sum = 0.0;
    for (int32_t i = 0; i < ne; i++) {
        double wts[PSW_MAX_CHOICES], sum = 0.0;
        for (int32_t k = 0; k < nc; k++) {
            wts[k] = 0.05 + next_unit(&state);
            sum += wts[k];
        }
        double h = 0.0;
        for (int32_t k = 0; k < nc; k++) {
            double p = wts[k] / sum;
            probs[(size_t)i * (size_t)nc + (size_t)k] = (float)p;
            h -= p * log(p);
        }
        entropy_sum += h;
    }
    psw_eval_metrics *m = &rec->metrics;
    m->n_examples = ne;
    m->n_labeled = ne;
    m->entropy = entropy_sum / (double)ne;
    m->entropy_norm = nc > 1 ? m->entropy / log((double)nc) : 0.0;
    m->accuracy = 0.2 + 0.6 * next_unit(&state);
    m->nll = -log(0.1 + 0.8 * m->accuracy);
    m->brier = 1.0 - m->accuracy;
    m->ece = 0.2 * next_unit(&state);
    m->mce = m->ece + 0.1 * next_unit(&state);
    m->choice_mass = 0.5 + 0.5 * next_unit(&state);
    m->reliability.n_bins = PSW_ECE_BINS;
    long long left = ne;
    for (int b = 0; b < PSW_ECE_BINS; b++) {
        long long c = b == PSW_ECE_BINS - 1 ? left : ne / PSW_ECE_BINS;
        m->reliability.count[b] = c;
        left -= c;
        m->reliability.mean_conf[b] = (b + 0.5) / PSW_ECE_BINS;
        m->reliability.accuracy[b] = next_unit(&state);
    }
    rec->retention_mlp = rec->retention_nonembed = rec->retention_total = rec->retention;
    rec->train_steps = rec->kind == PSW_ROW_RECOVERED ? rec->data_size : 0;
    rec->final_loss = rec->kind == PSW_ROW_RECOVERED ? 2.0 * next_unit(&state) : NAN;
    rec->rank = rank;
    if (gethostname(rec->host, sizeof rec->host) != 0) snprintf(rec->host, sizeof rec->host, "?");
    rec->host[sizeof rec->host - 1] = '\0';
    struct timespec now;
    rec->finish_time = clock_gettime(CLOCK_REALTIME, &now) == 0
                           ? (double)now.tv_sec + 1e-9 * (double)now.tv_nsec
                           : (double)time(NULL);
    rec->n_examples = ne;
    rec->n_choices = nc;
}

void psw_sweep_simulate(const psw_msg_work *w, int rank, psw_msg_result *res, float *probs) {
    memset(res, 0, sizeof *res);
    res->proto_version = PSW_PROTO_VERSION;
    res->task_index = w->task_index;
    res->task_kind = (int32_t)w->task.kind;
    double t0 = psw_now();
    sleep_for(w->sim_seconds);
    res->status = PSW_OK;
    if (w->task.kind != PSW_TASK_TEACHER_CACHE) {
        res->has_row = 1;
        fill_row(w, rank, &res->rec, probs);
        res->rec.seconds_eval = w->sim_seconds;
        res->n_probs = w->sim_examples * w->sim_choices;
        for (int i = 0; i < PSW_CURVE_POINTS; i++) res->curve[i] = NAN;
    }
    res->seconds = psw_now() - t0;
}
