#!/usr/bin/python3
"""make_fixture.py: writes the PyTorch reference fixture for tests/reference/test_reference.c.

A self-contained float64 PyTorch implementation of OLMo2 and Llama written from the HuggingFace
transformers semantics (Olmo2ForCausalLM / LlamaForCausalLM; transformers itself is not used):
  - OLMo2: h = x + post_attention_layernorm(o_proj(attn(x))); out = h + post_feedforward_layernorm(mlp(h));
    q_norm / k_norm are RMSNorms over the whole projected q (NH*HD) and k (NKV*HD), before the
    head split and RoPE; final norm; untied lm_head.
  - Llama: pre-norm (input_layernorm, post_attention_layernorm), tied embeddings here.
  - Rotate-half RoPE (dim i paired with i + HD/2), GQA (repeat_kv), causal softmax attention with
    right padding masked, SwiGLU MLP, no biases.

For each model it writes, under fixtures/:
  <name>_f32/            config.json + model.safetensors (F32)
  olmo2_bf16/            the same OLMo2 weights as BF16, sharded, with model.safetensors.index.json
  expected_<name>.safetensors  batch, logits, losses (CE at positions, KL with T=2, causal LM),
                         the gradient of every parameter for each loss, and 5 AdamW steps.
Weights are rounded to bf16 before anything is computed, so the F32 and BF16 checkpoints hold
identical values and share one expected file.

Run with Debian's torch: /usr/bin/python3 tests/reference/make_fixture.py
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(20240601)
torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")

CFG = dict(hidden_size=24, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
           num_key_value_heads=2, vocab_size=48, max_position_embeddings=64, rope_theta=500.0,
           rms_norm_eps=1e-5)
B, T = 2, 6
LENGTHS = [6, 4]
TEMPERATURE = 2.0
ADAM = dict(lr_max=1e-2, lr_min=1e-3, warmup=2, total=5, beta1=0.9, beta2=0.95, eps=1e-8,
            weight_decay=0.1, max_grad_norm=1.0)


# ---------------------------------------------------------------- safetensors, by hand
def st_bytes(tensors, dtype):
    """tensors: list of (name, float64 tensor). dtype 'F32' or 'BF16'."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        f = t.detach().to(torch.float32).contiguous()
        if dtype == "F32":
            raw = f.numpy().tobytes()
        else:  # exact: the values are bf16-representable, so the low 16 bits are zero
            bits = f.view(torch.int32).numpy()
            assert ((bits & 0xFFFF) == 0).all()
            raw = (bits >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- the model
def bf16_round(t):
    f = t.to(torch.float32).contiguous()
    bits = f.view(torch.int32)
    # round to nearest even on the upper 16 bits
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) & ~0xFFFF).to(torch.int32)
    return bits.view(torch.float32).to(torch.float64)


def make_params(arch, tied):
    C, H, V = CFG["hidden_size"], CFG["intermediate_size"], CFG["vocab_size"]
    NH, NKV = CFG["num_attention_heads"], CFG["num_key_value_heads"]
    HD = C // NH
    p = {}

    def w(*shape, std=0.15):
        return bf16_round(torch.randn(*shape) * std)

    def nw(n):
        return bf16_round(1.0 + 0.2 * torch.randn(n))

    p["model.embed_tokens.weight"] = w(V, C, std=0.5)
    for l in range(CFG["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        p[pre + "self_attn.q_proj.weight"] = w(NH * HD, C)
        p[pre + "self_attn.k_proj.weight"] = w(NKV * HD, C)
        p[pre + "self_attn.v_proj.weight"] = w(NKV * HD, C)
        p[pre + "self_attn.o_proj.weight"] = w(C, NH * HD)
        if arch == "olmo2":
            p[pre + "self_attn.q_norm.weight"] = nw(NH * HD)
            p[pre + "self_attn.k_norm.weight"] = nw(NKV * HD)
            p[pre + "post_attention_layernorm.weight"] = nw(C)
            p[pre + "post_feedforward_layernorm.weight"] = nw(C)
        else:
            p[pre + "input_layernorm.weight"] = nw(C)
            p[pre + "post_attention_layernorm.weight"] = nw(C)
        p[pre + "mlp.gate_proj.weight"] = w(H, C)
        p[pre + "mlp.up_proj.weight"] = w(H, C)
        p[pre + "mlp.down_proj.weight"] = w(C, H)
    p["model.norm.weight"] = nw(C)
    if not tied:
        p["lm_head.weight"] = w(V, C)
    return p


def rmsnorm(x, w):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + CFG["rms_norm_eps"]))


