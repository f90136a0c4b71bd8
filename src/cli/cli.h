/* cli.h: subcommand entry points of the prunesweep binary. Each returns the process exit code:
 * 0 ok, 1 runtime failure, 2 usage error (3 is reserved for "stopped, resumable" in `run`).
 * Each prints one error line naming the file, field or tensor on failure. */
#ifndef PSW_CLI_H
#define PSW_CLI_H

#define PSW_EXIT_OK 0
#define PSW_EXIT_FAIL 1
#define PSW_EXIT_USAGE 2
#define PSW_EXIT_RESUMABLE 3

typedef struct psw_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
} psw_command;

struct psw_spec;
/* Loads --config (RECOVER mode) into spec, or the defaults when config is NULL. Returns -1 on
 * success, else the exit code after printing the error (2 for a bad spec, 1 unreadable). */
int psw_cli_load_spec(const char *config, struct psw_spec *spec);

/* Prints "prunesweep: error: <msg>" on stderr. */
void psw_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int psw_cmd_tokenize(int argc, char **argv);
int psw_cmd_recover(int argc, char **argv); /* cmd_recover.c: one configuration end to end */
int psw_cmd_prune(int argc, char **argv);   /* cmd_prune.c: write a pruned checkpoint */
int psw_cmd_eval(int argc, char **argv);
int psw_cmd_prepare_default(int argc, char **argv); /* cmd_prepare.c */    /* cmd_eval.c: multiple-choice evaluation */

int psw_cmd_info(int argc, char **argv);    /* cmd_info.c */
int psw_cmd_convert(int argc, char **argv); /* cmd_convert.c */
int psw_cmd_generate(int argc, char **argv); /* cmd_generate.c: greedy continuation */

/* make-world: synthetic commonsense world + its BPE tokenizer (cmd_world.c). */
int psw_cmd_make_world(int argc, char **argv);
int psw_cmd_validate(int argc, char **argv); /* cmd_validate.c: check an experiment spec */

int psw_cmd_run(int argc, char **argv);    /* cmd_run.c: the (MPI) sweep */
int psw_cmd_status(int argc, char **argv); /* cmd_status.c: progress and summary of results */
int psw_cmd_plan(int argc, char **argv);   /* cmd_plan.c: memory and time of a sweep layout */

#endif
