/* cmd_generate.c: `prunesweep generate MODEL_DIR --ids 1,2,3 [--steps N] [--stop-id ID] [--json]`:
 * greedy (argmax, lowest id on ties) continuation of a token-id prompt, printing at each step the
 * chosen id and the top-5 next-token logits. No KV cache: each step re-runs the forward pass on
 * the whole sequence with logits at the last position only, which is plenty for checking a model. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/model_io.h"

#define TOPK 5

static void usage(void) {
    fprintf(stdout, "usage: prunesweep generate MODEL_DIR --ids ID[,ID...] [--steps N] "
                    "[--stop-id ID] [--json]\n");
}

/* Parses "1,2,3" into a malloc'd array; false on anything but non-negative integers. */
static bool parse_ids(const char *s, int32_t **out, int *n) {
    int cap = 16, k = 0;
    int32_t *v = psw_xmalloc(sizeof(int32_t) * (size_t)cap);
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char buf[32];
        long x;
        if (len == 0 || len >= sizeof buf) goto bad;
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (!psw_parse_long(buf, &x) || x < 0 || x > INT32_MAX) goto bad;
        if (k == cap) v = psw_xrealloc(v, sizeof(int32_t) * (size_t)(cap *= 2));
        v[k++] = (int32_t)x;
        if (!comma) break;
        p = comma + 1;
        if (!*p) goto bad; /* trailing comma */
    }
    if (k == 0) goto bad;
    *out = v, *n = k;
    return true;
bad:
    free(v);
    return false;
}

/* Indices of the k largest values, descending; ties go to the lower index. */
static void top_k(const float *x, int V, int k, int *idx) {
    for (int j = 0; j < k; j++) idx[j] = -1;
    for (int i = 0; i < V; i++) {
        int j = k;
        while (j > 0 && (idx[j - 1] < 0 || x[i] > x[idx[j - 1]])) j--;
        if (j == k) continue;
        for (int m = k - 1; m > j; m--) idx[m] = idx[m - 1];
        idx[j] = i;
    }
}

