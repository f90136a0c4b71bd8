/* tiny_model.c: writes a random OLMo2 checkpoint whose vocabulary matches a tokenizer:
 * PROG TOKENIZER.json OUT_DIR [SEED]. The tokenizer is copied next to the weights, so OUT_DIR is
 * a complete model directory. Exit 0 ok, 1 failure. Built twice: psw_tiny_model (hidden 32,
 * 2 layers, for the MPI sweep tests) and, with PSW_MEDIUM_SHAPE, psw_medium_model (hidden 768,
 * 12 layers, 12 heads, MLP 2048, for bench/memory/bench.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"
#include "psw/model_io.h"
#include "psw/tokenizer.h"

#ifdef PSW_MEDIUM_SHAPE
#define PROG "psw_medium_model"
#define HIDDEN 768
#define MLP 2048
#define LAYERS 12
#define HEADS 12
#define KV_HEADS 12
#define INIT_STD 0.02f
#else
#define PROG "psw_tiny_model"
#define HIDDEN 32
#define MLP 64
#define LAYERS 2
#define HEADS 4
#define KV_HEADS 2
#define INIT_STD 0.2f
#endif

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: " PROG " TOKENIZER.json OUT_DIR [SEED]\n");
        return 2;
    }
    long seed = 1;
    if (argc == 4 && !psw_parse_long(argv[3], &seed)) {
        fprintf(stderr, PROG ": bad seed '%s'\n", argv[3]);
        return 2;
    }
    psw_err err = {0};
    psw_tokenizer *tok = NULL;
    psw_model m = {0};
    char *dst = NULL;
    int rc = 1;
    if (psw_tokenizer_load(argv[1], &tok, &err) != PSW_OK) goto fail;
    psw_model_config cfg = {.arch = PSW_ARCH_OLMO2, .hidden_size = HIDDEN, .intermediate_size = MLP,
                            .num_layers = LAYERS, .num_heads = HEADS, .num_kv_heads = KV_HEADS,
                            .head_dim = HIDDEN / HEADS,
                            .vocab_size = (int)psw_tokenizer_vocab_size(tok),
                            .max_position_embeddings = 512, .rope_theta = 10000.0f,
                            .rms_norm_eps = 1e-6f, .tie_word_embeddings = false,
                            .bos_token_id = -1, .eos_token_id = 0, .pad_token_id = -1};
    if (psw_model_init(&m, &cfg, &err) != PSW_OK) goto fail;
    psw_model_init_random(&m, (uint64_t)seed, INIT_STD);
    if (psw_model_save(&m, argv[2], PSW_SAVE_F32, 0, &err) != PSW_OK) goto fail;
    dst = psw_path_join(argv[2], "tokenizer.json");
    char *text = NULL;
    size_t len = 0;
    if (psw_read_file(argv[1], &text, &len, &err) != PSW_OK) goto fail;
    psw_status st = psw_write_file(dst, text, len, &err);
    free(text);
    if (st != PSW_OK) goto fail;
    rc = 0;
fail:
    if (rc) fprintf(stderr, PROG ": %s\n", err.msg);
    free(dst);
    psw_model_free(&m);
    psw_tokenizer_free(tok);
    return rc;
}
