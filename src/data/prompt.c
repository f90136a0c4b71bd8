/* prompt.c: multiple-choice prompt templates and their tokenization (include/psw/prompt.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/prompt.h"

/* The OLMES "OLMES:commonsense_qa" few-shot set, as found in every context of AI2's csqa:mc
 * requests (olmes_mc_5shot/requests.jsonl.gz): CSQA train lines 2, 4, 5, 17, 59, in this order. */
static const psw_mc_example olmes_csqa_shots[5] = {
    {.id = "61fe6e879ff18686d7552425a36344c8",
     .stem = "Sammy wanted to go to where the people were.  Where might he go?",
     .concept = "people",
     .n_choices = 5,
     .labels = {"A", "B", "C", "D", "E"},
     .texts = {"race track", "populated areas", "the desert", "apartment", "roadblock"},
     .gold = 1},
    {.id = "02e821a3e53cb320790950aab4489e85",
     .stem = "Google Maps and other highway and street GPS services have replaced what?",
     .concept = "highway",
     .n_choices = 5,
     .labels = {"A", "B", "C", "D", "E"},
     .texts = {"united states", "mexico", "countryside", "atlas", "oceans"},
     .gold = 3},
    {.id = "23505889b94e880c3e89cff4ba119860",
     .stem = "The fox walked from the city into the forest, what was it looking for?",
     .concept = "fox",
     .n_choices = 5,
     .labels = {"A", "B", "C", "D", "E"},
     .texts = {"pretty flowers.", "hen house", "natural habitat", "storybook", "dense forest"},
     .gold = 2},
    {.id = "a76403b4921a9281b6ee2a7241a5ec9f",
     .stem = "What is it called when you slowly cook using a grill?",
     .concept = "grill",
     .n_choices = 5,
     .labels = {"A", "B", "C", "D", "E"},
     .texts = {"backyard", "restaurant", "crockpot", "neighbor's house", "barbeque"},
     .gold = 4},
    {.id = "6dc921840aa1e5dda3333b79007f630b",
     .stem = "What would you do if you want to be able to earn money?",
     .concept = "money",
     .n_choices = 5,
     .labels = {"A", "B", "C", "D", "E"},
     .texts = {"apply for job", "stand in line", "take care of proposals", "pass course",
               "play the lottery"},
     .gold = 0},
};

const psw_mc_example *psw_prompt_olmes_csqa_shots(int *n) {
    *n = (int)(sizeof olmes_csqa_shots / sizeof olmes_csqa_shots[0]);
    return olmes_csqa_shots;
}

void psw_prompt_settings_default(psw_prompt_settings *s) {
    memset(s, 0, sizeof *s);
    s->format = "Question: {question}{choices}\nAnswer:";
    s->choice_format = "\n {label}. {text}";
    s->answer_format = " {label}";
    s->shot_separator = "\n\n";
    s->shots = psw_prompt_olmes_csqa_shots(&s->n_shots);
    s->chat = NULL;
    s->bos_token = NULL;
}

psw_status psw_prompt_select_shots(const psw_mc_dataset *train, const char *const *ids, int n_ids,
                                   int n_shots, psw_mc_example out[PSW_PROMPT_MAX_SHOTS],
                                   psw_err *err) {
    if (n_shots < 0 || n_shots > PSW_PROMPT_MAX_SHOTS)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shots: %d, need 0 to %d", n_shots,
                        PSW_PROMPT_MAX_SHOTS);
    if (n_ids == 0) {
        if (n_shots > PSW_PROMPT_OLMES_SHOTS)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "prompt.shots: %d, but only the %d OLMES examples are built in; list "
                            "prompt.shot_ids for more",
                            n_shots, PSW_PROMPT_OLMES_SHOTS);
        for (int i = 0; i < n_shots; i++) out[i] = olmes_csqa_shots[i];
        return PSW_OK;
    }
    if (n_ids != n_shots)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shot_ids: %d ids for %d shots", n_ids,
                        n_shots);
    if (!train)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "prompt.shot_ids: no training set to take the shots from");
    for (int i = 0; i < n_ids; i++) {
        const psw_mc_example *e = psw_mc_dataset_find(train, ids[i]);
        if (!e)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shot_ids[%d]: '%s' is not in %s", i,
                            ids[i], train->source);
        if (e->gold < 0)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "prompt.shot_ids[%d]: '%s' has no answerKey in %s", i, ids[i],
                            train->source);
        out[i] = *e;
    }
    return PSW_OK;
}

static int count_occurrences(const char *hay, const char *needle) {
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = strstr(hay, needle); p; p = strstr(p + nl, needle)) n++;
    return n;
}

