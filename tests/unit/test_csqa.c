/* test_csqa.c: the CommonsenseQA JSONL loader on committed fixtures (real CSQA lines and a
 * hand-written mixed-K file), every error it promises, and, with PSW_SHARED_DIR, the full
 * train/dev/test files against the row and answer counts of ../shared/data/csqa/SOURCE.md. */
#include <stdlib.h>
#include <string.h>

#include "psw/dataset.h"
#include "test.h"

static void check_labels_ae(const psw_mc_example *e) {
    static const char *const want[] = {"A", "B", "C", "D", "E"};
    CHECK(e->n_choices == 5, "%s: n_choices %d", e->id, e->n_choices);
    for (int k = 0; k < 5 && k < e->n_choices; k++)
        CHECK(strcmp(e->labels[k], want[k]) == 0, "%s: label %d is %s", e->id, k, e->labels[k]);
}

static void test_train_fixture(void) {
    psw_mc_dataset ds;
    psw_err err;
    CHECK_OK(psw_mc_dataset_load("data/csqa/train_small.jsonl", &ds, &err), &err);
    CHECK(ds.n == 9, "n = %zu", ds.n);
    CHECK(ds.labeled, "train is labeled");
    CHECK(strcmp(ds.source, "data/csqa/train_small.jsonl") == 0, "source %s", ds.source);
    if (ds.n != 9) goto done;
    const psw_mc_example *e = &ds.examples[0];
    CHECK(strcmp(e->id, "075e483d21c29a511267ef62bedc0461") == 0, "id %s", e->id);
    CHECK(strcmp(e->concept, "punishing") == 0, "concept %s", e->concept);
    CHECK(strncmp(e->stem, "The sanctions against the school were a punishing blow", 54) == 0,
          "stem %s", e->stem);
    CHECK(e->gold == 0 && e->line == 1, "gold %d line %ld", e->gold, e->line);
    check_labels_ae(e);
    CHECK(strcmp(e->texts[2], "authoritarian") == 0 && strcmp(e->texts[3], "yell at") == 0,
          "texts %s / %s", e->texts[2], e->texts[3]);
    /* The 5 OLMES shot examples are train lines 2, 4, 5 (file lines 2, 4, 5 here). */
    CHECK(strcmp(ds.examples[1].id, "61fe6e879ff18686d7552425a36344c8") == 0 &&
              ds.examples[1].gold == 1,
          "line 2");
    CHECK(strcmp(ds.examples[1].stem,
                 "Sammy wanted to go to where the people were.  Where might he go?") == 0,
          "double space kept: %s", ds.examples[1].stem);
    CHECK(ds.examples[4].gold == 2 && ds.examples[4].line == 5, "line 5 gold C");
    /* JSON escapes: \" in train line 134, \u201c in 538, \u00f8 in 904. */
    CHECK(strncmp(ds.examples[5].stem, "\"There are 10 apples on an apple tree.", 38) == 0,
          "escaped quote: %s", ds.examples[5].stem);
    CHECK(strstr(ds.examples[6].stem, "on the \xe2\x80\x9csilver screen\" where") != NULL,
          "u201c: %s", ds.examples[6].stem);
    CHECK(strcmp(ds.examples[7].texts[2], "troms\xc3\xb8") == 0, "u00f8: %s",
          ds.examples[7].texts[2]);
    /* train line 3880 has a choice text with a trailing space; it is kept. */
    int found = 0;
    for (int k = 0; k < ds.examples[8].n_choices; k++)
        found += strcmp(ds.examples[8].texts[k], "ice cream ") == 0;
    CHECK(found == 1, "trailing space kept in line 9");
    for (size_t i = 0; i < ds.n; i++) check_labels_ae(&ds.examples[i]);
    CHECK(psw_mc_dataset_find(&ds, "23505889b94e880c3e89cff4ba119860") == &ds.examples[4],
          "find");
    CHECK(psw_mc_dataset_find(&ds, "nope") == NULL, "find missing");
    CHECK(psw_mc_example_label_index(&ds.examples[0], "E") == 4, "label index E");
    CHECK(psw_mc_example_label_index(&ds.examples[0], "F") == -1, "label index F");
done:
    psw_mc_dataset_free(&ds);
    CHECK(ds.examples == NULL && ds.n == 0, "free zeroes");
}

