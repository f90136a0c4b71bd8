/* config.c: HuggingFace config.json <-> psw_model_config for Olmo2ForCausalLM / LlamaForCausalLM.
 * Optional fields take the defaults HF's LlamaConfig / Olmo2Config use (tie_word_embeddings
 * false, num_key_value_heads = num_attention_heads, head_dim = hidden_size / heads, silu, no
 * biases, no rope_scaling); shape fields, rope_theta, rms_norm_eps and max_position_embeddings
 * are required because guessing them would silently give a different model. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/config.h"

const char *psw_arch_name(psw_arch arch) {
    switch (arch) {
    case PSW_ARCH_OLMO2: return "Olmo2ForCausalLM";
    case PSW_ARCH_LLAMA: return "LlamaForCausalLM";
    }
    PSW_ABORT("bad architecture %d", (int)arch);
}

static const char *arch_model_type(psw_arch arch) {
    return arch == PSW_ARCH_OLMO2 ? "olmo2" : "llama";
}

/* Integer fields: a JSON number that is integral and within [lo, INT_MAX].
 * Absent (or null when null_ok) leaves *out untouched and sets *present = false. */
static psw_status get_int(const cJSON *root, const char *key, const char *src, bool required,
                          bool null_ok, long lo, int *out, bool *present, psw_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (present) *present = false;
    if (!it || (null_ok && cJSON_IsNull(it))) {
        if (required) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: missing field %s", src, key);
        return PSW_OK;
    }
    if (!cJSON_IsNumber(it))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field %s must be a number", src, key);
    double v = it->valuedouble;
    if (!(v == floor(v)) || v < (double)lo || v > (double)INT_MAX)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: field %s = %.17g must be an integer in [%ld, %d]",
                        src, key, v, lo, INT_MAX);
    *out = (int)v;
    if (present) *present = true;
    return PSW_OK;
}

static psw_status get_float(const cJSON *root, const char *key, const char *src, float *out,
                            psw_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: missing field %s", src, key);
    if (!cJSON_IsNumber(it))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field %s must be a number", src, key);
    *out = (float)it->valuedouble;
    return PSW_OK;
}

static psw_status get_bool(const cJSON *root, const char *key, const char *src, bool *out,
                           psw_err *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it) return PSW_OK;
    if (!cJSON_IsBool(it))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field %s must be true or false", src, key);
    *out = cJSON_IsTrue(it);
    return PSW_OK;
}

/* Special token ids: absent or null -> -1; a list (Llama 3 style eos) -> its first entry. */
static psw_status get_token_id(const cJSON *root, const char *key, const char *src, int *out,
                               psw_err *err) {
    *out = -1;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!it || cJSON_IsNull(it)) return PSW_OK;
    if (cJSON_IsArray(it)) {
        if (cJSON_GetArraySize(it) == 0) return PSW_OK;
        it = cJSON_GetArrayItem(it, 0);
    }
    if (!cJSON_IsNumber(it))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field %s must be an integer, a list or null",
                        src, key);
    double v = it->valuedouble;
    if (v == -1.0) return PSW_OK;
    if (!(v == floor(v)) || v < 0 || v > (double)INT_MAX)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: field %s = %.17g is not a token id", src,
                        key, v);
    *out = (int)v;
    return PSW_OK;
}

static psw_status parse_arch(const cJSON *root, const char *src, psw_arch *arch, psw_err *err) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    bool have_a = false, have_m = false;
    psw_arch from_a = PSW_ARCH_LLAMA, from_m = PSW_ARCH_LLAMA;
    if (archs && !cJSON_IsNull(archs)) {
        if (!cJSON_IsArray(archs) || cJSON_GetArraySize(archs) == 0)
            return PSW_FAIL(err, PSW_ERR_FORMAT,
                            "%s: field architectures must be a non-empty list of strings", src);
        const cJSON *a;
        cJSON_ArrayForEach(a, archs) {
            if (!cJSON_IsString(a))
                return PSW_FAIL(err, PSW_ERR_FORMAT,
                                "%s: field architectures must be a list of strings", src);
            psw_arch this;
            if (strcmp(a->valuestring, "Olmo2ForCausalLM") == 0) this = PSW_ARCH_OLMO2;
            else if (strcmp(a->valuestring, "LlamaForCausalLM") == 0) this = PSW_ARCH_LLAMA;
            else
                return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                                "%s: architectures: %s is not supported (Olmo2ForCausalLM or "
                                "LlamaForCausalLM only)",
                                src, a->valuestring);
            if (have_a && this != from_a)
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "%s: architectures lists both Olmo2ForCausalLM and LlamaForCausalLM",
                                src);
            from_a = this;
            have_a = true;
        }
    }
    if (mtype && !cJSON_IsNull(mtype)) {
        if (!cJSON_IsString(mtype))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field model_type must be a string", src);
        if (strcmp(mtype->valuestring, "olmo2") == 0) from_m = PSW_ARCH_OLMO2;
        else if (strcmp(mtype->valuestring, "llama") == 0) from_m = PSW_ARCH_LLAMA;
        else
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                            "%s: model_type %s is not supported (olmo2 or llama only)", src,
                            mtype->valuestring);
        have_m = true;
    }
    if (!have_a && !have_m)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: missing field architectures (and model_type)",
                        src);
    if (have_a && have_m && from_a != from_m)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: model_type %s contradicts architectures %s", src,
                        mtype->valuestring, psw_arch_name(from_a));
    *arch = have_a ? from_a : from_m;
    return PSW_OK;
}

