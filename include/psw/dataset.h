/* dataset.h: multiple-choice question sets in the CommonsenseQA JSONL format (one object per
 * line: {"answerKey": "A", "id": "...", "question": {"question_concept": "...", "stem": "...",
 * "choices": [{"label": "A", "text": "..."}, ...]}}; see ../shared/data/csqa/SOURCE.md).
 *
 * What it checks: every line is one JSON object; "id" is a non-empty string, unique in the file;
 * "question.stem" a string; "question.choices" an array of 2..PSW_MAX_CHOICES objects, each with
 * a non-empty "label" string (no whitespace or control bytes, unique in the question) and a
 * "text" string; "question.question_concept", if present, a string; "answerKey", if present, a
 * string equal to one of the labels. A file is either labeled (every line has a non-empty
 * answerKey) or unlabeled (no line has one; an empty-string answerKey, as the Hugging Face export
 * of the hidden test split writes it, counts as none): an unlabeled file serves distillation and
 * prediction, not accuracy. Blank (whitespace-only) lines are skipped; CRLF is accepted. Other
 * keys are ignored. Every error is PSW_ERR_FORMAT with one line "<source>:<line>: <field>: <what>"
 * (e.g. "train.jsonl:17: question.choices[2].label: expected a string").
 *
 * What it does not do: no prompt formatting (prompt.h), no tokenization, no shuffling.
 *
 * Ownership: a psw_mc_dataset owns every string its examples point to (one arena) and the
 * example array; release everything with psw_mc_dataset_free. Examples are read-only after
 * loading, so concurrent readers are fine. */
#ifndef PSW_DATASET_H
#define PSW_DATASET_H

#include "psw/common.h"
#include "psw/metrics.h"

#define PSW_MIN_CHOICES 2

typedef struct psw_mc_example {
    const char *id;                      /* never NULL */
    const char *stem;                    /* the question text, never NULL */
    const char *concept;                 /* question.question_concept, "" when absent */
    int n_choices;                       /* K, PSW_MIN_CHOICES..PSW_MAX_CHOICES */
    const char *labels[PSW_MAX_CHOICES]; /* [K] choice labels as in the file ("A".."E") */
    const char *texts[PSW_MAX_CHOICES];  /* [K] choice texts */
    int gold;                            /* index into the choices, -1 when unlabeled */
    long line;                           /* 1-based line in the source file; 0 if not from a file */
} psw_mc_example;

typedef struct psw_mc_dataset {
    char *source;             /* the path or name used in messages (owned) */
    size_t n;                 /* number of examples, >= 1 */
    psw_mc_example *examples; /* [n] in file order (owned) */
    bool labeled;             /* every example has gold >= 0 (else every gold is -1) */
    char *arena;              /* backing store of all strings (owned; internal) */
} psw_mc_dataset;

/* Loads a JSONL file. On success *out (caller-owned, zeroed first) holds the dataset.
 * Errors: PSW_ERR_IO (open/read), PSW_ERR_FORMAT (any content problem, with file:line and the
 * field), PSW_ERR_NOMEM. On failure *out is left empty (safe to free). */
psw_status psw_mc_dataset_load(const char *path, psw_mc_dataset *out, psw_err *err);

/* Parses JSONL text already in memory (len bytes; need not be NUL-terminated). `source` names
 * the text in messages and is copied. Same checks and errors as psw_mc_dataset_load. */
psw_status psw_mc_dataset_parse(const char *text, size_t len, const char *source,
                                psw_mc_dataset *out, psw_err *err);

/* Releases everything the dataset owns and zeroes it. NULL or an empty dataset is fine. */
void psw_mc_dataset_free(psw_mc_dataset *ds);

/* The example with this id, or NULL. Linear scan: for a handful of look-ups (k-shot ids). */
const psw_mc_example *psw_mc_dataset_find(const psw_mc_dataset *ds, const char *id);

/* Index of a label among the example's choices, or -1. */
int psw_mc_example_label_index(const psw_mc_example *ex, const char *label);

#endif
