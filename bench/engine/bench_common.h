/* bench_common.h: what the engine benchmarks share: the OLMo2 benchmark shapes of issue 2 and
 * their model config, the model FLOP count of a forward, medians, CPU time, a seeded LCG and
 * comma-list parsing. Benchmarks only: not part of the library. Plain values; no ownership. */
#ifndef PSW_BENCH_COMMON_H
#define PSW_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "psw/config.h"

typedef struct psw_bench_shape {
    const char *name;
    int C, L, NH, H, V, T, B; /* hidden, layers, heads (= kv heads), MLP width, vocab, seq, batch */
} psw_bench_shape;

/* tiny, small, medium */
#define PSW_BENCH_N_SHAPES 3
extern const psw_bench_shape psw_bench_shapes[PSW_BENCH_N_SHAPES];

/* The OLMo2 config of a shape (no GQA, untied head, max_position_embeddings = T). */
psw_model_config psw_bench_config(const psw_bench_shape *s);

/* Model FLOPs of one forward call (multiply-add = 2 FLOPs), the useful work only, with MLP
 * width H and logits at P positions:
 *   per token and layer, the linear layers: 2 * (C*QD + 2*C*KD + QD*C + 3*C*H);
 *   per sequence and layer, causal attention: QK^T and PV over the T(T+1)/2 visible pairs,
 *     2 * 2 * NH*HD * T(T+1)/2;
 *   the LM head at the P positions: 2 * C * V * P.
 * Norms, softmax, SwiGLU and RoPE are not counted. A training step is 3x (backward = 2x). */
double psw_bench_forward_flops(const psw_bench_shape *s, int H, double P);
/* Model FLOPs of an inference forward (psw_model_forward) with logits at the last position of
 * each of the B full-length sequences: the first L-1 layers as above; the last layer's keys and
 * values for every row, its queries, output projection and MLP on the B answer rows only, and
 * attention of one query row over T keys per sequence; the LM head on B rows. */
double psw_bench_inference_flops(const psw_bench_shape *s, int H);

/* Median of v[0..n) (sorts v in place). */
double psw_bench_median(double *v, int n);
/* Process CPU time in seconds (all threads). */
double psw_bench_cpu_now(void);
/* A fixed-seed LCG: the same random inputs in every run and every benchmark. */
uint32_t psw_bench_lcg(void);
/* Parses a comma list of up to n integers in 1..64 into out; returns the count, -1 on error. */
int psw_bench_parse_ints(const char *s, int *out, int n);
/* Marks the names of a comma list in sel (names[i] -> sel[i], the others false); false on an
 * unknown name. */
bool psw_bench_parse_names(const char *s, const char *const *names, int n, bool *sel);

/* The options every engine benchmark takes: --shapes tiny,small,medium  --threads 1,2
 * --warmup N  --reps N  --no-header. */
typedef struct psw_bench_opts {
    bool shapes[PSW_BENCH_N_SHAPES];
    int threads[8], n_threads;
    int warmup, reps;
    bool header;
} psw_bench_opts;
/* Defaults: every shape, threads 1 and 2, warmup 2, reps 7, header on. */
void psw_bench_opts_default(psw_bench_opts *o);
/* Handles argv[*i] when it is one of the options above, advancing *i past its value. Returns 1
 * when handled, 0 when argv[*i] is not one of them, -1 after printing "PROG: ..." for a missing
 * or bad value. */
int psw_bench_common_option(const char *prog, int argc, char **argv, int *i, psw_bench_opts *o);

#endif
