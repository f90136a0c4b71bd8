/* test_prune.c: MLP pruning (prune.h).
 *  - the three weight scores of a hand-built 3-neuron layer against hand-computed norms;
 *  - selection: top keep, ties to the lower index, kept in original order;
 *  - keep count round(r*H) with halves rounding up, including r*H that are x.5 in decimal but
 *    not in binary (0.35 * 90 = 31.499999999999996 in double);
 *  - r = 1 gives bit-identical logits; a pruned model equals the unpruned model with the removed
 *    neurons zeroed (down_proj columns and gate/up rows) within 1e-5, for OLMo2 and for Llama
 *    with GQA and tied embeddings; the saved checkpoint loads and gives the same logits;
 *  - the report's retentions against hand counts; the random score is seeded; bad retentions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psw/model_io.h"
#include "psw/prune.h"
#include "test.h"

/* OLMo2, C=4, H=3, L=1: neuron scores by hand (squared norms):
 *   n0: gate [1,0,0,0] up [0,1,0,0]  -> gate_up 2; down col [0,0,2,0]         -> 4;    l2 6
 *   n1: gate [0,2,0,0] up 0          -> gate_up 4; down col [1,0,0,0]         -> 1;    l2 5
 *   n2: gate [0,0,0,1] up [1,1,0,0]  -> gate_up 3; down col [1.5,1,0.5,0.5]   -> 3.75; l2 6.75
 * so the best neuron is n2 by l2, n0 by down and n1 by gate_up. */
static void toy_config(psw_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = PSW_ARCH_OLMO2;
    cfg->hidden_size = 4;
    cfg->intermediate_size = 3;
    cfg->num_layers = 1;
    cfg->num_heads = 2;
    cfg->num_kv_heads = 1;
    cfg->head_dim = 2;
    cfg->vocab_size = 8;
    cfg->max_position_embeddings = 16;
    cfg->rope_theta = 10000.0f;
    cfg->rms_norm_eps = 1e-6f;
    cfg->bos_token_id = cfg->eos_token_id = cfg->pad_token_id = -1;
}

