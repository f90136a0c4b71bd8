/* test_reference.c: the engine against the independent float64 PyTorch implementation in
 * make_fixture.py (committed fixtures; CI needs no torch). For OLMo2 (F32 single file and BF16
 * sharded, identical values) and tied Llama, both with GQA and right padding, it checks:
 * logits at positions (1e-4 relative to the tensor's scale), the CE / KL(T=2) / causal-LM losses,
 * the gradient of every parameter for each loss (1e-3), and 5 AdamW steps with clipping and
 * warmup + cosine (losses and gradient norms, 1e-4). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"
#include "psw/model_io.h"
#include "psw/safetensors.h"
#include "test.h"

#define FIXTURES "reference/fixtures"

/* Reads tensor `name` of the expected file as floats (caller frees); aborts if absent, since a
 * fixture without it is a broken checkout. */
static float *want(const psw_safetensors *st, const char *name, size_t *n) {
    const psw_st_tensor *t = psw_st_find(st, name);
    if (!t) PSW_ABORT("expected file %s has no tensor %s", st->source, name);
    float *x = psw_xmalloc(t->numel * sizeof(float));
    psw_err err;
    if (psw_st_read_f32(st, t, x, &err) != PSW_OK) PSW_ABORT("%s", err.msg);
    if (n) *n = t->numel;
    return x;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m) m = fabs((double)x[i]);
    return m;
}

/* |got - want| <= tol * (|want| + max|want|): relative, with the tensor's scale as the floor so
 * entries near zero are not held to an impossible relative bound. */
static void check_scaled(const char *name, const float *got, const float *w, size_t n, double tol) {
    double s = max_abs(w, n);
    psw_test_check_tensor(name, got, w, n, tol * s, tol);
}

typedef struct batch_data {
    int32_t tokens[64], lengths[8];
    int64_t pos[64];
    int32_t targets[64];
    psw_batch batch;
} batch_data;

static void read_batch(const psw_safetensors *ex, batch_data *bd) {
    size_t nt, nl;
    float *tok = want(ex, "batch.tokens", &nt), *len = want(ex, "batch.lengths", &nl);
    const psw_st_tensor *tt = psw_st_find(ex, "batch.tokens");
    PSW_ASSERT(tt->ndim == 2 && nt <= 64 && nl <= 8);
    for (size_t i = 0; i < nt; i++) bd->tokens[i] = (int32_t)tok[i];
    for (size_t i = 0; i < nl; i++) bd->lengths[i] = (int32_t)len[i];
    bd->batch = (psw_batch){bd->tokens, bd->lengths, (int)tt->shape[0], (int)tt->shape[1]};
    free(tok), free(len);
}

static void check_grads(const psw_model *m, const psw_safetensors *ex, const char *loss) {
    char hf[256], key[320];
    int L = m->cfg.num_layers;
    for (int i = 0; i < PSW_P_COUNT; i++) {
        if (!m->grads.count[i]) continue;
        bool per_layer = i != PSW_P_EMBED && i != PSW_P_FINAL_NORM && i != PSW_P_LM_HEAD;
        size_t slice = per_layer ? m->grads.count[i] / (size_t)L : m->grads.count[i];
        for (int l = 0; l < (per_layer ? L : 1); l++) {
            psw_param_hf_name(m->cfg.arch, (psw_param_id)i, l, hf, sizeof hf);
            snprintf(key, sizeof key, "grad.%s.%s", loss, hf);
            size_t n;
            float *w = want(ex, key, &n);
            CHECK(n == slice, "%s: %zu values, engine has %zu", key, n, slice);
            if (n == slice) check_scaled(key, m->grads.ptr[i] + (size_t)l * slice, w, n, 1e-3);
            free(w);
        }
    }
}

static void run_losses(psw_model *m, const psw_safetensors *ex, batch_data *bd, const char *tag) {
    psw_err err;
    size_t P, np;
    float *pos = want(ex, "ce.pos", &P), *tg = want(ex, "ce.targets", &np);
    for (size_t i = 0; i < P; i++) bd->pos[i] = (int64_t)pos[i], bd->targets[i] = (int32_t)tg[i];
    free(pos), free(tg);
    int V = m->cfg.vocab_size;
    CHECK_OK(psw_model_reserve(m, bd->batch.B, bd->batch.T, bd->batch.B * bd->batch.T, true, &err),
             &err);

    size_t nl;
    float *wl = want(ex, "logits", &nl);
    float *logits = psw_xmalloc(sizeof(float) * P * (size_t)V);
    CHECK(nl == P * (size_t)V, "%s: logits size", tag);
    CHECK_OK(psw_model_forward(m, &bd->batch, bd->pos, (int)P, logits, &err), &err);
    char name[128];
    snprintf(name, sizeof name, "%s logits", tag);
    check_scaled(name, logits, wl, nl, 1e-4);
    free(wl), free(logits);

    float *teacher = want(ex, "kl.teacher", NULL), *temp = want(ex, "kl.temperature", NULL);
    int64_t clm_pos[64];
    int32_t clm_tg[64];
    int clm_P = psw_causal_lm_targets(&bd->batch, clm_pos, clm_tg);
    const char *names[3] = {"ce", "kl", "clm"};
    for (int k = 0; k < 3; k++) {
        psw_loss_spec s = {.P = (int)P, .pos = bd->pos, .temperature = 1.0f, .grad_scale = 1.0f};
        if (k == 0) s.targets = bd->targets, s.ce_weight = 1.0f;
        if (k == 1) s.teacher_logits = teacher, s.kl_weight = 1.0f, s.temperature = temp[0];
        if (k == 2) s.P = clm_P, s.pos = clm_pos, s.targets = clm_tg, s.ce_weight = 1.0f;
        double loss = NAN;
        psw_model_zero_grad(m);
        CHECK_OK(psw_model_forward_backward(m, &bd->batch, &s, &loss, &err), &err);
        snprintf(name, sizeof name, "loss.%s", names[k]);
        float *wloss = want(ex, name, NULL);
        snprintf(name, sizeof name, "%s loss %s", tag, names[k]);
        printf("%-40s got %.9g want %.9g\n", name, loss, (double)wloss[0]);
        CHECK_CLOSE(loss, wloss[0], 0, 1e-4, name);
        free(wloss);
        check_grads(m, ex, names[k]);
    }
    free(teacher), free(temp);
}

