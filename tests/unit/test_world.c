/* test_world.c: the synthetic world generator: determinism, the CommonsenseQA JSONL format,
 * distractors, corpus coverage of every dev/test fact, holdout, option errors, and the files
 * psw_world_make_dir writes. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/dataset.h"
#include "psw/world.h"
#include "test.h"

static psw_world *gen(const psw_world_opts *o) {
    psw_world *w = NULL;
    psw_err err = {0};
    psw_status st = psw_world_generate(o, &w, &err);
    CHECK_OK(st, &err);
    if (st != PSW_OK) exit(1);
    return w;
}

static bool same_outputs(const psw_world *a, const psw_world *b) {
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++) {
        size_t la, lb;
        const char *ta = psw_world_jsonl(a, (psw_world_split)s, &la);
        const char *tb = psw_world_jsonl(b, (psw_world_split)s, &lb);
        if (la != lb || memcmp(ta, tb, la) != 0) return false;
    }
    size_t la, lb;
    const char *ca = psw_world_corpus(a, &la), *cb = psw_world_corpus(b, &lb);
    if (la != lb || memcmp(ca, cb, la) != 0) return false;
    const char *da = psw_world_description(a, &la), *db = psw_world_description(b, &lb);
    return la == lb && memcmp(da, db, la) == 0;
}

static void test_determinism(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    psw_world *a = gen(&o), *b = gen(&o);
    CHECK(same_outputs(a, b), "same options give byte-identical outputs");

    psw_world_opts o2 = o;
    o2.seed = 1;
    psw_world *c = gen(&o2);
    size_t la, lc;
    const char *da = psw_world_jsonl(a, PSW_WORLD_DEV, &la);
    const char *dc = psw_world_jsonl(c, PSW_WORLD_DEV, &lc);
    CHECK(la != lc || memcmp(da, dc, la) != 0, "seed 1 gives a different dev split");
    size_t n;
    const psw_world_fact *fa = psw_world_facts(a, &n);
    const psw_world_fact *fc = psw_world_facts(c, &n);
    CHECK(strcmp(fa[0].subject, fc[0].subject) != 0 || strcmp(fa[0].object, fc[0].object) != 0,
          "seed 1 gives different facts (%s/%s vs %s/%s)", fa[0].subject, fa[0].object,
          fc[0].subject, fc[0].object);

    psw_world_opts o3 = o;
    o3.n_entities = 41;
    psw_world *d = gen(&o3);
    CHECK(!same_outputs(a, d), "41 entities give a different world");
    size_t nd;
    psw_world_facts(d, &nd);
    CHECK(nd == 41 * 5, "41 x 5 facts, got %zu", nd);
    psw_world_free(a);
    psw_world_free(b);
    psw_world_free(c);
    psw_world_free(d);
}

/* Index of key k among an object's members, -1 if absent (checks the key order). */
static int key_pos(const cJSON *obj, const char *k) {
    int i = 0;
    for (const cJSON *c = obj->child; c; c = c->next, i++)
        if (strcmp(c->string, k) == 0) return i;
    return -1;
}

/* Checks every line of a split against the CSQA format and the world's facts. Returns the
 * number of lines. ids_seen collects ids across splits. */
