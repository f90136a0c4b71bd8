/* test_trainable_memory.c: gradients and AdamW state exist only for the trainable kinds.
 * Arena sizes for trainable=mlp vs all against hand counts (model, memory plan and sweep plan),
 * and MLP-only training with the compact arenas against a hand-written AdamW over the full
 * parameter layout (what the engine did before): weights bit-identical after several steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"
#include "psw/plan.h"
#include "test.h"

/* Llama, C=16 H=24 L=2 NH=4 NKV=2 HD=4 V=37, untied head. */
static psw_model_config tiny(void) {
    return psw_test_tiny_config(PSW_ARCH_LLAMA, false, 8);
}

/* Hand counts: embed 37*16 = 592; per layer q 256, k 128, v 128, o 256, attn norm 16,
 * gate/up/down 3 x 384, mlp norm 16 = 1952, x2 = 3904; final norm 16; lm_head 592.
 * All: 5104 floats. MLP: 2 x 3 x 384 = 2304 floats. */
enum { ALL_FLOATS = 5104, MLP_FLOATS = 2304 };

static void test_sizes(void) {
    psw_err err;
    psw_model_config cfg = tiny();
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    CHECK(m.params.total == ALL_FLOATS, "params %zu floats, want 5104", m.params.total);
    CHECK_OK(psw_model_set_trainable(&m, 1u << PSW_GROUP_MLP, &err), &err);
    CHECK(m.grads.base == NULL, "no gradients before the training reservation");
    CHECK_OK(psw_model_reserve(&m, 2, 8, 4, true, &err), &err);
    CHECK(m.grads.total == MLP_FLOATS, "trainable=mlp: %zu gradient floats, want 2304",
          m.grads.total);
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool mlp = i == PSW_P_GATE || i == PSW_P_UP || i == PSW_P_DOWN;
        CHECK(m.grads.count[i] == (mlp ? 768u : 0u), "%s: %zu gradient floats",
              psw_param_name((psw_param_id)i), m.grads.count[i]);
        CHECK((m.grads.ptr[i] != NULL) == mlp, "%s: gradient pointer %s",
              psw_param_name((psw_param_id)i), mlp ? "set" : "NULL");
    }
    /* One arena over gate, up, down in kind order. */
    CHECK(m.grads.ptr[PSW_P_GATE] == m.grads.base && m.grads.ptr[PSW_P_UP] == m.grads.base + 768 &&
              m.grads.ptr[PSW_P_DOWN] == m.grads.base + 1536,
          "gate, up, down back to back");
    psw_model_memory mem;
    psw_model_memory_plan_groups(&cfg, 2, 8, 4, true, 1u << PSW_GROUP_MLP, &mem);
    CHECK(mem.params == ALL_FLOATS * 4 && mem.grads == MLP_FLOATS * 4 &&
              mem.optimizer == 2 * MLP_FLOATS * 4,
          "plan mlp: params %zu grads %zu optimizer %zu bytes", mem.params, mem.grads,
          mem.optimizer);
    psw_model_memory_plan(&cfg, 2, 8, 4, true, &mem);
    CHECK(mem.grads == ALL_FLOATS * 4 && mem.optimizer == 2 * ALL_FLOATS * 4,
          "plan all: grads %zu optimizer %zu bytes", mem.grads, mem.optimizer);
    /* Back to all before any step: the arenas grow to the whole layout. */
    CHECK_OK(psw_model_set_trainable(&m, ~0u, &err), &err);
    CHECK(m.grads.total == ALL_FLOATS, "trainable=all: %zu gradient floats", m.grads.total);
    CHECK(m.grads.ptr[PSW_P_Q] && m.grads.count[PSW_P_Q] == 512, "q_proj gradient back");
    psw_model_free(&m);
}

/* The sweep planner (tiny OLMo2 of test_plan.c at retention 0.5: H=8, MLP 2 x 3 x 64 = 384
 * floats of 992). */
static void test_plan_mlp(void) {
    psw_model_config c = {0};
    c.arch = PSW_ARCH_OLMO2;
    c.hidden_size = 8, c.num_layers = 2, c.num_heads = 2, c.num_kv_heads = 1, c.head_dim = 4;
    c.intermediate_size = 16, c.vocab_size = 10, c.max_position_embeddings = 16;
    c.rope_theta = 10000.0f, c.rms_norm_eps = 1e-6f;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    static const char *const specs[2] = {
        "{\"model\":{\"path\":\"m\"},\"data\":{\"train\":\"tr.jsonl\",\"test\":\"te.jsonl\"},"
        "\"prompt\":{\"shots\":0},\"training\":{\"max_seq_len\":4,\"trainable\":\"mlp\"},"
        "\"grid\":{\"retention\":[0.5,0.25],\"data_size\":[2,4]}}",
        "{\"model\":{\"path\":\"m\"},\"data\":{\"train\":\"tr.jsonl\",\"test\":\"te.jsonl\"},"
        "\"prompt\":{\"shots\":0},\"training\":{\"max_seq_len\":4,\"trainable\":\"all\"},"
        "\"grid\":{\"retention\":[0.5,0.25],\"data_size\":[2,4]}}"};
    static const double want[2] = {384, 992};
    for (int k = 0; k < 2; k++) {
        psw_err err = {0};
        psw_spec spec;
        CHECK_OK(psw_spec_parse(specs[k], strlen(specs[k]), "p.json", "", PSW_SPEC_MODE_RUN, &spec,
                                &err),
                 &err);
        psw_plan_layout lay = {.nodes = 1, .ranks_per_node = 3, .threads_per_rank = 1,
                               .node_mem = 1e12, .train_gflops = 1.0, .fwd_gflops = 1.0};
        psw_plan p;
        CHECK_OK(psw_plan_compute(&spec, &c, 5, 3, 1000.0, &lay, &p, &err), &err);
        CHECK_CLOSE(p.mem.student_params, 992 * 4, 0, 0, "student weights");
        CHECK(p.mem.student_grads == want[k] * 4, "student gradients (%s): %g bytes",
              k ? "all" : "mlp", p.mem.student_grads);
        CHECK(p.mem.student_optimizer == 2 * want[k] * 4, "AdamW m, v (%s): %g bytes",
              k ? "all" : "mlp", p.mem.student_optimizer);
        psw_spec_free(&spec);
    }
}

