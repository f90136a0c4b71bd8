/* model_io.h: HuggingFace model directories <-> psw_model: config.json plus model.safetensors
 * (or a sharded set with model.safetensors.index.json), and the tokenizer files that travel
 * with a checkpoint.
 *
 * Loading checks the checkpoint against config.json before reading any weight: every tensor the
 * config implies must exist with the exact shape and a float dtype (F32/BF16/F16), and every
 * tensor in the files must be one the model uses. Exceptions, as in HF: lm_head.weight of a tied
 * model is ignored (logged), and *.rotary_emb.inv_freq buffers of old Llama exports are ignored.
 * Errors name the file and tensor. HF names per parameter kind are listed in model.h; Llama's
 * input_layernorm is PSW_P_ATTN_NORM and its post_attention_layernorm is PSW_P_MLP_NORM.
 *
 * Does not: convert other formats (llama2c.h), or touch grads/optimizer state.
 * Ownership: the caller owns the psw_model; see model.h. */
#ifndef PSW_MODEL_IO_H
#define PSW_MODEL_IO_H

#include "psw/model.h"
#include "psw/safetensors.h"

typedef enum psw_save_dtype { PSW_SAVE_F32 = 0, PSW_SAVE_BF16 } psw_save_dtype;

/* HF tensor name of parameter kind `id` (layer ignored for embed/final norm/lm_head) for arch,
 * e.g. "model.layers.3.mlp.up_proj.weight". Returns buf. */
const char *psw_param_hf_name(psw_arch arch, psw_param_id id, int layer, char *buf, size_t n);

/* What `info` shows without reading weights. */
typedef struct psw_checkpoint_info {
    psw_model_config cfg;
    int n_files;                          /* safetensors files */
    size_t bytes_on_disk;                 /* sum of the safetensors file sizes */
    size_t n_tensors;
    size_t n_by_dtype[PSW_DTYPE_OTHER + 1]; /* tensors per psw_dtype */
    size_t bytes_by_dtype[PSW_DTYPE_OTHER + 1];
} psw_checkpoint_info;

/* Reads DIR/config.json and validates the weight files against it (names, shapes, dtypes)
 * without converting any weight. Errors: as psw_model_load. */
psw_status psw_checkpoint_inspect(const char *dir, psw_checkpoint_info *info, psw_err *err);

/* Loads DIR into m (which must not hold a model; freed again on failure).
 * Errors: PSW_ERR_IO (missing files), PSW_ERR_FORMAT (bad JSON or safetensors layout),
 * PSW_ERR_INVALID_ARG / PSW_ERR_UNSUPPORTED (config.json), PSW_ERR_SHAPE (missing, unexpected,
 * wrong-shape or non-float tensor), PSW_ERR_NOMEM. */
psw_status psw_model_load(psw_model *m, const char *dir, psw_err *err);
/* As psw_model_load, but the weights go into the caller's arena of n_floats floats (64-byte
 * aligned, e.g. a node-shared memory window), which m then borrows read-only (model.h): free m
 * with psw_model_free, the arena stays the caller's. Errors: psw_model_load's, and
 * PSW_ERR_SHAPE when n_floats is not what DIR's config takes (psw_params_layout total),
 * PSW_ERR_INVALID_ARG when the arena is not 64-byte aligned. */
psw_status psw_model_load_into(psw_model *m, const char *dir, float *arena, size_t n_floats,
                               psw_err *err);

/* As psw_model_load with the groups in bf16_groups (bit g = PSW_GROUP_g) stored as bf16 and
 * frozen (model.h): a BF16 tensor is copied exactly, an F32 or F16 one rounded to nearest even.
 * Errors: psw_model_load's. */
psw_status psw_model_load_storage(psw_model *m, const char *dir, unsigned bf16_groups,
                                  psw_err *err);
/* psw_model_load_into for an arena of `bytes` laid out for bf16_groups (psw_params_bytes).
 * Errors: psw_model_load_into's, PSW_ERR_SHAPE naming bytes. */
psw_status psw_model_load_into_storage(psw_model *m, const char *dir, unsigned bf16_groups,
                                       void *arena, size_t bytes, psw_err *err);

/* Writes DIR/config.json and the weights (creating DIR). max_shard_bytes == 0: one file.
 * bf16-stored kinds are written through a temporary fp32 copy of the model (exact).
 * A tied model writes no lm_head.weight. Errors: PSW_ERR_IO, PSW_ERR_NOMEM. */
psw_status psw_model_save(const psw_model *m, const char *dir, psw_save_dtype dtype,
                          size_t max_shard_bytes, psw_err *err);

/* Copies the tokenizer and generation files a checkpoint carries (tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, generation_config.json, tokenizer.model,
 * vocab.json, merges.txt, added_tokens.json) from src_dir to dst_dir, skipping absent ones.
 * *n_copied (may be NULL) gets the number copied. Errors: PSW_ERR_IO. */
psw_status psw_copy_tokenizer_files(const char *src_dir, const char *dst_dir, int *n_copied,
                                    psw_err *err);

#endif
