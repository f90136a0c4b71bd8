/* model.h: the transformer (OLMo2 or Llama) as arenas of parameters (fp32, or bf16 for frozen
 * kinds: psw_model_init_storage), fp32 gradients, AdamW moments and activations, with forward,
 * backward and the losses the study needs. Compute is fp32 throughout.
 *
 * Layout (llm.c style): each parameter kind is one contiguous block over all layers, rows as HF
 * stores them ([out_features, in_features]). Letters: B batch, T time, C hidden, L layers,
 * NH heads, NKV kv heads, HD head dim, QD = NH*HD, KD = NKV*HD, H intermediate, V vocab,
 * P requested positions.
 *
 * Ownership: the caller owns the psw_model struct; psw_model_* own every arena inside it, except
 * a borrowed parameter arena (psw_model_init_borrowed, psw_model_load_into): that one belongs to
 * the caller, who keeps it alive until psw_model_free, which leaves it alone. A model over
 * borrowed parameters is read-only: nothing in psw_model_* writes its weights, and
 * psw_model_reserve(training=true) refuses it (prune or clone it to get a trainable copy).
 * This is how the sweep's workers share one node-wide copy of the teacher.
 * psw_model_free is safe on a zeroed or partly initialised struct. Not thread-safe: one model,
 * one thread of control (BLAS may use several threads inside a call).
 * Does not: tokenize, batch data, or read files (model_io.c does the HF directory I/O). */
#ifndef PSW_MODEL_H
#define PSW_MODEL_H

#include "psw/common.h"
#include "psw/config.h"

typedef enum psw_param_id {
    PSW_P_EMBED = 0,  /* (V, C)        model.embed_tokens.weight */
    PSW_P_Q,          /* (L, QD, C)    self_attn.q_proj.weight */
    PSW_P_K,          /* (L, KD, C)    self_attn.k_proj.weight */
    PSW_P_V,          /* (L, KD, C)    self_attn.v_proj.weight */
    PSW_P_O,          /* (L, C, QD)    self_attn.o_proj.weight */
    PSW_P_Q_NORM,     /* (L, QD)       self_attn.q_norm.weight (OLMo2 only; empty for Llama) */
    PSW_P_K_NORM,     /* (L, KD)       self_attn.k_norm.weight (OLMo2 only) */
    PSW_P_ATTN_NORM,  /* (L, C)        OLMo2 post_attention_layernorm; Llama input_layernorm */
    PSW_P_GATE,       /* (L, H, C)     mlp.gate_proj.weight */
    PSW_P_UP,         /* (L, H, C)     mlp.up_proj.weight */
    PSW_P_DOWN,       /* (L, C, H)     mlp.down_proj.weight */
    PSW_P_MLP_NORM,   /* (L, C)        OLMo2 post_feedforward_layernorm; Llama post_attention_layernorm */
    PSW_P_FINAL_NORM, /* (C)           model.norm.weight */
    PSW_P_LM_HEAD,    /* (V, C)        lm_head.weight (empty when tied to the embeddings) */
    PSW_P_COUNT
} psw_param_id;

/* Parameter groups, for reporting and for choosing what trains. */
typedef enum psw_param_group {
    PSW_GROUP_EMBED = 0,
    PSW_GROUP_ATTN, /* q, k, v, o */
    PSW_GROUP_MLP,  /* gate, up, down */
    PSW_GROUP_NORM, /* every RMSNorm weight, including q_norm and k_norm */
    PSW_GROUP_HEAD, /* lm_head (untied only) */
    PSW_GROUP_COUNT
} psw_param_group;

psw_param_group psw_param_group_of(psw_param_id id);
const char *psw_param_group_name(psw_param_group g);
/* Short name of a parameter kind, e.g. "gate_proj". */
const char *psw_param_name(psw_param_id id);

/* Views into one arena; ptr[i] is NULL when count[i] == 0. Storage is per kind: fp32 (ptr[i])
 * or bf16 (bf16[i], ptr[i] NULL), chosen by parameter group (bf16_groups, bit g = PSW_GROUP_g).
 * bf16 holds frozen weights at half the memory (issue #8); compute stays fp32: forward and
 * backward convert one layer's slice of a bf16 kind into a small fp32 scratch right before use
 * (psw_model_weight). The arena holds the fp32 kinds first, then the bf16 kinds, each block in
 * kind order; an all-fp32 arena is laid out exactly as before (total floats, kind order). */
