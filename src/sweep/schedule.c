/* schedule.c: the task table of a sweep: which rows are still missing, what to run next (the
 * teacher cache first when kl/mix work needs it, then the most expensive task first, so the
 * makespan approaches total work / workers), and the cost-weighted ETA. MPI-free. */
#include <stdlib.h>
#include <string.h>

#include "sweep_internal.h"

static bool wants_cache(const psw_task *t) {
    return t->kind == PSW_TASK_RECOVER &&
           (t->config.loss == PSW_LOSS_KL || t->config.loss == PSW_LOSS_MIX);
}

static void add(psw_sched *s, size_t *cap, const psw_task *t, uint64_t row_id,
                const psw_spec *spec, const psw_sched_costs *c) {
    if (s->n_tasks == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        s->tasks = psw_xrealloc(s->tasks, *cap * sizeof *s->tasks);
    }
    psw_sched_task *st = &s->tasks[s->n_tasks++];
    memset(st, 0, sizeof *st);
    st->task = *t;
    st->row_id = row_id;
    st->cost = psw_run_task_cost(spec, &c->cfg, t, c->n_train, c->n_test, c->mean_prompt_len);
    st->needs_cache = wants_cache(t);
    st->state = PSW_SCHED_PENDING;
}

/* Cache task first; then cost descending; ties keep the table order (row-major grid). */
static int by_priority(const void *pa, const void *pb) {
    const psw_sched_task *a = pa, *b = pb;
    bool ca = a->task.kind == PSW_TASK_TEACHER_CACHE, cb = b->task.kind == PSW_TASK_TEACHER_CACHE;
    if (ca != cb) return ca ? -1 : 1;
    if (a->cost != b->cost) return a->cost > b->cost ? -1 : 1;
    /* qsort is not stable: the original position travels in task.config.index for grid tasks,
     * and reference rows sort by retention. */
    if (a->task.kind != b->task.kind) return a->task.kind < b->task.kind ? -1 : 1;
    if (a->task.config.index != b->task.config.index)
        return a->task.config.index < b->task.config.index ? -1 : 1;
    if (a->task.config.retention != b->task.config.retention)
        return a->task.config.retention > b->task.config.retention ? -1 : 1;
    return 0;
}

void psw_sched_build(psw_sched *s, const psw_spec *spec, const psw_results *r,
                     const psw_sched_costs *costs, bool cache_valid) {
    memset(s, 0, sizeof *s);
    size_t cap = 0;
    psw_task t;

    /* Reference rows: the teacher, then one unrecovered evaluation per retention. */
    memset(&t, 0, sizeof t);
    t.kind = PSW_TASK_TEACHER_EVAL;
    t.config.retention = 1.0;
    uint64_t id = psw_run_reference_id(spec, PSW_ROW_TEACHER, 1.0);
    t.config.id = id;
    s->n_rows++;
    psw_run_status rs = r ? psw_results_lookup(r, id) : PSW_RUN_PENDING;
    if (rs == PSW_RUN_OK || rs == PSW_RUN_DIVERGED)
        s->n_skipped++;
    else
        add(s, &cap, &t, id, spec, costs);
    for (size_t i = 0; i < spec->grid.n_retention; i++) {
        memset(&t, 0, sizeof t);
        t.kind = PSW_TASK_UNRECOVERED_EVAL;
        t.config.retention = spec->grid.retention[i];
        t.config.index = i;
        id = psw_run_reference_id(spec, PSW_ROW_UNRECOVERED, t.config.retention);
        t.config.id = id;
        s->n_rows++;
        rs = r ? psw_results_lookup(r, id) : PSW_RUN_PENDING;
        if (rs == PSW_RUN_OK || rs == PSW_RUN_DIVERGED)
            s->n_skipped++;
        else
            add(s, &cap, &t, id, spec, costs);
    }
    bool need_cache = false;
    for (size_t i = 0; i < spec->grid.n_configs; i++) {
        memset(&t, 0, sizeof t);
        t.kind = PSW_TASK_RECOVER;
        t.config = spec->grid.configs[i];
        s->n_rows++;
        rs = r ? psw_results_lookup(r, t.config.id) : PSW_RUN_PENDING;
        if (rs == PSW_RUN_OK || rs == PSW_RUN_DIVERGED) {
            s->n_skipped++;
            continue;
        }
        add(s, &cap, &t, t.config.id, spec, costs);
        if (wants_cache(&t)) need_cache = true;
    }
    for (size_t i = 0; i < s->n_tasks; i++) s->cost_total += s->tasks[i].cost;
    s->n_row_tasks = s->n_tasks;
    if (!need_cache) {
        s->cache = PSW_CACHE_NOT_NEEDED;
    } else if (cache_valid) {
        s->cache = PSW_CACHE_READY;
    } else {
        memset(&t, 0, sizeof t);
        t.kind = PSW_TASK_TEACHER_CACHE;
        t.config.retention = 1.0;
        add(s, &cap, &t, 0, spec, costs);
        s->cache = PSW_CACHE_MISSING;
    }
    if (s->n_tasks > 1) qsort(s->tasks, s->n_tasks, sizeof *s->tasks, by_priority);
    s->start = psw_now();
}

void psw_sched_free(psw_sched *s) {
    free(s->tasks);
    memset(s, 0, sizeof *s);
}

psw_sched_pick psw_sched_next(psw_sched *s, size_t *index) {
    bool waiting = false;
    while (s->next_pending < s->n_tasks && s->tasks[s->next_pending].state != PSW_SCHED_PENDING)
        s->next_pending++;
    for (size_t i = s->next_pending; i < s->n_tasks; i++) {
        psw_sched_task *t = &s->tasks[i];
        if (t->state != PSW_SCHED_PENDING) continue;
        if (t->needs_cache && s->cache != PSW_CACHE_READY) {
            /* FAILED: the coordinator writes these as failed rows; never hand them out. */
            if (s->cache == PSW_CACHE_MISSING) waiting = true;
            continue;
        }
        t->state = PSW_SCHED_RUNNING;
        *index = i;
        return PSW_PICK_TASK;
    }
    return waiting ? PSW_PICK_WAIT : PSW_PICK_NONE;
}

void psw_sched_done(psw_sched *s, size_t i, psw_run_status row_status) {
    PSW_ASSERT(i < s->n_tasks && s->tasks[i].state != PSW_SCHED_DONE);
    psw_sched_task *t = &s->tasks[i];
    t->state = PSW_SCHED_DONE;
    if (t->task.kind == PSW_TASK_TEACHER_CACHE) return;
    s->n_rows_done++;
    s->cost_done += t->cost;
    if (row_status == PSW_RUN_FAILED)
        s->n_failed++;
    else
        s->n_finished++;
}

size_t psw_sched_rows_left(const psw_sched *s) { return s->n_row_tasks - s->n_rows_done; }

double psw_sched_eta(const psw_sched *s) {
    double elapsed = psw_now() - s->start;
    if (s->cost_done <= 0.0 || elapsed <= 0.0) return -1.0;
    return (s->cost_total - s->cost_done) * elapsed / s->cost_done;
}
