/* test_model.c: engine contract beyond the gradients: error paths with their messages, the
 * memory plan against the real arena, padding invariance, inference vs training reservations,
 * the learning-rate schedule and one AdamW step against hand-computed values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/model.h"
#include "test.h"

static psw_model_config tiny(psw_arch arch) {
    return psw_test_tiny_config(arch, false, 8);
}

static void test_errors(void) {
    psw_err err;
    psw_model m;
    psw_model_config cfg = tiny(PSW_ARCH_OLMO2);
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 1, 0.2f);
    int32_t tok[2 * 4] = {1, 2, 3, 4, 5, 6, 0, 0}, len[2] = {4, 2};
    psw_batch b = {tok, len, 2, 4};
    int64_t pos[2] = {3, 5};
    float logits[2 * 37];
    CHECK_FAILS(psw_model_forward(&m, &b, pos, 2, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "psw_model_reserve");
    CHECK_FAILS(psw_model_reserve(&m, 2, 9, 2, false, &err), &err, PSW_ERR_INVALID_ARG,
                "max_position_embeddings");
    CHECK_OK(psw_model_reserve(&m, 2, 4, 2, false, &err), &err);
    CHECK_OK(psw_model_forward(&m, &b, pos, 2, logits, &err), &err);
    psw_batch big = {tok, len, 1, 8};
    CHECK_FAILS(psw_model_forward(&m, &big, pos, 1, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "outside the reserved");
    CHECK_FAILS(psw_model_forward(&m, &b, pos, 3, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "P=3");
    tok[2] = 37;
    CHECK_FAILS(psw_model_forward(&m, &b, pos, 2, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "token 37 at [0, 2]");
    tok[2] = 3;
    tok[7] = -5; /* padding is never read */
    CHECK_OK(psw_model_forward(&m, &b, pos, 2, logits, &err), &err);
    int64_t bad_pos[2] = {3, 6}; /* row 1 has length 2: t=2 is padding */
    CHECK_FAILS(psw_model_forward(&m, &b, bad_pos, 2, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "pos[1]=6");
    len[1] = 0;
    CHECK_FAILS(psw_model_forward(&m, &b, pos, 1, logits, &err), &err, PSW_ERR_INVALID_ARG,
                "lengths[1]=0");
    len[1] = 2;
    int32_t tg[2] = {1, 2};
    psw_loss_spec s = {.P = 2, .pos = pos, .targets = tg, .ce_weight = 1, .temperature = 1,
                       .grad_scale = 1};
    double loss;
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &s, &loss, &err), &err, PSW_ERR_INVALID_ARG,
                "training=true");
    CHECK_FAILS(psw_model_adamw_step(&m, &(psw_adamw){.lr = 1}, NULL, &err), &err,
                PSW_ERR_INVALID_ARG, "psw_model_reserve");
    CHECK_OK(psw_model_reserve(&m, 2, 4, 2, true, &err), &err);
    s.targets = NULL;
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &s, &loss, &err), &err, PSW_ERR_INVALID_ARG,
                "needs targets");
    s.targets = tg;
    tg[1] = 40;
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &s, &loss, &err), &err, PSW_ERR_INVALID_ARG,
                "targets[1]=40");
    tg[1] = 2;
    psw_loss_spec k = {.P = 2, .pos = pos, .teacher_logits = logits, .kl_weight = 1,
                       .temperature = 0, .grad_scale = 1};
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &k, &loss, &err), &err, PSW_ERR_INVALID_ARG,
                "temperature");
    psw_loss_spec k2 = {.P = 2, .pos = pos, .kl_weight = 1, .temperature = 1, .grad_scale = 1};
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &k2, &loss, &err), &err, PSW_ERR_INVALID_ARG,
                "needs teacher_logits");

    /* A non-finite loss is reported and leaves the gradients untouched. */
    psw_model_zero_grad(&m);
    m.params.ptr[PSW_P_LM_HEAD][5] = INFINITY;
    loss = 0;
    CHECK_FAILS(psw_model_forward_backward(&m, &b, &s, &loss, &err), &err, PSW_ERR_NUMERIC,
                "not finite");
    size_t nz = 0;
    for (size_t i = 0; i < m.grads.total; i++) nz += m.grads.base[i] != 0.0f;
    CHECK(nz == 0, "gradients untouched after a non-finite loss (%zu nonzero)", nz);
    CHECK_FAILS(psw_model_loss(&m, &b, &s, &loss, &err), &err, PSW_ERR_NUMERIC, "not finite");
    m.params.ptr[PSW_P_LM_HEAD][5] = 0.0f;
    /* A non-finite gradient norm stops the optimizer before any update. */
    m.grads.ptr[PSW_P_UP][3] = NAN;
    float before = m.params.ptr[PSW_P_UP][0];
    double norm;
    CHECK_FAILS(psw_model_adamw_step(&m, &(psw_adamw){.lr = 1, .beta1 = 0.9f, .beta2 = 0.99f},
                                     &norm, &err),
                &err, PSW_ERR_NUMERIC, "gradient norm");
    CHECK(m.params.ptr[PSW_P_UP][0] == before, "no update after a non-finite norm");
    psw_model_free(&m);
}

