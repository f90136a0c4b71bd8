/* test_model_io.c: HF directory save/load for OLMo2 and Llama (F32, BF16, sharded, tied), the
 * HF tensor names per parameter kind (read back through the raw safetensors reader), and one
 * check of status + message per checkpoint that disagrees with its config.json. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "psw/model_io.h"
#include "test.h"

static char *tmp;

static void remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char *p = psw_path_join(path, e->d_name);
            remove_tree(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* OLMo2 with GQA and head_dim (6) != hidden / heads (4). */
static psw_model_config olmo2_cfg(void) {
    return (psw_model_config){.arch = PSW_ARCH_OLMO2, .hidden_size = 16, .intermediate_size = 24,
                              .num_layers = 2, .num_heads = 4, .num_kv_heads = 2, .head_dim = 6,
                              .vocab_size = 40, .max_position_embeddings = 32,
                              .rope_theta = 500000.0f, .rms_norm_eps = 1e-6f,
                              .tie_word_embeddings = false, .bos_token_id = -1,
                              .eos_token_id = 3, .pad_token_id = 4};
}

static psw_model_config llama_cfg(bool tied) {
    return (psw_model_config){.arch = PSW_ARCH_LLAMA, .hidden_size = 16, .intermediate_size = 20,
                              .num_layers = 3, .num_heads = 4, .num_kv_heads = 1, .head_dim = 4,
                              .vocab_size = 30, .max_position_embeddings = 64,
                              .rope_theta = 10000.0f, .rms_norm_eps = 1e-5f,
                              .tie_word_embeddings = tied, .bos_token_id = 1,
                              .eos_token_id = 2, .pad_token_id = -1};
}

/* Random weights, with norms perturbed so they are not all 1 (which would hide mix-ups). */
static void make_model(psw_model *m, const psw_model_config *cfg, uint64_t seed) {
    psw_err err = {0};
    PSW_ASSERT(psw_model_init(m, cfg, &err) == PSW_OK);
    psw_model_init_random(m, seed, 0.5f);
    for (int id = 0; id < PSW_P_COUNT; id++)
        if (psw_param_group_of((psw_param_id)id) == PSW_GROUP_NORM)
            for (size_t i = 0; i < m->params.count[id]; i++)
                m->params.ptr[id][i] += 0.01f * (float)(id * 7 + (int)i % 13);
}

static bool cfg_equal(const psw_model_config *a, const psw_model_config *b) {
    return a->arch == b->arch && a->hidden_size == b->hidden_size &&
           a->intermediate_size == b->intermediate_size && a->num_layers == b->num_layers &&
           a->num_heads == b->num_heads && a->num_kv_heads == b->num_kv_heads &&
           a->head_dim == b->head_dim && a->vocab_size == b->vocab_size &&
           a->max_position_embeddings == b->max_position_embeddings &&
           a->rope_theta == b->rope_theta && a->rms_norm_eps == b->rms_norm_eps &&
           a->tie_word_embeddings == b->tie_word_embeddings && a->bos_token_id == b->bos_token_id &&
           a->eos_token_id == b->eos_token_id && a->pad_token_id == b->pad_token_id;
}

static void check_same(const psw_model *a, const psw_model *b, bool bf16, const char *what) {
    CHECK(cfg_equal(&a->cfg, &b->cfg), "%s: config", what);
    for (int id = 0; id < PSW_P_COUNT; id++) {
        CHECK(a->params.count[id] == b->params.count[id], "%s: count %s", what,
              psw_param_name((psw_param_id)id));
        size_t n = a->params.count[id], bad = 0;
        for (size_t i = 0; i < n && a->params.count[id] == b->params.count[id]; i++) {
            float want = a->params.ptr[id][i];
            if (bf16) want = psw_bf16_to_f32(psw_f32_to_bf16(want));
            if (b->params.ptr[id][i] != want) bad++;
        }
        CHECK(bad == 0, "%s: %s: %zu of %zu values differ", what, psw_param_name((psw_param_id)id),
              bad, n);
    }
}

static char *sub(const char *name) { return psw_path_join(tmp, name); }

