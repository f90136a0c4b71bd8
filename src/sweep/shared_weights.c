/* shared_weights.c: the teacher's parameters loaded once per node into an MPI shared-memory
 * window and borrowed read-only by every worker of the node (see sweep_internal.h).
 *
 * Why a window and not a file in /dev/shm: the MPI library creates and removes the backing
 * segment with the job, also when the job is aborted or killed, so no stale copy of a model is
 * left in RAM-backed storage. Only the workers take part (rank 0 frees its own copy before the
 * farm starts); a node with one worker loads privately, as there is nothing to share. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "psw/model_io.h"
#include "sweep_internal.h"

static void node_wait(MPI_Request *req, const char *what) { psw_sweep_wait(req, NULL, what); }

static void node_bcast(psw_sweep_shared *sh, void *buf, int count, MPI_Datatype type,
                       const char *what) {
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Ibcast(buf, count, type, 0, sh->node, &req), what);
    node_wait(&req, what);
}

static void free_node(psw_sweep_shared *sh) {
    if (sh->node != MPI_COMM_NULL)
        PSW_MPI_CHECK(MPI_Comm_free(&sh->node), "MPI_Comm_free (node workers)");
    sh->node = MPI_COMM_NULL;
}

/* The whole pages inside [p, p + bytes): what mprotect may change without touching memory the
 * MPI library keeps next to the window. */
static void inner_pages(void *p, size_t bytes, void **lo, size_t *len) {
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096u;
    uintptr_t a = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t b = ((uintptr_t)p + bytes) & ~(page - 1);
    *lo = (void *)a;
    *len = b > a ? (size_t)(b - a) : 0;
}

/* Frees the window of a node whose ranks all hold one; no rank spins in MPI_Win_free's
 * internal barrier (the non-blocking barrier first). */
static void free_window(psw_sweep_shared *sh) {
    if (sh->ro_len && mprotect(sh->ro, sh->ro_len, PROT_READ | PROT_WRITE) != 0)
        PSW_LOG_WARN("sweep: mprotect (shared teacher weights, writable again): %s",
                     strerror(errno));
    sh->ro = NULL, sh->ro_len = 0;
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Ibarrier(sh->node, &req), "MPI_Ibarrier (shared weights)");
    node_wait(&req, "MPI_Ibarrier (shared weights)");
    PSW_MPI_CHECK(MPI_Win_unlock_all(sh->win), "MPI_Win_unlock_all (shared weights)");
    PSW_MPI_CHECK(MPI_Win_free(&sh->win), "MPI_Win_free (shared weights)");
    sh->win = MPI_WIN_NULL;
    sh->weights = NULL, sh->n_weights = 0;
}

