/* test_bf16_storage.c: frozen kinds stored as bf16 (issue #8).
 * The independent reference is an fp32 model whose every weight was first rounded to bf16: the
 * bf16-stored copy must give bit-identical logits, losses, trainable gradients and AdamW steps
 * (only the storage differs), for a tiny OLMo2 (untied) and a tiny Llama with tied embeddings;
 * with the LM head converted in many small chunks, logits and losses stay bit-identical and the
 * gradients agree to fp32 rounding (see compare_models). Also: arena and scratch bytes against hand
 * counts, pruning a bf16 teacher against pruning the rounded fp32 teacher, loading BF16 / F32
 * checkpoints into bf16 storage (exact / rounded), saving, and the refusal to train a bf16 kind. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/model.h"
#include "psw/model_io.h"
#include "psw/prune.h"
#include "psw/rng.h"
#include "psw/safetensors.h"
#include "test.h"

#define B 2
#define T 5
#define ALL_GROUPS ((1u << PSW_GROUP_COUNT) - 1u)
#define MLP (1u << PSW_GROUP_MLP)
#define FROZEN (ALL_GROUPS & ~MLP)

static psw_model_config tiny(psw_arch arch, bool tied) {
    return psw_test_tiny_config(arch, tied, 64);
}

/* An fp32 model with random weights (norms around 1), every value rounded to bf16. */
static void make_rounded(psw_model *m, const psw_model_config *cfg, uint64_t seed) {
    psw_err err;
    CHECK_OK(psw_model_init(m, cfg, &err), &err);
    psw_model_init_random(m, seed, 0.2f);
    psw_rng r;
    psw_rng_seed(&r, seed + 1);
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool norm = psw_param_group_of((psw_param_id)i) == PSW_GROUP_NORM;
        for (size_t j = 0; j < m->params.count[i]; j++) {
            float v = norm ? 1.0f + 0.3f * psw_rng_normal(&r) : m->params.ptr[i][j];
            m->params.ptr[i][j] = psw_bf16_to_f32(psw_f32_to_bf16(v));
        }
    }
}

typedef struct fixture {
    int32_t tokens[B * T], lengths[B], targets[B * T];
    int64_t pos[B * T];
    float teacher[B * T * 37];
    psw_batch batch;
    int P;
} fixture;

static void make_fixture(fixture *f, uint64_t seed) {
    psw_rng r;
    psw_rng_seed(&r, seed);
    f->lengths[0] = 5, f->lengths[1] = 3;
    for (int i = 0; i < B * T; i++) f->tokens[i] = (int32_t)psw_rng_below(&r, 37);
    f->batch = (psw_batch){f->tokens, f->lengths, B, T};
    const int64_t p[5] = {4, 1, 5 + 2, 5 + 0, 1};
    f->P = 5;
    memcpy(f->pos, p, sizeof p);
    for (int i = 0; i < f->P; i++) f->targets[i] = (int32_t)psw_rng_below(&r, 37);
    for (int i = 0; i < B * T * 37; i++) f->teacher[i] = 2.0f * psw_rng_normal(&r);
}

static bool same_floats(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* Largest |a - b| / (max |a| + 1e-30) over n values. */
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0.0, mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d) d = e;
        if (fabs((double)a[i]) > mx) mx = fabs((double)a[i]);
    }
    return d / (mx + 1e-30);
}

/* ref (fp32, rounded values) vs bf (frozen kinds bf16): everything bit-identical. With the head
 * in several column chunks (exact false) the head's sgemms have other shapes, which OpenBLAS may
 * round differently (seen with OPENBLAS_CORETYPE=Haswell for the training forward's logits, and
 * in the backward's sums over the vocabulary): the inference forward's logits stay bit-identical,
 * losses and gradients agree to fp32 rounding. */