static void test_round_trips(void) {
    psw_err err = {0};
    struct {
        psw_model_config cfg;
        psw_save_dtype dtype;
        size_t shard;
        const char *name;
    } cases[] = {
        {olmo2_cfg(), PSW_SAVE_F32, 0, "olmo2_f32"},
        {olmo2_cfg(), PSW_SAVE_BF16, 0, "olmo2_bf16"},
        {olmo2_cfg(), PSW_SAVE_F32, 2000, "olmo2_sharded"},
        {llama_cfg(true), PSW_SAVE_F32, 0, "llama_tied"},
        {llama_cfg(false), PSW_SAVE_BF16, 1500, "llama_untied_bf16_sharded"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        psw_model m, back;
        make_model(&m, &cases[c].cfg, 100 + c);
        char *dir = sub(cases[c].name);
        CHECK_OK(psw_model_save(&m, dir, cases[c].dtype, cases[c].shard, &err), &err);
        psw_status st = psw_model_load(&back, dir, &err);
        CHECK_OK(st, &err);
        if (st == PSW_OK) {
            check_same(&m, &back, cases[c].dtype == PSW_SAVE_BF16, cases[c].name);
            psw_model_free(&back);
        }
        psw_checkpoint_info info;
        CHECK_OK(psw_checkpoint_inspect(dir, &info, &err), &err);
        size_t want_tensors = 3 + (size_t)cases[c].cfg.num_layers *
                                      (cases[c].cfg.arch == PSW_ARCH_OLMO2 ? 11 : 9) -
                              (cases[c].cfg.tie_word_embeddings ? 1 : 0);
        size_t elsize = cases[c].dtype == PSW_SAVE_BF16 ? 2 : 4;
        psw_dtype dt = cases[c].dtype == PSW_SAVE_BF16 ? PSW_DTYPE_BF16 : PSW_DTYPE_F32;
        CHECK(info.n_tensors == want_tensors && info.n_by_dtype[dt] == want_tensors,
              "%s: %zu tensors, want %zu", cases[c].name, info.n_tensors, want_tensors);
        CHECK(info.bytes_by_dtype[dt] == m.params.total * elsize, "%s: data bytes", cases[c].name);
        CHECK(info.bytes_on_disk > m.params.total * elsize, "%s: bytes on disk", cases[c].name);
        CHECK(cases[c].shard ? info.n_files > 2 : info.n_files == 1, "%s: %d files",
              cases[c].name, info.n_files);
        psw_model_free(&m);
        free(dir);
    }
}

/* The names HF expects, read back through the raw reader, hold the right parameter kind. */
static void check_named(const psw_safetensors *st, const char *name, const float *want, size_t n) {
    const psw_st_tensor *t = psw_st_find(st, name);
    CHECK(t != NULL, "tensor %s present", name);
    if (!t) return;
    float *got = malloc(n * sizeof *got);
    psw_err err = {0};
    CHECK(t->numel == n && psw_st_read_f32(st, t, got, &err) == PSW_OK &&
              memcmp(got, want, n * sizeof *got) == 0,
          "tensor %s holds the expected parameter", name);
    free(got);
}

static void test_names(void) {
    psw_err err = {0};
    psw_model m;
    psw_safetensors st;
    psw_model_config oc = olmo2_cfg();
    make_model(&m, &oc, 7);
    char *dir = sub("names_olmo2");
    CHECK_OK(psw_model_save(&m, dir, PSW_SAVE_F32, 0, &err), &err);
    CHECK_OK(psw_st_open_dir(&st, dir, &err), &err);
    size_t C = 16, H = 24, QD = 24, KD = 12;
    check_named(&st, "model.embed_tokens.weight", m.params.ptr[PSW_P_EMBED], 40 * C);
    check_named(&st, "lm_head.weight", m.params.ptr[PSW_P_LM_HEAD], 40 * C);
    check_named(&st, "model.norm.weight", m.params.ptr[PSW_P_FINAL_NORM], C);
    check_named(&st, "model.layers.1.self_attn.q_proj.weight", m.params.ptr[PSW_P_Q] + QD * C, QD * C);
    check_named(&st, "model.layers.1.self_attn.k_proj.weight", m.params.ptr[PSW_P_K] + KD * C, KD * C);
    check_named(&st, "model.layers.1.self_attn.v_proj.weight", m.params.ptr[PSW_P_V] + KD * C, KD * C);
    check_named(&st, "model.layers.1.self_attn.o_proj.weight", m.params.ptr[PSW_P_O] + C * QD, C * QD);
    check_named(&st, "model.layers.1.self_attn.q_norm.weight", m.params.ptr[PSW_P_Q_NORM] + QD, QD);
    check_named(&st, "model.layers.1.self_attn.k_norm.weight", m.params.ptr[PSW_P_K_NORM] + KD, KD);
    check_named(&st, "model.layers.1.post_attention_layernorm.weight",
                m.params.ptr[PSW_P_ATTN_NORM] + C, C);
    check_named(&st, "model.layers.1.post_feedforward_layernorm.weight",
                m.params.ptr[PSW_P_MLP_NORM] + C, C);
    check_named(&st, "model.layers.1.mlp.gate_proj.weight", m.params.ptr[PSW_P_GATE] + H * C, H * C);
    check_named(&st, "model.layers.1.mlp.up_proj.weight", m.params.ptr[PSW_P_UP] + H * C, H * C);
    check_named(&st, "model.layers.1.mlp.down_proj.weight", m.params.ptr[PSW_P_DOWN] + C * H, C * H);
    const psw_st_tensor *q = psw_st_find(&st, "model.layers.0.self_attn.q_proj.weight");
    CHECK(q && q->ndim == 2 && q->shape[0] == QD && q->shape[1] == C, "q_proj shape [QD, C]");
    const psw_st_tensor *qn = psw_st_find(&st, "model.layers.0.self_attn.q_norm.weight");
    CHECK(qn && qn->ndim == 1 && qn->shape[0] == QD, "q_norm shape [QD]");
    CHECK(psw_st_find(&st, "model.layers.0.input_layernorm.weight") == NULL,
          "OLMo2 has no input_layernorm");
    psw_st_close(&st);
    psw_model_free(&m);
    free(dir);

    psw_model_config lc = llama_cfg(true);
    make_model(&m, &lc, 8);
    dir = sub("names_llama");
    CHECK_OK(psw_model_save(&m, dir, PSW_SAVE_F32, 0, &err), &err);
    CHECK_OK(psw_st_open_dir(&st, dir, &err), &err);
    check_named(&st, "model.layers.2.input_layernorm.weight", m.params.ptr[PSW_P_ATTN_NORM] + 2 * C, C);
    check_named(&st, "model.layers.2.post_attention_layernorm.weight",
                m.params.ptr[PSW_P_MLP_NORM] + 2 * C, C);
    CHECK(psw_st_find(&st, "lm_head.weight") == NULL, "tied Llama writes no lm_head");
    CHECK(psw_st_find(&st, "model.layers.0.self_attn.q_norm.weight") == NULL, "Llama has no q_norm");
    psw_st_close(&st);
    char *cfg_text = NULL, *cfg_path = psw_path_join(dir, "config.json");
    CHECK_OK(psw_read_file(cfg_path, &cfg_text, NULL, &err), &err);
    CHECK(cfg_text && strstr(cfg_text, "\"tie_word_embeddings\":\ttrue") &&
              strstr(cfg_text, "\"torch_dtype\":\t\"float32\""),
          "llama config.json");
    free(cfg_text);
    free(cfg_path);
    psw_model_free(&m);
    free(dir);
}

/* Writes model m's tensors into dir, with edits: drop `drop`, add an extra tensor `extra_name`
 * (shape rows x cols), or reshape `reshape` to rows x cols. config.json from cfg_json_cfg. */
typedef struct edit {
    const char *drop, *extra_name, *reshape;
    size_t rows, cols;
} edit;

static char *write_edited(const char *name, const psw_model *m, const psw_model_config *cfg_file,
                          edit e) {
    psw_err err = {0};
    char *dir = sub(name);
    PSW_ASSERT(psw_mkdir_p(dir, &err) == PSW_OK);
    psw_st_write_tensor ts[64];
    char names[64][96];
    float *scratch = calloc(4096, sizeof(float));
    size_t n = 0;
    for (int id = 0; id < PSW_P_COUNT; id++) {
        if (!m->params.count[id]) continue;
        size_t rows, cols;
        psw_param_shape(&m->cfg, (psw_param_id)id, &rows, &cols);
        bool layered = id != PSW_P_EMBED && id != PSW_P_FINAL_NORM && id != PSW_P_LM_HEAD;
        for (int l = 0; l < (layered ? m->cfg.num_layers : 1); l++) {
            psw_param_hf_name(m->cfg.arch, (psw_param_id)id, l, names[n], sizeof names[n]);
            if (e.drop && strcmp(names[n], e.drop) == 0) continue;
            ts[n] = (psw_st_write_tensor){names[n], cols == 1 ? 1 : 2, {rows, cols},
                                          m->params.ptr[id] + (size_t)l * rows * cols};
            if (e.reshape && strcmp(names[n], e.reshape) == 0) {
                ts[n].shape[0] = e.rows, ts[n].shape[1] = e.cols, ts[n].data = scratch;
                ts[n].ndim = e.cols ? 2 : 1;
            }
            n++;
        }
    }
    if (e.extra_name) {
        snprintf(names[n], sizeof names[n], "%s", e.extra_name);
        ts[n++] = (psw_st_write_tensor){names[n - 1], e.cols ? 2 : 1, {e.rows, e.cols}, scratch};
    }
    PSW_ASSERT(psw_st_write(dir, ts, n, PSW_DTYPE_F32, 0, &err) == PSW_OK);
    char *cfg_path = psw_path_join(dir, "config.json");
    PSW_ASSERT(psw_config_save(cfg_path, cfg_file, "float32", &err) == PSW_OK);
    free(cfg_path);
    free(scratch);
    return dir;
}

static void expect_load_fail(const char *dir, psw_status want, const char *needle, int line) {
    psw_model m;
    psw_err err = {0};
    psw_status st = psw_model_load(&m, dir, &err);
    psw_test_check_fails(st, &err, want, needle, __FILE__, line, dir);
    if (st == PSW_OK) psw_model_free(&m);
    /* info reports the same problem */
    psw_checkpoint_info info;
    psw_err err2 = {0};
    st = psw_checkpoint_inspect(dir, &info, &err2);
    psw_test_check_fails(st, &err2, want, needle, __FILE__, line, "inspect");
}
#define EXPECT_LOAD_FAIL(dir, want, needle) expect_load_fail((dir), (want), (needle), __LINE__)

static void test_bad_checkpoints(void) {
    psw_err err = {0};
    psw_model m;
    psw_model_config oc = olmo2_cfg();
    make_model(&m, &oc, 9);
    char *d;

    d = write_edited("missing", &m, &oc, (edit){.drop = "model.layers.1.mlp.up_proj.weight"});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE,
                     "model.safetensors: missing tensor model.layers.1.mlp.up_proj.weight (");
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE, "config.json wants [24, 16])");
    free(d);

    d = write_edited("unexpected", &m, &oc,
                     (edit){.extra_name = "model.layers.2.mlp.up_proj.weight", .rows = 24, .cols = 16});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE,
                     "model.safetensors: unexpected tensor model.layers.2.mlp.up_proj.weight (not "
                     "part of a Olmo2ForCausalLM");
    free(d);

    d = write_edited("shape", &m, &oc,
                     (edit){.reshape = "model.layers.0.mlp.down_proj.weight", .rows = 24, .cols = 16});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE,
                     "model.safetensors: tensor model.layers.0.mlp.down_proj.weight: shape [24, 16] "
                     "but");
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE, "config.json wants [16, 24]");
    free(d);

    d = write_edited("vec_as_matrix", &m, &oc,
                     (edit){.reshape = "model.norm.weight", .rows = 1, .cols = 16});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE, "tensor model.norm.weight: shape [1, 16] but");
    free(d);

    /* Config and weights disagree: config says intermediate 20, files hold 24. */
    psw_model_config wrong = oc;
    wrong.intermediate_size = 20;
    d = write_edited("disagree", &m, &wrong, (edit){0});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE,
                     "tensor model.layers.0.mlp.gate_proj.weight: shape [24, 16] but");
    free(d);
    /* ... or 3 layers where the files have 2. */
    wrong = oc;
    wrong.num_layers = 3;
    d = write_edited("disagree_layers", &m, &wrong, (edit){0});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE, "missing tensor model.layers.2.self_attn.q_proj.weight");
    free(d);
    /* ... or a Llama config over OLMo2 weights: input_layernorm is missing. */
    wrong = llama_cfg(false);
    wrong.intermediate_size = 24, wrong.num_layers = 2, wrong.num_kv_heads = 2, wrong.head_dim = 6,
    wrong.vocab_size = 40;
    d = write_edited("disagree_arch", &m, &wrong, (edit){0});
    EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE, "missing tensor model.layers.0.input_layernorm.weight");
    free(d);

    /* Wrong dtype: patch "F32" of one header entry to "I32" (same size, still a valid file). */
    d = write_edited("dtype", &m, &oc, (edit){0});
    char *path = psw_path_join(d, "model.safetensors"), *raw = NULL;
    size_t len = 0;
    CHECK_OK(psw_read_file(path, &raw, &len, &err), &err);
    char *at = raw ? strstr(raw + 8, "\"model.norm.weight\":{\"dtype\":\"F32\"") : NULL;
    CHECK(at != NULL, "found norm header entry");
    if (at) {
        at[strlen("\"model.norm.weight\":{\"dtype\":\"")] = 'I';
        CHECK_OK(psw_write_file(path, raw, len, &err), &err);
        EXPECT_LOAD_FAIL(d, PSW_ERR_SHAPE,
                         "model.safetensors: tensor model.norm.weight: dtype I32, want F32, BF16 or "
                         "F16");
    }
    free(raw);
    /* A broken safetensors file surfaces its own error through load. */
    CHECK(truncate(path, (off_t)len - 4) == 0, "truncate");
    EXPECT_LOAD_FAIL(d, PSW_ERR_FORMAT, "out of bounds");
    free(path);
    free(d);

    /* Unsupported architecture in config.json. */
    d = write_edited("arch", &m, &oc, (edit){0});
    char *cfg_path = psw_path_join(d, "config.json");
    const char *mistral = "{\"architectures\": [\"MistralForCausalLM\"]}";
    CHECK_OK(psw_write_file(cfg_path, mistral, strlen(mistral), &err), &err);
    EXPECT_LOAD_FAIL(d, PSW_ERR_UNSUPPORTED, "config.json: architectures: MistralForCausalLM");
    unlink(cfg_path);
    EXPECT_LOAD_FAIL(d, PSW_ERR_IO, "config.json: cannot open");
    free(cfg_path);
    free(d);
    d = sub("no_weights");
    CHECK_OK(psw_mkdir_p(d, &err), &err);
    cfg_path = psw_path_join(d, "config.json");
    CHECK_OK(psw_config_save(cfg_path, &oc, "float32", &err), &err);
    EXPECT_LOAD_FAIL(d, PSW_ERR_IO, "no model.safetensors or model.safetensors.index.json");
    free(cfg_path);
    free(d);

    /* Accepted extras, as in HF: lm_head.weight of a tied model; rotary inv_freq buffers. */
    psw_model lm;
    psw_model_config tied = llama_cfg(true);
    make_model(&lm, &tied, 10);
    psw_model_config untied = tied;
    untied.tie_word_embeddings = false;
    psw_model lm_untied;
    make_model(&lm_untied, &untied, 10);
    d = write_edited("tied_with_head", &lm_untied, &tied,
                     (edit){.extra_name = "model.layers.0.self_attn.rotary_emb.inv_freq", .rows = 2});
    psw_model back;
    psw_status st = psw_model_load(&back, d, &err);
    CHECK_OK(st, &err);
    if (st == PSW_OK) {
        CHECK(back.cfg.tie_word_embeddings && back.params.count[PSW_P_LM_HEAD] == 0,
              "tied: lm_head ignored");
        CHECK(memcmp(back.params.ptr[PSW_P_EMBED], lm_untied.params.ptr[PSW_P_EMBED],
                     back.params.count[PSW_P_EMBED] * sizeof(float)) == 0,
              "tied: embeddings loaded");
        psw_model_free(&back);
    }
    free(d);
    psw_model_free(&lm);
    psw_model_free(&lm_untied);
    psw_model_free(&m);
}

