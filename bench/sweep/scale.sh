#!/bin/bash
# bench/sweep/scale.sh BUILD_DIR [CONFIGS] [SCALE]: coordinator scale test (issue #8).
# Runs one simulated sweep of CONFIGS recovered configurations (default 10000, rounded down to a
# multiple of 4: retention 0.5/0.75 x ce/kl x data size 64 x CONFIGS/4 seeds, plus 3 reference
# rows and the teacher cache) three times, with `prunesweep run --simulate SCALE` (default 0.05):
# workers load no model, sleep the cost model's time x SCALE per configuration and return a
# synthetic row with probabilities of CommonsenseQA's dev size (1221 questions x 5 choices), so
# rank 0 dispatches, receives and appends (HDF5, flush + fsync) as in a real sweep.
#   1. mpirun -np 64 --oversubscribe: 63 workers (the goal: >= 1000 configurations/s);
#   2. mpirun -np 8: 7 workers, the same sweep (worker-bound: shows the scaling);
#   3. mpirun -np 64 with SCALE 1e-6: tasks of ~no time, so only rank 0 limits the rate.
# For each it prints rows/s (rank 0's own count between the first and the last row written, and
# the same from the file's finish times), rank 0's CPU time and CPU per row, its wall time split
# (waiting for messages / receiving probabilities / appending), the number of appends (group
# commit), the mean simulated task time and the rate the workers alone would allow, and the CPU
# time of the whole job (workers wait with 2 ms naps between MPI_Test calls; they do not spin).
set -eu
build=${1:?usage: scale.sh BUILD_DIR [CONFIGS] [SCALE]}
configs=${2:-10000}
scale=${3:-0.05}
build=$(cd "$build" && pwd)
seeds=$((configs / 4))
[ "$seeds" -ge 1 ] || { echo "scale.sh: CONFIGS must be >= 4" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
cd "$work"
"$build/prunesweep" make-world world --entities 10 --train 64 --dev 16 --test 1221 --vocab 300 \
    2> /dev/null
"$build/tests/psw_tiny_model" world/tokenizer.json model 7
$PY - "$seeds" > scale.json <<'PY'
import json, sys
print(json.dumps({
    "name": "scale",
    "model": {"path": "model"},
    "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
    "prompt": {"shots": 0},
    "training": {"micro_batch": 4, "eval_batch": 8, "lr": 1e-3, "epochs": 4},
    "grid": {"retention": [0.5, 0.75], "loss": ["ce", "kl"], "data_size": [64],
             "seed": list(range(int(sys.argv[1])))},
    "output": "scale.h5"}, indent=1))
PY

echo "coordinator scale test: $((seeds * 4)) configurations + 3 reference rows, probabilities" \
     "1221 x 5 per row; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
run() { # run NAME NP SCALE
    sed "s/\"scale.h5\"/\"$1.h5\"/" scale.json > "$1.json"
    local TIMEFORMAT='%R %U %S' rc=0
    { time mpirun -np "$2" --oversubscribe "$build/prunesweep" run "$1.json" --simulate "$3" \
        2> "$1.log"; } 2> "$1.time" || rc=$?
    [ "$rc" -eq 0 ] || { tail -5 "$1.log"; echo "scale.sh: $1 failed" >&2; exit 1; }
    echo
    echo "== $1: mpirun -np $2 --oversubscribe prunesweep run --simulate $3 ($(($2 - 1)) workers)"
    grep -E 'sweep: (coordinator used|.* rows written in|coordinator wall time)' "$1.log" |
        sed 's/^.* INFO sweep: /  /'
    $PY - "$1.h5" "$1.log" "$(($2 - 1))" <<'PY'
import re, sys
import h5py, numpy as np
path, log, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(path, "r", swmr=True) as f:
    assert int(f.attrs["simulated"]) == 1
    runs = f["runs"][:]
ids = runs["config_id"]
assert len(set(ids.tolist())) == len(ids), "a configuration was written twice"
t = np.sort(runs["finish_time"])
sleep = runs["seconds_eval"]
text = open(log).read()
cpu = float(re.search(r"coordinator used ([0-9.]+) s CPU", text).group(1))
rate = float(re.search(r"([0-9.]+) rows/s between", text).group(1))
print(f"  rows: {len(runs)}; rank 0: {rate:.0f} rows/s; from the finish times: "
      f"{(len(t) - 1) / (t[-1] - t[0]):.0f} rows/s")
print(f"  rank 0 CPU: {cpu:.2f} s = {1e3 * cpu / len(runs):.3f} ms per row")
if sleep.mean() < 1e-5:
    print(f"  simulated task time: mean {1e6 * sleep.mean():.3f} us: only rank 0 limits the rate")
else:
    print(f"  simulated task time: mean {1e3 * sleep.mean():.2f} ms; {workers} workers alone "
          f"would allow {workers / sleep.mean():.0f} rows/s")
PY
    read -r real user sys < "$1.time"
    echo "  mpirun with start-up: ${real} s wall; CPU of the whole job (every rank and mpirun):" \
         "${user} s user + ${sys} s system"
}
run w63 64 "$scale"
run w7 8 "$scale"
run w63-nosleep 64 1e-6
