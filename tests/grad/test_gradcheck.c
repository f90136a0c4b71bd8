/* test_gradcheck.c: whole-model gradients against central finite differences, for every
 * parameter tensor and each loss (CE at positions, KL at temperature 2, causal LM), on tiny GQA
 * configs of OLMo2 and Llama (untied and tied). Also: frozen groups give identical gradients for
 * what trains and leave the rest untouched, and KL of a model against its own logits is exactly
 * zero with a zero gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/model.h"
#include "psw/rng.h"
#include "test.h"

#define B 2
#define T 5
#define MAX_SAMPLES 200

static psw_model_config tiny_config(psw_arch arch, bool tied) {
    return psw_test_tiny_config(arch, tied, 64);
}

typedef struct fixture {
    int32_t tokens[B * T];
    int32_t lengths[B];
    psw_batch batch;
    int64_t pos[B * T];
    int32_t targets[B * T];
    float *teacher; /* (B*T, V) */
} fixture;

static void make_fixture(fixture *f, psw_rng *r, int V) {
    f->lengths[0] = 5, f->lengths[1] = 3;
    for (int i = 0; i < B * T; i++) f->tokens[i] = (int32_t)psw_rng_below(r, (uint64_t)V);
    f->batch = (psw_batch){f->tokens, f->lengths, B, T};
    f->teacher = psw_xmalloc(sizeof(float) * B * T * V);
    for (int i = 0; i < B * T * V; i++) f->teacher[i] = 2.0f * psw_rng_normal(r);
}

typedef enum { LOSS_CE, LOSS_KL, LOSS_CLM, LOSS_COUNT } loss_kind;
static const char *const loss_names[LOSS_COUNT] = {"CE@positions", "KL(T=2)", "causal-LM"};

static psw_loss_spec make_spec(fixture *f, loss_kind k, psw_rng *r, int V) {
    psw_loss_spec s = {0};
    s.grad_scale = 1.0f;
    s.temperature = 1.0f;
    if (k == LOSS_CLM) {
        s.P = psw_causal_lm_targets(&f->batch, f->pos, f->targets);
        s.ce_weight = 1.0f;
        s.targets = f->targets;
    } else {
        /* positions in both rows, one repeated, not in order */
        const int64_t p[5] = {4, 1, 5 + 2, 5 + 0, 1};
        s.P = 5;
        memcpy(f->pos, p, sizeof p);
        if (k == LOSS_CE) {
            for (int i = 0; i < s.P; i++) f->targets[i] = (int32_t)psw_rng_below(r, (uint64_t)V);
            s.ce_weight = 1.0f;
            s.targets = f->targets;
        } else {
            s.kl_weight = 1.0f;
            s.temperature = 2.0f;
            s.teacher_logits = f->teacher;
            s.grad_scale = 0.5f; /* analytic gradients are of 0.5 * loss */
        }
    }
    s.pos = f->pos;
    return s;
}

static double loss_at(psw_model *m, fixture *f, const psw_loss_spec *s) {
    psw_err err;
    double l = NAN;
    psw_status st = psw_model_loss(m, &f->batch, s, &l, &err);
    if (st != PSW_OK) PSW_ABORT("loss failed: %s", err.msg);
    return l;
}

/* Central finite differences on up to MAX_SAMPLES indices of each tensor; returns worst rel error. */
static double gradcheck_model(psw_model *m, fixture *f, const psw_loss_spec *s, const char *tag,
                              psw_rng *r) {
    psw_err err;
    double loss;
    psw_model_zero_grad(m);
    CHECK_OK(psw_model_forward_backward(m, &f->batch, s, &loss, &err), &err);
    double worst = 0.0;
    const float h = 1e-2f;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        size_t n = m->params.count[i];
        if (!n) continue;
        float *w = m->params.ptr[i];
        const float *g = m->grads.ptr[i];
        size_t ns = n < MAX_SAMPLES ? n : MAX_SAMPLES;
        double num = 0.0, na = 0.0, nn = 0.0;
        for (size_t j = 0; j < ns; j++) {
            size_t idx = n <= MAX_SAMPLES ? j : (size_t)psw_rng_below(r, n);
            float w0 = w[idx];
            /* five-point central stencil: truncation error O(h^4), so h can stay large
             * enough (1e-2) for fp32 rounding noise in the loss not to matter */
            double lf[4];
            const float steps[4] = {2 * h, h, -h, -2 * h};
            for (int q = 0; q < 4; q++) {
                w[idx] = w0 + steps[q];
                lf[q] = loss_at(m, f, s);
            }
            w[idx] = w0;
            double fd = (8.0 * (lf[1] - lf[2]) - (lf[0] - lf[3])) / (12.0 * (double)h) *
                        (double)s->grad_scale;
            double ga = g[idx];
            num += (ga - fd) * (ga - fd);
            na += ga * ga;
            nn += fd * fd;
        }
        double rel = sqrt(num) / (sqrt(na) + sqrt(nn) + 1e-30);
        printf("  %-24s %-13s n=%4zu |g|=%.3e rel=%.2e\n", tag, psw_param_name((psw_param_id)i),
               ns, sqrt(na), rel);
        CHECK(rel <= 2e-3 && sqrt(na) > 1e-6, "%s %s: gradient relative error %.3g (|g| %.3g)",
              tag, psw_param_name((psw_param_id)i), rel, sqrt(na));
        if (rel > worst) worst = rel;
    }
    return worst;
}

