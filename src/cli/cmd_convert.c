/* cmd_convert.c: `prunesweep convert llama2c MODEL.bin OUT_DIR [--dtype f32|bf16]
 * [--max-shard-bytes N]`: writes a HuggingFace LlamaForCausalLM directory. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "psw/llama2c.h"
#include "psw/model_io.h"

static void usage(void) {
    fprintf(stdout, "usage: prunesweep convert llama2c MODEL.bin OUT_DIR [--dtype f32|bf16] "
                    "[--max-shard-bytes N]\n");
}

int psw_cmd_convert(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0;
    psw_save_dtype dtype = PSW_SAVE_F32;
    long max_shard = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return PSW_EXIT_OK;
        } else if (strcmp(a, "--dtype") == 0) {
            if (++i >= argc) {
                psw_cli_error("convert: --dtype needs a value");
                return PSW_EXIT_USAGE;
            }
            if (strcmp(argv[i], "f32") == 0) dtype = PSW_SAVE_F32;
            else if (strcmp(argv[i], "bf16") == 0) dtype = PSW_SAVE_BF16;
            else {
                psw_cli_error("convert: --dtype %s: want f32 or bf16", argv[i]);
                return PSW_EXIT_USAGE;
            }
        } else if (strcmp(a, "--max-shard-bytes") == 0) {
            if (++i >= argc || !psw_parse_long(argv[i], &max_shard) || max_shard < 0) {
                psw_cli_error("convert: --max-shard-bytes needs a non-negative integer");
                return PSW_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            psw_cli_error("convert: unknown option %s", a);
            return PSW_EXIT_USAGE;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            psw_cli_error("convert: unexpected argument %s", a);
            return PSW_EXIT_USAGE;
        }
    }
    if (n_pos != 3) {
        psw_cli_error("convert: need FORMAT MODEL OUT_DIR (see 'prunesweep convert --help')");
        return PSW_EXIT_USAGE;
    }
    if (strcmp(pos[0], "llama2c") != 0) {
        psw_cli_error("convert: unknown format '%s' (supported: llama2c)", pos[0]);
        return PSW_EXIT_USAGE;
    }
    psw_err err = {0};
    psw_model m;
    if (psw_llama2c_load(&m, pos[1], &err) != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    psw_status st = psw_model_save(&m, pos[2], dtype, (size_t)max_shard, &err);
    size_t params = m.params.total;
    psw_model_free(&m);
    if (st != PSW_OK) {
        psw_cli_error("%s", err.msg);
        return PSW_EXIT_FAIL;
    }
    printf("converted %s -> %s (LlamaForCausalLM, %zu parameters, %s)\n", pos[1], pos[2], params,
           dtype == PSW_SAVE_BF16 ? "bfloat16" : "float32");
    return PSW_EXIT_OK;
}
