/* mcset.h: a multiple-choice data set, prompted and tokenized once, in flat arrays that every
 * configuration of a sweep reuses: prompt token ids, the answer position (the last prompt token),
 * the single token of each choice letter, and the gold index.
 *
 * Labels live apart from the prompts on purpose: a distillation run receives a psw_mc_prompts
 * view, which has no gold labels, so "KL never reads labels" is enforced by the types.
 *
 * Ownership: psw_mc_set owns all arrays (psw_mc_set_free); views borrow from it. */
#ifndef PSW_MCSET_H
#define PSW_MCSET_H

#include "psw/dataset.h"
#include "psw/prompt.h"
#include "psw/tokenizer.h"

/* Label-free view of the prompts. */
typedef struct psw_mc_prompts {
    size_t n;
    const int64_t *offsets;  /* (n+1) into ids */
    const int32_t *ids;      /* prompts, concatenated */
    const int32_t *n_choices; /* (n) */
    const int32_t *letters;  /* (n, PSW_MAX_CHOICES) letter token ids, -1 padded */
    int max_len;             /* longest prompt */
} psw_mc_prompts;

typedef struct psw_mc_set {
    psw_mc_prompts prompts; /* views into the owned arrays below */
    int64_t *offsets;
    int32_t *ids;
    int32_t *n_choices;
    int32_t *letters;
    int32_t *gold;            /* (n) gold index, -1 when unlabeled */
    const char **example_ids; /* (n) borrowed from the dataset */
    bool labeled;
} psw_mc_set;

/* Prompts and tokenizes every example of ds. Prompts longer than max_seq_len tokens are an error
 * naming the example (PSW_ERR_INVALID_ARG), as are the prompt module's checks (single-token
 * letters). Shows progress on stderr for large sets. ds must outlive the set (ids borrowed). */
psw_status psw_mc_set_build(const psw_mc_dataset *ds, const psw_prompt_settings *ps,
                            const psw_tokenizer *tok, int max_seq_len, psw_mc_set *out,
                            psw_err *err);
void psw_mc_set_free(psw_mc_set *s);
/* Hash of the tokenized prompts and letters (not the labels): identifies what a teacher saw. */
uint64_t psw_mc_prompts_fingerprint(const psw_mc_prompts *p);
/* Hash of a float arena, 8 bytes at a time (fast enough for multi-GB models). */
uint64_t psw_hash_floats(const float *x, size_t n, uint64_t seed);

#endif
