/* model_internal.h: private to src/model: arena helpers and the activation arena. */
#ifndef PSW_MODEL_INTERNAL_H
#define PSW_MODEL_INTERNAL_H

#include "psw/model.h"

void psw_params_free(psw_params *p);
/* Layout of cfg restricted to the kinds with trainable[i]: the others get count 0, and total
 * sums the rest (the gradient and AdamW layout). No allocation. */
void psw_params_layout_trainable(const psw_model_config *cfg, const bool *trainable,
                                 psw_params *layout);
/* (Re)allocates m->grads, m->adam_m and m->adam_v, zeroed, for m->trainable, and resets the
 * AdamW step. Builds the new arenas before freeing the old, so on PSW_ERR_NOMEM the model is
 * unchanged. */
psw_status psw_model_alloc_train_state(psw_model *m, psw_err *err);

/* Activations of one layer; letters as in model.h, BT = B*T rows of the current batch (the
 * arena is sized for the reserved maximum). Unused fields (other architecture) are NULL. */
typedef struct psw_layer_acts {
    float *ln1, *ln1_rstd;   /* Llama input_layernorm: (BT, C), (BT) */
    float *qraw, *kraw;      /* OLMo2 projections before q_norm/k_norm: (BT, QD), (BT, KD) */
    float *q_rstd, *k_rstd;  /* OLMo2: (BT) each */
    float *q, *k, *v;        /* after norm and RoPE: (BT, QD), (BT, KD), (BT, KD) */
    float *att;              /* softmax probabilities (B, NH, T, T) */
    float *atty;             /* attention output before o_proj (BT, QD) */
    float *attn_o, *attn_rstd; /* OLMo2 o_proj output before post_attention_layernorm */
    float *mid;              /* residual stream after the attention block (BT, C) */
    float *ln2, *ln2_rstd;   /* Llama post_attention_layernorm (BT, C), (BT) */
    float *gate, *up, *act;  /* (BT, H) each; act = silu(gate) * up */
    float *mlp_o, *mlp_rstd; /* OLMo2 down_proj output before post_feedforward_layernorm */
} psw_layer_acts;

/* The activation arena: one allocation (base) sized by psw_model_reserve. With training, each
 * layer keeps its own psw_layer_acts for backward; for inference all layers share one set and
 * the residual stream ping-pongs between two buffers. */
struct psw_acts {
    int max_B, max_T, max_P;
    bool training;
    float *base; /* owned */
    size_t bytes;
    float *rope_cos, *rope_sin; /* (max_T, HD/2) */
    float **resid;              /* (L+1) pointers to (BT, C): input of layer l, final at [L]; owned array */
    psw_layer_acts *layer;      /* (L), owned array */
    float *xg, *lnf, *lnf_rstd; /* gathered final rows (P, C), final norm (P, C), (P) */
    double *row_loss;           /* (P): each loss row's value, summed in row order */
    float *logits;              /* (P, V); dlogits in place during backward */
    /* backward scratch (training only) */
    float *dres, *dtmp;         /* (BT, C) */
    float *dq, *dk, *dv;        /* (BT, QD), (BT, KD), (BT, KD) */
    float *dqraw, *dkraw;       /* OLMo2 only */
    float *datty;               /* (BT, QD) */
    float *dgate, *dup, *dact;  /* (BT, H) */
    float *datt;                /* (T, T) */
    float *dxg, *dlnf;          /* (P, C) */
};

/* The activation arena (defined in forward.c). NULL-safe free. */
void psw_acts_free(struct psw_acts *acts);

/* bf16 <-> fp32 over n values: widening is exact; narrowing rounds to nearest even (as
 * psw_f32_to_bf16). */
void psw_bf16_to_f32_n(float *out, const uint16_t *in, size_t n);
void psw_f32_to_bf16_n(uint16_t *out, const float *in, size_t n);
/* Floats of kind id's scratch slot when it is bf16 (head: the kind holding the LM head). */
size_t psw_scratch_slot_floats(const psw_model_config *cfg, psw_param_id id, psw_param_id head);
/* Token embedding lookup (psw_embedding_forward) from fp32 or bf16 embeddings: a bf16 table
 * converts just the rows the batch reads. out (B*T, C). */
