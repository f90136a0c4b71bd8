/* plan.c: memory and time estimates of a sweep, and the engine calibration behind them (plan.h). */
#include "psw/plan.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model.h"

static int pruned_h(const psw_model_config *cfg, double r) {
    long h = lround(r * cfg->intermediate_size);
    return h < 1 ? 1 : (int)h;
}

double psw_plan_forward_flops(const psw_model_config *cfg, double retention, double T, double P) {
    double C = cfg->hidden_size, QD = (double)cfg->num_heads * cfg->head_dim;
    double KD = (double)cfg->num_kv_heads * cfg->head_dim, H = pruned_h(cfg, retention);
    double L = cfg->num_layers, V = cfg->vocab_size;
    double block = C * QD + 2.0 * C * KD + QD * C + 3.0 * C * H; /* q, k, v, o, gate, up, down */
    return 2.0 * T * L * block + 2.0 * L * T * T * QD + 2.0 * P * V * C;
}

/* Effective rate of one rank with t threads: r1 at 1 thread, times PSW_PLAN_CAL_THREAD_SCALE per
 * doubling (r1 * scale^log2(t)). */
static double rate_for_threads(double r1, int t) {
    return r1 * pow(PSW_PLAN_CAL_THREAD_SCALE, log2((double)t));
}

/* groups: the trainable groups (bit g = PSW_GROUP_g); gradients and AdamW cover only those.
 * half: the groups stored as bf16 (2 bytes a weight, plus the fp32 conversion scratch). */
static double model_bytes(const psw_model_config *cfg, double r, int B, int T, int P, bool train,
                          unsigned groups, unsigned half, psw_model_memory *m) {
    psw_model_config c = *cfg;
    c.intermediate_size = pruned_h(cfg, r);
    psw_model_memory_plan_storage(&c, B, T, P, train, groups, half, m);
    return (double)m->params + (double)m->grads + (double)m->optimizer + (double)m->activations +
           (double)m->logits;
}