typedef struct psw_params {
    float *base; /* the arena, 64-byte aligned: owned, or borrowed (read-only) when borrowed */
    float *ptr[PSW_P_COUNT];     /* fp32 kinds; NULL when empty or stored as bf16 */
    uint16_t *bf16[PSW_P_COUNT]; /* bf16 kinds (raw bf16 bits); NULL when empty or fp32 */
    size_t count[PSW_P_COUNT];   /* parameters per kind, over all layers */
    size_t total;                /* parameters in the arena (floats when all fp32) */
    size_t bytes;                /* bytes of parameter data in the arena */
    unsigned bf16_groups;        /* groups stored as bf16 (0: all fp32) */
    bool borrowed;               /* base belongs to someone else: never freed, never written */
} psw_params;

/* Fills counts (and total) for cfg; no allocation. Shapes of one layer's slice are
 * count[i] / L for per-layer kinds. */
void psw_params_layout(const psw_model_config *cfg, psw_params *layout);
/* Shape of parameter kind `id` for one layer (or the whole tensor for EMBED, FINAL_NORM,
 * LM_HEAD): rows and cols (cols == 1 for vectors). */
void psw_param_shape(const psw_model_config *cfg, psw_param_id id, size_t *rows, size_t *cols);

/* Memory the model needs for a batch shape, in bytes per arena. activations and logits are
 * two parts of the one activation allocation (logits (P, V) double as dlogits in backward);
 * optimizer is AdamW's m and v. */
typedef struct psw_model_memory {
    size_t params, grads, optimizer, activations, logits;
} psw_model_memory;
void psw_model_memory_plan(const psw_model_config *cfg, int B, int T, int P, bool training,
                           psw_model_memory *out);
/* The same for a model whose trainable groups are trainable_groups (bit g = PSW_GROUP_g):
 * gradients and AdamW state cover only those kinds (psw_model_memory_plan trains all). */
void psw_model_memory_plan_groups(const psw_model_config *cfg, int B, int T, int P, bool training,
                                  unsigned trainable_groups, psw_model_memory *out);
/* The same with the groups in bf16_groups stored as bf16 (which must not train): params is then
 * 2 bytes per bf16 parameter, 4 per fp32 one, plus the fp32 conversion scratch
 * (psw_params_scratch_floats) the model allocates beside the arena. */
void psw_model_memory_plan_storage(const psw_model_config *cfg, int B, int T, int P,
                                   bool training, unsigned trainable_groups, unsigned bf16_groups,
                                   psw_model_memory *out);
/* Bytes of parameter data when the groups in bf16_groups are bf16 (the arena, without scratch). */
size_t psw_params_bytes(const psw_model_config *cfg, unsigned bf16_groups);
/* Floats of fp32 scratch a model with these bf16 groups allocates: one layer's slice of each
 * per-layer bf16 kind, the final norm if bf16, and the LM head's chunk (psw_head_chunk_floats)
 * if the head (lm_head, or the embeddings when tied) is bf16. 0 when nothing is bf16. */
size_t psw_params_scratch_floats(const psw_model_config *cfg, unsigned bf16_groups);
/* Floats of the LM head's conversion chunk: max(largest per-layer kind slice, 64 * max(V, C)),
 * capped at V * C (the whole head). */
size_t psw_head_chunk_floats(const psw_model_config *cfg);

struct psw_acts; /* private activation arena (src/model/model_internal.h) */

typedef struct psw_model {
    psw_model_config cfg;
    psw_params params;      /* owned, or borrowed read-only (params.borrowed) */
    psw_params grads;       /* owned; base NULL until psw_model_reserve(training=true). Laid out
                             * over the trainable kinds only: count 0 and ptr NULL for frozen
                             * kinds, total = sum of the trainable counts. */
    float *adam_m, *adam_v; /* owned; (grads.total) each, same layout as grads; allocated by
                             * psw_model_reserve(training) */
    long long adam_step;
    bool trainable[PSW_P_COUNT]; /* which kinds get gradients; default all. A tied head trains
                                  * through trainable[PSW_P_EMBED]. A bf16 kind never trains. */
    struct psw_acts *acts;       /* owned */
    float *scratch;              /* owned; fp32 conversion scratch of the bf16 kinds (NULL when
                                  * all fp32), psw_params_scratch_floats(cfg, bf16_groups) */
    float *slot[PSW_P_COUNT];    /* into scratch: kind i's slot (one layer, the final norm, or
                                  * the head chunk for the head kind); NULL for fp32 kinds */
    size_t head_chunk;           /* floats of the head's slot; tests may lower it (not raise) to
                                  * exercise chunking on tiny models */
    /* psw_model_forward: false (default) runs the linear layers, attention and head once per
     * sequence, so a row's logits are bit-identical whatever its batch mates and padding; true
     * runs one GEMM over all rows of the batch, as training does (faster for short sequences;
     * OpenBLAS may then round a row differently with other batch mates). Set by the caller. */
    bool batched_forward;
    /* Training losses: false (the default) runs the last layer's queries, attention, output
     * projection and MLP only at the loss rows when at most half the rows carry a loss (answer
     * positions), forward and backward; true runs it on every row. The two agree to fp32
     * rounding. prepare-default sets it while it trains the embedded teacher, the recipe the
     * README's figures were measured with. Set by the caller. */
    bool loss_full_last_layer;
} psw_model;

