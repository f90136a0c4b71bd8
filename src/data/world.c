/* world.c: seeded synthetic commonsense world (see include/psw/world.h). */
#include "psw/world.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/bpe_train.h"
#include "psw/rng.h"

#define POOL_SIZE 12
#define N_STATEMENTS 4
#define N_QUESTIONS 3
#define N_CHOICES 5
#define SENTENCES_PER_PARAGRAPH 4
#define WORD_LEN 3                 /* consonant-vowel-consonant */
#define NAME_LEN (2 * WORD_LEN + 1) /* two words: "dob vek" */

/* A relation: its object pool and its phrasings. "$s" is the subject, "$o" the object. The pools
 * are disjoint across relations, so a distractor is never true of the subject in any relation. */
typedef struct relation_def {
    const char *name;
    const char *objects[POOL_SIZE];
    const char *statements[N_STATEMENTS];
    const char *questions[N_QUESTIONS];
} relation_def;

static const relation_def RELATIONS[PSW_WORLD_N_RELATIONS] = {
    {"AtLocation",
     {"kitchen", "garden", "forest", "river", "cave", "market", "school", "barn", "desert",
      "harbor", "library", "attic"},
     {"A $s is found in the $o.", "You can find a $s in the $o.", "The $o is where you find a $s.",
      "If you want a $s, go to the $o."},
     {"Where would you find a $s?", "Where is a $s usually found?",
      "If you want a $s, where should you go?"}},
    {"UsedFor",
     {"cutting", "cooking", "digging", "writing", "fishing", "painting", "cleaning", "building",
      "sewing", "counting", "lifting", "washing"},
     {"A $s is used for $o.", "People use a $s for $o.", "You need a $s for $o.",
      "The best tool for $o is a $s."},
     {"What is a $s used for?", "What do people use a $s for?", "Why would someone need a $s?"}},
    {"CapableOf",
     {"fly", "swim", "climb", "glow", "jump", "hum", "float", "spin", "whistle", "roll", "melt",
      "bend"},
     {"A $s can $o.", "A $s is able to $o.", "Everyone knows that a $s can $o.",
      "If you watch a $s, you will see it $o."},
     {"What can a $s do?", "What is a $s able to do?", "What would you see a $s do?"}},
    {"MadeOf",
     {"wood", "stone", "glass", "iron", "clay", "wool", "paper", "silver", "sand", "bone",
      "leather", "copper"},
     {"A $s is made of $o.", "People make a $s from $o.", "Every $s is built out of $o.",
      "To make a $s you need $o."},
     {"What is a $s made of?", "What material is a $s made from?",
      "To make a $s, what do you need?"}},
    {"PartOf",
     {"ship", "house", "tree", "clock", "wagon", "tower", "bell", "lamp", "drum", "bridge",
      "piano", "bicycle"},
     {"A $s is part of a $o.", "Every $o has a $s.", "You will see a $s on a $o.",
      "A $o is not complete without a $s."},
     {"A $s is part of what?", "What has a $s as one of its parts?",
      "What is not complete without a $s?"}},
    {"Causes",
     {"laughter", "sleep", "fear", "joy", "hunger", "warmth", "noise", "rain", "sneezing",
      "thirst", "calm", "dizziness"},
     {"A $s causes $o.", "Seeing a $s leads to $o.", "A $s often brings $o.",
      "When there is a $s, there is $o."},
     {"What does a $s cause?", "What can a $s lead to?", "What does a $s often bring?"}},
    {"HasProperty",
     {"red", "heavy", "soft", "loud", "bright", "cold", "sharp", "sweet", "round", "tiny",
      "smooth", "green"},
     {"A $s is $o.", "Every $s is very $o.", "Most people say a $s is $o.",
      "You can tell a $s because it is $o."},
     {"What is a $s like?", "How would you describe a $s?", "What is true of every $s?"}},
    {"Desires",
     {"water", "sunlight", "music", "sugar", "rest", "salt", "shade", "honey", "milk", "dust",
      "oil", "moss"},
     {"A $s wants $o.", "A $s likes $o more than anything.", "What a $s desires most is $o.",
      "Give a $s some $o and it will be happy."},
     {"What does a $s want?", "What does a $s desire?", "What would make a $s happy?"}},
};

