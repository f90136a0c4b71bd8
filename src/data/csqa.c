/* csqa.c: the CommonsenseQA JSONL loader (format and checks: include/psw/dataset.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/dataset.h"

/* Parse state of one file. Every string lands in one arena sized from the input: a decoded JSON
 * string plus its NUL is never longer than its quoted encoding, so len + 2 bytes always fit
 * (the extra byte holds the shared "" for absent concepts). */
typedef struct loader {
    const char *source;
    char *arena;
    size_t arena_used, arena_cap;
    psw_mc_example *examples;
    size_t n;
    size_t *slots; /* open-addressing id table: example index + 1, 0 = empty */
    size_t n_slots; /* power of two */
    int labeled;    /* -1 unknown yet, 0 or 1 as fixed by the first line */
    long first_line;
} loader;

static const char *arena_put(loader *ld, const char *s) {
    size_t len = strlen(s) + 1;
    PSW_ASSERT(ld->arena_used + len <= ld->arena_cap);
    char *dst = ld->arena + ld->arena_used;
    memcpy(dst, s, len);
    ld->arena_used += len;
    return dst;
}

/* A short, single-line rendering of a user string for messages. */
static void quote_short(const char *s, char *buf, size_t cap) {
    size_t j = 0, i = 0;
    buf[j++] = '"';
    for (; s[i] && j + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[j++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (s[i]) {
        buf[j++] = '.';
        buf[j++] = '.';
        buf[j++] = '.';
    }
    buf[j++] = '"';
    buf[j] = '\0';
}

static const char *json_type_name(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    return "an invalid value";
}

static psw_status expect_string(const loader *ld, long line, const cJSON *obj, const char *key,
                                const char *path, bool required, const char **out, psw_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) {
        if (!required) return PSW_OK;
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: %s: missing", ld->source, line, path);
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: %s: expected a string, got %s", ld->source,
                        line, path, json_type_name(v));
    *out = v->valuestring;
    return PSW_OK;
}

static bool label_ok(const char *s) {
    if (!*s) return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f) return false;
    }
    return true;
}

/* Inserts the id of example idx; fails naming the first line that used it. */
static psw_status id_insert(loader *ld, size_t idx, long line, psw_err *err) {
    const char *id = ld->examples[idx].id;
    uint64_t h = psw_fnv1a(id, strlen(id), PSW_FNV_SEED);
    size_t mask = ld->n_slots - 1;
    for (size_t s = (size_t)h & mask;; s = (s + 1) & mask) {
        if (ld->slots[s] == 0) {
            ld->slots[s] = idx + 1;
            return PSW_OK;
        }
        const psw_mc_example *other = &ld->examples[ld->slots[s] - 1];
        if (strcmp(other->id, id) == 0) {
            char q[80];
            quote_short(id, q, sizeof q);
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: id: duplicate %s (first on line %ld)",
                            ld->source, line, q, other->line);
        }
    }
}

