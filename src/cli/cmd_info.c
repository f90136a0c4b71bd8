/* cmd_info.c: `prunesweep info MODEL_DIR [--batch B] [--seq T] [--positions P] [--json]`:
 * architecture, shapes, parameter counts per group, file dtypes and bytes, and the memory the
 * engine needs for one batch shape (inference and training). Reads no weights. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/model_io.h"

static void usage(void) {
    fprintf(stdout, "usage: prunesweep info MODEL_DIR [--batch B] [--seq T] [--positions P] "
                    "[--json]\n");
}

static bool int_arg(int argc, char **argv, int *i, const char *flag, long lo, long hi, int *out) {
    long v;
    if (++*i >= argc || !psw_parse_long(argv[*i], &v) || v < lo || v > hi) {
        psw_cli_error("%s needs an integer in [%ld, %ld]", flag, lo, hi);
        return false;
    }
    *out = (int)v;
    return true;
}

static size_t mem_total(const psw_model_memory *m) {
    return m->params + m->grads + m->optimizer + m->activations + m->logits;
}

static cJSON *mem_json(const psw_model_memory *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "params", (double)m->params);
    cJSON_AddNumberToObject(o, "grads", (double)m->grads);
    cJSON_AddNumberToObject(o, "optimizer", (double)m->optimizer);
    cJSON_AddNumberToObject(o, "activations", (double)m->activations);
    cJSON_AddNumberToObject(o, "logits", (double)m->logits);
    cJSON_AddNumberToObject(o, "total", (double)mem_total(m));
    return o;
}

static const char *tok_str(int id, char *buf, size_t n) {
    if (id < 0) return "-";
    snprintf(buf, n, "%d", id);
    return buf;
}

int psw_cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    int B = 1, T = 0, P = 0;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return PSW_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--batch") == 0) {
            if (!int_arg(argc, argv, &i, a, 1, 1 << 20, &B)) return PSW_EXIT_USAGE;
        } else if (strcmp(a, "--seq") == 0) {
            if (!int_arg(argc, argv, &i, a, 1, 1 << 24, &T)) return PSW_EXIT_USAGE;
        } else if (strcmp(a, "--positions") == 0) {
            if (!int_arg(argc, argv, &i, a, 1, 1 << 30, &P)) return PSW_EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("info: unknown option %s", a);
            return PSW_EXIT_USAGE;
        } else if (!dir) {
            dir = a;
        } else {
            psw_cli_error("info: unexpected argument %s", a);
            return PSW_EXIT_USAGE;
        }
    }
    if (!dir) {
        psw_cli_error("info: need MODEL_DIR (see 'prunesweep info --help')");
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_checkpoint_info info;
    if (psw_checkpoint_inspect(dir, &info, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    const psw_model_config *c = &info.cfg;
    if (T == 0) T = c->max_position_embeddings < 512 ? c->max_position_embeddings : 512;
    if (P == 0) P = B; /* one scored position per sequence, as in evaluation */
    if ((long long)P > (long long)B * T) {
        psw_cli_error("info: --positions %d exceeds batch x seq = %lld", P, (long long)B * T);
        return PSW_EXIT_USAGE;
    }

    psw_params layout;
    psw_params_layout(c, &layout);
    size_t by_group[PSW_GROUP_COUNT] = {0};
    for (int id = 0; id < PSW_P_COUNT; id++)
        by_group[psw_param_group_of((psw_param_id)id)] += layout.count[id];
    psw_model_memory infer, train;
    psw_model_memory_plan(c, B, T, P, false, &infer);
    psw_model_memory_plan(c, B, T, P, true, &train);

    char dtypes[64] = "";
    for (int d = 0; d <= PSW_DTYPE_OTHER; d++)
        if (info.n_by_dtype[d]) {
            size_t at = strlen(dtypes);
            snprintf(dtypes + at, sizeof dtypes - at, "%s%s", at ? "+" : "",
                     psw_dtype_name((psw_dtype)d));
        }

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model_dir", dir);
        cJSON_AddStringToObject(o, "architecture", psw_arch_name(c->arch));
        cJSON *s = cJSON_AddObjectToObject(o, "config");
        cJSON_AddNumberToObject(s, "hidden_size", c->hidden_size);
        cJSON_AddNumberToObject(s, "intermediate_size", c->intermediate_size);
        cJSON_AddNumberToObject(s, "num_hidden_layers", c->num_layers);
        cJSON_AddNumberToObject(s, "num_attention_heads", c->num_heads);
        cJSON_AddNumberToObject(s, "num_key_value_heads", c->num_kv_heads);
        cJSON_AddNumberToObject(s, "head_dim", c->head_dim);
        cJSON_AddNumberToObject(s, "vocab_size", c->vocab_size);
        cJSON_AddNumberToObject(s, "max_position_embeddings", c->max_position_embeddings);
        cJSON_AddNumberToObject(s, "rope_theta", c->rope_theta);
        cJSON_AddNumberToObject(s, "rms_norm_eps", c->rms_norm_eps);
        cJSON_AddBoolToObject(s, "tie_word_embeddings", c->tie_word_embeddings);
        cJSON *p = cJSON_AddObjectToObject(o, "parameters");
        for (int g = 0; g < PSW_GROUP_COUNT; g++)
            cJSON_AddNumberToObject(p, psw_param_group_name((psw_param_group)g),
                                    (double)by_group[g]);
        cJSON_AddNumberToObject(p, "total", (double)layout.total);
        cJSON *f = cJSON_AddObjectToObject(o, "files");
        cJSON_AddNumberToObject(f, "count", info.n_files);
        cJSON_AddNumberToObject(f, "tensors", (double)info.n_tensors);
        cJSON_AddStringToObject(f, "dtype", dtypes);
        cJSON_AddNumberToObject(f, "bytes", (double)info.bytes_on_disk);
        cJSON *mem = cJSON_AddObjectToObject(o, "memory");
        cJSON_AddNumberToObject(mem, "batch", B);
        cJSON_AddNumberToObject(mem, "seq", T);
        cJSON_AddNumberToObject(mem, "positions", P);
        cJSON_AddItemToObject(mem, "inference", mem_json(&infer));
        cJSON_AddItemToObject(mem, "training", mem_json(&train));
        char *text = cJSON_Print(o);
        cJSON_Delete(o);
        if (!text) {
            psw_cli_error("info: out of memory");
            return PSW_EXIT_FAIL;
        }
        puts(text);
        cJSON_free(text);
        return PSW_EXIT_OK;
    }
    char b1[16], b2[16], b3[16];
    printf("model:        %s\n", dir);
    printf("architecture: %s\n", psw_arch_name(c->arch));
    printf("shapes:       hidden %d, intermediate %d, layers %d, heads %d, kv heads %d, head dim "
           "%d, vocab %d, max positions %d\n",
           c->hidden_size, c->intermediate_size, c->num_layers, c->num_heads, c->num_kv_heads,
           c->head_dim, c->vocab_size, c->max_position_embeddings);
    printf("rope_theta %g, rms_norm_eps %g, tie_word_embeddings %s, bos %s, eos %s, pad %s\n",
           (double)c->rope_theta, (double)c->rms_norm_eps, c->tie_word_embeddings ? "true" : "false",
           tok_str(c->bos_token_id, b1, sizeof b1), tok_str(c->eos_token_id, b2, sizeof b2),
           tok_str(c->pad_token_id, b3, sizeof b3));
    printf("parameters:\n");
    for (int g = 0; g < PSW_GROUP_COUNT; g++)
        printf("  %-12s %14zu\n", psw_param_group_name((psw_param_group)g), by_group[g]);
    printf("  %-12s %14zu\n", "total", layout.total);
    printf("files:        %d safetensors file(s), %zu tensors, dtype %s, %zu bytes on disk\n",
           info.n_files, info.n_tensors, dtypes, info.bytes_on_disk);
    printf("memory (batch %d x seq %d, %d logit positions), bytes:\n", B, T, P);
    printf("  %-10s %14s %14s %14s %14s %14s %14s\n", "", "params", "grads", "optimizer",
           "activations", "logits", "total");
    const psw_model_memory *rows[2] = {&infer, &train};
    const char *labels[2] = {"inference", "training"};
    for (int r = 0; r < 2; r++)
        printf("  %-10s %14zu %14zu %14zu %14zu %14zu %14zu\n", labels[r], rows[r]->params,
               rows[r]->grads, rows[r]->optimizer, rows[r]->activations, rows[r]->logits,
               mem_total(rows[r]));
    return PSW_EXIT_OK;
}
