#!/usr/bin/python3
"""torch_step.py: the PyTorch peer of bench_engine.c: the same OLMo2 step in fp32 PyTorch.

OLMo2 as HuggingFace transformers implements it (Olmo2ForCausalLM, eager attention), written
out here so that the peer carries no transformers overhead:
  - post-norm blocks: h = x + post_attention_layernorm(o_proj(attn(x)));
    out = h + post_feedforward_layernorm(mlp(h));
  - q_norm / k_norm: RMSNorm over the whole projected q (NH*HD) and k (NKV*HD) before the head
    split and RoPE; GQA through repeat_kv; rotate-half RoPE; causal softmax in fp32;
  - SwiGLU MLP down(silu(gate(x)) * up(x)), no biases, final norm, untied lm_head.
The RoPE table and the causal mask are built once per shape (the C engine also builds its RoPE
table once, at reserve).

Cases (as in bench_engine.c): train_all (CE on every position), train_last (CE on the last position
of each sequence, so the LM head only runs there), forward (no grad, logits at the last position).
A training step is zero_grad(set_to_none) + forward + loss + backward + clip_grad_norm_(1.0) +
AdamW (decay on matrices only, like the engine). The thread count is set for ATen
(torch.set_num_threads) and for the OpenBLAS that ATen's sgemm calls (openblas_set_num_threads;
Debian's torch links libopenblas). Run with OMP_WAIT_POLICY=PASSIVE (bench/run.sh does).

Output: the same tab-separated lines as bench_engine, impl "torch" (cpu_s from time.process_time).
--check compares the model's logits and CE loss against tests/reference's independent float64
fixture (OLMo2 with GQA and padding) and exits non-zero on a mismatch.
"""
import argparse
import ctypes
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

SHAPES = {
    "tiny": dict(C=128, L=4, NH=4, H=512, V=2048, T=64, B=16),
    "small": dict(C=512, L=8, NH=8, H=1408, V=8192, T=128, B=8),
    "medium": dict(C=768, L=12, NH=12, H=2048, V=32000, T=128, B=4),
}
MODES = ["train_all", "train_last", "forward"]


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, n_rep):
    if n_rep == 1:
        return x
    b, nkv, t, hd = x.shape
    return x[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


class Attention(nn.Module):
    def __init__(self, C, NH, NKV, HD, eps):
        super().__init__()
        self.NH, self.NKV, self.HD = NH, NKV, HD
        self.q_proj = nn.Linear(C, NH * HD, bias=False)
        self.k_proj = nn.Linear(C, NKV * HD, bias=False)
        self.v_proj = nn.Linear(C, NKV * HD, bias=False)
        self.o_proj = nn.Linear(NH * HD, C, bias=False)
        self.q_norm = RMSNorm(NH * HD, eps)
        self.k_norm = RMSNorm(NKV * HD, eps)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x))
        k = self.k_norm(self.k_proj(x))
        v = self.v_proj(x)
        q = q.view(B, T, self.NH, self.HD).transpose(1, 2)
        k = k.view(B, T, self.NKV, self.HD).transpose(1, 2)
        v = v.view(B, T, self.NKV, self.HD).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, self.NH // self.NKV)
        v = repeat_kv(v, self.NH // self.NKV)
        scores = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(self.HD)) + mask
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(B, T, self.NH * self.HD)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.gate_proj = nn.Linear(C, H, bias=False)
        self.up_proj = nn.Linear(C, H, bias=False)
        self.down_proj = nn.Linear(H, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, C, NH, NKV, HD, H, eps):
        super().__init__()
        self.self_attn = Attention(C, NH, NKV, HD, eps)
        self.mlp = MLP(C, H)
        self.post_attention_layernorm = RMSNorm(C, eps)
        self.post_feedforward_layernorm = RMSNorm(C, eps)

    def forward(self, x, cos, sin, mask):
        h = x + self.post_attention_layernorm(self.self_attn(x, cos, sin, mask))
        return h + self.post_feedforward_layernorm(self.mlp(h))


class Olmo2(nn.Module):
    def __init__(self, C, L, NH, NKV, H, V, T, eps=1e-6, theta=500000.0):
        super().__init__()
        HD = C // NH
        self.embed_tokens = nn.Embedding(V, C)
        self.layers = nn.ModuleList(Layer(C, NH, NKV, HD, H, eps) for _ in range(L))
        self.norm = RMSNorm(C, eps)
        self.lm_head = nn.Linear(C, V, bias=False)
        inv_freq = 1.0 / (theta ** (torch.arange(0, HD, 2, dtype=torch.float64) / HD))
        freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos", emb.cos().float(), persistent=False)
        self.register_buffer("sin", emb.sin().float(), persistent=False)
        mask = torch.full((T, T), float("-inf")).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, tokens, last_only):
        """tokens (B, T) -> logits (B, T, V), or (B, V) at the last position when last_only."""
        T = tokens.shape[1]
        x = self.embed_tokens(tokens)
        cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        if last_only:
            x = x[:, -1, :]
        return self.lm_head(self.norm(x))


