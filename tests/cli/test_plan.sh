#!/usr/bin/env bash
# `prunesweep plan` on the two OLMo2 studies from their config.json alone (docs/configs, no
# weights): memory lines against hand-computed sizes, a time against a hand-computed FLOP count,
# refusal of layouts that do not fit (exit 1), and the usage / missing-file errors.
set -uo pipefail
P="${PSW_CLI:?PSW_CLI is not set}"
SRC="${PSW_SOURCE_DIR:?PSW_SOURCE_DIR is not set}"
S7="$SRC/experiments/olmo2-7b-sft-csqa.json"
S1="$SRC/experiments/olmo2-1b-sft-csqa.json"
C7="$SRC/docs/configs/OLMo-2-1124-7B-SFT/config.json"
C1="$SRC/docs/configs/OLMo-2-0425-1B-SFT/config.json"
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
expect() { # expect NAME WANT_RC NEEDLE OUT RC
  if [[ "$5" -eq "$2" && "$4" == *"$3"* ]]; then ok "$1"; else bad "$1: rc=$5 (want $2), output: $4"; fi
}

# 7B: weights 7,298,617,344 floats x 4 B = 27.19 GiB; AdamW 2x; fp16 cache 9741 x 100352 x 2 B
# + header and offsets = 1,955,139,696 B = 1.82 GiB.
out=$("$P" plan "$S7" --model-config "$C7" --n-train 9741 --n-test 1221 --nodes 8 \
      --ranks-per-node 1 --threads-per-rank 32 --node-mem 256 2>&1); rc=$?
expect "7B fits 1 rank per 256 GiB node" 0 "fits; at most 1 rank(s) per node fit" "$out" $rc
for want in "teacher weights                           27.19 GiB" \
            "student gradients                         27.19 GiB" \
            "optimizer state (AdamW m, v)              54.38 GiB" \
            "teacher cache (fp16, answer position): 1.82 GiB file" \
            "8 ranks (7 running tasks), 32 thread(s) per rank" \
            "300 configurations (10 retention x 2 loss x 5 data_size x 3 seed, 0 excluded) + 11 reference rows"; do
  [[ "$out" == *"$want"* ]] && ok "7B: $want" || bad "7B: missing '$want'"
done

out=$("$P" plan "$S7" --model-config "$C7" --n-train 9741 --n-test 1221 --ranks-per-node 2 \
      --node-mem 256 2>&1); rc=$?
# The workers share one teacher copy: 27.19 + 2 x (182.60 - 27.19 = 155.41) + 1.82 = 339.84 GiB.
expect "7B: 2 ranks per 256 GiB node refused" 1 \
  "prunesweep: error: plan: layout does not fit: teacher weights 27.19 GiB once (shared by the workers) + 2 rank(s) x 155.41 GiB + teacher cache 1.82 GiB = 339.84 GiB > 230.40 GiB" "$out" $rc
out=$("$P" plan "$S7" --model-config "$C7" --n-train 9741 --n-test 1221 --ranks-per-node 2 \
      --node-mem 256 --no-shared-weights 2>&1); rc=$?
expect "7B --no-shared-weights: a teacher per rank" 1 \
  "layout does not fit: 2 rank(s) x 182.60 GiB + teacher cache 1.82 GiB = 367.02 GiB" "$out" $rc
[[ "$out" == *"use fewer ranks per node"* ]] && ok "refusal says: fewer ranks" || bad "no advice: $out"
out=$("$P" plan "$S7" --model-config "$C7" --n-train 9741 --n-test 1221 --node-mem 64 2>&1); rc=$?
expect "7B on 64 GiB nodes refused" 1 "not even one rank fits: use nodes with more memory" "$out" $rc

# 7B with model.dtype_frozen "bf16" and trainable "mlp": the teacher 7,298,617,344 x 2 B =
# 13.59 GiB. Student at retention 1: MLP 32 x 3 x 11008 x 4096 = 4,328,521,728 floats x 4 B
# + the other 2,970,095,616 x 2 B + fp32 scratch (one layer of q, k, v, o 4 x 16,777,216, four
# norms 4 x 4096, final norm 4096, lm_head chunk 11008 x 4096 = 45,088,768: 112,218,112 floats)
# = 23,703,150,592 B = 22.08 GiB; gradients 4,328,521,728 x 4 B = 16.125 GiB, printed 16.12.
TB=$(mktemp -d); trap 'rm -rf "$TB"' EXIT
sed 's/"dtype_frozen": "f32"/"dtype_frozen": "bf16"/; s/"trainable": "all"/"trainable": "mlp"/' \
  "$S7" > "$TB/s7-bf16.json"
