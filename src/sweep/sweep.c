/* sweep.c: psw_sweep_run: MPI start-up and shut-down, the MPI error policy, signals, the
 * spec broadcast and the OpenBLAS thread count; the roles live in coordinator.c and worker.c,
 * `run --only-cache` in cache_only.c. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "psw/pretrain.h"
#include "sweep_internal.h"

MPI_Comm psw_sweep_ctrl = MPI_COMM_NULL, psw_sweep_data = MPI_COMM_NULL;
static psw_results *registered_results;
static bool mpi_up;

/* ---- errors and aborts ---- */

void psw_sweep_register_results(psw_results *r) { registered_results = r; }

_Noreturn void psw_sweep_abort(int code) {
    if (registered_results) {
        psw_results *r = registered_results;
        registered_results = NULL;
        psw_err e = {0};
        if (psw_results_close(r, &e) != PSW_OK) PSW_LOG_ERROR("closing the results: %s", e.msg);
    }
    fflush(stdout);
    fflush(stderr);
    if (mpi_up) MPI_Abort(MPI_COMM_WORLD, code);
    _exit(code);
}

_Noreturn void psw_sweep_mpi_fatal(int rc, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", rc);
    PSW_LOG_ERROR("MPI error in %s: %s; closing the results file and aborting the job", what,
                  text);
    psw_sweep_abort(1);
}

/* PSW_ASSERT on any rank takes the whole job down (the results rows are already on disk). */
static void abort_hook(void) {
    if (mpi_up) MPI_Abort(MPI_COMM_WORLD, 134);
}

void psw_sweep_nap(void) {
    struct timespec ts = {0, PSW_SWEEP_POLL_NS};
    nanosleep(&ts, NULL); /* EINTR (a signal) just ends the nap early */
}

void psw_sweep_wait(MPI_Request *req, MPI_Status *status, const char *what) {
    for (;;) {
        int done = 0;
        PSW_MPI_CHECK(MPI_Test(req, &done, status ? status : MPI_STATUS_IGNORE), what);
        if (done) return;
        psw_sweep_nap();
    }
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t serial_grace = -1; /* seconds; -1 off, -2 armed */

static void say(const char *s) {
    ssize_t n = write(STDERR_FILENO, s, strlen(s));
    (void)n;
}

static void on_stop(int sig) {
    stop_signal = sig;
    if (serial_grace == 0) {
        say("prunesweep: stop signal: no grace; the running task is lost, exiting with 3\n");
        _exit(3);
    }
    if (serial_grace > 0) {
        alarm((unsigned)serial_grace);
        serial_grace = -2;
    }
}

static void on_alarm(int sig) {
    (void)sig;
    say("prunesweep: grace period over; the running task is lost, exiting with 3\n");
    _exit(3);
}

bool psw_sweep_stop_requested(void) { return stop_signal != 0; }

void psw_sweep_set_serial_grace(double grace_seconds) {
    if (grace_seconds < 0) {
        serial_grace = -1;
        return;
    }
    double s = grace_seconds > 86400.0 ? 86400.0 : grace_seconds;
    int whole = (int)s;
    serial_grace = (sig_atomic_t)(whole < s ? whole + 1 : whole); /* alarm() has 1 s steps */
}

void psw_sweep_cancel_serial_grace(void) {
    serial_grace = -1;
    alarm(0);
}

static psw_status install_signals(psw_err *err) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* keep file I/O in HDF5 and OpenBLAS free of EINTR */
    sa.sa_handler = on_stop;
    int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return PSW_FAIL(err, PSW_ERR_IO, "sigaction: %s", strerror(errno));
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        return PSW_FAIL(err, PSW_ERR_IO, "sigaction: %s", strerror(errno));
    return PSW_OK;
}

/* ---- threads ---- */

static int online_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int usable_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return online_cores();
}

/* Cores / workers on this node. When the launcher bound the rank to fewer cores than the node
 * has (mpirun binds with -np <= 2, srun --cpus-per-task), those cores are this rank's share. */
static int auto_threads(int rank, int size) {
    int cores = usable_cores();
    if (size == 1) return cores;
    if (cores < online_cores()) return cores;
    MPI_Comm node = MPI_COMM_NULL;
    PSW_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                                      &node),
                  "MPI_Comm_split_type (ranks per node)");
    int local = 1, has_coord = rank == 0, coords = 0;
    PSW_MPI_CHECK(MPI_Comm_size(node, &local), "MPI_Comm_size (node)");
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Iallreduce(&has_coord, &coords, 1, MPI_INT, MPI_SUM, node, &req),
                  "MPI_Iallreduce (ranks per node)");
    psw_sweep_wait(&req, NULL, "MPI_Iallreduce (ranks per node)");
    PSW_MPI_CHECK(MPI_Comm_free(&node), "MPI_Comm_free (node)");
    int workers = local - coords;
    if (workers < 1) workers = 1;
    int t = cores / workers;
    return t < 1 ? 1 : t;
}

