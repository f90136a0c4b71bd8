/* cmd_prune.c: `prunesweep prune MODEL_DIR --retention R OUT_DIR`: writes the pruned model as a
 * HuggingFace checkpoint (intermediate_size updated, tokenizer files copied; one file, or shards of
 * at most --max-shard-bytes with model.safetensors.index.json). */
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/model_io.h"
#include "psw/prune.h"

static const char *const prune_usage =
    "prunesweep prune MODEL_DIR --retention R OUT_DIR [--score l2|down|gate_up|random] "
    "[--seed S] [--dtype f32|bf16] [--max-shard-bytes N]";

int psw_cmd_prune(int argc, char **argv) {
    double retention = 0.0;
    bool has_retention = false;
    const char *score_name = "l2", *dtype_name = "f32";
    long seed = 0, max_shard = 0;
    psw_opt opts[] = {
        {"retention", PSW_OPT_DOUBLE, &retention, &has_retention},
        {"score", PSW_OPT_STRING, &score_name, NULL},
        {"seed", PSW_OPT_LONG, &seed, NULL},
        {"dtype", PSW_OPT_STRING, &dtype_name, NULL},
        {"max-shard-bytes", PSW_OPT_LONG, &max_shard, NULL},
    };
    const char *pos[2];
    int n_pos;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 2, 2, &n_pos,
                           prune_usage);
    if (rc >= 0) return rc;
    psw_prune_score score;
    if (!psw_prune_score_parse(score_name, &score)) {
        psw_cli_error("prune: --score %s: want l2, down, gate_up or random", score_name);
        return PSW_EXIT_USAGE;
    }
    if (!has_retention || !(retention > 0.0 && retention <= 1.0)) {
        psw_cli_error("prune: --retention must be in (0, 1]");
        return PSW_EXIT_USAGE;
    }
    psw_save_dtype dtype = strcmp(dtype_name, "bf16") == 0 ? PSW_SAVE_BF16 : PSW_SAVE_F32;
    if (strcmp(dtype_name, "bf16") != 0 && strcmp(dtype_name, "f32") != 0) {
        psw_cli_error("prune: --dtype must be f32 or bf16");
        return PSW_EXIT_USAGE;
    }
    if (max_shard < 0) {
        psw_cli_error("prune: --max-shard-bytes must be >= 0 (0: one file)");
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_model src = {0}, dst = {0};
    psw_prune_report rep;
    int exit_code = PSW_EXIT_FAIL;
    if (psw_model_load(&src, pos[0], &err) != PSW_OK ||
        psw_prune_mlp(&src, retention, score, (uint64_t)seed, &dst, NULL, &rep, &err) != PSW_OK ||
        psw_model_save(&dst, pos[1], dtype, (size_t)max_shard, &err) != PSW_OK ||
        psw_copy_tokenizer_files(pos[0], pos[1], NULL, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        goto done;
    }
    printf("pruned %s -> %s (score %s, retention %g)\n", pos[0], pos[1],
           psw_prune_score_name(score), retention);
    printf("  MLP neurons kept      %lld / %lld (%d per layer)\n", (long long)rep.neurons_kept,
           (long long)rep.neurons_total, dst.cfg.intermediate_size);
    printf("  MLP params            %lld / %lld  retention %.4f\n", (long long)rep.params_mlp,
           (long long)rep.ref_params_mlp, rep.retention_mlp);
    printf("  non-embedding params  %lld / %lld  retention %.4f\n",
           (long long)rep.params_nonembed, (long long)rep.ref_params_nonembed,
           rep.retention_nonembed);
    printf("  total params          %lld / %lld  retention %.4f\n", (long long)rep.params_total,
           (long long)rep.ref_params_total, rep.retention_total);
    exit_code = PSW_EXIT_OK;
done:
    psw_model_free(&src);
    psw_model_free(&dst);
    return exit_code;
}
