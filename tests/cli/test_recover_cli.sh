#!/usr/bin/env bash
# test_recover_cli.sh: `prunesweep prune`, `eval --json --predictions` and `recover --save` on a
# tiny synthetic world (make-world) with a random OLMo2 model written by numpy:
#  - prune writes a checkpoint with intermediate_size round(r*H) and the tokenizer, which
#    `info` and `eval` read; its report lines give the three retentions;
#  - eval --json parses and has every metric; --predictions has one line per example with
#    probabilities summing to 1;
#  - recover prints one JSON object (recovered + unrecovered rows, every field), --save writes a
#    checkpoint that `info` loads and on which `eval` gives the recovered row's accuracy and NLL
#    exactly; a rerun prints the same metrics;
#  - bad inputs: one "prunesweep: error:" line each, exit 2 for usage, 1 for runtime failures.
set -uo pipefail
[ -n "${PSW_CLI:-}" ] || { echo "skip: PSW_CLI is not set"; exit 77; }
PY=/usr/bin/python3
"$PY" -c "import numpy" 2>/dev/null || { echo "skip: $PY cannot import numpy"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
export OPENBLAS_NUM_THREADS=1 PSW_LOG_LEVEL=warn

"$PSW_CLI" make-world "$tmp/m" --seed 2 --entities 12 --facts-per-entity 3 --train 48 --dev 16 \
  --test 16 --vocab 330 --drills 0 >/dev/null 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: make-world"; exit 1; }

# A random OLMo2 (hidden 32, MLP 64, 2 layers, 4 heads / 2 kv heads) as an HF checkpoint.
"$PY" - "$tmp/m" <<'EOF' || { echo "FAIL: writing the random model"; exit 1; }
import json, struct, sys
import numpy as np
d = sys.argv[1]
tj = json.load(open(d + "/tokenizer.json"))
V = 1 + max(list(tj["model"]["vocab"].values()) + [t["id"] for t in tj["added_tokens"]])
C, H, L, NH, NKV, HD = 32, 64, 2, 4, 2, 8
cfg = {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "hidden_size": C,
       "intermediate_size": H, "num_hidden_layers": L, "num_attention_heads": NH,
       "num_key_value_heads": NKV, "vocab_size": V, "max_position_embeddings": 128,
       "rope_theta": 10000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
       "attention_bias": False, "rope_scaling": None}
json.dump(cfg, open(d + "/config.json", "w"))
rng = np.random.default_rng(5)
t = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,), "lm_head.weight": (V, C)}
for l in range(L):
    p = "model.layers.%d." % l
    t.update({p + "self_attn.q_proj.weight": (NH * HD, C), p + "self_attn.k_proj.weight": (NKV * HD, C),
              p + "self_attn.v_proj.weight": (NKV * HD, C), p + "self_attn.o_proj.weight": (C, NH * HD),
              p + "self_attn.q_norm.weight": (NH * HD,), p + "self_attn.k_norm.weight": (NKV * HD,),
              p + "post_attention_layernorm.weight": (C,), p + "post_feedforward_layernorm.weight": (C,),
              p + "mlp.gate_proj.weight": (H, C), p + "mlp.up_proj.weight": (H, C),
              p + "mlp.down_proj.weight": (C, H)})