/* ---- spec ---- */

static void bcast(void *buf, int count, MPI_Datatype type, const char *what) {
    MPI_Request req;
    PSW_MPI_CHECK(MPI_Ibcast(buf, count, type, 0, psw_sweep_ctrl, &req), what);
    psw_sweep_wait(&req, NULL, what);
}

/* Rank 0 reads the file; every rank parses the same bytes with psw_spec_load's base_dir. */
static psw_status load_spec(const char *path, int rank, psw_spec *spec, psw_err *err) {
    char *text = NULL;
    size_t len = 0;
    int64_t head[2] = {PSW_OK, 0}; /* status, length */
    if (rank == 0) {
        head[0] = psw_read_file(path, &text, &len, err);
        head[1] = (int64_t)len;
        if (head[0] == PSW_OK && len > (size_t)0x7fffffff) {
            head[0] = PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: %zu bytes is too large for a spec",
                               path, len);
            free(text);
            text = NULL;
        }
    }
    bcast(head, 2, MPI_INT64_T, "MPI_Ibcast (spec header)");
    if (head[0] != PSW_OK) return (psw_status)head[0];
    if (rank != 0) {
        len = (size_t)head[1];
        text = psw_xmalloc(len + 1);
        text[len] = '\0';
    }
    bcast(text, (int)len, MPI_CHAR, "MPI_Ibcast (spec text)");
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = psw_xstrdup("");
    } else if (slash == path) {
        dir = psw_xstrdup("/");
    } else {
        size_t n = (size_t)(slash - path);
        dir = psw_xmalloc(n + 1);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    psw_status st = psw_spec_parse(text, len, path, dir, PSW_SPEC_MODE_RUN, spec, err);
    free(dir);
    free(text);
    return st;
}

/* The directory the results file goes in must exist and be writable. A missing one is most
 * likely a typo in the spec; without this check the teacher cache (OUTPUT.cache) would create
 * it silently, and a read-only one would fail only after every rank loaded the model. */
static psw_status check_output_dir(const char *output, psw_err *err) {
    char *dir = psw_path_dirname(output);
    if (!*dir) {
        free(dir);
        dir = psw_xstrdup(".");
    }
    psw_status st = PSW_OK;
    struct stat sb;
    if (stat(dir, &sb) != 0)
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: output directory %s: %s", output, dir,
                      strerror(errno));
    else if (!S_ISDIR(sb.st_mode))
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: output directory %s is not a directory", output, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: output directory %s is not writable: %s", output,
                      dir, strerror(errno));
    free(dir);
    return st;
}

/* ---- entry ---- */