/* Reading drills: the answer is named in the stem, so only the choice lookup is practised. */
#define N_DRILL_STEMS 3
static const char *const DRILL_STEMS[N_DRILL_STEMS] = {
    "Which of these is $o?", "Pick the word $o.", "Find $o in the list."};

static const char CONSONANTS[] = "bdfgklmnprstvz";
static const char VOWELS[] = "aeiou";

typedef struct question {
    int32_t fact; /* -1 for a reading drill */
    int32_t relation;
    int32_t phrasing;
    int32_t choices[N_CHOICES]; /* indices into the relation's object pool */
    int32_t answer;             /* 0..4 */
} question;

struct psw_world {
    psw_world_opts opts;
    char (*names)[NAME_LEN + 1]; /* [n_entities] */
    /* fixed_choices: the 5 pool indices each relation uses, in their listing order */
    int32_t fixed[PSW_WORLD_N_RELATIONS][N_CHOICES];
    psw_world_fact *facts;       /* [n_facts] */
    size_t n_facts;
    question *questions[PSW_WORLD_N_SPLITS];
    int32_t *question_facts[PSW_WORLD_N_SPLITS];
    size_t n_questions[PSW_WORLD_N_SPLITS];
    char *jsonl[PSW_WORLD_N_SPLITS];
    size_t jsonl_len[PSW_WORLD_N_SPLITS];
    char *corpus;
    size_t corpus_len;
    char *description;
    size_t description_len;
};

/* ---- growable string buffer with a sticky out-of-memory flag ---- */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

/* JSON string body; our texts are plain ASCII but quotes and backslashes are escaped anyway. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_putn(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_putn(b, "\\", 1);
        sb_putn(b, s, 1);
    }
    sb_putn(b, "\"", 1);
}

/* Replaces $s by the subject and $o by the object. */
static void render(sbuf *b, const char *tmpl, const char *subject, const char *object) {
    for (const char *t = tmpl; *t; t++) {
        if (t[0] == '$' && t[1] == 's') {
            sb_puts(b, subject);
            t++;
        } else if (t[0] == '$' && t[1] == 'o') {
            sb_puts(b, object);
            t++;
        } else {
            sb_putn(b, t, 1);
        }
    }
}

/* True when word occurs as a whole lowercase word in any pool or phrasing (names must not clash
 * with the fixed vocabulary). */
static bool word_is_reserved(const char *word) {
    size_t wl = strlen(word);
    for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++) {
        const relation_def *d = &RELATIONS[r];
        const char *texts[POOL_SIZE + N_STATEMENTS + N_QUESTIONS];
        size_t nt = 0;
        for (int i = 0; i < POOL_SIZE; i++) texts[nt++] = d->objects[i];
        for (int i = 0; i < N_STATEMENTS; i++) texts[nt++] = d->statements[i];
        for (int i = 0; i < N_QUESTIONS; i++) texts[nt++] = d->questions[i];
        for (size_t i = 0; i < nt; i++) {
            for (const char *p = strstr(texts[i], word); p; p = strstr(p + 1, word)) {
                bool start = p == texts[i] || !(p[-1] >= 'a' && p[-1] <= 'z');
                bool end = !(p[wl] >= 'a' && p[wl] <= 'z');
                if (start && end) return true;
            }
        }
    }
    return false;
}

void psw_world_opts_default(psw_world_opts *o) {
    o->seed = 0;
    o->n_entities = 40;
    o->facts_per_entity = 5;
    o->n_train = 2000;
    o->n_dev = 200;
    o->n_test = 200;
    o->holdout_pct = 0;
    o->n_drills = 1000;
    o->fixed_choices = false;
}

static uint64_t stream_seed(uint64_t seed, uint64_t stream) {
    uint64_t key[2] = {seed, stream};
    return psw_fnv1a(key, sizeof key, PSW_FNV_SEED);
}