static void make_batch(int32_t *tok, int32_t *len) {
    for (int i = 0; i < 16; i++) tok[i] = (i * 7 + 3) % 37;
    len[0] = 8, len[1] = 6;
}

/* MLP-only training: the engine's compact arenas vs a hand AdamW (PyTorch formula, clipping off
 * so the update is elementwise) with m, v over the whole parameter layout. */
static void test_bit_identical(void) {
    psw_err err;
    psw_model_config cfg = tiny();
    psw_model a, b;
    CHECK_OK(psw_model_init(&a, &cfg, &err), &err);
    psw_model_init_random(&a, 11, 0.3f);
    CHECK_OK(psw_model_clone(&a, &b, &err), &err);
    CHECK_OK(psw_model_set_trainable(&a, 1u << PSW_GROUP_MLP, &err), &err);
    CHECK_OK(psw_model_reserve(&a, 2, 8, 16, true, &err), &err);
    /* b: reserved for all, then switched (the reallocation path). */
    CHECK_OK(psw_model_reserve(&b, 2, 8, 16, true, &err), &err);
    CHECK_OK(psw_model_set_trainable(&b, 1u << PSW_GROUP_MLP, &err), &err);
    size_t n = b.params.total;
    float *mm = psw_xcalloc(n, sizeof(float)), *vv = psw_xcalloc(n, sizeof(float));
    int32_t tok[16], len[2], tg[16];
    int64_t pos[16];
    make_batch(tok, len);
    psw_batch batch = {tok, len, 2, 8};
    int P = psw_causal_lm_targets(&batch, pos, tg);
    psw_loss_spec s = {.P = P, .pos = pos, .targets = tg, .temperature = 1, .ce_weight = 1,
                       .grad_scale = 1};
    psw_adamw o = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                   .weight_decay = 0.1f, .max_grad_norm = 0.0f};
    for (int step = 1; step <= 4; step++) {
        double la, lb, gn;
        psw_model_zero_grad(&a);
        psw_model_zero_grad(&b);
        CHECK_OK(psw_model_forward_backward(&a, &batch, &s, &la, &err), &err);
        CHECK_OK(psw_model_forward_backward(&b, &batch, &s, &lb, &err), &err);
        CHECK(la == lb, "step %d: same loss", step);
        CHECK_OK(psw_model_adamw_step(&a, &o, &gn, &err), &err);
        double ss = 0;
        double bc1 = 1.0 - pow(0.9f, step), bc2 = 1.0 - pow(0.999f, step);
        float step_size = (float)((double)o.lr / bc1), isb = (float)(1.0 / sqrt(bc2));
        for (int i = PSW_P_GATE; i <= PSW_P_DOWN; i++) {
            float *w = b.params.ptr[i];
            const float *g = b.grads.ptr[i];
            size_t off = (size_t)(w - b.params.base);
            float wd = o.lr * o.weight_decay;
            for (size_t j = 0; j < b.params.count[i]; j++) {
                ss += (double)g[j] * g[j];
                float *mj = mm + off + j, *vj = vv + off + j;
                *mj = o.beta1 * *mj + (1.0f - o.beta1) * g[j];
                *vj = o.beta2 * *vj + (1.0f - o.beta2) * g[j] * g[j];
                float denom = sqrtf(*vj) * isb + o.eps;
                w[j] = w[j] * (1.0f - wd) - step_size * *mj / denom;
            }
        }
        CHECK(fabs(gn - sqrt(ss)) <= 1e-12 * sqrt(ss), "step %d: gradient norm %.17g vs %.17g",
              step, gn, sqrt(ss));
    }
    size_t diff = 0;
    for (size_t j = 0; j < n; j++) diff += memcmp(&a.params.base[j], &b.params.base[j], 4) != 0;
    CHECK(diff == 0, "after 4 MLP-only steps %zu of %zu weights differ from the full-layout AdamW",
          diff, n);
    size_t off = (size_t)(a.params.ptr[PSW_P_UP] - a.params.base);
    CHECK(memcmp(a.adam_v + 768, vv + off, 768 * 4) == 0, "up_proj second moments identical");
    free(mm);
    free(vv);
    psw_model_free(&a);
    psw_model_free(&b);
}

int main(void) {
    test_sizes();
    test_plan_mlp();
    test_bit_identical();
    return psw_test_finish();
}