static void test_unlabeled_and_mixed(void) {
    psw_mc_dataset ds;
    psw_err err;
    CHECK_OK(psw_mc_dataset_load("data/csqa/test_small.jsonl", &ds, &err), &err);
    CHECK(ds.n == 3 && !ds.labeled, "test: n %zu labeled %d", ds.n, ds.labeled);
    for (size_t i = 0; i < ds.n; i++) CHECK(ds.examples[i].gold == -1, "test gold -1");
    if (ds.n == 3)
        CHECK(strcmp(ds.examples[2].id, "26cf1eca0eafba24ed7efe1c8c4f6170") == 0, "test id");
    psw_mc_dataset_free(&ds);

    CHECK_OK(psw_mc_dataset_load("data/csqa/dev_small.jsonl", &ds, &err), &err);
    CHECK(ds.n == 4 && ds.labeled, "dev small");
    if (ds.n == 4) {
        /* answerKeys A, A, A, B (dev lines 1, 2, 1102, 1122) and the tab escape of line 1122. */
        CHECK(ds.examples[0].gold == 0 && ds.examples[1].gold == 0 && ds.examples[2].gold == 0 &&
                  ds.examples[3].gold == 1,
              "dev golds");
        CHECK(strncmp(ds.examples[3].stem, "What does \tdrinking", 19) == 0, "tab: %s",
              ds.examples[3].stem);
    }
    psw_mc_dataset_free(&ds);

    /* CRLF endings, blank and space-only lines, K = 2, 3, 10, numeric labels, extra keys. */
    CHECK_OK(psw_mc_dataset_load("data/csqa/mixed_k.jsonl", &ds, &err), &err);
    CHECK(ds.n == 3 && ds.labeled, "mixed: n %zu", ds.n);
    if (ds.n == 3) {
        const psw_mc_example *a = &ds.examples[0], *b = &ds.examples[1], *c = &ds.examples[2];
        CHECK(a->n_choices == 2 && a->gold == 1 && a->line == 1 && strcmp(a->concept, "") == 0,
              "k2: K %d gold %d line %ld", a->n_choices, a->gold, a->line);
        CHECK(strcmp(a->texts[1], "no") == 0, "k2 text has no CR: '%s'", a->texts[1]);
        CHECK(b->n_choices == 3 && b->gold == 2 && b->line == 3, "k3: K %d gold %d line %ld",
              b->n_choices, b->gold, b->line);
        CHECK(strcmp(b->labels[0], "1") == 0 && strcmp(b->concept, "digits") == 0, "k3 labels");
        CHECK(strcmp(b->stem, "Which is largest? \"quoted\" \xc3\xa9") == 0, "k3 stem %s",
              b->stem);
        CHECK(c->n_choices == 10 && c->gold == 9 && c->line == 5 &&
                  strcmp(c->labels[9], "J") == 0 && strcmp(c->texts[9], "j") == 0,
              "k10: K %d gold %d", c->n_choices, c->gold);
    }
    psw_mc_dataset_free(&ds);

    /* An empty answerKey (HF export of the hidden test split) means unlabeled. */
    const char *hf = "{\"id\": \"a\", \"answerKey\": \"\", \"question\": {\"stem\": \"s\", "
                     "\"choices\": [{\"label\": \"A\", \"text\": \"x\"}, {\"label\": \"B\", "
                     "\"text\": \"y\"}]}}\n";
    CHECK_OK(psw_mc_dataset_parse(hf, strlen(hf), "hf.jsonl", &ds, &err), &err);
    CHECK(ds.n == 1 && !ds.labeled && ds.examples[0].gold == -1, "empty answerKey");
    psw_mc_dataset_free(&ds);
}

/* A line with two choices, for building error cases. */
#define TWO "[{\"label\": \"A\", \"text\": \"x\"}, {\"label\": \"B\", \"text\": \"y\"}]"
#define LINE(id, key) "{\"answerKey\": \"" key "\", \"id\": \"" id "\", \"question\": {\"stem\": \"s\", \"choices\": " TWO "}}\n"

static void expect_error(const char *text, psw_status want, const char *needle, int line) {
    psw_mc_dataset ds;
    psw_err err = {0};
    psw_status st = psw_mc_dataset_parse(text, strlen(text), "t.jsonl", &ds, &err);
    psw_test_check_fails(st, &err, want, needle, __FILE__, line, "parse");
    CHECK(ds.n == 0 && ds.examples == NULL && ds.arena == NULL, "empty after failure (line %d)",
          line);
    psw_mc_dataset_free(&ds);
}
#define EXPECT_ERROR(text, needle) expect_error((text), PSW_ERR_FORMAT, (needle), __LINE__)

