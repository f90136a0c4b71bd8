/* test_config.c: config.json parsing, validation and saving for OLMo2 and Llama. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "psw/config.h"
#include "test.h"

/* The OLMo-2-1124-7B config.json values (shared/data/olmo2-7b-sft/NOTES.md). */
static const char *olmo2_7b =
    "{\"architectures\": [\"Olmo2ForCausalLM\"], \"model_type\": \"olmo2\", \"attention_bias\": "
    "false, \"attention_dropout\": 0.0, \"eos_token_id\": 100257, \"pad_token_id\": 100277, "
    "\"hidden_act\": \"silu\", \"hidden_size\": 4096, \"initializer_range\": 0.02, "
    "\"intermediate_size\": 11008, \"max_position_embeddings\": 4096, \"num_attention_heads\": 32, "
    "\"num_hidden_layers\": 32, \"num_key_value_heads\": 32, \"rms_norm_eps\": 1e-06, "
    "\"rope_scaling\": null, \"rope_theta\": 500000, \"tie_word_embeddings\": false, "
    "\"use_cache\": true, \"vocab_size\": 100352}";

static psw_status parse(const char *json, psw_model_config *cfg, psw_err *err) {
    return psw_config_parse(json, strlen(json), "test.json", cfg, err);
}

/* A valid small Llama config with the fields of `extra` (JSON members) replaced or added. */
static char *llama_with(const char *extra) {
    static const char *base =
        "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": "
        "172, \"num_hidden_layers\": 5, \"num_attention_heads\": 8, \"num_key_value_heads\": 4, "
        "\"vocab_size\": 512, \"max_position_embeddings\": 512, \"rope_theta\": 10000.0, "
        "\"rms_norm_eps\": 1e-05}";
    cJSON *root = cJSON_Parse(base);
    size_t n = strlen(extra) + 3;
    char *wrapped = malloc(n);
    snprintf(wrapped, n, "{%s}", extra);
    cJSON *add = cJSON_Parse(wrapped);
    PSW_ASSERT(root && add);
    free(wrapped);
    while (add->child) {
        cJSON *it = cJSON_DetachItemViaPointer(add, add->child);
        char *key = psw_xstrdup(it->string); /* replace frees it->string */
        if (cJSON_GetObjectItemCaseSensitive(root, key))
            cJSON_ReplaceItemInObjectCaseSensitive(root, key, it);
        else
            cJSON_AddItemToObject(root, key, it);
        free(key);
    }
    cJSON_Delete(add);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static void expect_fail(const char *extra, psw_status want, const char *needle, int line) {
    char *json = llama_with(extra);
    psw_model_config cfg;
    psw_err err = {0};
    psw_status st = parse(json, &cfg, &err);
    psw_test_check_fails(st, &err, want, needle, __FILE__, line, extra);
    if (st != PSW_OK) CHECK(strstr(err.msg, "test.json") != NULL, "message names the file: %s",
                            err.msg);
    free(json);
}
#define EXPECT_FAIL(extra, want, needle) expect_fail((extra), (want), (needle), __LINE__)

/* Same, replacing the whole JSON. */
static void expect_fail_json(const char *json, psw_status want, const char *needle, int line) {
    psw_model_config cfg;
    psw_err err = {0};
    psw_status st = parse(json, &cfg, &err);
    psw_test_check_fails(st, &err, want, needle, __FILE__, line, json);
}

static bool cfg_equal(const psw_model_config *a, const psw_model_config *b) {
    return a->arch == b->arch && a->hidden_size == b->hidden_size &&
           a->intermediate_size == b->intermediate_size && a->num_layers == b->num_layers &&
           a->num_heads == b->num_heads && a->num_kv_heads == b->num_kv_heads &&
           a->head_dim == b->head_dim && a->vocab_size == b->vocab_size &&
           a->max_position_embeddings == b->max_position_embeddings &&
           a->rope_theta == b->rope_theta && a->rms_norm_eps == b->rms_norm_eps &&
           a->tie_word_embeddings == b->tie_word_embeddings && a->bos_token_id == b->bos_token_id &&
           a->eos_token_id == b->eos_token_id && a->pad_token_id == b->pad_token_id;
}

int main(void) {
    psw_model_config c;
    psw_err err = {0};

    CHECK_OK(parse(olmo2_7b, &c, &err), &err);
    CHECK(c.arch == PSW_ARCH_OLMO2, "olmo2 arch");
    CHECK(c.hidden_size == 4096 && c.intermediate_size == 11008 && c.num_layers == 32,
          "olmo2 shapes");
    CHECK(c.num_heads == 32 && c.num_kv_heads == 32 && c.head_dim == 128, "olmo2 heads");
    CHECK(c.vocab_size == 100352 && c.max_position_embeddings == 4096, "olmo2 vocab");
    CHECK(c.bos_token_id == -1 && c.eos_token_id == 100257 && c.pad_token_id == 100277,
          "olmo2 ids %d %d %d", c.bos_token_id, c.eos_token_id, c.pad_token_id);
    CHECK(c.rope_theta == 500000.0f && c.rms_norm_eps == 1e-6f && !c.tie_word_embeddings,
          "olmo2 floats");
    CHECK(strcmp(psw_arch_name(c.arch), "Olmo2ForCausalLM") == 0, "arch name");

    /* Llama: kv heads, head_dim derived, tie, eos list (Llama 3 style), null pad. */
    char *j = llama_with("\"tie_word_embeddings\": true, \"bos_token_id\": 1, \"eos_token_id\": "
                         "[2, 7], \"pad_token_id\": null");
    CHECK_OK(parse(j, &c, &err), &err);
    free(j);
    CHECK(c.arch == PSW_ARCH_LLAMA && c.num_kv_heads == 4 && c.head_dim == 8, "llama heads");
    CHECK(c.tie_word_embeddings && c.bos_token_id == 1 && c.eos_token_id == 2 &&
              c.pad_token_id == -1,
          "llama tie/ids");
    CHECK(c.rms_norm_eps == 1e-5f && c.rope_theta == 10000.0f, "llama floats");

    /* num_key_value_heads absent -> heads; explicit head_dim != hidden/heads is legal in HF. */
    CHECK_OK(parse("{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 8, "
                   "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"head_dim\": 32, "
                   "\"vocab_size\": 10, \"max_position_embeddings\": 16, \"rope_theta\": 1e4, "
                   "\"rms_norm_eps\": 1e-6}",
                   &c, &err),
             &err);
    CHECK(c.arch == PSW_ARCH_LLAMA && c.num_kv_heads == 4 && c.head_dim == 32 &&
              !c.tie_word_embeddings,
          "model_type only, head_dim 32: kv %d hd %d", c.num_kv_heads, c.head_dim);

    /* Unsupported architectures and features. */
    expect_fail_json("{\"architectures\": [\"MistralForCausalLM\"]}", PSW_ERR_UNSUPPORTED,
                     "test.json: architectures: MistralForCausalLM is not supported", __LINE__);
    expect_fail_json("{\"model_type\": \"gpt2\"}", PSW_ERR_UNSUPPORTED, "model_type gpt2",
                     __LINE__);
    EXPECT_FAIL("\"model_type\": \"olmo2\"", PSW_ERR_INVALID_ARG,
                "model_type olmo2 contradicts architectures LlamaForCausalLM");
    expect_fail_json("{\"hidden_size\": 64}", PSW_ERR_INVALID_ARG, "missing field architectures",
                     __LINE__);
    EXPECT_FAIL("\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", PSW_ERR_UNSUPPORTED,
                "rope_scaling");
    EXPECT_FAIL("\"attention_bias\": true", PSW_ERR_UNSUPPORTED, "attention_bias");
    EXPECT_FAIL("\"mlp_bias\": true", PSW_ERR_UNSUPPORTED, "mlp_bias");
    EXPECT_FAIL("\"hidden_act\": \"gelu\"", PSW_ERR_UNSUPPORTED, "hidden_act = gelu");

    /* Missing, mistyped and contradictory fields. */
    expect_fail_json("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64}",
                     PSW_ERR_INVALID_ARG, "test.json: missing field intermediate_size", __LINE__);
    EXPECT_FAIL("\"num_key_value_heads\": 3", PSW_ERR_INVALID_ARG,
                "num_attention_heads 8 is not divisible by num_key_value_heads 3");
    EXPECT_FAIL("\"head_dim\": 7", PSW_ERR_INVALID_ARG, "head_dim 7 must be even");
    EXPECT_FAIL("\"vocab_size\": 0", PSW_ERR_INVALID_ARG, "vocab_size");
    EXPECT_FAIL("\"intermediate_size\": 17.5", PSW_ERR_INVALID_ARG, "intermediate_size");
    EXPECT_FAIL("\"num_hidden_layers\": \"5\"", PSW_ERR_FORMAT, "num_hidden_layers must be a number");
    EXPECT_FAIL("\"tie_word_embeddings\": \"yes\"", PSW_ERR_FORMAT, "tie_word_embeddings");
    EXPECT_FAIL("\"rms_norm_eps\": 0", PSW_ERR_INVALID_ARG, "rms_norm_eps");
    EXPECT_FAIL("\"rope_theta\": -1", PSW_ERR_INVALID_ARG, "rope_theta");
    EXPECT_FAIL("\"eos_token_id\": 512", PSW_ERR_INVALID_ARG,
                "eos_token_id = 512 is outside the vocabulary");
    expect_fail_json("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 60, "
                     "\"intermediate_size\": 8, \"num_hidden_layers\": 1, \"num_attention_heads\": "
                     "8, \"vocab_size\": 10, \"max_position_embeddings\": 16, \"rope_theta\": 1e4, "
                     "\"rms_norm_eps\": 1e-6}",
                     PSW_ERR_INVALID_ARG, "hidden_size 60 is not divisible by num_attention_heads 8",
                     __LINE__);
    expect_fail_json("{\"architectures\": [\"LlamaForCausalLM\"", PSW_ERR_FORMAT,
                     "test.json: not valid JSON", __LINE__);
    expect_fail_json("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, "
                     "\"hidden_size\": 32}",
                     PSW_ERR_FORMAT, "test.json: field hidden_size appears twice", __LINE__);
    expect_fail_json("[1, 2]", PSW_ERR_FORMAT, "top level must be a JSON object", __LINE__);

    /* Save then load: same struct; eps written as its shortest decimal. */
    char *dir = psw_test_tmpdir();
    char *path = psw_path_join(dir, "config.json");
    CHECK_OK(parse(olmo2_7b, &c, &err), &err);
    CHECK_OK(psw_config_save(path, &c, "bfloat16", &err), &err);
    psw_model_config back;
    CHECK_OK(psw_config_load(path, &back, &err), &err);
    CHECK(cfg_equal(&c, &back), "olmo2 config round trip");
    char *text = NULL;
    CHECK_OK(psw_read_file(path, &text, NULL, &err), &err);
    CHECK(text && strstr(text, "\"rms_norm_eps\":\t1e-06") && strstr(text, "\"bos_token_id\":\tnull") &&
              strstr(text, "\"torch_dtype\":\t\"bfloat16\"") &&
              strstr(text, "\"architectures\":\t[\"Olmo2ForCausalLM\"]") &&
              strstr(text, "\"rope_theta\":\t500000"),
          "saved config.json text: %s", text ? text : "(null)");
    free(text);

    /* Programmatic configs are validated before saving. */
    psw_model_config bad = c;
    bad.num_kv_heads = 5;
    CHECK_FAILS(psw_config_save(path, &bad, "float32", &err), &err, PSW_ERR_INVALID_ARG,
                "not divisible by num_key_value_heads 5");
    char *missing = psw_path_join(dir, "nope.json");
    CHECK_FAILS(psw_config_load(missing, &back, &err), &err, PSW_ERR_IO, "nope.json: cannot open");
    free(missing);
    free(path);
    free(dir);
    return psw_test_finish();
}