void psw_embed_lookup(const psw_model *m, float *out, const psw_batch *batch);
/* logits (P, V) = x (P, C) @ head^T. fp32: the sgemm calls psw_forward_run always made (one
 * call, or with per_seq one per run of consecutive positions of one sequence and block of
 * PSW_SEQ_GEMM_COLS vocabulary columns: psw_matmul_forward_runs). bf16: the head is converted in
 * chunks of rows into its slot and each call is split at the chunk boundaries too (with per_seq
 * the column blocks then start at each chunk), so every chunk is converted once per forward. */
void psw_head_forward(psw_model *m, float *logits, const float *x, const int64_t *pos, int P,
                      int T, bool per_seq);
/* Backward of psw_head_forward (not per_seq): dx (P, C) += dlogits (P, V) @ head when dx is
 * non-NULL, dhead (V, C) += dlogits^T @ x when dhead is non-NULL (fp32 heads only: a bf16 head is
 * frozen). A bf16 head is converted in chunks of columns, so each dx element is still one sum over
 * all of V in one sgemm; when C takes several chunks, OpenBLAS may still round an element
 * differently than in the one sgemm of an fp32 head (other N), so the two agree to fp32 rounding,
 * and bit for bit when the head fits one chunk (psw_head_chunk_floats). */
void psw_head_backward(psw_model *m, float *dx, float *dhead, const float *dlogits,
                       const float *x, int P);

/* Layer l's slice of a per-layer parameter kind (NULL for an empty kind). */
float *psw_layer_param(const psw_params *p, const psw_model_config *cfg, psw_param_id id, int l);
/* Validates a batch and positions against the reservation and the vocabulary. */
psw_status psw_check_batch(const psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                           bool training, psw_err *err);
/* The forward pass proper (no checks): fills the activations and logits (P, V). per_seq
 * (psw_model_forward) runs every linear layer once per sequence with the shapes a forward of
 * that sequence alone would use, so a row's result does not depend on its batch mates or the
 * padding, bit for bit; false (the training losses) runs each as one BT-row GEMM.
 * last_layer_at_pos runs the last layer's queries, attention, output projection and MLP on the
 * P rows at pos only (keys and values on every row): psw_model_forward always, the training
 * losses when psw_loss_at_rows (their backward then goes back through those rows only). */
void psw_forward_run(psw_model *m, const psw_batch *batch, const int64_t *pos, int P,
                     float *logits, bool per_seq, bool last_layer_at_pos);
/* out (P, out_dim) = in (P, in_dim) @ w^T for gathered rows at flat positions pos (b * T + t).
 * With per_seq, one call per run of consecutive positions of one sequence (what that sequence's
 * solo forward calls with the same positions; psw_matmul_forward_runs); otherwise one call. */
void psw_rows_matmul(float *out, const float *in, const float *w, const int64_t *pos, int P,
                     int T, bool per_seq, int in_dim, int out_dim);
/* dst row p (C floats) = src row pos[p]. */
void psw_gather_rows(float *dst, const float *src, const int64_t *pos, int P, int C);
/* Whether the training losses run the last layer at the loss rows only: when at most half of
 * the batch's B*T rows carry a loss (answer positions), not for causal-LM losses at (nearly)
 * every position, where the full layer is as cheap. */
static inline bool psw_loss_at_rows(const psw_batch *batch, int P) {
    return 2 * (int64_t)P <= (int64_t)batch->B * batch->T;
}
/* psw_model_forward_backward with the choice made by the caller (tests compare both ways). */
psw_status psw_forward_backward_run(psw_model *m, const psw_batch *batch,
                                    const psw_loss_spec *loss, double *loss_out, bool at_rows,
                                    psw_err *err);

#endif