static void test_toy_scores(void) {
    psw_model_config cfg;
    toy_config(&cfg);
    psw_model m;
    psw_err err = {0};
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 1, 0.1f); /* attention and embeddings: anything */
    float *gate = m.params.ptr[PSW_P_GATE], *up = m.params.ptr[PSW_P_UP];
    float *down = m.params.ptr[PSW_P_DOWN];
    memset(gate, 0, 12 * sizeof(float));
    memset(up, 0, 12 * sizeof(float));
    memset(down, 0, 12 * sizeof(float));
    gate[0 * 4 + 0] = 1, up[0 * 4 + 1] = 1;
    gate[1 * 4 + 1] = 2;
    gate[2 * 4 + 3] = 1, up[2 * 4 + 0] = 1, up[2 * 4 + 1] = 1;
    const float col0[4] = {0, 0, 2, 0}, col1[4] = {1, 0, 0, 0}, col2[4] = {1.5f, 1, 0.5f, 0.5f};
    for (int c = 0; c < 4; c++) {
        down[c * 3 + 0] = col0[c];
        down[c * 3 + 1] = col1[c];
        down[c * 3 + 2] = col2[c];
    }
    double s[3];
    psw_prune_scores(&m, PSW_PRUNE_L2, 0, s);
    CHECK_CLOSE(s[0], sqrt(6.0), 1e-15, 0, "l2 score n0");
    CHECK_CLOSE(s[1], sqrt(5.0), 1e-15, 0, "l2 score n1");
    CHECK_CLOSE(s[2], sqrt(6.75), 1e-15, 0, "l2 score n2");
    psw_prune_scores(&m, PSW_PRUNE_DOWN, 0, s);
    CHECK_CLOSE(s[0], 2.0, 1e-15, 0, "down score n0");
    CHECK_CLOSE(s[1], 1.0, 1e-15, 0, "down score n1");
    CHECK_CLOSE(s[2], sqrt(3.75), 1e-15, 0, "down score n2");
    psw_prune_scores(&m, PSW_PRUNE_GATE_UP, 0, s);
    CHECK_CLOSE(s[0], sqrt(2.0), 1e-15, 0, "gate_up score n0");
    CHECK_CLOSE(s[1], 2.0, 1e-15, 0, "gate_up score n1");
    CHECK_CLOSE(s[2], sqrt(3.0), 1e-15, 0, "gate_up score n2");

    /* Keep 1 of 3 (r = 1/3) by each score, and keep 2 (r = 2/3) by l2: {0, 2} in that order. */
    const struct {
        psw_prune_score kind;
        double r;
        int keep, kept[2];
    } cases[] = {{PSW_PRUNE_L2, 1.0 / 3, 1, {2, -1}},
                 {PSW_PRUNE_DOWN, 1.0 / 3, 1, {0, -1}},
                 {PSW_PRUNE_GATE_UP, 1.0 / 3, 1, {1, -1}},
                 {PSW_PRUNE_L2, 2.0 / 3, 2, {0, 2}},
                 {PSW_PRUNE_DOWN, 2.0 / 3, 2, {0, 2}},
                 {PSW_PRUNE_GATE_UP, 2.0 / 3, 2, {1, 2}}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        psw_model dst;
        int32_t kept[3] = {-1, -1, -1};
        psw_prune_report rep;
        CHECK_OK(psw_prune_mlp(&m, cases[c].r, cases[c].kind, 0, &dst, kept, &rep, &err), &err);
        CHECK(dst.cfg.intermediate_size == cases[c].keep, "case %zu: keep %d, want %d", c,
              dst.cfg.intermediate_size, cases[c].keep);
        for (int i = 0; i < cases[c].keep; i++)
            CHECK(kept[i] == cases[c].kept[i], "case %zu (%s): kept[%d] = %d, want %d", c,
                  psw_prune_score_name(cases[c].kind), i, kept[i], cases[c].kept[i]);
        /* Physical layout: kept rows of gate/up, kept columns of down, in kept order. */
        int K = cases[c].keep;
        bool layout_ok = true;
        for (int i = 0; i < K; i++) {
            int j = cases[c].kept[i];
            for (int col = 0; col < 4; col++) {
                layout_ok &= dst.params.ptr[PSW_P_GATE][i * 4 + col] == gate[j * 4 + col];
                layout_ok &= dst.params.ptr[PSW_P_UP][i * 4 + col] == up[j * 4 + col];
                layout_ok &= dst.params.ptr[PSW_P_DOWN][col * K + i] == down[col * 3 + j];
            }
        }
        CHECK(layout_ok, "case %zu: pruned gate/up rows and down columns are the kept ones", c);
        CHECK(dst.params.count[PSW_P_DOWN] == (size_t)(4 * K), "case %zu: down has 4x%d floats", c,
              K);
        CHECK(memcmp(dst.params.ptr[PSW_P_Q], m.params.ptr[PSW_P_Q],
                     m.params.count[PSW_P_Q] * sizeof(float)) == 0,
              "case %zu: attention untouched", c);
        CHECK(rep.neurons_kept == K && rep.neurons_total == 3, "case %zu: neurons %lld/%lld", c,
              (long long)rep.neurons_kept, (long long)rep.neurons_total);
        psw_model_free(&dst);
    }
    psw_model_free(&m);
}

