#!/bin/bash
# bench/memory/pss.sh BUILD_DIR: node-shared teacher weights (issue #8), measured as PSS.
# Builds the same synthetic world and medium random OLMo2 as bench.sh (86.1 M parameters,
# 344 MB fp32), then runs one small sweep twice under `mpirun -np 3` (1 coordinator + 2
# workers, 1 OpenBLAS thread each): with the default node-shared teacher weights and with
# --no-shared-weights. Every 0.2 s while both workers are running tasks (from "rank 2 ready"
# to the end) it reads Rss and Pss of each rank from /proc/PID/smaps_rollup; it reports, per
# mode, the sample with the largest summed worker PSS (that sample's per-rank figures) and the
# difference between the modes next to the teacher's weight bytes. PSS charges a page shared by
# k processes 1/k to each, so the workers' summed PSS counts the shared teacher once.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/../../tests/mpi/rank_pid.sh"
build=${1:?usage: pss.sh BUILD_DIR}
build=$(cd "$build" && pwd)
MPIEXEC=${MPIEXEC:-mpiexec}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$build/prunesweep" make-world world --entities 10 --train 64 --dev 16 --test 24 2>/dev/null
"$build/bench/psw_medium_model" world/tokenizer.json model 7
params=$("$build/prunesweep" info model | awk '$1 == "total" { print $2; exit }')

cat > spec.json <<JSON
{
  "name": "pss-bench",
  "model": {"path": "model"},
  "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 8, "eval_batch": 8, "lr": 1e-4, "steps": 2,
               "trainable": "mlp", "max_seq_len": 64},
  "grid": {"retention": [0.5, 0.75], "loss": ["ce"], "data_size": [32], "seed": [0, 1]},
  "output": "OUT.h5"
}
JSON


# kb PID FIELD: a field of smaps_rollup in kB (empty when the process is gone).
kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

# measure MODE [FLAGS]: runs the sweep, prints "MODE sumPSS r0pss r0rss r1pss r1rss r2pss r2rss"
# (kB) for the sample with the largest worker PSS sum.
measure() {
    local mode=$1
    shift
    sed "s/OUT.h5/$mode.h5/" spec.json > "$mode.json"
    "$MPIEXEC" -np 3 --oversubscribe --bind-to none "$build/prunesweep" run "$mode.json" \
        --threads-per-rank 1 "$@" > "$mode.log" 2>&1 &
    local job=$! i
    for i in $(seq 3000); do
        grep -q 'rank 2 ready' "$mode.log" && grep -q 'rank 1 ready' "$mode.log" && break
        kill -0 "$job" 2>/dev/null || break
        sleep 0.1
    done
    local p0 p1 p2 best="" bestsum=0
    p0=$(rank_pid "$job" 0) && p1=$(rank_pid "$job" 1) && p2=$(rank_pid "$job" 2) ||
        { cat "$mode.log" >&2; echo "pss.sh: $mode: ranks not found" >&2; exit 1; }
    while kill -0 "$job" 2>/dev/null; do
        local a b c d e f
        a=$(kb "$p0" Pss) b=$(kb "$p0" Rss) c=$(kb "$p1" Pss) d=$(kb "$p1" Rss)
        e=$(kb "$p2" Pss) f=$(kb "$p2" Rss)
        if [ -n "$c" ] && [ -n "$e" ] && [ -n "$a" ] && [ $((c + e)) -gt "$bestsum" ]; then
            bestsum=$((c + e))
            best="$a $b $c $d $e $f"
        fi
        sleep 0.2
    done
    wait "$job" || { cat "$mode.log" >&2; echo "pss.sh: $mode: sweep failed" >&2; exit 1; }
    echo "$mode $bestsum $best"
}

shared=$(measure shared)
private=$(measure private --no-shared-weights)
grep -h 'teacher weights' shared.log | sed 's/^.* INFO //' || true
echo "teacher: $params parameters, $((params * 4)) bytes fp32"
printf '%-8s %14s %10s %10s %10s %10s %10s %10s\n' mode "workers PSS" "r0 PSS" "r0 RSS" \
    "r1 PSS" "r1 RSS" "r2 PSS" "r2 RSS"
for line in "$shared" "$private"; do
    echo "$line" | awk '{ printf "%-8s", $1; for (i = 2; i <= 8; i++) printf " %7.1f MiB", $i / 1024; printf "\n" }'
done
echo "$shared $private" | awk -v w="$params" '{
    d = ($10 - $2) / 1024; t = w * 4 / 1048576
    printf "saved by sharing: %.1f MiB of worker PSS; one teacher copy is %.1f MiB (ratio %.3f)\n", d, t, d / t }'