static void compare_models(psw_model *ref, psw_model *bf, const char *tag, bool exact) {
    psw_err err;
    fixture f;
    make_fixture(&f, 11);
    const psw_model_config *cfg = &ref->cfg;
    size_t V = (size_t)cfg->vocab_size;
    float la[5 * 37], lb[5 * 37];
    CHECK_OK(psw_model_forward(ref, &f.batch, f.pos, f.P, la, &err), &err);
    CHECK_OK(psw_model_forward(bf, &f.batch, f.pos, f.P, lb, &err), &err);
    CHECK(same_floats(la, lb, (size_t)f.P * V), "%s: forward logits bit-identical", tag);
    for (int k = 0; k < 3; k++) { /* CE, KL(T=2), mix */
        psw_loss_spec s = {.P = f.P, .pos = f.pos, .grad_scale = 1.0f, .temperature = 2.0f};
        if (k != 1) s.ce_weight = 1.0f, s.targets = f.targets;
        if (k != 0) s.kl_weight = 0.5f, s.teacher_logits = f.teacher;
        double l1, l2, v1, v2;
        CHECK_OK(psw_model_loss(ref, &f.batch, &s, &v1, &err), &err);
        CHECK_OK(psw_model_loss(bf, &f.batch, &s, &v2, &err), &err);
        bool same = exact ? v1 == v2 : fabs(v1 - v2) <= 1e-6 * fabs(v1);
        CHECK(same, "%s loss %d: %.17g vs %.17g", tag, k, v1, v2);
        psw_model_zero_grad(ref);
        psw_model_zero_grad(bf);
        CHECK_OK(psw_model_forward_backward(ref, &f.batch, &s, &l1, &err), &err);
        CHECK_OK(psw_model_forward_backward(bf, &f.batch, &s, &l2, &err), &err);
        CHECK(l1 == v1 && l2 == v2 && (exact ? l1 == l2 : fabs(l1 - l2) <= 1e-6 * fabs(l1)),
              "%s loss %d with backward: %.17g vs %.17g", tag, k, l1, l2);
        CHECK(ref->grads.total == bf->grads.total && ref->grads.total > 0,
              "%s: same gradient layout", tag);
        if (exact)
            CHECK(same_floats(ref->grads.base, bf->grads.base, ref->grads.total),
                  "%s loss %d: trainable gradients bit-identical", tag, k);
        else
            CHECK(rel_diff(ref->grads.base, bf->grads.base, ref->grads.total) < 1e-5,
                  "%s loss %d: trainable gradients differ by %.3g", tag, k,
                  rel_diff(ref->grads.base, bf->grads.base, ref->grads.total));
    }
    if (!exact) return;
    /* One AdamW step: the fp32 kinds move identically, the bf16 kinds do not move. */
    psw_adamw opt = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                     .weight_decay = 0.1f, .max_grad_norm = 1.0f};
    double n1, n2;
    CHECK_OK(psw_model_adamw_step(ref, &opt, &n1, &err), &err);
    CHECK_OK(psw_model_adamw_step(bf, &opt, &n2, &err), &err);
    CHECK(n1 == n2, "%s: gradient norm %.17g vs %.17g", tag, n1, n2);
    for (int i = 0; i < PSW_P_COUNT; i++)
        if (bf->params.ptr[i])
            CHECK(same_floats(ref->params.ptr[i], bf->params.ptr[i], ref->params.count[i]),
                  "%s: %s after AdamW bit-identical", tag, psw_param_name((psw_param_id)i));
    CHECK_OK(psw_model_forward(ref, &f.batch, f.pos, f.P, la, &err), &err);
    CHECK_OK(psw_model_forward(bf, &f.batch, f.pos, f.P, lb, &err), &err);
    CHECK(same_floats(la, lb, (size_t)f.P * V), "%s: logits after the step bit-identical", tag);
}