static void run_adam(psw_model *m, const psw_safetensors *ex, batch_data *bd, const char *tag) {
    psw_err err;
    float *hp = want(ex, "adam.hparams", NULL), *wl = want(ex, "adam.losses", NULL),
          *wn = want(ex, "adam.grad_norms", NULL);
    psw_adamw opt = {.lr = 0, .beta1 = hp[4], .beta2 = hp[5], .eps = hp[6],
                     .weight_decay = hp[7], .max_grad_norm = hp[8]};
    int64_t pos[64];
    int32_t tg[64];
    int P = psw_causal_lm_targets(&bd->batch, pos, tg);
    psw_loss_spec s = {.P = P, .pos = pos, .targets = tg, .ce_weight = 1.0f, .temperature = 1.0f,
                       .grad_scale = 1.0f};
    for (int step = 0; step < 5; step++) {
        opt.lr = psw_lr_at(PSW_SCHEDULE_COSINE, step, (long)hp[2], (long)hp[3], hp[0], hp[1]);
        double loss = NAN, norm = NAN;
        psw_model_zero_grad(m);
        CHECK_OK(psw_model_forward_backward(m, &bd->batch, &s, &loss, &err), &err);
        CHECK_OK(psw_model_adamw_step(m, &opt, &norm, &err), &err);
        char name[128];
        snprintf(name, sizeof name, "%s adam step %d loss", tag, step);
        printf("%-40s got %.9g want %.9g  |g| %.7g / %.7g  lr %.6g\n", name, loss, (double)wl[step],
               norm, (double)wn[step], (double)opt.lr);
        CHECK_CLOSE(loss, wl[step], 0, 1e-4, name);
        snprintf(name, sizeof name, "%s adam step %d grad norm", tag, step);
        CHECK_CLOSE(norm, wn[step], 0, 1e-4, name);
    }
    free(hp), free(wl), free(wn);
}

static void run_model(const char *dir_name, const char *expected, const char *tag) {
    psw_err err;
    char dir[256], exp_path[256];
    snprintf(dir, sizeof dir, FIXTURES "/%s", dir_name);
    snprintf(exp_path, sizeof exp_path, FIXTURES "/%s", expected);
    psw_safetensors ex;
    memset(&ex, 0, sizeof ex);
    psw_status st = psw_st_open_file(&ex, exp_path, &err);
    CHECK_OK(st, &err);
    if (st != PSW_OK) return;
    psw_model m;
    st = psw_model_load(&m, dir, &err);
    CHECK_OK(st, &err);
    if (st == PSW_OK) {
        printf("== %s (%s)\n", tag, dir);
        batch_data bd;
        read_batch(&ex, &bd);
        run_losses(&m, &ex, &bd, tag);
        run_adam(&m, &ex, &bd, tag);
        psw_model_free(&m);
    }
    psw_st_close(&ex);
}

int main(void) {
    /* The BF16 sharded checkpoint holds exactly the F32 values (bf16-rounded at generation). */
    psw_err err;
    psw_model a, b;
    if (psw_model_load(&a, FIXTURES "/olmo2_f32", &err) == PSW_OK) {
        if (psw_model_load(&b, FIXTURES "/olmo2_bf16", &err) == PSW_OK) {
            CHECK(a.params.total == b.params.total &&
                      memcmp(a.params.base, b.params.base, a.params.total * sizeof(float)) == 0,
                  "olmo2 F32 and sharded BF16 checkpoints load to identical parameters");
            psw_model_free(&b);
        }
        psw_model_free(&a);
    }
    run_model("olmo2_f32", "expected_olmo2.safetensors", "olmo2-f32");
    run_model("olmo2_bf16", "expected_olmo2.safetensors", "olmo2-bf16-sharded");
    run_model("llama_tied_f32", "expected_llama_tied.safetensors", "llama-tied");
    return psw_test_finish();
}