psw_status psw_plan_compute(const psw_spec *spec, const psw_model_config *cfg, size_t n_train,
                            size_t n_test, double data_bytes, const psw_plan_layout *lay,
                            psw_plan *out, psw_err *err) {
    memset(out, 0, sizeof *out);
    const psw_spec_grid *g = &spec->grid;
    const psw_spec_training *tr = &spec->training;
    if (!g->present || g->n_configs == 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "%s: grid: the spec has no grid to plan",
                        spec->source);
    if (lay->nodes < 1 || lay->ranks_per_node < 1 || lay->threads_per_rank < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "layout: nodes %d, ranks per node %d, threads per rank %d must be >= 1",
                        lay->nodes, lay->ranks_per_node, lay->threads_per_rank);
    if (!(lay->node_mem > 0) || lay->train_gflops < 0 || lay->fwd_gflops < 0)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "layout: node memory and GFLOP/s must be positive");
    if (n_train < 1 || n_test < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG, "data: %zu train and %zu test examples; need >= 1",
                        n_train, n_test);

    int T = tr->max_seq_len < cfg->max_position_embeddings ? tr->max_seq_len
                                                           : cfg->max_position_embeddings;
    out->T_mem = T;
    int64_t tm = psw_spec_prompt_tokens_estimate(spec);
    out->T_mean = (int)(tm < T ? tm : T);
    bool all_pos = tr->loss_positions == PSW_SPEC_POSITIONS_ALL_PROMPT;
    out->max_retention = 0;
    for (size_t i = 0; i < g->n_retention; i++)
        if (g->retention[i] > out->max_retention) out->max_retention = g->retention[i];
    for (size_t i = 0; i < g->n_loss; i++)
        if (g->loss[i] == PSW_LOSS_KL || g->loss[i] == PSW_LOSS_MIX) out->needs_cache = true;

    /* ---- memory ---- */
    psw_plan_memory *m = &out->mem;
    psw_model_memory mm;
    int eB = tr->eval_batch;
    /* dtype_frozen "bf16": the teacher (all frozen) is bf16, the student's frozen groups too. */
    bool bf16 = spec->model.dtype_frozen == PSW_SPEC_DTYPE_BF16;
    unsigned all = (1u << PSW_GROUP_COUNT) - 1u;
    model_bytes(cfg, 1.0, eB, T, eB, false, 0u, bf16 ? all : 0u, &mm);
    /* The arena may be shared by a node's workers; each worker's conversion scratch is its own,
     * so it counts with the activations. */
    double t_scratch = (double)psw_params_scratch_floats(cfg, bf16 ? all : 0u) * sizeof(float);
    m->teacher_params = (double)mm.params - t_scratch;
    m->teacher_acts = (double)mm.activations + (double)mm.logits + t_scratch;
    int sB = tr->micro_batch > eB ? tr->micro_batch : eB;
    /* Full-prompt positions cap at what int holds; such a plan does not fit anyway. */
    double sP = all_pos ? (double)sB * T : sB;
    unsigned groups = tr->trainable == PSW_SPEC_TRAINABLE_MLP ? 1u << PSW_GROUP_MLP
                                                              : (1u << PSW_GROUP_COUNT) - 1u;
    model_bytes(cfg, out->max_retention, sB, T, sP > 2147483647.0 ? 2147483647 : (int)sP, true,
                groups, bf16 ? all & ~groups : 0u, &mm);
    m->student_params = (double)mm.params;
    m->student_grads = (double)mm.grads;
    m->student_optimizer = (double)mm.optimizer;
    m->student_acts = (double)mm.activations + (double)mm.logits;
    /* Texts as read plus tokens (int32) and offsets for every prompt. */
    m->data = data_bytes + (double)(n_train + n_test) * (out->T_mean * 4.0 + 64.0);
    m->per_rank = m->teacher_params + m->teacher_acts + m->student_params + m->student_grads +
                  m->student_optimizer + m->student_acts + m->data;
    if (out->needs_cache) {
        double rows = all_pos ? (double)n_train * out->T_mean : (double)n_train;
        double row_bytes = tr->teacher_cache == PSW_SPEC_CACHE_TOPK
                               ? tr->topk * 8.0 + 4.0
                               : (double)cfg->vocab_size * 2.0;
        m->cache_file = 4096.0 + (n_train + 1.0) * 8.0 + rows * row_bytes;
    }
    /* What each rank holds besides a shared teacher copy, and what is held once per node. */
    double own = lay->private_weights ? m->per_rank : m->per_rank - m->teacher_params;
    double once = m->cache_file;
    if (!lay->private_weights)
        once += m->teacher_params + (m->teacher_params > own ? m->teacher_params - own : 0.0);
    m->per_node = lay->ranks_per_node * own + once;
    double usable = PSW_PLAN_MEM_FRACTION * lay->node_mem;
    out->fits = m->per_node <= usable;
    double k = floor((usable - once) / own);
    out->max_ranks_per_node = k > 0 ? (k > 1e6 ? 1000000 : (int)k) : 0;

    /* ---- time ---- */
    int total_ranks = lay->nodes * lay->ranks_per_node;
    out->workers = total_ranks > 1 ? total_ranks - 1 : 1;
    out->train_gflops = lay->train_gflops > 0 ? lay->train_gflops
                        : rate_for_threads(PSW_PLAN_CAL_TRAIN_1T, lay->threads_per_rank);
    out->fwd_gflops = lay->fwd_gflops > 0 ? lay->fwd_gflops
                      : rate_for_threads(PSW_PLAN_CAL_FWD_1T, lay->threads_per_rank);
    double fwd = out->fwd_gflops * 1e9, trn = out->train_gflops * 1e9, Tm = out->T_mean;
    out->t_teacher_eval = (double)n_test * psw_plan_forward_flops(cfg, 1.0, Tm, 1) / fwd;
    if (out->needs_cache)
        out->t_cache = (double)n_train * psw_plan_forward_flops(cfg, 1.0, Tm, all_pos ? Tm : 1) / fwd;
    out->t_config_min = INFINITY;
    double longest_kl = 0;
    for (size_t i = 0; i < g->n_retention; i++)
        out->t_unrecovered +=
            (double)n_test * psw_plan_forward_flops(cfg, g->retention[i], Tm, 1) / fwd;
    for (size_t i = 0; i < g->n_configs; i++) {
        const psw_spec_config *c = &g->configs[i];
        double P = all_pos && c->loss != PSW_LOSS_CE ? Tm : 1;
        double t = (double)psw_spec_train_examples(spec, c) *
                       3.0 * psw_plan_forward_flops(cfg, c->retention, Tm, P) / trn +
                   (double)n_test * psw_plan_forward_flops(cfg, c->retention, Tm, 1) / fwd;
        out->t_configs += t;
        if (t < out->t_config_min) out->t_config_min = t;
        if (t > out->t_config_max) out->t_config_max = t;
        if (c->loss != PSW_LOSS_CE && t > longest_kl) longest_kl = t;
    }
    out->t_serial = out->t_teacher_eval + out->t_cache + out->t_unrecovered + out->t_configs;
    double critical = out->t_config_max;
    if (out->needs_cache && out->t_cache + longest_kl > critical)
        critical = out->t_cache + longest_kl; /* kl/mix start only after the cache exists */
    out->t_wall = out->t_serial / out->workers > critical ? out->t_serial / out->workers : critical;
    return PSW_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

