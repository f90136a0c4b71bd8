/* test_model_borrowed.c: a model over borrowed, read-only parameters (psw_model_init_borrowed,
 * psw_model_load_into), as the sweep's workers use the node-shared teacher.
 *  - the arena is mmap'ed and mprotect'ed PROT_READ before use, so any store into it by
 *    forward, loss, pruning or cloning would crash the test;
 *  - forward logits and the loss are bit-identical to the owned model's, and so is a model
 *    pruned from it (and a clone of it) against one pruned from the owned model;
 *  - psw_model_free leaves the arena alone (ASan would report a free of an mmap'ed block) and the
 *    arena is unchanged afterwards;
 *  - refusals: training reservation, a wrong float count, a misaligned or NULL arena;
 *  - psw_model_load_into reads a saved checkpoint into a caller's arena bit-identically, and
 *    refuses an arena of the wrong size naming the directory. */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "psw/model_io.h"
#include "psw/prune.h"
#include "test.h"

/* A read-only page-aligned copy of src's parameters (munmap with bytes). */
static float *readonly_copy(const psw_model *src, size_t *bytes) {
    *bytes = src->params.total * sizeof(float);
    void *p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "mmap failed\n");
        exit(1);
    }
    memcpy(p, src->params.base, *bytes);
    if (mprotect(p, *bytes, PROT_READ) != 0) {
        fprintf(stderr, "mprotect failed\n");
        exit(1);
    }
    return p;
}

