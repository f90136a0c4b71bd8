/* test_threads.c: the worker pool, and determinism across thread counts: forward logits, one
 * training step's loss, gradients, gradient norm and updated weights are bit-identical with 1,
 * 2 and 3 pool threads, on both architectures with GQA and ragged lengths. The shapes are chosen
 * so every threaded kernel splits into several tasks (RMSNorm and RoPE rows, SwiGLU elements,
 * dw column blocks, attention (sequence, head) pairs, AdamW segments). */
#include <stdlib.h>
#include <string.h>

#include "psw/kernels.h"
#include "psw/model.h"
#include "test.h"

enum { B = 3, T = 64, V = 301 };

static psw_model_config cfg_of(psw_arch arch) {
    psw_model_config c = {0};
    c.arch = arch;
    c.hidden_size = 128; /* 128 rows per RMSNorm task: 2+ tasks over B*T = 192 rows */
    c.intermediate_size = 200;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 32;
    c.vocab_size = V;
    c.max_position_embeddings = T;
    c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-5f;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

/* Everything one run produces, to compare bitwise. */
typedef struct outputs {
    float *logits, *grads, *params;
    size_t n_grads, n_params;
    double loss, norm;
} outputs;

static void run(psw_arch arch, int threads, outputs *o) {
    psw_pool_set_threads(threads);
    CHECK(psw_pool_threads() == threads, "pool threads %d", threads);
    psw_err err;
    psw_model_config cfg = cfg_of(arch);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 11, 0.2f);
    int32_t tokens[B * T], lengths[B] = {T, 37, 50};
    for (int i = 0; i < B * T; i++) tokens[i] = (i * 7919 + 13) % V;
    psw_batch batch = {tokens, lengths, B, T};
    int64_t pos[B * T];
    int32_t targets[B * T];
    int P = psw_causal_lm_targets(&batch, pos, targets);
    CHECK_OK(psw_model_reserve(&m, B, T, P, true, &err), &err);
    o->logits = malloc(sizeof(float) * (size_t)P * V);
    CHECK_OK(psw_model_forward(&m, &batch, pos, P, o->logits, &err), &err);
    psw_loss_spec loss = {.P = P, .pos = pos, .targets = targets, .temperature = 1.0f,
                          .ce_weight = 1.0f, .grad_scale = 1.0f};
    psw_model_zero_grad(&m);
    CHECK_OK(psw_model_forward_backward(&m, &batch, &loss, &o->loss, &err), &err);
    o->n_grads = m.grads.total;
    o->grads = malloc(sizeof(float) * o->n_grads);
    memcpy(o->grads, m.grads.base, sizeof(float) * o->n_grads);
    psw_adamw opt = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                     .weight_decay = 0.1f, .max_grad_norm = 0.5f};
    CHECK_OK(psw_model_adamw_step(&m, &opt, &o->norm, &err), &err);
    o->n_params = m.params.total;
    o->params = malloc(sizeof(float) * o->n_params);
    memcpy(o->params, m.params.base, sizeof(float) * o->n_params);
    psw_model_free(&m);
}

static void free_outputs(outputs *o) {
    free(o->logits), free(o->grads), free(o->params);
}

static void test_determinism(psw_arch arch, const char *name) {
    outputs one, many;
    run(arch, 1, &one);
    CHECK(one.loss > 1.0 && one.norm > 0.0, "%s: a real step (loss %g, norm %g)", name, one.loss,
          one.norm);
    for (int threads = 2; threads <= 3; threads++) {
        run(arch, threads, &many);
        int P = B * T - B - (T - 37) - (T - 50);
        CHECK(memcmp(one.logits, many.logits, sizeof(float) * (size_t)P * V) == 0,
              "%s: logits bit-identical with 1 and %d threads", name, threads);
        CHECK(one.loss == many.loss, "%s: loss %.17g vs %.17g with %d threads", name, one.loss,
              many.loss, threads);
        CHECK(one.n_grads == many.n_grads &&
                  memcmp(one.grads, many.grads, sizeof(float) * one.n_grads) == 0,
              "%s: gradients bit-identical with 1 and %d threads", name, threads);
        CHECK(one.norm == many.norm, "%s: gradient norm %.17g vs %.17g with %d threads", name,
              one.norm, many.norm, threads);
        CHECK(memcmp(one.params, many.params, sizeof(float) * one.n_params) == 0,
              "%s: weights after AdamW bit-identical with 1 and %d threads", name, threads);
        free_outputs(&many);
    }
    free_outputs(&one);
}

/* The pool runs every task exactly once, splits a job over its threads in contiguous ranges
 * (thread i gets tasks [n*i/nt, n*(i+1)/nt)), and runs nested jobs inline. */
typedef struct probe {
    int runs[100], thread[100], nested_thread[100];
} probe;

static void nested_task(void *ctx, int task, int thread) {
    int *where = ctx;
    where[task] = thread;
}

static void probe_task(void *ctx, int task, int thread) {
    probe *p = ctx;
    p->runs[task]++;
    p->thread[task] = thread;
    int where[1] = {-1};
    psw_pool_run(1, nested_task, where);
    p->nested_thread[task] = where[0];
}

static void test_pool(void) {
    psw_pool_set_threads(3);
    for (int rep = 0; rep < 20; rep++) {
        probe p;
        memset(&p, 0, sizeof p);
        psw_pool_run(100, probe_task, &p);
        int bad = 0;
        for (int t = 0; t < 100; t++) {
            int want = t < 33 ? 0 : t < 66 ? 1 : 2;
            bad += p.runs[t] != 1 || p.thread[t] != want || p.nested_thread[t] != 0;
        }
        CHECK(bad == 0, "pass %d: %d tasks ran other than once, on their thread, nested inline",
              rep, bad);
    }
    /* Fewer tasks than threads, and none. */
    probe p;
    memset(&p, 0, sizeof p);
    psw_pool_run(2, probe_task, &p);
    CHECK(p.runs[0] == 1 && p.runs[1] == 1 && p.runs[2] == 0 && p.thread[1] == 1,
          "2 tasks on 3 threads: one each on threads 0 and 1");
    psw_pool_run(0, probe_task, &p);
    CHECK(p.runs[0] == 1, "0 tasks: nothing runs");
    psw_pool_set_threads(0);
    CHECK(psw_pool_threads() >= 1, "following OpenBLAS gives at least one thread");
    size_t floats = 1000;
    float *s = psw_pool_scratch(floats);
    CHECK(s != NULL, "scratch of %zu floats per thread", floats);
    if (s) memset(s, 0, sizeof(float) * floats * (size_t)psw_pool_threads());
}

int main(void) {
    test_pool();
    test_determinism(PSW_ARCH_OLMO2, "olmo2");
    test_determinism(PSW_ARCH_LLAMA, "llama");
    return psw_test_finish();
}
