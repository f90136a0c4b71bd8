#!/usr/bin/env bash
# analysis/summary.py and analysis/plot.py on a results file written through the real results
# module by tests/results/analysis_fixture.c, whose outcomes are known in closed form. The
# expected numbers below are computed from the fixture's design (restated here, independently of
# the file and of the scripts): accuracy = k/10, entropy = -c ln c - 4q ln q with q = (1-c)/4, ...
# Covers: reading while the writer is still appending (SWMR), reading after the writer was
# SIGKILLed, last-row-per-config-id, failed/diverged outcomes reported and not averaged, the
# paired KL - CE differences (point values exact, CIs checked against a plain-Python bootstrap),
# every figure as a non-empty PNG and PDF, and the error exits.
set -euo pipefail
PY=/usr/bin/python3
SRC="${PSW_SOURCE_DIR:?PSW_SOURCE_DIR is not set}"
FIX="${PSW_BINARY_DIR:?PSW_BINARY_DIR is not set}/tests/psw_analysis_fixture"
if [[ ! -x "$FIX" ]]; then echo "FAIL: psw_analysis_fixture not built: $FIX"; exit 1; fi
if ! "$PY" -c "import h5py, numpy, matplotlib" 2>/dev/null; then
  echo "skipped: /usr/bin/python3 lacks h5py, numpy or matplotlib"; exit 77
fi
SUMMARY="$SRC/analysis/summary.py"
PLOT="$SRC/analysis/plot.py"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# ---- live file: the writer keeps it open while both scripts read it ----
coproc W { "$FIX" "$tmp/live.h5"; }
pids+=("$W_PID")
read -r line <&"${W[0]}"
[[ "$line" == "open rows=0 total=28" ]] && ok "fixture writer started" || bad "writer said '$line'"
echo "write 10" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ "$line" == "rows 10" ]] || bad "writer said '$line' after write 10"
out=$("$PY" "$SUMMARY" "$tmp/live.h5")
grep -q "^- file: .* (10 rows, 10 configurations with an outcome, 27 expected)" <<<"$out" \
  && ok "summary on the live file sees 10 rows" || bad "summary on the live file: $(grep '^- file' <<<"$out")"
grep -qF "| teacher | 1 | 0.9000 |" <<<"$out" && ok "live: teacher accuracy 0.9000" \
  || bad "live: teacher row missing"
"$PY" "$PLOT" "$tmp/live.h5" --out "$tmp/figs-live" --bootstrap 200 >/dev/null \
  && [[ -s "$tmp/figs-live/accuracy_vs_retention.png" ]] && ok "plot on the live file" \
  || bad "plot on the live file"
echo "write 18" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ "$line" == "rows 28" ]] || bad "writer said '$line' after write 18"
# Still open: the rows appended after the first read are visible to a new reader.
live_rows=$("$PY" "$SUMMARY" "$tmp/live.h5" | grep '^- file')
[[ "$live_rows" == *"(28 rows, 27 configurations"* ]] && ok "live: all 28 rows visible before close" \
  || bad "live after more rows: $live_rows"
echo "close" >&"${W[1]}"
read -r line <&"${W[0]}"
[[ "$line" == "closed" ]] || bad "writer said '$line' at close"
wait "$W_PID" || bad "fixture writer exit status"

# ---- the full file: every number against the design ----
"$PY" "$SUMMARY" "$tmp/live.h5" >"$tmp/summary.md"
"$PY" "$SUMMARY" "$tmp/live.h5" --csv --bootstrap 20000 --bootstrap-seed 7 >"$tmp/summary.csv"
"$PY" - "$tmp/summary.md" "$tmp/summary.csv" <<'PYEOF' || fails=$((fails + 1))
import csv, math, random, statistics, sys
md = open(sys.argv[1]).read()
rows = list(csv.DictReader(open(sys.argv[2])))
fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    fails += 0 if cond else 1

# The design of tests/results/analysis_fixture.c.
K = {(0.25, "ce", 100): [3, 4, 5], (0.25, "ce", 400): [6, 5, 7],
     (0.25, "kl", 100): [5, 6, 6], (0.25, "kl", 400): [7, 7, 8],
     (0.5, "ce", 100): [7, 7, 7], (0.5, "ce", 400): [9, 8, 8],
     (0.5, "kl", 100): [7, 7, 7], (0.5, "kl", 400): [8, 8, 7]}
def conf(r, loss, n, s):
    return (0.4 if loss == "ce" or (r == 0.5 and n == 100) else 0.5) + 0.1 * s
NOT_OK = {(0.5, "ce", 400, 2): "failed", (0.5, "kl", 100, 2): "diverged"}

