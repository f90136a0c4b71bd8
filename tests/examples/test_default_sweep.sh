#!/usr/bin/env bash
# The main job in small: builds the embedded default into a temp dir, runs a reduced copy of
# experiments/default.json with mpirun -np 3, then status, summary.py and plot.py on the real
# results file. Checks the default's measured claims (teacher >= 0.8 dev accuracy, pruning to 25%
# loses >= 15 points) and that the summary table agrees with the HDF5 values.
set -euo pipefail
: "${PSW_CLI:?}" "${PSW_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PSW_DEFAULT_DIR="$tmp/default"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpiexec=${MPIEXEC:-mpirun}

"$PSW_CLI" prepare-default >"$tmp/prepare.out" 2>"$tmp/prepare.err"
grep -q "prepared (teacher dev accuracy" "$tmp/prepare.out"

/usr/bin/python3 - "$PSW_SOURCE_DIR/experiments/default.json" "$tmp/spec.json" "$tmp/out.h5" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["grid"] = {"retention": [1.0, 0.25], "loss": ["ce", "kl"], "data_size": [256], "seed": [0, 1]}
spec["output"] = sys.argv[3]
json.dump(spec, open(sys.argv[2], "w"), indent=1)
PY
"$mpiexec" -np 3 --oversubscribe "$PSW_CLI" run "$tmp/spec.json" 2>"$tmp/run.err"
"$PSW_CLI" status "$tmp/out.h5" >"$tmp/status.out"
grep -q "progress: 11/11 done" "$tmp/status.out"
/usr/bin/python3 "$PSW_SOURCE_DIR/analysis/summary.py" "$tmp/out.h5" >"$tmp/summary.md"
/usr/bin/python3 "$PSW_SOURCE_DIR/analysis/plot.py" "$tmp/out.h5" --out "$tmp/fig" >/dev/null
for f in accuracy_vs_retention kl_minus_ce uncertainty_vs_data_size reliability; do
  test -s "$tmp/fig/$f.png" && test -s "$tmp/fig/$f.pdf"
done

/usr/bin/python3 - "$tmp/out.h5" "$tmp/summary.md" <<'PY'
import re, sys
import h5py, numpy as np
runs = h5py.File(sys.argv[1], "r", swmr=True)["runs"][:]
kind = h5py.check_enum_dtype(runs.dtype["kind"])
names = {v: k for k, v in kind.items()} if kind else {}
def rows(k):
    return [r for r in runs if names.get(int(r["kind"]), int(r["kind"])) in (k,)]
teacher = rows("teacher")[0]["accuracy"]
unrec = {float(r["retention"]): float(r["accuracy"]) for r in rows("unrecovered")}
print("teacher", teacher, "unrecovered", unrec)
assert teacher >= 0.8, teacher
assert teacher - unrec[0.25] >= 0.15, (teacher, unrec)
# the summary's accuracy cell for (0.25, 256, ce) equals the mean over seeds in the file
loss = h5py.check_enum_dtype(runs.dtype["loss"])
lname = {v: k for k, v in loss.items()} if loss else {}
acc = [float(r["accuracy"]) for r in rows("recovered")
       if float(r["retention"]) == 0.25 and lname.get(int(r["loss"])) == "ce"]
assert len(acc) == 2, acc
text = open(sys.argv[2]).read()
section = text.split("## accuracy", 1)[1].split("\n## ", 1)[0]
line = next(l for l in section.splitlines() if re.match(r"\|\s*0\.25\s*\|\s*256\s*\|", l))
cell = line.split("|")[3].strip()
assert cell.startswith("%.4f" % np.mean(acc)), (cell, np.mean(acc))
print("ok:", line)
PY
echo "default sweep example: ok"
