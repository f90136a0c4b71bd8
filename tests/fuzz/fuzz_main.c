/* fuzz_main.c: the libFuzzer entry points of one target, chosen at compile time with
 * -DPSW_FUZZ_TARGET="name" (tests/fuzz/CMakeLists.txt builds one executable per target).
 * The fixed tokenizer is PSW_FUZZ_TOKENIZER from the environment when set (e.g. the real OLMo2
 * tokenizer.json), else the committed small_tokenizer.json (PSW_FUZZ_DEFAULT_TOKENIZER). */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_targets.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static psw_fuzz_fn target;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const psw_fuzz_target *t = psw_fuzz_find(PSW_FUZZ_TARGET);
    if (!t) {
        fprintf(stderr, "unknown fuzz target %s\n", PSW_FUZZ_TARGET);
        abort();
    }
    target = t->run;
    const char *tok = getenv("PSW_FUZZ_TOKENIZER");
    psw_fuzz_setup(tok && *tok ? tok : PSW_FUZZ_DEFAULT_TOKENIZER);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return target(data, size); }