/* Features HF implements that our engine does not: reject rather than compute something else. */
static psw_status check_unsupported(const cJSON *root, const char *src, psw_err *err) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (rs && !cJSON_IsNull(rs))
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: field rope_scaling must be null (RoPE "
                        "scaling is not supported)", src);
    static const char *const bias_keys[] = {"attention_bias", "mlp_bias"};
    for (size_t i = 0; i < sizeof bias_keys / sizeof bias_keys[0]; i++) {
        bool b = false;
        psw_status st = get_bool(root, bias_keys[i], src, &b, err);
        if (st != PSW_OK) return st;
        if (b)
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: field %s = true is not supported "
                            "(no biases)", src, bias_keys[i]);
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act) {
        if (!cJSON_IsString(act))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field hidden_act must be a string", src);
        if (strcmp(act->valuestring, "silu") != 0)
            return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                            "%s: field hidden_act = %s is not supported (silu only)", src,
                            act->valuestring);
    }
    return PSW_OK;
}

psw_status psw_config_parse(const char *json, size_t len, const char *source,
                            psw_model_config *cfg, psw_err *err) {
    const char *src = source ? source : "config.json";
    psw_model_config c;
    memset(&c, 0, sizeof c);
    psw_status st = PSW_OK;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) return PSW_FAIL(err, PSW_ERR_FORMAT, "%s: not valid JSON", src);
    if (!cJSON_IsObject(root)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: top level must be a JSON object", src);
        goto fail;
    }
    /* cJSON would silently use the first of two equal keys, Python's json the last. */
    for (const cJSON *a = root->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (strcmp(a->string, b->string) == 0) {
                st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: field %s appears twice", src, a->string);
                goto fail;
            }
    if ((st = parse_arch(root, src, &c.arch, err)) != PSW_OK) goto fail;
    if ((st = check_unsupported(root, src, err)) != PSW_OK) goto fail;

    struct {
        const char *key;
        int *out;
    } req[] = {
        {"hidden_size", &c.hidden_size},
        {"intermediate_size", &c.intermediate_size},
        {"num_hidden_layers", &c.num_layers},
        {"num_attention_heads", &c.num_heads},
        {"vocab_size", &c.vocab_size},
        {"max_position_embeddings", &c.max_position_embeddings},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if ((st = get_int(root, req[i].key, src, true, false, 1, req[i].out, NULL, err)) != PSW_OK)
            goto fail;
    bool have_kv = false, have_hd = false;
    if ((st = get_int(root, "num_key_value_heads", src, false, true, 1, &c.num_kv_heads, &have_kv,
                      err)) != PSW_OK)
        goto fail;
    if (!have_kv) c.num_kv_heads = c.num_heads;
    if ((st = get_int(root, "head_dim", src, false, true, 1, &c.head_dim, &have_hd, err)) != PSW_OK)
        goto fail;
    if (!have_hd) {
        if (c.hidden_size % c.num_heads != 0) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                          "%s: hidden_size %d is not divisible by num_attention_heads %d (and no "
                          "head_dim is given)",
                          src, c.hidden_size, c.num_heads);
            goto fail;
        }
        c.head_dim = c.hidden_size / c.num_heads;
    }
    if ((st = get_float(root, "rope_theta", src, &c.rope_theta, err)) != PSW_OK) goto fail;
    if ((st = get_float(root, "rms_norm_eps", src, &c.rms_norm_eps, err)) != PSW_OK) goto fail;
    c.tie_word_embeddings = false;
    if ((st = get_bool(root, "tie_word_embeddings", src, &c.tie_word_embeddings, err)) != PSW_OK)
        goto fail;
    if ((st = get_token_id(root, "bos_token_id", src, &c.bos_token_id, err)) != PSW_OK) goto fail;
    if ((st = get_token_id(root, "eos_token_id", src, &c.eos_token_id, err)) != PSW_OK) goto fail;
    if ((st = get_token_id(root, "pad_token_id", src, &c.pad_token_id, err)) != PSW_OK) goto fail;
    if ((st = psw_config_validate(&c, src, err)) != PSW_OK) goto fail;
    *cfg = c;
