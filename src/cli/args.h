/* args.h: a small table-driven option parser shared by the subcommands: long options only
 * ("--name VALUE" or "--name=VALUE"), strict numbers, unknown options rejected. */
#ifndef PSW_CLI_ARGS_H
#define PSW_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum psw_opt_kind { PSW_OPT_FLAG, PSW_OPT_STRING, PSW_OPT_LONG, PSW_OPT_DOUBLE } psw_opt_kind;

typedef struct psw_opt {
    const char *name;  /* without the leading "--" */
    psw_opt_kind kind;
    void *out;         /* bool*, const char**, long*, double* (borrowed from argv for strings) */
    bool *seen;        /* optional: set when the option was given */
} psw_opt;

/* Parses argv[1..argc) (argv[0] is the subcommand). Positional arguments go to pos[0..max_pos)
 * and their count to *n_pos. Returns -1 to continue, or an exit code: 0 after printing usage for
 * --help, 2 after printing one error line (unknown option, missing or malformed value, wrong
 * number of positional arguments). usage is printed to stdout for --help, stderr on error. */
int psw_cli_parse(int argc, char **argv, const psw_opt *opts, size_t n_opts, const char **pos,
                  int min_pos, int max_pos, int *n_pos, const char *usage);

#endif
