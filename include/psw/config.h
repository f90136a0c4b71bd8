/* config.h: the model architecture as read from a HuggingFace config.json.
 * Supports Olmo2ForCausalLM and LlamaForCausalLM only; anything else is PSW_ERR_UNSUPPORTED.
 * Plain value struct, no ownership. */
#ifndef PSW_CONFIG_H
#define PSW_CONFIG_H

#include "psw/common.h"

typedef enum psw_arch {
    PSW_ARCH_OLMO2 = 0, /* post-norm blocks, QK-norm over full q/k width, untied head */
    PSW_ARCH_LLAMA = 1, /* pre-norm blocks, optional tied embeddings */
} psw_arch;

typedef struct psw_model_config {
    psw_arch arch;
    int hidden_size;       /* C */
    int intermediate_size; /* H: MLP neurons per layer (uniform across layers) */
    int num_layers;        /* L */
    int num_heads;         /* NH */
    int num_kv_heads;      /* NKV, divides NH */
    int head_dim;          /* HD; hidden_size / num_heads unless config.json sets head_dim */
    int vocab_size;        /* V */
    int max_position_embeddings;
    float rope_theta;
    float rms_norm_eps;
    bool tie_word_embeddings;
    int bos_token_id; /* -1 when absent */
    int eos_token_id; /* -1 when absent */
    int pad_token_id; /* -1 when absent */
} psw_model_config;

const char *psw_arch_name(psw_arch arch); /* "Olmo2ForCausalLM" / "LlamaForCausalLM" */

/* Parses config.json text. `source` names the file in error messages.
 * Errors: PSW_ERR_FORMAT (bad JSON, wrong type), PSW_ERR_INVALID_ARG (missing field, bad or
 * contradictory value), PSW_ERR_UNSUPPORTED (other architectures, rope_scaling, biases). */
psw_status psw_config_parse(const char *json, size_t len, const char *source,
                            psw_model_config *cfg, psw_err *err);
/* Reads and parses a config.json file. */
psw_status psw_config_load(const char *path, psw_model_config *cfg, psw_err *err);
/* Checks ranges and consistency (used by parse and by programmatic configs). */
psw_status psw_config_validate(const psw_model_config *cfg, const char *source, psw_err *err);
/* Writes a config.json that HuggingFace transformers loads ("torch_dtype" names the weights). */
psw_status psw_config_save(const char *path, const psw_model_config *cfg, const char *torch_dtype,
                           psw_err *err);

#endif
