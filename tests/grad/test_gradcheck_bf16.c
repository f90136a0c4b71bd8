/* test_gradcheck_bf16.c: with every non-MLP kind stored as bf16 (frozen, converted to fp32 scratch
 * on use), the MLP gradients still match central finite differences, for CE and KL losses on tiny
 * OLMo2 (untied) and Llama (tied) models, with the LM head in one chunk and in many. Layer 0's MLP
 * gradient flows back through layer 1's bf16 attention and norms and the bf16 head, so this checks
 * the activation gradients through frozen bf16 layers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"
#include "psw/rng.h"
#include "test.h"

#define B 2
#define T 5
#define V 37
#define MAX_SAMPLES 120
#define FROZEN (((1u << PSW_GROUP_COUNT) - 1u) & ~(1u << PSW_GROUP_MLP))

static psw_model_config tiny(psw_arch arch, bool tied) {
    return psw_test_tiny_config(arch, tied, 64);
}

static double loss_at(psw_model *m, const psw_batch *b, const psw_loss_spec *s) {
    psw_err err;
    double l = NAN;
    if (psw_model_loss(m, b, s, &l, &err) != PSW_OK) PSW_ABORT("loss failed: %s", err.msg);
    return l;
}

static void run(psw_arch arch, bool tied, bool chunked, const char *tag) {
    psw_err err;
    psw_rng r;
    psw_rng_seed(&r, 99 + (uint64_t)arch + tied);
    psw_model_config cfg = tiny(arch, tied);
    psw_model f32, m;
    CHECK_OK(psw_model_init(&f32, &cfg, &err), &err);
    psw_model_init_random(&f32, 13 + (uint64_t)arch, 0.25f);
    for (int i = 0; i < PSW_P_COUNT; i++)
        if (psw_param_group_of((psw_param_id)i) == PSW_GROUP_NORM)
            for (size_t j = 0; j < f32.params.count[i]; j++)
                f32.params.ptr[i][j] = 1.0f + 0.3f * psw_rng_normal(&r);
    CHECK_OK(psw_model_convert_storage(&f32, FROZEN, &m, &err), &err);
    psw_model_free(&f32);
    if (chunked) m.head_chunk = 3 * (size_t)cfg.hidden_size;
    CHECK_OK(psw_model_set_trainable(&m, 1u << PSW_GROUP_MLP, &err), &err);
    CHECK_OK(psw_model_reserve(&m, B, T, B * T, true, &err), &err);

    int32_t tokens[B * T], lengths[B] = {5, 3}, targets[5];
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)psw_rng_below(&r, V);
    psw_batch batch = {tokens, lengths, B, T};
    const int64_t pos[5] = {4, 1, 5 + 2, 5 + 0, 1};
    for (int i = 0; i < 5; i++) targets[i] = (int32_t)psw_rng_below(&r, V);
    float *teacher = psw_xmalloc(sizeof(float) * 5 * V);
    for (int i = 0; i < 5 * V; i++) teacher[i] = 2.0f * psw_rng_normal(&r);

    for (int k = 0; k < 2; k++) {
        psw_loss_spec s = {.P = 5, .pos = pos, .grad_scale = 1.0f, .temperature = 2.0f};
        if (k == 0) s.ce_weight = 1.0f, s.targets = targets;
        else s.kl_weight = 1.0f, s.teacher_logits = teacher;
        double loss;
        psw_model_zero_grad(&m);
        CHECK_OK(psw_model_forward_backward(&m, &batch, &s, &loss, &err), &err);
        const float h = 1e-2f;
        for (int i = PSW_P_GATE; i <= PSW_P_DOWN; i++) {
            size_t n = m.params.count[i], ns = n < MAX_SAMPLES ? n : MAX_SAMPLES;
            float *w = m.params.ptr[i];
            const float *g = m.grads.ptr[i];
            double num = 0, na = 0, nn = 0;
            for (size_t j = 0; j < ns; j++) {
                size_t idx = (size_t)psw_rng_below(&r, n);
                float w0 = w[idx];
                const float steps[4] = {2 * h, h, -h, -2 * h};
                double lf[4];
                for (int q = 0; q < 4; q++) {
                    w[idx] = w0 + steps[q];
                    lf[q] = loss_at(&m, &batch, &s);
                }
                w[idx] = w0;
                double fd = (8.0 * (lf[1] - lf[2]) - (lf[0] - lf[3])) / (12.0 * (double)h);
                double ga = g[idx];
                num += (ga - fd) * (ga - fd), na += ga * ga, nn += fd * fd;
            }
            double rel = sqrt(num) / (sqrt(na) + sqrt(nn) + 1e-30);
            printf("  %-20s %-4s %-10s |g|=%.3e rel=%.2e\n", tag, k ? "KL" : "CE",
                   psw_param_name((psw_param_id)i), sqrt(na), rel);
            CHECK(rel <= 2e-3 && sqrt(na) > 1e-6, "%s %s %s: gradient relative error %.3g", tag,
                  k ? "KL" : "CE", psw_param_name((psw_param_id)i), rel);
        }
    }
    free(teacher);
    psw_model_free(&m);
}

int main(void) {
    run(PSW_ARCH_OLMO2, false, false, "olmo2");
    run(PSW_ARCH_OLMO2, false, true, "olmo2/chunked head");
    run(PSW_ARCH_LLAMA, true, false, "llama-tied");
    run(PSW_ARCH_LLAMA, true, true, "llama-tied/chunked");
    return psw_test_finish();
}