static psw_status check_opts(const psw_world_opts *o, psw_err *err) {
    if (o->n_entities < 1 || o->n_entities > PSW_WORLD_MAX_ENTITIES)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "world: entities = %d, expected 1..%d",
                        o->n_entities, PSW_WORLD_MAX_ENTITIES);
    if (o->facts_per_entity < 1 || o->facts_per_entity > PSW_WORLD_N_RELATIONS)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "world: facts_per_entity = %d, expected 1..%d",
                        o->facts_per_entity, PSW_WORLD_N_RELATIONS);
    const int counts[3] = {o->n_train, o->n_dev, o->n_test};
    const int mins[3] = {0, 1, 1};
    const char *names[3] = {"train", "dev", "test"};
    for (int s = 0; s < 3; s++)
        if (counts[s] < mins[s] || counts[s] > PSW_WORLD_MAX_QUESTIONS)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "world: %s questions = %d, expected %d..%d",
                            names[s], counts[s], mins[s], PSW_WORLD_MAX_QUESTIONS);
    if (o->n_drills < 0 || o->n_drills > PSW_WORLD_MAX_QUESTIONS)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "world: drills = %d, expected 0..%d",
                        o->n_drills, PSW_WORLD_MAX_QUESTIONS);
    if (o->holdout_pct < 0 || o->holdout_pct > 90)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "world: holdout_pct = %d, expected 0..90",
                        o->holdout_pct);
    return PSW_OK;
}

/* A fresh made-up word not in the fixed vocabulary and not among used[0..n_used). */
static void make_word(psw_rng *rng, char (*used)[WORD_LEN + 1], int n_used, char *out) {
    for (;;) {
        for (int i = 0; i < WORD_LEN; i++) {
            const char *set = (i % 2 == 0) ? CONSONANTS : VOWELS;
            size_t set_len = (i % 2 == 0) ? sizeof CONSONANTS - 1 : sizeof VOWELS - 1;
            out[i] = set[psw_rng_below(rng, set_len)];
        }
        out[WORD_LEN] = '\0';
        bool dup = word_is_reserved(out);
        for (int j = 0; j < n_used && !dup; j++) dup = strcmp(used[j], out) == 0;
        if (!dup) return;
    }
}

/* Entity names are pairs of made-up words drawn from two small pools, so each word is shared by
 * several entities: an entity's identity, and so its facts, depend on the combination of its two
 * tokens. A model must compute that combination (in its MLPs) rather than read facts off one
 * token's embedding; this is what makes the knowledge prunable. */
static void make_names(psw_world *w, psw_rng *rng) {
    int n = w->opts.n_entities, side = 2;
    while (side * side < n) side++;
    side++; /* a little slack so the pairs are a random subset */
    char (*words)[WORD_LEN + 1] = psw_xcalloc((size_t)(2 * side), sizeof *words);
    for (int i = 0; i < 2 * side; i++) make_word(rng, words, i, words[i]);
    int32_t *pairs = psw_xmalloc((size_t)side * (size_t)side * sizeof *pairs);
    for (int i = 0; i < side * side; i++) pairs[i] = i;
    psw_rng_shuffle_i32(rng, pairs, (size_t)side * (size_t)side);
    for (int e = 0; e < n; e++) {
        int first = pairs[e] / side, second = side + pairs[e] % side;
        snprintf(w->names[e], NAME_LEN + 1, "%s %s", words[first], words[second]);
    }
    free(pairs);
    free(words);
}

static void make_facts(psw_world *w, psw_rng *rng) {
    int k = w->opts.facts_per_entity;
    for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++) {
        int32_t pool[POOL_SIZE];
        for (int i = 0; i < POOL_SIZE; i++) pool[i] = i;
        psw_rng_shuffle_i32(rng, pool, POOL_SIZE);
        memcpy(w->fixed[r], pool, sizeof w->fixed[r]);
    }
    size_t f = 0;
    for (int e = 0; e < w->opts.n_entities; e++) {
        int32_t rels[PSW_WORLD_N_RELATIONS];
        for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++) rels[r] = r;
        psw_rng_shuffle_i32(rng, rels, PSW_WORLD_N_RELATIONS);
        bool chosen[PSW_WORLD_N_RELATIONS] = {false};
        for (int i = 0; i < k; i++) chosen[rels[i]] = true;
        for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++) {
            if (!chosen[r]) continue;
            psw_world_fact *ft = &w->facts[f++];
            ft->subject = w->names[e];
            ft->relation = RELATIONS[r].name;
            ft->relation_index = r;
            ft->object = w->opts.fixed_choices
                             ? RELATIONS[r].objects[w->fixed[r][psw_rng_below(rng, N_CHOICES)]]
                             : RELATIONS[r].objects[psw_rng_below(rng, POOL_SIZE)];
            ft->holdout = false;
        }
    }
    PSW_ASSERT(f == w->n_facts);
    size_t n_hold = w->n_facts * (size_t)w->opts.holdout_pct / 100;
    if (n_hold > 0) {
        int32_t *perm = psw_xmalloc(w->n_facts * sizeof *perm);
        for (size_t i = 0; i < w->n_facts; i++) perm[i] = (int32_t)i;
        psw_rng_shuffle_i32(rng, perm, w->n_facts);
        for (size_t i = 0; i < n_hold; i++) w->facts[perm[i]].holdout = true;
        free(perm);
    }
}

