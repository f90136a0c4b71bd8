/* test_forward_batch.c: psw_model_forward is batch-invariant bit for bit. A batch of 5 sequences
 * of lengths 1..52, right-padded, gives logits identical (memcmp) to the 5 sequences run alone
 * (B = 1, T = their length):
 *  - at the last position of each sequence (P = 5 vs P = 1 alone, the evaluation call), and at
 *    every position (P = 112 vs P = length alone, the all-positions teacher cache call);
 *  - with wider padding (T = 64) and with the sequences in another order;
 *  - with OpenBLAS at 1 and at 2 threads, and the same bits at both (with 2 threads the batch
 *    runs each layer as one pool task per sequence; the solo forwards run op by op);
 *  - for a tiny OLMo2 whose widths are not multiples of 16 floats (C 48, HD 12, H 100, V 333:
 *    rows start at every alignment) and a tiny Llama with GQA (4 heads on 2 kv heads, tied).
 * Lengths 1..17 put a solo forward's projections into OpenBLAS's small-matrix sgemm kernel and
 * its edge tiles, which a 5-sequence GEMM would not use: a forward with one GEMM over the B*T
 * rows fails these checks (verified by hand). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "psw/model.h"
#include "test.h"

enum { NS = 5, TMAX = 64 };
static const int32_t seq_len[NS] = {9, 1, 33, 17, 52};

static psw_model_config cfg_of(psw_arch arch) {
    psw_model_config c = {0};
    c.arch = arch;
    bool olmo2 = arch == PSW_ARCH_OLMO2;
    c.hidden_size = olmo2 ? 48 : 64;
    c.intermediate_size = olmo2 ? 100 : 160;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = olmo2 ? 12 : 16;
    c.vocab_size = olmo2 ? 333 : 1300;
    c.max_position_embeddings = TMAX;
    c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-6f;
    c.tie_word_embeddings = !olmo2;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

static int32_t token_of(int s, int t, int V) { return (int32_t)((s * 977 + t * 131 + 7) % V); }

/* Logits of the batch made of sequences order[0..NS) padded to T; all = every position, else
 * the last one of each sequence. Returns P; logits (P, V) are in batch order. one_gemm: through
 * the internal forward with one GEMM over the batch (what training runs), not psw_model_forward. */
static int batch_logits(psw_model *m, const int *order, int T, bool all, float *logits,
                        bool one_gemm) {
    int V = m->cfg.vocab_size;
    int32_t tokens[NS * TMAX], lengths[NS];
    int64_t pos[NS * TMAX];
    int P = 0;
    for (int b = 0; b < NS; b++) {
        int s = order[b];
        lengths[b] = seq_len[s];
        for (int t = 0; t < T; t++)
            tokens[b * T + t] = t < seq_len[s] ? token_of(s, t, V) : (int32_t)((b + t) % V);
        for (int t = all ? 0 : seq_len[s] - 1; t < seq_len[s]; t++) pos[P++] = (int64_t)b * T + t;
    }
    psw_batch batch = {tokens, lengths, NS, T};
    psw_err err = {0};
    if (one_gemm) psw_forward_run(m, &batch, pos, P, logits, false, true);
    else CHECK_OK(psw_model_forward(m, &batch, pos, P, logits, &err), &err);
    return P;
}

/* The last-position logits of the batch through the training losses' forward: one GEMM per layer
 * and the full last layer. */
static void full_layer_logits(psw_model *m, const int *order, float *logits) {
    int32_t tokens[NS * TMAX], lengths[NS];
    int64_t pos[NS];
    for (int b = 0; b < NS; b++) {
        int s = order[b];
        lengths[b] = seq_len[s];
        for (int t = 0; t < TMAX; t++)
            tokens[b * TMAX + t] = t < seq_len[s] ? token_of(s, t, m->cfg.vocab_size) : (int32_t)((b + t) % m->cfg.vocab_size);
        pos[b] = (int64_t)b * TMAX + seq_len[s] - 1;
    }
    psw_batch batch = {tokens, lengths, NS, TMAX};
    psw_forward_run(m, &batch, pos, NS, logits, false, false);
}

/* Logits of sequence s alone (B = 1, T = its length); returns the rows written. */
static int solo_logits(psw_model *m, int s, bool all, float *logits) {
    int V = m->cfg.vocab_size, len = seq_len[s];
    int32_t tokens[TMAX];
    int64_t pos[TMAX];
    int P = 0;
    for (int t = 0; t < len; t++) tokens[t] = token_of(s, t, V);
    for (int t = all ? 0 : len - 1; t < len; t++) pos[P++] = t;
    psw_batch batch = {tokens, &len, 1, len};
    psw_err err = {0};
    CHECK_OK(psw_model_forward(m, &batch, pos, P, logits, &err), &err);
    return P;
}