static psw_status check_template(const char *field, const char *tmpl, const char *const *names,
                                 int n_names, psw_err *err) {
    if (!tmpl) return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.%s: not set", field);
    for (int i = 0; i < n_names; i++) {
        int n = count_occurrences(tmpl, names[i]);
        if (n != 1)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "prompt.%s: contains %s %d times, want exactly once", field, names[i],
                            n);
    }
    return PSW_OK;
}

psw_status psw_prompt_settings_validate(const psw_prompt_settings *s, psw_err *err) {
    static const char *const fmt_names[] = {"{question}", "{choices}"};
    static const char *const choice_names[] = {"{label}", "{text}"};
    static const char *const answer_names[] = {"{label}"};
    static const char *const chat_names[] = {"{prompt}"};
    psw_status st;
    if ((st = check_template("format", s->format, fmt_names, 2, err))) return st;
    if ((st = check_template("choice_format", s->choice_format, choice_names, 2, err))) return st;
    if ((st = check_template("answer_format", s->answer_format, answer_names, 1, err))) return st;
    if (!s->shot_separator)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shot_separator: not set");
    if (s->chat && (st = check_template("chat", s->chat, chat_names, 1, err))) return st;
    if (s->n_shots < 0 || s->n_shots > PSW_PROMPT_MAX_SHOTS)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shots: %d, need 0 to %d", s->n_shots,
                        PSW_PROMPT_MAX_SHOTS);
    if (s->n_shots > 0 && !s->shots)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "prompt.shots: %d shots requested, none given",
                        s->n_shots);
    for (int i = 0; i < s->n_shots; i++) {
        const psw_mc_example *e = &s->shots[i];
        if (!e->id || !e->stem || e->n_choices < PSW_MIN_CHOICES ||
            e->n_choices > PSW_MAX_CHOICES)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "prompt.shots[%d]: incomplete example (id, stem and %d to %d choices "
                            "needed)",
                            i, PSW_MIN_CHOICES, PSW_MAX_CHOICES);
        for (int k = 0; k < e->n_choices; k++)
            if (!e->labels[k] || !e->texts[k])
                return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                                "prompt.shots[%d]: example '%s': choice %d has no label or text",
                                i, e->id, k);
        if (e->gold < 0 || e->gold >= e->n_choices)
            return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                            "prompt.shots[%d]: example '%s' has no answer", i, e->id);
    }
    return PSW_OK;
}

/* Growable string; prompts are a few KB, so bookkeeping allocations (abort on OOM) suffice. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap) cap *= 2;
        b->p = psw_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends tmpl with each names[i] replaced by values[i]; scans the template only, so inserted
 * text is never expanded again. */
static void expand(sbuf *b, const char *tmpl, const char *const *names, const char *const *values,
                   int n) {
    const char *run = tmpl;
    for (const char *p = tmpl; *p;) {
        int hit = -1;
        if (*p == '{')
            for (int i = 0; i < n && hit < 0; i++)
                if (strncmp(p, names[i], strlen(names[i])) == 0) hit = i;
        if (hit < 0) {
            p++;
            continue;
        }
        sb_putn(b, run, (size_t)(p - run));
        sb_putn(b, values[hit], strlen(values[hit]));
        p += strlen(names[hit]);
        run = p;
    }
    sb_putn(b, run, strlen(run));
}

static void put_block(sbuf *b, const psw_prompt_settings *s, const psw_mc_example *e) {
    static const char *const choice_names[] = {"{label}", "{text}"};
    static const char *const fmt_names[] = {"{question}", "{choices}"};
    sbuf choices = {0};
    sb_putn(&choices, "", 0);
    for (int k = 0; k < e->n_choices; k++) {
        const char *values[] = {e->labels[k], e->texts[k]};
        expand(&choices, s->choice_format, choice_names, values, 2);
    }
    const char *values[] = {e->stem, choices.p};
    expand(b, s->format, fmt_names, values, 2);
    free(choices.p);
}

static void put_answer(sbuf *b, const psw_prompt_settings *s, const char *label) {
    static const char *const names[] = {"{label}"};
    expand(b, s->answer_format, names, &label, 1);
}

psw_status psw_prompt_build(const psw_prompt_settings *s, const psw_mc_example *ex, char **out,
                            size_t *len, psw_err *err) {
    *out = NULL;
    psw_status st = psw_prompt_settings_validate(s, err);
    if (st) return st;
    sbuf body = {0};
    sb_putn(&body, "", 0);
    for (int i = 0; i < s->n_shots; i++) {
        const psw_mc_example *shot = &s->shots[i];
        put_block(&body, s, shot);
        put_answer(&body, s, shot->labels[shot->gold]);
        sb_putn(&body, s->shot_separator, strlen(s->shot_separator));
    }
    put_block(&body, s, ex);
    if (s->chat) {
        static const char *const names[] = {"{prompt}"};
        const char *values[] = {body.p};
        sbuf w = {0};
        expand(&w, s->chat, names, values, 1);
        free(body.p);
        body = w;
    }
    *out = body.p;
    if (len) *len = body.len;
    return PSW_OK;
}

