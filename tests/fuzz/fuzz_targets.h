/* fuzz_targets.h: the bodies of the libFuzzer harnesses, one per input format read from files
 * we do not control (safetensors headers and index, config.json, tokenizer.json and the text it
 * encodes, CSQA JSONL, the experiment spec).
 *
 * Each target feeds the bytes to the module's public entry points and then checks what a
 * correct module promises, aborting (a libFuzzer crash) when a promise is broken: a failure
 * carries one of the documented statuses and a non-empty message, a failed open leaves nothing
 * behind, and a success satisfies the format's invariants (tensor data inside the mapping,
 * decode(encode(x)) == x, the spec round-trips through psw_spec_to_json, ...).
 *
 * Used by the fuzzer executables (fuzz_main.c, built with -DPSW_FUZZ=ON) and, on the committed
 * inputs of tests/fuzz/regressions/<target>/, by tests/unit/test_fuzz_regressions.c in every
 * build. Not thread-safe: targets share one scratch directory per process. */
#ifndef PSW_FUZZ_TARGETS_H
#define PSW_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input; returns 0 (libFuzzer's convention) or aborts on a broken promise. */
typedef int (*psw_fuzz_fn)(const uint8_t *data, size_t size);

typedef struct psw_fuzz_target {
    const char *name; /* also the directory name under corpus/ and regressions/ */
    psw_fuzz_fn run;
} psw_fuzz_target;

/* Every target, terminated by {NULL, NULL}. */
extern const psw_fuzz_target psw_fuzz_targets[];

/* The target called name, or NULL. */
const psw_fuzz_target *psw_fuzz_find(const char *name);

/* Creates the per-process scratch directory (under $TMPDIR, /dev/shm when it exists) and loads
 * the fixed tokenizer used by tokenizer_encode and csqa (tokenizer_path; NULL skips both
 * tokenizer-dependent parts). Logging is lowered to errors. Aborts when setup fails: a fuzzer
 * without its fixtures would report nothing useful. Removed again at exit. */
void psw_fuzz_setup(const char *tokenizer_path);

/* Section separator of the st_index target: index.json, then the shard files s1.safetensors,
 * s2.safetensors, ... (at most PSW_FUZZ_MAX_SHARDS), each section separated by this line. */
#define PSW_FUZZ_SEP "\n--8<--\n"
#define PSW_FUZZ_MAX_SHARDS 4

#endif