out=$("$P" plan "$TB/s7-bf16.json" --model-config "$C7" --n-train 9741 --n-test 1221 --nodes 8 \
      --ranks-per-node 1 --threads-per-rank 32 --node-mem 256 2>&1); rc=$?
expect "7B bf16 frozen fits" 0 "fits" "$out" $rc
for want in "teacher weights                           13.59 GiB" \
            "student weights                           22.08 GiB" \
            "student gradients                         16.12 GiB" \
            "frozen weights bf16 + fp32 conversion scratch"; do
  [[ "$out" == *"$want"* ]] && ok "7B bf16: $want" || bad "7B bf16: missing '$want'"
done

# 1B: weights 1,484,916,736 floats = 5.53 GiB. Teacher evaluation at 1000 GFLOP/s: 1221 x
# (2*270*16*67108864 + 2*16*270^2*2048 + 2*100352*2048) = 7.143e14 FLOPs = 714.3 s = 11.9 min.
out=$("$P" plan "$S1" --model-config "$C1" --n-train 9741 --n-test 1221 --ranks-per-node 2 \
      --threads-per-rank 1 --node-mem 128 --train-gflops 1000 --fwd-gflops 1000 2>&1); rc=$?
expect "1B: 2 ranks per 128 GiB node fit" 0 "fits" "$out" $rc
[[ "$out" == *"teacher weights                            5.53 GiB"* ]] && ok "1B weights 5.53 GiB" \
  || bad "1B weights: $(grep 'teacher weights' <<<"$out")"
[[ "$out" == *"teacher evaluation:            11.9 min"* ]] && ok "1B teacher evaluation 11.9 min" \
  || bad "1B teacher evaluation: $(grep 'teacher evaluation' <<<"$out")"

# 4 ranks of 42.18 GiB on 256 GiB: shared, (230.40 - 1.82 - 5.53) / 36.65 = 6.2 -> 6 fit;
# private, (230.40 - 1.82) / 42.18 = 5.4 -> 5.
for mode in shared:6 private:5; do
  flag=(); [[ ${mode%:*} == private ]] && flag=(--no-shared-weights)
  out=$("$P" plan "$S1" --model-config "$C1" --n-train 9741 --n-test 1221 --ranks-per-node 4 \
        --threads-per-rank 8 --node-mem 256 "${flag[@]}" 2>&1); rc=$?
  expect "1B ${mode%:*} weights: at most ${mode#*:} ranks per node" 0 \
    "fits; at most ${mode#*:} rank(s) per node fit" "$out" $rc
done

# Errors.
out=$("$P" plan "$S7" --n-train 9741 --n-test 1221 2>&1); rc=$?
expect "no model here: names config.json and suggests --model-config" 1 \
  "OLMo-2-1124-7B-SFT/config.json" "$out" $rc
[[ "$out" == *"pass --model-config"* ]] && ok "hint --model-config" || bad "no hint: $out"
out=$("$P" plan "$S7" --model-config "$C7" 2>&1); rc=$?
expect "no data here: names the train file" 1 "train_rand_split.jsonl: cannot open" "$out" $rc
[[ "$out" == *"pass --n-train and --n-test"* ]] && ok "hint --n-train" || bad "no hint: $out"
out=$("$P" plan 2>&1); rc=$?
expect "no spec: usage error" 2 "plan: missing SPEC.json" "$out" $rc
[[ "$out" != *$'\n'* ]] && ok "no spec: one error line" || bad "no spec: more than one line: $out"
out=$("$P" plan "$S7" --ranks 2 2>&1); rc=$?
expect "unknown option: usage error" 2 "--ranks" "$out" $rc
[[ "$out" != *$'\n'* && "$out" != *"usage: usage"* ]] && ok "unknown option: one error line" ||
  bad "unknown option: not one clean line: $out"
out=$("$P" plan --help 2> /dev/null); rc=$?
expect "--help: the options, on stdout" 0 "  --calibrate " "$out" $rc
[[ "$out" == "usage: prunesweep plan SPEC.json"* ]] && ok "--help: one 'usage:' prefix" ||
  bad "--help starts with: $(head -1 <<< "$out")"
out=$("$P" plan "$S7" --ranks-per-node 0 2>&1); rc=$?
expect "0 ranks per node: usage error" 2 "--ranks-per-node 0" "$out" $rc
out=$("$P" plan "$S7" --model-config "$C7" --n-train 9741 --n-test 1221 --threads-per-rank 0 2>&1); rc=$?
expect "0 threads: usage error" 2 "--threads-per-rank 0 must be >= 1" "$out" $rc

[[ $fails -eq 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all plan checks passed"