static size_t check_split(const psw_world *w, psw_world_split s, cJSON *ids_seen,
                          int letter_counts[5]) {
    size_t len, nq, nf;
    const char *text = psw_world_jsonl(w, s, &len);
    const int32_t *qf = psw_world_question_facts(w, s, &nq);
    const psw_world_fact *facts = psw_world_facts(w, &nf);
    size_t corpus_len;
    const char *corpus = psw_world_corpus(w, &corpus_len);
    CHECK(len > 0 && text[len - 1] == '\n', "%s ends with a newline", psw_world_split_file(s));
    size_t line = 0, bad = 0;
    for (const char *p = text; *p; line++) {
        const char *nl = strchr(p, '\n');
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
        p = nl + 1;
        if (!j || line >= nq) {
            CHECK(0, "%s:%zu parses and is within the question count", psw_world_split_file(s),
                  line + 1);
            cJSON_Delete(j);
            bad++;
            continue;
        }
        const psw_world_fact *f = &facts[qf[line]];
        const cJSON *ak = cJSON_GetObjectItemCaseSensitive(j, "answerKey");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question");
        const cJSON *concept = cJSON_GetObjectItemCaseSensitive(q, "question_concept");
        const cJSON *choices = cJSON_GetObjectItemCaseSensitive(q, "choices");
        const cJSON *stem = cJSON_GetObjectItemCaseSensitive(q, "stem");
        bool ok = cJSON_IsString(ak) && cJSON_IsString(id) && cJSON_IsObject(q) &&
                  cJSON_IsString(concept) && cJSON_IsArray(choices) && cJSON_IsString(stem);
        ok = ok && key_pos(j, "answerKey") == 0 && key_pos(j, "id") == 1 &&
             key_pos(j, "question") == 2 && key_pos(q, "question_concept") == 0 &&
             key_pos(q, "choices") == 1 && key_pos(q, "stem") == 2;
        ok = ok && cJSON_GetArraySize(choices) == 5 && strlen(ak->valuestring) == 1 &&
             ak->valuestring[0] >= 'A' && ak->valuestring[0] <= 'E';
        ok = ok && strlen(id->valuestring) == 32 &&
             strspn(id->valuestring, "0123456789abcdef") == 32 &&
             !cJSON_HasObjectItem(ids_seen, id->valuestring);
        if (ok) cJSON_AddNullToObject(ids_seen, id->valuestring);
        const char *texts[5] = {0};
        for (int c = 0; ok && c < 5; c++) {
            const cJSON *ch = cJSON_GetArrayItem(choices, c);
            const cJSON *lab = cJSON_GetObjectItemCaseSensitive(ch, "label");
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(ch, "text");
            ok = cJSON_IsString(lab) && cJSON_IsString(tx) && key_pos(ch, "label") == 0 &&
                 lab->valuestring[0] == "ABCDE"[c] && lab->valuestring[1] == '\0' &&
                 tx->valuestring[0] != '\0';
            if (ok) texts[c] = tx->valuestring;
        }
        int gold = ok ? ak->valuestring[0] - 'A' : 0;
        /* the answer is the fact's object; the concept its subject, named in the stem */
        ok = ok && strcmp(texts[gold], f->object) == 0 &&
             strcmp(concept->valuestring, f->subject) == 0 &&
             strstr(stem->valuestring, f->subject) != NULL;
        /* distractors distinct from the answer and each other, and not true of the subject in
         * any relation */
        for (int a = 0; ok && a < 5; a++)
            for (int b = a + 1; ok && b < 5; b++) ok = strcmp(texts[a], texts[b]) != 0;
        for (size_t k = 0; ok && k < nf; k++)
            if (strcmp(facts[k].subject, f->subject) == 0)
                for (int c = 0; c < 5; c++)
                    if (c != gold && strcmp(texts[c], facts[k].object) == 0) ok = false;
        /* dev/test: every statement of the fact is in the corpus */
        if (ok && s != PSW_WORLD_TRAIN) {
            for (int k = 0; k < psw_world_n_statements(f->relation_index); k++) {
                char *st = psw_world_statement(w, (size_t)qf[line], k);
                if (!strstr(corpus, st)) {
                    CHECK(0, "%s:%zu: statement \"%s\" is in the corpus",
                          psw_world_split_file(s), line + 1, st);
                    ok = false;
                }
                free(st);
            }
        }
        if (ok) letter_counts[gold]++;
        if (!ok) {
            if (bad < 3)
                CHECK(0, "%s:%zu is a well-formed question about fact %d (%s %s %s)",
                      psw_world_split_file(s), line + 1, qf[line], f->subject, f->relation,
                      f->object);
            bad++;
        }
        cJSON_Delete(j);
    }
    CHECK(bad == 0, "%s: %zu bad lines", psw_world_split_file(s), bad);
    CHECK(line == nq, "%s has %zu lines, want %zu", psw_world_split_file(s), line, nq);
    return line;
}