/* Allocates a zeroed parameter arena for cfg (validated first).
 * Errors: PSW_ERR_INVALID_ARG (bad cfg), PSW_ERR_NOMEM. */
psw_status psw_model_init(psw_model *m, const psw_model_config *cfg, psw_err *err);
/* A model whose parameters are the caller's arena `base` (n_floats floats laid out as
 * psw_params_layout(cfg), e.g. a node-shared memory window), borrowed and read-only: base must
 * stay valid and unchanged until psw_model_free, which does not free it. Forward passes,
 * evaluation, pruning and cloning from it work as on an owned model; training does not.
 * Errors: PSW_ERR_INVALID_ARG (bad cfg; base NULL or not 64-byte aligned), PSW_ERR_SHAPE
 * (n_floats is not the layout's total). */
psw_status psw_model_init_borrowed(psw_model *m, const psw_model_config *cfg, const float *base,
                                   size_t n_floats, psw_err *err);
/* As psw_model_init with the groups in bf16_groups stored as bf16 (zeroed) and frozen:
 * trainable is false for them. bf16_groups 0 is psw_model_init. Errors: as psw_model_init. */
psw_status psw_model_init_storage(psw_model *m, const psw_model_config *cfg, unsigned bf16_groups,
                                  psw_err *err);
/* As psw_model_init_borrowed for an arena of `bytes` bytes laid out for bf16_groups
 * (psw_params_bytes). Errors: as psw_model_init_borrowed (PSW_ERR_SHAPE: bytes mismatch). */
psw_status psw_model_init_borrowed_storage(psw_model *m, const psw_model_config *cfg,
                                           unsigned bf16_groups, const void *base, size_t bytes,
                                           psw_err *err);
/* A copy of src (config, trainable flags, parameters) whose groups in bf16_groups are bf16:
 * fp32 -> bf16 rounds to nearest even, bf16 -> fp32 and bf16 -> bf16 are exact. dst owns its
 * arena. Errors: PSW_ERR_INVALID_ARG, PSW_ERR_NOMEM (dst is then freed). */
psw_status psw_model_convert_storage(const psw_model *src, unsigned bf16_groups, psw_model *dst,
                                     psw_err *err);
/* Copies n parameters of kind id, from element `off` of the kind (over all layers), into out
 * (n floats) as fp32, whatever the storage. */
void psw_params_read(const psw_params *p, psw_param_id id, size_t off, size_t n, float *out);
/* Kind id's weights for layer l (or the whole tensor for PSW_P_FINAL_NORM; l ignored) as fp32:
 * the arena slice of an fp32 kind, or, for a bf16 kind, the model's scratch slot filled by
 * converting that slice (valid until the next call for the same kind). NULL for an empty kind.
 * Not for PSW_P_EMBED / PSW_P_LM_HEAD (the forward converts their rows as needed). */
const float *psw_model_weight(psw_model *m, psw_param_id id, int l);
/* Fills weights with N(0, std) (norm weights 1), deterministically from seed. The parameters
 * must be owned (a borrowed arena is read-only); bf16 kinds get the rounded values. */
void psw_model_init_random(psw_model *m, uint64_t seed, float std);
void psw_model_free(psw_model *m);
/* Deep copy of config and parameters (not grads/optimizer/activations) into dst, which owns its
 * copy also when src's parameters are borrowed. */
psw_status psw_model_clone(const psw_model *src, psw_model *dst, psw_err *err);

/* Chooses which parameter groups train (group_mask bit g = PSW_GROUP_g); a group stored as
 * bf16 cannot (PSW_ERR_INVALID_ARG). Frozen kinds get
 * no gradient work and no gradient or AdamW memory at all. Call it before
 * psw_model_reserve(training=true) so the arenas are allocated once for this set; called after,
 * with a different set, it reallocates the gradient and AdamW arenas (zeroed) for the new set.
 * Errors: PSW_ERR_INVALID_ARG when the set changes after AdamW steps were taken (that would
 * discard optimizer state); PSW_ERR_NOMEM (the model is then unchanged). */