psw_status psw_plan_calibrate(int size, int threads, int reps, double *train_gflops,
                              double *fwd_gflops, psw_err *err) {
    if (size < 0 || size > 1 || reps < 1 || reps > 100 || threads < 1)
        return PSW_FAIL(err, PSW_ERR_INVALID_ARG,
                        "calibrate: size %d (0 or 1), reps %d (1..100), threads %d (>= 1)", size,
                        reps, threads);
    psw_model_config cfg = {0};
    cfg.arch = PSW_ARCH_OLMO2;
    cfg.hidden_size = size ? 768 : 256;
    cfg.num_layers = 4;
    cfg.num_heads = cfg.num_kv_heads = size ? 12 : 4;
    cfg.head_dim = 64;
    cfg.intermediate_size = size ? 2048 : 704;
    cfg.vocab_size = size ? 16384 : 4096;
    cfg.max_position_embeddings = 512;
    cfg.rope_theta = 10000.0f;
    cfg.rms_norm_eps = 1e-6f;
    cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = -1;
    int B = 4, T = size ? 256 : 128;
    openblas_set_num_threads(threads);

    psw_model m = {0};
    int32_t *tokens = NULL, *lengths = NULL;
    int64_t *pos = NULL;
    int32_t *targets = NULL;
    float *logits = NULL;
    double *t_train = NULL, *t_fwd = NULL;
    psw_status st = psw_model_init(&m, &cfg, err);
    if (st != PSW_OK) goto fail;
    psw_model_init_random(&m, 1234, 0.02f);
    st = psw_model_reserve(&m, B, T, B * T, true, err);
    if (st != PSW_OK) goto fail;
    tokens = psw_xmalloc(sizeof *tokens * (size_t)B * T);
    lengths = psw_xmalloc(sizeof *lengths * (size_t)B);
    pos = psw_xmalloc(sizeof *pos * (size_t)B * T);
    targets = psw_xmalloc(sizeof *targets * (size_t)B * T);
    logits = psw_try_alloc(sizeof *logits * (size_t)B * cfg.vocab_size);
    t_train = psw_xmalloc(sizeof *t_train * (size_t)reps);
    t_fwd = psw_xmalloc(sizeof *t_fwd * (size_t)reps);
    if (!logits) {
        st = PSW_FAIL(err, PSW_ERR_NOMEM, "calibrate: cannot allocate logits");
        goto fail;
    }
    for (int i = 0; i < B * T; i++) tokens[i] = (int32_t)((i * 7919) % cfg.vocab_size);
    for (int b = 0; b < B; b++) lengths[b] = T;
    psw_batch batch = {tokens, lengths, B, T};
    /* Training loss on every position (a causal-LM step), as the PyTorch peer in NOTES.md. */
    int P = psw_causal_lm_targets(&batch, pos, targets);
    psw_loss_spec loss = {.P = P, .pos = pos, .targets = targets, .temperature = 1.0f,
                          .ce_weight = 1.0f, .kl_weight = 0.0f, .grad_scale = 1.0f};
    psw_adamw opt = {.lr = 1e-5f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                     .weight_decay = 0.0f, .max_grad_norm = 1.0f};
    int64_t last[4];
    for (int b = 0; b < B; b++) last[b] = (int64_t)b * T + T - 1;
    for (int r = -1; r < reps; r++) {
        double l, gn, t0 = psw_now();
        psw_model_zero_grad(&m);
        st = psw_model_forward_backward(&m, &batch, &loss, &l, err);
        if (st == PSW_OK) st = psw_model_adamw_step(&m, &opt, &gn, err);
        if (st != PSW_OK) goto fail;
        double t1 = psw_now();
        st = psw_model_forward(&m, &batch, last, B, logits, err);
        if (st != PSW_OK) goto fail;
        double t2 = psw_now();
        if (r >= 0) t_train[r] = t1 - t0, t_fwd[r] = t2 - t1;
    }
    qsort(t_train, (size_t)reps, sizeof *t_train, cmp_double);
    qsort(t_fwd, (size_t)reps, sizeof *t_fwd, cmp_double);
    double ft = (double)B * 3.0 * psw_plan_forward_flops(&cfg, 1.0, T, T);
    double ff = (double)B * psw_plan_forward_flops(&cfg, 1.0, T, 1);
    *train_gflops = ft / t_train[reps / 2] / 1e9;
    *fwd_gflops = ff / t_fwd[reps / 2] / 1e9;
fail:
    free(t_fwd);
    free(t_train);
    free(logits);
    free(targets);
    free(pos);
    free(lengths);
    free(tokens);
    psw_model_free(&m);
    return st;
}
