/* mcset.c: prompting + tokenizing a data set once into flat arrays. */
#include "psw/mcset.h"

#include <stdlib.h>
#include <string.h>

void psw_mc_set_free(psw_mc_set *s) {
    free(s->offsets);
    free(s->ids);
    free(s->n_choices);
    free(s->letters);
    free(s->gold);
    free(s->example_ids);
    memset(s, 0, sizeof *s);
}

psw_status psw_mc_set_build(const psw_mc_dataset *ds, const psw_prompt_settings *ps,
                            const psw_tokenizer *tok, int max_seq_len, psw_mc_set *out,
                            psw_err *err) {
    memset(out, 0, sizeof *out);
    size_t n = ds->n, cap = 0, used = 0;
    psw_status st = PSW_OK;
    psw_prompt_tokens pt = {0};
    out->offsets = psw_try_alloc((n + 1) * sizeof *out->offsets);
    out->n_choices = psw_try_alloc(n * sizeof *out->n_choices);
    out->letters = psw_try_alloc(n * PSW_MAX_CHOICES * sizeof *out->letters);
    out->gold = psw_try_alloc(n * sizeof *out->gold);
    out->example_ids = psw_try_alloc(n * sizeof *out->example_ids);
    if (!out->offsets || !out->n_choices || !out->letters || !out->gold || !out->example_ids) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: cannot allocate prompts for %zu examples",
                      ds->source, n);
        goto fail;
    }
    psw_progress progress;
    psw_progress_start(&progress, "tokenize", "examples", (long long)n);
    int max_len = 0;
    out->offsets[0] = 0;
    for (size_t i = 0; i < n; i++) {
        const psw_mc_example *ex = &ds->examples[i];
        st = psw_prompt_tokenize(ps, tok, ex, &pt, err);
        if (st != PSW_OK) {
            psw_err_prefix(err, "%s:%ld: ", ds->source, ex->line);
            goto fail;
        }
        if (pt.n_ids > (size_t)max_seq_len) {
            st = PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                          "%s:%ld: example '%s' has %zu prompt tokens, more than "
                          "training.max_seq_len = %d",
                          ds->source, ex->line, ex->id, pt.n_ids, max_seq_len);
            goto fail;
        }
        if (used + pt.n_ids > cap) {
            size_t new_cap = cap ? cap * 2 : 4096;
            while (new_cap < used + pt.n_ids) new_cap *= 2;
            int32_t *grown = realloc(out->ids, new_cap * sizeof *grown);
            if (!grown) {
                st = PSW_FAIL(err, PSW_ERR_NOMEM, "%s: cannot grow token buffer to %zu ids",
                              ds->source, new_cap);
                goto fail;
            }
            out->ids = grown;
            cap = new_cap;
        }
        memcpy(out->ids + used, pt.ids, pt.n_ids * sizeof *pt.ids);
        used += pt.n_ids;
        out->offsets[i + 1] = (int64_t)used;
        if ((int)pt.n_ids > max_len) max_len = (int)pt.n_ids;
        out->n_choices[i] = pt.n_choices;
        for (int k = 0; k < PSW_MAX_CHOICES; k++)
            out->letters[i * PSW_MAX_CHOICES + k] = k < pt.n_choices ? pt.letter_ids[k] : -1;
        out->gold[i] = ex->gold;
        out->example_ids[i] = ex->id;
        psw_prompt_tokens_free(&pt);
        psw_progress_update(&progress, (long long)(i + 1));
    }
    out->labeled = ds->labeled;
    out->prompts = (psw_mc_prompts){.n = n,
                                    .offsets = out->offsets,
                                    .ids = out->ids,
                                    .n_choices = out->n_choices,
                                    .letters = out->letters,
                                    .max_len = max_len};
    return PSW_OK;
fail:
    psw_prompt_tokens_free(&pt);
    psw_mc_set_free(out);
    return st;
}

uint64_t psw_hash_floats(const float *x, size_t n, uint64_t seed) {
    uint64_t h = seed;
    size_t pairs = n / 2;
    for (size_t i = 0; i < pairs; i++) {
        uint64_t w;
        memcpy(&w, x + 2 * i, sizeof w);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    if (n % 2) h = psw_fnv1a(x + n - 1, sizeof(float), h);
    return h;
}

uint64_t psw_mc_prompts_fingerprint(const psw_mc_prompts *p) {
    uint64_t h = psw_fnv1a(&p->n, sizeof p->n, PSW_FNV_SEED);
    h = psw_fnv1a(p->offsets, (p->n + 1) * sizeof *p->offsets, h);
    h = psw_fnv1a(p->ids, (size_t)p->offsets[p->n] * sizeof *p->ids, h);
    h = psw_fnv1a(p->n_choices, p->n * sizeof *p->n_choices, h);
    return psw_fnv1a(p->letters, p->n * PSW_MAX_CHOICES * sizeof *p->letters, h);
}