static void test_identical(psw_arch arch, bool tied, const char *tag) {
    psw_err err;
    psw_model_config cfg = tiny(arch, tied);
    for (int chunked = 0; chunked < 2; chunked++) {
        char t[64];
        snprintf(t, sizeof t, "%s%s", tag, chunked ? "/head in chunks" : "");
        psw_model ref, bf;
        make_rounded(&ref, &cfg, 3 + (uint64_t)arch);
        CHECK_OK(psw_model_convert_storage(&ref, FROZEN, &bf, &err), &err);
        CHECK(bf.params.bf16[PSW_P_Q] && !bf.params.ptr[PSW_P_Q] && bf.params.ptr[PSW_P_GATE] &&
                  bf.params.bf16[PSW_P_EMBED] && !bf.trainable[PSW_P_Q] && bf.trainable[PSW_P_UP],
              "%s: q_proj and embeddings bf16 and frozen, MLP fp32 and trainable", t);
        CHECK_FAILS(psw_model_set_trainable(&bf, ALL_GROUPS, &err), &err, PSW_ERR_INVALID_ARG,
                    "embed_tokens (group embeddings) is stored as bf16 and cannot train");
        if (chunked) /* 3 rows of the head per forward chunk, 1 column per backward chunk */
            bf.head_chunk = 3 * (size_t)cfg.hidden_size;
        CHECK_OK(psw_model_set_trainable(&ref, MLP, &err), &err);
        CHECK_OK(psw_model_set_trainable(&bf, MLP, &err), &err);
        CHECK_OK(psw_model_reserve(&ref, B, T, B * T, true, &err), &err);
        CHECK_OK(psw_model_reserve(&bf, B, T, B * T, true, &err), &err);

        /* The teacher: every kind bf16 (embedding rows converted on lookup), inference. */
        psw_model teacher;
        CHECK_OK(psw_model_convert_storage(&ref, ALL_GROUPS, &teacher, &err), &err);
        if (chunked) teacher.head_chunk = 3 * (size_t)cfg.hidden_size;
        CHECK(teacher.params.bytes == teacher.params.total * 2, "%s: teacher is all bf16", t);
        CHECK_OK(psw_model_reserve(&teacher, B, T, B * T, false, &err), &err);
        fixture f;
        make_fixture(&f, 5);
        float la[5 * 37], lb[5 * 37];
        CHECK_OK(psw_model_forward(&ref, &f.batch, f.pos, f.P, la, &err), &err);
        CHECK_OK(psw_model_forward(&teacher, &f.batch, f.pos, f.P, lb, &err), &err);
        CHECK(same_floats(la, lb, (size_t)f.P * 37), "%s: teacher logits bit-identical", t);
        psw_model_free(&teacher);

        compare_models(&ref, &bf, t, !chunked);
        psw_model_free(&bf);
        psw_model_free(&ref);
    }
}

/* Hand counts for the tiny Llama (untied): embed 592; per layer q 256, k 128, v 128, o 256,
 * attn norm 16, gate/up/down 384 each, mlp norm 16; final norm 16; lm_head 592: 5104 in all,
 * MLP 2304. trainable=mlp, frozen bf16: 2304 x 4 + 2800 x 2 = 14816 bytes. Teacher: 5104 x 2 =
 * 10208 bytes. Scratch (floats, slots rounded to 16): head chunk min(max(64 x 37, 384), 592) =
 * 592; frozen slots q 256 + k 128 + v 128 + o 256 + attn norm 16 + mlp norm 16 + final norm 16 +
 * lm_head 592 = 1408 (the embeddings need none: rows convert into the residual); the teacher adds
 * gate, up, down 3 x 384: 2560. */