static void test_errors(void) {
    EXPECT_ERROR(LINE("a", "A") "{\"id\": \"b\", \n", "t.jsonl:2: malformed JSON at column");
    EXPECT_ERROR("{\"id\": \"b\" \"question\": 1}\n", "t.jsonl:1: malformed JSON at column 12");
    EXPECT_ERROR(LINE("a", "A") "{\"answerKey\": \"A\", \"id\": \"b\", \"question\": {\"stem\": "
                                "\"s\", \"choices\": " TWO "}} x\n",
                 "t.jsonl:2: malformed JSON: trailing characters at column");
    EXPECT_ERROR("[1, 2]\n", "t.jsonl:1: expected a JSON object, got an array");
    EXPECT_ERROR("{\"question\": {\"stem\": \"s\", \"choices\": " TWO "}}",
                 "t.jsonl:1: id: missing");
    EXPECT_ERROR("{\"id\": 7, \"question\": {\"stem\": \"s\", \"choices\": " TWO "}}",
                 "t.jsonl:1: id: expected a string, got a number");
    EXPECT_ERROR("{\"id\": \"\", \"question\": {\"stem\": \"s\", \"choices\": " TWO "}}",
                 "t.jsonl:1: id: empty string");
    EXPECT_ERROR("{\"id\": \"a\"}", "t.jsonl:1: question: missing");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": \"q\"}",
                 "t.jsonl:1: question: expected an object, got a string");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"choices\": " TWO "}}",
                 "t.jsonl:1: question.stem: missing");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": null, \"choices\": " TWO "}}",
                 "t.jsonl:1: question.stem: expected a string, got null");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"question_concept\": 3, "
                 "\"choices\": " TWO "}}",
                 "t.jsonl:1: question.question_concept: expected a string, got a number");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\"}}",
                 "t.jsonl:1: question.choices: missing");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": {}}}",
                 "t.jsonl:1: question.choices: expected an array, got an object");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\", "
                 "\"text\": \"x\"}]}}",
                 "t.jsonl:1: question.choices: 1 choice, need 2 to 10");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": ["
                 "{\"label\": \"A\", \"text\": \"x\"}, {\"label\": \"B\", \"text\": \"x\"}, "
                 "{\"label\": \"C\", \"text\": \"x\"}, {\"label\": \"D\", \"text\": \"x\"}, "
                 "{\"label\": \"E\", \"text\": \"x\"}, {\"label\": \"F\", \"text\": \"x\"}, "
                 "{\"label\": \"G\", \"text\": \"x\"}, {\"label\": \"H\", \"text\": \"x\"}, "
                 "{\"label\": \"I\", \"text\": \"x\"}, {\"label\": \"J\", \"text\": \"x\"}, "
                 "{\"label\": \"K\", \"text\": \"x\"}]}}",
                 "t.jsonl:1: question.choices: 11 choices, need 2 to 10");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\", "
                 "\"text\": \"x\"}, \"B\"]}}",
                 "t.jsonl:1: question.choices[1]: expected an object, got a string");
    EXPECT_ERROR(LINE("a", "A") LINE("b", "A")
                 "{\"id\": \"c\", \"answerKey\": \"A\", \"question\": {\"stem\": \"s\", "
                 "\"choices\": [{\"label\": \"A\", \"text\": \"x\"}, {\"label\": \"B\", \"text\": "
                 "\"y\"}, {\"label\": 3, \"text\": \"z\"}]}}",
                 "t.jsonl:3: question.choices[2].label: expected a string, got a number");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\"}, "
                 "{\"label\": \"B\", \"text\": \"y\"}]}}",
                 "t.jsonl:1: question.choices[0].text: missing");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\", "
                 "\"text\": \"x\"}, {\"label\": \"\", \"text\": \"y\"}]}}",
                 "t.jsonl:1: question.choices[1].label: label \"\" is empty or contains "
                 "whitespace");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\", "
                 "\"text\": \"x\"}, {\"label\": \"B C\", \"text\": \"y\"}]}}",
                 "t.jsonl:1: question.choices[1].label: label \"B C\" is empty or contains");
    EXPECT_ERROR("{\"id\": \"a\", \"question\": {\"stem\": \"s\", \"choices\": [{\"label\": \"A\", "
                 "\"text\": \"x\"}, {\"label\": \"A\", \"text\": \"y\"}]}}",
                 "t.jsonl:1: question.choices[1].label: label \"A\" repeats "
                 "question.choices[0].label");
    EXPECT_ERROR(LINE("x", "A") LINE("y", "B") LINE("x", "B"),
                 "t.jsonl:3: id: duplicate \"x\" (first on line 1)");
    EXPECT_ERROR(LINE("x", "A") "\n" LINE("y", "F"),
                 "t.jsonl:3: answerKey: \"F\" is not one of the choice labels (\"A\" \"B\")");
    EXPECT_ERROR("{\"id\": \"a\", \"answerKey\": 1, \"question\": {\"stem\": \"s\", \"choices\": "
                 TWO "}}",
                 "t.jsonl:1: answerKey: expected a string, got a number");
    EXPECT_ERROR(LINE("x", "A") "{\"id\": \"b\", \"question\": {\"stem\": \"s\", \"choices\": " TWO
                                "}}",
                 "t.jsonl:2: answerKey: missing, but line 1 has one");
    EXPECT_ERROR("{\"id\": \"b\", \"question\": {\"stem\": \"s\", \"choices\": " TWO "}}\n" LINE(
                     "x", "A"),
                 "t.jsonl:2: answerKey: present, but line 1 has none");
    EXPECT_ERROR("", "t.jsonl: no examples");
    EXPECT_ERROR("\n  \r\n\n", "t.jsonl: no examples");

    psw_mc_dataset ds;
    psw_err err;
    CHECK_FAILS(psw_mc_dataset_load("data/csqa/does_not_exist.jsonl", &ds, &err), &err,
                PSW_ERR_IO, "data/csqa/does_not_exist.jsonl: cannot open");
    CHECK(ds.n == 0 && ds.examples == NULL, "empty after IO failure");
}