static void perturb_norms(psw_model *m, psw_rng *r) {
    for (int i = 0; i < PSW_P_COUNT; i++)
        if (psw_param_group_of((psw_param_id)i) == PSW_GROUP_NORM)
            for (size_t j = 0; j < m->params.count[i]; j++)
                m->params.ptr[i][j] = 1.0f + 0.3f * psw_rng_normal(r);
}

static void run_arch(psw_arch arch, bool tied, const char *tag) {
    psw_err err;
    psw_rng r;
    psw_rng_seed(&r, 42 + (uint64_t)arch * 7 + tied);
    psw_model_config cfg = tiny_config(arch, tied);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 7 + (uint64_t)arch, 0.2f);
    perturb_norms(&m, &r);
    CHECK_OK(psw_model_reserve(&m, B, T, B * T, true, &err), &err);
    fixture f;
    make_fixture(&f, &r, cfg.vocab_size);
    for (int k = 0; k < LOSS_COUNT; k++) {
        psw_loss_spec s = make_spec(&f, (loss_kind)k, &r, cfg.vocab_size);
        char t[64];
        snprintf(t, sizeof t, "%s/%s", tag, loss_names[k]);
        printf("%s\n", t);
        double worst = gradcheck_model(&m, &f, &s, t, &r);
        printf("  worst relative error %.2e\n", worst);
    }

    /* Frozen groups: train only the MLP. Its gradients must be bitwise those of the full run
     * and every other gradient must stay exactly zero. */
    psw_loss_spec s = make_spec(&f, LOSS_CE, &r, cfg.vocab_size);
    double l_full, l_mlp;
    psw_model_zero_grad(&m);
    CHECK_OK(psw_model_forward_backward(&m, &f.batch, &s, &l_full, &err), &err);
    float *full = psw_xmalloc(sizeof(float) * m.grads.total);
    memcpy(full, m.grads.base, sizeof(float) * m.grads.total);
    size_t full_off[PSW_P_COUNT];
    for (int i = 0; i < PSW_P_COUNT; i++)
        full_off[i] = m.grads.ptr[i] ? (size_t)(m.grads.ptr[i] - m.grads.base) : 0;
    CHECK_OK(psw_model_set_trainable(&m, 1u << PSW_GROUP_MLP, &err), &err);
    psw_model_zero_grad(&m);
    CHECK_OK(psw_model_forward_backward(&m, &f.batch, &s, &l_mlp, &err), &err);
    CHECK(l_full == l_mlp, "%s: frozen run has the same loss", tag);
    for (int i = 0; i < PSW_P_COUNT; i++) {
        bool mlp = psw_param_group_of((psw_param_id)i) == PSW_GROUP_MLP;
        if (!mlp) {
            CHECK(m.grads.ptr[i] == NULL && m.grads.count[i] == 0,
                  "%s trainable=mlp: frozen %s has a gradient slice", tag,
                  psw_param_name((psw_param_id)i));
            continue;
        }
        size_t n = m.grads.count[i], bad = 0;
        CHECK(n == m.params.count[i], "%s: %s gradient count", tag, psw_param_name((psw_param_id)i));
        for (size_t j = 0; j < n; j++) bad += m.grads.ptr[i][j] != full[full_off[i] + j];
        CHECK(bad == 0, "%s trainable=mlp: %s has %zu gradient values differing from the full run",
              tag, psw_param_name((psw_param_id)i), bad);
    }
    free(full);
    CHECK_OK(psw_model_set_trainable(&m, ~0u, &err), &err);

    /* KL against the model's own logits: exactly 0, zero gradient. "Own" is the loss's forward
     * (one GEMM over the batch); psw_model_forward's per-sequence GEMMs may round otherwise. */
    float *own = psw_xmalloc(sizeof(float) * (size_t)s.P * cfg.vocab_size);
    psw_forward_run(&m, &f.batch, s.pos, s.P, own, false, psw_loss_at_rows(&f.batch, s.P));
    psw_loss_spec ks = {.P = s.P, .pos = s.pos, .teacher_logits = own, .temperature = 1.7f,
                        .kl_weight = 1.0f, .grad_scale = 1.0f};
    double kl = -1.0;
    psw_model_zero_grad(&m);
    CHECK_OK(psw_model_forward_backward(&m, &f.batch, &ks, &kl, &err), &err);
    CHECK(kl == 0.0, "%s: KL against own logits is %g, want 0", tag, kl);
    size_t nz = 0;
    for (size_t j = 0; j < m.grads.total; j++) nz += m.grads.base[j] != 0.0f;
    CHECK(nz == 0, "%s: KL against own logits leaves %zu nonzero gradient values", tag, nz);
    free(own);
    free(f.teacher);
    psw_model_free(&m);
}

int main(void) {
    run_arch(PSW_ARCH_OLMO2, false, "olmo2");
    run_arch(PSW_ARCH_LLAMA, false, "llama");
    run_arch(PSW_ARCH_LLAMA, true, "llama-tied");
    return psw_test_finish();
}