char *psw_prompt_continuation(const psw_prompt_settings *s, const char *label) {
    sbuf b = {0};
    put_answer(&b, s, label);
    return b.p;
}

void psw_prompt_tokens_free(psw_prompt_tokens *t) {
    if (!t) return;
    free(t->ids);
    memset(t, 0, sizeof *t);
}

/* Renders up to a few ids for a message. */
static void ids_str(const int32_t *ids, size_t n, char *buf, size_t cap) {
    size_t j = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < 6 && j + 16 < cap; i++)
        j += (size_t)snprintf(buf + j, cap - j, "%s%d", i ? " " : "", (int)ids[i]);
    if (n > 6) snprintf(buf + j, cap - j, " ...");
}

psw_status psw_prompt_tokenize(const psw_prompt_settings *s, const psw_tokenizer *tok,
                               const psw_mc_example *ex, psw_prompt_tokens *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    char *text = NULL, *cont = NULL, *whole = NULL;
    int32_t *ids = NULL, *cids = NULL, *wids = NULL;
    size_t len = 0, n_ids = 0, n_cids = 0, n_wids = 0;
    psw_status st;
    int32_t bos = -1;

    if ((st = psw_prompt_build(s, ex, &text, &len, err))) goto fail;
    if (s->bos_token) {
        bos = psw_tokenizer_token_to_id(tok, s->bos_token);
        if (bos < 0) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                          "prompt.bos_token: \"%s\" is not a token of the tokenizer", s->bos_token);
            goto fail;
        }
    }
    for (int k = 0; k < ex->n_choices; k++) {
        cont = psw_prompt_continuation(s, ex->labels[k]);
        if ((st = psw_tokenizer_encode(tok, cont, strlen(cont), &cids, &n_cids, err))) goto fail;
        if (n_cids != 1) {
            char idbuf[96];
            ids_str(cids, n_cids, idbuf, sizeof idbuf);
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                          "example '%s': answer letter \"%s\": continuation \"%s\" is %zu tokens "
                          "[%s], but each answer letter must be a single token",
                          ex->id, ex->labels[k], cont, n_cids, idbuf);
            goto fail;
        }
        out->letter_ids[k] = cids[0];
        for (int j = 0; j < k; j++)
            if (out->letter_ids[j] == cids[0]) {
                st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                              "example '%s': answer letters \"%s\" and \"%s\" are the same token %d",
                              ex->id, ex->labels[j], ex->labels[k], (int)cids[0]);
                goto fail;
            }
        free(cids);
        cids = NULL;
        if (k > 0) {
            free(cont);
            cont = NULL;
        } else {
            /* keep the first continuation for the boundary check */
            whole = psw_xmalloc(len + strlen(cont) + 1);
            memcpy(whole, text, len);
            strcpy(whole + len, cont);
            free(cont);
            cont = NULL;
        }
    }
    if ((st = psw_tokenizer_encode(tok, text, len, &ids, &n_ids, err))) goto fail;
    if ((st = psw_tokenizer_encode(tok, whole, strlen(whole), &wids, &n_wids, err))) goto fail;
    if (n_ids == 0 || n_wids != n_ids + 1 || memcmp(wids, ids, n_ids * sizeof *ids) != 0 ||
        wids[n_ids] != out->letter_ids[0]) {
        st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                      "example '%s': prompt + continuation of \"%s\" does not tokenize as the "
                      "prompt tokens followed by the letter token %d (the letter merges with the "
                      "end of the prompt; change prompt.format or prompt.answer_format)",
                      ex->id, ex->labels[0], (int)out->letter_ids[0]);
        goto fail;
    }
    out->n_choices = ex->n_choices;
    out->n_ids = n_ids + (bos >= 0);
    out->ids = psw_try_alloc(out->n_ids * sizeof *out->ids);
    if (!out->ids) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "example '%s': cannot allocate %zu prompt ids", ex->id,
                      out->n_ids);
        goto fail;
    }
    if (bos >= 0) out->ids[0] = bos;
    memcpy(out->ids + (bos >= 0), ids, n_ids * sizeof *ids);
    free(text);
    free(whole);
    free(ids);
    free(wids);
    return PSW_OK;
fail:
    free(text);
    free(cont);
    free(whole);
    free(ids);
    free(cids);
    free(wids);
    psw_prompt_tokens_free(out);
    return st;
}