def rope_cos_sin(HD):
    inv_freq = 1.0 / (CFG["rope_theta"] ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD))
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)  # (T, HD)
    # the C engine computes the table in double and rounds it to float once
    return emb.cos().to(torch.float32).to(torch.float64), emb.sin().to(torch.float32).to(torch.float64)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def attention(x_q, x_k, x_v, lengths):
    """x_q (B, T, NH*HD), x_k/x_v (B, T, NKV*HD) after projections (and qk-norm)."""
    NH, NKV = CFG["num_attention_heads"], CFG["num_key_value_heads"]
    HD = CFG["hidden_size"] // NH
    q = x_q.view(B, T, NH, HD).transpose(1, 2)
    k = x_k.view(B, T, NKV, HD).transpose(1, 2)
    v = x_v.view(B, T, NKV, HD).transpose(1, 2)
    cos, sin = rope_cos_sin(HD)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    rep = NH // NKV  # repeat_kv
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(HD)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    mask = torch.zeros(B, 1, T, T, dtype=torch.bool)
    for b in range(B):
        mask[b, 0] = (j <= i) & (j < lengths[b])
    scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    out = probs @ v  # (B, NH, T, HD)
    return out.transpose(1, 2).reshape(B, T, NH * HD)


def mlp(x, p, pre):
    g = x @ p[pre + "mlp.gate_proj.weight"].T
    u = x @ p[pre + "mlp.up_proj.weight"].T
    return (torch.nn.functional.silu(g) * u) @ p[pre + "mlp.down_proj.weight"].T