static void test_memory(void) {
    psw_err err;
    psw_model_config cfg = tiny(PSW_ARCH_LLAMA, false);
    psw_model m;
    CHECK_OK(psw_model_init_storage(&m, &cfg, FROZEN, &err), &err);
    CHECK(m.params.total == 5104 && m.params.bytes == 14816, "mlp: %zu params, %zu bytes",
          m.params.total, m.params.bytes);
    CHECK(psw_params_bytes(&cfg, FROZEN) == 14816 && psw_params_bytes(&cfg, ALL_GROUPS) == 10208 &&
              psw_params_bytes(&cfg, 0) == 5104 * 4,
          "psw_params_bytes");
    CHECK(psw_head_chunk_floats(&cfg) == 592, "head chunk %zu", psw_head_chunk_floats(&cfg));
    CHECK(psw_params_scratch_floats(&cfg, FROZEN) == 1408 &&
              psw_params_scratch_floats(&cfg, ALL_GROUPS) == 2560 &&
              psw_params_scratch_floats(&cfg, 0) == 0,
          "scratch %zu / %zu floats", psw_params_scratch_floats(&cfg, FROZEN),
          psw_params_scratch_floats(&cfg, ALL_GROUPS));
    /* fp32 kinds first (gate, up, down), then the bf16 kinds in kind order */
    CHECK(m.params.ptr[PSW_P_GATE] == m.params.base &&
              (const void *)m.params.bf16[PSW_P_EMBED] == (const void *)(m.params.base + 2304) &&
              m.params.bf16[PSW_P_Q] == m.params.bf16[PSW_P_EMBED] + 592,
          "arena layout");
    CHECK(m.slot[PSW_P_LM_HEAD] && !m.slot[PSW_P_EMBED] && !m.slot[PSW_P_GATE], "scratch slots");
    CHECK_OK(psw_model_set_trainable(&m, MLP, &err), &err);
    CHECK_OK(psw_model_reserve(&m, 2, 8, 4, true, &err), &err);
    CHECK(m.grads.total == 2304, "gradients %zu floats", m.grads.total);
    psw_model_memory mem;
    psw_model_memory_plan_storage(&cfg, 2, 8, 4, true, MLP, FROZEN, &mem);
    CHECK(mem.params == 14816 + 1408 * 4 && mem.grads == 2304 * 4 && mem.optimizer == 2 * 2304 * 4,
          "plan mlp: params %zu grads %zu optimizer %zu", mem.params, mem.grads, mem.optimizer);
    psw_model_memory_plan_storage(&cfg, 2, 8, 4, false, 0u, ALL_GROUPS, &mem);
    CHECK(mem.params == 10208 + 2560 * 4 && mem.grads == 0, "plan teacher: params %zu",
          mem.params);
    psw_model_free(&m);
    psw_model t;
    CHECK_OK(psw_model_init_storage(&t, &cfg, ALL_GROUPS, &err), &err);
    CHECK(t.params.bytes == 10208 && t.params.ptr[PSW_P_GATE] == NULL, "teacher: %zu bytes",
          t.params.bytes);
    psw_model_free(&t);
}

/* Pruning a bf16 teacher = pruning the rounded fp32 teacher (same kept neurons, same values). */
static void test_prune(void) {
    psw_err err;
    psw_model_config cfg = tiny(PSW_ARCH_OLMO2, false);
    psw_model ref, teacher;
    make_rounded(&ref, &cfg, 21);
    CHECK_OK(psw_model_convert_storage(&ref, ALL_GROUPS, &teacher, &err), &err);
    for (int k = 0; k < 2; k++) {
        psw_prune_score kind = k ? PSW_PRUNE_DOWN : PSW_PRUNE_L2;
        int32_t ka[2 * 12], kb[2 * 12];
        psw_model a, b, c;
        CHECK_OK(psw_prune_mlp_storage(&ref, 0.5, kind, 0, FROZEN, &a, ka, NULL, &err), &err);
        CHECK_OK(psw_prune_mlp_storage(&teacher, 0.5, kind, 0, FROZEN, &b, kb, NULL, &err), &err);
        CHECK(memcmp(ka, kb, sizeof ka) == 0, "score %d: same kept neurons", k);
        CHECK(a.params.bytes == b.params.bytes && a.params.bf16[PSW_P_Q] && a.params.ptr[PSW_P_UP] &&
                  memcmp(a.params.base, b.params.base, a.params.bytes) == 0,
              "score %d: same student arena (frozen bf16, MLP fp32)", k);
        CHECK(b.trainable[PSW_P_UP] && !b.trainable[PSW_P_Q], "student: MLP trains, q frozen");
        /* all fp32 out of the bf16 teacher = plain fp32 pruning of the rounded teacher */
        CHECK_OK(psw_prune_mlp_storage(&teacher, 0.5, kind, 0, 0u, &c, NULL, NULL, &err), &err);
        psw_model d;
        CHECK_OK(psw_prune_mlp(&ref, 0.5, kind, 0, &d, NULL, NULL, &err), &err);
        CHECK(c.params.bytes == d.params.bytes &&
                  memcmp(c.params.base, d.params.base, d.params.bytes) == 0,
              "score %d: fp32 student from the bf16 teacher", k);
        psw_model_free(&a), psw_model_free(&b), psw_model_free(&c), psw_model_free(&d);
    }
    psw_model_free(&teacher);
    psw_model_free(&ref);
}