int psw_cmd_generate(int argc, char **argv) {
    const char *dir = NULL, *ids_arg = NULL;
    long steps = 16, stop_id = -1;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return PSW_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--ids") == 0) {
            if (++i >= argc) {
                psw_cli_error("generate: --ids needs a comma-separated list of token ids");
                return PSW_EXIT_USAGE;
            }
            ids_arg = argv[i];
        } else if (strcmp(a, "--steps") == 0) {
            if (++i >= argc || !psw_parse_long(argv[i], &steps) || steps < 1 || steps > 1000000) {
                psw_cli_error("generate: --steps needs an integer in [1, 1000000]");
                return PSW_EXIT_USAGE;
            }
        } else if (strcmp(a, "--stop-id") == 0) {
            if (++i >= argc || !psw_parse_long(argv[i], &stop_id) || stop_id < 0 ||
                stop_id > INT32_MAX) {
                psw_cli_error("generate: --stop-id needs a non-negative token id");
                return PSW_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("generate: unknown option %s", a);
            return PSW_EXIT_USAGE;
        } else if (!dir) {
            dir = a;
        } else {
            psw_cli_error("generate: unexpected argument %s", a);
            return PSW_EXIT_USAGE;
        }
    }
    if (!dir || !ids_arg) {
        psw_cli_error("generate: need MODEL_DIR and --ids (see 'prunesweep generate --help')");
        return PSW_EXIT_USAGE;
    }
    int32_t *prompt = NULL;
    int n_prompt = 0;
    if (!parse_ids(ids_arg, &prompt, &n_prompt)) {
        psw_cli_error("generate: --ids '%s': want comma-separated non-negative integers", ids_arg);
        return PSW_EXIT_USAGE;
    }

    int rc = PSW_EXIT_FAIL;
    psw_err err = {0};
    psw_model m;
    memset(&m, 0, sizeof m);
    int32_t *seq = NULL;
    float *logits = NULL;
    cJSON *root = NULL;
    if (psw_model_load(&m, dir, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        free(prompt);
        return PSW_EXIT_FAIL;
    }
    const psw_model_config *c = &m.cfg;
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] >= c->vocab_size) {
            psw_cli_error("generate: --ids: token %d is outside the vocabulary (vocab_size %d)",
                          (int)prompt[i], c->vocab_size);
            goto fail;
        }
    /* The last generated token is never fed back, so the longest forward is n + steps - 1. */
    long max_T = n_prompt + steps - 1;
    if (max_T > c->max_position_embeddings) {
        psw_cli_error("generate: %d prompt ids + %ld steps exceed max_position_embeddings %d",
                      n_prompt, steps, c->max_position_embeddings);
        goto fail;
    }
    if (psw_model_reserve(&m, 1, (int)max_T, 1, false, &err) != PSW_OK) {
        psw_cli_error("generate: %s", err.msg);
        goto fail;
    }
    seq = psw_xmalloc(sizeof(int32_t) * (size_t)(n_prompt + steps));
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)n_prompt);
    logits = psw_xmalloc(sizeof(float) * (size_t)c->vocab_size);
    cJSON *jsteps = NULL, *jgen = NULL;
    if (json) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model_dir", dir);
        cJSON *jp = cJSON_AddArrayToObject(root, "prompt_ids");
        for (int i = 0; i < n_prompt; i++) cJSON_AddItemToArray(jp, cJSON_CreateNumber(prompt[i]));
        jgen = cJSON_AddArrayToObject(root, "generated_ids");
        jsteps = cJSON_AddArrayToObject(root, "steps");
    }
    int len = n_prompt;
    for (long s = 0; s < steps; s++) {
        int32_t lengths[1] = {len};
        psw_batch b = {seq, lengths, 1, len};
        int64_t pos[1] = {len - 1};
        if (psw_model_forward(&m, &b, pos, 1, logits, &err) != PSW_OK) {
            psw_cli_error("generate: step %ld: %s", s, err.msg);
            goto fail;
        }
        int top[TOPK] = {0};
        int k = c->vocab_size < TOPK ? c->vocab_size : TOPK;
        top_k(logits, c->vocab_size, k, top);
        int next = top[0];
        if (json) {
            cJSON_AddItemToArray(jgen, cJSON_CreateNumber(next));
            cJSON *js = cJSON_CreateObject();
            cJSON_AddNumberToObject(js, "step", (double)s);
            cJSON_AddNumberToObject(js, "position", len - 1);
            cJSON_AddNumberToObject(js, "next", next);
            cJSON *jt = cJSON_AddArrayToObject(js, "top5");
            for (int j = 0; j < k; j++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "id", top[j]);
                cJSON_AddNumberToObject(e, "logit", (double)logits[top[j]]);
                cJSON_AddItemToArray(jt, e);
            }
            cJSON_AddItemToArray(jsteps, js);
        } else {
            printf("step %ld pos %d next %d  top5:", s, len - 1, next);
            for (int j = 0; j < k; j++) printf(" %d:%.6g", top[j], (double)logits[top[j]]);
            printf("\n");
        }
        seq[len++] = next;
        if (next == stop_id) break;
    }
    if (json) {
        char *txt = cJSON_Print(root);
        if (!txt) {
            psw_cli_error("generate: cannot format JSON output");
            goto fail;
        }
        printf("%s\n", txt);
        free(txt);
    } else {
        printf("ids:");
        for (int i = 0; i < len; i++) printf("%s%d", i ? "," : " ", (int)seq[i]);
        printf("\n");
    }
    rc = PSW_EXIT_OK;
fail:
    cJSON_Delete(root);
    free(prompt);
    free(seq);
    free(logits);
    psw_model_free(&m);
    return rc;
}
