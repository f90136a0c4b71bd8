#!/usr/bin/python3
"""hf_loadable.py: checks that a checkpoint directory is one HuggingFace transformers can load
into Olmo2ForCausalLM / LlamaForCausalLM, by the rules those libraries apply (neither library is
installed here, so the rules are re-implemented from their sources, read not copied):

safetensors (Rust crate, safetensors/src/tensor.rs, SafeTensors::read_metadata + Metadata::validate)
  - file >= 8 bytes (HeaderTooSmall); N = little-endian u64; N <= 100_000_000 (HeaderTooLarge);
    8 + N <= file size (InvalidHeaderLength); header is UTF-8 (InvalidHeader) JSON
    (InvalidHeaderDeserialization) of {"__metadata__"?: {str: str}, name: {dtype, shape,
    data_offsets: [s, e]}}; dtype one of the crate's Dtype names; shape and offsets unsigned ints.
  - tensors sorted by data_offsets must be contiguous from 0: s == previous e and e >= s
    (InvalidOffset(name)); prod(shape) x dtype bits / 8 == e - s (TensorInvalidInfo, MisalignedSlice);
    the last e + 8 + N == file size (MetadataIncompleteBuffer).
  Conventions of the HF writers, also required here: the header starts with '{' (the crate's
  planned InvalidHeaderStart) and is padded with spaces to a multiple of 8 bytes so the data is
  8-byte aligned; names are unique.
transformers (modeling_utils.py)
  - load_state_dict: the file's __metadata__ "format" must be "pt" (metadata None crashes older
    releases, so it must be present);
  - directory: model.safetensors, else model.safetensors.index.json ("weight_map" name -> plain file
    name, "metadata" object; all_checkpoint_keys = weight_map keys); we also require
    metadata.total_size == the summed tensor bytes (as save_pretrained writes it), each tensor in the
    shard the index names, no unlisted shards, and not both layouts at once;
  - missing keys = model.state_dict() - loaded, unexpected = loaded - state_dict (non-persistent
    buffers such as rotary_emb.inv_freq are not in the state dict); missing keys of a tied group
    (lm_head.weight with tie_word_embeddings) are dropped; any shape differing from the module's is
    a size-mismatch error; _fix_key renames keys containing "gamma"/"beta", so none may.
config.json (configuration_olmo2.py / configuration_llama.py, AutoConfig): model_type selects the
  config class; architectures[0] the model class; torch_dtype a torch dtype name that matches the
  files; the fields the modules read (hidden_size, intermediate_size, num_hidden_layers,
  num_attention_heads, num_key_value_heads, head_dim, vocab_size, rms_norm_eps, rope_theta,
  tie_word_embeddings, hidden_act, attention_bias, mlp_bias, rope_scaling).

Expected tensor names and shapes come from the config following modeling_olmo2.py /
modeling_llama.py module by module. With torch (Debian's python3-torch), `logits` additionally
loads the tensors with torch.frombuffer, builds torch modules named as HF's, loads them with HF's
strict-key rule, runs the independent float64 model of tests/reference/make_fixture.py and compares
with `prunesweep generate --json`. `selftest` damages copies of a good checkpoint and asserts each
damage is rejected, so the checker is shown to bite.

usage:
  hf_loadable.py check DIR... [--dtype F32|BF16] [--shards N]
  hf_loadable.py logits DIR... --cli PRUNESWEEP --ids 1,2,3 [--steps N] [--rtol R] [--engine-dir D]
  hf_loadable.py selftest DIR            (DIR: a good sharded checkpoint; copies are damaged)
  hf_loadable.py logits-selftest DIR --cli PRUNESWEEP --ids 1,2,3 --engine-dir D
  hf_loadable.py make-llama2c OUT.bin [--from TIED_LLAMA_HF_DIR]
Exit: 0 ok, 1 a rule is broken (one line "FAIL ..." naming the file and rule), 2 usage.
"""
import json
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

MAX_HEADER_SIZE = 100_000_000
# safetensors Dtype -> bits per element (tensor.rs, Dtype::bitsize)
DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
    "F8_E8M0": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
TORCH_DTYPE_OF = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}
SINGLE, INDEX = "model.safetensors", "model.safetensors.index.json"


class Broken(Exception):
    """A rule HF (or safetensors) enforces is violated; the message names file and rule."""


def _strict_json(text, where):
    """json.loads as serde_json would accept it: no NaN/Infinity literals; duplicate keys are
    rejected too (a duplicate would silently drop a tensor)."""
    def no_const(c):
        raise Broken(f"{where}: invalid JSON literal {c}")

    def pairs(kv):
        d = {}
        for k, v in kv:
            if k in d:
                raise Broken(f"{where}: duplicate key {k!r}")
            d[k] = v
        return d
    try:
        return json.loads(text, parse_constant=no_const, object_pairs_hook=pairs)
    except ValueError as e:
        raise Broken(f"{where}: InvalidHeaderDeserialization / bad JSON: {e}") from None


