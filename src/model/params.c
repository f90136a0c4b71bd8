/* params.c: the parameter table: per-kind shapes, counts, names and groups. */
#include <stdio.h>

#include "psw/model.h"

static const char *const param_names[PSW_P_COUNT] = {
    [PSW_P_EMBED] = "embed_tokens",  [PSW_P_Q] = "q_proj",
    [PSW_P_K] = "k_proj",            [PSW_P_V] = "v_proj",
    [PSW_P_O] = "o_proj",            [PSW_P_Q_NORM] = "q_norm",
    [PSW_P_K_NORM] = "k_norm",       [PSW_P_ATTN_NORM] = "attn_norm",
    [PSW_P_GATE] = "gate_proj",      [PSW_P_UP] = "up_proj",
    [PSW_P_DOWN] = "down_proj",      [PSW_P_MLP_NORM] = "mlp_norm",
    [PSW_P_FINAL_NORM] = "norm",     [PSW_P_LM_HEAD] = "lm_head",
};

const char *psw_param_name(psw_param_id id) {
    PSW_ASSERT(id >= 0 && id < PSW_P_COUNT);
    return param_names[id];
}

psw_param_group psw_param_group_of(psw_param_id id) {
    switch (id) {
    case PSW_P_EMBED: return PSW_GROUP_EMBED;
    case PSW_P_Q:
    case PSW_P_K:
    case PSW_P_V:
    case PSW_P_O: return PSW_GROUP_ATTN;
    case PSW_P_GATE:
    case PSW_P_UP:
    case PSW_P_DOWN: return PSW_GROUP_MLP;
    case PSW_P_LM_HEAD: return PSW_GROUP_HEAD;
    case PSW_P_Q_NORM:
    case PSW_P_K_NORM:
    case PSW_P_ATTN_NORM:
    case PSW_P_MLP_NORM:
    case PSW_P_FINAL_NORM: return PSW_GROUP_NORM;
    case PSW_P_COUNT: break;
    }
    PSW_ABORT("bad parameter id %d", (int)id);
}

const char *psw_param_group_name(psw_param_group g) {
    static const char *const names[PSW_GROUP_COUNT] = {"embeddings", "attention", "mlp", "norms",
                                                       "head"};
    PSW_ASSERT(g >= 0 && g < PSW_GROUP_COUNT);
    return names[g];
}

void psw_param_shape(const psw_model_config *cfg, psw_param_id id, size_t *rows, size_t *cols) {
    size_t C = (size_t)cfg->hidden_size, H = (size_t)cfg->intermediate_size;
    size_t QD = (size_t)cfg->num_heads * (size_t)cfg->head_dim;
    size_t KD = (size_t)cfg->num_kv_heads * (size_t)cfg->head_dim;
    size_t V = (size_t)cfg->vocab_size;
    bool olmo2 = cfg->arch == PSW_ARCH_OLMO2;
    size_t r = 0, c = 1;
    switch (id) {
    case PSW_P_EMBED: r = V, c = C; break;
    case PSW_P_Q: r = QD, c = C; break;
    case PSW_P_K:
    case PSW_P_V: r = KD, c = C; break;
    case PSW_P_O: r = C, c = QD; break;
    case PSW_P_Q_NORM: r = olmo2 ? QD : 0; break;
    case PSW_P_K_NORM: r = olmo2 ? KD : 0; break;
    case PSW_P_ATTN_NORM:
    case PSW_P_MLP_NORM:
    case PSW_P_FINAL_NORM: r = C; break;
    case PSW_P_GATE:
    case PSW_P_UP: r = H, c = C; break;
    case PSW_P_DOWN: r = C, c = H; break;
    case PSW_P_LM_HEAD: r = cfg->tie_word_embeddings ? 0 : V, c = C; break;
    case PSW_P_COUNT: PSW_ABORT("bad parameter id");
    }
    *rows = r;
    *cols = r ? c : 0;
}

static bool is_per_layer(psw_param_id id) {
    return id != PSW_P_EMBED && id != PSW_P_FINAL_NORM && id != PSW_P_LM_HEAD;
}

void psw_params_layout(const psw_model_config *cfg, psw_params *layout) {
    size_t total = 0;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        size_t rows, cols;
        psw_param_shape(cfg, (psw_param_id)i, &rows, &cols);
        size_t n = rows * (cols ? cols : 1);
        if (is_per_layer((psw_param_id)i)) n *= (size_t)cfg->num_layers;
        if (rows == 0) n = 0;
        layout->count[i] = n;
        layout->ptr[i] = NULL;
        layout->bf16[i] = NULL;
        total += n;
    }
    layout->base = NULL;
    layout->total = total;
    layout->bytes = total * sizeof(float);
    layout->bf16_groups = 0;
    layout->borrowed = false;
}
