/* cmd_validate.c: `prunesweep validate SPEC.json`: parse and check an experiment spec, print the
 * expanded grid and a rough cost estimate. Exit 0 valid, 2 invalid spec or usage, 1 unreadable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/spec.h"

static void usage(FILE *f) {
    fputs("usage: prunesweep validate [--recover] [--normalized] SPEC.json\n"
          "       prunesweep validate --list-keys\n"
          "  --recover     check SPEC as a `recover --config` file (no grid or paths required)\n"
          "  --normalized  also print the normalised spec (every default filled in)\n"
          "  --list-keys   print every key the spec accepts, one per line, and exit\n",
          f);
}

static void print_axes(const psw_spec *s) {
    const psw_spec_grid *g = &s->grid;
    char buf[64];
    printf("  retention:");
    for (size_t i = 0; i < g->n_retention; i++) {
        snprintf(buf, sizeof buf, "%.15g", g->retention[i]);
        printf("%s %s", i ? "," : "", buf);
    }
    printf("\n  loss:");
    for (size_t i = 0; i < g->n_loss; i++)
        printf("%s %s", i ? "," : "", psw_loss_kind_name(g->loss[i]));
    printf("\n  data_size:");
    for (size_t i = 0; i < g->n_data_size; i++)
        printf("%s %lld", i ? "," : "", (long long)g->data_size[i]);
    printf("\n  seed:");
    for (size_t i = 0; i < g->n_seed; i++) printf("%s %lld", i ? "," : "", (long long)g->seed[i]);
    printf("\n");
}

static void print_cost(const psw_spec *s) {
    const psw_spec_training *t = &s->training;
    int64_t tokens = psw_spec_prompt_tokens_estimate(s);
    double examples = 0.0, largest = 0.0;
    for (size_t i = 0; i < s->grid.n_configs; i++) {
        double e = (double)psw_spec_train_examples(s, &s->grid.configs[i]);
        examples += e;
        if (e > largest) largest = e;
    }
    printf("cost estimate (an estimate, not a measurement; model size is not included):\n");
    printf("  prompt tokens per example: ~%lld = (%d shots + 1) x %d tokens per question, capped "
           "at max_seq_len %d\n",
           (long long)tokens, s->prompt.shots, PSW_SPEC_TOKENS_PER_QUESTION, t->max_seq_len);
    if (t->has_steps)
        printf("  training examples: %.0f in total (%lld steps x %d micro_batch x %d grad_accum "
               "per configuration)\n",
               examples, (long long)t->steps, t->micro_batch, t->grad_accum);
    else
        printf("  training examples: %.0f in total (data_size x %d epochs; largest configuration "
               "%.0f)\n",
               examples, t->epochs, largest);
    printf("  training tokens: %.0f in total (training examples x prompt tokens per example)\n",
           examples * (double)tokens);
}

int psw_cmd_validate(int argc, char **argv) {
    bool recover = false, normalized = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--list-keys") == 0) {
            if (argc != 2) {
                psw_cli_error("validate: --list-keys takes no other arguments");
                return PSW_EXIT_USAGE;
            }
            for (const char *const *k = psw_spec_keys(); *k; k++) printf("%s\n", *k);
            return PSW_EXIT_OK;
        } else if (strcmp(a, "--recover") == 0) {
            recover = true;
        } else if (strcmp(a, "--normalized") == 0) {
            normalized = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return PSW_EXIT_OK;
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("validate: unknown option '%s' (see 'prunesweep validate --help')", a);
            return PSW_EXIT_USAGE;
        } else if (path) {
            psw_cli_error("validate: more than one spec given ('%s' and '%s')", path, a);
            return PSW_EXIT_USAGE;
        } else {
            path = a;
        }
    }
    if (!path) {
        psw_cli_error("validate: missing SPEC.json (see 'prunesweep validate --help')");
        return PSW_EXIT_USAGE;
    }

    psw_spec spec;
    psw_err err = {0};
    psw_status st =
        psw_spec_load(path, recover ? PSW_SPEC_MODE_RECOVER : PSW_SPEC_MODE_RUN, &spec, &err);
    if (st != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return st == PSW_ERR_FORMAT || st == PSW_ERR_INVALID_ARG ? PSW_EXIT_USAGE : PSW_EXIT_FAIL;
    }

    printf("spec: %s (name \"%s\")\n", path, spec.name);
    if (spec.model.is_default)
        printf("model: default (built by prunesweep prepare-default)\n");
    else if (spec.model.path.resolved)
        printf("model: %s\n", spec.model.path.resolved);
    else
        printf("model: (given on the command line)\n");
    const psw_spec_grid *g = &spec.grid;
    if (g->present) {
        printf("grid: %zu configurations (%zu retention x %zu loss x %zu data_size x %zu seed = "
               "%zu, %zu excluded by %zu rules)\n",
               g->n_configs, g->n_retention, g->n_loss, g->n_data_size, g->n_seed, g->n_product,
               g->n_excluded, g->n_exclude);
        print_axes(&spec);
        print_cost(&spec);
    } else {
        printf("grid: none\n");
    }
    printf("output: %s\n", spec.output.resolved);
    if (normalized) {
        char *json = psw_spec_to_json(&spec, true);
        printf("%s\n", json);
        free(json);
    }
    psw_spec_free(&spec);
    return PSW_EXIT_OK;
}