static void test_copy_tokenizer(void) {
    psw_err err = {0};
    char *src = sub("tok_src"), *dst = sub("tok_dst");
    CHECK_OK(psw_mkdir_p(src, &err), &err);
    CHECK_OK(psw_mkdir_p(dst, &err), &err);
    const char *files[2] = {"tokenizer.json", "generation_config.json"};
    const char *bodies[2] = {"{\"model\": {\"type\": \"BPE\"}}", "{\"eos_token_id\": 2}"};
    for (int i = 0; i < 2; i++) {
        char *p = psw_path_join(src, files[i]);
        CHECK_OK(psw_write_file(p, bodies[i], strlen(bodies[i]), &err), &err);
        free(p);
    }
    int n = -1;
    CHECK_OK(psw_copy_tokenizer_files(src, dst, &n, &err), &err);
    CHECK(n == 2, "copied %d files, want 2", n);
    for (int i = 0; i < 2; i++) {
        char *p = psw_path_join(dst, files[i]), *text = NULL;
        CHECK_OK(psw_read_file(p, &text, NULL, &err), &err);
        CHECK(text && strcmp(text, bodies[i]) == 0, "%s copied verbatim", files[i]);
        free(text);
        free(p);
    }
    char *absent = psw_path_join(dst, "tokenizer_config.json");
    CHECK(access(absent, F_OK) != 0, "absent files are not created");
    free(absent);
    char *bad = psw_path_join(tmp, "no/such/dir");
    CHECK_FAILS(psw_copy_tokenizer_files(src, bad, &n, &err), &err, PSW_ERR_IO, "no/such/dir");
    free(bad);
    free(src);
    free(dst);
}

int main(void) {
    tmp = psw_test_tmpdir();
    test_round_trips();
    test_names();
    test_bad_checkpoints();
    test_copy_tokenizer();
    remove_tree(tmp);
    free(tmp);
    return psw_test_finish();
}