static void test_format(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.seed = 7;
    psw_world *w = gen(&o);
    cJSON *ids = cJSON_CreateObject();
    int letters[5] = {0};
    CHECK(check_split(w, PSW_WORLD_TRAIN, ids, letters) == 2000, "2000 train lines");
    CHECK(check_split(w, PSW_WORLD_DEV, ids, letters) == 200, "200 dev lines");
    CHECK(check_split(w, PSW_WORLD_TEST, ids, letters) == 200, "200 test lines");
    /* answer positions uniform: each letter 480 +- 80 of 2400 (about 4.4 sigma) */
    for (int c = 0; c < 5; c++)
        CHECK(letters[c] > 400 && letters[c] < 560, "answer %c used %d times of 2400", 'A' + c,
              letters[c]);
    cJSON_Delete(ids);

    /* 200 dev questions over 200 facts: the round-robin asks each fact exactly once */
    size_t nq, nf;
    const int32_t *qf = psw_world_question_facts(w, PSW_WORLD_DEV, &nq);
    psw_world_facts(w, &nf);
    int *seen = calloc(nf, sizeof *seen);
    for (size_t i = 0; i < nq; i++) seen[qf[i]]++;
    int once = 0;
    for (size_t i = 0; i < nf; i++) once += seen[i] == 1;
    CHECK(once == 200, "each of the 200 facts asked once in dev, got %d", once);
    free(seen);

    /* the corpus: statements plus every train question in the prompt format */
    size_t clen;
    const char *corpus = psw_world_corpus(w, &clen);
    CHECK(clen > 2 && corpus[clen - 1] == '\n' && corpus[clen - 2] != '\n',
          "corpus ends with exactly one newline");
    size_t n_answers = 0;
    for (const char *p = strstr(corpus, "\nAnswer: "); p; p = strstr(p + 1, "\nAnswer: "))
        n_answers++;
    CHECK(n_answers == 3000, "2000 train questions + 1000 drills in the corpus, got %zu",
          n_answers);
    size_t n_drills = 0;
    static const char *const drill_starts[] = {"Question: Which of these is ",
                                               "Question: Pick the word ",
                                               "Question: Find "};
    for (int k = 0; k < 3; k++)
        for (const char *p = strstr(corpus, drill_starts[k]); p; p = strstr(p + 1, drill_starts[k]))
            n_drills++;
    CHECK(n_drills == 1000, "1000 reading drills, got %zu", n_drills);
    CHECK(strstr(corpus, "\n\n\n") == NULL, "documents separated by exactly one blank line");
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)corpus[i] > 127 || corpus[i] == '\r') {
            CHECK(0, "corpus is plain ASCII with LF, byte %zu is 0x%02x", i,
                  (unsigned char)corpus[i]);
            break;
        }
    /* the first train question appears verbatim as a prompt */
    size_t tlen;
    const char *train = psw_world_jsonl(w, PSW_WORLD_TRAIN, &tlen);
    cJSON *j = cJSON_ParseWithLength(train, (size_t)(strchr(train, '\n') - train));
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(j, "question");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(q, "choices");
    char prompt[1024];
    int pl = snprintf(prompt, sizeof prompt, "Question: %s",
                      cJSON_GetObjectItemCaseSensitive(q, "stem")->valuestring);
    for (int c = 0; c < 5; c++)
        pl += snprintf(prompt + pl, sizeof prompt - (size_t)pl, "\n %c. %s", 'A' + c,
                       cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ch, c), "text")
                           ->valuestring);
    snprintf(prompt + pl, sizeof prompt - (size_t)pl, "\nAnswer: %s",
             cJSON_GetObjectItemCaseSensitive(j, "answerKey")->valuestring);
    CHECK(strstr(corpus, prompt) != NULL, "corpus holds the first train question:\n%s", prompt);
    cJSON_Delete(j);
    psw_world_free(w);
}

/* The project's own CSQA reader accepts every split, labeled, with the facts' answers. */
static void test_dataset_reader(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    psw_world *w = gen(&o);
    size_t nf;
    const psw_world_fact *facts = psw_world_facts(w, &nf);
    for (int s = 0; s < PSW_WORLD_N_SPLITS; s++) {
        size_t len, nq;
        const char *text = psw_world_jsonl(w, (psw_world_split)s, &len);
        const int32_t *qf = psw_world_question_facts(w, (psw_world_split)s, &nq);
        psw_mc_dataset ds;
        psw_err err = {0};
        CHECK_OK(psw_mc_dataset_parse(text, len, psw_world_split_file((psw_world_split)s), &ds,
                                      &err),
                 &err);
        CHECK(ds.n == nq && ds.labeled, "%s: %zu labeled examples", psw_world_split_file(s), nq);
        size_t agree = 0;
        for (size_t i = 0; i < ds.n && i < nq; i++)
            agree += ds.examples[i].n_choices == 5 && ds.examples[i].gold >= 0 &&
                     strcmp(ds.examples[i].texts[ds.examples[i].gold], facts[qf[i]].object) == 0;
        CHECK(agree == nq, "%s: gold text is the fact's object in %zu of %zu",
              psw_world_split_file(s), agree, nq);
        psw_mc_dataset_free(&ds);
    }
    psw_world_free(w);
}