static void check_arch(psw_arch arch, int threads) {
    const char *name = arch == PSW_ARCH_OLMO2 ? "olmo2" : "llama";
    openblas_set_num_threads(threads);
    psw_model_config cfg = cfg_of(arch);
    psw_model m;
    psw_err err = {0};
    CHECK_OK(psw_model_init(&m, &cfg, &err), &err);
    psw_model_init_random(&m, 21, 0.3f);
    CHECK_OK(psw_model_reserve(&m, NS, TMAX, NS * TMAX, false, &err), &err);
    size_t V = (size_t)cfg.vocab_size;
    float *solo = malloc(sizeof(float) * NS * TMAX * V);
    float *got = malloc(sizeof(float) * NS * TMAX * V);
    const int orders[2][NS] = {{0, 1, 2, 3, 4}, {4, 2, 0, 3, 1}};
    const int widths[2] = {52, TMAX};
    for (int all = 0; all < 2; all++) {
        /* The solo rows, concatenated in sequence order. */
        size_t row0[NS + 1] = {0};
        for (int s = 0; s < NS; s++)
            row0[s + 1] = row0[s] + (size_t)solo_logits(&m, s, all, solo + row0[s] * V);
        bool finite = true;
        for (size_t i = 0; i < row0[NS] * V; i++) finite &= isfinite(solo[i]) != 0;
        CHECK(finite, "%s: solo logits are finite", name);
        /* Not vacuous: the sequences' last rows differ from each other. */
        CHECK(memcmp(solo + (row0[1] - 1) * V, solo + (row0[2] - 1) * V, V * sizeof *solo) != 0 &&
                  memcmp(solo + (row0[3] - 1) * V, solo + (row0[5] - 1) * V, V * sizeof *solo) != 0,
              "%s: different sequences give different logits", name);
        for (int o = 0; o < 2; o++)
            for (int w = 0; w < 2; w++) {
                int P = batch_logits(&m, orders[o], widths[w], all, got, false);
                CHECK((size_t)P == row0[NS], "%s: %d positions", name, P);
                size_t r = 0;
                int same = 0;
                for (int b = 0; b < NS; b++) {
                    int s = orders[o][b];
                    size_t rows = row0[s + 1] - row0[s];
                    same += memcmp(got + r * V, solo + row0[s] * V, rows * V * sizeof *got) == 0;
                    r += rows;
                }
                CHECK(same == NS,
                      "%s, %d threads, %s, order %d, T=%d: %d of %d sequences bit-identical to "
                      "their solo forward",
                      name, threads, all ? "all positions" : "last position", o, widths[w], same,
                      NS);
            }
    }
    /* Every per-sequence GEMM is a one-thread call, and with 2 threads a batch of 5 runs each
     * layer as one task per sequence (a solo forward runs op by op): the logits of every
     * position are the same bits at 1 and 2 threads (OpenBLAS's own 2-thread split of a
     * GEMM can round differently: its Haswell kernels do). */
    static float *at_one_thread[2]; /* per architecture, kept from the 1-thread pass */
    static size_t at_one_thread_n[2];
    int ai = arch == PSW_ARCH_OLMO2;
    size_t n_all = (size_t)batch_logits(&m, orders[0], TMAX, true, got, false) * V;
    if (threads == 1) {
        at_one_thread[ai] = malloc(sizeof(float) * n_all);
        memcpy(at_one_thread[ai], got, sizeof(float) * n_all);
        at_one_thread_n[ai] = n_all;
    } else {
        CHECK(at_one_thread[ai] && at_one_thread_n[ai] == n_all &&
                  memcmp(at_one_thread[ai], got, sizeof(float) * n_all) == 0,
              "%s: the per-sequence forward gives the same bits at %d threads as at 1", name,
              threads);
        free(at_one_thread[ai]);
        at_one_thread[ai] = NULL;
    }
    /* batched_forward (training.eval_forward "batched") is the one-GEMM forward, bit for bit. */
    m.batched_forward = true;
    int P = batch_logits(&m, orders[1], TMAX, false, got, false);
    m.batched_forward = false;
    batch_logits(&m, orders[1], TMAX, false, solo, true);
    CHECK(memcmp(got, solo, (size_t)P * V * sizeof *got) == 0,
          "%s, %d threads: batched_forward gives the one-GEMM forward's logits", name, threads);
    /* The last layer at the requested rows only (every inference forward) against the full last
     * layer of the training forward: the same values up to fp32 rounding. */
    full_layer_logits(&m, orders[1], solo);
    CHECK(psw_test_check_tensor("last layer at rows vs full last layer", got, solo, (size_t)P * V,
                                1e-5, 1e-5),
          "%s, %d threads: last layer at the rows agrees with the full layer", name, threads);
    free(solo);
    free(got);
    psw_model_free(&m);
}

int main(void) {
    int threads0 = openblas_get_num_threads();
    for (int threads = 1; threads <= 2; threads++) {
        check_arch(PSW_ARCH_OLMO2, threads);
        check_arch(PSW_ARCH_LLAMA, threads);
    }
    openblas_set_num_threads(threads0);
    return psw_test_finish();
}
