/* test_plan.c: the sweep planner (src/run/plan.c) against hand-computed FLOPs, memory and times
 * for a tiny OLMo2 (C=8 L=2 NH=2 NKV=1 HD=4 H=16 V=10), and its error paths. */
#include <math.h>
#include <string.h>

#include "psw/plan.h"
#include "test.h"

static psw_model_config tiny(void) {
    psw_model_config c = {0};
    c.arch = PSW_ARCH_OLMO2;
    c.hidden_size = 8;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 4;
    c.intermediate_size = 16;
    c.vocab_size = 10;
    c.max_position_embeddings = 16;
    c.rope_theta = 10000.0f;
    c.rms_norm_eps = 1e-6f;
    c.bos_token_id = c.eos_token_id = c.pad_token_id = -1;
    return c;
}

static const char spec_json[] =
    "{\"model\":{\"path\":\"m\"},\"data\":{\"train\":\"tr.jsonl\",\"test\":\"te.jsonl\"},"
    "\"prompt\":{\"shots\":0},\"training\":{\"max_seq_len\":4},"
    "\"grid\":{\"retention\":[0.5,0.25],\"data_size\":[2,4]}}";

int main(void) {
    psw_model_config cfg = tiny();
    psw_err err = {0};
    CHECK_OK(psw_config_validate(&cfg, "tiny", &err), &err);

    /* block(H) = C*QD + 2*C*KD + QD*C + 3*C*H = 64 + 64 + 64 + 24 H; forward = 2*T*L*block
     * + 2*L*T^2*QD + 2*P*V*C. */
    CHECK_CLOSE(psw_plan_forward_flops(&cfg, 1.0, 3, 1), 2 * 3 * 2 * 576 + 2 * 2 * 9 * 8 + 160, 0,
                0, "forward FLOPs T=3 P=1 r=1 (7360)");
    CHECK_CLOSE(psw_plan_forward_flops(&cfg, 0.5, 3, 1), 4608 + 288 + 160, 0, 0,
                "forward FLOPs r=0.5: H=8 (5056)");
    CHECK_CLOSE(psw_plan_forward_flops(&cfg, 1.0, 4, 4), 16 * 576 + 512 + 640, 0, 0,
                "forward FLOPs with logits at 4 positions");

    psw_spec spec;
    CHECK_OK(psw_spec_parse(spec_json, strlen(spec_json), "p.json", "", PSW_SPEC_MODE_RUN, &spec,
                            &err),
             &err);
    psw_plan_layout lay = {.nodes = 1, .ranks_per_node = 3, .threads_per_rank = 1,
                           .node_mem = 1e12, .train_gflops = 1.0, .fwd_gflops = 1.0};
    psw_plan p;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 1000.0, &lay, &p, &err), &err);
    CHECK(p.T_mem == 4 && p.T_mean == 4, "T for memory 4, mean prompt 4 (capped by max_seq_len)");
    CHECK(p.max_retention == 0.5 && p.needs_cache && p.workers == 2,
          "student at 0.5, kl needs the cache, 3 ranks = 2 workers");
    /* Per layer: q 64, k 32, v 32, o 64, q_norm 8, k_norm 4, two norms 16, gate/up/down 3 x 128
     * -> 604; x2 + embed 80 + final norm 8 + lm_head 80 = 1376 floats. At H=8: 992 floats. */
    CHECK_CLOSE(p.mem.teacher_params, 1376 * 4, 0, 0, "teacher weights 5504 bytes");
    CHECK_CLOSE(p.mem.student_params, 992 * 4, 0, 0, "student weights 3968 bytes");
    CHECK_CLOSE(p.mem.student_grads, 992 * 4, 0, 0, "student gradients");
    CHECK_CLOSE(p.mem.student_optimizer, 2 * 992 * 4, 0, 0, "AdamW m and v");
    CHECK(p.mem.teacher_acts > 0 && p.mem.student_acts > p.mem.teacher_acts,
          "training activations exceed evaluation activations");
    CHECK_CLOSE(p.mem.data, 1000 + 8 * (4 * 4 + 64), 0, 0, "data estimate");
    CHECK_CLOSE(p.mem.cache_file, 4096 + 6 * 8 + 5 * 10 * 2, 0, 0, "fp16 cache: 5 rows x V x 2");
    CHECK_CLOSE(p.mem.per_rank,
                p.mem.teacher_params + p.mem.teacher_acts + p.mem.student_params +
                    p.mem.student_grads + p.mem.student_optimizer + p.mem.student_acts + p.mem.data,
                0, 1e-15, "per rank is the sum");
    /* The workers share the teacher weights: once, plus 3 x the rest (the rest exceeds the
     * weights here, so rank 0's start-up copy fits in its own slot). */
    double own = p.mem.per_rank - 1376 * 4;
    CHECK(own > 1376 * 4, "a rank's own memory exceeds the teacher weights");
    CHECK_CLOSE(p.mem.per_node, 1376 * 4 + 3 * own + p.mem.cache_file, 0, 1e-15,
                "per node, shared weights");
    CHECK(p.fits, "fits in 1e12 bytes");
    lay.private_weights = true;
    psw_plan q;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 1000.0, &lay, &q, &err), &err);
    CHECK_CLOSE(q.mem.per_node, 3 * q.mem.per_rank + q.mem.cache_file, 0, 1e-15,
                "per node, a teacher copy per rank");
    lay.private_weights = false;

    /* dtype_frozen "bf16", trainable "mlp": the teacher's 1376 weights at 2 bytes = 2752; its
     * fp32 conversion scratch (slots rounded to 16 floats: q 64, k 32, v 32, o 64, q_norm 16,
     * k_norm 16, attn norm 16, gate/up/down 3 x 128, mlp norm 16, final norm 16, lm_head chunk
     * min(max(64 x 10, 128), 80) = 80; the embeddings none) = 736 floats = 2944 bytes, per rank,
     * so with the activations. Student at H=8: MLP 2 x 3 x 64 = 384 floats fp32 (1536 bytes),
     * the other 608 at 2 bytes (1216), scratch q 64 + k 32 + v 32 + o 64 + 4 norms x 16 + final
     * 16 + lm_head 80 = 352 floats (1408): 4160 bytes; gradients 1536, AdamW 3072. */
    {
        static const char bf_json[] =
            "{\"model\":{\"path\":\"m\",\"dtype_frozen\":\"bf16\"},\"data\":{\"train\":\"tr.jsonl\","
            "\"test\":\"te.jsonl\"},\"prompt\":{\"shots\":0},\"training\":{\"max_seq_len\":4,"
            "\"trainable\":\"mlp\"},\"grid\":{\"retention\":[0.5,0.25],\"data_size\":[2,4]}}";
        psw_spec bs;
        CHECK_OK(psw_spec_parse(bf_json, strlen(bf_json), "b.json", "", PSW_SPEC_MODE_RUN, &bs,
                                &err),
                 &err);
        psw_plan b;
        CHECK_OK(psw_plan_compute(&bs, &cfg, 5, 3, 1000.0, &lay, &b, &err), &err);
        CHECK_CLOSE(b.mem.teacher_params, 2752, 0, 0, "bf16 teacher weights 2752 bytes");
        CHECK_CLOSE(b.mem.teacher_acts, p.mem.teacher_acts + 2944, 0, 0,
                    "bf16 teacher: activations + 2944 bytes of scratch");
        CHECK_CLOSE(b.mem.student_params, 4160, 0, 0, "bf16 student weights 4160 bytes");
        CHECK_CLOSE(b.mem.student_grads, 1536, 0, 0, "trainable=mlp gradients");
        CHECK_CLOSE(b.mem.student_optimizer, 3072, 0, 0, "trainable=mlp AdamW");
        psw_spec_free(&bs);
    }

    /* Times at 1 GFLOP/s. forward(T=4, P=1) = 16 block + 672: r=1 9888, r=0.5 6816, r=0.25 5280.
     * A configuration: data_size x 3 forward (training) + 3 test forwards. */
    CHECK_CLOSE(p.t_teacher_eval, 3 * 9888e-9, 0, 1e-12, "teacher evaluation");
    CHECK_CLOSE(p.t_cache, 5 * 9888e-9, 0, 1e-12, "teacher cache");
    CHECK_CLOSE(p.t_unrecovered, 3 * (6816 + 5280) * 1e-9, 0, 1e-12, "unrecovered evaluations");
    CHECK_CLOSE(p.t_config_min, 9 * 5280e-9, 0, 1e-12, "smallest config (r 0.25, size 2)");
    CHECK_CLOSE(p.t_config_max, 15 * 6816e-9, 0, 1e-12, "largest config (r 0.5, size 4)");
    CHECK_CLOSE(p.t_configs, 580608e-9, 0, 1e-12, "all 8 configurations");
    CHECK_CLOSE(p.t_serial, 696000e-9, 0, 1e-12, "every task serially");
    CHECK_CLOSE(p.t_wall, 348000e-9, 0, 1e-12, "2 workers: serial / 2 beats the critical path");

    /* A node too small for 3 ranks: refused, and it says how many fit. */
    lay.node_mem = 1.5 * p.mem.per_rank;
    double per_rank = p.mem.per_rank;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 1000.0, &lay, &p, &err), &err);
    CHECK(!p.fits, "3 ranks do not fit in 1.5 ranks' memory");
    CHECK(p.max_ranks_per_node == (int)floor((0.9 * 1.5 * per_rank - p.mem.cache_file) / per_rank),
          "max ranks per node = floor((0.9 mem - cache) / per rank) = %d", p.max_ranks_per_node);

    /* The calibration constants' thread model: 1 thread = the 1-thread figure. */
    lay.node_mem = 1e12;
    lay.train_gflops = lay.fwd_gflops = 0;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 0, &lay, &p, &err), &err);
    CHECK_CLOSE(p.train_gflops, PSW_PLAN_CAL_TRAIN_1T, 0, 1e-12, "1 thread: calibrated train rate");
    lay.threads_per_rank = 2;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 0, &lay, &p, &err), &err);
    CHECK_CLOSE(p.fwd_gflops, PSW_PLAN_CAL_FWD_1T * 205.0 / 108.0, 0, 1e-12,
                "2 threads: the 1-thread rate x 205/108");
    lay.threads_per_rank = 8;
    CHECK_OK(psw_plan_compute(&spec, &cfg, 5, 3, 0, &lay, &p, &err), &err);
    CHECK_CLOSE(p.train_gflops, PSW_PLAN_CAL_TRAIN_1T * pow(205.0 / 108.0, 3), 0, 1e-12,
                "8 threads: three doublings");

    /* Errors. */
    lay.nodes = 0;
    CHECK_FAILS(psw_plan_compute(&spec, &cfg, 5, 3, 0, &lay, &p, &err), &err, PSW_ERR_INVALID_ARG,
                "layout: nodes 0");
    lay.nodes = 1;
    CHECK_FAILS(psw_plan_compute(&spec, &cfg, 0, 3, 0, &lay, &p, &err), &err, PSW_ERR_INVALID_ARG,
                "0 train and 3 test examples");
    psw_spec_free(&spec);

    /* A worker whose own memory is below the teacher's weights (only the MLP trains, the
     * student keeps 1/16 of a wide MLP): rank 0's short-lived private teacher copy at start-up
     * then needs the difference on top of its slot. */
    {
        psw_model_config wide = cfg;
        wide.intermediate_size = 4096;
        const char small_student[] =
            "{\"model\":{\"path\":\"m\"},\"data\":{\"train\":\"tr.jsonl\",\"test\":\"te.jsonl\"},"
            "\"prompt\":{\"shots\":0},\"training\":{\"max_seq_len\":4,\"trainable\":\"mlp\","
            "\"micro_batch\":1,\"eval_batch\":1},"
            "\"grid\":{\"retention\":[0.0625],\"loss\":[\"ce\"],\"data_size\":[2]}}";
        CHECK_OK(psw_spec_parse(small_student, strlen(small_student), "s.json", "",
                                PSW_SPEC_MODE_RUN, &spec, &err),
                 &err);
        psw_plan w;
        CHECK_OK(psw_plan_compute(&spec, &wide, 5, 3, 1000.0, &lay, &w, &err), &err);
        double w_teacher = w.mem.teacher_params, w_own = w.mem.per_rank - w_teacher;
        CHECK(w_own < w_teacher, "precondition: own %.0f < teacher %.0f bytes", w_own,
              w_teacher);
        CHECK_CLOSE(w.mem.per_node,
                    w_teacher + 3 * w_own + (w_teacher - w_own) + w.mem.cache_file, 0, 1e-15,
                    "per node with rank 0's start-up copy beyond its slot");
        psw_spec_free(&spec);
    }
    const char nogrid[] = "{\"model\":{\"path\":\"m\"}}";
    CHECK_OK(psw_spec_parse(nogrid, strlen(nogrid), "n.json", "", PSW_SPEC_MODE_RECOVER, &spec,
                            &err),
             &err);
    CHECK_FAILS(psw_plan_compute(&spec, &cfg, 5, 3, 0, &lay, &p, &err), &err, PSW_ERR_INVALID_ARG,
                "n.json: grid: the spec has no grid");
    psw_spec_free(&spec);

    double tg = 0, fg = 0;
    CHECK_FAILS(psw_plan_calibrate(2, 1, 1, &tg, &fg, &err), &err, PSW_ERR_INVALID_ARG,
                "calibrate: size 2");
    CHECK_OK(psw_plan_calibrate(0, 1, 1, &tg, &fg, &err), &err);
    /* A measurement, not a speed goal: only that it produced positive, finite rates (under
     * valgrind they are ~100x lower). */
    CHECK(tg > 0 && isfinite(tg) && fg > 0 && isfinite(fg),
          "calibration on the small model: train %.3g, forward %.3g GFLOP/s", tg, fg);
    return psw_test_finish();
}
