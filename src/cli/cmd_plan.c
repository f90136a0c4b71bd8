/* cmd_plan.c: `prunesweep plan SPEC.json`: memory per rank and node and estimated time of a
 * sweep on a cluster layout, from the spec and the model's config.json alone (no weights); it
 * refuses layouts that do not fit (exit 1). `prunesweep plan --calibrate` measures the engine's
 * effective GFLOP/s on this machine (the figures plan.h stores). Model: include/psw/plan.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/config.h"
#include "psw/model.h"
#include "psw/plan.h"
#include "psw/run.h"
#include "psw/spec.h"

/* The one-line synopsis for error lines; --help prints it with the option list below. */
static const char *const plan_synopsis =
    "prunesweep plan SPEC.json [--nodes N] [--ranks-per-node R] [--threads-per-rank T] "
    "[--node-mem GB] [--model-config CONFIG.json] [--n-train N] [--n-test N] [--train-gflops G] "
    "[--fwd-gflops G] [--no-shared-weights] | prunesweep plan --calibrate [--threads-per-rank T] "
    "[--reps N]";
static const char *const plan_options =
    "usage: prunesweep plan SPEC.json [--nodes N] [--ranks-per-node R] [--threads-per-rank T]\n"
    "                       [--node-mem GB] [--model-config CONFIG.json] [--n-train N] [--n-test N]\n"
    "                       [--train-gflops G] [--fwd-gflops G] [--no-shared-weights]\n"
    "       prunesweep plan --calibrate [--threads-per-rank T] [--reps N]\n"
    "  --nodes N             nodes of the job (default 1)\n"
    "  --ranks-per-node R    MPI ranks per node (default 1); rank 0 coordinates and runs no task\n"
    "  --threads-per-rank T  OpenBLAS threads per rank (default: the spec's threads_per_rank,\n"
    "                        else this machine's cores / R)\n"
    "  --node-mem GB         memory per node in GiB (default: this machine's)\n"
    "  --model-config PATH   config.json to plan with (default MODEL_DIR/config.json)\n"
    "  --n-train/--n-test N  example counts when the data files are not on this machine\n"
    "  --train-gflops/--fwd-gflops G  effective GFLOP/s per rank measured with --calibrate on\n"
    "                        the target nodes (default: this machine's calibration, plan.h)\n"
    "  --no-shared-weights   plan for `run --no-shared-weights` (a teacher copy per rank)\n"
    "  --calibrate           measure this machine (small and medium model) and exit\n";

static const double GiB = 1024.0 * 1024.0 * 1024.0;

static void print_duration(double s) {
    if (!isfinite(s)) printf("-");
    else if (s < 120) printf("%.1f s", s);
    else if (s < 7200) printf("%.1f min", s / 60);
    else if (s < 172800) printf("%.1f h", s / 3600);
    else printf("%.1f days", s / 86400);
}

/* Counts the non-blank lines of a JSONL file and its size. */
static psw_status count_jsonl(const char *path, size_t *n, double *bytes, psw_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t count = 0, total = 0;
    bool blank = true;
    int c;
    while ((c = fgetc(f)) != EOF) {
        total++;
        if (c == '\n') {
            if (!blank) count++;
            blank = true;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            blank = false;
        }
    }
    if (!blank) count++;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) return PSW_FAIL(err, PSW_ERR_IO, "%s: read error", path);
    *n = count;
    *bytes = (double)total;
    return PSW_OK;
}

static int calibrate(long threads, long reps) {
    static const char *const names[2] = {"small (C=256 L=4 H=704 V=4096, B=4 T=128)",
                                         "medium (C=768 L=4 H=2048 V=16384, B=4 T=256)"};
    printf("engine calibration, %ld thread(s), median of %ld after 1 warm-up:\n", threads, reps);
    for (int s = 0; s < 2; s++) {
        double tg = 0, fg = 0;
        psw_err err = {0};
        if (psw_plan_calibrate(s, (int)threads, (int)reps, &tg, &fg, &err) != PSW_OK) {
            psw_cli_error("plan: calibrate: %s", err.msg);
            return PSW_EXIT_FAIL;
        }
        printf("  %-46s train step %7.1f GFLOP/s   forward %7.1f GFLOP/s\n", names[s], tg, fg);
    }
    printf("stored in plan.h (medium, 1 thread): train %.1f, forward %.1f GFLOP/s; x%.2f per "
           "doubling of threads\n",
           PSW_PLAN_CAL_TRAIN_1T, PSW_PLAN_CAL_FWD_1T, PSW_PLAN_CAL_THREAD_SCALE);
    return PSW_EXIT_OK;
}

