/* pretrain.h: causal-LM pretraining of a small model on a token stream, and the embedded default
 * (a synthetic world, its tokenizer, and a tiny OLMo2 teacher pretrained on it by this trainer).
 *
 * Pretraining samples windows of seq_len+1 tokens from the stream at seeded random offsets and
 * trains next-token cross-entropy on every position (AdamW, warmup + cosine). Deterministic from
 * the seed. Ownership: the caller owns the model; the token stream is borrowed. */
#ifndef PSW_PRETRAIN_H
#define PSW_PRETRAIN_H

#include "psw/model.h"
#include "psw/world.h"

typedef struct psw_pretrain_opts {
    int batch, seq_len;
    long steps, warmup;
    float lr, lr_min, weight_decay, max_grad_norm;
    uint64_t seed;
} psw_pretrain_opts;

/* Trains m (initialised by the caller) on tokens[0..n). *final_loss gets the mean loss of the
 * last 10% of steps. Errors: PSW_ERR_INVALID_ARG (stream shorter than a window), PSW_ERR_NUMERIC
 * (diverged), PSW_ERR_NOMEM. */
psw_status psw_pretrain(psw_model *m, const int32_t *tokens, size_t n, const psw_pretrain_opts *o,
                        double *final_loss, psw_err *err);

/* The embedded default's options: world (seed, entities...), tokenizer size, teacher shape and
 * pretraining schedule. */
typedef struct psw_default_opts {
    psw_world_opts world;
    int vocab_size;      /* BPE target size */
    int hidden, layers, heads, kv_heads, intermediate;
    psw_pretrain_opts train;
    /* Then supervised fine-tuning on the train questions (0-shot prompt, CE of the gold letter),
     * as OLMo2-SFT is an SFT of its base: sft_epochs passes, micro-batches of sft_batch. */
    int sft_epochs, sft_batch;
    float sft_lr;
} psw_default_opts;

void psw_default_opts_init(psw_default_opts *o);

/* True when dir holds a complete default built from these options (prepared.json matches). */
bool psw_default_ready(const char *dir, const psw_default_opts *o);

/* Builds the default into dir: train/dev/test JSONL, corpus.txt, tokenizer.json, the teacher
 * (config.json + model.safetensors) and prepared.json, last, as the completion marker. Progress
 * on stderr. *dev_accuracy (may be NULL) gets the teacher's 0-shot dev accuracy.
 * Errors: PSW_ERR_IO and those of the world, tokenizer, trainer and evaluator. */
psw_status psw_default_prepare(const char *dir, const psw_default_opts *o, double *dev_accuracy,
                               psw_err *err);

/* Makes sure the default with the standard options exists in psw_run_default_dir() (building it
 * when missing or stale) and returns that directory in *dir (caller frees). */
psw_status psw_default_ensure(char **dir, psw_err *err);

#endif
