/* args.c: the shared option parser (see args.h). */
#include "cli/args.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/common.h"
#include "psw/spec.h"

static const psw_opt *find_opt(const psw_opt *opts, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0) return &opts[i];
    return NULL;
}

static bool store(const psw_opt *o, const char *value) {
    switch (o->kind) {
    case PSW_OPT_FLAG: *(bool *)o->out = true; return true;
    case PSW_OPT_STRING: *(const char **)o->out = value; return true;
    case PSW_OPT_LONG: return psw_parse_long(value, (long *)o->out);
    case PSW_OPT_DOUBLE: return psw_parse_double(value, (double *)o->out);
    }
    return false;
}

int psw_cli_parse(int argc, char **argv, const psw_opt *opts, size_t n_opts, const char **pos,
                  int min_pos, int max_pos, int *n_pos, const char *usage) {
    const char *cmd = argv[0];
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: %s\n", usage);
            return PSW_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (*n_pos >= max_pos) {
                psw_cli_error("%s: unexpected argument '%s' (usage: %s)", cmd, a, usage);
                return PSW_EXIT_USAGE;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const psw_opt *o = find_opt(opts, n_opts, name, len);
        if (!o) {
            psw_cli_error("%s: unknown option '%.*s' (usage: %s)", cmd, (int)(len + 2), a, usage);
            return PSW_EXIT_USAGE;
        }
        const char *value = NULL;
        if (o->kind != PSW_OPT_FLAG) {
            if (eq) value = eq + 1;
            else if (i + 1 < argc) value = argv[++i];
            else {
                psw_cli_error("%s: --%s needs a value", cmd, o->name);
                return PSW_EXIT_USAGE;
            }
        } else if (eq) {
            psw_cli_error("%s: --%s takes no value", cmd, o->name);
            return PSW_EXIT_USAGE;
        }
        if (!store(o, value)) {
            psw_cli_error("%s: --%s: '%s' is not a valid %s", cmd, o->name, value,
                          o->kind == PSW_OPT_LONG ? "integer" : "number");
            return PSW_EXIT_USAGE;
        }
        if (o->seen) *o->seen = true;
    }
    if (*n_pos < min_pos) {
        psw_cli_error("%s: missing arguments (usage: %s)", cmd, usage);
        return PSW_EXIT_USAGE;
    }
    return -1;
}

int psw_cli_load_spec(const char *config, psw_spec *spec) {
    if (!config) {
        psw_spec_init_defaults(spec);
        return -1;
    }
    psw_err err = {0};
    if (psw_spec_load(config, PSW_SPEC_MODE_RECOVER, spec, &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return err.status == PSW_ERR_IO ? PSW_EXIT_FAIL : PSW_EXIT_USAGE;
    }
    return -1;
}
