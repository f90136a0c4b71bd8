/* world.h: a seeded generator of a small synthetic commonsense world, the data half of the
 * embedded default experiment.
 *
 * The world is a set of made-up entities (pronounceable nonsense words such as "dobek") and, for
 * each entity, one fact for each of several ConceptNet-style relations (AtLocation, UsedFor,
 * CapableOf, MadeOf, PartOf, Causes, HasProperty, Desires). Every relation has its own fixed
 * pool of simple English objects, disjoint from the other pools, and a fact is functional:
 * (subject, relation) has exactly one object. The generator writes
 *  - questions in CommonsenseQA's JSONL format (train / dev / test; test keeps its answerKey,
 *    since the world is ours): the stem asks for the object of one fact in one of several
 *    phrasings; the four distractors are other objects of the same relation, so they are
 *    plausible and never also true;
 *  - a text corpus: every fact stated in every statement phrasing (shuffled, a few sentences per
 *    paragraph), followed by every train question in the multiple-choice prompt format
 *    "Question: <stem>\n A. <a>\n ...\n E. <e>\nAnswer: <X>", and n_drills reading drills in
 *    the same format whose stem names the answer ("Which of these is iron?"; five objects of one
 *    relation): they teach the choice-to-letter lookup apart from any fact, so that the
 *    knowledge questions only add recall. Documents are shuffled together and separated by one
 *    blank line ("\n\n"); the file ends with "\n".
 * Every dev and test question asks about a fact the corpus states, so answering is recalling
 * memorised knowledge. With holdout_pct > 0, that share of the facts is never asked in train
 * questions (nor in the corpus's question examples): dev/test questions about them measure
 * knowledge carried over from the statements alone.
 *
 * Determinism: the output is a pure function of the options (same options -> byte-identical
 * files on every platform); any change of seed or size gives a different world.
 *
 * What it does not do: no tokenizer (bpe_train.h), no model, no file format parsing
 * (dataset.h reads the JSONL back).
 *
 * Ownership: psw_world_generate returns a world the caller releases with psw_world_free; every
 * pointer returned by the accessors is owned by the world and valid until then. */
#ifndef PSW_WORLD_H
#define PSW_WORLD_H

#include "psw/common.h"

#define PSW_WORLD_N_RELATIONS 8
#define PSW_WORLD_MAX_ENTITIES 2000
#define PSW_WORLD_MAX_QUESTIONS 1000000

typedef struct psw_world_opts {
    uint64_t seed;
    int n_entities;       /* subjects, 1..PSW_WORLD_MAX_ENTITIES (default 40) */
    int facts_per_entity; /* relations per subject, 1..PSW_WORLD_N_RELATIONS (default 5) */
    int n_train;          /* questions per split, 0..PSW_WORLD_MAX_QUESTIONS (2000 / 200 / 200); */
    int n_dev;            /* dev and test each need >= 1. Facts are visited in a shuffled  */
    int n_test;           /* round-robin, so every fact is asked before any is asked twice */
    int holdout_pct;      /* 0..90: share of facts kept out of train questions (default 0) */
    int n_drills;         /* reading drills in the corpus, 0..PSW_WORLD_MAX_QUESTIONS (1000) */
    bool fixed_choices;   /* each relation uses 5 of its objects, always listed in one seeded
                             order: the letter then names the object, and answering is pure
                             recall with no choice lookup (default false: CSQA-like, 4 random
                             distractors of the relation and a random answer position) */
} psw_world_opts;

typedef enum psw_world_split {
    PSW_WORLD_TRAIN = 0,
    PSW_WORLD_DEV,
    PSW_WORLD_TEST,
    PSW_WORLD_N_SPLITS
} psw_world_split;

typedef struct psw_world_fact {
    const char *subject;  /* entity name, e.g. "dobek" (also the question_concept) */
    const char *relation; /* e.g. "AtLocation" */
    const char *object;   /* e.g. "kitchen" (the answer text) */
    int relation_index;   /* 0..PSW_WORLD_N_RELATIONS-1 */
    bool holdout;         /* never asked in train questions */
} psw_world_fact;

typedef struct psw_world psw_world;

/* Fills the defaults listed above (seed 0). */
void psw_world_opts_default(psw_world_opts *o);

/* Builds the world, its three JSONL splits, its corpus and its description (world.json).
 * Errors: PSW_ERR_INVALID_ARG naming the option and its allowed range, PSW_ERR_NOMEM. */
psw_status psw_world_generate(const psw_world_opts *o, psw_world **out, psw_err *err);
void psw_world_free(psw_world *w);

/* Facts in generation order (subject-major). *n receives the count. */
const psw_world_fact *psw_world_facts(const psw_world *w, size_t *n);
/* Fact index asked by each question of a split, in file order. *n receives the count. */
const int32_t *psw_world_question_facts(const psw_world *w, psw_world_split s, size_t *n);

/* Number of statement phrasings of a relation (all of which appear in the corpus). */
int psw_world_n_statements(int relation_index);
/* Renders statement phrasing k of a fact, e.g. "A dobek is found in the kitchen." (malloc'd,
 * caller frees). k must be < psw_world_n_statements. */
char *psw_world_statement(const psw_world *w, size_t fact, int k);

/* The generated files' contents (NUL-terminated; *len, if not NULL, gets the byte count). */
const char *psw_world_jsonl(const psw_world *w, psw_world_split s, size_t *len);
const char *psw_world_corpus(const psw_world *w, size_t *len);
/* world.json: the options, counts, relation names and every fact. */
const char *psw_world_description(const psw_world *w, size_t *len);

/* File name of a split: "train.jsonl", "dev.jsonl", "test.jsonl". */
const char *psw_world_split_file(psw_world_split s);

/* Writes train.jsonl, dev.jsonl, test.jsonl and corpus.txt into dir (created if needed; each
 * file written atomically). world.json is left to the caller, which may add to the description
 * (make-world adds the tokenizer's figures). Errors: PSW_ERR_IO naming the path. */
psw_status psw_world_write(const psw_world *w, const char *dir, psw_err *err);

/* Special tokens of the world's tokenizer, ids vocab-2 and vocab-1 of its tokenizer.json. */
#define PSW_WORLD_EOT_TOKEN "<|endoftext|>"
#define PSW_WORLD_PAD_TOKEN "<|pad|>"

/* Everything `prunesweep make-world` writes into dir: psw_world_write's four files,
 * tokenizer.json (byte-level BPE trained on corpus.txt up to vocab_size ids including the two
 * special tokens; " A" .. " E" forced to single tokens, ids 256..260, merge ranks 0..4; fewer
 * ids when the corpus runs out of pairs seen twice) and world.json (psw_world_description plus
 * a "tokenizer" object: file, vocab_size, target_vocab_size, merges, special_tokens; "seed" is
 * a decimal string). The tokenizer is trained before anything is written, so a bad vocab_size
 * leaves dir untouched. Progress on stderr at INFO level.
 * Errors: those of psw_world_generate, psw_world_write and psw_bpe_train, PSW_ERR_IO. */
psw_status psw_world_make_dir(const psw_world_opts *o, size_t vocab_size, const char *dir,
                              psw_err *err);

#endif