/* Logits (9, V) of m at every real position of a fixed 2 x 6 batch. */
static int forward_logits(psw_model *m, float *logits, psw_err *err) {
    static const int32_t tokens[12] = {1, 5, 9, 3, 7, 2, 4, 8, 31, 0, 0, 0};
    static const int32_t lengths[2] = {6, 3};
    static const int64_t pos[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    psw_batch b = {.tokens = tokens, .lengths = lengths, .B = 2, .T = 6};
    psw_status st = psw_model_reserve(m, 2, 6, 9, false, err);
    if (st == PSW_OK) st = psw_model_forward(m, &b, pos, 9, logits, err);
    return st;
}

static double causal_loss(psw_model *m, psw_err *err) {
    static const int32_t tokens[12] = {1, 5, 9, 3, 7, 2, 4, 8, 31, 0, 0, 0};
    static const int32_t lengths[2] = {6, 3};
    psw_batch b = {.tokens = tokens, .lengths = lengths, .B = 2, .T = 6};
    int64_t pos[12];
    int32_t targets[12];
    int P = psw_causal_lm_targets(&b, pos, targets);
    psw_loss_spec ls = {.P = P, .pos = pos, .targets = targets, .temperature = 1.0f,
                        .ce_weight = 1.0f, .grad_scale = 1.0f};
    double loss = -1.0;
    if (psw_model_loss(m, &b, &ls, &loss, err) != PSW_OK) return -1.0;
    return loss;
}

static void test_borrowed(psw_arch arch, bool tied, const char *name) {
    psw_model_config cfg;
    cfg = psw_test_tiny_config(arch, tied, 16);
    psw_err err = {0};
    psw_model owned, borrowed;
    CHECK_OK(psw_model_init(&owned, &cfg, &err), &err);
    psw_model_init_random(&owned, 11, 0.2f);
    size_t bytes;
    float *arena = readonly_copy(&owned, &bytes);
    CHECK_OK(psw_model_init_borrowed(&borrowed, &cfg, arena, owned.params.total, &err), &err);
    CHECK(borrowed.params.borrowed && borrowed.params.base == arena, "%s: borrows the arena", name);
    CHECK(borrowed.params.ptr[PSW_P_DOWN] == arena + (owned.params.ptr[PSW_P_DOWN] -
                                                       owned.params.base),
          "%s: views point into the arena at the owned layout's offsets", name);

    size_t n_logits = 9 * (size_t)cfg.vocab_size;
    float *a = calloc(n_logits, sizeof *a), *b = calloc(n_logits, sizeof *b);
    CHECK_OK(forward_logits(&owned, a, &err), &err);
    CHECK_OK(forward_logits(&borrowed, b, &err), &err);
    CHECK(memcmp(a, b, n_logits * sizeof *a) == 0, "%s: borrowed logits bit-identical", name);
    double la = causal_loss(&owned, &err), lb = causal_loss(&borrowed, &err);
    CHECK(la > 0 && la == lb, "%s: loss %.17g vs %.17g", name, la, lb);

    /* Pruning and cloning copy out of the borrowed arena into owned models. */
    psw_model pa, pb, clone;
    psw_prune_report ra, rb;
    CHECK_OK(psw_prune_mlp(&owned, 0.5, PSW_PRUNE_L2, 0, &pa, NULL, &ra, &err), &err);
    CHECK_OK(psw_prune_mlp(&borrowed, 0.5, PSW_PRUNE_L2, 0, &pb, NULL, &rb, &err), &err);
    CHECK(!pb.params.borrowed && pb.params.total == pa.params.total &&
              memcmp(pa.params.base, pb.params.base, pa.params.total * sizeof(float)) == 0,
          "%s: pruned from borrowed == pruned from owned", name);
    CHECK_OK(psw_model_clone(&borrowed, &clone, &err), &err);
    CHECK(!clone.params.borrowed && clone.params.base != arena &&
              memcmp(clone.params.base, arena, bytes) == 0,
          "%s: clone owns an identical copy", name);
    /* The clone trains: its reservation is allowed. */
    CHECK_OK(psw_model_reserve(&clone, 2, 6, 9, true, &err), &err);

    /* Read-only: no training reservation on the borrowed model. */
    CHECK_FAILS(psw_model_reserve(&borrowed, 2, 6, 9, true, &err), &err, PSW_ERR_INVALID_ARG,
                "training=true on borrowed read-only parameters");
    CHECK(borrowed.grads.base == NULL && borrowed.adam_m == NULL, "%s: no train state", name);

    psw_model_free(&borrowed);
    CHECK(borrowed.params.base == NULL && !borrowed.params.borrowed, "%s: struct cleared", name);
    CHECK(memcmp(arena, owned.params.base, bytes) == 0, "%s: arena unchanged after free", name);
    psw_model_free(&pa);
    psw_model_free(&pb);
    psw_model_free(&clone);
    psw_model_free(&owned);
    munmap(arena, bytes);
    free(a);
    free(b);
}

static void test_refusals(void) {
    psw_model_config cfg;
    cfg = psw_test_tiny_config(PSW_ARCH_OLMO2, false, 16);
    psw_params lay;
    psw_params_layout(&cfg, &lay);
    psw_err err = {0};
    float *arena = psw_try_alloc((lay.total + 16) * sizeof(float));
    psw_model m;
    CHECK_FAILS(psw_model_init_borrowed(&m, &cfg, arena, lay.total - 1, &err), &err, PSW_ERR_SHAPE,
                "arena holds");
    CHECK(strstr(err.msg, "parameters take") != NULL, "names the wanted count: %s", err.msg);
    psw_model_free(&m);
    CHECK_FAILS(psw_model_init_borrowed(&m, &cfg, arena + 1, lay.total, &err), &err,
                PSW_ERR_INVALID_ARG, "64-byte aligned");
    psw_model_free(&m);
    CHECK_FAILS(psw_model_init_borrowed(&m, &cfg, NULL, lay.total, &err), &err,
                PSW_ERR_INVALID_ARG, "64-byte aligned");
    psw_model_free(&m);
    psw_model_config bad = cfg;
    bad.hidden_size = 0;
    CHECK(psw_model_init_borrowed(&m, &bad, arena, lay.total, &err) != PSW_OK,
          "an invalid config is refused");
    psw_model_free(&m);
    free(arena);
}

static void test_load_into(void) {
    psw_model_config cfg;
    cfg = psw_test_tiny_config(PSW_ARCH_LLAMA, true, 16);
    psw_err err = {0};
    psw_model owned;
    CHECK_OK(psw_model_init(&owned, &cfg, &err), &err);
    psw_model_init_random(&owned, 5, 0.3f);
    char *dir = psw_test_tmpdir();
    CHECK_OK(psw_model_save(&owned, dir, PSW_SAVE_F32, 0, &err), &err);
    size_t n = owned.params.total;
    float *arena = psw_try_alloc(n * sizeof(float));
    memset(arena, 0x7f, n * sizeof(float));
    psw_model m;
    CHECK_OK(psw_model_load_into(&m, dir, arena, n, &err), &err);
    CHECK(m.params.borrowed && m.params.base == arena, "load_into: borrows the arena");
    CHECK(memcmp(arena, owned.params.base, n * sizeof(float)) == 0,
          "load_into: arena holds the saved weights bit-identically");
    psw_model_free(&m);
    CHECK(memcmp(arena, owned.params.base, n * sizeof(float)) == 0,
          "load_into: arena survives psw_model_free");
    CHECK_FAILS(psw_model_load_into(&m, dir, arena, n - 3, &err), &err, PSW_ERR_SHAPE,
                "the arena holds");
    CHECK(strstr(err.msg, dir) != NULL, "load_into: names the directory: %s", err.msg);
    free(arena);
    psw_model_free(&owned);
    psw_test_rmtree(dir);
    free(dir);
}

int main(void) {
    test_borrowed(PSW_ARCH_OLMO2, false, "olmo2");
    test_borrowed(PSW_ARCH_LLAMA, true, "llama tied");
    test_refusals();
    test_load_into();
    return psw_test_finish();
}
