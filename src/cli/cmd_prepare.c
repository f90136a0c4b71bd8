/* cmd_prepare.c: `prunesweep prepare-default [DIR]`: builds the embedded default (world,
 * tokenizer, pretrained tiny OLMo2 teacher), or reports that DIR already holds it. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/pretrain.h"
#include "psw/run.h"

static const char *const prepare_usage =
    "prunesweep prepare-default [DIR] [--seed S] [--entities N] [--steps N] [--sft-epochs N] [--vocab V] [--train-questions N] [--mlp H] [--hidden C] [--force]";

int psw_cmd_prepare_default(int argc, char **argv) {
    psw_default_opts o;
    psw_default_opts_init(&o);
    long seed = 0, entities = o.world.n_entities, steps = o.train.steps, sft_epochs = o.sft_epochs;
    long vocab = o.vocab_size, questions = o.world.n_train, mlp = o.intermediate, hidden = o.hidden;
    bool force = false;
    psw_opt opts[] = {
        {"seed", PSW_OPT_LONG, &seed, NULL},
        {"entities", PSW_OPT_LONG, &entities, NULL},
        {"steps", PSW_OPT_LONG, &steps, NULL},
        {"sft-epochs", PSW_OPT_LONG, &sft_epochs, NULL},
        {"vocab", PSW_OPT_LONG, &vocab, NULL},
        {"train-questions", PSW_OPT_LONG, &questions, NULL},
        {"mlp", PSW_OPT_LONG, &mlp, NULL},
        {"hidden", PSW_OPT_LONG, &hidden, NULL},
        {"force", PSW_OPT_FLAG, &force, NULL},
    };
    const char *pos[1];
    int n_pos;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 0, 1, &n_pos,
                           prepare_usage);
    if (rc >= 0) return rc;
    if (seed < 0 || entities < 1 || entities > PSW_WORLD_MAX_ENTITIES || steps < 1 ||
        sft_epochs < 0 || sft_epochs > 1000 ||
        vocab < 262 || vocab > 65536 || mlp < 1 || mlp > 65536 || hidden < o.heads ||
        hidden % o.heads != 0 || hidden > 65536 || questions < 1 || questions > PSW_WORLD_MAX_QUESTIONS) {
        psw_cli_error("prepare-default: want --seed >= 0, --entities in 1..%d, --steps >= 1, "
                      "--sft-epochs in 0..1000, --vocab in 262..65536, --mlp in 1..65536, --hidden a "
                      "multiple of %d, "
                      "--train-questions in 1..%d",
                      PSW_WORLD_MAX_ENTITIES, o.heads, PSW_WORLD_MAX_QUESTIONS);
        return PSW_EXIT_USAGE;
    }
    o.world.seed = (uint64_t)seed;
    o.train.seed = (uint64_t)seed;
    o.world.n_entities = (int)entities;
    o.train.steps = steps;
    o.sft_epochs = (int)sft_epochs;
    o.vocab_size = (int)vocab;
    o.world.n_train = (int)questions;
    o.intermediate = (int)mlp;
    o.hidden = (int)hidden;
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
