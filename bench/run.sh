#!/bin/bash
# run.sh: the engine benchmark of issue 2. Builds bench_engine, then measures in one run:
#   - OpenBLAS sgemm GFLOP/s on a large square matrix (the practical peak), at each thread count,
#     with the environment's OpenBLAS settings (and, for reference, with OPENBLAS_CORETYPE=Haswell);
#   - per shape, our engine and then the PyTorch peer (bench/engine/torch_step.py), back to back so
#     both see the same machine load;
# and writes a markdown table (ours, PyTorch, ratio, fraction of the sgemm peak) to $OUT.
#
# Usage: bash bench/run.sh [BUILD_DIR]     (default: build-bench next to this script's repo)
# Environment: REPS (7), WARMUP (2), SHAPES (tiny,small,medium), THREADS (1,2), SGEMM_N (3072),
#              OUT (BUILD_DIR/bench/engine_results.md), RAW (BUILD_DIR/bench/engine_results.tsv).
# Needs /usr/bin/python3 with torch (Debian python3-torch). Heavy: do not run two at once.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build-bench}
REPS=${REPS:-7}
WARMUP=${WARMUP:-2}
SHAPES=${SHAPES:-tiny,small,medium}
THREADS=${THREADS:-1,2}
SGEMM_N=${SGEMM_N:-3072}
OUT=${OUT:-$build/bench/engine_results.md}
RAW=${RAW:-$build/bench/engine_results.tsv}
PY=/usr/bin/python3
# The timeout psw_blas_tune_spin gives OpenBLAS when the environment sets none (PSW_BLAS_SPIN_LOG2).
spin=$(sed -n 's/^#define PSW_BLAS_SPIN_LOG2 \([0-9]*\).*/\1/p' "$repo/include/psw/kernels.h")

cmake -S "$repo" -B "$build" -DPSW_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target bench_engine bench_floor -j2 >/dev/null
bin="$build/bench/bench_engine"
floor="$build/bench/bench_floor"
[ -x "$bin" ] && [ -x "$floor" ] || { echo "run.sh: $bin or $floor was not built" >&2; exit 1; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
info=$("$bin" --sgemm-only --sgemm 64 --threads 1 --reps 1 2>&1 >/dev/null | sed 's/^# //')

: >"$RAW"
"$bin" --sgemm "$SGEMM_N" --sgemm-only --threads "$THREADS" --reps "$REPS" 2>/dev/null >>"$RAW"
haswell=$(OPENBLAS_CORETYPE=Haswell "$bin" --sgemm "$SGEMM_N" --sgemm-only --threads "$THREADS" \
    --reps "$REPS" --no-header 2>/dev/null | awk -F'\t' '{printf "%s%s threads: %.0f", sep, $3, $10; sep="; "}')
IFS=, read -ra shape_list <<<"$SHAPES"
for s in "${shape_list[@]}"; do
    echo "run.sh: $s (ours)" >&2
    "$bin" --shapes "$s" --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" --no-header \
        2> >(grep -v '^# openblas' >&2) >>"$RAW"
    echo "run.sh: $s (torch)" >&2
    OMP_WAIT_POLICY=PASSIVE "$PY" "$here/engine/torch_step.py" --shapes "$s" --threads "$THREADS" \
        --reps "$REPS" --warmup "$WARMUP" --no-header >>"$RAW"
    # PyTorch again with the OpenBLAS spin timeout prunesweep sets for itself (psw_blas_tune_spin)
    echo "run.sh: $s (torch, OPENBLAS_THREAD_TIMEOUT=$spin)" >&2
    OPENBLAS_THREAD_TIMEOUT=$spin OMP_WAIT_POLICY=PASSIVE "$PY" "$here/engine/torch_step.py" \
        --shapes "$s" --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" --no-header |
        sed 's/^torch\t/torch_spin\t/' >>"$RAW"
    echo "run.sh: $s (GEMM floor)" >&2
    "$floor" --shapes "$s" --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" --no-header \
        >>"$RAW"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$PY" - "$RAW" "$OUT" <<EOF
import csv, sys
raw, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(raw), delimiter="\t"))
sg = {r["threads"]: r for r in rows if r["mode"] == "sgemm"}
peak = {t: float(r["gflops"]) for t, r in sg.items()}
best = {t: float(r["model_gflop"]) / float(r["min_s"]) for t, r in sg.items()}
ours = {(r["shape"], r["threads"], r["mode"]): r for r in rows if r["impl"] == "ours" and r["mode"] != "sgemm"}
torch = {(r["shape"], r["threads"], r["mode"]): r for r in rows if r["impl"] == "torch"}
spin = {(r["shape"], r["threads"], r["mode"]): r for r in rows if r["impl"] == "torch_spin"}
floor = {(r["shape"], r["threads"], r["mode"]): r for r in rows if r["impl"] == "floor"}
names = {"train_all": "train, loss at all positions", "train_last": "train, loss at last position",
         "forward": "forward, logits at last position (per sequence, the default)",
         "forward_batched": "forward, logits at last position (eval_forward batched)"}
