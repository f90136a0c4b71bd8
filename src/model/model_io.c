/* model_io.c: load/save a psw_model as a HuggingFace directory (config.json + safetensors). */
#include "psw/model_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_per_layer(psw_param_id id) {
    return id != PSW_P_EMBED && id != PSW_P_FINAL_NORM && id != PSW_P_LM_HEAD;
}

const char *psw_param_hf_name(psw_arch arch, psw_param_id id, int layer, char *buf, size_t n) {
    bool olmo2 = arch == PSW_ARCH_OLMO2;
    const char *leaf = NULL;
    switch (id) {
    case PSW_P_EMBED: snprintf(buf, n, "model.embed_tokens.weight"); return buf;
    case PSW_P_FINAL_NORM: snprintf(buf, n, "model.norm.weight"); return buf;
    case PSW_P_LM_HEAD: snprintf(buf, n, "lm_head.weight"); return buf;
    case PSW_P_Q: leaf = "self_attn.q_proj"; break;
    case PSW_P_K: leaf = "self_attn.k_proj"; break;
    case PSW_P_V: leaf = "self_attn.v_proj"; break;
    case PSW_P_O: leaf = "self_attn.o_proj"; break;
    case PSW_P_Q_NORM: leaf = "self_attn.q_norm"; break;
    case PSW_P_K_NORM: leaf = "self_attn.k_norm"; break;
    case PSW_P_ATTN_NORM: leaf = olmo2 ? "post_attention_layernorm" : "input_layernorm"; break;
    case PSW_P_GATE: leaf = "mlp.gate_proj"; break;
    case PSW_P_UP: leaf = "mlp.up_proj"; break;
    case PSW_P_DOWN: leaf = "mlp.down_proj"; break;
    case PSW_P_MLP_NORM:
        leaf = olmo2 ? "post_feedforward_layernorm" : "post_attention_layernorm";
        break;
    case PSW_P_COUNT: PSW_ABORT("bad parameter id");
    }
    snprintf(buf, n, "model.layers.%d.%s.weight", layer, leaf);
    return buf;
}

static void dims_str(size_t ndim, const size_t *shape, char *buf, size_t n) {
    size_t at = (size_t)snprintf(buf, n, "[");
    for (size_t d = 0; d < ndim && at < n; d++)
        at += (size_t)snprintf(buf + at, n - at, "%s%zu", d ? ", " : "", shape[d]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Checks every tensor the config implies (presence, dtype, shape) and that nothing else is in
 * the files. cfg_src names config.json in messages. */
static psw_status check_tensors(const psw_safetensors *st, const psw_model_config *cfg,
                                const char *cfg_src, psw_err *err) {
    bool *used = psw_xcalloc(st->n_tensors ? st->n_tensors : 1, sizeof *used);
    psw_status s = PSW_OK;
    char name[160], want[64], got[160];
    for (int id = 0; id < PSW_P_COUNT; id++) {
        size_t rows, cols;
        psw_param_shape(cfg, (psw_param_id)id, &rows, &cols);
        if (rows == 0) continue;
        size_t wshape[2] = {rows, cols};
        size_t wdim = cols == 1 ? 1 : 2;
        dims_str(wdim, wshape, want, sizeof want);
        int layers = is_per_layer((psw_param_id)id) ? cfg->num_layers : 1;
        for (int l = 0; l < layers; l++) {
            psw_param_hf_name(cfg->arch, (psw_param_id)id, l, name, sizeof name);
            const psw_st_tensor *t = psw_st_find(st, name);
            if (!t) {
                s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: missing tensor %s (%s wants %s)", st->source,
                             name, cfg_src, want);
                goto done;
            }
            used[t - st->tensors] = true;
            if (t->dtype == PSW_DTYPE_OTHER) {
                s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: tensor %s: dtype %s, want F32, BF16 or F16",
                             psw_st_file_of(st, t), name, t->dtype_str);
                goto done;
            }
            bool ok = (size_t)t->ndim == wdim && t->shape[0] == rows &&
                      (wdim == 1 || t->shape[1] == cols);
            if (!ok) {
                dims_str((size_t)t->ndim, t->shape, got, sizeof got);
                s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: tensor %s: shape %s but %s wants %s",
                             psw_st_file_of(st, t), name, got, cfg_src, want);
                goto done;
            }
        }
    }
    for (size_t i = 0; i < st->n_tensors; i++) {
        if (used[i]) continue;
        const psw_st_tensor *t = &st->tensors[i];
        if (cfg->tie_word_embeddings && strcmp(t->name, "lm_head.weight") == 0) {
            PSW_LOG_INFO("%s: ignoring lm_head.weight: tie_word_embeddings is true, so the head "
                         "is model.embed_tokens.weight (as in HF)",
                         psw_st_file_of(st, t));
            continue;
        }
        if (ends_with(t->name, ".rotary_emb.inv_freq")) continue; /* recomputed from rope_theta */
        s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: unexpected tensor %s (not part of a %s with this %s)",
                     psw_st_file_of(st, t), t->name, psw_arch_name(cfg->arch), cfg_src);
        goto done;
    }
