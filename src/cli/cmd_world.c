/* cmd_world.c: `prunesweep make-world OUT_DIR [options]`: writes a synthetic commonsense world
 * (train/dev/test JSONL, corpus.txt), its byte-level BPE tokenizer.json and world.json. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/world.h"

static void usage(FILE *f) {
    fputs("usage: prunesweep make-world OUT_DIR [--seed S] [--entities N] [--vocab V]\n"
          "                             [--facts-per-entity K] [--train N] [--dev N] [--test N]\n"
          "                             [--holdout-pct P] [--drills N] [--fixed-choices]\n"
          "Writes train.jsonl, dev.jsonl, test.jsonl, corpus.txt, tokenizer.json and world.json.\n"
          "Defaults: seed 0, 40 entities, 5 facts per entity, 2000/200/200 questions, holdout 0,\n"
          "1000 reading drills in the corpus, vocab 1024 (ids, including <|endoftext|> and\n"
          "<|pad|>). --fixed-choices: each relation always lists the same 5 objects in one order.\n",
          f);
}

int psw_cmd_make_world(int argc, char **argv) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    long vocab = 1024;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return PSW_EXIT_OK;
        }
        if (strcmp(a, "--fixed-choices") == 0) {
            o.fixed_choices = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (dir) {
                psw_cli_error("make-world: unexpected argument '%s' (OUT_DIR is '%s')", a, dir);
                return PSW_EXIT_USAGE;
            }
            dir = a;
            continue;
        }
        static const char *const flags[] = {"--seed",  "--entities", "--vocab",
                                            "--facts-per-entity", "--train", "--dev",
                                            "--test",  "--holdout-pct", "--drills"};
        int which = -1;
        for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]); k++)
            if (strcmp(a, flags[k]) == 0) which = k;
        if (which < 0) {
            psw_cli_error("make-world: unknown option '%s'", a);
            return PSW_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            psw_cli_error("make-world: %s needs a value", a);
            return PSW_EXIT_USAGE;
        }
        long v;
        if (!psw_parse_long(argv[++i], &v) || v < 0) {
            psw_cli_error("make-world: %s: '%s' is not a non-negative integer", a, argv[i]);
            return PSW_EXIT_USAGE;
        }
        if (which != 0 && v > 100000000L) {
            psw_cli_error("make-world: %s: %ld is too large", a, v);
            return PSW_EXIT_USAGE;
        }
        switch (which) {
        case 0: o.seed = (uint64_t)v; break;
        case 1: o.n_entities = (int)v; break;
        case 2: vocab = v; break;
        case 3: o.facts_per_entity = (int)v; break;
        case 4: o.n_train = (int)v; break;
        case 5: o.n_dev = (int)v; break;
        case 6: o.n_test = (int)v; break;
        case 7: o.holdout_pct = (int)v; break;
        default: o.n_drills = (int)v; break;
        }
    }
    if (!dir) {
        psw_cli_error("make-world: missing OUT_DIR (see 'prunesweep make-world --help')");
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_status st = psw_world_make_dir(&o, (size_t)vocab, dir, &err);
    if (st == PSW_ERR_INVALID_ARG) {
        psw_cli_error("make-world: %s", err.msg);
        return PSW_EXIT_USAGE;
    }
    if (st != PSW_OK) {
        psw_cli_error("make-world: %s", err.msg);
        return PSW_EXIT_FAIL;
    }
    return PSW_EXIT_OK;
}
