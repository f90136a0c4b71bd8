/* main.c: the prunesweep binary: dispatches to subcommands. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/common.h"
#include "psw/kernels.h"

static int cmd_help(int argc, char **argv);

static const psw_command commands[] = {
    {"help", "list subcommands", cmd_help},
    {"tokenize", "encode/decode text with a tokenizer.json", psw_cmd_tokenize},
    {"info", "architecture, parameter counts, files and memory of a model directory", psw_cmd_info},
    {"convert", "convert a llama2.c checkpoint to a HuggingFace directory", psw_cmd_convert},
    {"generate", "greedy continuation of token ids with top-5 logits per step", psw_cmd_generate},
    {"prune", "MODEL_DIR --retention R OUT_DIR: L2-norm MLP pruning to a new checkpoint",
     psw_cmd_prune},
    {"eval", "MODEL_DIR DATA.jsonl: multiple-choice accuracy and uncertainty metrics",
     psw_cmd_eval},
    {"recover", "one configuration: prune -> recover (ce|kl|mix) -> evaluate, as JSON",
     psw_cmd_recover},
    {"prepare-default", "[DIR]: build the embedded default (world, tokenizer, tiny teacher)",
     psw_cmd_prepare_default},
    {"make-world", "write a synthetic commonsense world and its tokenizer", psw_cmd_make_world},
    {"validate", "check an experiment spec; print its grid and a cost estimate", psw_cmd_validate},
    {"run", "run an experiment spec's sweep (under mpirun: rank 0 coordinates)", psw_cmd_run},
    {"status", "progress and mean +- std table of a results file", psw_cmd_status},
    {"plan", "memory per rank and estimated time of a sweep on a cluster layout", psw_cmd_plan},
};
static const size_t n_commands = sizeof commands / sizeof commands[0];

void psw_cli_error(const char *fmt, ...) {
    /* One write for the whole line: stderr is unbuffered, and under mpirun separate writes of
     * the prefix, message and newline can be interleaved with other processes' output. */
    char line[4096];
    int n = snprintf(line, sizeof line, "prunesweep: error: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

static int cmd_help(int argc, char **argv) {
    printf("prunesweep %s: prune a language model, recover it by fine-tuning (CE) or\n"
           "self-distillation (KL), and evaluate accuracy and uncertainty, as an MPI sweep.\n\n"
           "usage: prunesweep <command> [args]\n\ncommands:\n",
           PSW_VERSION);
    for (size_t i = 0; i < n_commands; i++)
        printf("  %-16s %s\n", commands[i].name, commands[i].summary);
    return PSW_EXIT_OK;
}

int main(int argc, char **argv) {
    psw_log_init_from_env();
    int spin = psw_blas_tune_spin();
    PSW_LOG_DEBUG("OpenBLAS thread timeout: %d (log2 cycles; -1: not adjustable)", spin);
    if (argc < 2) {
        cmd_help(0, NULL);
        return PSW_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) return cmd_help(0, NULL);
    if (strcmp(argv[1], "--version") == 0) {
        printf("prunesweep %s\n", PSW_VERSION);
        return PSW_EXIT_OK;
    }
    for (size_t i = 0; i < n_commands; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    psw_cli_error("unknown command '%s' (see 'prunesweep help')", argv[1]);
    return PSW_EXIT_USAGE;
}