header, blobs, off = {}, [], 0
for name, shape in t.items():
    a = np.ones(shape, np.float32) if name.endswith("norm.weight") else \
        (rng.standard_normal(shape) * 0.1).astype(np.float32)
    b = a.tobytes()
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(d + "/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
EOF

cat >"$tmp/exp.json" <<'EOF'
{"prompt": {"shots": 0},
 "training": {"micro_batch": 4, "grad_accum": 1, "epochs": 2, "lr": 0.003, "eval_batch": 8}}
EOF

# json_get FILE EXPR: prints a Python expression over the parsed JSON `j`, or fails.
json_get() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# ---- prune ----
"$PSW_CLI" prune "$tmp/m" --retention 0.35 "$tmp/p" >"$tmp/out" 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: prune"; fail=1; }
# 0.35 * 64 = 22.4 -> 22 neurons per layer.
grep -q "MLP neurons kept      44 / 128 (22 per layer)" "$tmp/out" ||
  { echo "FAIL: prune report neurons"; cat "$tmp/out"; fail=1; }
# MLP params 2*3*32*22 = 4224 of 12288; non-embedding adds 2*(4*... ) attention + norms.
grep -q "MLP params            4224 / 12288  retention 0.3438" "$tmp/out" ||
  { echo "FAIL: prune report MLP params"; cat "$tmp/out"; fail=1; }
grep -q "non-embedding params" "$tmp/out" && grep -q "total params" "$tmp/out" ||
  { echo "FAIL: prune report lacks the other retentions"; fail=1; }
[ "$(json_get "$tmp/p/config.json" 'j["intermediate_size"]')" = 22 ] ||
  { echo "FAIL: pruned config.json intermediate_size"; fail=1; }
cmp -s "$tmp/m/tokenizer.json" "$tmp/p/tokenizer.json" ||
  { echo "FAIL: prune did not copy tokenizer.json"; fail=1; }
"$PSW_CLI" info "$tmp/p" >"$tmp/info" 2>"$tmp/err" && grep -q "intermediate 22" "$tmp/info" ||
  { echo "FAIL: info on the pruned model"; cat "$tmp/err" "$tmp/info"; fail=1; }

# ---- eval --json --predictions ----
"$PSW_CLI" eval "$tmp/p" "$tmp/m/dev.jsonl" --config "$tmp/exp.json" --json \
  --predictions "$tmp/pred.jsonl" >"$tmp/eval.json" 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: eval"; fail=1; }
"$PY" - "$tmp/eval.json" "$tmp/pred.jsonl" <<'EOF' || fail=1
import json, math, sys
m = json.load(open(sys.argv[1]))
keys = ["n_examples", "n_labeled", "accuracy", "entropy", "entropy_norm", "nll", "brier", "ece",
        "mce", "choice_mass", "ece_bins", "reliability"]
missing = [k for k in keys if k not in m]
if missing: sys.exit("FAIL: eval --json lacks %s" % missing)
if m["n_examples"] != 16 or m["n_labeled"] != 16 or m["ece_bins"] != 15:
    sys.exit("FAIL: eval counts %s" % m)
preds = [json.loads(l) for l in open(sys.argv[2])]
if len(preds) != 16: sys.exit("FAIL: %d prediction lines" % len(preds))
acc = 0
for p in preds:
    for k in ["id", "gold", "labels", "prob", "logprob_full", "choice_mass"]:
        if k not in p: sys.exit("FAIL: prediction lacks %s" % k)
    if abs(sum(p["prob"]) - 1) > 1e-6: sys.exit("FAIL: probabilities sum to %g" % sum(p["prob"]))
    acc += max(range(len(p["prob"])), key=lambda k: (p["prob"][k], -k)) == p["gold"]
if abs(acc / 16 - m["accuracy"]) > 1e-12: sys.exit("FAIL: predictions' accuracy != metrics")
EOF
# training.eval_forward "batched" (one GEMM per batch): the same predictions to fp32 rounding.
"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); s.setdefault("training", {})["eval_forward"]="batched"; json.dump(s, open(sys.argv[2], "w"))' \
  "$tmp/exp.json" "$tmp/exp_batched.json"
"$PSW_CLI" eval "$tmp/p" "$tmp/m/dev.jsonl" --config "$tmp/exp_batched.json" --json \
  --predictions "$tmp/pred_b.jsonl" >"$tmp/eval_b.json" 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: eval with eval_forward batched"; fail=1; }
"$PY" - "$tmp/pred.jsonl" "$tmp/pred_b.jsonl" <<'EOF' || fail=1
import sys, json
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
if len(a) != len(b) or [x["id"] for x in a] != [x["id"] for x in b]:
    sys.exit("FAIL: batched eval: different examples")
d = max(abs(p - q) for x, y in zip(a, b) for p, q in zip(x["prob"], y["prob"]))
if d > 1e-5: sys.exit("FAIL: batched eval differs from per-sequence by %g" % d)
EOF

# ---- recover --save ----
rec() { "$PSW_CLI" recover "$tmp/m" --train "$tmp/m/train.jsonl" --test "$tmp/m/dev.jsonl" \
          --retention 0.5 --data-size 16 --seed 3 --config "$tmp/exp.json" \
          --cache-dir "$tmp/cache" "$@"; }
rec --loss kl --save "$tmp/r" >"$tmp/rec.json" 2>"$tmp/err" ||
  { cat "$tmp/err"; echo "FAIL: recover kl"; fail=1; }
"$PY" - "$tmp/rec.json" <<'EOF' || fail=1
import json, sys
lines = open(sys.argv[1]).read().splitlines()
if len(lines) != 1: sys.exit("FAIL: recover printed %d lines" % len(lines))
j = json.loads(lines[0])
fields = ["config_id", "kind", "retention", "loss", "data_size", "seed", "status", "message",
          "metrics", "mlp_neurons_kept", "mlp_neurons_total", "params_total", "params_mlp",
          "params_nonembed", "retention_mlp", "retention_nonembed", "retention_total",
          "train_steps", "final_loss", "seconds_prune", "seconds_train", "seconds_eval",
          "loss_curve"]
for row in ("recovered", "unrecovered"):
    missing = [f for f in fields if f not in j[row]]
    if missing: sys.exit("FAIL: %s lacks %s" % (row, missing))
r, u = j["recovered"], j["unrecovered"]
checks = [r["status"] == "ok", r["kind"] == "recovered", u["kind"] == "unrecovered",
          r["loss"] == "kl", u["loss"] == "none", r["data_size"] == 16, r["seed"] == 3,
          r["retention"] == 0.5, r["mlp_neurons_kept"] == 64, r["mlp_neurons_total"] == 128,
          r["retention_mlp"] == 0.5, r["train_steps"] == 8, len(r["loss_curve"]) == 8,
          u["train_steps"] == 0, u["final_loss"] is None, r["final_loss"] is not None,
          r["metrics"]["n_examples"] == 16, len(r["config_id"]) == 16]
if not all(checks): sys.exit("FAIL: recover JSON values %s" % [i for i, c in enumerate(checks) if not c])
EOF
"$PSW_CLI" info "$tmp/r" >"$tmp/info" 2>"$tmp/err" && grep -q "intermediate 32" "$tmp/info" ||
  { echo "FAIL: info on the saved recovered model"; cat "$tmp/err"; fail=1; }
cmp -s "$tmp/m/tokenizer.json" "$tmp/r/tokenizer.json" || { echo "FAIL: --save tokenizer"; fail=1; }
"$PSW_CLI" eval "$tmp/r" "$tmp/m/dev.jsonl" --config "$tmp/exp.json" --json >"$tmp/eval_r.json" \
  2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: eval of the saved model"; fail=1; }
"$PY" - "$tmp/rec.json" "$tmp/eval_r.json" <<'EOF' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))["recovered"]["metrics"]
e = json.load(open(sys.argv[2]))
for k in ("accuracy", "nll", "brier", "entropy", "ece"):
    if r[k] != e[k]: sys.exit("FAIL: saved model %s %r != recover's %r" % (k, e[k], r[k]))
