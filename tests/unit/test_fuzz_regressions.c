/* test_fuzz_regressions.c: replays every committed fuzz input (tests/fuzz/regressions/<target>/,
 * crash reproducers and targeted size-overflow files, plus the seed corpora tests/fuzz/corpus/)
 * through the same target bodies the fuzzers run (tests/fuzz/fuzz_targets.c). A target aborts
 * when a promise is broken, so a regression fails this test; in the ASan+UBSan build it also
 * catches the memory errors the fuzzer found. The size-overflow inputs are additionally checked
 * for their exact rejection (status and message). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.h"
#include "psw/config.h"
#include "psw/safetensors.h"
#include "psw/spec.h"
#include "test.h"

/* Runs every file of dir through target; returns how many there were. */
static int replay_dir(const psw_fuzz_target *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        names = psw_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = psw_xstrdup(e->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        char *path = psw_path_join(dir, names[i]);
        char *data = NULL;
        size_t len = 0;
        psw_err err = {0};
        CHECK_OK(psw_read_file(path, &data, &len, &err), &err);
        if (data) {
            fprintf(stderr, "  %s\n", path);
            t->run((const uint8_t *)data, len);
        }
        free(data);
        free(path);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

static void test_replay_all(void) {
    int n_reg = 0;
    for (const psw_fuzz_target *t = psw_fuzz_targets; t->name; t++) {
        char reg[128], seeds[128];
        snprintf(reg, sizeof reg, "fuzz/regressions/%s", t->name);
        snprintf(seeds, sizeof seeds, "fuzz/corpus/%s", t->name);
        n_reg += replay_dir(t, reg);
        int n_seeds = replay_dir(t, seeds);
        CHECK(n_seeds >= 3, "target %s has %d seed inputs (want >= 3)", t->name, n_seeds);
    }
    CHECK(n_reg >= 15, "%d regression inputs replayed", n_reg);
}

/* Sizes from files never overflow: each targeted header is rejected with this message. */
static void test_safetensors_sizes(void) {
    static const struct {
        const char *file;
        psw_status status;
        const char *needle;
    } cases[] = {
        {"shape_product_over_size_t", PSW_ERR_FORMAT,
         "tensor t: shape [4294967296, 4294967296] x F32 overflows the size range"},
        {"shape_times_dtype_over_size_t", PSW_ERR_FORMAT,
         "tensor t: shape [2147483648, 2147483648] x F32 overflows the size range"},
        {"shape_overflow_before_zero", PSW_ERR_FORMAT, "overflows the size range"},
        {"shape_entry_2p53", PSW_ERR_FORMAT,
         "tensor t: shape entry 0 is not a non-negative integer below 2^53"},
        {"shape_entry_2p64", PSW_ERR_FORMAT, "shape entry 0 is not a non-negative integer"},
        {"shape_entry_negative", PSW_ERR_FORMAT, "shape entry 0 is not a non-negative integer"},
        {"offsets_near_2p64", PSW_ERR_FORMAT,
         "tensor t: data_offsets [18446744073709551616, 18446744073709551616] out of bounds "
         "(data section is 15 bytes)"},
        {"offsets_end_2p53_minus_1", PSW_ERR_FORMAT,
         "tensor t: data_offsets [0, 9007199254740991] out of bounds (data section is 16 bytes)"},
        {"offsets_begin_2p64_end_small", PSW_ERR_FORMAT,
         "tensor t: data_offsets must be a list of two non-negative integers"},
        {"offsets_wrap_to_size", PSW_ERR_FORMAT,
         "tensor t: data_offsets must be a list of two non-negative integers"},
        {"header_len_2p64_minus_1", PSW_ERR_FORMAT,
         "header length 18446744073709551615 runs past the end of the file (10 bytes"},
        {"header_len_wraps_plus_8", PSW_ERR_FORMAT,
         "header length 18446744073709551608 runs past the end of the file (16 bytes"},
        {"nine_dims", PSW_ERR_UNSUPPORTED, "tensor t: 9 dimensions (at most 8)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "fuzz/regressions/safetensors/%s", cases[i].file);
        psw_safetensors st;
        psw_err err = {0};
        CHECK_FAILS(psw_st_open_file(&st, path, &err), &err, cases[i].status, cases[i].needle);
        CHECK(strstr(err.msg, path) == err.msg, "%s: message starts with the file: %s",
              cases[i].file, err.msg);
    }
}

static void test_spec_sizes(void) {
    static const struct {
        const char *file, *needle;
    } cases[] = {
        {"grid_over_max_configs", "x.json: grid: more than 1000000 configurations"},
        {"ints_near_2p63", "x.json: pruning.seed: 9.2233720368547758e+18 is outside [0, 9007199254740992]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "fuzz/regressions/spec/%s", cases[i].file);
        char *text = NULL;
        size_t len = 0;
        psw_err err = {0};
        CHECK_OK(psw_read_file(path, &text, &len, &err), &err);
        psw_spec s;
        CHECK_FAILS(psw_spec_parse(text, len, "x.json", "", PSW_SPEC_MODE_RUN, &s, &err), &err,
                    PSW_ERR_INVALID_ARG, cases[i].needle);
        free(text);
    }
}

/* config.json dimensions whose parameter count (or its bytes) would wrap size_t in the
 * unchecked layout arithmetic are rejected by validation. */
static void test_config_sizes(void) {
    static const char *const files[] = {"params_wrap_2p64", "params_bytes_over_size_t",
                                        "params_sum_over_size_t"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "fuzz/regressions/config/%s", files[i]);
        psw_model_config cfg;
        psw_err err = {0};
        CHECK_FAILS(psw_config_load(path, &cfg, &err), &err, PSW_ERR_INVALID_ARG,
                    "give more parameter bytes than size_t can count");
    }
    psw_err err = {0};
    psw_model_config cfg;
    CHECK_OK(psw_config_load("fuzz/corpus/config/olmo2_7b", &cfg, &err), &err);
    CHECK_FAILS(psw_config_load("fuzz/regressions/config/params_wrap_2p64", &cfg, &err), &err,
                PSW_ERR_INVALID_ARG,
                "fuzz/regressions/config/params_wrap_2p64: hidden_size 1073741824, "
                "intermediate_size 1073741824, num_hidden_layers 16 and vocab_size 16 give more "
                "parameter bytes than size_t can count");
}

/* Found by fuzz_spec: psw_spec_to_json printed numbers with cJSON, which writes %.15g whenever
 * that reads back approximately, so 17-digit values changed on re-parse and so did the config
 * ids. Every number must survive to_json -> parse exactly. */
static void test_spec_numbers_exact(void) {
    char *text = NULL;
    size_t len = 0;
    psw_err err = {0};
    CHECK_OK(psw_read_file("fuzz/regressions/spec/numbers_need_17_digits", &text, &len, &err),
             &err);
    psw_spec s, s2;
    CHECK_OK(psw_spec_parse(text, len, "x.json", "", PSW_SPEC_MODE_RUN, &s, &err), &err);
    char *j = psw_spec_to_json(&s, false);
    static const char *const want[] = {
        "\"seed\":9007199254740992", "\"lr\":0.00012345678901234567",
        "\"temperature\":1.0000000000000002", "\"retention\":[0.75184467440737091,1e-300]",
        "\"seed\":[9007199254740991,0]", "{\"retention\":1e-300,\"seed\":9007199254740991}"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(j, want[i]) != NULL, "to_json has %s: %s", want[i], j);
    CHECK_OK(psw_spec_parse(j, strlen(j), "x.json", "", PSW_SPEC_MODE_RUN, &s2, &err), &err);
    CHECK(s2.pruning.seed == 9007199254740992ULL && s2.training.lr == 0.00012345678901234567 &&
              s2.training.temperature == 1.0000000000000002,
          "settings survive the round trip exactly");
    CHECK(psw_spec_grid_count(&s) == 6 && psw_spec_grid_count(&s2) == 6,
          "2 x 2 x 1 x 2 grid minus 2 excluded: %zu", psw_spec_grid_count(&s2));
    for (size_t i = 0; i < psw_spec_grid_count(&s) && i < psw_spec_grid_count(&s2); i++)
        CHECK(s.grid.configs[i].id == s2.grid.configs[i].id &&
                  s.grid.configs[i].retention == s2.grid.configs[i].retention &&
                  s.grid.configs[i].seed == s2.grid.configs[i].seed,
              "config %zu keeps its values and id", i);
    free(j);
    free(text);
    psw_spec_free(&s);
    psw_spec_free(&s2);
}

int main(void) {
    psw_fuzz_setup("fuzz/small_tokenizer.json");
    test_safetensors_sizes();
    test_spec_sizes();
    test_spec_numbers_exact();
    test_config_sizes();
    test_replay_all();
    return psw_test_finish();
}