done:
    free(used);
    return s;
}

static psw_status open_checked(const char *dir, psw_model_config *cfg, psw_safetensors *st,
                               psw_err *err) {
    memset(st, 0, sizeof *st);
    char *cfg_path = psw_path_join(dir, "config.json");
    psw_status s = psw_config_load(cfg_path, cfg, err);
    if (s == PSW_OK) s = psw_st_open_dir(st, dir, err);
    if (s == PSW_OK) s = check_tensors(st, cfg, cfg_path, err);
    if (s != PSW_OK) psw_st_close(st);
    free(cfg_path);
    return s;
}

psw_status psw_checkpoint_inspect(const char *dir, psw_checkpoint_info *info, psw_err *err) {
    memset(info, 0, sizeof *info);
    psw_safetensors st;
    psw_status s = open_checked(dir, &info->cfg, &st, err);
    if (s != PSW_OK) return s;
    info->n_files = st.n_files;
    for (int i = 0; i < st.n_files; i++) info->bytes_on_disk += st.files[i].size;
    info->n_tensors = st.n_tensors;
    for (size_t i = 0; i < st.n_tensors; i++) {
        info->n_by_dtype[st.tensors[i].dtype]++;
        info->bytes_by_dtype[st.tensors[i].dtype] += st.tensors[i].nbytes;
    }
    psw_st_close(&st);
    return PSW_OK;
}

/* Reads tensor t into bf16 storage: a BF16 tensor exactly, F32 and F16 rounded to nearest even
 * (F16 widens to fp32 exactly first, so there is one rounding). */
static psw_status read_bf16(const psw_safetensors *st, const psw_st_tensor *t, uint16_t *out,
                            psw_err *err) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case PSW_DTYPE_BF16:
        for (size_t i = 0; i < t->numel; i++) out[i] = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
        return PSW_OK;
    case PSW_DTYPE_F16:
        for (size_t i = 0; i < t->numel; i++)
            out[i] = psw_f32_to_bf16(psw_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8))));
        return PSW_OK;
    case PSW_DTYPE_F32:
        for (size_t i = 0; i < t->numel; i++) {
            float f;
            memcpy(&f, p + 4 * i, sizeof f);
            out[i] = psw_f32_to_bf16(f);
        }
        return PSW_OK;
    case PSW_DTYPE_OTHER: break;
    }
    return PSW_FAIL(err, PSW_ERR_UNSUPPORTED,
                    "%s: tensor %s: dtype %s cannot be read as floats (F32, BF16 or F16 only)",
                    psw_st_file_of(st, t), t->name, t->dtype_str);
}

/* Loads DIR into m with the groups in bf16_groups stored as bf16: into a new owned arena (arena
 * NULL) or into the caller's arena of `bytes`, which m then borrows. */
static psw_status load(psw_model *m, const char *dir, unsigned bf16_groups, void *arena,
                       size_t bytes, psw_err *err) {
    memset(m, 0, sizeof *m);
    psw_model_config cfg;
    psw_safetensors st;
    psw_status s = open_checked(dir, &cfg, &st, err);
    if (s != PSW_OK) return s;
    if (arena) {
        /* Zeroed first, as psw_model_init does, so every byte of the arena is defined. */
        size_t want = psw_params_bytes(&cfg, bf16_groups);
        if (bytes == want) memset(arena, 0, bytes);
        s = psw_model_init_borrowed_storage(m, &cfg, bf16_groups, arena, bytes, err);
        if (s == PSW_ERR_SHAPE && bf16_groups == 0) /* an fp32 arena is counted in floats */
            s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: the arena holds %zu floats but the model takes %zu",
                         dir, bytes / sizeof(float), want / sizeof(float));
        else if (s == PSW_ERR_SHAPE)
            s = PSW_FAIL(err, PSW_ERR_SHAPE, "%s: the arena holds %zu bytes but the model takes %zu",
                         dir, bytes, want);
    } else {
        s = psw_model_init_storage(m, &cfg, bf16_groups, err);
    }
    if (s != PSW_OK) goto fail;
    char name[160];
    for (int id = 0; id < PSW_P_COUNT; id++) {
        if (m->params.count[id] == 0) continue;
        int layers = is_per_layer((psw_param_id)id) ? cfg.num_layers : 1;
        size_t per = m->params.count[id] / (size_t)layers;
        for (int l = 0; l < layers; l++) {
            psw_param_hf_name(cfg.arch, (psw_param_id)id, l, name, sizeof name);
            const psw_st_tensor *t = psw_st_find(&st, name);
            PSW_ASSERT(t && t->numel == per); /* check_tensors established this */
            if (m->params.ptr[id])
                s = psw_st_read_f32(&st, t, m->params.ptr[id] + (size_t)l * per, err);
            else
                s = read_bf16(&st, t, m->params.bf16[id] + (size_t)l * per, err);
            if (s != PSW_OK) goto fail;
        }
    }
    psw_st_close(&st);
    return PSW_OK;
fail:
    psw_st_close(&st);
    psw_model_free(m);
    return s;
}