EOF
# The rerun (cache now on disk) prints the same metrics and loss.
rec --loss kl >"$tmp/rec2.json" 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: recover rerun"; fail=1; }
"$PY" -c '
import json, sys
a, b = (json.load(open(f))["recovered"] for f in sys.argv[1:])
same = a["metrics"] == b["metrics"] and a["final_loss"] == b["final_loss"] and a["loss_curve"] == b["loss_curve"]
sys.exit(0 if same else "FAIL: the rerun differs")' "$tmp/rec.json" "$tmp/rec2.json" || fail=1
rec --loss ce >"$tmp/rec_ce.json" 2>"$tmp/err" && [ "$(json_get "$tmp/rec_ce.json" 'j["recovered"]["status"]')" = ok ] ||
  { cat "$tmp/err"; echo "FAIL: recover ce"; fail=1; }

# ---- bad inputs ----
expect() { # exit code, message substring, command...
  local code=$1 msg=$2; shift 2
  "$PSW_CLI" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local n_err
  n_err=$(grep -c "^prunesweep: error: " "$tmp/err")
  if [ $rc -ne "$code" ] || [ "$n_err" -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
     ! grep -qF -- "$msg" "$tmp/err"; then
    echo "FAIL: $* -> exit $rc, stderr: $(cat "$tmp/err"); want $code, one line with '$msg'"
    fail=1
  fi
}
echo '{"training": {"lr": 0.1,}}' >"$tmp/bad.json"
echo '{"training": {"learning_rate": 0.1}}' >"$tmp/unknown.json"
expect 2 "--retention must be in (0, 1]" prune "$tmp/m" --retention 1.5 "$tmp/x"
expect 2 "--retention must be in (0, 1]" prune "$tmp/m" "$tmp/x"
expect 2 "--retention: 'half' is not a valid number" prune "$tmp/m" --retention half "$tmp/x"
expect 2 "unknown option '--bogus'" prune "$tmp/m" --retention 0.5 "$tmp/x" --bogus
expect 2 "--score magnitude" prune "$tmp/m" --retention 0.5 "$tmp/x" --score magnitude
expect 2 "missing arguments" prune "$tmp/m" --retention 0.5
expect 1 "config.json" prune "$tmp/nope" --retention 0.5 "$tmp/x"
[ -e "$tmp/x" ] && { echo "FAIL: a failed prune left $tmp/x"; fail=1; }
expect 1 "dev_missing.jsonl" eval "$tmp/m" "$tmp/m/dev_missing.jsonl"
expect 1 "config.json" eval "$tmp/nope" "$tmp/m/dev.jsonl"
expect 2 "unknown option '--shot'" eval "$tmp/m" "$tmp/m/dev.jsonl" --shot 2
expect 2 "bad.json" eval "$tmp/m" "$tmp/m/dev.jsonl" --config "$tmp/bad.json"
expect 2 "training.learning_rate" eval "$tmp/m" "$tmp/m/dev.jsonl" --config "$tmp/unknown.json"
expect 1 "missing.json" eval "$tmp/m" "$tmp/m/dev.jsonl" --config "$tmp/missing.json"
R=(recover "$tmp/m" --train "$tmp/m/train.jsonl" --test "$tmp/m/dev.jsonl" --data-size 8 --seed 1)
expect 2 "--retention must be in (0, 1]" "${R[@]}" --loss ce --retention 0
expect 2 "--loss must be ce, kl or mix" "${R[@]}" --loss l2 --retention 0.5
expect 2 "unknown option '--epochs'" "${R[@]}" --loss ce --retention 0.5 --epochs 3
expect 2 "bad.json" "${R[@]}" --loss ce --retention 0.5 --config "$tmp/bad.json"
expect 2 "training.learning_rate" "${R[@]}" --loss ce --retention 0.5 --config "$tmp/unknown.json"
expect 1 "missing.json" "${R[@]}" --loss ce --retention 0.5 --config "$tmp/missing.json"
expect 1 "nope.jsonl" recover "$tmp/m" --train "$tmp/nope.jsonl" --test "$tmp/m/dev.jsonl" \
  --data-size 8 --seed 1 --loss ce --retention 0.5
expect 2 "--data-size N >= 1" recover "$tmp/m" --train "$tmp/m/train.jsonl" \
  --test "$tmp/m/dev.jsonl" --seed 1 --loss ce --retention 0.5
# A configuration that fails at run time still prints its row, then one error line, exit 1.
"$PSW_CLI" recover "$tmp/m" --train "$tmp/m/train.jsonl" --test "$tmp/m/dev.jsonl" \
  --data-size 49 --seed 1 --loss ce --retention 0.5 --config "$tmp/exp.json" \
  --cache-dir "$tmp/cache" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 1 ] && grep -q "^prunesweep: error: configuration failed: grid.data_size: 49 is outside 1..48" "$tmp/err" &&
  [ "$(json_get "$tmp/out" 'j["recovered"]["status"]')" = failed ] ||
  { echo "FAIL: data-size 49 -> exit $rc, $(cat "$tmp/err")"; fail=1; }

[ $fail -eq 0 ] && echo "ok: prune, eval, recover CLI"
exit $fail
