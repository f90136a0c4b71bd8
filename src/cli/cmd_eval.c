/* cmd_eval.c: `prunesweep eval MODEL_DIR DATA.jsonl`: multiple-choice accuracy and uncertainty
 * metrics, as a table or JSON, with optional per-example predictions. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "psw/evaluate.h"
#include "psw/run.h"

static const char *const eval_usage =
    "prunesweep eval MODEL_DIR DATA.jsonl [--shots K] [--limit N] [--batch B] "
    "[--predictions OUT.jsonl] [--json] [--config EXP.json] [--threads T]";

static void print_table(const psw_eval_metrics *m, const char *model, const char *data) {
    printf("model %s on %s: %lld examples (%lld labeled)\n", model, data, m->n_examples,
           m->n_labeled);
    printf("  accuracy        %.4f\n", m->accuracy);
    printf("  entropy (nats)  %.4f\n", m->entropy);
    printf("  entropy / log K %.4f\n", m->entropy_norm);
    printf("  NLL             %.4f\n", m->nll);
    printf("  Brier           %.4f\n", m->brier);
    printf("  ECE (%d bins)   %.4f\n", m->reliability.n_bins, m->ece);
    printf("  MCE             %.4f\n", m->mce);
    printf("  choice mass     %.4f\n", m->choice_mass);
}

static psw_status write_predictions(const char *path, const psw_mc_set *set,
                                    const psw_mc_dataset *ds, const psw_choice_scores *scores,
                                    psw_err *err) {
    FILE *f = fopen(path, "w");
    if (!f) return PSW_FAIL(err, PSW_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    psw_status st = PSW_OK;
    for (size_t i = 0; i < set->prompts.n && st == PSW_OK; i++) {
        cJSON *line = psw_choice_scores_json(ds->examples[i].id, ds->examples[i].labels, &scores[i]);
        char *text = line ? cJSON_PrintUnformatted(line) : NULL;
        if (!text) st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: out of memory", path);
        else if (fprintf(f, "%s\n", text) < 0)
            st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        cJSON_free(text);
        cJSON_Delete(line);
    }
    if (fclose(f) != 0 && st == PSW_OK)
        st = PSW_FAIL(err, PSW_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return st;
}

int psw_cmd_eval(int argc, char **argv) {
    const char *config = NULL, *predictions = NULL;
    long shots = 0, limit = 0, batch = 0, threads = 0;
    bool has_shots = false, json = false;
    psw_opt opts[] = {
        {"shots", PSW_OPT_LONG, &shots, &has_shots},
        {"limit", PSW_OPT_LONG, &limit, NULL},
        {"batch", PSW_OPT_LONG, &batch, NULL},
        {"predictions", PSW_OPT_STRING, &predictions, NULL},
        {"json", PSW_OPT_FLAG, &json, NULL},
        {"config", PSW_OPT_STRING, &config, NULL},
        {"threads", PSW_OPT_LONG, &threads, NULL},
    };
    const char *pos[2];
    int n_pos;
    int rc = psw_cli_parse(argc, argv, opts, sizeof opts / sizeof *opts, pos, 2, 2, &n_pos,
                           eval_usage);
    if (rc >= 0) return rc;
    if (limit < 0 || batch < 0 || threads < 0 || (has_shots && (shots < 0 || shots > 10))) {
        psw_cli_error("eval: --limit, --batch and --threads must be >= 0 and --shots in 0..10");
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_spec spec;
    if ((rc = psw_cli_load_spec(config, &spec)) >= 0) return rc;
    psw_spec_set_model(&spec, pos[0]);
    /* The data file serves as its own shot pool (shot ids, if any, are looked up in it). */
    psw_spec_set_path(&spec.data.train, pos[1]);
    psw_spec_set_path(&spec.data.test, pos[1]);
    if (has_shots) spec.prompt.shots = (int)shots;
    if (limit > 0) spec.data.limit_test = limit;
    if (batch > 0) spec.training.eval_batch = (int)batch;

    int exit_code = PSW_EXIT_FAIL;
    psw_run_context ctx;
    psw_choice_scores *scores = NULL;
    psw_eval_metrics metrics;
    char *cache_dir = psw_path_join(getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "prunesweep-eval");
    if (psw_run_context_open(&ctx, &spec, cache_dir, (int)threads, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        free(cache_dir);
        psw_spec_free(&spec);
        return PSW_EXIT_FAIL;
    }
    int B = spec.training.eval_batch;
    scores = psw_try_alloc(ctx.test.prompts.n * sizeof *scores);
    if (!scores) {
        psw_cli_error("eval: out of memory");
        goto done;
    }
    ctx.teacher.batched_forward = spec.training.eval_forward == PSW_SPEC_EVAL_BATCHED;
    if (psw_model_reserve(&ctx.teacher, B, ctx.test.prompts.max_len, B, false, &err) != PSW_OK ||
        psw_evaluate(&ctx.teacher, &ctx.test, B, scores, NULL, 0, &metrics, &err) != PSW_OK ||
        (predictions && write_predictions(predictions, &ctx.test, &ctx.test_ds, scores, &err) != PSW_OK)) {
        psw_cli_error("%s", err.msg);
        goto done;
    }
    if (json) {
        cJSON *o = psw_eval_metrics_json(&metrics);
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        if (!text) {
            cJSON_Delete(o);
            psw_cli_error("eval: out of memory");
            goto done;
        }
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        print_table(&metrics, pos[0], pos[1]);
    }
    exit_code = PSW_EXIT_OK;
done:
    free(scores);
    free(cache_dir);
    psw_run_context_close(&ctx);
    psw_spec_free(&spec);
    return exit_code;
}