/* A BF16 checkpoint loads exactly; an F32 one rounds (to nearest even) once; saving a bf16 model
 * writes its values. */
static void test_load(void) {
    psw_err err;
    psw_model_config cfg = tiny(PSW_ARCH_LLAMA, true);
    char *dir = psw_test_tmpdir();
    char *f32dir = psw_path_join(dir, "f32"), *bfdir = psw_path_join(dir, "bf16"),
         *back = psw_path_join(dir, "back");
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 5, 0.2f);
    m.params.ptr[PSW_P_Q][0] = 1.0f + 0x1p-8f; /* a tie: rounds to even, 1.0 */
    m.params.ptr[PSW_P_Q][1] = 1.0f + 0x3p-8f; /* a tie: rounds to even, 1 + 2^-6 */
    CHECK_OK(psw_model_save(&m, f32dir, PSW_SAVE_F32, 0, &err), &err);
    CHECK_OK(psw_model_save(&m, bfdir, PSW_SAVE_BF16, 0, &err), &err);
    psw_model a, b;
    CHECK_OK(psw_model_load_storage(&a, f32dir, ALL_GROUPS, &err), &err);
    CHECK_OK(psw_model_load_storage(&b, bfdir, ALL_GROUPS, &err), &err);
    size_t bad = 0;
    for (int i = 0; i < PSW_P_COUNT; i++)
        for (size_t j = 0; j < m.params.count[i]; j++)
            bad += a.params.bf16[i][j] != psw_f32_to_bf16(m.params.ptr[i][j]);
    CHECK(bad == 0, "F32 file: %zu values not rounded to nearest even", bad);
    CHECK(a.params.bf16[PSW_P_Q][0] == 0x3f80 && a.params.bf16[PSW_P_Q][1] == 0x3f82,
          "ties to even: %04x %04x", a.params.bf16[PSW_P_Q][0], a.params.bf16[PSW_P_Q][1]);
    CHECK(a.params.bytes == b.params.bytes &&
              memcmp(a.params.base, b.params.base, a.params.bytes) == 0,
          "BF16 file loads exactly what rounding the F32 file gives");
    CHECK(!a.trainable[PSW_P_EMBED] && !a.trainable[PSW_P_GATE], "loaded bf16 kinds are frozen");
    CHECK_OK(psw_model_save(&b, back, PSW_SAVE_BF16, 0, &err), &err);
    psw_model c;
    CHECK_OK(psw_model_load_storage(&c, back, ALL_GROUPS, &err), &err);
    CHECK(memcmp(c.params.base, b.params.base, b.params.bytes) == 0, "save/load round trip");
    psw_model_free(&a), psw_model_free(&b), psw_model_free(&c), psw_model_free(&m);
    CHECK(psw_test_rmtree(dir) == 0, "cleanup");
    free(f32dir), free(bfdir), free(back), free(dir);
}

int main(void) {
    test_identical(PSW_ARCH_OLMO2, false, "olmo2");
    test_identical(PSW_ARCH_LLAMA, true, "llama-tied");
    test_memory();
    test_prune();
    test_load();
    return psw_test_finish();
}