static void test_memory_plan(void) {
    psw_err err;
    psw_model_config cfg = tiny(PSW_ARCH_LLAMA);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_memory tr, inf;
    psw_model_memory_plan(&cfg, 3, 8, 5, true, &tr);
    psw_model_memory_plan(&cfg, 3, 8, 5, false, &inf);
    CHECK(tr.params == m.params.total * sizeof(float), "plan: params bytes");
    CHECK(tr.grads == tr.params && tr.optimizer == 2 * tr.params, "plan: grads and optimizer");
    CHECK(inf.grads == 0 && inf.optimizer == 0, "plan: inference has no grads/optimizer");
    CHECK(tr.logits == (5 * 37 + 15) / 16 * 16 * sizeof(float), "plan: logits (P, V) rounded");
    CHECK(inf.activations < tr.activations, "plan: inference keeps one layer of activations");
    CHECK_OK(psw_model_reserve(&m, 3, 8, 5, true, &err), &err);
    CHECK(m.acts->bytes == tr.activations + tr.logits, "plan matches the reserved arena (%zu vs %zu)",
          m.acts->bytes, tr.activations + tr.logits);
    CHECK_OK(psw_model_reserve(&m, 3, 8, 5, false, &err), &err);
    CHECK(m.acts->bytes == inf.activations + inf.logits, "inference plan matches the arena");
    psw_model_free(&m);
}

/* A sequence alone and the same sequence right-padded in a wider batch next to another one give
 * the same logits: padding and neighbours never leak in. Also inference == training reservation. */
static void test_padding(psw_arch arch) {
    psw_err err;
    psw_model_config cfg = tiny(arch);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 3, 0.3f);
    int32_t t1[3] = {5, 9, 2}, l1[1] = {3};
    int32_t t2[2 * 6] = {7, 1, 8, 30, 4, 4, 5, 9, 2, 11, 12, 13}, l2[2] = {6, 3};
    psw_batch a = {t1, l1, 1, 3}, b = {t2, l2, 2, 6};
    int64_t pa[3] = {0, 1, 2}, pb[3] = {6, 7, 8};
    float la[3 * 37], lb[3 * 37], lc[3 * 37];
    CHECK_OK(psw_model_reserve(&m, 2, 6, 3, false, &err), &err);
    CHECK_OK(psw_model_forward(&m, &a, pa, 3, la, &err), &err);
    CHECK_OK(psw_model_forward(&m, &b, pb, 3, lb, &err), &err);
    psw_test_check_tensor(arch == PSW_ARCH_OLMO2 ? "olmo2 padded vs alone" : "llama padded vs alone",
                          lb, la, 3 * 37, 1e-5, 1e-5);
    CHECK_OK(psw_model_reserve(&m, 2, 6, 3, true, &err), &err);
    CHECK_OK(psw_model_forward(&m, &b, pb, 3, lc, &err), &err);
    CHECK(memcmp(lb, lc, sizeof lb) == 0, "training and inference reservations agree bitwise");
    psw_model_free(&m);
}