static void test_holdout(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.holdout_pct = 30;
    psw_world *w = gen(&o);
    size_t nf, nq;
    const psw_world_fact *f = psw_world_facts(w, &nf);
    size_t n_hold = 0;
    for (size_t i = 0; i < nf; i++) n_hold += f[i].holdout;
    CHECK(n_hold == 60, "30%% of 200 facts held out, got %zu", n_hold);
    const int32_t *qf = psw_world_question_facts(w, PSW_WORLD_TRAIN, &nq);
    size_t in_train = 0;
    for (size_t i = 0; i < nq; i++) in_train += f[qf[i]].holdout;
    CHECK(in_train == 0, "no train question asks a held-out fact, got %zu", in_train);
    qf = psw_world_question_facts(w, PSW_WORLD_DEV, &nq);
    size_t in_dev = 0;
    for (size_t i = 0; i < nq; i++) in_dev += f[qf[i]].holdout;
    CHECK(in_dev == 60, "dev asks every held-out fact once, got %zu", in_dev);
    cJSON *ids = cJSON_CreateObject();
    int letters[5] = {0};
    check_split(w, PSW_WORLD_TRAIN, ids, letters);
    check_split(w, PSW_WORLD_DEV, ids, letters);
    cJSON_Delete(ids);
    psw_world_free(w);
}

/* fixed_choices: every question of a relation lists the same 5 objects in the same order, and
 * the answer is still the fact's object. */
static void test_fixed_choices(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.fixed_choices = true;
    psw_world *w = gen(&o);
    cJSON *ids = cJSON_CreateObject();
    int letters[5] = {0};
    check_split(w, PSW_WORLD_TRAIN, ids, letters);
    check_split(w, PSW_WORLD_DEV, ids, letters);
    cJSON_Delete(ids);
    size_t len, nq, nf;
    const char *text = psw_world_jsonl(w, PSW_WORLD_DEV, &len);
    const int32_t *qf = psw_world_question_facts(w, PSW_WORLD_DEV, &nq);
    const psw_world_fact *facts = psw_world_facts(w, &nf);
    char *first[PSW_WORLD_N_RELATIONS] = {0};
    size_t differ = 0, i = 0;
    for (const char *p = text; *p; i++) {
        const char *nl = strchr(p, '\n');
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(nl - p));
        p = nl + 1;
        char *ch = cJSON_PrintUnformatted(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "question"),
                                             "choices"));
        int r = facts[qf[i]].relation_index;
        if (!first[r]) first[r] = ch;
        else {
            differ += strcmp(first[r], ch) != 0;
            free(ch);
        }
        cJSON_Delete(j);
    }
    CHECK(differ == 0, "fixed choices: %zu dev questions list other choices than their relation's",
          differ);
    for (int r = 0; r < PSW_WORLD_N_RELATIONS; r++) free(first[r]);
    psw_world_opts_default(&o);
    psw_world *shuffled = gen(&o);
    size_t l2;
    const char *t2 = psw_world_jsonl(shuffled, PSW_WORLD_DEV, &l2);
    CHECK(l2 != len || memcmp(text, t2, len) != 0, "fixed_choices changes the dev split");
    psw_world_free(shuffled);
    psw_world_free(w);
}

static void test_errors(void) {
    psw_world_opts o;
    psw_world *w = NULL;
    psw_err err = {0};
    psw_world_opts_default(&o);
    o.n_entities = 0;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "entities = 0, expected 1..2000");
    psw_world_opts_default(&o);
    o.facts_per_entity = 9;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "facts_per_entity = 9, expected 1..8");
    psw_world_opts_default(&o);
    o.n_dev = 0;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "dev questions = 0, expected 1..");
    psw_world_opts_default(&o);
    o.n_train = -1;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "train questions = -1, expected 0..");
    psw_world_opts_default(&o);
    o.n_drills = -1;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "drills = -1, expected 0..1000000");
    psw_world_opts_default(&o);
    o.holdout_pct = 91;
    CHECK_FAILS(psw_world_generate(&o, &w, &err), &err, PSW_ERR_INVALID_ARG,
                "holdout_pct = 91, expected 0..90");
    CHECK(w == NULL, "no world on failure");

    psw_world_opts_default(&o);
    o.n_train = 10;
    w = gen(&o);
    CHECK_FAILS(psw_world_write(w, "/dev/null/world", &err), &err, PSW_ERR_IO, "/dev/null");
    psw_world_free(w);
}