def set_threads(n):
    torch.set_num_threads(n)
    for name in ("libopenblas.so.0", "libopenblas.so"):
        try:
            ctypes.CDLL(name).openblas_set_num_threads(n)
            return
        except (OSError, AttributeError):
            continue


def make_model(s, seed=1234):
    torch.manual_seed(seed)
    m = Olmo2(s["C"], s["L"], s["NH"], s["NH"], s["H"], s["V"], s["T"])
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
    return m


def bench_shape(name, threads, modes, warmup, reps, foreach):
    s = SHAPES[name]
    B, T, V = s["B"], s["T"], s["V"]
    set_threads(threads)
    m = make_model(s)
    g = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    decay = [p for p in m.parameters() if p.dim() == 2]
    no_decay = [p for p in m.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8, foreach=foreach)
    out = []
    for mode in modes:
        def step():
            if mode == "forward":
                with torch.no_grad():
                    m(tokens, last_only=True)
                return
            opt.zero_grad(set_to_none=True)
            if mode == "train_all":
                loss = F.cross_entropy(m(tokens, last_only=False).reshape(B * T, V),
                                       targets.reshape(B * T))
            else:
                loss = F.cross_entropy(m(tokens, last_only=True), targets[:, 0])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()

        times, cpu = [], []
        for r in range(warmup + reps):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r >= warmup:
                times.append(dt)
                cpu.append(dc)
        med = statistics.median(times)
        out.append((name, threads, mode, B * T, med, min(times), statistics.median(cpu)))
    return out


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (path, k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(v["shape"])
    return out


def check():
    """The module's logits and CE loss against the float64 reference fixture."""
    here = os.path.dirname(os.path.abspath(__file__))
    fx = os.path.join(here, "..", "..", "tests", "reference", "fixtures")
    cfg = json.load(open(os.path.join(fx, "olmo2_f32", "config.json")))
    w = read_safetensors(os.path.join(fx, "olmo2_f32", "model.safetensors"))
    exp = read_safetensors(os.path.join(fx, "expected_olmo2.safetensors"))
    m = Olmo2(cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
              cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["vocab_size"],
              cfg["max_position_embeddings"], eps=cfg["rms_norm_eps"], theta=cfg["rope_theta"])
    state = {k[len("model."):] if k.startswith("model.") else k: v for k, v in w.items()}
    m.load_state_dict(state, strict=True)
    tokens = exp["batch.tokens"].long()
    pos = exp["ce.pos"].long()
    B, T = tokens.shape
    with torch.no_grad():
        # Right padding does not reach earlier positions through causal attention, and every
        # checked position lies inside its sequence.
        z = m(tokens, last_only=False).reshape(B * T, -1)[pos]
        loss = F.cross_entropy(z, exp["ce.targets"].long())
    err = ((z - exp["logits"]).abs().max() / exp["logits"].abs().max()).item()
    lerr = abs(loss.item() - exp["loss.ce"].item()) / abs(exp["loss.ce"].item())
    print(f"check: logits max rel err {err:.2e}, CE loss rel err {lerr:.2e}")
    return 0 if err < 1e-4 and lerr < 1e-4 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="tiny,small,medium")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--foreach", choices=["default", "on", "off"], default="default",
                    help="AdamW foreach implementation (default: PyTorch's choice)")
    ap.add_argument("--no-header", action="store_true")
    ap.add_argument("--check", action="store_true", help="compare against the reference fixture")
    a = ap.parse_args()
    if a.check:
        return check()
    shapes = a.shapes.split(",")
    modes = a.modes.split(",")
    for x in shapes:
        if x not in SHAPES:
            ap.error(f"--shapes: unknown shape {x}")
    for x in modes:
        if x not in MODES:
            ap.error(f"--modes: unknown mode {x}")
    threads = [int(x) for x in a.threads.split(",")]
    foreach = {"default": None, "on": True, "off": False}[a.foreach]
    if not a.no_header:
        print("impl\tshape\tthreads\tmode\ttokens\tmodel_gflop\tmedian_s\tmin_s\ttok_s\tgflops\tcpu_s")
    for name in shapes:
        for t in threads:
            for (shape, th, mode, tok, med, mn, cpu) in bench_shape(name, t, modes, a.warmup,
                                                                   a.reps, foreach):
                # model FLOPs come from bench_engine (same formula, same shapes); 0 here
                print(f"torch\t{shape}\t{th}\t{mode}\t{tok}\t0\t{med:.6f}\t{mn:.6f}\t"
                      f"{tok / med:.1f}\t0\t{cpu:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