L = []
L.append("Run started $started; machine: $(nproc) cores, $info.")
L.append("Load average (1/5/15 min) before: $load_before; after: $load_after.")
L.append("Medians of $REPS timed repetitions after $WARMUP warmup calls.")
L.append("")
L.append("sgemm ($SGEMM_N x $SGEMM_N, environment's OpenBLAS settings), median (best): " +
         "; ".join(f"{t} threads {peak[t]:.0f} ({best[t]:.0f}) GFLOP/s" for t in sorted(peak)) +
         ". With OPENBLAS_CORETYPE=Haswell, median: $haswell GFLOP/s.")
L.append("")
L.append("| shape | threads | case | ours tok/s | PyTorch tok/s | ours / PyTorch | by best time | by CPU time | ours GFLOP/s | of sgemm peak |")
L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
for key, o in ours.items():
    s, t, md = key
    # PyTorch has one forward (one GEMM over the batch): the peer of both of ours.
    p = torch.get((s, t, "forward" if md == "forward_batched" else md))
    if p is None:
        continue
    ot, pt = float(o["tok_s"]), float(p["tok_s"])
    rb = float(p["min_s"]) / float(o["min_s"])
    rc = float(p["cpu_s"]) / float(o["cpu_s"])
    g = float(o["gflops"])
    L.append(f"| {s} | {t} | {names[md]} | {ot:,.0f} | {pt:,.0f} | {ot / pt:.2f}x | {rb:.2f}x | {rc:.2f}x | {g:.1f} | {100 * g / peak[t]:.0f}% |")
L.append("")
L.append("Headroom: the GEMM floor (bench_floor: only the sgemm calls of the case, nothing else) "
         "bounds what any engine on this OpenBLAS can reach, so floor / PyTorch is the largest "
         "possible speedup over this PyTorch run. PyTorch with OPENBLAS_THREAD_TIMEOUT=$spin is "
         "PyTorch given the OpenBLAS spin timeout prunesweep sets for itself.")
L.append("")
L.append("| shape | threads | case | ours tok/s | GEMM floor tok/s | ours / floor | floor / PyTorch | PyTorch (timeout $spin) tok/s | ours / that |")
L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for key, o in ours.items():
    s, t, md = key
    peer = "forward" if md == "forward_batched" else md
    p, f, q = torch.get((s, t, peer)), floor.get(key), spin.get((s, t, peer))
    if p is None or f is None or q is None:
        continue
    ot, ft, pt, qt = float(o["tok_s"]), float(f["tok_s"]), float(p["tok_s"]), float(q["tok_s"])
    L.append(f"| {s} | {t} | {names[md]} | {ot:,.0f} | {ft:,.0f} | {100 * ot / ft:.0f}% | {ft / pt:.2f}x | {qt:,.0f} | {ot / qt:.2f}x |")
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
echo "run.sh: table in $OUT, raw lines in $RAW" >&2