def _uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def read_safetensors(path):
    """Validates one file like SafeTensors::read_metadata; returns (metadata, {name: info}),
    info = dict(dtype, shape, start, end, nbytes, data_at) with data_at the absolute file offset."""
    with open(path, "rb") as f:
        buf = f.read()
    where = os.path.basename(path)
    if len(buf) < 8:
        raise Broken(f"{where}: HeaderTooSmall: {len(buf)} bytes")
    n = struct.unpack("<Q", buf[:8])[0]
    if n > MAX_HEADER_SIZE:
        raise Broken(f"{where}: HeaderTooLarge: header length {n}")
    if 8 + n > len(buf):
        raise Broken(f"{where}: InvalidHeaderLength: header length {n} but file has {len(buf)} bytes")
    try:
        text = buf[8:8 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise Broken(f"{where}: InvalidHeader: header is not UTF-8") from None
    if not text.startswith("{"):
        raise Broken(f"{where}: InvalidHeaderStart: header does not start with '{{'")
    if n % 8 != 0:
        raise Broken(f"{where}: header length {n} is not a multiple of 8 (HF pads with spaces so "
                     "the data is 8-byte aligned)")
    body = text.rstrip(" ")
    if not body.endswith("}"):
        raise Broken(f"{where}: header is not a JSON object padded with spaces")
    if len(text) - len(body) >= 8:
        raise Broken(f"{where}: header padded with {len(text) - len(body)} spaces; HF pads to the "
                     "next multiple of 8 only")
    hdr = _strict_json(text, where)
    if not isinstance(hdr, dict):
        raise Broken(f"{where}: InvalidHeaderDeserialization: header is not a JSON object")
    meta = hdr.pop("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise Broken(f"{where}: InvalidHeaderDeserialization: __metadata__ must map strings "
                         "to strings")
    infos = []
    for name, ti in hdr.items():
        if not isinstance(ti, dict) or not {"dtype", "shape", "data_offsets"} <= ti.keys():
            raise Broken(f"{where}: tensor {name}: needs dtype, shape, data_offsets")
        dt, shape, off = ti["dtype"], ti["shape"], ti["data_offsets"]
        if not isinstance(dt, str) or dt not in DTYPE_BITS:
            raise Broken(f"{where}: tensor {name}: unknown dtype {dt!r}")
        if not isinstance(shape, list) or not all(_uint(d) for d in shape):
            raise Broken(f"{where}: tensor {name}: shape {shape!r} is not a list of unsigned ints")
        if not isinstance(off, list) or len(off) != 2 or not all(_uint(x) for x in off):
            raise Broken(f"{where}: tensor {name}: data_offsets {off!r} is not [start, end]")
        infos.append((name, dt, shape, off[0], off[1]))
    infos.sort(key=lambda t: (t[3], t[4]))  # Metadata::try_from sorts by data_offsets
    start, out = 0, {}
    for name, dt, shape, s, e in infos:
        if s != start or e < s:
            raise Broken(f"{where}: InvalidOffset({name}): data_offsets [{s}, {e}] but the "
                         f"previous tensor ends at {start}")
        start = e
        bits = math.prod(shape) * DTYPE_BITS[dt]
        if bits % 8:
            raise Broken(f"{where}: MisalignedSlice: tensor {name}")
        if e - s != bits // 8:
            raise Broken(f"{where}: TensorInvalidInfo: tensor {name}: shape {shape} x {dt} is "
                         f"{bits // 8} bytes but data_offsets span {e - s}")
        out[name] = dict(dtype=dt, shape=shape, start=s, end=e, nbytes=e - s, data_at=8 + n + s)
    if start + 8 + n != len(buf):
        raise Broken(f"{where}: MetadataIncompleteBuffer: tensors end at byte {8 + n + start} of "
                     f"{len(buf)}")
    return meta, out


def expected_tensors(cfg):
    """{name: shape} of model.state_dict() minus tied copies, per modeling_olmo2.py /
    modeling_llama.py: the modules each layer declares and the nn.Linear(in, out) weight [out, in]."""
    mt = cfg["model_type"]
    C, H, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    NH, NKV, L = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["num_hidden_layers"]
    HD = cfg.get("head_dim") or C // NH
    exp = {"model.embed_tokens.weight": [V, C], "model.norm.weight": [C]}
    for i in range(L):
        p = f"model.layers.{i}."
        exp[p + "self_attn.q_proj.weight"] = [NH * HD, C]
        exp[p + "self_attn.k_proj.weight"] = [NKV * HD, C]
        exp[p + "self_attn.v_proj.weight"] = [NKV * HD, C]
        exp[p + "self_attn.o_proj.weight"] = [C, NH * HD]
        exp[p + "mlp.gate_proj.weight"] = [H, C]
        exp[p + "mlp.up_proj.weight"] = [H, C]
        exp[p + "mlp.down_proj.weight"] = [C, H]
        exp[p + "post_attention_layernorm.weight"] = [C]
        if mt == "olmo2":
            exp[p + "self_attn.q_norm.weight"] = [NH * HD]
            exp[p + "self_attn.k_norm.weight"] = [NKV * HD]
            exp[p + "post_feedforward_layernorm.weight"] = [C]
        else:
            exp[p + "input_layernorm.weight"] = [C]
    if not cfg["tie_word_embeddings"]:
        exp["lm_head.weight"] = [V, C]
    return exp


ARCH = {"olmo2": "Olmo2ForCausalLM", "llama": "LlamaForCausalLM"}


def check_config(d):
    path = os.path.join(d, "config.json")
    where = "config.json"
    try:
        with open(path, encoding="utf-8") as f:
            cfg = _strict_json(f.read(), where)
    except OSError as e:
        raise Broken(f"{path}: {e.strerror}") from None
    if not isinstance(cfg, dict):
        raise Broken(f"{where}: not a JSON object")
    mt = cfg.get("model_type")
    if mt not in ARCH:
        raise Broken(f"{where}: model_type {mt!r}: AutoConfig needs 'olmo2' or 'llama' here")
    if cfg.get("architectures") != [ARCH[mt]]:
        raise Broken(f"{where}: architectures {cfg.get('architectures')!r}, want [{ARCH[mt]!r}]")
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size", "max_position_embeddings"):
        if not _uint(cfg.get(k)) or cfg[k] == 0:
            raise Broken(f"{where}: {k} = {cfg.get(k)!r}, want a positive integer")
    C, NH, NKV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    if NH % NKV:
        raise Broken(f"{where}: num_attention_heads {NH} not a multiple of num_key_value_heads {NKV}")
    hd = cfg.get("head_dim")
    if hd is not None and (not _uint(hd) or hd == 0):
        raise Broken(f"{where}: head_dim = {hd!r}")
    if hd is None and C % NH:
        raise Broken(f"{where}: hidden_size {C} not divisible by num_attention_heads {NH}")
    for k in ("rms_norm_eps", "rope_theta"):
        v = cfg.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise Broken(f"{where}: {k} = {v!r}, want a positive number")
    if not isinstance(cfg.get("tie_word_embeddings"), bool):
        raise Broken(f"{where}: tie_word_embeddings = {cfg.get('tie_word_embeddings')!r}, want a bool")
    if cfg.get("hidden_act", "silu") != "silu":
        raise Broken(f"{where}: hidden_act {cfg['hidden_act']!r}, want 'silu'")
    for k in ("attention_bias", "mlp_bias"):
        if cfg.get(k, False) is not False:
            raise Broken(f"{where}: {k} = {cfg[k]!r}: the checkpoint has no bias tensors")
    if cfg.get("rope_scaling") is not None:
        raise Broken(f"{where}: rope_scaling {cfg['rope_scaling']!r}, want null")
    if cfg.get("torch_dtype") not in ("float32", "bfloat16", "float16"):
        raise Broken(f"{where}: torch_dtype {cfg.get('torch_dtype')!r} is not a torch dtype name")
    return cfg


def check_dir(d, want_dtype=None, want_shards=None):
    """All rules for one directory; returns (cfg, {name: info with 'file'})."""
    cfg = check_config(d)
    has_single = os.path.isfile(os.path.join(d, SINGLE))
    has_index = os.path.isfile(os.path.join(d, INDEX))
    shard_re = re.compile(r"model-\d{5}-of-\d{5}\.safetensors$")
    on_disk = sorted(f for f in os.listdir(d) if shard_re.match(f))
    if has_single and has_index:
        raise Broken(f"{d}: both {SINGLE} and {INDEX} (HF loads the first; the other is stale)")
    tensors = {}
    if has_single:
        if on_disk:
            raise Broken(f"{d}: stale shard files next to {SINGLE}: {on_disk}")
        files = {SINGLE: read_safetensors(os.path.join(d, SINGLE))}
    elif has_index:
        with open(os.path.join(d, INDEX), encoding="utf-8") as f:
            index = _strict_json(f.read(), INDEX)
        wm, meta = index.get("weight_map"), index.get("metadata")
        if not isinstance(wm, dict) or not wm:
            raise Broken(f"{INDEX}: weight_map missing or empty")
        if not isinstance(meta, dict):  # get_checkpoint_shard_files: index["metadata"][...] = ...
            raise Broken(f"{INDEX}: metadata missing (transformers writes all_checkpoint_keys into it)")
        for k, v in wm.items():
            if not isinstance(v, str) or "/" in v or not v.endswith(".safetensors"):
                raise Broken(f"{INDEX}: weight_map[{k!r}] = {v!r}, want a .safetensors file name")
        names = sorted(set(wm.values()))
        if names != on_disk:
            raise Broken(f"{INDEX}: lists shards {names} but the directory has {on_disk}")
        files = {}
        for fn in names:
            p = os.path.join(d, fn)
            if not os.path.isfile(p):
                raise Broken(f"{INDEX}: shard {fn} does not exist")
            files[fn] = read_safetensors(p)
        inside = {t: fn for fn, (_, ts) in files.items() for t in ts}
        for t, fn in wm.items():
            if inside.get(t) != fn:
                raise Broken(f"{INDEX}: weight_map puts {t} in {fn} but it is in {inside.get(t)}")
        for t, fn in inside.items():
            if t not in wm:
                raise Broken(f"{fn}: tensor {t} is not in {INDEX} weight_map")
        total = sum(i["nbytes"] for _, ts in files.values() for i in ts.values())
        ts_ = meta.get("total_size")
        if not _uint(ts_) or ts_ != total:
            raise Broken(f"{INDEX}: metadata.total_size {ts_!r} but the tensors hold {total} bytes")
    else:
        raise Broken(f"{d}: neither {SINGLE} nor {INDEX}")
    for fn, (meta, ts) in files.items():
        if meta is None or meta.get("format") != "pt":
            raise Broken(f"{fn}: __metadata__ {meta!r}: transformers' load_state_dict wants "
                         "{'format': 'pt'}")
        for t, info in ts.items():
            if t in tensors:
                raise Broken(f"{fn}: tensor {t} also in {tensors[t]['file']}")
            tensors[t] = dict(info, file=fn)
    if want_shards is not None and len(files) != want_shards:
        raise Broken(f"{d}: {len(files)} weight files, want {want_shards}")
    dtypes = {i["dtype"] for i in tensors.values()}
    if len(dtypes) != 1:
        raise Broken(f"{d}: mixed dtypes {sorted(dtypes)}")
    dt = dtypes.pop()
    if want_dtype and dt != want_dtype:
        raise Broken(f"{d}: tensors are {dt}, want {want_dtype}")
    if TORCH_DTYPE_OF.get(dt) != cfg["torch_dtype"]:
        raise Broken(f"config.json: torch_dtype {cfg['torch_dtype']!r} but the tensors are {dt}")
    for t in tensors:
        if "gamma" in t or "beta" in t:
            raise Broken(f"{tensors[t]['file']}: tensor {t}: transformers renames keys with "
                         "gamma/beta")
    exp = expected_tensors(cfg)
    loaded = set(tensors)
    if cfg["tie_word_embeddings"] and "lm_head.weight" in loaded:
        raise Broken(f"{tensors['lm_head.weight']['file']}: lm_head.weight written although "
                     "tie_word_embeddings is true (save_pretrained drops the tied copy)")
    missing, unexpected = sorted(set(exp) - loaded), sorted(loaded - set(exp))
    if missing:
        raise Broken(f"{d}: missing keys for {ARCH[cfg['model_type']]}: {missing[:4]}"
                     f"{' ...' if len(missing) > 4 else ''}")
    if unexpected:
        raise Broken(f"{tensors[unexpected[0]]['file']}: unexpected keys for "
                     f"{ARCH[cfg['model_type']]}: {unexpected[:4]}")
    for t, shape in exp.items():
        if tensors[t]["shape"] != shape:
            raise Broken(f"{tensors[t]['file']}: size mismatch for {t}: checkpoint "
                         f"{tensors[t]['shape']}, model (config.json) {shape}")
    return cfg, tensors


# ---------------------------------------------------------------- torch part
def load_torch_state_dict(d, tensors):
    import torch
    tdt = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    sd, cache = {}, {}
    for t, info in tensors.items():
        if info["file"] not in cache:
            with open(os.path.join(d, info["file"]), "rb") as f:
                cache[info["file"]] = bytearray(f.read())
        raw = cache[info["file"]]
        x = torch.frombuffer(raw, dtype=tdt[info["dtype"]], count=math.prod(info["shape"]),
                             offset=info["data_at"])
        sd[t] = x.reshape(info["shape"]).to(torch.float64).clone()
    return sd


def hf_skeleton(cfg):
    """Torch modules laid out and named like Olmo2ForCausalLM / LlamaForCausalLM, so that their
    state_dict keys and shapes are the HF ones (no forward: make_fixture.py computes)."""
    import torch
    nn = torch.nn
    C, H, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    NH, NKV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HD = cfg.get("head_dim") or C // NH
    olmo2 = cfg["model_type"] == "olmo2"

    class Norm(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(n))

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(C, NH * HD, bias=False)
            self.k_proj = nn.Linear(C, NKV * HD, bias=False)
            self.v_proj = nn.Linear(C, NKV * HD, bias=False)
            self.o_proj = nn.Linear(NH * HD, C, bias=False)
            if olmo2:
                self.q_norm, self.k_norm = Norm(NH * HD), Norm(NKV * HD)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(C, H, bias=False)
            self.up_proj = nn.Linear(C, H, bias=False)
            self.down_proj = nn.Linear(H, C, bias=False)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.self_attn, self.mlp = Attn(), MLP()
            self.post_attention_layernorm = Norm(C)
            if olmo2:
                self.post_feedforward_layernorm = Norm(C)
            else:
                self.input_layernorm = Norm(C)

    class Body(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = nn.Embedding(V, C)
            self.layers = nn.ModuleList([Layer() for _ in range(cfg["num_hidden_layers"])])
            self.norm = Norm(C)

    class ForCausalLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = Body()
            self.lm_head = nn.Linear(C, V, bias=False)
            if cfg["tie_word_embeddings"]:  # PreTrainedModel.tie_weights
                self.lm_head.weight = self.model.embed_tokens.weight

    return ForCausalLM().to(torch.float64)


def check_logits(d, cli, ids, steps, rtol, engine_dir=None):
    """PyTorch (HF semantics) on the tensors of d vs `prunesweep generate` on engine_dir (default
    d). With engine_dir = the model d was written from (lossless), a writer that mislabels a
    tensor is caught even though the engine would read its own mislabelling back."""
    try:
        import torch
    except ImportError:
        print(f"skipped logits {d}: /usr/bin/python3 cannot import torch")
        return
    cfg, tensors = check_dir(d)
    sd = load_torch_state_dict(d, tensors)
    model = hf_skeleton(cfg)
    res = model.load_state_dict(sd, strict=False)
    # HF's rule: a missing key of a tied group whose other member was loaded is not missing.
    tied_ok = ["lm_head.weight"] if cfg["tie_word_embeddings"] else []
    if sorted(res.missing_keys) != tied_ok or res.unexpected_keys:
        raise Broken(f"{d}: torch load_state_dict: missing {res.missing_keys}, unexpected "
                     f"{res.unexpected_keys}")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
    import make_fixture as mf  # the independent float64 OLMo2/Llama model
    if (cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]) * \
            cfg["num_attention_heads"] != cfg["hidden_size"]:
        raise Broken(f"{d}: make_fixture.py's model needs head_dim * heads == hidden_size")
    mf.CFG = {k: cfg[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                                  "num_attention_heads", "num_key_value_heads", "vocab_size",
                                  "rope_theta", "rms_norm_eps")}
    p = {k: v.detach() for k, v in model.state_dict().items()}
    arch, tied = cfg["model_type"], cfg["tie_word_embeddings"]
    out = subprocess.run([cli, "generate", engine_dir or d, "--ids", ",".join(map(str, ids)), "--steps",
                          str(steps), "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise Broken(f"{d}: prunesweep generate exit {out.returncode}: {out.stderr.strip()}")
    gen = json.loads(out.stdout)
    seq, worst = list(ids), 0.0
    for st in gen["steps"]:
        mf.B, mf.T = 1, len(seq)
        with torch.no_grad():
            z = mf.logits_at(p, arch, tied, torch.tensor([seq]), [len(seq)],
                             torch.tensor([len(seq) - 1]))[0]
        scale = float(z.abs().max())
        for e in st["top5"]:
            ref = float(z[e["id"]])
            # relative to the logit, floored at 1% of the row's largest |logit| so that a logit
            # that happens to be near 0 is not judged by a vanishing denominator
            rel = abs(e["logit"] - ref) / max(abs(ref), 1e-2 * scale)
            worst = max(worst, rel)
            if rel > rtol:
                raise Broken(f"{d}: step {st['step']} id {e['id']}: prunesweep logit "
                             f"{e['logit']:.8g}, PyTorch {ref:.8g} (rel {rel:.2e} > {rtol})")
        top = sorted(range(z.numel()), key=lambda i: (-float(z[i]), i))[:5]
        if [e["id"] for e in st["top5"]] != top:
            raise Broken(f"{d}: step {st['step']}: top-5 ids {[e['id'] for e in st['top5']]}, "
                         f"PyTorch {top}")
        seq.append(st["next"])
    print(f"ok logits {os.path.basename(d)}: {len(gen['steps'])} steps x top-5 of prunesweep on "
          f"{os.path.basename(engine_dir or d)} match PyTorch, max rel err {worst:.2e}")


def _swap_tensors(d, a, b):
    """Swaps the bytes of two same-shape tensors, names and headers unchanged."""
    _, ts = check_dir(d)
    ia, ib = ts[a], ts[b]
    assert ia["shape"] == ib["shape"] and ia["file"] == ib["file"]
    p = os.path.join(d, ia["file"])
    with open(p, "rb") as f:
        buf = bytearray(f.read())
    ra = bytes(buf[ia["data_at"]:ia["data_at"] + ia["nbytes"]])
    rb = bytes(buf[ib["data_at"]:ib["data_at"] + ib["nbytes"]])
    buf[ia["data_at"]:ia["data_at"] + ia["nbytes"]] = rb
    buf[ib["data_at"]:ib["data_at"] + ib["nbytes"]] = ra
    with open(p, "wb") as f:
        f.write(buf)


def logits_selftest(good, cli, ids, engine_dir):
    """A copy of good with layer 0's gate_proj and up_proj contents swapped still passes every
    format rule; the logits comparison against engine_dir must reject it."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("skipped logits selftest: /usr/bin/python3 cannot import torch")
        return 0
    tmp = tempfile.mkdtemp()
    try:
        d = os.path.join(tmp, "m")
        shutil.copytree(good, d)
        _swap_tensors(d, "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight")
        check_dir(d)
        try:
            check_logits(d, cli, ids, 1, 1e-4, engine_dir)
        except Broken as e:
            print(f"ok logits selftest (gate/up swapped): {e}")
            return 0
        print("FAIL logits selftest: swapped gate/up contents were not detected")
        return 1
    finally:
        shutil.rmtree(tmp)


# ---------------------------------------------------------------- self-test: damage must be caught
def _rewrite(path, edit_header, edit_data=lambda b: b):
    with open(path, "rb") as f:
        buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]
    h = json.loads(buf[8:8 + n])
    h = edit_header(h)
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + edit_data(buf[8 + n:]))


def _gap(h):
    """Shift every tensor after the first (in offset order) by 8 bytes; the data grows by 8
    zero bytes there, so only the gap is wrong."""
    order = sorted((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])
    cut = h[order[0]]["data_offsets"][1]
    for k in order[1:]:
        s, e = h[k]["data_offsets"]
        h[k]["data_offsets"] = [s + 8, e + 8]
    _gap.cut = cut
    return h


def _last_tensor(h):
    return max((k for k in h if k != "__metadata__"), key=lambda k: h[k]["data_offsets"][0])


def _first_name(h):
    return sorted(k for k in h if k != "__metadata__")[0]


def _overlap(h):
    """The last tensor (by offset) moved onto the start of the buffer, same length."""
    k = _last_tensor(h)
    s, e = h[k]["data_offsets"]
    h[k]["data_offsets"] = [0, e - s]
    return h


def _widen_shape(h):
    k = _first_name(h)
    h[k]["shape"] = h[k]["shape"][:-1] + [h[k]["shape"][-1] + 1]
    return h


def _bad_dtype(h):
    h[_first_name(h)]["dtype"] = "FP32"
    return h


def _other_shard(j):
    names = sorted(set(j["weight_map"].values()))
    cur = j["weight_map"]["model.norm.weight"]
    j["weight_map"]["model.norm.weight"] = names[0] if cur != names[0] else names[-1]


def selftest(good):
    """good: a passing sharded checkpoint. Each case damages a copy; each must be rejected with
    the named rule."""
    check_dir(good)
    first = sorted(f for f in os.listdir(good) if f.endswith(".safetensors"))[0]
    f0 = lambda d: os.path.join(d, first)  # noqa: E731
    cases = [
        ("gap between tensors", "InvalidOffset",
         lambda d: _rewrite(f0(d), _gap, lambda b: b[:_gap.cut] + bytes(8) + b[_gap.cut:])),
        ("overlapping tensors", "InvalidOffset", lambda d: _rewrite(f0(d), _overlap)),
        ("missing __metadata__", "__metadata__", lambda d: _rewrite(
            f0(d), lambda h: {k: v for k, v in h.items() if k != "__metadata__"})),
        ("format tf", "__metadata__", lambda d: _rewrite(
            f0(d), lambda h: dict(h, __metadata__={"format": "tf"}))),
        ("wrong total_size", "total_size", lambda d: _edit_json(
            os.path.join(d, INDEX), lambda j: j["metadata"].__setitem__(
                "total_size", j["metadata"]["total_size"] + 2))),
        ("index names the wrong shard", "weight_map puts",
         lambda d: _edit_json(os.path.join(d, INDEX), _other_shard)),
        ("truncated file", "MetadataIncompleteBuffer", lambda d: _truncate(f0(d), 2)),
        ("trailing bytes", "MetadataIncompleteBuffer", lambda d: _append(f0(d), bytes(4))),
        ("shape disagrees with bytes", "TensorInvalidInfo", lambda d: _rewrite(f0(d), _widen_shape)),
        ("unknown dtype", "unknown dtype", lambda d: _rewrite(f0(d), _bad_dtype)),
        ("header not padded to 8", "multiple of 8", lambda d: _unpad(f0(d))),
        ("header length past the end", "InvalidHeaderLength",
         lambda d: _set_len(f0(d), os.path.getsize(f0(d)))),
        ("header length over 100 MB", "HeaderTooLarge", lambda d: _set_len(f0(d), 1 << 40)),
        ("renamed tensor", "missing keys",
         lambda d: _rename(d, "model.norm.weight", "model.final_norm.weight")),
        ("config intermediate_size", "size mismatch", lambda d: _edit_json(
            os.path.join(d, "config.json"), lambda j: j.__setitem__(
                "intermediate_size", j["intermediate_size"] + 1))),
        ("config torch_dtype", "torch_dtype", lambda d: _edit_json(
            os.path.join(d, "config.json"), lambda j: j.__setitem__("torch_dtype", "float16"))),
        ("config model_type", "model_type", lambda d: _edit_json(
            os.path.join(d, "config.json"), lambda j: j.__setitem__("model_type", "olmo"))),
        ("stale single file next to the index", "both",
         lambda d: shutil.copy(f0(d), os.path.join(d, SINGLE))),
    ]
    bad = 0
    for name, want, mutate in cases:
        tmp = tempfile.mkdtemp()
        try:
            d = os.path.join(tmp, "m")
            shutil.copytree(good, d)
            mutate(d)
            try:
                check_dir(d)
                print(f"FAIL selftest {name}: the damaged checkpoint passed")
                bad = 1
            except Broken as e:
                if want not in str(e):
                    print(f"FAIL selftest {name}: rejected, but for '{e}', want '{want}'")
                    bad = 1
                else:
                    print(f"ok selftest {name}: {e}")
        finally:
            shutil.rmtree(tmp)
    return bad


def _edit_json(path, fn):
    with open(path) as f:
        j = json.load(f)
    fn(j)
    with open(path, "w") as f:
        json.dump(j, f, indent=2)


def _truncate(path, k):
    with open(path, "rb") as f:
        b = f.read()
    with open(path, "wb") as f:
        f.write(b[:-k])


def _append(path, extra):
    with open(path, "ab") as f:
        f.write(extra)


def _unpad(path):
    """Header without its space padding, one byte longer than a multiple of 8 if need be (a
    trailing newline inside the JSON whitespace keeps it valid JSON)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    text = b[8:8 + n].rstrip(b" ")
    if len(text) % 8 == 0:
        text = text[:-1] + b"\n}"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b[8 + n:])


def _set_len(path, n):
    with open(path, "r+b") as f:
        f.write(struct.pack("<Q", n))


def _rename(d, old, new):
    for fn in os.listdir(d):
        if fn.endswith(".safetensors"):
            p = os.path.join(d, fn)
            with open(p, "rb") as f:
                b = f.read()
            n = struct.unpack("<Q", b[:8])[0]
            if json.loads(b[8:8 + n]).get(old) is not None:
                _rewrite(p, lambda h: {(new if k == old else k): v for k, v in h.items()})
    if os.path.isfile(os.path.join(d, INDEX)):
        _edit_json(os.path.join(d, INDEX), lambda j: j["weight_map"].__setitem__(
            new, j["weight_map"].pop(old)))


# ---------------------------------------------------------------- llama2.c checkpoints
def _write_llama2c(path, hdr, parts):
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", *hdr))
        for p in parts:
            f.write(struct.pack(f"<{len(p)}f", *p))


def make_llama2c(path, dim=32, hidden=48, layers=2, heads=4, kv_heads=2, vocab=40, seq=16):
    """Tied (positive vocab_size) llama2.c v0 file with deterministic pseudo-random weights."""
    rng = random.Random(20240602)
    hs, kvd = dim // heads, dim // heads * kv_heads

    def w(n, std=0.2):
        return [rng.gauss(0.0, std) for _ in range(n)]

    def nw(n):
        return [1.0 + rng.gauss(0.0, 0.1) for _ in range(n)]
    parts = [w(vocab * dim, 0.5), nw(layers * dim), w(layers * dim * dim), w(layers * dim * kvd),
             w(layers * dim * kvd), w(layers * dim * dim), nw(layers * dim),
             w(layers * hidden * dim), w(layers * dim * hidden), w(layers * hidden * dim), nw(dim),
             [0.0] * (seq * hs // 2), [0.0] * (seq * hs // 2)]  # freq_cis: unused by readers
    _write_llama2c(path, (dim, hidden, layers, heads, kv_heads, vocab, seq), parts)


def llama2c_from_hf(path, src):
    """The tied F32 Llama checkpoint src as a llama2.c v0 file: q/k rows back from HF's
    rotate-half order to llama2.c's interleaved pairs (HF row h*hd + p*hd/2 + i holds llama2.c
    row h*hd + 2i + p), so that converting it back must give src's function (with llama2.c's
    rope_theta 10000)."""
    cfg, ts = check_dir(src, "F32")
    if cfg["model_type"] != "llama" or not cfg["tie_word_embeddings"]:
        raise Broken(f"{src}: want a tied Llama checkpoint")
    blobs = {}
    for fn in {i["file"] for i in ts.values()}:
        with open(os.path.join(src, fn), "rb") as f:
            blobs[fn] = f.read()

    def get(name):
        i = ts[name]
        return list(struct.unpack(f"<{i['nbytes'] // 4}f",
                                  blobs[i["file"]][i["data_at"]:i["data_at"] + i["nbytes"]]))
    C, H, V, L = (cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"],
                  cfg["num_hidden_layers"])
    NH, NKV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, T = C // NH, cfg["max_position_embeddings"]

    def unrope(w, heads):
        out = [0.0] * len(w)
        for h in range(heads):
            for i in range(hd // 2):
                for p in range(2):
                    dst, srow = h * hd + 2 * i + p, h * hd + p * (hd // 2) + i
                    out[dst * C:(dst + 1) * C] = w[srow * C:(srow + 1) * C]
        return out

    def per_layer(leaf, fn=lambda w: w):
        return [x for l in range(L) for x in fn(get(f"model.layers.{l}.{leaf}.weight"))]
    parts = [get("model.embed_tokens.weight"), per_layer("input_layernorm"),
             per_layer("self_attn.q_proj", lambda w: unrope(w, NH)),
             per_layer("self_attn.k_proj", lambda w: unrope(w, NKV)),
             per_layer("self_attn.v_proj"), per_layer("self_attn.o_proj"),
             per_layer("post_attention_layernorm"), per_layer("mlp.gate_proj"),
             per_layer("mlp.down_proj"), per_layer("mlp.up_proj"), get("model.norm.weight"),
             [0.0] * (T * hd // 2), [0.0] * (T * hd // 2)]
    _write_llama2c(path, (C, H, L, NH, NKV, V, T), parts)


def main(argv):
    pos, opts, i = [], {}, 0
    while i < len(argv):
        if argv[i].startswith("--"):
            if i + 1 >= len(argv):
                print(f"{argv[i]} needs a value", file=sys.stderr)
                return 2
            opts[argv[i]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) < 2:
        print("usage:" + __doc__.split("usage:")[1], file=sys.stderr)
        return 2
    cmd, targets = pos[0], pos[1:]
    opt = opts.get
    try:
        for target in targets:
            if cmd == "check":
                shards = opt("--shards")
                cfg, ts = check_dir(target, opt("--dtype"), int(shards) if shards else None)
                nfiles = len({i["file"] for i in ts.values()})
                print(f"ok check {target}: {ARCH[cfg['model_type']]}, {len(ts)} tensors, "
                      f"{next(iter(ts.values()))['dtype']}, {nfiles} file(s)")
            elif cmd == "logits":
                ids = [int(x) for x in opt("--ids").split(",")]
                check_logits(target, opt("--cli"), ids, int(opt("--steps", "2")),
                             float(opt("--rtol", "1e-4")), opt("--engine-dir"))
            elif cmd == "selftest":
                if selftest(target):
                    return 1
            elif cmd == "logits-selftest":
                if logits_selftest(target, opt("--cli"), [int(x) for x in opt("--ids").split(",")],
                                   opt("--engine-dir")):
                    return 1
            elif cmd == "make-llama2c":
                if opt("--from"):
                    llama2c_from_hf(target, opt("--from"))
                else:
                    make_llama2c(target)
            else:
                print(f"unknown command {cmd}", file=sys.stderr)
                return 2
    except Broken as e:
        print(f"FAIL {cmd} {target}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