static void test_select(void) {
    const double s[6] = {1, 3, 3, 2, 3, 0.5};
    int32_t kept[6];
    psw_prune_select(s, 6, 2, kept);
    CHECK(kept[0] == 1 && kept[1] == 2, "ties to the lower index: got {%d, %d}, want {1, 2}",
          kept[0], kept[1]);
    psw_prune_select(s, 6, 4, kept);
    CHECK(kept[0] == 1 && kept[1] == 2 && kept[2] == 3 && kept[3] == 4,
          "keep 4: got {%d, %d, %d, %d}, want {1, 2, 3, 4} (original order)", kept[0], kept[1],
          kept[2], kept[3]);
    const double flat[5] = {7, 7, 7, 7, 7};
    psw_prune_select(flat, 5, 3, kept);
    CHECK(kept[0] == 0 && kept[1] == 1 && kept[2] == 2, "all equal: the first three, got {%d,%d,%d}",
          kept[0], kept[1], kept[2]);
    const double desc[4] = {4, 3, 2, 1};
    psw_prune_select(desc, 4, 2, kept);
    CHECK(kept[0] == 0 && kept[1] == 1, "descending: {0, 1}, got {%d, %d}", kept[0], kept[1]);
    const double asc[4] = {1, 2, 3, 4};
    psw_prune_select(asc, 4, 2, kept);
    CHECK(kept[0] == 2 && kept[1] == 3, "ascending: {2, 3}, got {%d, %d}", kept[0], kept[1]);
}