static char *slurp(const char *dir, const char *name, size_t *len) {
    char *path = psw_path_join(dir, name), *data = NULL;
    psw_err err = {0};
    CHECK_OK(psw_read_file(path, &data, len, &err), &err);
    free(path);
    return data;
}

static void test_make_dir(void) {
    psw_world_opts o;
    psw_world_opts_default(&o);
    o.seed = 3;
    o.n_entities = 20;
    char *d1 = psw_test_tmpdir(), *d2 = psw_test_tmpdir();
    psw_err err = {0};
    CHECK_OK(psw_world_make_dir(&o, 600, d1, &err), &err);
    CHECK_OK(psw_world_make_dir(&o, 600, d2, &err), &err);
    static const char *const files[] = {"train.jsonl", "dev.jsonl",      "test.jsonl",
                                        "corpus.txt",  "tokenizer.json", "world.json"};
    psw_world *w = gen(&o);
    for (int i = 0; i < 6; i++) {
        size_t l1 = 0, l2 = 0;
        char *a = slurp(d1, files[i], &l1), *b = slurp(d2, files[i], &l2);
        CHECK(a && b && l1 == l2 && memcmp(a, b, l1) == 0, "%s is byte-identical across runs",
              files[i]);
        if (i < 3) {
            size_t lw;
            const char *mem = psw_world_jsonl(w, (psw_world_split)i, &lw);
            CHECK(a && lw == l1 && memcmp(mem, a, lw) == 0, "%s matches memory", files[i]);
        }
        free(a);
        free(b);
    }
    size_t len;
    char *wj = slurp(d1, "world.json", &len);
    cJSON *root = cJSON_Parse(wj);
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(tok, "vocab_size");
    const cJSON *tvs = cJSON_GetObjectItemCaseSensitive(tok, "target_vocab_size");
    const cJSON *nfacts = cJSON_GetObjectItemCaseSensitive(root, "n_facts");
    const cJSON *facts = cJSON_GetObjectItemCaseSensitive(root, "facts");
    CHECK(cJSON_IsNumber(vs) && vs->valueint > 300 && vs->valueint <= 600,
          "world.json tokenizer.vocab_size in (300, 600]");
    CHECK(cJSON_IsNumber(tvs) && tvs->valueint == 600, "target_vocab_size 600");
    CHECK(cJSON_IsNumber(nfacts) && nfacts->valueint == 100, "n_facts 100");
    CHECK(cJSON_GetArraySize(facts) == 100, "100 facts listed");
    cJSON_Delete(root);
    free(wj);

    char *tj = slurp(d1, "tokenizer.json", &len);
    root = cJSON_Parse(tj);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    static const char *const want[] = {"\xc4\xa0 A", "\xc4\xa0 B", "\xc4\xa0 C", "\xc4\xa0 D",
                                       "\xc4\xa0 E"};
    for (int i = 0; i < 5; i++) {
        const cJSON *m = cJSON_GetArrayItem(merges, i);
        CHECK(cJSON_IsString(m) && strcmp(m->valuestring, want[i]) == 0,
              "merge %d is \"%s\" (the answer letter)", i, want[i]);
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *eot = cJSON_GetArrayItem(added, 0);
    CHECK(cJSON_GetArraySize(added) == 2 &&
              strcmp(cJSON_GetObjectItemCaseSensitive(eot, "content")->valuestring,
                     PSW_WORLD_EOT_TOKEN) == 0,
          "added_tokens starts with <|endoftext|>");
    cJSON_Delete(root);
    free(tj);
    psw_world_free(w);

    CHECK_FAILS(psw_world_make_dir(&o, 100, d1, &err), &err, PSW_ERR_INVALID_ARG,
                "vocab_size = 100 is below");
    for (int i = 0; i < 6; i++) {
        char *p1 = psw_path_join(d1, files[i]), *p2 = psw_path_join(d2, files[i]);
        remove(p1);
        remove(p2);
        free(p1);
        free(p2);
    }
    remove(d1);
    remove(d2);
    free(d1);
    free(d2);
}

int main(void) {
    test_determinism();
    test_format();
    test_dataset_reader();
    test_holdout();
    test_fixed_choices();
    test_errors();
    test_make_dir();
    return psw_test_finish();
}
