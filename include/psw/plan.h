/* plan.h: what a sweep will cost before it runs: memory per rank and per node, and estimated time
 * per configuration and for the whole grid, from the spec and the model's config.json alone (no
 * weights, no tokenizer, no MPI). Behind `prunesweep plan`.
 *
 * Memory is what the engine allocates today (src/run/run.c, src/model/forward.c, storage.c):
 * weights at 4 bytes, except with model.dtype_frozen "bf16", where the teacher's weights (all
 * frozen) and the student's frozen groups are 2 bytes each, plus one layer of each bf16 kind (and
 * the LM head's chunk) as fp32 conversion scratch (psw_model_memory_plan_storage):
 *   worker rank = teacher (params + evaluation activations for eval_batch x T, + its scratch)
 *               + one student at the grid's largest retention (params; gradients and AdamW m, v
 *                 over the kinds training.trainable trains only (all, or gate/up/down for mlp);
 *                 training activations for max(micro_batch, eval_batch) x T)
 *               + tokenized data (estimate)
 *   node        = the teacher weights once (the workers of a node share one read-only copy,
 *                 src/sweep/shared_weights.c; without sharing: once per rank)
 *                 + ranks_per_node x (worker - teacher weights)
 *                 + what rank 0's short-lived private copy of the teacher (start-up) needs beyond
 *                   its own slot, when the slot is smaller than the weights
 *                 + the teacher cache once (memory-mapped, so the ranks of a node share its
 *                   pages; only when the grid has kl or mix).
 * T for memory is min(training.max_seq_len, max_position_embeddings): the longest prompt a run
 * accepts. A layout fits when the node total is at most PSW_PLAN_MEM_FRACTION of node memory.
 *
 * Time: FLOPs from psw_plan_forward_flops (matmuls, causal attention, the head at the scored
 * positions; a train step is 3x a forward), divided by the effective FLOP/s the engine reached on
 * this machine (PSW_PLAN_CAL_*, measured by psw_plan_calibrate). Prompt length for time is
 * psw_spec_prompt_tokens_estimate. Not modelled: padding inside batches, the AdamW update
 * (memory-bound, small next to the matmuls at these batch sizes), I/O, MPI.
 *
 * Ownership: plain value structs. */
#ifndef PSW_PLAN_H
#define PSW_PLAN_H

#include "psw/config.h"
#include "psw/spec.h"

/* Effective GFLOP/s of one engine thread on the development machine (Debian 12, 2 cores,
 * OpenBLAS pthreads, OPENBLAS_CORETYPE=Haswell as the environment sets it), measured with
 * `prunesweep plan --calibrate --threads-per-rank 1` (psw_plan_calibrate, medium size: OLMo2
 * C=768 L=4 NH=12 H=2048 V=16384, B=4 T=256; median of 5 after 1 warm-up; 2026-11-28). FLOPs are
 * counted with psw_plan_forward_flops, so the figures absorb what the count leaves out (norms,
 * softmax, RoPE, memory-bound kernels). The machine was shared with other builds (load average
 * about 8 on 2 cores) while measuring, so the figures are on the low side; a second run gave
 * 55.3 / 60.8. A clean 2-thread figure could not be measured under that load, so more threads
 * scale by PSW_PLAN_CAL_THREAD_SCALE per doubling: OpenBLAS sgemm's own 2-thread / 1-thread
 * ratio on this machine (205 / 108 GFLOP/s, /work/shared/NOTES.md). Measure your nodes with
 * --calibrate and pass --train-gflops / --fwd-gflops for a better estimate. */
#define PSW_PLAN_CAL_TRAIN_1T 66.5 /* train step (forward + backward + AdamW), 1 thread */
#define PSW_PLAN_CAL_FWD_1T 73.6   /* forward, logits at the last position, 1 thread */
#define PSW_PLAN_CAL_THREAD_SCALE (205.0 / 108.0) /* per doubling of threads */

#define PSW_PLAN_MEM_FRACTION 0.9 /* the rest is left to the OS, MPI buffers and page cache */

typedef struct psw_plan_layout {
    int nodes;            /* >= 1 */
    int ranks_per_node;   /* >= 1; rank 0 (the coordinator) runs no tasks when there are others */
    int threads_per_rank; /* >= 1 */
    double node_mem;      /* bytes of memory per node */
    double train_gflops;  /* effective GFLOP/s of one rank; 0 = from the calibration */
    double fwd_gflops;    /* likewise for forward passes */
    bool private_weights; /* run --no-shared-weights: every rank holds its own teacher copy */
} psw_plan_layout;

typedef struct psw_plan_memory { /* bytes */
    double teacher_params, teacher_acts;
    double student_params, student_grads, student_optimizer, student_acts;
    double data;
    double per_rank;   /* sum of the above */
    double cache_file; /* teacher cache file (0 when no kl/mix in the grid) */
    double per_node;   /* see the top of this file */
} psw_plan_memory;

typedef struct psw_plan {
    psw_plan_memory mem;
    int T_mem;             /* sequence length the memory plan reserves */
    int T_mean;            /* estimated mean prompt tokens (time) */
    int workers;           /* ranks that run tasks */
    double train_gflops, fwd_gflops; /* per rank, as used */
    double max_retention;  /* the student the memory plan sizes */
    bool needs_cache;      /* kl or mix in the grid */
    /* seconds on one rank */
    double t_teacher_eval, t_cache, t_unrecovered; /* t_unrecovered: all retentions together */
    double t_config_min, t_config_max, t_configs; /* recovered configurations; t_configs = sum */
    double t_serial;  /* every task, one after the other on one rank */
    double t_wall;    /* estimate with `workers` ranks: max(t_serial / workers, critical path) */
    bool fits;
    int max_ranks_per_node; /* most ranks per node that fit (0: not even one) */
} psw_plan;

/* FLOPs of one forward pass over a sequence of T tokens at MLP retention r (intermediate size
 * round(r * H)), with logits at P positions: 2 * T * (matmul parameters of the blocks)
 * + 2 * L * T^2 * NH * HD (QK^T and AV, causal half) + 2 * P * V * C. */
double psw_plan_forward_flops(const psw_model_config *cfg, double retention, double T, double P);

/* Fills out for the spec's grid on cfg with n_train / n_test examples (n_test after
 * data.limit_test) and train_bytes + test_bytes of data files. Errors: PSW_ERR_INVALID_ARG (bad
 * layout values, a spec without a grid). */
psw_status psw_plan_compute(const psw_spec *spec, const psw_model_config *cfg, size_t n_train,
                            size_t n_test, double data_bytes, const psw_plan_layout *layout,
                            psw_plan *out, psw_err *err);

/* Measures the engine's effective GFLOP/s on this machine with `threads` OpenBLAS threads, for a
 * train step and a forward pass of a random-weight OLMo2 of the given size (0 = small: C=256
 * L=4 NH=4 H=704 V=4096 B=4 T=128; 1 = medium, as in PSW_PLAN_CAL_*); median of `reps` timed
 * runs after one warm-up. Errors: PSW_ERR_INVALID_ARG (size, reps), PSW_ERR_NOMEM, engine
 * errors. */
psw_status psw_plan_calibrate(int size, int threads, int reps, double *train_gflops,
                              double *fwd_gflops, psw_err *err);

#endif