static psw_status parse_choices(loader *ld, long line, const cJSON *choices, psw_mc_example *ex,
                                psw_err *err) {
    if (!choices)
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: question.choices: missing", ld->source,
                        line);
    if (!cJSON_IsArray(choices))
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: question.choices: expected an array, got %s",
                        ld->source, line, json_type_name(choices));
    int k = cJSON_GetArraySize(choices);
    if (k < PSW_MIN_CHOICES || k > PSW_MAX_CHOICES)
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s:%ld: question.choices: %d choice%s, need %d to %d", ld->source, line,
                        k, k == 1 ? "" : "s", PSW_MIN_CHOICES, PSW_MAX_CHOICES);
    const char *labels[PSW_MAX_CHOICES], *texts[PSW_MAX_CHOICES];
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, choices) {
        char path[64];
        snprintf(path, sizeof path, "question.choices[%d]", i);
        if (!cJSON_IsObject(c))
            return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: %s: expected an object, got %s",
                            ld->source, line, path, json_type_name(c));
        char field[80];
        psw_status st;
        snprintf(field, sizeof field, "%s.label", path);
        if ((st = expect_string(ld, line, c, "label", field, true, &labels[i], err))) return st;
        if (!label_ok(labels[i])) {
            char q[48];
            quote_short(labels[i], q, sizeof q);
            return PSW_FAIL(err, PSW_ERR_FORMAT,
                            "%s:%ld: %s: label %s is empty or contains whitespace or control "
                            "characters",
                            ld->source, line, field, q);
        }
        for (int j = 0; j < i; j++)
            if (strcmp(labels[j], labels[i]) == 0) {
                char q[48];
                quote_short(labels[i], q, sizeof q);
                return PSW_FAIL(err, PSW_ERR_FORMAT,
                                "%s:%ld: %s: label %s repeats question.choices[%d].label",
                                ld->source, line, field, q, j);
            }
        snprintf(field, sizeof field, "%s.text", path);
        if ((st = expect_string(ld, line, c, "text", field, true, &texts[i], err))) return st;
        i++;
    }
    ex->n_choices = k;
    for (i = 0; i < k; i++) {
        ex->labels[i] = arena_put(ld, labels[i]);
        ex->texts[i] = arena_put(ld, texts[i]);
    }
    return PSW_OK;
}

static psw_status parse_answer(loader *ld, long line, const cJSON *root, psw_mc_example *ex,
                               psw_err *err) {
    const char *key;
    psw_status st = expect_string(ld, line, root, "answerKey", "answerKey", false, &key, err);
    if (st) return st;
    int has = key && *key;
    if (ld->labeled < 0) {
        ld->labeled = has;
        ld->first_line = line;
    } else if (ld->labeled != has) {
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s:%ld: answerKey: %s, but line %ld %s (a file is labeled or unlabeled "
                        "throughout)",
                        ld->source, line, has ? "present" : "missing", ld->first_line,
                        has ? "has none" : "has one");
    }
    ex->gold = -1;
    if (!has) return PSW_OK;
    ex->gold = psw_mc_example_label_index(ex, key);
    if (ex->gold < 0) {
        char q[48], labels[PSW_MAX_CHOICES * 12] = "";
        quote_short(key, q, sizeof q);
        for (int i = 0; i < ex->n_choices; i++) {
            char one[12];
            quote_short(ex->labels[i], one, sizeof one - 1);
            if (i) strcat(labels, " ");
            strcat(labels, one);
        }
        return PSW_FAIL(err, PSW_ERR_FORMAT,
                        "%s:%ld: answerKey: %s is not one of the choice labels (%s)", ld->source,
                        line, q, labels);
    }
    return PSW_OK;
}

static psw_status parse_line(loader *ld, long line, const char *text, size_t len, psw_err *err) {
    psw_status st = PSW_OK;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t col = end && end >= text ? (size_t)(end - text) + 1 : 1;
        return PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: malformed JSON at column %zu", ld->source,
                        line, col);
    }
    for (const char *p = end; p < text + len; p++)
        if (*p != ' ' && *p != '\t') {
            st = PSW_FAIL(err, PSW_ERR_FORMAT,
                          "%s:%ld: malformed JSON: trailing characters at column %zu", ld->source,
                          line, (size_t)(p - text) + 1);
            goto fail;
        }
    if (!cJSON_IsObject(root)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: expected a JSON object, got %s", ld->source,
                      line, json_type_name(root));
        goto fail;
    }
    psw_mc_example *ex = &ld->examples[ld->n];
    memset(ex, 0, sizeof *ex);
    ex->line = line;

    const char *id, *stem, *concept;
    if ((st = expect_string(ld, line, root, "id", "id", true, &id, err))) goto fail;
    if (!*id) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: id: empty string", ld->source, line);
        goto fail;
    }
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(root, "question");
    if (!q) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: question: missing", ld->source, line);
        goto fail;
    }
    if (!cJSON_IsObject(q)) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s:%ld: question: expected an object, got %s",
                      ld->source, line, json_type_name(q));
        goto fail;
    }
    if ((st = expect_string(ld, line, q, "stem", "question.stem", true, &stem, err))) goto fail;
    if ((st = expect_string(ld, line, q, "question_concept", "question.question_concept", false,
                            &concept, err)))
        goto fail;
    if ((st = parse_choices(ld, line, cJSON_GetObjectItemCaseSensitive(q, "choices"), ex, err)))
        goto fail;
    if ((st = parse_answer(ld, line, root, ex, err))) goto fail;

    ex->id = arena_put(ld, id);
    ex->stem = arena_put(ld, stem);
    ex->concept = concept ? arena_put(ld, concept) : ld->arena; /* arena[0] is "" */
    if ((st = id_insert(ld, ld->n, line, err))) goto fail;
    ld->n++;