psw_status psw_model_set_trainable(psw_model *m, unsigned group_mask, psw_err *err);

/* A right-padded batch. Causal attention means padding (after `lengths[b]`) never influences
 * the real positions, so there is no separate mask. Borrowed. */
typedef struct psw_batch {
    const int32_t *tokens;  /* (B, T) */
    const int32_t *lengths; /* (B), 1..T */
    int B, T;
} psw_batch;

/* Sizes the activation arena for batches up to max_B x max_T with up to max_P requested
 * positions; training=true also keeps what backward needs and allocates gradients.
 * A later larger batch is PSW_ERR_INVALID_ARG; so is training=true on borrowed (read-only)
 * parameters. Errors: PSW_ERR_NOMEM. */
psw_status psw_model_reserve(psw_model *m, int max_B, int max_T, int max_P, bool training,
                             psw_err *err);

/* Forward pass. Writes logits (P, V) only for the flat positions pos[p] = b*T + t, which must
 * lie inside each row's length. Batch-invariant bit for bit: every linear layer runs once per
 * sequence with the shapes a forward of that sequence alone uses, as one-thread sgemm calls on
 * fixed blocks of output columns (shared out among the pool's threads;
 * psw_matmul_forward_seqs), so a sequence's logits are identical to its solo forward (same
 * positions in the same order), whatever its batch mates, padding, reservation (inference or
 * training) or thread count; unless m->batched_forward is set (one GEMM over the batch, faster,
 * deterministic but not batch-invariant). Errors: PSW_ERR_INVALID_ARG (token or position out of
 * range, batch larger than reserved). */
psw_status psw_model_forward(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                             float *logits, psw_err *err);

/* The loss at P positions: ce_weight * CE(targets) + kl_weight * T^2 * KL(teacher_T || student_T),
 * each averaged over the P positions. targets is required when ce_weight != 0 and must be NULL
 * otherwise; teacher_logits (P, V) likewise for kl_weight. Borrowed. */
typedef struct psw_loss_spec {
    int P;
    const int64_t *pos;           /* (P) flat b*T+t */
    const int32_t *targets;       /* (P) or NULL */
    const float *teacher_logits;  /* (P, V) or NULL */
    float temperature;            /* KL temperature, > 0 */
    float ce_weight, kl_weight;
    float grad_scale;             /* gradients are of grad_scale * loss (1/accumulation steps) */
} psw_loss_spec;

/* Forward + loss + backward. Accumulates into m->grads (call psw_model_zero_grad first).
 * *loss_out is the unscaled mean loss (double). A non-finite loss returns PSW_ERR_NUMERIC
 * without touching the gradients. */
psw_status psw_model_forward_backward(psw_model *m, const psw_batch *batch,
                                      const psw_loss_spec *loss, double *loss_out, psw_err *err);
/* Forward + loss only (no gradients), for validation. Like forward_backward it runs each
 * linear layer as one GEMM over the whole batch (fast, but not batch-invariant bit for bit). */
psw_status psw_model_loss(psw_model *m, const psw_batch *batch, const psw_loss_spec *loss,
                          double *loss_out, psw_err *err);
void psw_model_zero_grad(psw_model *m);

/* The causal-LM loss as a psw_loss_spec: every position t < lengths[b]-1 of every row, with
 * target token t+1. pos and targets (caller-owned) hold at least B*T entries; returns P. */
int psw_causal_lm_targets(const psw_batch *batch, int64_t *pos, int32_t *targets);

/* AdamW with decoupled weight decay (applied to matrices only, not norms), after global
 * gradient-norm clipping to max_grad_norm (<= 0 disables). *grad_norm_out gets the norm
 * before clipping. Non-finite norm: PSW_ERR_NUMERIC and no update. */
typedef struct psw_adamw {
    float lr, beta1, beta2, eps, weight_decay, max_grad_norm;
} psw_adamw;
psw_status psw_model_adamw_step(psw_model *m, const psw_adamw *opt, double *grad_norm_out,
                                psw_err *err);

/* Learning-rate schedule: linear warmup over `warmup` steps, then cosine (or linear) decay from
 * lr_max to lr_min at total_steps. step counts from 0. */
typedef enum psw_schedule_kind { PSW_SCHEDULE_COSINE = 0, PSW_SCHEDULE_LINEAR } psw_schedule_kind;
float psw_lr_at(psw_schedule_kind kind, long step, long warmup, long total_steps, float lr_max,
                float lr_min);

#endif