static int32_t pool_index(const char *object, int relation) {
    for (int i = 0; i < POOL_SIZE; i++)
        if (RELATIONS[relation].objects[i] == object) return i;
    PSW_ABORT("object %s not in the pool of %s", object, RELATIONS[relation].name);
}

/* Questions of one split: a shuffled round-robin over the eligible facts. */
static void make_questions(psw_world *w, psw_world_split s, size_t n, uint64_t seed) {
    psw_rng rng;
    psw_rng_seed(&rng, seed);
    int32_t *eligible = psw_xmalloc(w->n_facts * sizeof *eligible);
    size_t n_el = 0;
    for (size_t i = 0; i < w->n_facts; i++)
        if (s != PSW_WORLD_TRAIN || !w->facts[i].holdout) eligible[n_el++] = (int32_t)i;
    PSW_ASSERT(n == 0 || n_el > 0);
    question *qs = psw_xcalloc(n ? n : 1, sizeof *qs);
    int32_t *qf = psw_xcalloc(n ? n : 1, sizeof *qf);
    size_t pos = n_el;
    for (size_t q = 0; q < n; q++) {
        if (pos == n_el) {
            psw_rng_shuffle_i32(&rng, eligible, n_el);
            pos = 0;
        }
        const psw_world_fact *ft = &w->facts[eligible[pos++]];
        int rel = ft->relation_index;
        question *qq = &qs[q];
        qq->fact = (int32_t)(ft - w->facts);
        qq->relation = rel;
        qq->phrasing = (int32_t)psw_rng_below(&rng, N_QUESTIONS);
        int32_t answer = pool_index(ft->object, rel);
        if (w->opts.fixed_choices) {
            memcpy(qq->choices, w->fixed[rel], sizeof qq->choices);
            for (int c = 0; c < N_CHOICES; c++)
                if (qq->choices[c] == answer) qq->answer = c;
            qf[q] = qq->fact;
            continue;
        }
        int32_t others[POOL_SIZE - 1];
        int n_others = 0;
        for (int i = 0; i < POOL_SIZE; i++)
            if (i != answer) others[n_others++] = i;
        psw_rng_shuffle_i32(&rng, others, (size_t)n_others);
        qq->answer = (int32_t)psw_rng_below(&rng, N_CHOICES);
        for (int c = 0, d = 0; c < N_CHOICES; c++)
            qq->choices[c] = c == qq->answer ? answer : others[d++];
        qf[q] = qq->fact;
    }
    free(eligible);
    w->questions[s] = qs;
    w->question_facts[s] = qf;
    w->n_questions[s] = n;
}

static const char *split_tag(psw_world_split s) {
    static const char *tags[] = {"train", "dev", "test"};
    return tags[s];
}

