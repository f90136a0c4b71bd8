/* llama2c.h: reads a llama2.c "legacy" (version 0) checkpoint into a Llama psw_model, so it can be
 * saved as a HuggingFace LlamaForCausalLM directory (`prunesweep convert llama2c`).
 *
 * Format (little-endian): 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len; vocab_size < 0 means an untied classifier), then fp32 arrays in run.c order:
 * token_embedding (V,C), rms_att (L,C), wq (L,C,C), wk (L,KD,C), wv (L,KD,C), wo (L,C,C),
 * rms_ffn (L,C), w1 (L,H,C) = gate, w2 (L,C,H) = down, w3 (L,H,C) = up, rms_final (C),
 * freq_cis_real and freq_cis_imag (seq_len*HD/2 each, skipped), then wcls (V,C) if untied.
 * The file size must match the header exactly.
 *
 * llama2.c rotates adjacent pairs (2i, 2i+1) of each head; HF's rotate_half pairs i with
 * i + HD/2. The rows of wq and wk are permuted within each head so that HF row p*HD/2 + i is
 * llama2.c row 2i + p (the permute of transformers' convert_llama_weights_to_hf.py, which turns
 * Meta's interleaved layout into HF's). Everything else is copied as is.
 * The config gets rms_norm_eps 1e-5, rope_theta 10000, max_position_embeddings = seq_len,
 * bos 1 / eos 2 (llama2.c's sentencepiece ids), tie_word_embeddings = (vocab_size > 0).
 *
 * Does not: read the newer versioned exports (magic "ak42"; PSW_ERR_UNSUPPORTED) or the
 * tokenizer .bin. Ownership: the caller owns m (psw_model_free). */
#ifndef PSW_LLAMA2C_H
#define PSW_LLAMA2C_H

#include "psw/model.h"

/* Errors: PSW_ERR_IO, PSW_ERR_FORMAT (bad header, size mismatch), PSW_ERR_UNSUPPORTED,
 * PSW_ERR_NOMEM. On failure m is freed. */
psw_status psw_llama2c_load(psw_model *m, const char *path, psw_err *err);

#endif
