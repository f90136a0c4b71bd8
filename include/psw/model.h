/* model.h: the transformer (OLMo2 or Llama) as arenas of fp32 parameters, gradients, AdamW
 * moments and activations, with forward, backward and the losses the study needs.
 *
 * Layout (llm.c style): each parameter kind is one contiguous block over all layers, rows as HF
 * stores them ([out_features, in_features]). Letters: B batch, T time, C hidden, L layers,
 * NH heads, NKV kv heads, HD head dim, QD = NH*HD, KD = NKV*HD, H intermediate, V vocab,
 * P requested positions.
 *
 * Ownership: the caller owns the psw_model struct; psw_model_* own every arena inside it.
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

/* Views into one arena; ptr[i] is NULL when count[i] == 0. */
typedef struct psw_params {
    float *base; /* owned arena, 64-byte aligned */
    float *ptr[PSW_P_COUNT];
    size_t count[PSW_P_COUNT]; /* floats per kind, over all layers */
    size_t total;              /* floats in the arena */
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

struct psw_acts; /* private activation arena (src/model/model_internal.h) */

typedef struct psw_model {
    psw_model_config cfg;
    psw_params params;      /* owned */
    psw_params grads;       /* owned; base NULL until psw_model_reserve(training=true). Laid out
                             * over the trainable kinds only: count 0 and ptr NULL for frozen
                             * kinds, total = sum of the trainable counts. */
    float *adam_m, *adam_v; /* owned; (grads.total) each, same layout as grads; allocated by
                             * psw_model_reserve(training) */
    long long adam_step;
    bool trainable[PSW_P_COUNT]; /* which kinds get gradients; default all. A tied head trains
                                  * through trainable[PSW_P_EMBED]. */
    struct psw_acts *acts;       /* owned */
} psw_model;

/* Allocates a zeroed parameter arena for cfg (validated first).
 * Errors: PSW_ERR_INVALID_ARG (bad cfg), PSW_ERR_NOMEM. */
psw_status psw_model_init(psw_model *m, const psw_model_config *cfg, psw_err *err);
/* Fills weights with N(0, std) (norm weights 1), deterministically from seed. */
void psw_model_init_random(psw_model *m, uint64_t seed, float std);
void psw_model_free(psw_model *m);
/* Deep copy of config and parameters (not grads/optimizer/activations) into dst. */
psw_status psw_model_clone(const psw_model *src, psw_model *dst, psw_err *err);

/* Chooses which parameter groups train (group_mask bit g = PSW_GROUP_g). Frozen kinds get
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
 * A later larger batch is PSW_ERR_INVALID_ARG. Errors: PSW_ERR_NOMEM. */
psw_status psw_model_reserve(psw_model *m, int max_B, int max_T, int max_P, bool training,
                             psw_err *err);

/* Forward pass. Writes logits (P, V) only for the flat positions pos[p] = b*T + t, which must
 * lie inside each row's length. Errors: PSW_ERR_INVALID_ARG (token or position out of range,
 * batch larger than reserved). */
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
/* Forward + loss only (no gradients), for validation. */
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