fail:
    cJSON_Delete(root);
    return st;
}

psw_status psw_mc_dataset_parse(const char *text, size_t len, const char *source,
                                psw_mc_dataset *out, psw_err *err) {
    psw_status st = PSW_OK;
    loader ld = {.source = source, .labeled = -1};
    memset(out, 0, sizeof *out);

    size_t n_lines = 1;
    for (size_t i = 0; i < len; i++) n_lines += text[i] == '\n';
    size_t bytes;
    if (!psw_size_add(len, 2, &ld.arena_cap) ||
        !psw_size_mul(n_lines, sizeof *ld.examples, &bytes))
        return PSW_FAIL(err, PSW_ERR_NOMEM, "%s: too large (%zu bytes)", source, len);
    ld.arena = psw_try_alloc(ld.arena_cap);
    ld.examples = psw_try_alloc(bytes);
    ld.n_slots = 16;
    while (ld.n_slots < 2 * n_lines) ld.n_slots *= 2;
    ld.slots = psw_try_alloc(ld.n_slots * sizeof *ld.slots);
    if (!ld.arena || !ld.examples || !ld.slots) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: out of memory for %zu lines", source, n_lines);
        goto fail;
    }
    memset(ld.slots, 0, ld.n_slots * sizeof *ld.slots);
    ld.arena[0] = '\0';
    ld.arena_used = 1;

    long line = 0;
    for (size_t pos = 0; pos < len;) {
        line++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t l = end - pos;
        if (l > 0 && text[pos + l - 1] == '\r') l--;
        bool blank = true;
        for (size_t i = 0; i < l && blank; i++)
            blank = text[pos + i] == ' ' || text[pos + i] == '\t';
        if (!blank && (st = parse_line(&ld, line, text + pos, l, err))) goto fail;
        pos = end + 1;
    }
    if (ld.n == 0) {
        st = PSW_FAIL(err, PSW_ERR_FORMAT, "%s: no examples", source);
        goto fail;
    }
    free(ld.slots);
    out->source = psw_xstrdup(source);
    out->n = ld.n;
    out->examples = ld.examples;
    out->labeled = ld.labeled == 1;
    out->arena = ld.arena;
    return PSW_OK;
fail:
    free(ld.slots);
    free(ld.examples);
    free(ld.arena);
    return st;
}

psw_status psw_mc_dataset_load(const char *path, psw_mc_dataset *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    size_t len = 0;
    psw_status st = psw_read_file(path, &buf, &len, err);
    if (st) return st;
    st = psw_mc_dataset_parse(buf, len, path, out, err);
    free(buf);
    return st;
}

void psw_mc_dataset_free(psw_mc_dataset *ds) {
    if (!ds) return;
    free(ds->source);
    free(ds->examples);
    free(ds->arena);
    memset(ds, 0, sizeof *ds);
}

const psw_mc_example *psw_mc_dataset_find(const psw_mc_dataset *ds, const char *id) {
    for (size_t i = 0; i < ds->n; i++)
        if (strcmp(ds->examples[i].id, id) == 0) return &ds->examples[i];
    return NULL;
}

int psw_mc_example_label_index(const psw_mc_example *ex, const char *label) {
    for (int i = 0; i < ex->n_choices; i++)
        if (strcmp(ex->labels[i], label) == 0) return i;
    return -1;
}