static void test_keep_count(void) {
    const struct {
        int H;
        double r;
        int want;
    } cases[] = {
        {3, 0.5, 2},      /* 1.5 -> 2: halves round up */
        {5, 0.5, 3},      /* 2.5 -> 3 (not banker's 2) */
        {5, 0.3, 2},      /* 1.5 in binary too */
        {90, 0.35, 32},   /* 31.499999999999996 in double; 31.5 as written -> 32 */
        {170, 0.35, 60},  /* 59.499999999999993 -> 60 */
        {50, 0.55, 28},   /* 27.500000000000004 -> 28 */
        {8192, 0.5, 4096},
        {512, 0.5, 256},
        {10, 0.04, 1},    /* 0.4 -> 0 -> at least one neuron */
        {10, 1e-9, 1},
        {10, 1.0, 10},
        {10, 0.24, 2},    /* 2.4 -> 2 */
        {10, 0.26, 3},    /* 2.6 -> 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int got = psw_prune_keep_count(cases[i].H, cases[i].r);
        CHECK(got == cases[i].want, "keep_count(H=%d, r=%g) = %d, want %d", cases[i].H, cases[i].r,
              got, cases[i].want);
    }
}

static void score_parse(void) {
    psw_prune_score s;
    const char *names[] = {"l2", "down", "gate_up", "random"};
    for (int i = 0; i < 4; i++) {
        CHECK(psw_prune_score_parse(names[i], &s) && (int)s == i, "parse %s", names[i]);
        CHECK(strcmp(psw_prune_score_name((psw_prune_score)i), names[i]) == 0, "name %d", i);
    }
    CHECK(!psw_prune_score_parse("L2", &s) && !psw_prune_score_parse("", &s) &&
              !psw_prune_score_parse("magnitude", &s),
          "unknown score names are rejected");
}

static void small_config(psw_model_config *cfg, psw_arch arch) {
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = arch;
    cfg->hidden_size = 16;
    cfg->intermediate_size = 24;
    cfg->num_layers = 2;
    cfg->num_heads = 4;
    cfg->num_kv_heads = arch == PSW_ARCH_LLAMA ? 2 : 4; /* Llama with GQA */
    cfg->head_dim = 4;
    cfg->vocab_size = 40;
    cfg->max_position_embeddings = 32;
    cfg->rope_theta = 10000.0f;
    cfg->rms_norm_eps = 1e-5f;
    cfg->tie_word_embeddings = arch == PSW_ARCH_LLAMA;
    cfg->bos_token_id = cfg->eos_token_id = cfg->pad_token_id = -1;
}

enum { TB = 3, TT = 7, TP = TB * TT };

/* Logits of every position of a fixed ragged batch (rows of length 7, 5, 2). */
static psw_status all_logits(psw_model *m, float *logits, psw_err *err) {
    int32_t tokens[TB * TT], lengths[TB] = {7, 5, 2};
    int64_t pos[TP];
    int P = 0;
    for (int i = 0; i < TB * TT; i++) tokens[i] = (i * 7 + 3) % m->cfg.vocab_size;
    for (int b = 0; b < TB; b++)
        for (int t = 0; t < lengths[b]; t++) pos[P++] = (int64_t)b * TT + t;
    psw_status st = psw_model_reserve(m, TB, TT, TP, false, err);
    if (st != PSW_OK) return st;
    psw_batch batch = {.tokens = tokens, .lengths = lengths, .B = TB, .T = TT};
    return psw_model_forward(m, &batch, pos, P, logits, err);
}
#define N_LOGIT_POS 14 /* 7 + 5 + 2 */

static void test_equivalence(psw_arch arch) {
    const char *name = arch == PSW_ARCH_LLAMA ? "llama" : "olmo2";
    psw_model_config cfg;
    small_config(&cfg, arch);
    psw_model m = {0}, same = {0}, pruned = {0}, zeroed = {0}, loaded = {0};
    psw_err err = {0};
    size_t V = (size_t)cfg.vocab_size, n_logits = N_LOGIT_POS * V;
    float *ref = calloc(n_logits, sizeof *ref), *got = calloc(n_logits, sizeof *got);
    float *zl = calloc(n_logits, sizeof *zl);
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, arch == PSW_ARCH_LLAMA ? 11 : 12, 0.3f);
    CHECK_OK(all_logits(&m, ref, &err), &err);

    /* r = 1: every neuron, same order, same arithmetic: bit-identical. */
    int32_t kept_all[2 * 24];
    CHECK_OK(psw_prune_mlp(&m, 1.0, PSW_PRUNE_L2, 0, &same, kept_all, NULL, &err), &err);
    bool identity = same.cfg.intermediate_size == 24;
    for (int i = 0; i < 2 * 24; i++) identity &= kept_all[i] == i % 24;
    CHECK(identity, "%s: r = 1 keeps every neuron in order", name);
    CHECK_OK(all_logits(&same, got, &err), &err);
    CHECK(memcmp(got, ref, n_logits * sizeof *got) == 0, "%s: r = 1 logits are bit-identical",
          name);
    CHECK(memcmp(same.params.base, m.params.base, m.params.total * sizeof(float)) == 0,
          "%s: r = 1 parameters are bit-identical", name);

    /* r = 0.5 (12 of 24 per layer) against the unpruned model with the others zeroed. */
    const psw_prune_score kinds[] = {PSW_PRUNE_L2, PSW_PRUNE_RANDOM};
    for (size_t k = 0; k < 2; k++) {
        int32_t kept[2 * 12];
        psw_prune_report rep;
        CHECK_OK(psw_prune_mlp(&m, 0.5, kinds[k], 5, &pruned, kept, &rep, &err), &err);
        CHECK(pruned.cfg.intermediate_size == 12, "%s: 12 neurons kept", name);
        CHECK_OK(psw_model_clone(&m, &zeroed, &err), &err);
        size_t C = 16, H = 24;
        for (size_t l = 0; l < 2; l++) {
            bool keep_it[24] = {false};
            for (int i = 0; i < 12; i++) keep_it[kept[l * 12 + (size_t)i]] = true;
            for (size_t j = 0; j < H; j++) {
                if (keep_it[j]) continue;
                memset(zeroed.params.ptr[PSW_P_GATE] + (l * H + j) * C, 0, C * sizeof(float));
                memset(zeroed.params.ptr[PSW_P_UP] + (l * H + j) * C, 0, C * sizeof(float));
                for (size_t c = 0; c < C; c++) zeroed.params.ptr[PSW_P_DOWN][l * C * H + c * H + j] = 0;
            }
        }
        CHECK_OK(all_logits(&zeroed, zl, &err), &err);
        CHECK_OK(all_logits(&pruned, got, &err), &err);
        char what[64];
        snprintf(what, sizeof what, "%s %s pruned vs zeroed logits", name,
                 psw_prune_score_name(kinds[k]));
        CHECK(psw_test_check_tensor(what, got, zl, n_logits, 1e-5, 0), "%s within 1e-5", what);
        /* And pruning changed something (the comparison is not vacuous). */
        double maxdiff = 0;
        for (size_t i = 0; i < n_logits; i++)
            if (fabs((double)zl[i] - ref[i]) > maxdiff) maxdiff = fabs((double)zl[i] - ref[i]);
        CHECK(maxdiff > 1e-3, "%s: pruning half the MLP moves the logits (max %g)", what, maxdiff);

        if (k == 0) { /* the checkpoint written by save loads and agrees bit for bit */
            char *dir = psw_test_tmpdir();
            CHECK_OK(psw_model_save(&pruned, dir, PSW_SAVE_F32, 0, &err), &err);
            CHECK_OK(psw_model_load(&loaded, dir, &err), &err);
            CHECK(loaded.cfg.intermediate_size == 12, "%s: saved intermediate_size %d", name,
                  loaded.cfg.intermediate_size);
            CHECK_OK(all_logits(&loaded, zl, &err), &err);
            CHECK(memcmp(zl, got, n_logits * sizeof *zl) == 0,
                  "%s: the saved pruned checkpoint gives bit-identical logits", name);
            psw_model_free(&loaded);
            psw_test_rmtree(dir);
            free(dir);
        }
        psw_model_free(&pruned);
        psw_model_free(&zeroed);
    }
    psw_model_free(&same);
    psw_model_free(&m);
    free(ref);
    free(got);
    free(zl);
}

