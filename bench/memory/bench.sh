#!/bin/bash
# bench/memory/bench.sh BUILD_DIR [THREADS]: peak RSS of one worker's job against `plan`.
# Builds a synthetic world (make-world), a medium random OLMo2 on its tokenizer (hidden 768,
# 12 layers, 12 heads, MLP 2048, vocab = the tokenizer's; tests/mpi/tiny_model.c built with PSW_MEDIUM_SHAPE), then for
# training.trainable = all and mlp runs `prunesweep recover` (prune to 0.5, 2 CE steps at
# micro_batch 8, evaluation) under /usr/bin/time -v and prints its maximum resident set size
# next to plan's "total per rank" for the same spec (1 rank per node). Goal: ratio <= 1.2.
# Each trainable setting runs with model.dtype_frozen f32 and bf16 (frozen weights, the teacher's
# and the student's, held in bf16; issue #8), all in the same script run.
set -eu
build=${1:?usage: bench.sh BUILD_DIR [THREADS]}
threads=${2:-2}
build=$(cd "$build" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$build/prunesweep" make-world world --entities 10 --train 64 --dev 16 --test 24 2>/dev/null
"$build/bench/psw_medium_model" world/tokenizer.json model 7
printf '%-9s %-6s %12s %12s %7s\n' trainable frozen "plan GiB" "peak GiB" ratio
for trainable in all mlp; do
  for dtype in f32 bf16; do
    cat > spec.json <<JSON
{
  "name": "memory-bench",
  "model": {"path": "model", "dtype_frozen": "$dtype"},
  "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 8, "eval_batch": 8, "lr": 1e-4, "steps": 2,
               "trainable": "$trainable", "max_seq_len": 64},
  "grid": {"retention": [0.5], "loss": ["ce"], "data_size": [32], "seed": [0]},
  "output": "bench.h5"
}
JSON
    plan=$("$build/prunesweep" plan spec.json --ranks-per-node 1 --threads-per-rank "$threads" |
        awk '/total per rank/ {print $4}')
    OPENBLAS_NUM_THREADS=$threads /usr/bin/time -v "$build/prunesweep" recover model \
        --retention 0.5 --loss ce --data-size 32 --seed 0 --config spec.json \
        --train world/train.jsonl --test world/test.jsonl --threads "$threads" \
        > rec.json 2> time.log
    kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' time.log)
    awk -v t="$trainable" -v d="$dtype" -v p="$plan" -v kb="$kb" \
        'BEGIN { g = kb / 1048576; printf "%-9s %-6s %12.2f %12.3f %7.2f\n", t, d, p, g, g / p }'
  done
done
