/* prune.h: layer-wise structured pruning of MLP neurons.
 *
 * In every layer, each intermediate neuron j gets a score; the top round(r * H) neurons are kept
 * (ties go to the lower index) in their original order, and the rest are physically removed:
 * rows j of gate_proj and up_proj and column j of down_proj. The result is a new, smaller model;
 * the source is never modified (it stays the teacher). Attention and norms are untouched.
 *
 * Scores (per layer l, neuron j):
 *   l2      ||[gate_j, up_j, down_:,j]||_2   (the study's default: group L2 norm)
 *   down    ||down_:,j||_2
 *   gate_up ||[gate_j, up_j]||_2
 *   random  uniform, seeded (a baseline)
 * Norms accumulate in double. */
#ifndef PSW_PRUNE_H
#define PSW_PRUNE_H

#include "psw/model.h"

typedef enum psw_prune_score {
    PSW_PRUNE_L2 = 0,
    PSW_PRUNE_DOWN,
    PSW_PRUNE_GATE_UP,
    PSW_PRUNE_RANDOM,
} psw_prune_score;

const char *psw_prune_score_name(psw_prune_score s);
/* Parses "l2" | "down" | "gate_up" | "random"; false otherwise. */
bool psw_prune_score_parse(const char *name, psw_prune_score *out);

/* Parameter counts of a model and its retention against a reference (unpruned) model.
 * The paper's "about 50% retention" is ambiguous, so all three retentions are reported. */
typedef struct psw_prune_report {
    int64_t neurons_kept, neurons_total;         /* MLP neurons, summed over layers */
    int64_t params_total, params_mlp, params_nonembed;
    int64_t ref_params_total, ref_params_mlp, ref_params_nonembed;
    double retention_mlp, retention_nonembed, retention_total;
} psw_prune_report;

/* Neurons kept per layer for retention r in (0, 1]: round(r * H) with halves rounding up
 * (r * H within 1e-9 of x.5 counts as x.5, so decimal retentions behave as written), at least 1. */
int psw_prune_keep_count(int H, double retention);

/* Scores (L, H) for every neuron. scores is caller-owned. */
void psw_prune_scores(const psw_model *m, psw_prune_score kind, uint64_t seed, double *scores);

/* Indices of the `keep` best of H scores, ties to the lower index, ascending. kept: (keep). */
void psw_prune_select(const double *scores, int H, int keep, int32_t *kept);

/* Builds dst (caller-owned struct, initialised here) as src with only the kept neurons.
 * kept_out, if not NULL, receives (L, keep) indices. report, if not NULL, is filled.
 * Errors: PSW_ERR_INVALID_ARG (retention outside (0, 1]), PSW_ERR_NOMEM. */
psw_status psw_prune_mlp(const psw_model *src, double retention, psw_prune_score kind,
                         uint64_t seed, psw_model *dst, int32_t *kept_out,
                         psw_prune_report *report, psw_err *err);
/* As psw_prune_mlp, with dst's groups in bf16_groups (bit g = PSW_GROUP_g) stored as bf16 and
 * frozen, the rest fp32 (psw_prune_mlp keeps src's storage). Values are copied, never rounded
 * twice: bf16 -> bf16 and bf16 -> fp32 are exact, fp32 -> bf16 rounds once (nearest even).
 * Scores read src's values as fp32 whatever its storage. Errors: as psw_prune_mlp. */
psw_status psw_prune_mlp_storage(const psw_model *src, double retention, psw_prune_score kind,
                                 uint64_t seed, unsigned bf16_groups, psw_model *dst,
                                 int32_t *kept_out, psw_prune_report *report, psw_err *err);

/* Counts for a model config relative to a reference config (no pruning needed). */
void psw_prune_report_fill(const psw_model_config *pruned, const psw_model_config *reference,
                           psw_prune_report *report);

#endif