/* Parameter counts by hand for small_config at keep 12 of 24 (C=16, L=2, V=40, HD=4). */
static void test_report(void) {
    psw_err err = {0};
    /* OLMo2: NH=NKV=4 -> QD=KD=16. attention per layer: q,k,v,o 4*16*16 = 1024; norms per
     * layer: q_norm 16 + k_norm 16 + 2*16 = 64; MLP per layer 3*16*H. Embed 640, head 640
     * (untied), final norm 16. */
    psw_model_config cfg;
    small_config(&cfg, PSW_ARCH_OLMO2);
    psw_model m;
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 3, 0.1f);
    psw_model dst;
    psw_prune_report rep;
    CHECK_OK(psw_prune_mlp(&m, 0.5, PSW_PRUNE_L2, 0, &dst, NULL, &rep, &err), &err);
    int64_t mlp_ref = 2 * 3 * 16 * 24, mlp = 2 * 3 * 16 * 12;
    int64_t other = 2 * (1024 + 64) + 16; /* non-embedding, non-MLP */
    int64_t embed = 640 + 640;
    CHECK(rep.neurons_kept == 24 && rep.neurons_total == 48, "olmo2 neurons %lld/%lld",
          (long long)rep.neurons_kept, (long long)rep.neurons_total);
    CHECK(rep.params_mlp == mlp && rep.ref_params_mlp == mlp_ref, "olmo2 mlp %lld/%lld",
          (long long)rep.params_mlp, (long long)rep.ref_params_mlp);
    CHECK(rep.params_nonembed == mlp + other && rep.ref_params_nonembed == mlp_ref + other,
          "olmo2 non-embedding %lld/%lld", (long long)rep.params_nonembed,
          (long long)rep.ref_params_nonembed);
    CHECK(rep.params_total == mlp + other + embed && rep.ref_params_total == mlp_ref + other + embed,
          "olmo2 total %lld/%lld", (long long)rep.params_total, (long long)rep.ref_params_total);
    CHECK(rep.params_total == (int64_t)dst.params.total, "report total = arena size");
    CHECK_CLOSE(rep.retention_mlp, 0.5, 1e-15, 0, "olmo2 retention_mlp");
    CHECK_CLOSE(rep.retention_nonembed, (double)(mlp + other) / (double)(mlp_ref + other), 1e-15, 0,
                "olmo2 retention_nonembed (1728/2880)");
    CHECK_CLOSE(rep.retention_total, (double)(mlp + other + embed) / (double)(mlp_ref + other + embed),
                1e-15, 0, "olmo2 retention_total (3008/4160)");
    psw_model_free(&dst);
    psw_model_free(&m);

    /* Llama GQA tied: QD=16, KD=8. attention per layer: q 256 + k 128 + v 128 + o 256 = 768;
     * norms 2*16 per layer; embed 640 tied (no head); final norm 16. r = 0.25 -> 6 of 24. */
    small_config(&cfg, PSW_ARCH_LLAMA);
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 4, 0.1f);
    CHECK_OK(psw_prune_mlp(&m, 0.25, PSW_PRUNE_DOWN, 0, &dst, NULL, &rep, &err), &err);
    mlp_ref = 2 * 3 * 16 * 24, mlp = 2 * 3 * 16 * 6;
    other = 2 * (768 + 32) + 16;
    embed = 640;
    CHECK(rep.params_mlp == mlp && rep.params_nonembed == mlp + other &&
              rep.params_total == mlp + other + embed && rep.ref_params_total == mlp_ref + other + embed,
          "llama counts: mlp %lld nonembed %lld total %lld ref total %lld", (long long)rep.params_mlp,
          (long long)rep.params_nonembed, (long long)rep.params_total,
          (long long)rep.ref_params_total);
    CHECK_CLOSE(rep.retention_mlp, 0.25, 1e-15, 0, "llama retention_mlp");
    CHECK_CLOSE(rep.retention_nonembed, 2192.0 / 3920.0, 1e-15, 0, "llama retention_nonembed");
    CHECK_CLOSE(rep.retention_total, 2832.0 / 4560.0, 1e-15, 0, "llama retention_total");
    psw_model_free(&dst);
    psw_model_free(&m);
}