fail:
    cJSON_Delete(root);
    return st;
}

psw_status psw_config_load(const char *path, psw_model_config *cfg, psw_err *err) {
    char *text = NULL;
    size_t len = 0;
    psw_status st = psw_read_file(path, &text, &len, err);
    if (st != PSW_OK) return st;
    st = psw_config_parse(text, len, path, cfg, err);
    free(text);
    return st;
}

/* Whether every parameter (as fp32, the layout of params.c plus the untied head and the
 * OLMo2 q/k norms) can be counted in bytes without wrapping size_t. The layout and allocation
 * code multiplies these sizes unchecked, so a config.json with huge dimensions must stop here:
 * e.g. hidden 2^30, intermediate 2^30 and 16 layers make H*C*L exactly 2^64. */
static bool param_bytes_fit(const psw_model_config *cfg) {
    size_t C = (size_t)cfg->hidden_size, H = (size_t)cfg->intermediate_size;
    size_t L = (size_t)cfg->num_layers, V = (size_t)cfg->vocab_size;
    size_t QD = (size_t)cfg->num_heads * (size_t)cfg->head_dim;
    size_t KD = (size_t)cfg->num_kv_heads * (size_t)cfg->head_dim;
    /* per layer: q, k, v, o, gate, up, down, q/k norms, two block norms */
    const size_t per_layer[][2] = {{QD, C}, {KD, C}, {KD, C}, {C, QD}, {H, C}, {H, C},
                                   {C, H},  {QD, 1}, {KD, 1}, {C, 1},  {C, 1}};
    size_t layer = 0, total = 0, t;
    for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
        if (!psw_size_mul(per_layer[i][0], per_layer[i][1], &t) || !psw_size_add(layer, t, &layer))
            return false;
    if (!psw_size_mul(layer, L, &total)) return false;
    /* embedding and lm_head (V x C each), final norm */
    if (!psw_size_mul(V, C, &t) || !psw_size_add(total, t, &total) ||
        !psw_size_add(total, t, &total) || !psw_size_add(total, C, &total))
        return false;
    return psw_size_mul(total, sizeof(float), &t);
}

psw_status psw_config_validate(const psw_model_config *cfg, const char *source, psw_err *err) {
    const char *src = source ? source : "model config";
    if (cfg->arch != PSW_ARCH_OLMO2 && cfg->arch != PSW_ARCH_LLAMA)
        return PSW_FAIL(err, PSW_ERR_UNSUPPORTED, "%s: unknown architecture %d", src,
                        (int)cfg->arch);
    struct {
        const char *key;
        int v;
    } pos[] = {
        {"hidden_size", cfg->hidden_size},   {"intermediate_size", cfg->intermediate_size},
        {"num_hidden_layers", cfg->num_layers}, {"num_attention_heads", cfg->num_heads},
        {"num_key_value_heads", cfg->num_kv_heads}, {"head_dim", cfg->head_dim},
        {"vocab_size", cfg->vocab_size}, {"max_position_embeddings", cfg->max_position_embeddings},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v <= 0)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: %s = %d must be positive", src,
                            pos[i].key, pos[i].v);
    if (cfg->num_heads % cfg->num_kv_heads != 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: num_attention_heads %d is not divisible by num_key_value_heads %d",
                        src, cfg->num_heads, cfg->num_kv_heads);
    if (cfg->head_dim % 2 != 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: head_dim %d must be even for RoPE", src,
                        cfg->head_dim);
    /* q width NH*HD must fit an int: the engine indexes rows with int. */
    if ((long long)cfg->num_heads * cfg->head_dim > INT_MAX)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: num_attention_heads * head_dim = %lld is too large", src,
                        (long long)cfg->num_heads * cfg->head_dim);
    if (!param_bytes_fit(cfg))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "%s: hidden_size %d, intermediate_size %d, num_hidden_layers %d and "
                        "vocab_size %d give more parameter bytes than size_t can count",
                        src, cfg->hidden_size, cfg->intermediate_size, cfg->num_layers,
                        cfg->vocab_size);
    if (!(isfinite(cfg->rope_theta) && cfg->rope_theta > 0))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: rope_theta = %g must be positive", src,
                        (double)cfg->rope_theta);
    if (!(isfinite(cfg->rms_norm_eps) && cfg->rms_norm_eps > 0))
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: rms_norm_eps = %g must be positive", src,
                        (double)cfg->rms_norm_eps);
    struct {
        const char *key;
        int v;
    } ids[] = {{"bos_token_id", cfg->bos_token_id},
               {"eos_token_id", cfg->eos_token_id},
               {"pad_token_id", cfg->pad_token_id}};
    for (size_t i = 0; i < 3; i++)
        if (ids[i].v < -1 || ids[i].v >= cfg->vocab_size)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "%s: %s = %d is outside the vocabulary (vocab_size %d)", src,
                            ids[i].key, ids[i].v, cfg->vocab_size);
    return PSW_OK;
}