/* Returns a malloc'd path of a CSQA file in the shared folder (PSW_SHARED_DIR may point at the
 * shared root or at its data/ folder), or NULL. */
static char *shared_csqa(const char *shared, const char *name) {
    const char *subs[] = {"data/csqa", "csqa"};
    for (int i = 0; i < 2; i++) {
        char *dir = psw_path_join(shared, subs[i]);
        char *p = psw_path_join(dir, name);
        free(dir);
        FILE *f = fopen(p, "rb");
        if (f) {
            fclose(f);
            return p;
        }
        free(p);
    }
    return NULL;
}

static void test_shared(const char *shared) {
    static const struct {
        const char *file;
        size_t rows;
        long counts[5]; /* answerKey A..E from SOURCE.md; all 0 = unlabeled */
    } files[] = {
        {"train_rand_split.jsonl", 9741, {1909, 1973, 1946, 1985, 1928}},
        {"dev_rand_split.jsonl", 1221, {239, 255, 241, 251, 235}},
        {"test_rand_split_no_answers.jsonl", 1140, {0, 0, 0, 0, 0}},
    };
    for (int f = 0; f < 3; f++) {
        char *path = shared_csqa(shared, files[f].file);
        CHECK(path != NULL, "%s not found under %s", files[f].file, shared);
        if (!path) continue;
        psw_mc_dataset ds;
        psw_err err;
        double t0 = psw_now();
        CHECK_OK(psw_mc_dataset_load(path, &ds, &err), &err);
        printf("%s: %zu rows in %.3f s\n", files[f].file, ds.n, psw_now() - t0);
        CHECK(ds.n == files[f].rows, "%s: %zu rows, want %zu", files[f].file, ds.n,
              files[f].rows);
        bool labeled = files[f].counts[0] > 0;
        CHECK(ds.labeled == labeled, "%s: labeled %d", files[f].file, ds.labeled);
        long counts[5] = {0}, unlabeled = 0;
        for (size_t i = 0; i < ds.n; i++) {
            const psw_mc_example *e = &ds.examples[i];
            check_labels_ae(e);
            if (e->gold < 0)
                unlabeled++;
            else
                counts[e->gold]++;
            CHECK(e->line == (long)i + 1, "line numbers");
        }
        for (int k = 0; k < 5; k++)
            CHECK(counts[k] == files[f].counts[k], "%s: answer %c: %ld, want %ld", files[f].file,
                  'A' + k, counts[k], files[f].counts[k]);
        CHECK(unlabeled == (labeled ? 0 : (long)files[f].rows), "%s: unlabeled %ld",
              files[f].file, unlabeled);
        psw_mc_dataset_free(&ds);
        free(path);
    }
}

int main(void) {
    test_train_fixture();
    test_unlabeled_and_mixed();
    test_errors();
    const char *shared = psw_test_shared_dir();
    if (shared)
        test_shared(shared);
    else
        printf("PSW_SHARED_DIR unset: real CSQA files not checked\n");
    return psw_test_finish();
}