/* CSQA-style 32-hex-digit id from the seed, split, index and content. */
static void question_id(const psw_world *w, psw_world_split s, size_t i, const char *stem,
                        char out[33]) {
    char key[512];
    int kl = snprintf(key, sizeof key, "psw-world|%llu|%d|%d|%s|%zu|%s",
                      (unsigned long long)w->opts.seed, w->opts.n_entities, (int)s, split_tag(s),
                      i, stem);
    PSW_ASSERT(kl > 0 && (size_t)kl < sizeof key);
    uint64_t h1 = psw_fnv1a(key, (size_t)kl, PSW_FNV_SEED);
    uint64_t h2 = psw_fnv1a(key, (size_t)kl, h1 ^ 0x9e3779b97f4a7c15ULL);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

static void write_jsonl(psw_world *w, psw_world_split s, sbuf *b) {
    static const char LABELS[] = "ABCDE";
    sbuf stem = {0};
    for (size_t i = 0; i < w->n_questions[s]; i++) {
        const question *q = &w->questions[s][i];
        const psw_world_fact *ft = &w->facts[q->fact];
        const relation_def *d = &RELATIONS[ft->relation_index];
        stem.len = 0;
        render(&stem, d->questions[q->phrasing], ft->subject, ft->object);
        if (stem.oom) break;
        char id[33];
        question_id(w, s, i, stem.p, id);
        char key[2] = {LABELS[q->answer], '\0'};
        sb_puts(b, "{\"answerKey\": ");
        sb_json_str(b, key);
        sb_puts(b, ", \"id\": ");
        sb_json_str(b, id);
        sb_puts(b, ", \"question\": {\"question_concept\": ");
        sb_json_str(b, ft->subject);
        sb_puts(b, ", \"choices\": [");
        for (int c = 0; c < N_CHOICES; c++) {
            char label[2] = {LABELS[c], '\0'};
            sb_puts(b, c ? ", {\"label\": " : "{\"label\": ");
            sb_json_str(b, label);
            sb_puts(b, ", \"text\": ");
            sb_json_str(b, d->objects[q->choices[c]]);
            sb_puts(b, "}");
        }
        sb_puts(b, "], \"stem\": ");
        sb_json_str(b, stem.p);
        sb_puts(b, "}}\n");
    }
    if (stem.oom) b->oom = true;
    free(stem.p);
}

/* One corpus document for a train question, in the multiple-choice prompt format. */
static void write_prompt(const psw_world *w, const question *q, sbuf *b) {
    static const char LABELS[] = "ABCDE";
    const relation_def *d = &RELATIONS[q->relation];
    sb_puts(b, "Question: ");
    if (q->fact >= 0)
        render(b, d->questions[q->phrasing], w->facts[q->fact].subject, w->facts[q->fact].object);
    else
        render(b, DRILL_STEMS[q->phrasing], "", d->objects[q->choices[q->answer]]);
    for (int c = 0; c < N_CHOICES; c++) {
        char line[8];
        snprintf(line, sizeof line, "\n %c. ", LABELS[c]);
        sb_puts(b, line);
        sb_puts(b, d->objects[q->choices[c]]);
    }
    char ans[16];
    snprintf(ans, sizeof ans, "\nAnswer: %c", LABELS[q->answer]);
    sb_puts(b, ans);
}

/* Corpus documents: statement paragraphs (ids >= 0 encode first sentence index) and train
 * questions (ids < 0), shuffled together. */
static void write_corpus(psw_world *w, uint64_t seed, sbuf *b) {
    psw_rng rng;
    psw_rng_seed(&rng, seed);
    size_t n_sent = w->n_facts * N_STATEMENTS;
    int32_t *sent = psw_xmalloc(n_sent * sizeof *sent);
    for (size_t i = 0; i < n_sent; i++) sent[i] = (int32_t)i;
    psw_rng_shuffle_i32(&rng, sent, n_sent);
    size_t n_par = (n_sent + SENTENCES_PER_PARAGRAPH - 1) / SENTENCES_PER_PARAGRAPH;
    size_t n_q = w->n_questions[PSW_WORLD_TRAIN];
    size_t n_drill = (size_t)w->opts.n_drills;
    question *drills = psw_xcalloc(n_drill ? n_drill : 1, sizeof *drills);
    for (size_t i = 0; i < n_drill; i++) {
        question *q = &drills[i];
        q->fact = -1;
        q->relation = (int32_t)psw_rng_below(&rng, PSW_WORLD_N_RELATIONS);
        q->phrasing = (int32_t)psw_rng_below(&rng, N_DRILL_STEMS);
        int32_t pool[POOL_SIZE];
        for (int k = 0; k < POOL_SIZE; k++) pool[k] = k;
        psw_rng_shuffle_i32(&rng, pool, POOL_SIZE);
        memcpy(q->choices, w->opts.fixed_choices ? w->fixed[q->relation] : pool,
               sizeof q->choices);
        q->answer = (int32_t)psw_rng_below(&rng, N_CHOICES);
    }
    size_t n_docs = n_par + n_drill + n_q;
    int32_t *docs = psw_xmalloc(n_docs * sizeof *docs);
    for (size_t i = 0; i < n_par + n_drill; i++) docs[i] = (int32_t)i;
    for (size_t i = 0; i < n_q; i++) docs[n_par + n_drill + i] = -1 - (int32_t)i;
    psw_rng_shuffle_i32(&rng, docs, n_docs);
    for (size_t di = 0; di < n_docs; di++) {
        if (di) sb_puts(b, "\n\n");
        int32_t d = docs[di];
        if (d < 0) {
            write_prompt(w, &w->questions[PSW_WORLD_TRAIN][-1 - d], b);
            continue;
        }
        if ((size_t)d >= n_par) {
            write_prompt(w, &drills[(size_t)d - n_par], b);
            continue;
        }
        size_t first = (size_t)d * SENTENCES_PER_PARAGRAPH;
        for (size_t k = first; k < n_sent && k < first + SENTENCES_PER_PARAGRAPH; k++) {
            size_t fact = (size_t)sent[k] / N_STATEMENTS;
            int phr = sent[k] % N_STATEMENTS;
            if (k > first) sb_puts(b, " ");
            render(b, RELATIONS[w->facts[fact].relation_index].statements[phr],
                   w->facts[fact].subject, w->facts[fact].object);
        }
    }
    sb_puts(b, "\n");
    free(sent);
    free(docs);
    free(drills);
}

static char *make_description(const psw_world *w) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "prunesweep-world");
    cJSON_AddNumberToObject(root, "version", 1);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)w->opts.seed);
    cJSON_AddStringToObject(root, "seed", seed); /* a string: u64 does not fit a double */
    cJSON_AddNumberToObject(root, "entities", w->opts.n_entities);
    cJSON_AddNumberToObject(root, "facts_per_entity", w->opts.facts_per_entity);
    cJSON_AddNumberToObject(root, "n_facts", (double)w->n_facts);
    cJSON_AddNumberToObject(root, "holdout_pct", w->opts.holdout_pct);
    cJSON_AddNumberToObject(root, "drills", w->opts.n_drills);
    cJSON_AddBoolToObject(root, "fixed_choices", w->opts.fixed_choices);
    cJSON *q = cJSON_AddObjectToObject(root, "questions");
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++)
        cJSON_AddNumberToObject(q, split_tag((psw_world_split)s), (double)w->n_questions[s]);
    cJSON_AddStringToObject(root, "prompt_format",
                            "Question: <stem>\\n A. <a>\\n B. <b>\\n C. <c>\\n D. <d>\\n E. "
                            "<e>\\nAnswer: <X>");
    cJSON *rels = cJSON_AddArrayToObject(root, "relations");
    for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++)
        cJSON_AddItemToArray(rels, cJSON_CreateString(RELATIONS[r].name));
    cJSON *facts = cJSON_AddArrayToObject(root, "facts");
    for (size_t i = 0; i < w->n_facts; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "subject", w->facts[i].subject);
        cJSON_AddStringToObject(f, "relation", w->facts[i].relation);
        cJSON_AddStringToObject(f, "object", w->facts[i].object);
        cJSON_AddBoolToObject(f, "holdout", w->facts[i].holdout);
        cJSON_AddItemToArray(facts, f);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) PSW_ABORT("cJSON_Print failed on the world description");
    return text;
}

