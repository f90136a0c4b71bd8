/* cmd_run.c: `prunesweep run SPEC.json [--new] [--grace SECONDS] [--threads-per-rank T]
 * [--cache-dir DIR] [--only-cache] [--simulate SCALE]`: the sweep (see include/psw/sweep.h).
 * Run it under mpirun for N-1 workers, or alone to run every configuration in this process;
 * --only-cache builds just the teacher cache (slurm/prepare.sbatch); --simulate measures the
 * coordinator with sleeping workers (bench/sweep/scale.sh). Exit 0 complete, 1 failure, 2 usage error or
 * invalid spec, 3 stopped by a signal (rerun the same command to resume). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/sweep.h"

static void usage(FILE *f) {
    fputs("usage: [mpirun -np N] prunesweep run SPEC.json [--new] [--grace SECONDS]\n"
          "                                   [--threads-per-rank T] [--cache-dir DIR]\n"
          "                                   [--only-cache] [--simulate SCALE]\n"
          "                                   [--no-shared-weights]\n"
          "  --new                 move an existing results file aside (OUTPUT.bak-TIMESTAMP)\n"
          "                        and start a fresh one; without it a rerun resumes\n"
          "  --grace SECONDS       after SIGTERM/SIGINT/SIGUSR1, how long running\n"
          "                        configurations may finish (default 60)\n"
          "  --threads-per-rank T  OpenBLAS threads per rank (default: the spec's\n"
          "                        threads_per_rank, else cores / workers, or the cores\n"
          "                        mpirun bound the rank to: -np 2 binds one core per rank\n"
          "                        unless mpirun gets --bind-to none)\n"
          "  --cache-dir DIR       teacher-logits cache directory (default OUTPUT.cache)\n"
          "  --only-cache          only build the teacher-logits cache the kl/mix\n"
          "                        configurations read (and the embedded default model\n"
          "                        when the spec uses \"default\"), then exit 0; a valid\n"
          "                        cache is kept as it is. Writes no results: the results\n"
          "                        file is neither created nor read. Under mpirun rank 0\n"
          "                        builds it (default: with all its cores) and the other\n"
          "                        ranks just exit. Not with --new\n"
          "  --simulate SCALE      advanced, for measuring the coordinator (needs mpirun,\n"
          "                        >= 2 ranks): workers load no model; each configuration\n"
          "                        sleeps its cost-model time x SCALE (> 0) and returns a\n"
          "                        synthetic row (status ok, message \"simulated\", probabilities\n"
          "                        of the test set's size). The results file is marked\n"
          "                        simulated; a real run refuses to resume it, and the other\n"
          "                        way round. Not with --only-cache\n"
          "  --no-shared-weights   every worker loads its own copy of the teacher\n"
          "                        (default: the workers of a node share one read-only\n"
          "                        copy in MPI shared memory)\n"
          "Rank 0 coordinates and writes the results; ranks 1..N-1 run configurations.\n"
          "Exit status: 0 complete, 1 failure, 2 usage or spec error, 3 stopped (resumable).\n",
          f);
}

/* Value of option argv[*i] ("--name VALUE" or "--name=VALUE"); NULL after reporting. */
static const char *value_of(int argc, char **argv, int *i, const char *name) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[n] == '=') return a + n + 1;
    if (*i + 1 >= argc) {
        psw_cli_error("run: %s needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

static bool is_opt(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* An interrupted sweep is not an error: it says how to resume, without the error prefix. */
static void report_failure(psw_status st, const char *msg) {
    if (st == PSW_ERR_INTERRUPTED) fprintf(stderr, "prunesweep: %s\n", msg);
    else psw_cli_error("%s", msg);
}

int psw_cmd_run(int argc, char **argv) {
    psw_sweep_options opt = {.grace_seconds = PSW_SWEEP_DEFAULT_GRACE};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return PSW_EXIT_OK;
        } else if (strcmp(a, "--new") == 0) {
            opt.fresh = true;
        } else if (strcmp(a, "--only-cache") == 0) {
            opt.only_cache = true;
        } else if (strcmp(a, "--no-shared-weights") == 0) {
            opt.no_shared_weights = true;
        } else if (is_opt(a, "--grace")) {
            const char *v = value_of(argc, argv, &i, "--grace");
            if (!v) return PSW_EXIT_USAGE;
            double g;
            if (!psw_parse_double(v, &g) || !isfinite(g) || g < 0 || g > 86400) {
                psw_cli_error("run: --grace: '%s' is not a number of seconds in [0, 86400]", v);
                return PSW_EXIT_USAGE;
            }
            opt.grace_seconds = g;
        } else if (is_opt(a, "--threads-per-rank")) {
            const char *v = value_of(argc, argv, &i, "--threads-per-rank");
            if (!v) return PSW_EXIT_USAGE;
            long t;
            if (!psw_parse_long(v, &t) || t < 1 || t > 4096) {
                psw_cli_error("run: --threads-per-rank: '%s' is not an integer in [1, 4096]", v);
                return PSW_EXIT_USAGE;
            }
            opt.threads_per_rank = (int)t;
        } else if (is_opt(a, "--simulate")) {
            const char *v = value_of(argc, argv, &i, "--simulate");
            if (!v) return PSW_EXIT_USAGE;
            double x;
            if (!psw_parse_double(v, &x) || !isfinite(x) || x <= 0 || x > 1e6) {
                psw_cli_error("run: --simulate: '%s' is not a scale factor in (0, 1e6]", v);
                return PSW_EXIT_USAGE;
            }
            opt.simulate = x;
        } else if (is_opt(a, "--cache-dir")) {
            const char *v = value_of(argc, argv, &i, "--cache-dir");
            if (!v) return PSW_EXIT_USAGE;
            if (!*v) {
                psw_cli_error("run: --cache-dir: empty path");
                return PSW_EXIT_USAGE;
            }
            opt.cache_dir = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("run: unknown option '%s' (see 'prunesweep run --help')", a);
            return PSW_EXIT_USAGE;
        } else if (opt.spec_path) {
            psw_cli_error("run: more than one spec given ('%s' and '%s')", opt.spec_path, a);
            return PSW_EXIT_USAGE;
        } else {
            opt.spec_path = a;
        }
    }
    if (!opt.spec_path) {
        psw_cli_error("run: missing SPEC.json (see 'prunesweep run --help')");
        return PSW_EXIT_USAGE;
    }
    if (opt.only_cache && opt.fresh) {
        psw_cli_error("run: --new and --only-cache: --only-cache writes no results file, so "
                      "there is nothing to move aside");
        return PSW_EXIT_USAGE;
    }

    if (opt.only_cache && opt.simulate > 0) {
        psw_cli_error("run: --simulate and --only-cache: a simulated sweep builds no cache");
        return PSW_EXIT_USAGE;
    }

    opt.report_failure = report_failure;
    psw_sweep_outcome out;
    psw_err err = {0};
    psw_status st = psw_sweep_run(&opt, &out, &err);
    if (st == PSW_OK) return PSW_EXIT_OK;
    if (out.report) report_failure(st, err.msg);
    if (st == PSW_ERR_INTERRUPTED) return PSW_EXIT_RESUMABLE;
    if (out.spec_error && st != PSW_ERR_IO) return PSW_EXIT_USAGE;
    return PSW_EXIT_FAIL;
}
