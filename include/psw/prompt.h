/* prompt.h: multiple-choice prompts (k-shot, optional chat wrapper) and their tokenization.
 *
 * The settings mirror psw_spec_prompt (spec.h) field by field, so the caller copies pointers:
 *   question block = format with {question} -> stem and {choices} -> the concatenation over
 *                    the choices of choice_format ({label} -> label, {text} -> choice text)
 *   prompt         = for each shot: block(shot) + answer_format({label} -> gold label)
 *                    + shot_separator; then block(example)
 *   chat           = when set, the prompt replaces the one {prompt} of this wrapper
 *   continuation k = answer_format with {label} -> label k (" A" .. " E" by default); the letter
 *                    set follows the labels of the example.
 * Only these named placeholders are substituted, once, in the template (never inside inserted
 * text); any other brace is literal. The defaults reproduce, byte for byte, every context of
 * AI2's OLMES "csqa:mc" 5-shot requests (../shared/data/csqa/olmes_mc_5shot):
 *   "Question: <stem>\n A. <a>\n B. <b>\n C. <c>\n D. <d>\n E. <e>\nAnswer:"
 * preceded by 5 fixed solved CSQA train examples, each followed by " <gold>\n\n".
 *
 * What it does not do: no truncation to a context length (the caller checks n_ids), no
 * batching, no model calls. An example that is also one of the shots is not detected (with
 * train shots on train data the prompt shows that example's own answer).
 *
 * Ownership: psw_prompt_settings only borrows (strings and shots must outlive its use); the
 * defaults point at static storage. Built strings and token arrays are malloc'd and owned by
 * the caller. All functions are reentrant. */
#ifndef PSW_PROMPT_H
#define PSW_PROMPT_H

#include "psw/common.h"
#include "psw/dataset.h"
#include "psw/metrics.h"
#include "psw/tokenizer.h"

#define PSW_PROMPT_MAX_SHOTS 10
#define PSW_PROMPT_OLMES_SHOTS 5

typedef struct psw_prompt_settings {
    const char *format;          /* default "Question: {question}{choices}\nAnswer:";
                                    {question} and {choices} once each */
    const char *choice_format;   /* default "\n {label}. {text}"; {label} and {text} once each */
    const char *answer_format;   /* default " {label}"; {label} once */
    const char *shot_separator;  /* default "\n\n" */
    const psw_mc_example *shots; /* [n_shots] solved examples (gold >= 0); default the OLMES
                                    CSQA shots (psw_prompt_olmes_csqa_shots) */
    int n_shots;                 /* 0..PSW_PROMPT_MAX_SHOTS; default 5 */
    const char *chat;            /* NULL (default) or a wrapper with "{prompt}" once, e.g.
                                    "<|endoftext|><|user|>\n{prompt}\n<|assistant|>\n" */
    const char *bos_token;       /* NULL (default): nothing prepended; else a token string of
                                    the tokenizer whose id is prepended (e.g. Llama 3 BOS) */
} psw_prompt_settings;

/* Fills *s with the documented defaults (OLMES csqa:mc, 5-shot, no chat wrapper, no BOS). */
void psw_prompt_settings_default(psw_prompt_settings *s);

/* The 5 OLMES CSQA few-shot examples as static literal examples, in OLMES order: train ids
 * 61fe6e87.. (B), 02e821a3.. (D), 23505889.. (C), a76403b4.. (E), 6dc92184.. (A), i.e. train
 * lines 2, 4, 5, 17, 59. *n receives PSW_PROMPT_OLMES_SHOTS. */
const psw_mc_example *psw_prompt_olmes_csqa_shots(int *n);

/* Resolves the shots of a spec into out[0..n_shots): with n_ids > 0 (then n_ids == n_shots)
 * each id is looked up in `train` (copies of its examples, borrowing train's strings); with
 * n_ids == 0 the first n_shots OLMES examples. Errors (PSW_ERR_INVALID_ARG, naming
 * "prompt.shots" / "prompt.shot_ids[i]"): n_shots out of 0..PSW_PROMPT_MAX_SHOTS, more than 5
 * shots without ids, n_ids != n_shots, train NULL with ids, an id absent from train or
 * unlabeled there. */
psw_status psw_prompt_select_shots(const psw_mc_dataset *train, const char *const *ids, int n_ids,
                                   int n_shots, psw_mc_example out[PSW_PROMPT_MAX_SHOTS],
                                   psw_err *err);

/* Checks the settings: templates set and holding their placeholders exactly once, n_shots in
 * range, each shot solved with 2..10 choices. Errors: PSW_ERR_INVALID_ARG naming the field as
 * "prompt.<field>" (e.g. "prompt.shots[2]: example 'x' has no answer"). */
psw_status psw_prompt_settings_validate(const psw_prompt_settings *s, psw_err *err);

/* Builds the prompt text of ex (its gold is not used). *out is malloc'd, NUL-terminated, owned
 * by the caller; *len (may be NULL) gets its length. Errors: those of validate. */
psw_status psw_prompt_build(const psw_prompt_settings *s, const psw_mc_example *ex, char **out,
                            size_t *len, psw_err *err);

/* The scored continuation of a label (answer_format with {label} substituted), malloc'd, owned
 * by the caller. s must be valid. */
char *psw_prompt_continuation(const psw_prompt_settings *s, const char *label);

typedef struct psw_prompt_tokens {
    int32_t *ids;  /* [T] prompt token ids (BOS first when set), malloc'd, owned */
    size_t n_ids;  /* T >= 1; the answer position is T - 1 (its logits predict the letter) */
    int n_choices; /* K of the example */
    int32_t letter_ids[PSW_MAX_CHOICES]; /* [K] the single token of each continuation */
} psw_prompt_tokens;

/* Builds and tokenizes the prompt of ex. Checks that every continuation is exactly one token
 * (PSW_ERR_INVALID_ARG naming the example, the letter and the token count), that the letter
 * tokens are distinct, and that tokenizing prompt + first continuation gives the prompt ids
 * followed by that letter id, i.e. the letter does not merge with the end of the prompt (the
 * context/continuation split lm-eval makes). Errors: those of psw_prompt_build and
 * psw_tokenizer_encode, PSW_ERR_INVALID_ARG (bos_token not in the vocabulary, the checks above),
 * PSW_ERR_NOMEM. On success *out is owned by the caller (psw_prompt_tokens_free); on failure it
 * is empty. */
psw_status psw_prompt_tokenize(const psw_prompt_settings *s, const psw_tokenizer *tok,
                               const psw_mc_example *ex, psw_prompt_tokens *out, psw_err *err);

/* Frees t->ids and zeroes *t. NULL is fine. */
void psw_prompt_tokens_free(psw_prompt_tokens *t);

#endif
