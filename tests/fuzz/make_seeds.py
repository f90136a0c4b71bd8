#!/usr/bin/python3
"""Writes the committed seed corpora tests/fuzz/corpus/<target>/ (valid and near-valid inputs)
and tests/fuzz/small_tokenizer.json. Run from anywhere; plain Python 3, no packages. The small
tokenizer is cut from ../shared/data/tokenizers/olmo2-dolma2/tokenizer.json (regenerated only when
that file exists): the OLMo2 pre-tokenizer, its 22 added tokens, the 256 byte symbols and the
first 1500 merges, renumbered densely (bytes 0..255 in OLMo2 order, then merges, then added)."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\n--8<--\n"  # PSW_FUZZ_SEP in fuzz_targets.h


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ safetensors
SIZES = {"F32": 4, "BF16": 2, "F16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def st_file(tensors, meta=True, pad=True):
    """tensors: list of (name, dtype, shape); data bytes are a counting pattern."""
    hdr = {}
    if meta:
        hdr["__metadata__"] = {"format": "pt"}
    off = 0
    data = b""
    for name, dt, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        nb = n * SIZES[dt]
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nb]}
        data += bytes((off + i) * 37 % 251 for i in range(nb))
        off += nb
    h = json.dumps(hdr, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def st_raw(header, data=b""):
    h = header.encode() if isinstance(header, str) else header
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "f32_2x3", st_file([("w", "F32", [2, 3])]))
put("safetensors", "mixed", st_file([("a.weight", "BF16", [3, 2]), ("b", "F16", [4]),
                                     ("c", "I64", [2]), ("scalar", "F32", []),
                                     ("empty", "F32", [0, 4]), ("m", "U8", [3])]))
put("safetensors", "eight_dims", st_file([("t", "F16", [1, 2, 1, 2, 1, 1, 2, 1])]))
put("safetensors", "no_metadata", st_file([("x", "F32", [1]), ("y", "BF16", [2])], meta=False,
                                          pad=False))
put("safetensors", "empty_header", st_raw("{}"))
put("safetensors", "gap", st_raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
                                 bytes(8)))
put("safetensors", "overlap", st_raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                     '"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                     bytes(4)))
put("safetensors", "big_shape", st_raw('{"a":{"dtype":"F32","shape":[4294967296,4294967296],'
                                       '"data_offsets":[0,0]}}'))
put("safetensors", "big_offsets", st_raw('{"a":{"dtype":"U8","shape":[16],'
                                         '"data_offsets":[18446744073709551600,'
                                         '18446744073709551616]}}'))
put("safetensors", "truncated", st_file([("w", "F32", [4, 4])])[:-7])
put("safetensors", "hlen_huge", struct.pack("<Q", 0xFFFFFFFFFFFFFFF0) + b"{}")

# ------------------------------------------------------------------ index + shards
s1 = st_file([("model.a", "F32", [2]), ("model.b", "BF16", [2, 2])])
s2 = st_file([("model.c", "F16", [3])])
idx = json.dumps({"metadata": {"total_size": 22}, "weight_map": {
    "model.a": "s1.safetensors", "model.b": "s1.safetensors", "model.c": "s2.safetensors"}},
    indent=2).encode()
put("st_index", "two_shards", idx + SEP + s1 + SEP + s2)
put("st_index", "one_shard", json.dumps({"weight_map": {"x": "s1.safetensors"}}).encode() + SEP +
    st_file([("x", "F32", [1])]))
put("st_index", "wrong_file", json.dumps({"weight_map": {
    "model.a": "s2.safetensors", "model.b": "s1.safetensors", "model.c": "s1.safetensors"}})
    .encode() + SEP + s1 + SEP + s2)
put("st_index", "dup_across", json.dumps({"weight_map": {"x": "s1.safetensors"}}).encode() + SEP +
    st_file([("x", "F32", [1])]) + SEP + st_file([("x", "F32", [1])]))
put("st_index", "path_name", json.dumps({"weight_map": {"x": "../s1.safetensors"}}))

# ------------------------------------------------------------------ checkpoint (tiny Llama)
C, H, V, NH, NKV, HD = 8, 12, 16, 2, 1, 4  # fuzz_targets.c tiny_config
ck = [("model.embed_tokens.weight", [V, C]),
      ("model.layers.0.self_attn.q_proj.weight", [NH * HD, C]),
      ("model.layers.0.self_attn.k_proj.weight", [NKV * HD, C]),
      ("model.layers.0.self_attn.v_proj.weight", [NKV * HD, C]),
      ("model.layers.0.self_attn.o_proj.weight", [C, NH * HD]),
      ("model.layers.0.mlp.gate_proj.weight", [H, C]),
      ("model.layers.0.mlp.up_proj.weight", [H, C]),
      ("model.layers.0.mlp.down_proj.weight", [C, H]),
      ("model.layers.0.input_layernorm.weight", [C]),
      ("model.layers.0.post_attention_layernorm.weight", [C]),
      ("model.norm.weight", [C])]
put("checkpoint", "valid_bf16", st_file([(n, "BF16", s) for n, s in ck]))
put("checkpoint", "valid_f32_lm_head", st_file([(n, "F32", s) for n, s in ck] +
                                               [("lm_head.weight", "F32", [V, C])]))
put("checkpoint", "f16_inv_freq", st_file([(n, "F16", s) for n, s in ck] +
                                          [("model.layers.0.self_attn.rotary_emb.inv_freq", "F32",
                                            [HD // 2])]))
put("checkpoint", "wrong_shape", st_file([(n, "BF16", s if i != 5 else [C, H])
                                          for i, (n, s) in enumerate(ck)]))
put("checkpoint", "int_dtype", st_file([(n, "BF16" if i else "I32", s)
                                        for i, (n, s) in enumerate(ck)]))
put("checkpoint", "missing", st_file([(n, "BF16", s) for n, s in ck[:-1]]))

# ------------------------------------------------------------------ config.json
olmo2 = {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "attention_bias": False,
         "attention_dropout": 0.0, "eos_token_id": 100257, "pad_token_id": 100277,
         "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
         "intermediate_size": 11008, "max_position_embeddings": 4096, "num_attention_heads": 32,
         "num_hidden_layers": 32, "num_key_value_heads": 32, "rms_norm_eps": 1e-06,
         "rope_scaling": None, "rope_theta": 500000, "tie_word_embeddings": False,
         "use_cache": True, "vocab_size": 100352}
put("config", "olmo2_7b", json.dumps(olmo2, indent=2))
llama = {"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 172,
         "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 4,
         "vocab_size": 512, "max_position_embeddings": 512, "rope_theta": 10000.0,
         "rms_norm_eps": 1e-05}
put("config", "llama_small", json.dumps(llama))
put("config", "llama3_style", json.dumps(dict(llama, model_type="llama", bos_token_id=1,
                                              eos_token_id=[2, 3], pad_token_id=None,
                                              head_dim=16, tie_word_embeddings=True,
                                              mlp_bias=False)))
put("config", "rope_scaling", json.dumps(dict(llama, rope_scaling={"type": "linear",
                                                                   "factor": 2.0})))
put("config", "dup_key", '{"hidden_size": 64, "hidden_size": 32, "model_type": "llama"}')
put("config", "huge_values", json.dumps(dict(llama, hidden_size=2147483647,
                                             num_attention_heads=1, head_dim=2147483646,
                                             rope_theta=1e300, rms_norm_eps=1e-300)))

# ------------------------------------------------------------------ tokenizers
tiny = json.load(open(os.path.join(HERE, "..", "data", "csqa", "tiny_tokenizer.json")))
put("tokenizer_load", "tiny", json.dumps(tiny, ensure_ascii=False))
v = json.loads(json.dumps(tiny))
v["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": True}
v["model"]["merges"] = [m.split(" ") for m in v["model"]["merges"]]
put("tokenizer_load", "gpt2_pairs", json.dumps(v, ensure_ascii=False))
v = json.loads(json.dumps(tiny))
v["pre_tokenizer"]["pretokenizers"][0] = {"type": "Split", "pattern": {"String": " "},
                                          "behavior": "Isolated", "invert": False}
v["model"]["ignore_merges"] = True
v["added_tokens"].append({"id": 262, "content": "Hello", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": False})
put("tokenizer_load", "string_split_added", json.dumps(v, ensure_ascii=False))
v = json.loads(json.dumps(tiny))
v["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "MergedWithPrevious"
v["pre_tokenizer"]["pretokenizers"][0]["invert"] = False
v["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\s+|\\w+|\\d|\\h|\\S"
v["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = True
put("tokenizer_load", "merged_prev_escapes", json.dumps(v, ensure_ascii=False))
v = json.loads(json.dumps(tiny))
del v["model"]["vocab"]["a"]
v["model"]["unk_token"] = "<unk>"
put("tokenizer_load", "missing_byte_unk", json.dumps(v, ensure_ascii=False))

src = os.path.join(HERE, "..", "..", "..", "shared", "data", "tokenizers", "olmo2-dolma2",
                   "tokenizer.json")
if os.path.exists(src):
    t = json.load(open(src))
    old = t["model"]["vocab"]
    inv = {i: s for s, i in old.items()}
    nb = 1500
    merges = t["model"]["merges"][:nb]
    syms = set()
    for m in merges:
        syms.update(m.split(" "))
    byte_syms = sorted((s for s in old if len(s) == 1 and old[s] < 100000), key=lambda s: old[s])
    vocab = {}
    for s in byte_syms:
        vocab[s] = len(vocab)
    for m in merges:
        a, b = m.split(" ")
        assert a in vocab and b in vocab, m
        vocab.setdefault(a + b, len(vocab))
    added = []
    for a in t["added_tokens"]:
        a = dict(a)
        if a["content"] not in vocab:
            vocab[a["content"]] = len(vocab)
        a["id"] = vocab[a["content"]]
        added.append(a)
    t["added_tokens"] = added
    t["model"]["vocab"] = vocab
    t["model"]["merges"] = merges
    with open(os.path.join(HERE, "small_tokenizer.json"), "w") as f:
        json.dump(t, f, ensure_ascii=False)
        f.write("\n")
    del inv

texts = {
    "english": "Question: Where would you find a revolving door?\n A. bank\n B. library\nAnswer: A",
    "unicode": "Gr\u00fc\u00dfe, \u4e2d\u6587\u5b57 \u0928\u092e\u0938\u094d\u0924\u0947 "
               "\U0001F600\U0001F469\u200d\U0001F4BB caf\u00e9 \u00bd \u00b2",
    "specials": "<|endoftext|><|user|>\nHi<|im_start|>x<|im_end|>|||EMAIL_ADDRESS|||<|endoftext",
    "spaces": "a  b   c\t\td\r\n\r\n   \n  x  ",
    "digits": "1234567 3.14159 0x1f 2024-11-28 It's they're we've I'd",
}
for k, s in texts.items():
    put("tokenizer_encode", k, s)
put("tokenizer_encode", "invalid_utf8", b"ok \xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80")
put("tokenizer_encode", "long_word", "x" * 300 + " " + "ab" * 100)

# ------------------------------------------------------------------ CSQA JSONL
data = os.path.join(HERE, "..", "data", "csqa")
for f in ["dev_small.jsonl", "mixed_k.jsonl", "test_small.jsonl"]:
    put("csqa", f.replace(".jsonl", ""), open(os.path.join(data, f), "rb").read())
ex = {"answerKey": "B", "id": "q1", "question": {"question_concept": "c", "stem": "Why?",
      "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}}
put("csqa", "two_lines_crlf", json.dumps(ex) + "\r\n\r\n" +
    json.dumps(dict(ex, id="q2", answerKey="A")) + "\r\n")
put("csqa", "unlabeled_empty_key", json.dumps(dict(ex, answerKey="")) + "\n")
put("csqa", "bad_label", json.dumps(dict(ex, question=dict(ex["question"], choices=[
    {"label": "A A", "text": "x"}, {"label": "B", "text": "y"}]))))
put("csqa", "dup_id", json.dumps(ex) + "\n" + json.dumps(ex) + "\n")
put("csqa", "escapes", json.dumps(dict(ex, id="\u00e9\\u0000x", question=dict(
    ex["question"], stem="tab\there \"q\" \\ \u2028 {question}"))))

# ------------------------------------------------------------------ spec
readme_example = {
    "name": "csqa-olmo2", "comment": "L2 pruning of OLMo2-7B-SFT, CE vs KL recovery",
    "model": {"path": "../models/olmo2-7b-sft", "dtype_frozen": "bf16"},
    "data": {"train": "../data/csqa/train_rand_split.jsonl",
             "test": "../data/csqa/dev_rand_split.jsonl"},
    "prompt": {"template": "olmes_mc", "shots": 5, "chat": True},
    "pruning": {"score": "l2"},
    "training": {"lr": 2e-5, "warmup_ratio": 0.1, "schedule": "cosine", "micro_batch": 4,
                 "grad_accum": 4, "epochs": 2, "trainable": "mlp", "teacher_cache": "topk",
                 "topk": 256},
    "grid": {"retention": [1.0, 0.75, 0.5, 0.25], "loss": ["ce", "kl"],
             "data_size": [64, 256, 1024], "seed": [0, 1, 2],
             "exclude": [{"retention": 1.0, "data_size": 1024}]},
    "output": "csqa-olmo2.h5", "threads_per_rank": 0}
put("spec", "readme_example", json.dumps(readme_example, indent=2))
all_keys = (
    "{'name':'exp-1','comment':'c','model':{'path':'default','dtype_frozen':'bf16'},"
    "'data':{'dev':'d.jsonl','limit_test':100},"
    "'prompt':{'template':'custom','shot_ids':['x','y'],'chat':true,'bos_token':'<s>',"
    "'format':'Q: {question}{choices}\\nA:','choice_format':'\\n({label}) {text}',"
    "'answer_format':' ({label})','shot_separator':'\\n---\\n'},"
    "'pruning':{'score':'gate_up','seed':7},"
    "'training':{'loss_positions':'all_prompt','temperature':2,'alpha':0.25,'lr':0.001,"
    "'lr_min':0.0001,'warmup_steps':5,'schedule':'linear','weight_decay':0.01,'beta1':0.8,"
    "'beta2':0.95,'eps':1e-6,'max_grad_norm':0,'micro_batch':4,'grad_accum':2,'steps':10,"
    "'trainable':'mlp','eval_batch':32,'max_seq_len':100,'teacher_cache':'topk','topk':20},"
    "'grid':{'retention':[0.25],'loss':['mix'],'data_size':[16],'seed':[3]},"
    "'output':'out/r.h5','threads_per_rank':2}").replace("'", '"')
put("spec", "all_keys", all_keys)
put("spec", "minimal_run", '{"model":{"path":"m"},"data":{"train":"tr.jsonl","test":"/abs/te.jsonl"},'
    '"grid":{"retention":[1,0.5],"data_size":[8]}}')
put("spec", "recover_empty", "{}")
put("spec", "chat_string", '{"model":{"path":"default"},"prompt":{"chat":"<s>{prompt}</s>",'
    '"shots":0},"grid":{"retention":[0.1,1e-300],"data_size":[9007199254740993],'
    '"seed":[-1,18446744073709551615]}}')
put("spec", "malformed", '{"model":{"path":"m",},}')

# ------------------------------------------------------------------ size-overflow regressions
# Targeted inputs for sizes read from files (tests/unit/test_fuzz_regressions.c checks the exact
# rejection of each); crash reproducers found by fuzzing sit next to them, named crash-*.


def put_reg(target, name, data):
    d = os.path.join(HERE, "regressions", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def one(dtype, shape, offs, data=b""):
    return st_raw('{"t":{"dtype":"%s","shape":%s,"data_offsets":%s}}' % (dtype, shape, offs), data)


put_reg("safetensors", "shape_product_over_size_t", one("F32", "[4294967296,4294967296]", "[0,0]"))
put_reg("safetensors", "shape_times_dtype_over_size_t", one("F32", "[2147483648,2147483648]", "[0,0]"))
put_reg("safetensors", "shape_overflow_before_zero",
        one("U8", "[4503599627370496,4503599627370496,0]", "[0,0]"))
put_reg("safetensors", "shape_entry_2p53", one("U8", "[9007199254740992]", "[0,0]"))
put_reg("safetensors", "shape_entry_2p64", one("U8", "[18446744073709551616]", "[0,0]"))
put_reg("safetensors", "shape_entry_negative", one("U8", "[-1]", "[0,0]"))
put_reg("safetensors", "offsets_near_2p64",
        one("U8", "[15]", "[18446744073709551600,18446744073709551615]", bytes(15)))
put_reg("safetensors", "offsets_end_2p53_minus_1",
        one("U8", "[9007199254740991]", "[0,9007199254740991]", bytes(16)))
put_reg("safetensors", "offsets_begin_2p64_end_small",
        one("U8", "[4]", "[18446744073709551615,4]", bytes(4)))
put_reg("safetensors", "offsets_wrap_to_size",
        one("U8", "[16]", "[18446744073709551608,8]", bytes(16)))
put_reg("safetensors", "header_len_2p64_minus_1", struct.pack("<Q", 2**64 - 1) + b"{}")
put_reg("safetensors", "header_len_wraps_plus_8", struct.pack("<Q", 2**64 - 8) + b"{}" + bytes(6))
put_reg("safetensors", "nine_dims", one("U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]", bytes(1)))
put_reg("spec", "grid_over_max_configs", json.dumps({
    "model": {"path": "default"},
    "grid": {"retention": [round(0.01 * (i + 1), 2) for i in range(100)], "loss": ["ce", "kl", "mix"],
             "data_size": list(range(1, 101)), "seed": list(range(34))}}))
put_reg("spec", "ints_near_2p63", json.dumps({
    "model": {"path": "default"}, "pruning": {"seed": 9223372036854775807},
    "grid": {"retention": [1], "data_size": [8], "seed": [9223372036854775808]}}))
put_reg("spec", "numbers_need_17_digits", json.dumps({
    "model": {"path": "default"}, "pruning": {"seed": 9007199254740992},
    "training": {"lr": 0.00012345678901234567, "temperature": 1.0000000000000002},
    "grid": {"retention": [0.75184467440737091, 1e-300], "data_size": [8],
             "seed": [9007199254740991, 0],
             "exclude": [{"retention": 1e-300, "seed": 9007199254740991}]}}))
# hidden 2^30 x intermediate 2^30 x 16 layers = 2^64 floats: wrapped to 0 in the unchecked layout.
put_reg("config", "params_wrap_2p64", json.dumps(dict(
    llama, hidden_size=2**30, intermediate_size=2**30, num_hidden_layers=16, num_attention_heads=1,
    num_key_value_heads=1, head_dim=2**30, vocab_size=16)))
# about 2^63 parameters: the count fits size_t, its bytes do not.
put_reg("config", "params_bytes_over_size_t", json.dumps(dict(
    llama, hidden_size=2**30, intermediate_size=2, num_hidden_layers=1, num_attention_heads=1,
    num_key_value_heads=1, head_dim=2**30, vocab_size=2**31 - 1)))
# 2^31-2 x 2^31-1 per MLP matrix, three of them: the per-layer sum wraps.
put_reg("config", "params_sum_over_size_t", json.dumps(dict(
    llama, hidden_size=2**31 - 2, intermediate_size=2**31 - 1, num_hidden_layers=1,
    num_attention_heads=1, num_key_value_heads=1, head_dim=2, vocab_size=2**31 - 1)))