/* The shortest decimal that reads back as the same float, so 1e-6f is written "1e-06" rather
 * than its double expansion 9.99999997e-07. */
static double float_for_json(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

static void add_token_id(cJSON *root, const char *key, int id) {
    if (id < 0) cJSON_AddNullToObject(root, key);
    else cJSON_AddNumberToObject(root, key, id);
}

psw_status psw_config_save(const char *path, const psw_model_config *cfg, const char *torch_dtype,
                           psw_err *err) {
    psw_status st = psw_config_validate(cfg, path, err);
    if (st != PSW_OK) return st;
    cJSON *root = cJSON_CreateObject();
    if (!root) PSW_ABORT("out of memory building config.json");
    cJSON *archs = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(psw_arch_name(cfg->arch)));
    cJSON_AddStringToObject(root, "model_type", arch_model_type(cfg->arch));
    cJSON_AddBoolToObject(root, "attention_bias", false);
    cJSON_AddNumberToObject(root, "attention_dropout", 0.0);
    if (cfg->arch == PSW_ARCH_LLAMA) {
        cJSON_AddBoolToObject(root, "mlp_bias", false);
        cJSON_AddNumberToObject(root, "pretraining_tp", 1);
    }
    add_token_id(root, "bos_token_id", cfg->bos_token_id);
    add_token_id(root, "eos_token_id", cfg->eos_token_id);
    add_token_id(root, "pad_token_id", cfg->pad_token_id);
    cJSON_AddNumberToObject(root, "head_dim", cfg->head_dim);
    cJSON_AddStringToObject(root, "hidden_act", "silu");
    cJSON_AddNumberToObject(root, "hidden_size", cfg->hidden_size);
    cJSON_AddNumberToObject(root, "initializer_range", 0.02);
    cJSON_AddNumberToObject(root, "intermediate_size", cfg->intermediate_size);
    cJSON_AddNumberToObject(root, "max_position_embeddings", cfg->max_position_embeddings);
    cJSON_AddNumberToObject(root, "num_attention_heads", cfg->num_heads);
    cJSON_AddNumberToObject(root, "num_hidden_layers", cfg->num_layers);
    cJSON_AddNumberToObject(root, "num_key_value_heads", cfg->num_kv_heads);
    cJSON_AddNumberToObject(root, "rms_norm_eps", float_for_json(cfg->rms_norm_eps));
    cJSON_AddNullToObject(root, "rope_scaling");
    cJSON_AddNumberToObject(root, "rope_theta", float_for_json(cfg->rope_theta));
    cJSON_AddBoolToObject(root, "tie_word_embeddings", cfg->tie_word_embeddings);
    cJSON_AddStringToObject(root, "torch_dtype", torch_dtype ? torch_dtype : "float32");
    cJSON_AddBoolToObject(root, "use_cache", true);
    cJSON_AddNumberToObject(root, "vocab_size", cfg->vocab_size);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) PSW_ABORT("out of memory printing config.json");
    size_t n = strlen(text);
    char *with_nl = psw_xmalloc(n + 2);
    memcpy(with_nl, text, n);
    with_nl[n] = '\n';
    with_nl[n + 1] = '\0';
    cJSON_free(text);
    st = psw_write_file(path, with_nl, n + 1, err);
    free(with_nl);
    return st;
}
