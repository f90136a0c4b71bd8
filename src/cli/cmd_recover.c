/* cmd_recover.c: `prunesweep recover`: one configuration end to end (prune -> recover ->
 * evaluate), printed as one JSON object with the unrecovered pruned model's row beside it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/model_io.h"
#include "psw/run.h"

static const char *const recover_usage =
    "prunesweep recover MODEL_DIR|default --retention R --loss ce|kl|mix --data-size N --seed S "
    "[--train TRAIN.jsonl] [--test TEST.jsonl] [--config EXP.json] [--save OUT_DIR] "
    "[--save-dtype f32|bf16] [--cache-dir DIR] [--threads T]";

/* Runs one task and reports a failed row as an error line; returns the exit code. */
static int run_one(psw_run_context *ctx, const psw_task *task, psw_model *keep,
                   psw_run_output *out) {
    psw_err err = {0};
    if (psw_run_task_keep(ctx, task, 0, keep, out, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    return PSW_EXIT_OK;
}

int psw_cmd_recover(int argc, char **argv) {
    const char *train = NULL, *test = NULL, *config = NULL, *save = NULL, *loss_name = NULL;
    const char *cache_dir = "prunesweep-cache", *save_dtype = "f32";
    double retention = 0.0;
    long data_size = 0, seed = 0, threads = 0;
    bool has_retention = false, has_data_size = false, has_seed = false;
    psw_opt opts[] = {
        {"train", PSW_OPT_STRING, &train, NULL},
        {"test", PSW_OPT_STRING, &test, NULL},
        {"config", PSW_OPT_STRING, &config, NULL},
        {"save", PSW_OPT_STRING, &save, NULL},
        {"save-dtype", PSW_OPT_STRING, &save_dtype, NULL},
        {"cache-dir", PSW_OPT_STRING, &cache_dir, NULL},
        {"loss", PSW_OPT_STRING, &loss_name, NULL},
        {"retention", PSW_OPT_DOUBLE, &retention, &has_retention},
        {"data-size", PSW_OPT_LONG, &data_size, &has_data_size},
        {"seed", PSW_OPT_LONG, &seed, &has_seed},
        {"threads", PSW_OPT_LONG, &threads, NULL},
    };
    const char *pos[1];
    int n_pos;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 1, 1, &n_pos,
                           recover_usage);
    if (rc >= 0) return rc;
    psw_loss_kind loss;
    if (!loss_name || !psw_spec_loss_parse(loss_name, &loss)) {
        psw_cli_error("recover: --loss must be ce, kl or mix");
        return PSW_EXIT_USAGE;
    }
    if (!has_retention || !(retention > 0.0 && retention <= 1.0)) {
        psw_cli_error("recover: --retention must be in (0, 1]");
        return PSW_EXIT_USAGE;
    }
    if (!has_data_size || data_size < 1 || !has_seed || seed < 0 || threads < 0) {
        psw_cli_error("recover: --data-size N >= 1 and --seed S >= 0 are required");
        return PSW_EXIT_USAGE;
    }
    psw_save_dtype dtype = PSW_SAVE_F32;
    if (strcmp(save_dtype, "bf16") == 0) dtype = PSW_SAVE_BF16;
    else if (strcmp(save_dtype, "f32") != 0) {
        psw_cli_error("recover: --save-dtype must be f32 or bf16");
        return PSW_EXIT_USAGE;
    }

    psw_err err = {0};
    psw_spec spec;
    if ((rc = psw_cli_load_spec(config, &spec)) >= 0) return rc;
    psw_spec_set_model(&spec, pos[0]);
    if (train) psw_spec_set_path(&spec.data.train, train);
    if (test) psw_spec_set_path(&spec.data.test, test);
    if (!spec.model.is_default && (!spec.data.train.resolved || !spec.data.test.resolved)) {
        psw_cli_error("recover: --train and --test are required (or data.train/data.test in "
                      "--config) unless MODEL_DIR is 'default'");
        psw_spec_free(&spec);
        return PSW_EXIT_USAGE;
    }

    int exit_code = PSW_EXIT_FAIL;
    psw_run_context ctx;
    psw_run_output unrecovered = {0}, recovered = {0};
    psw_model student = {0};
    cJSON *root = NULL;
    if (psw_run_context_open(&ctx, &spec, cache_dir, (int)threads, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        psw_spec_free(&spec);
        return PSW_EXIT_FAIL;
    }
    psw_task task = {.kind = PSW_TASK_RECOVER};
    task.config.retention = retention;
    task.config.loss = loss;
    task.config.data_size = data_size;
    task.config.seed = seed;
    task.config.id = psw_spec_config_id(&spec, retention, loss, data_size, seed);
    psw_task unrecovered_task = {.kind = PSW_TASK_UNRECOVERED_EVAL, .config = task.config};
    bool wants_kl = loss != PSW_LOSS_CE;
    if (wants_kl && psw_teacher_cache_open(ctx.cache_path, ctx.cache_fingerprint,
                                           ctx.train.prompts.n, ctx.teacher.cfg.vocab_size,
                                           &ctx.cache, &err) != PSW_OK) {
        PSW_LOG_INFO("recover: building the teacher cache %s", ctx.cache_path);
        psw_task cache_task = {.kind = PSW_TASK_TEACHER_CACHE};
        psw_run_output none;
        if (psw_run_task(&ctx, &cache_task, 0, &none, &err) != PSW_OK) {
            psw_cli_error("%s", err.msg);
            goto done;
        }
    }
    if ((rc = run_one(&ctx, &unrecovered_task, NULL, &unrecovered)) != PSW_EXIT_OK) goto done;
    if ((rc = run_one(&ctx, &task, save ? &student : NULL, &recovered)) != PSW_EXIT_OK) goto done;
    root = cJSON_CreateObject();
    cJSON *rec_json = psw_run_record_json(&recovered.rec);
    cJSON *unrec_json = psw_run_record_json(&unrecovered.rec);
    if (!root || !rec_json || !unrec_json) {
        cJSON_Delete(rec_json);
        cJSON_Delete(unrec_json);
        psw_cli_error("recover: out of memory");
        goto done;
    }
    cJSON_AddItemToObject(root, "recovered", rec_json);
    cJSON_AddItemToObject(root, "unrecovered", unrec_json);
    char *text = cJSON_PrintUnformatted(root);
    if (!text) {
        psw_cli_error("recover: out of memory");
        goto done;
    }
    printf("%s\n", text);
    cJSON_free(text);
    if (recovered.rec.status != PSW_RUN_OK) {
        psw_cli_error("configuration %s: %s", psw_run_status_name(recovered.rec.status),
                      recovered.rec.message);
        goto done;
    }
    if (save) {
        if (psw_model_save(&student, save, dtype, 0, &err) != PSW_OK ||
            psw_copy_tokenizer_files(ctx.model_dir, save, NULL, &err) != PSW_OK) {
            psw_cli_error("%s", err.msg);
            goto done;
        }
        PSW_LOG_INFO("recover: saved the recovered model to %s", save);
    }
    exit_code = PSW_EXIT_OK;
done:
    cJSON_Delete(root);
    psw_model_free(&student);
    psw_run_output_free(&unrecovered);
    psw_run_output_free(&recovered);
    psw_run_context_close(&ctx);
    psw_spec_free(&spec);
    return exit_code;
}