def metrics(k, c):
    q = (1 - c) / 4
    H = -(c * math.log(c) + 4 * q * math.log(q))
    br_ok = (1 - c) ** 2 + 4 * q * q
    br_bad = (1 - q) ** 2 + c * c + 3 * q * q
    return {"accuracy": k / 10, "entropy": H, "entropy_norm": H / math.log(5),
            "nll": (k * -math.log(c) + (10 - k) * -math.log(q)) / 10,
            "brier": (k * br_ok + (10 - k) * br_bad) / 10,
            "ece": abs(k / 10 - c), "mce": abs(k / 10 - c), "choice_mass": 0.9}

got = {}
for r in rows:
    if r["section"] == "recovered":
        got[(float(r["retention"]), r["loss"], int(r["data_size"]), r["metric"])] = r
bad = []
for (ret, loss, n), ks in K.items():
    seeds = [s for s in range(3) if (ret, loss, n, s) not in NOT_OK]
    per = [metrics(ks[s], conf(ret, loss, n, s)) for s in seeds]
    for m in per[0]:
        vals = [p[m] for p in per]
        g = got[(ret, loss, n, m)]
        if int(g["n"]) != len(vals):
            bad.append((ret, loss, n, m, "n", g["n"], len(vals)))
        if not math.isclose(float(g["mean"]), statistics.mean(vals), rel_tol=1e-9, abs_tol=1e-12):
            bad.append((ret, loss, n, m, "mean", g["mean"], statistics.mean(vals)))
        if not math.isclose(float(g["std"]), statistics.stdev(vals), rel_tol=1e-7, abs_tol=1e-12):
            bad.append((ret, loss, n, m, "std", g["std"], statistics.stdev(vals)))
check(not bad, "CSV: mean and std of 8 metrics in 8 cells equal the closed forms %s" % bad[:3])
# The 95% CI over seeds uses t(0.975, n-1): 4.3027 for 3 seeds.
g = got[(0.25, "ce", 100, "accuracy")]
check(math.isclose(float(g["ci_low"]), 0.4 - 4.3027 * 0.1 / math.sqrt(3), abs_tol=1e-9) and
      math.isclose(float(g["ci_high"]), 0.4 + 4.3027 * 0.1 / math.sqrt(3), abs_tol=1e-9),
      "CSV: t-CI of accuracy at 0.25/ce/100 is 0.4 +- 0.2484")
check(float(got[(0.25, "ce", 100, "final_loss")]["mean"]) == 0.5, "CSV: final_loss 0.5")

# Hand-computed markdown cells (k / 10 over the seeds, sample std).
for line in ("| 0.25 | 100 | 0.4000 ± 0.1000 (n=3) | 0.5667 ± 0.0577 (n=3) |",
             "| 0.25 | 400 | 0.6000 ± 0.1000 (n=3) | 0.7333 ± 0.0577 (n=3) |",
             "| 0.5 | 100 | 0.7000 ± 0.0000 (n=3) | 0.7000 ± 0.0000 (n=2) |",
             "| 0.5 | 400 | 0.8500 ± 0.0707 (n=2) | 0.7667 ± 0.0577 (n=3) |"):
    check(line in md, "markdown accuracy row " + line)
check("| teacher | 1 | 0.9000 |" in md and "| unrecovered | 0.25 | 0.2000 |" in md and
      "| unrecovered | 0.5 | 0.5000 |" in md, "markdown reference rows 0.9 / 0.2 / 0.5")
check("28 rows, 27 configurations with an outcome, 27 expected" in md and
      "25 ok, 1 diverged, 1 failed; 1 earlier rows superseded" in md, "markdown header counts")
notok = [r for r in rows if r["section"] == "not_ok"]
check(sorted((float(r["retention"]), r["loss"], int(r["data_size"]), int(r["seed"]), r["status"])
             for r in notok) == [(0.5, "ce", 400, 2, "failed"), (0.5, "kl", 100, 2, "diverged")],
      "not-ok outcomes: exactly the final failed and diverged ones (the re-run failure is history)")
check("| failed | recovered | 0.5 | ce | 400 | 2 | model.safetensors: cannot open" in md and
      "| diverged | recovered | 0.5 | kl | 100 | 2 | train step 3: loss is nan |" in md and
      "AdamW" not in md, "markdown not-ok table with messages")

# Paired KL - CE: per seed, kl is right on examples 0..k_kl-1, ce on 0..k_ce-1.
diff = {(float(r["retention"]), int(r["data_size"])): r for r in rows if r["section"] == "kl_minus_ce"}
expect = {(0.25, 100): (5 / 30, "0 1 2"), (0.25, 400): (4 / 30, "0 1 2"),
          (0.5, 100): (0.0, "0 1"), (0.5, 400): (-1 / 20, "0 1")}
for key, (d, seeds) in expect.items():
    r = diff[key]
    check(math.isclose(float(r["mean"]), d, abs_tol=1e-12) and r["seed"] == seeds,
          "KL - CE at %s = %.4f over seeds %s (got %s over %s)" % (key, d, seeds, r["mean"], r["seed"]))