/* The node total as a sum, for the summary line and the refusal (plan.h has the formula). */
static void format_node_sum(char *buf, size_t n, long rpn, const psw_plan_memory *m,
                            bool private_weights) {
    if (private_weights) {
        snprintf(buf, n, "%ld rank(s) x %.2f GiB + teacher cache %.2f GiB = %.2f GiB", rpn,
                 m->per_rank / GiB, m->cache_file / GiB, m->per_node / GiB);
        return;
    }
    double own = m->per_rank - m->teacher_params;
    double startup = m->teacher_params > own ? m->teacher_params - own : 0.0;
    char extra[96] = "";
    if (startup > 0)
        snprintf(extra, sizeof extra, " + rank 0's start-up copy beyond its slot %.2f GiB",
                 startup / GiB);
    snprintf(buf, n,
             "teacher weights %.2f GiB once (shared by the workers) + %ld rank(s) x %.2f GiB%s + "
             "teacher cache %.2f GiB = %.2f GiB",
             m->teacher_params / GiB, rpn, own / GiB, extra, m->cache_file / GiB,
             m->per_node / GiB);
}

int psw_cmd_plan(int argc, char **argv) {
    long nodes = 1, rpn = 1, threads = 0, n_train_opt = 0, n_test_opt = 0, reps = 5;
    double node_mem_gb = 0, train_g = 0, fwd_g = 0;
    const char *model_config = NULL;
    bool do_calibrate = false, threads_seen = false, private_weights = false;
    psw_opt opts[] = {
        {"nodes", PSW_OPT_LONG, &nodes, NULL},
        {"ranks-per-node", PSW_OPT_LONG, &rpn, NULL},
        {"threads-per-rank", PSW_OPT_LONG, &threads, &threads_seen},
        {"node-mem", PSW_OPT_DOUBLE, &node_mem_gb, NULL},
        {"model-config", PSW_OPT_STRING, &model_config, NULL},
        {"n-train", PSW_OPT_LONG, &n_train_opt, NULL},
        {"n-test", PSW_OPT_LONG, &n_test_opt, NULL},
        {"train-gflops", PSW_OPT_DOUBLE, &train_g, NULL},
        {"fwd-gflops", PSW_OPT_DOUBLE, &fwd_g, NULL},
        {"calibrate", PSW_OPT_FLAG, &do_calibrate, NULL},
        {"no-shared-weights", PSW_OPT_FLAG, &private_weights, NULL},
        {"reps", PSW_OPT_LONG, &reps, NULL},
    };
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(plan_options, stdout);
            return PSW_EXIT_OK;
        }
    const char *pos[1];
    int n_pos = 0;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 0, 1, &n_pos,
                           plan_synopsis);
    if (rc >= 0) return rc;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    if (threads_seen && threads < 1) {
        psw_cli_error("plan: --threads-per-rank %ld must be >= 1", threads);
        return PSW_EXIT_USAGE;
    }
    if (do_calibrate) {
        if (n_pos != 0) {
            psw_cli_error("plan: --calibrate takes no SPEC");
            return PSW_EXIT_USAGE;
        }
        if (reps < 1 || reps > 100) {
            psw_cli_error("plan: --reps %ld is outside 1..100", reps);
            return PSW_EXIT_USAGE;
        }
        return calibrate(threads_seen ? threads : cores, reps);
    }
    if (n_pos != 1) {
        psw_cli_error("plan: missing SPEC.json (usage: %s)", plan_synopsis);
        return PSW_EXIT_USAGE;
    }
    if (nodes < 1 || rpn < 1 || nodes > 100000 || rpn > 4096) {
        psw_cli_error("plan: --nodes %ld and --ranks-per-node %ld must be in 1..100000 and 1..4096",
                      nodes, rpn);
        return PSW_EXIT_USAGE;
    }
    if (node_mem_gb < 0 || train_g < 0 || fwd_g < 0 || n_train_opt < 0 || n_test_opt < 0) {
        psw_cli_error("plan: --node-mem, --train-gflops, --fwd-gflops, --n-train and --n-test "
                      "must not be negative");
        return PSW_EXIT_USAGE;
    }

    const char *path = pos[0];
    psw_spec spec;
    psw_err err = {0};
    psw_status st = psw_spec_load(path, PSW_SPEC_MODE_RUN, &spec, &err);
    if (st != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return st == PSW_ERR_FORMAT || st == PSW_ERR_INVALID_ARG ? PSW_EXIT_USAGE : PSW_EXIT_FAIL;
    }
    int exit_code = PSW_EXIT_FAIL;
    char *cfg_path = NULL, *model_dir = NULL;
    if (model_config) {
        cfg_path = psw_xstrdup(model_config);
    } else {
        model_dir = spec.model.is_default ? psw_run_default_dir()
                                          : psw_xstrdup(spec.model.path.resolved);
        cfg_path = psw_path_join(model_dir, "config.json");
    }
    psw_model_config cfg;
    st = psw_config_load(cfg_path, &cfg, &err);
    if (st != PSW_OK) {
        psw_cli_error("plan: %s%s", err.msg,
                      model_config ? "" : " (without the model here, pass --model-config)");
        goto done;
    }

    size_t n_train = 0, n_test = 0;
    double train_bytes = 0, test_bytes = 0;
    const char *data_src = "counted in the data files";
    if (n_train_opt > 0 && n_test_opt > 0) {
        n_train = (size_t)n_train_opt, n_test = (size_t)n_test_opt;
        data_src = "given with --n-train / --n-test";
    } else {
        char *tp = spec.model.is_default && !spec.data.train.resolved
                       ? psw_path_join(model_dir, "train.jsonl")
                       : psw_xstrdup(spec.data.train.resolved);
        char *ep = spec.model.is_default && !spec.data.test.resolved
                       ? psw_path_join(model_dir, "dev.jsonl")
                       : psw_xstrdup(spec.data.test.resolved);
        st = count_jsonl(tp, &n_train, &train_bytes, &err);
        if (st == PSW_OK) st = count_jsonl(ep, &n_test, &test_bytes, &err);
        free(tp);
        free(ep);
        if (st != PSW_OK) {
            psw_cli_error("plan: %s (without the data here, pass --n-train and --n-test)",
                          err.msg);
            goto done;
        }
        if (n_train_opt > 0) n_train = (size_t)n_train_opt;
        if (n_test_opt > 0) n_test = (size_t)n_test_opt;
    }
    if (spec.data.limit_test > 0 && (size_t)spec.data.limit_test < n_test)
        n_test = (size_t)spec.data.limit_test;

    psw_plan_layout lay = {.nodes = (int)nodes, .ranks_per_node = (int)rpn,
                           .train_gflops = train_g, .fwd_gflops = fwd_g,
                           .private_weights = private_weights};
    const char *threads_src = "--threads-per-rank";
    if (threads_seen) {
        lay.threads_per_rank = (int)threads;
    } else if (spec.threads_per_rank > 0) {
        lay.threads_per_rank = spec.threads_per_rank;
        threads_src = "the spec's threads_per_rank";
    } else {
        lay.threads_per_rank = cores / rpn > 0 ? (int)(cores / rpn) : 1;
        threads_src = "this machine's cores / ranks per node";
    }
    const char *mem_src = "--node-mem";
    if (node_mem_gb > 0) {
        lay.node_mem = node_mem_gb * GiB;
    } else {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        lay.node_mem = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
        mem_src = "this machine's";
    }
    psw_plan p;
    st = psw_plan_compute(&spec, &cfg, n_train, n_test, train_bytes + test_bytes, &lay, &p, &err);
    if (st != PSW_OK) {
        psw_cli_error("plan: %s", err.msg);
        exit_code = PSW_EXIT_USAGE;
        goto done;
    }

    psw_params layout;
    psw_params_layout(&cfg, &layout);
    const psw_spec_grid *g = &spec.grid;
    const psw_spec_training *tr = &spec.training;
    printf("plan: %s (name \"%s\")\n", path, spec.name);
    printf("model: %s from %s: C=%d L=%d NH=%d NKV=%d HD=%d H=%d V=%d, %.3g parameters\n",
           psw_arch_name(cfg.arch), cfg_path, cfg.hidden_size, cfg.num_layers, cfg.num_heads,
           cfg.num_kv_heads, cfg.head_dim, cfg.intermediate_size, cfg.vocab_size,
           (double)layout.total);
    printf("data: %zu train, %zu test examples (%s)\n", n_train, n_test, data_src);
    printf("grid: %zu configurations (%zu retention x %zu loss x %zu data_size x %zu seed, %zu "
           "excluded) + %zu reference rows\n",
           g->n_configs, g->n_retention, g->n_loss, g->n_data_size, g->n_seed, g->n_excluded,
           g->n_retention + 1);
    printf("layout: %ld node(s) x %ld rank(s) per node = %ld ranks (%d running tasks), %d "
           "thread(s) per rank (%s), %.1f GiB per node (%s)\n",
           nodes, rpn, nodes * rpn, p.workers, lay.threads_per_rank, threads_src,
           lay.node_mem / GiB, mem_src);

    const psw_plan_memory *m = &p.mem;
    printf("\nmemory per worker rank (as the engine allocates: %s; T = %d tokens, eval_batch %d, "
           "micro_batch %d, student at retention %g):\n",
           spec.model.dtype_frozen == PSW_SPEC_DTYPE_BF16
               ? "frozen weights bf16 + fp32 conversion scratch, the rest fp32"
               : "all fp32",
           p.T_mem, tr->eval_batch, tr->micro_batch, p.max_retention);
    struct {
        const char *what;
        double bytes;
    } lines[] = {
        {"teacher weights", m->teacher_params},
        {"teacher activations (evaluation)", m->teacher_acts},
        {"student weights", m->student_params},
        {"student gradients", m->student_grads},
        {"optimizer state (AdamW m, v)", m->student_optimizer},
        {"student activations (training)", m->student_acts},
        {"data (estimate)", m->data},
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        printf("  %-36s %10.2f GiB\n", lines[i].what, lines[i].bytes / GiB);
    printf("  %-36s %10.2f GiB\n", "total per rank", m->per_rank / GiB);
    if (p.needs_cache)
        printf("teacher cache (%s, %s): %.2f GiB file, memory-mapped and shared by the ranks of "
               "a node\n",
               tr->teacher_cache == PSW_SPEC_CACHE_TOPK ? "topk" : "fp16",
               tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT ? "every prompt position"
                                                                   : "answer position",
               m->cache_file / GiB);
    else
        printf("teacher cache: none (no kl or mix in the grid)\n");
    char node_sum[320];
    format_node_sum(node_sum, sizeof node_sum, rpn, m, private_weights);
    printf("per node: %s; usable %.0f%% of %.1f GiB = %.2f GiB: %s; at most %d rank(s) per node "
           "fit\n",
           node_sum, PSW_PLAN_MEM_FRACTION * 100, lay.node_mem / GiB, PSW_PLAN_MEM_FRACTION * lay.node_mem / GiB,
           p.fits ? "fits" : "DOES NOT FIT", p.max_ranks_per_node);

    printf("\ntime (FLOPs / effective GFLOP/s per rank: train %.1f, forward %.1f%s):\n",
           p.train_gflops, p.fwd_gflops,
           train_g > 0 || fwd_g > 0 ? ", as given"
           : lay.threads_per_rank == 1
               ? ", calibrated on the development machine"
               : ", calibrated on the development machine at 1 thread, scaled to the threads");
    printf("  prompt tokens per example: ~%d (estimate: (shots + 1) x %d)\n", p.T_mean,
           PSW_SPEC_TOKENS_PER_QUESTION);
    printf("  teacher evaluation:            ");
    print_duration(p.t_teacher_eval);
    printf("\n  teacher cache:                 ");
    print_duration(p.t_cache);
    printf("\n  unrecovered evaluations (%zu):  ", g->n_retention);
    print_duration(p.t_unrecovered);
    printf("\n  one configuration:             ");
    print_duration(p.t_config_min);
    printf(" (smallest) to ");
    print_duration(p.t_config_max);
    printf(" (largest), ");
    print_duration(p.t_configs / (double)g->n_configs);
    printf(" on average\n  per data size, at retention %g (one loss, one seed):\n", p.max_retention);
    for (size_t i = 0; i < g->n_data_size; i++) {
        psw_spec_config c = {.retention = p.max_retention, .loss = PSW_LOSS_CE,
                             .data_size = g->data_size[i]};
        double t = (double)psw_spec_train_examples(&spec, &c) * 3.0 *
                       psw_plan_forward_flops(&cfg, p.max_retention, p.T_mean, 1) /
                       (p.train_gflops * 1e9) +
                   (double)n_test * psw_plan_forward_flops(&cfg, p.max_retention, p.T_mean, 1) /
                       (p.fwd_gflops * 1e9);
        printf("    data_size %-8lld ", (long long)g->data_size[i]);
        print_duration(t);
        printf("\n");
    }
    printf("  every task on one rank:        ");
    print_duration(p.t_serial);
    printf("\n  whole grid on %d worker rank(s): ~", p.workers);
    print_duration(p.t_wall);
    printf(" (ideal load balance; at least the longest chain, cache then the largest kl "
           "configuration)\n");
    printf("not modelled: padding inside batches, the AdamW update, I/O, MPI\n");

    if (!p.fits) {
        psw_cli_error("plan: layout does not fit: %s > %.2f GiB (%.0f%% of %.1f GiB per node); %s",
                      node_sum, PSW_PLAN_MEM_FRACTION * lay.node_mem / GiB, PSW_PLAN_MEM_FRACTION * 100,
                      lay.node_mem / GiB,
                      p.max_ranks_per_node > 0 ? "use fewer ranks per node"
                                               : "not even one rank fits: use nodes with more "
                                                 "memory");
        exit_code = PSW_EXIT_FAIL;
        goto done;
    }
    exit_code = PSW_EXIT_OK;
done:
    free(cfg_path);
    free(model_dir);
    psw_spec_free(&spec);
    return exit_code;
}
