#!/bin/bash
# bench/sweep/bench.sh BUILD_DIR [NP]: runs a sweep of a tiny random OLMo2 model on a synthetic
# world (40 rows: 36 recovered configurations + teacher + 3 unrecovered) with mpirun -np NP
# (default 3: one coordinator, two workers, one OpenBLAS thread each) and prints what the
# coordinator reports: its CPU time while waiting on the workers and the parallel efficiency
# (sum of per-task wall time / (workers x makespan)).
set -eu
build=${1:?usage: bench.sh BUILD_DIR [NP]}
np=${2:-3}
build=$(cd "$build" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cd "$work"
"$build/prunesweep" make-world world --entities 10 --train 64 --dev 16 --test 24 --vocab 300 2>/dev/null
"$build/tests/psw_tiny_model" world/tokenizer.json model 7
cat > bench.json <<'JSON'
{
  "name": "bench",
  "model": {"path": "model"},
  "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 4, "eval_batch": 8, "lr": 1e-3, "epochs": 4},
  "grid": {"retention": [0.25, 0.5, 0.75], "loss": ["ce", "kl"], "data_size": [32, 64],
           "seed": [0, 1, 2]},
  "output": "bench.h5"
}
JSON
start=$(date +%s.%N)
mpirun -np "$np" --oversubscribe "$build/prunesweep" run bench.json --threads-per-rank 1 2> run.log
end=$(date +%s.%N)
grep -E 'sweep: (coordinator used|.* parallel efficiency|complete)' run.log | sed 's/^.* INFO //'
echo "wall time of mpirun: $(echo "$end - $start" | bc) s"
