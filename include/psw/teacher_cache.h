/* teacher_cache.h: the unpruned teacher's logits, computed once per (model, data, template) and
 * stored on disk for every distillation run to reuse (memory-mapped, so ranks on a node share
 * the pages).
 *
 * Formats (training.teacher_cache):
 *   fp16 (default): the full vocabulary at each needed position, as IEEE half. Error: relative
 *        rounding 2^-11 per logit (measured effect on the KL: tests/unit/test_teacher_cache.c).
 *   topk: the k largest logits (ids + fp32 values) plus the log-sum-exp of the rest; decoding
 *        spreads the remaining mass uniformly over the other V-k tokens. Lossy in the tail.
 * Rows: one per example (the answer position), or with all_positions one per prompt position.
 * A 64-bit fingerprint of (teacher weights, tokenized prompts, format, positions) is stored in
 * the header; opening with a different expected fingerprint is an error, so a stale cache is
 * never used.
 *
 * File layout (little-endian): header (psw_cache_header), (n+1) int64 row offsets, rows.
 * Ownership: psw_teacher_cache_open returns a handle closed by psw_teacher_cache_close. Reads are
 * thread-safe (the mapping is read-only). */
#ifndef PSW_TEACHER_CACHE_H
#define PSW_TEACHER_CACHE_H

#include "psw/mcset.h"
#include "psw/model.h"

typedef enum psw_cache_format { PSW_CACHE_FP16 = 0, PSW_CACHE_TOPK = 1 } psw_cache_format;

typedef struct psw_teacher_cache psw_teacher_cache;

uint64_t psw_teacher_cache_fingerprint(uint64_t model_hash, uint64_t prompts_hash,
                                       bool all_positions, psw_cache_format fmt, int topk);

/* Runs the teacher over every prompt (batches of `batch`, length-sorted) and writes the cache to
 * path (temp file + rename, so a killed build never leaves a partial cache). The teacher must be
 * reserved for (batch, p->max_len, batch * p->max_len when all_positions else batch).
 * Errors: PSW_ERR_IO, PSW_ERR_NOMEM, PSW_ERR_INVALID_ARG (topk outside 1..V), forward errors. */
psw_status psw_teacher_cache_build(psw_model *teacher, const psw_mc_prompts *p, bool all_positions,
                                   psw_cache_format fmt, int topk, int batch, uint64_t fingerprint,
                                   const char *path, psw_err *err);

/* Maps a cache and checks it against what the caller expects.
 * Errors: PSW_ERR_IO (missing, unreadable), PSW_ERR_FORMAT (bad magic, truncated, inconsistent
 * offsets), PSW_ERR_INVALID_ARG (fingerprint, example count or vocabulary differ: stale cache). */
psw_status psw_teacher_cache_open(const char *path, uint64_t fingerprint, size_t n_examples,
                                  int vocab, psw_teacher_cache **out, psw_err *err);
void psw_teacher_cache_close(psw_teacher_cache *c);

/* Rows stored for example i (1, or its prompt length with all_positions). */
int psw_teacher_cache_rows(const psw_teacher_cache *c, size_t example);
bool psw_teacher_cache_all_positions(const psw_teacher_cache *c);
/* Decodes row r of example i into logits (V) fp32. */
void psw_teacher_cache_row(const psw_teacher_cache *c, size_t example, int row, float *logits);

/* IEEE half from float, round to nearest even (overflow -> inf). */
uint16_t psw_f32_to_f16(float f);

#endif