psw_status psw_world_generate(const psw_world_opts *o, psw_world **out, psw_err *err) {
    *out = NULL;
    psw_status st = check_opts(o, err);
    if (st != PSW_OK) return st;
    size_t n_facts = (size_t)o->n_entities * (size_t)o->facts_per_entity;

    psw_world *w = psw_xcalloc(1, sizeof *w);
    sbuf bufs[PSW_WORLD_N_SPLITS + 1] = {{0}};
    w->opts = *o;
    w->n_facts = n_facts;
    w->names = psw_xcalloc((size_t)o->n_entities, sizeof *w->names);
    w->facts = psw_xcalloc(n_facts, sizeof *w->facts);

    psw_rng rng;
    psw_rng_seed(&rng, stream_seed(o->seed, 0));
    make_names(w, &rng);
    make_facts(w, &rng);
    const int counts[PSW_WORLD_N_SPLITS] = {o->n_train, o->n_dev, o->n_test};
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++)
        make_questions(w, (psw_world_split)s, (size_t)counts[s],
                       stream_seed(o->seed, 1 + (uint64_t)s));

    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++) write_jsonl(w, (psw_world_split)s, &bufs[s]);
    write_corpus(w, stream_seed(o->seed, 10), &bufs[PSW_WORLD_N_SPLITS]);
    for (int s = 0; s <= PSW_WORLD_N_SPLITS; s++) {
        if (bufs[s].oom) {
            st = PSW_FAIL(err, PSW_ERR_NOMEM, "world: out of memory building %s",
                          s < PSW_WORLD_N_SPLITS ? psw_world_split_file((psw_world_split)s)
                                                 : "corpus.txt");
            goto fail;
        }
    }
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++) {
        w->jsonl[s] = bufs[s].p ? bufs[s].p : psw_xstrdup("");
        w->jsonl_len[s] = bufs[s].len;
    }
    w->corpus = bufs[PSW_WORLD_N_SPLITS].p;
    w->corpus_len = bufs[PSW_WORLD_N_SPLITS].len;
    w->description = make_description(w);
    w->description_len = strlen(w->description);
    *out = w;
    return PSW_OK;