def forward(p, arch, tied, tokens, lengths):
    """Returns the final hidden states after model.norm (B, T, C) and the head matrix."""
    x = p["model.embed_tokens.weight"][tokens]
    for l in range(CFG["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        if arch == "olmo2":
            q = rmsnorm(x @ p[pre + "self_attn.q_proj.weight"].T, p[pre + "self_attn.q_norm.weight"])
            k = rmsnorm(x @ p[pre + "self_attn.k_proj.weight"].T, p[pre + "self_attn.k_norm.weight"])
            v = x @ p[pre + "self_attn.v_proj.weight"].T
            a = attention(q, k, v, lengths) @ p[pre + "self_attn.o_proj.weight"].T
            h = x + rmsnorm(a, p[pre + "post_attention_layernorm.weight"])
            x = h + rmsnorm(mlp(h, p, pre), p[pre + "post_feedforward_layernorm.weight"])
        else:
            n = rmsnorm(x, p[pre + "input_layernorm.weight"])
            q = n @ p[pre + "self_attn.q_proj.weight"].T
            k = n @ p[pre + "self_attn.k_proj.weight"].T
            v = n @ p[pre + "self_attn.v_proj.weight"].T
            h = x + attention(q, k, v, lengths) @ p[pre + "self_attn.o_proj.weight"].T
            x = h + mlp(rmsnorm(h, p[pre + "post_attention_layernorm.weight"]), p, pre)
    x = rmsnorm(x, p["model.norm.weight"])
    head = p["model.embed_tokens.weight"] if tied else p["lm_head.weight"]
    return x, head


def logits_at(p, arch, tied, tokens, lengths, pos):
    x, head = forward(p, arch, tied, tokens, lengths)
    return x.reshape(B * T, -1)[pos] @ head.T


def ce_loss(z, targets):
    return torch.nn.functional.cross_entropy(z, targets, reduction="mean")


def kl_loss(z, teacher):
    # forward KL(teacher_T || student_T) * T^2, mean over positions
    lt = torch.log_softmax(teacher / TEMPERATURE, -1)
    ls = torch.log_softmax(z / TEMPERATURE, -1)
    return (lt.exp() * (lt - ls)).sum(-1).mean() * TEMPERATURE**2


def lr_at(step):
    a = ADAM
    if step < a["warmup"]:
        return a["lr_max"] * (step + 1) / a["warmup"]
    if step >= a["total"]:
        return a["lr_min"]
    prog = (step - a["warmup"]) / (a["total"] - a["warmup"])
    return a["lr_min"] + 0.5 * (1 + math.cos(math.pi * prog)) * (a["lr_max"] - a["lr_min"])


def build(name, arch, tied):
    p = make_params(arch, tied)
    V = CFG["vocab_size"]
    tokens = torch.randint(0, V, (B, T))
    for b in range(B):
        tokens[b, LENGTHS[b]:] = 0  # padding; never read by real positions
    ce_pos = torch.tensor([5, 2, T + 3])
    ce_targets = torch.randint(0, V, (3,))
    teacher = torch.randn(3, V) * 3.0
    teacher = teacher.to(torch.float32).to(torch.float64)
    clm_pos = torch.tensor([b * T + t for b in range(B) for t in range(LENGTHS[b] - 1)])
    clm_targets = torch.tensor([int(tokens[b, t + 1]) for b in range(B) for t in range(LENGTHS[b] - 1)])

    exp = {
        "batch.tokens": tokens.double(), "batch.lengths": torch.tensor(LENGTHS).double(),
        "ce.pos": ce_pos.double(), "ce.targets": ce_targets.double(), "kl.teacher": teacher,
        "kl.temperature": torch.tensor([TEMPERATURE]),
    }
    losses = {
        "ce": lambda q: ce_loss(logits_at(q, arch, tied, tokens, LENGTHS, ce_pos), ce_targets),
        "kl": lambda q: kl_loss(logits_at(q, arch, tied, tokens, LENGTHS, ce_pos), teacher),
        "clm": lambda q: ce_loss(logits_at(q, arch, tied, tokens, LENGTHS, clm_pos), clm_targets),
    }
    with torch.no_grad():
        exp["logits"] = logits_at(p, arch, tied, tokens, LENGTHS, ce_pos)
    for lname, fn in losses.items():
        q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        loss = fn(q)
        loss.backward()
        exp[f"loss.{lname}"] = loss.detach().reshape(1)
        for k, v in q.items():
            exp[f"grad.{lname}.{k}"] = v.grad

    # 5 AdamW steps on the causal-LM loss: clipping, warmup + cosine, decay on matrices only
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    decay = [v for k, v in q.items() if not k.endswith("norm.weight")]
    no_decay = [v for k, v in q.items() if k.endswith("norm.weight")]
    a = ADAM
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a["lr_max"], betas=(a["beta1"], a["beta2"]), eps=a["eps"])
    step_losses, norms = [], []
    for step in range(5):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad()
        loss = losses["clm"](q)
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(q.values()), a["max_grad_norm"])))
        opt.step()
        step_losses.append(float(loss))
    exp["adam.losses"] = torch.tensor(step_losses)
    exp["adam.grad_norms"] = torch.tensor(norms)
    exp["adam.hparams"] = torch.tensor([a["lr_max"], a["lr_min"], a["warmup"], a["total"], a["beta1"],
                                        a["beta2"], a["eps"], a["weight_decay"], a["max_grad_norm"]])
    print(name, "losses", {k: float(exp[f"loss.{k}"]) for k in losses}, "adam", step_losses,
          "norms", norms)

    config = {
        "architectures": ["Olmo2ForCausalLM" if arch == "olmo2" else "LlamaForCausalLM"],
        "model_type": arch,
        **CFG,
        "hidden_act": "silu",
        "attention_bias": False,
        "tie_word_embeddings": tied,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "torch_dtype": "float32",
    }
    d = os.path.join(OUT, f"{name}_f32")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    items = sorted(p.items())
    write(os.path.join(d, "model.safetensors"), st_bytes(items, "F32"))
    if arch == "olmo2":  # sharded BF16 copy of the same weights
        d = os.path.join(OUT, f"{name}_bf16")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({**config, "torch_dtype": "bfloat16"}, f, indent=2)
        half = len(items) // 2
        shards = [items[:half], items[half:]]
        weight_map, total = {}, 0
        for i, sh in enumerate(shards):
            fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
            write(os.path.join(d, fname), st_bytes(sh, "BF16"))
            for k, v in sh:
                weight_map[k] = fname
                total += v.numel() * 2
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    write(os.path.join(OUT, f"expected_{name}.safetensors"), st_bytes(sorted(exp.items()), "F32"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    build("olmo2", "olmo2", tied=False)
    build("llama_tied", "llama", tied=True)
