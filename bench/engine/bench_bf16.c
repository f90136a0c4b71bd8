/* bench_bf16.c: the speed cost of holding frozen weights in bf16 (issue #8). On the small and
 * medium OLMo2 shapes of bench_common.h, with training.trainable = mlp, two models with the same
 * (bf16-representable) weights: A all fp32, B with every non-MLP kind in bf16 (converted to fp32
 * scratch one layer at a time). Cases:
 *   train_last  one training step (zero_grad + forward + backward + AdamW), CE at the last position
 *               of each sequence (P = B), as the study's answer-position recovery;
 *   forward     teacher forward, logits at the last position (P = B), A all fp32 vs B all bf16.
 * The A and B calls alternate rep by rep so load on a shared machine hits both alike; the median
 * of each and the ratio B/A of the medians are printed (tab-separated):
 *   shape threads mode tok_s_f32 tok_s_bf16 ratio
 * Usage: bench_bf16 [--shapes small,medium] [--threads 1] [--reps 7] [--no-header] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "psw/model.h"
#include "psw/safetensors.h"

#define ALL ((1u << PSW_GROUP_COUNT) - 1u)
#define MLP (1u << PSW_GROUP_MLP)

static void die(const char *what, const psw_err *err) {
    fprintf(stderr, "bench_bf16: %s: %s\n", what, err->msg);
    exit(1);
}

/* One shape at one thread count: both cases, one line each. */
static void bench_shape(const psw_bench_shape *s, int threads, int reps) {
    openblas_set_num_threads(threads);
    psw_model_config cfg = psw_bench_config(s);
    psw_err err;
    psw_model base;
    if (psw_model_init(&base, &cfg, &err) != PSW_OK) die("init", &err);
    psw_model_init_random(&base, 1234, 0.02f);
    for (size_t i = 0; i < base.params.total; i++)
        base.params.base[i] = psw_bf16_to_f32(psw_f32_to_bf16(base.params.base[i]));
    int B = s->B, T = s->T, BT = B * T;
    PSW_ASSERT(B <= 16); /* lengths, targets, pos below; the largest batch of the shapes */
    int32_t *tokens = psw_xmalloc(sizeof(int32_t) * (size_t)BT), lengths[16];
    int32_t targets[16];
    int64_t pos[16];
    for (int i = 0; i < BT; i++) tokens[i] = (int32_t)((i * 7919u + 13u) % (unsigned)s->V);
    for (int b = 0; b < B; b++)
        lengths[b] = T, pos[b] = (int64_t)b * T + T - 1, targets[b] = (b * 31) % s->V;
    psw_batch batch = {tokens, lengths, B, T};
    psw_loss_spec ls = {.P = B, .pos = pos, .targets = targets, .temperature = 1.0f,
                        .ce_weight = 1.0f, .grad_scale = 1.0f};
    psw_adamw opt = {1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    float *logits = psw_xmalloc(sizeof(float) * (size_t)B * s->V);
    double *ta = psw_xmalloc(sizeof(double) * (size_t)reps);
    double *tb = psw_xmalloc(sizeof(double) * (size_t)reps);
    for (int mode = 0; mode < 2; mode++) {
        psw_model m[2];
        bool train = mode == 0;
        if (psw_model_convert_storage(&base, 0u, &m[0], &err) != PSW_OK ||
            psw_model_convert_storage(&base, train ? ALL & ~MLP : ALL, &m[1], &err) != PSW_OK)
            die("convert", &err);
        for (int k = 0; k < 2; k++) {
            if (train && psw_model_set_trainable(&m[k], MLP, &err) != PSW_OK)
                die("trainable", &err);
            if (psw_model_reserve(&m[k], B, T, B, train, &err) != PSW_OK) die("reserve", &err);
        }
        for (int r = -1; r < reps; r++)
            for (int k = 0; k < 2; k++) {
                double t0 = psw_now(), loss, gn;
                if (train) {
                    psw_model_zero_grad(&m[k]);
                    if (psw_model_forward_backward(&m[k], &batch, &ls, &loss, &err) != PSW_OK ||
                        psw_model_adamw_step(&m[k], &opt, &gn, &err) != PSW_OK)
                        die("step", &err);
                } else if (psw_model_forward(&m[k], &batch, pos, B, logits, &err) != PSW_OK) {
                    die("forward", &err);
                }
                double dt = psw_now() - t0;
                if (r >= 0) (k ? tb : ta)[r] = dt;
            }
        double ma = psw_bench_median(ta, reps), mb = psw_bench_median(tb, reps);
        printf("%s\t%d\t%s\t%.1f\t%.1f\t%.3f\n", s->name, threads,
               train ? "train_last(mlp)" : "forward(teacher)", BT / ma, BT / mb, ma / mb);
        fflush(stdout);
        psw_model_free(&m[0]);
        psw_model_free(&m[1]);
    }
    free(tokens), free(logits), free(ta), free(tb);
    psw_model_free(&base);
}

int main(int argc, char **argv) {
    psw_bench_opts o;
    psw_bench_opts_default(&o);
    o.shapes[0] = false; /* small and medium: tiny's weights are too few to matter */
    o.threads[0] = 1, o.n_threads = 1;
    for (int i = 1; i < argc; i++) {
        int r = psw_bench_common_option("bench_bf16", argc, argv, &i, &o);
        if (r < 0) return 2;
        if (r == 0) {
            fprintf(stderr, "usage: bench_bf16 [--shapes small,medium] [--threads 1] [--reps 7] "
                            "[--no-header]\n");
            return 2;
        }
    }
    if (o.header) printf("shape\tthreads\tmode\ttok_s_f32\ttok_s_bf16\tratio\n");
    for (int t = 0; t < o.n_threads; t++)
        for (int si = 0; si < PSW_BENCH_N_SHAPES; si++)
            if (o.shapes[si]) bench_shape(&psw_bench_shapes[si], o.threads[t], o.reps);
    return 0;
}