for line in ("| 0.25 | 100 | 3 | 10 | 0.1667 |", "| 0.25 | 400 | 3 | 10 | 0.1333 |",
             "| 0.5 | 100 | 2 | 10 | 0.0000 | [0.0000, 0.0000] |", "| 0.5 | 400 | 2 | 10 | -0.0500 |"):
    check(line in md, "markdown KL - CE row " + line)

def naive_bootstrap(D, B, rnd):
    S, E = len(D), len(D[0])
    stats = []
    for _ in range(B):
        ss = [rnd.randrange(S) for _ in range(S)]
        es = [rnd.randrange(E) for _ in range(E)]
        stats.append(sum(D[s][e] for s in ss for e in es) / (S * E))
    stats.sort()
    def pct(p):  # numpy's default (linear) percentile
        x = p / 100 * (B - 1); i = int(math.floor(x)); f = x - i
        return stats[i] + (stats[min(i + 1, B - 1)] - stats[i]) * f
    return pct(2.5), pct(97.5)
rnd = random.Random(12345)
for (ret, n), seeds in (((0.25, 100), [0, 1, 2]), ((0.25, 400), [0, 1, 2]), ((0.5, 400), [0, 1])):
    D = [[(1 if e < K[(ret, "kl", n)][s] else 0) - (1 if e < K[(ret, "ce", n)][s] else 0)
          for e in range(10)] for s in seeds]
    lo, hi = naive_bootstrap(D, 20000, rnd)
    r = diff[(ret, n)]
    check(abs(float(r["ci_low"]) - lo) <= 0.04 and abs(float(r["ci_high"]) - hi) <= 0.04,
          "bootstrap CI at %s: [%s, %s] vs plain-Python [%.4f, %.4f]" % ((ret, n), r["ci_low"],
                                                                         r["ci_high"], lo, hi))
check(float(diff[(0.25, 100)]["ci_low"]) >= 0 and float(diff[(0.5, 400)]["ci_high"]) <= 0,
      "CI signs: KL never worse at 0.25/100, never better at 0.5/400")
sys.exit(1 if fails else 0)
PYEOF

# ---- figures ----
"$PY" "$PLOT" "$tmp/live.h5" --out "$tmp/figs" --reliability teacher --reliability unrecovered:0.5 \
  --reliability kl:0.25:400 >"$tmp/plot.out" || bad "plot.py exit status"
for name in accuracy_vs_retention kl_minus_ce uncertainty_vs_data_size reliability; do
  png="$tmp/figs/$name.png" pdf="$tmp/figs/$name.pdf"
  if [[ -s "$png" && "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" == "89504e470d0a1a0a" ]] &&
     [[ -s "$pdf" && "$(head -c 5 "$pdf")" == "%PDF-" ]] && [[ $(stat -c %s "$png") -gt 10000 ]]; then
    ok "figure $name: PNG $(stat -c %s "$png") bytes, PDF $(stat -c %s "$pdf") bytes"
  else
    bad "figure $name missing, empty or not PNG/PDF"
  fi
done
[[ $(wc -l <"$tmp/plot.out") -eq 8 ]] && ok "plot.py lists 8 files" || bad "plot.py output: $(cat "$tmp/plot.out")"

# ---- a writer killed mid-sweep: SWMR read still works ----
coproc K { "$FIX" "$tmp/killed.h5"; }
pids+=("$K_PID")
read -r line <&"${K[0]}"
echo "write 5" >&"${K[1]}"
read -r line <&"${K[0]}"
kill -9 "$K_PID"; wait "$K_PID" 2>/dev/null || true
out=$("$PY" "$SUMMARY" "$tmp/killed.h5" --csv) && grep -q "^reference,teacher,1.0,,,,accuracy,1,0.9," <<<"$out" \
  && ok "summary reads a file whose writer was SIGKILLed" || bad "summary after SIGKILL: $out"

# ---- error exits ----
set +e
msg=$("$PY" "$SUMMARY" "$tmp/nope.h5" 2>&1); rc=$?
[[ $rc -eq 1 && "$msg" == "summary.py: error: $tmp/nope.h5: cannot open"* ]] && ok "missing file: exit 1" \
  || bad "missing file: rc=$rc '$msg'"
"$PY" -c "import h5py; h5py.File('$tmp/other.h5', 'w', libver='latest').create_dataset('x', data=[1])"
msg=$("$PY" "$PLOT" "$tmp/other.h5" --out "$tmp/o" 2>&1); rc=$?
[[ $rc -eq 1 && "$msg" == *"other.h5: not a prunesweep results file"* ]] && ok "foreign HDF5 file: exit 1" \
  || bad "foreign file: rc=$rc '$msg'"
msg=$("$PY" "$PLOT" "$tmp/live.h5" --out "$tmp/o" --reliability kl:x 2>&1); rc=$?
[[ $rc -eq 2 && "$msg" == *"'kl:x': want teacher, unrecovered:RET or LOSS:RET:SIZE"* ]] \
  && ok "bad --reliability: exit 2" || bad "bad --reliability: rc=$rc '$msg'"
set -e

[[ $fails -eq 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all analysis checks passed"