static void test_schedule(void) {
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_COSINE, 0, 3, 13, 1.0f, 0.1f), 1.0 / 3, 1e-7, 0, "warmup 0");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_COSINE, 2, 3, 13, 1.0f, 0.1f), 1.0, 1e-7, 0, "warmup end");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_COSINE, 3, 3, 13, 1.0f, 0.1f), 1.0, 1e-7, 0, "decay start");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_COSINE, 5, 3, 13, 1.0f, 0.1f),
                0.1 + 0.45 * (1 + cos(0.2 * 3.14159265358979)), 1e-6, 0, "cosine at 20%");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_LINEAR, 5, 3, 13, 1.0f, 0.1f), 0.82, 1e-6, 0,
                "linear at 20%");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_COSINE, 13, 3, 13, 1.0f, 0.1f), 0.1, 1e-7, 0, "end");
    CHECK_CLOSE(psw_lr_at(PSW_SCHEDULE_LINEAR, 50, 3, 13, 1.0f, 0.1f), 0.1, 1e-7, 0, "past end");
}

/* One AdamW step by hand: first step moves each weight by lr * sign(g) (bias-corrected moments
 * give m/sqrt(v) = g/|g|), matrices also shrink by lr*wd, norms do not; frozen kinds are
 * untouched; clipping scales the first moment by max_norm / norm. */
static void test_adamw(void) {
    psw_err err;
    psw_model_config cfg = tiny(PSW_ARCH_LLAMA);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 5, 0.5f);
    CHECK_OK(psw_model_reserve(&m, 1, 4, 1, true, &err), &err);
    /* After the reservation: the arenas are rebuilt for the new set; q_proj has no gradient. */
    CHECK_OK(psw_model_set_trainable(&m, (1u << PSW_GROUP_MLP) | (1u << PSW_GROUP_NORM), &err),
             &err);
    CHECK(m.grads.ptr[PSW_P_Q] == NULL && m.grads.count[PSW_P_Q] == 0, "frozen q_proj: no gradient");
    psw_model_zero_grad(&m);
    m.grads.ptr[PSW_P_GATE][0] = 3.0f;
    m.grads.ptr[PSW_P_MLP_NORM][1] = -4.0f;
    float w_gate = m.params.ptr[PSW_P_GATE][0], w_gate1 = m.params.ptr[PSW_P_GATE][1];
    float w_norm = m.params.ptr[PSW_P_MLP_NORM][1], w_q = m.params.ptr[PSW_P_Q][2];
    psw_adamw opt = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                     .weight_decay = 0.5f, .max_grad_norm = 1.0f};
    double norm = 0;
    CHECK_OK(psw_model_adamw_step(&m, &opt, &norm, &err), &err);
    CHECK_CLOSE(norm, 5.0, 1e-9, 0, "grad norm over trainable kinds = sqrt(3^2 + 4^2)");
    CHECK_CLOSE(m.params.ptr[PSW_P_GATE][0], w_gate * (1 - 0.05) - 0.1, 1e-6, 1e-6,
                "matrix: decay then lr*sign(g)");
    CHECK_CLOSE(m.params.ptr[PSW_P_GATE][1], w_gate1 * (1 - 0.05), 1e-7, 1e-6,
                "zero gradient: decay only");
    CHECK_CLOSE(m.params.ptr[PSW_P_MLP_NORM][1], w_norm + 0.1, 1e-6, 1e-6, "norm: no decay");
    CHECK(m.params.ptr[PSW_P_Q][2] == w_q, "frozen kind untouched");
    size_t goff = (size_t)(m.grads.ptr[PSW_P_GATE] - m.grads.base);
    CHECK_CLOSE(m.adam_m[goff], 0.1 * 3.0 * (1.0 / (5.0 + 1e-6)), 1e-7, 1e-5,
                "first moment of the clipped gradient");
    CHECK_FAILS(psw_model_set_trainable(&m, 1u << PSW_GROUP_MLP, &err), &err,
                PSW_ERR_INVALID_ARG, "psw_model_set_trainable: 1 AdamW steps already taken");
    CHECK(m.trainable[PSW_P_MLP_NORM], "a rejected change leaves the trainable set as it was");
    CHECK_OK(psw_model_set_trainable(&m, (1u << PSW_GROUP_MLP) | (1u << PSW_GROUP_NORM), &err),
             &err);
    CHECK(m.adam_step == 1, "setting the same set again keeps the optimizer state");
    psw_model_free(&m);
}

int main(void) {
    test_errors();
    test_memory_plan();
    test_padding(PSW_ARCH_OLMO2);
    test_padding(PSW_ARCH_LLAMA);
    test_schedule();
    test_adamw();
    return psw_test_finish();
}