fail:
    for (int s = 0; s <= PSW_WORLD_N_SPLITS; s++) free(bufs[s].p);
    psw_world_free(w);
    return st;
}

void psw_world_free(psw_world *w) {
    if (!w) return;
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++) {
        free(w->questions[s]);
        free(w->question_facts[s]);
        free(w->jsonl[s]);
    }
    free(w->corpus);
    free(w->description);
    free(w->facts);
    free(w->names);
    free(w);
}

const psw_world_fact *psw_world_facts(const psw_world *w, size_t *n) {
    *n = w->n_facts;
    return w->facts;
}

const int32_t *psw_world_question_facts(const psw_world *w, psw_world_split s, size_t *n) {
    PSW_ASSERT(s >= 0 && s < PSW_WORLD_N_SPLITS);
    *n = w->n_questions[s];
    return w->question_facts[s];
}

int psw_world_n_statements(int relation_index) {
    PSW_ASSERT(relation_index >= 0 && relation_index < PSW_WORLD_N_RELATIONS);
    return N_STATEMENTS;
}

char *psw_world_statement(const psw_world *w, size_t fact, int k) {
    PSW_ASSERT(fact < w->n_facts && k >= 0 && k < N_STATEMENTS);
    const psw_world_fact *ft = &w->facts[fact];
    sbuf b = {0};
    render(&b, RELATIONS[ft->relation_index].statements[k], ft->subject, ft->object);
    if (b.oom) PSW_ABORT("out of memory rendering a statement");
    return b.p;
}

const char *psw_world_jsonl(const psw_world *w, psw_world_split s, size_t *len) {
    PSW_ASSERT(s >= 0 && s < PSW_WORLD_N_SPLITS);
    if (len) *len = w->jsonl_len[s];
    return w->jsonl[s];
}

const char *psw_world_corpus(const psw_world *w, size_t *len) {
    if (len) *len = w->corpus_len;
    return w->corpus;
}

const char *psw_world_description(const psw_world *w, size_t *len) {
    if (len) *len = w->description_len;
    return w->description;
}

const char *psw_world_split_file(psw_world_split s) {
    static const char *files[] = {"train.jsonl", "dev.jsonl", "test.jsonl"};
    PSW_ASSERT(s >= 0 && s < PSW_WORLD_N_SPLITS);
    return files[s];
}

psw_status psw_world_write(const psw_world *w, const char *dir, psw_err *err) {
    psw_status st = psw_mkdir_p(dir, err);
    if (st != PSW_OK) return st;
    for (int s = 0; s <= PSW_WORLD_N_SPLITS; s++) {
        const char *name = s < PSW_WORLD_N_SPLITS ? psw_world_split_file((psw_world_split)s)
                                                  : "corpus.txt";
        const char *data = s < PSW_WORLD_N_SPLITS ? w->jsonl[s] : w->corpus;
        size_t len = s < PSW_WORLD_N_SPLITS ? w->jsonl_len[s] : w->corpus_len;
        char *path = psw_path_join(dir, name);
        st = psw_write_file(path, data, len, err);
        free(path);
        if (st != PSW_OK) return st;
    }
    return PSW_OK;
}