static void test_random_and_errors(void) {
    psw_model_config cfg;
    small_config(&cfg, PSW_ARCH_OLMO2);
    psw_model m, dst;
    psw_err err = {0};
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 9, 0.1f);
    double a[48], b[48], c[48];
    psw_prune_scores(&m, PSW_PRUNE_RANDOM, 42, a);
    psw_prune_scores(&m, PSW_PRUNE_RANDOM, 42, b);
    psw_prune_scores(&m, PSW_PRUNE_RANDOM, 43, c);
    CHECK(memcmp(a, b, sizeof a) == 0, "random scores: same seed, same scores");
    CHECK(memcmp(a, c, sizeof a) != 0, "random scores: another seed, other scores");
    bool in_range = true, layers_differ = memcmp(a, a + 24, 24 * sizeof *a) != 0;
    for (int i = 0; i < 48; i++) in_range &= a[i] >= 0.0 && a[i] < 1.0;
    CHECK(in_range && layers_differ, "random scores in [0, 1), layers drawn independently");
    int32_t k1[24], k2[24];
    CHECK_OK(psw_prune_mlp(&m, 0.5, PSW_PRUNE_RANDOM, 42, &dst, k1, NULL, &err), &err);
    psw_model_free(&dst);
    CHECK_OK(psw_prune_mlp(&m, 0.5, PSW_PRUNE_RANDOM, 42, &dst, k2, NULL, &err), &err);
    psw_model_free(&dst);
    CHECK(memcmp(k1, k2, sizeof k1) == 0, "random pruning is deterministic from its seed");
    /* The weight scores ignore the seed. */
    psw_prune_scores(&m, PSW_PRUNE_L2, 1, a);
    psw_prune_scores(&m, PSW_PRUNE_L2, 2, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "l2 scores do not depend on the seed");

    const double bad[] = {0.0, -0.5, 1.0000001, 2.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_FAILS(psw_prune_mlp(&m, bad[i], PSW_PRUNE_L2, 0, &dst, NULL, NULL, &err), &err,
                    PSW_ERR_INVALID_ARG, "outside (0, 1]");
        CHECK(dst.params.base == NULL, "failed prune leaves dst empty");
        psw_model_free(&dst); /* safe on the zeroed struct */
    }
    psw_model_free(&m);
}

int main(void) {
    test_toy_scores();
    test_select();
    test_keep_count();
    score_parse();
    test_equivalence(PSW_ARCH_OLMO2);
    test_equivalence(PSW_ARCH_LLAMA);
    test_report();
    test_random_and_errors();
    return psw_test_finish();
}