void psw_sweep_shared_open(const psw_sweep_env *env, bool enabled, psw_sweep_shared *sh) {
    memset(sh, 0, sizeof *sh);
    sh->node = MPI_COMM_NULL;
    sh->win = MPI_WIN_NULL;
    if (!enabled) return;
    bool worker = env->rank != 0;
    /* Collective over MPI_COMM_WORLD; rank 0 takes part only to be left out. */
    PSW_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD,
                                      worker ? MPI_COMM_TYPE_SHARED : MPI_UNDEFINED, env->rank,
                                      MPI_INFO_NULL, &sh->node),
                  "MPI_Comm_split_type (node workers)");
    if (!worker) return;
    PSW_MPI_CHECK(MPI_Comm_set_errhandler(sh->node, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler (node workers)");
    int me = 0, n_node = 1;
    PSW_MPI_CHECK(MPI_Comm_rank(sh->node, &me), "MPI_Comm_rank (node workers)");
    PSW_MPI_CHECK(MPI_Comm_size(sh->node, &n_node), "MPI_Comm_size (node workers)");
    if (n_node < 2) {
        free_node(sh);
        return;
    }

    /* The node's first worker sizes the arena from the checkpoint (headers only). A failure
     * here is left to each worker's own psw_run_context_open, which reports it by file. */
    char *dir = NULL;
    psw_model_config info_cfg; /* the leader's: sizes the arena and its bf16 layout */
    memset(&info_cfg, 0, sizeof info_cfg);
    int64_t head[2] = {PSW_OK, 0}; /* status, floats */
    if (me == 0) {
        psw_err e = {0};
        psw_checkpoint_info info;
        psw_status st = psw_run_model_dir(env->spec, &dir, &e);
        if (st == PSW_OK) st = psw_checkpoint_inspect(dir, &info, &e);
        if (st == PSW_OK) info_cfg = info.cfg;
        if (st == PSW_OK) {
            /* 4-byte words of the arena: floats, or the bf16 bytes rounded up (run.h). */
            size_t bytes = psw_params_bytes(&info.cfg, psw_run_teacher_bf16_groups(env->spec));
            size_t words = (bytes + sizeof(float) - 1) / sizeof(float);
            head[1] = (int64_t)words;
            if (words > (SIZE_MAX - 64) / sizeof(float) || words > INT64_MAX / 8)
                st = PSW_ERR_NOMEM;
        }
        head[0] = st;
    }
    node_bcast(sh, head, 2, MPI_INT64_T, "MPI_Ibcast (shared weights size)");
    if (head[0] != PSW_OK) {
        free(dir);
        free_node(sh);
        return;
    }
    size_t n = (size_t)head[1];
    /* 64 spare bytes so the arena can start 64-byte aligned, like psw_try_alloc's. The segment
     * is page-aligned in every process, so the same offset aligns it everywhere. */
    MPI_Aint bytes = me == 0 ? (MPI_Aint)(n * sizeof(float) + 64) : 0;
    void *mine = NULL;
    MPI_Win win = MPI_WIN_NULL;
    int rc = MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, sh->node, &mine, &win);
    int ok = rc == MPI_SUCCESS, all_ok = 0;
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Iallreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, sh->node, &req),
                  "MPI_Iallreduce (shared weights window)");
    node_wait(&req, "MPI_Iallreduce (shared weights window)");
    if (!all_ok) {
        /* A window only some ranks got cannot be freed collectively; MPI_Finalize takes it. */
        if (me == 0) {
            char text[MPI_MAX_ERROR_STRING] = "another worker of the node failed";
            int len = 0;
            if (!ok && MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
                snprintf(text, sizeof text, "code %d", rc);
            PSW_LOG_WARN("sweep: no node-shared teacher weights (MPI_Win_allocate_shared of "
                         "%zu bytes: %s); each worker loads its own copy",
                         n * sizeof(float), text);
        }
        free(dir);
        free_node(sh);
        return;
    }
    sh->win = win;
    MPI_Aint got = 0;
    int disp = 0;
    void *leader = NULL;
    PSW_MPI_CHECK(MPI_Win_shared_query(win, 0, &got, &disp, &leader),
                  "MPI_Win_shared_query (shared weights)");
    PSW_ASSERT((size_t)got >= n * sizeof(float) + 64 && leader);
    float *arena = (float *)(((uintptr_t)leader + 63) & ~(uintptr_t)63);
    /* Passive-target epoch for the whole life of the window: MPI_Win_sync orders the leader's
     * stores before the others' loads (the MPI unified model for shared windows). */
    PSW_MPI_CHECK(MPI_Win_lock_all(MPI_MODE_NOCHECK, win), "MPI_Win_lock_all (shared weights)");

    int64_t loaded = PSW_OK;
    char msg[PSW_ERR_MSG_SIZE] = "";
    double t0 = psw_now();
    if (me == 0) {
        psw_err e = {0};
        psw_model tmp;
        unsigned half = psw_run_teacher_bf16_groups(env->spec);
        loaded = half ? psw_model_load_into_storage(&tmp, dir, half, arena,
                                                    psw_params_bytes(&info_cfg, half), &e)
                      : psw_model_load_into(&tmp, dir, arena, n, &e);
        psw_model_free(&tmp); /* borrowed: the arena stays */
        snprintf(msg, sizeof msg, "%s", e.msg);
        PSW_MPI_CHECK(MPI_Win_sync(win), "MPI_Win_sync (shared weights)");
    }
    free(dir);
    /* The others wait here, napping between tests, while the leader reads the checkpoint. */
    node_bcast(sh, &loaded, 1, MPI_INT64_T, "MPI_Ibcast (shared weights loaded)");
    if (loaded != PSW_OK) {
        if (me == 0)
            PSW_LOG_WARN("sweep: loading the node-shared teacher weights failed (%s); each worker "
                         "loads its own copy",
                         msg);
        free_window(sh);
        free_node(sh);
        return;
    }
    if (me != 0) PSW_MPI_CHECK(MPI_Win_sync(win), "MPI_Win_sync (shared weights)");
    sh->weights = arena;
    sh->n_weights = n;
    /* Nothing may write the teacher (model.h): make a stray store fault instead of silently
     * changing every worker's teacher. */
    inner_pages(arena, n * sizeof(float), &sh->ro, &sh->ro_len);
    if (sh->ro_len && mprotect(sh->ro, sh->ro_len, PROT_READ) != 0) {
        PSW_LOG_WARN("sweep: mprotect (shared teacher weights, read-only): %s", strerror(errno));
        sh->ro = NULL, sh->ro_len = 0;
    }
    if (me == 0) {
        char host[PSW_HOST_SIZE];
        if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "?");
        host[sizeof host - 1] = '\0';
        PSW_LOG_INFO("sweep: teacher weights (%.1f MiB) loaded once in %.1f s and shared by %d "
                     "workers on %s (%zu bytes, %s)",
                     (double)(n * sizeof(float)) / 1048576.0, psw_now() - t0, n_node, host,
                     n * sizeof(float), psw_run_teacher_bf16_groups(env->spec) ? "bf16" : "fp32");
    }
}

void psw_sweep_shared_close(psw_sweep_shared *sh) {
    if (sh->win != MPI_WIN_NULL) free_window(sh);
    free_node(sh);
}