psw_status psw_sweep_run(const psw_sweep_options *opt, psw_sweep_outcome *out, psw_err *err) {
    PSW_ASSERT(opt && opt->spec_path && out);
    memset(out, 0, sizeof *out);
    psw_spec spec;
    memset(&spec, 0, sizeof spec);
    bool have_spec = false, we_init = false;
    char *cache_dir = NULL;
    psw_err local = {0};
    psw_status st = PSW_OK;
    psw_sweep_shared shared = {.node = MPI_COMM_NULL, .win = MPI_WIN_NULL};

    int inited = 0;
    if (MPI_Initialized(&inited) != MPI_SUCCESS)
        return PSW_FAIL(err, PSW_ERR_MPI, "MPI_Initialized failed");
    if (!inited) {
        if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
            return PSW_FAIL(err, PSW_ERR_MPI, "MPI_Init failed");
        we_init = true;
    }
    mpi_up = true;
    psw_set_abort_hook(abort_hook);
    PSW_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
    PSW_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &out->rank), "MPI_Comm_rank");
    PSW_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &out->size), "MPI_Comm_size");
    PSW_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &psw_sweep_ctrl), "MPI_Comm_dup");
    PSW_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &psw_sweep_data), "MPI_Comm_dup");
    PSW_MPI_CHECK(MPI_Comm_set_errhandler(psw_sweep_ctrl, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
    PSW_MPI_CHECK(MPI_Comm_set_errhandler(psw_sweep_data, MPI_ERRORS_RETURN),
                  "MPI_Comm_set_errhandler");
    out->report = out->rank == 0;
    psw_log_set_context(out->rank, -1);
    PSW_LOG_DEBUG("sweep: MPI initialised: rank %d of %d", out->rank, out->size);

    /* Every rank's own failure before the roles start is the same on every rank (same spec
     * bytes, same code), so no agreement round is needed. */
    st = install_signals(out->rank == 0 ? err : &local);
    if (st != PSW_OK) goto finish;
    st = load_spec(opt->spec_path, out->rank, &spec, out->rank == 0 ? err : &local);
    if (st != PSW_OK) {
        out->spec_error = true;
        goto finish;
    }
    have_spec = true;
    if (opt->simulate > 0 && out->size < 2) {
        st = PSW_FAIL(out->rank == 0 ? err : &local, PSW_ERR_INVALID_ARG,
                      "--simulate measures the coordinator: run it under mpirun with at least 2 "
                      "ranks");
        goto finish;
    }

    /* --only-cache: rank 0 alone computes, so by default it takes every core it may use
     * (the same choice on every rank, so the collective in auto_threads is skipped by all). */
    int threads = opt->threads_per_rank > 0 ? opt->threads_per_rank
                  : spec.threads_per_rank > 0 ? spec.threads_per_rank
                  : opt->only_cache           ? usable_cores()
                                              : auto_threads(out->rank, out->size);
    const char *output = spec.output.resolved;
    int64_t dir_ok = PSW_OK;
    if (out->rank == 0) dir_ok = check_output_dir(output, err);
    bcast(&dir_ok, 1, MPI_INT64_T, "MPI_Ibcast (output directory)");
    if (dir_ok != PSW_OK) {
        st = (psw_status)dir_ok;
        goto finish;
    }
    if (spec.model.is_default) {
        /* Rank 0 builds the embedded default if it is missing; the others wait for it here
         * (a non-spinning broadcast) and then find it ready. */
        int64_t ready = PSW_OK;
        if (out->rank == 0) {
            char *dir = NULL;
            ready = psw_default_ensure(&dir, err);
            free(dir);
        }
        bcast(&ready, 1, MPI_INT64_T, "MPI_Ibcast (embedded default)");
        if (ready != PSW_OK) {
            st = (psw_status)ready;
            goto finish;
        }
    }
    if (opt->cache_dir) {
        cache_dir = psw_xstrdup(opt->cache_dir);
    } else {
        size_t n = strlen(output) + sizeof ".cache";
        cache_dir = psw_xmalloc(n);
        snprintf(cache_dir, n, "%s.cache", output);
    }
    psw_sweep_env env = {.spec = &spec, .opt = opt, .output = output, .cache_dir = cache_dir,
                         .rank = out->rank, .size = out->size, .threads = threads};
    /* The workers of a node share one read-only teacher (the same choice on every rank: the
     * call is collective). */
    psw_sweep_shared_open(&env, !opt->only_cache && opt->simulate <= 0 && out->size > 1 &&
                                    !opt->no_shared_weights,
                          &shared);
    env.teacher_weights = shared.weights;
    env.teacher_floats = shared.n_weights;
    if (opt->only_cache) {
        /* The other ranks wait in the final broadcast (2 ms naps, no spinning). */
        out->threads = out->rank == 0 ? threads : 0;
        if (out->rank == 0) st = psw_sweep_cache_only(&env, err);
    } else if (out->rank == 0) {
        if (out->size > 1) out->threads = 0;
        else out->threads = threads;
        st = psw_sweep_coordinate(&env, out, err);
    } else {
        out->threads = threads;
        psw_sweep_work(&env);
    }

finish:;
    if (out->rank == 0 && st != PSW_OK && opt->report_failure) {
        opt->report_failure(st, err->msg);
        out->report = false;
    }
    /* Every rank leaves with rank 0's verdict. */
    int64_t verdict[2] = {st, out->spec_error};
    bcast(verdict, 2, MPI_INT64_T, "MPI_Ibcast (final status)");
    if (out->rank != 0) {
        st = (psw_status)verdict[0];
        out->spec_error = verdict[1] != 0;
        if (st != PSW_OK) PSW_FAIL(err, st, "see rank 0");
    }
    psw_sweep_shared_close(&shared); /* every worker's context is closed by now */
    if (have_spec) psw_spec_free(&spec);
    free(cache_dir);
    PSW_MPI_CHECK(MPI_Comm_free(&psw_sweep_data), "MPI_Comm_free");
    PSW_MPI_CHECK(MPI_Comm_free(&psw_sweep_ctrl), "MPI_Comm_free");
    psw_set_abort_hook(NULL);
    if (we_init) {
        mpi_up = false;
        if (MPI_Finalize() != MPI_SUCCESS && st == PSW_OK)
            st = PSW_FAIL(err, PSW_ERR_MPI, "MPI_Finalize failed");
    }
    return st;
}