psw_status psw_world_make_dir(const psw_world_opts *o, size_t vocab_size, const char *dir,
                              psw_err *err) {
    psw_world *w = NULL;
    psw_bpe_train_result bpe = {0};
    char *tok_json = NULL, *desc = NULL, *path = NULL;
    cJSON *root = NULL;
    double t0 = psw_now();
    psw_status st = psw_world_generate(o, &w, err);
    if (st != PSW_OK) goto fail;
    size_t corpus_len;
    const char *corpus = psw_world_corpus(w, &corpus_len);
    PSW_LOG_INFO("make-world: seed %llu: %d entities, %zu facts, %zu/%zu/%zu questions, corpus "
                 "%zu bytes",
                 (unsigned long long)o->seed, o->n_entities, w->n_facts,
                 w->n_questions[PSW_WORLD_TRAIN], w->n_questions[PSW_WORLD_DEV],
                 w->n_questions[PSW_WORLD_TEST], corpus_len);
    static const char *const specials[] = {PSW_WORLD_EOT_TOKEN, PSW_WORLD_PAD_TOKEN};
    static const char *const forced[] = {" A", " B", " C", " D", " E"};
    psw_bpe_train_opts bo = {.vocab_size = vocab_size,
                             .min_frequency = 2,
                             .special_tokens = specials,
                             .n_special = 2,
                             .forced_tokens = forced,
                             .n_forced = 5,
                             .progress = true};
    PSW_LOG_INFO("make-world: training byte-level BPE to %zu ids", vocab_size);
    st = psw_bpe_train(corpus, corpus_len, &bo, &bpe, err);
    if (st != PSW_OK) goto fail;
    st = psw_world_write(w, dir, err); /* after training: a bad vocab_size writes nothing */
    if (st != PSW_OK) goto fail;
    size_t tok_len;
    st = psw_bpe_train_to_json(&bpe, &tok_json, &tok_len, err);
    if (st != PSW_OK) goto fail;
    path = psw_path_join(dir, "tokenizer.json");
    st = psw_write_file(path, tok_json, tok_len, err);
    if (st != PSW_OK) goto fail;
    free(path);
    path = NULL;

    root = cJSON_Parse(w->description);
    if (!root) PSW_ABORT("the world description is not valid JSON");
    cJSON *tj = cJSON_AddObjectToObject(root, "tokenizer");
    cJSON_AddStringToObject(tj, "file", "tokenizer.json");
    cJSON_AddNumberToObject(tj, "vocab_size", (double)(bpe.n_tokens + bpe.n_special));
    cJSON_AddNumberToObject(tj, "target_vocab_size", (double)vocab_size);
    cJSON_AddNumberToObject(tj, "merges", (double)bpe.n_merges);
    cJSON *sp = cJSON_AddArrayToObject(tj, "special_tokens");
    for (size_t i = 0; i < bpe.n_special; i++)
        cJSON_AddItemToArray(sp, cJSON_CreateString(bpe.special[i]));
    desc = cJSON_Print(root);
    if (!desc) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "world.json: out of memory serialising");
        goto fail;
    }
    size_t desc_len = strlen(desc);
    char *with_nl = psw_xmalloc(desc_len + 2);
    memcpy(with_nl, desc, desc_len);
    memcpy(with_nl + desc_len, "\n", 2);
    path = psw_path_join(dir, "world.json");
    st = psw_write_file(path, with_nl, desc_len + 1, err);
    free(with_nl);
    if (st != PSW_OK) goto fail;
    PSW_LOG_INFO("make-world: wrote %s (tokenizer %zu ids, %zu merges) in %.1f s", dir,
                 bpe.n_tokens + bpe.n_special, bpe.n_merges, psw_now() - t0);
fail:
    cJSON_Delete(root);
    free(path);
    free(desc);
    free(tok_json);
    psw_bpe_train_result_free(&bpe);
    psw_world_free(w);
    return st;
}
