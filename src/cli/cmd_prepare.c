/* cmd_prepare.c: `prunesweep prepare-default [DIR]`: builds the embedded default (world,
 * tokenizer, pretrained tiny OLMo2 teacher), or reports that DIR already holds it. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/pretrain.h"
#include "psw/run.h"

static const char *const prepare_usage =
    "prunesweep prepare-default [DIR] [--seed S] [--entities N] [--steps N] [--force]";

int psw_cmd_prepare_default(int argc, char **argv) {
    psw_default_opts o;
    psw_default_opts_init(&o);
    long seed = 0, entities = o.world.n_entities, steps = o.train.steps;
    bool force = false;
    psw_opt opts[] = {
        {"seed", PSW_OPT_LONG, &seed, NULL},
        {"entities", PSW_OPT_LONG, &entities, NULL},
        {"steps", PSW_OPT_LONG, &steps, NULL},
        {"force", PSW_OPT_FLAG, &force, NULL},
    };
    const char *pos[1];
    int n_pos;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 0, 1, &n_pos,
                           prepare_usage);
    if (rc >= 0) return rc;
    if (seed < 0 || entities < 1 || entities > PSW_WORLD_MAX_ENTITIES || steps < 1) {
        psw_cli_error("prepare-default: --seed >= 0, --entities in 1..%d and --steps >= 1",
                      PSW_WORLD_MAX_ENTITIES);
        return PSW_EXIT_USAGE;
    }
    o.world.seed = (uint64_t)seed;
    o.train.seed = (uint64_t)seed;
    o.world.n_entities = (int)entities;
    o.train.steps = steps;
    char *dir = n_pos ? NULL : psw_run_default_dir();
    const char *target = n_pos ? pos[0] : dir;
    if (!force && psw_default_ready(target, &o)) {
        printf("%s: the default is already prepared\n", target);
        free(dir);
        return PSW_EXIT_OK;
    }
    psw_err err = {0};
    double acc = 0.0;
    if (psw_default_prepare(target, &o, &acc, &err) != PSW_OK) {
        psw_cli_error("prepare-default: %s", err.msg);
        free(dir);
        return PSW_EXIT_FAIL;
    }
    printf("%s: prepared (teacher dev accuracy %.3f)\n", target, acc);
    free(dir);
    return PSW_EXIT_OK;
}