psw_status psw_model_load(psw_model *m, const char *dir, psw_err *err) {
    return load(m, dir, 0u, NULL, 0, err);
}

psw_status psw_model_load_storage(psw_model *m, const char *dir, unsigned bf16_groups,
                                  psw_err *err) {
    return load(m, dir, bf16_groups, NULL, 0, err);
}

psw_status psw_model_load_into(psw_model *m, const char *dir, float *arena, size_t n_floats,
                               psw_err *err) {
    PSW_ASSERT(arena);
    size_t bytes = n_floats <= SIZE_MAX / sizeof(float) ? n_floats * sizeof(float) : SIZE_MAX;
    return load(m, dir, 0u, arena, bytes, err);
}

psw_status psw_model_load_into_storage(psw_model *m, const char *dir, unsigned bf16_groups,
                                       void *arena, size_t bytes, psw_err *err) {
    PSW_ASSERT(arena);
    return load(m, dir, bf16_groups, arena, bytes, err);
}

psw_status psw_model_save(const psw_model *m, const char *dir, psw_save_dtype dtype,
                          size_t max_shard_bytes, psw_err *err) {
    if (m->params.bf16_groups) {
        /* The writer takes fp32 tensors: save an fp32 copy (exact; bf16 values written as BF16
         * round-trip unchanged). */
        psw_model wide;
        psw_status s = psw_model_convert_storage(m, 0u, &wide, err);
        if (s == PSW_OK) s = psw_model_save(&wide, dir, dtype, max_shard_bytes, err);
        psw_model_free(&wide);
        return s;
    }
    const psw_model_config *cfg = &m->cfg;
    psw_status s = psw_mkdir_p(dir, err);
    if (s != PSW_OK) return s;
    /* HF order: embeddings, then each layer's tensors together, then the final norm and head. */
    static const psw_param_id layer_order[] = {
        PSW_P_ATTN_NORM, PSW_P_Q, PSW_P_K, PSW_P_V, PSW_P_O, PSW_P_Q_NORM,
        PSW_P_K_NORM, PSW_P_GATE, PSW_P_UP, PSW_P_DOWN, PSW_P_MLP_NORM,
    };
    size_t n_layer_kinds = sizeof layer_order / sizeof layer_order[0];
    size_t cap = 3 + n_layer_kinds * (size_t)cfg->num_layers, n = 0;
    psw_st_write_tensor *ts = psw_xcalloc(cap, sizeof *ts);
    char **names = psw_xcalloc(cap, sizeof *names);
    char buf[160];
    for (int stage = 0; stage < 3; stage++) {
        int layers = stage == 1 ? cfg->num_layers : 1;
        for (int l = 0; l < layers; l++) {
            size_t kinds = stage == 1 ? n_layer_kinds : (stage == 0 ? 1 : 2);
            for (size_t k = 0; k < kinds; k++) {
                psw_param_id id = stage == 1 ? layer_order[k]
                                  : stage == 0 ? PSW_P_EMBED
                                  : (k == 0 ? PSW_P_FINAL_NORM : PSW_P_LM_HEAD);
                if (m->params.count[id] == 0) continue;
                size_t rows, cols;
                psw_param_shape(cfg, id, &rows, &cols);
                psw_st_write_tensor *t = &ts[n];
                names[n] = psw_xstrdup(psw_param_hf_name(cfg->arch, id, l, buf, sizeof buf));
                t->name = names[n];
                t->ndim = cols == 1 ? 1 : 2;
                t->shape[0] = rows;
                t->shape[1] = cols;
                t->data = m->params.ptr[id] + (size_t)l * rows * cols;
                n++;
            }
        }
    }
    s = psw_st_write(dir, ts, n, dtype == PSW_SAVE_BF16 ? PSW_DTYPE_BF16 : PSW_DTYPE_F32,
                     max_shard_bytes, err);
    if (s == PSW_OK) {
        char *cfg_path = psw_path_join(dir, "config.json");
        s = psw_config_save(cfg_path, cfg, dtype == PSW_SAVE_BF16 ? "bfloat16" : "float32", err);
        free(cfg_path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    free(ts);
    return s;
}

psw_status psw_copy_tokenizer_files(const char *src_dir, const char *dst_dir, int *n_copied,
                                    psw_err *err) {
    static const char *const files[] = {
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "generation_config.json", "tokenizer.model", "vocab.json", "merges.txt",
        "added_tokens.json",
    };
    int copied = 0;
    psw_status s = PSW_OK;
    for (size_t i = 0; i < sizeof files / sizeof files[0] && s == PSW_OK; i++) {
        char *src = psw_path_join(src_dir, files[i]);
        char *dst = psw_path_join(dst_dir, files[i]);
        if (access(src, F_OK) == 0) {
            char *data = NULL;
            size_t len = 0;
            s = psw_read_file(src, &data, &len, err);
            if (s == PSW_OK) s = psw_write_file(dst, data, len, err);
            if (s == PSW_OK) copied++;
            free(data);
        }
        free(src);
        free(dst);
    }
    if (n_copied) *n_copied = copied;
    return s;
}
