#!/usr/bin/env bash
# h5py (swmr=True) reads a results file while its writer is still open, sees new rows after
# refresh(), reads a file whose writer was SIGKILLed, and the enum/string layout documented in
# docs/results.md. The writer is tests/results/results_writer.c; row j is fixture row j, whose
# values the Python side recomputes from the same formulas.
set -euo pipefail
PY=/usr/bin/python3
WRITER="${PSW_BINARY_DIR:-}/tests/psw_results_writer"
if [[ ! -x "$WRITER" ]]; then echo "psw_results_writer not built: $WRITER"; exit 1; fi
if ! "$PY" -c "import h5py, numpy" 2>/dev/null; then echo "skipped: no h5py"; exit 77; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" - "$WRITER" "$tmp/results.h5" <<'PYEOF'
import math, os, signal, subprocess, sys
import h5py, numpy as np

writer, path = sys.argv[1], sys.argv[2]
fails = 0
def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails += 1

def start():
    p = subprocess.Popen([writer, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return p, p.stdout.readline().strip()

def send(p, cmd):
    p.stdin.write(cmd + "\n"); p.stdin.flush()
    return p.stdout.readline().strip()

STATUS = {0: "pending", 1: "ok", 2: "diverged", 3: "failed"}
def expect_row(i):  # the fixture formulas of tests/results/results_fixture.h
    status = 3 if i % 5 == 3 else (2 if i % 5 == 4 else 1)
    return dict(config_id=1000 + i * 7 + (0xF000000000000000 if i % 3 == 0 else 0),
                kind=i % 3, loss=i % 4, retention=0.5 + i / 8.0, data_size=1000 * (i + 1),
                seed=-i, status=status, host="node-%02d.cluster" % i, rank=i % 3 + 1,
                n_curve=128 if i == 5 else (i * 37) % 129, finish_time=1.7e9 + i * 0.125)

def check_rows(f, n, label):
    runs = f["runs"]
    check(runs.shape == (n,), "%s: /runs has %d rows (got %s)" % (label, n, runs.shape))
    data = runs[:]
    bad = []
    for i in range(n):
        e, r = expect_row(i), data[i]
        for k in ("config_id", "kind", "loss", "retention", "data_size", "seed", "status",
                  "rank", "n_curve", "finish_time"):
            if r[k] != e[k]:
                bad.append((i, k, r[k], e[k]))
        if r["host"].decode() != e["host"]:
            bad.append((i, "host", r["host"], e["host"]))
        if e["status"] == 3 and not r["message"].decode().startswith("row %d: " % i):
            bad.append((i, "message", r["message"]))
        probs = f["probs"][i]
        if e["status"] == 3 and not np.isnan(probs).all():
            bad.append((i, "probs of a failed row are not NaN"))
        if e["status"] != 3 and not (np.isfinite(probs).sum() == 34):  # one NaN by design
            bad.append((i, "probs", probs))
        c = f["curves"][i]
        nc = e["n_curve"]
        want = np.array([3.0 - k * 0.01 + i for k in range(nc)], dtype=np.float32)
        if not (np.array_equal(c[:nc], want) and np.isnan(c[nc:]).all()):
            bad.append((i, "curve"))
    check(not bad, "%s: every row matches the fixture %s" % (label, bad[:3]))

# 1. live writer: open with swmr=True while the writer keeps the file open
p, hello = start()
check(hello == "open rows=0 resumed=0", "writer created the file: " + hello)
check(send(p, "append 3") == "rows 3", "writer appended 3 rows")
f = h5py.File(path, "r", swmr=True)
check(f.attrs["format"] == "prunesweep-results/1", "format attribute is a str")
check(f.attrs["spec"].startswith('{"grid"'), "spec attribute")
check(f.attrs["model_fingerprint"] == "model:0123456789abcdef", "model fingerprint")
check(list(f["test/ids"].asstr()[:]) == ["q-000", "q-001", "q-002", "q-003", "q-004", "q-005",
                                          "q-\u00e9t\u00e9"], "/test/ids as UTF-8 strings")
check(list(f["test/gold"][:]) == [0, 4, 2, -1, 1, 3, -1], "/test/gold")
check_rows(f, 3, "live")
enum = h5py.check_enum_dtype(f["runs"].dtype["status"])
check(enum == {"pending": 0, "ok": 1, "diverged": 2, "failed": 3}, "status enum names %s" % enum)
check(h5py.check_enum_dtype(f["runs"].dtype["loss"]) == {"ce": 0, "kl": 1, "mix": 2, "none": 3},
      "loss enum names")
check(h5py.check_enum_dtype(f["runs"].dtype["kind"]) ==
      {"recovered": 0, "teacher": 1, "unrecovered": 2}, "kind enum names")
check(f["runs"].dtype["rel_count"].shape == (15,), "reliability table is an array field")

# 2. more rows while the reader stays open: refresh() shows them
check(send(p, "append 4") == "rows 7", "writer appended 4 more")
for name in ("runs", "probs", "curves"):
    f[name].refresh()
check_rows(f, 7, "after refresh")
f.close()

# 3. SIGKILL the writer; the file still opens with swmr=True, rows intact
p.send_signal(signal.SIGKILL); p.wait()
check(p.returncode == -signal.SIGKILL, "writer was SIGKILLed")
try:
    h5py.File(path, "r").close()
    check(False, "plain open of a crashed SWMR file should fail (status flags set)")
except OSError as e:
    check("already open for write" in str(e), "plain open refused after the crash")
with h5py.File(path, "r", swmr=True) as f:
    check_rows(f, 7, "after SIGKILL")

# 4. resume: the writer continues, and after a clean close a plain open works again
p, hello = start()
check(hello == "open rows=7 resumed=1", "writer resumed: " + hello)
check(send(p, "append 2") == "rows 9", "resumed writer appended 2")
check(send(p, "close") == "closed", "writer closed")
p.wait()
with h5py.File(path, "r") as f:
    check_rows(f, 9, "after resume")
sys.exit(1 if fails else 0)
PYEOF
