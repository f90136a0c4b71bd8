#!/bin/bash
# `run --simulate` (the coordinator scale test's mode, bench/sweep/scale.sh), small: 7 ranks
# --oversubscribe, 500 configurations + 3 reference rows. Not a timing test. Checks: every
# configuration exactly once, marked simulated (root attribute, status ok, message "simulated",
# probabilities of the test set's shape summing to 1), task times from the cost model (longer
# for more retention, recovery longer than evaluation); the synthetic values depend only on the
# configuration (a second run with --new is identical); `status` says SIMULATED; a simulated
# resume skips every row; a real run refuses the simulated file and a simulated run a real one;
# bad uses of the flag.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec sim 1 "8" "$(seq -s ', ' 0 124)"   # 2 x 2 x 1 x 125 = 500 configs + 3 reference rows
cd "$WORK"

mpi 7 run sim.json --simulate 0.01 > sim.log 2>&1 || { tail -5 sim.log; fail "simulated run failed"; }
$CHECK once sim.h5 503 || fail "rows of the simulated run"
[ "$(grep -c ' done (' sim.log)" -eq 503 ] || fail "$(grep -c ' done (' sim.log) progress lines, expected 503"
grep -q 'WARN sweep: --simulate 0.01: workers load no model' sim.log || fail "no --simulate warning"
grep -qE 'sweep: 503 rows written in [0-9]+ appends, [0-9.]+ rows/s' sim.log || fail "no rate line"
$PY - sim.h5 <<'PY' || fail "simulated file"
import sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r", swmr=True) as f:
    assert int(f.attrs["simulated"]) == 1, "no simulated=1 attribute"
    runs = f["runs"][:]
    probs = f["probs"][:]
    n_test = f["test/ids"].shape[0]
assert probs.shape == (503, n_test, probs.shape[2]) and n_test == 24, probs.shape
assert (runs["status"] == 1).all(), "a row is not ok"
assert set(runs["message"].tolist()) == {b"simulated"}, set(runs["message"].tolist())
assert not np.isnan(probs).any() and np.allclose(probs.sum(axis=2), 1.0, atol=1e-6)
assert sorted(set(runs["rank"].tolist())) == [1, 2, 3, 4, 5, 6], set(runs["rank"].tolist())
# Task time = cost model x 0.01: a larger retention keeps more of the MLP (costlier), and a
# recovery costs more than an evaluation at the same retention.
t = runs["seconds_eval"]
rec, ref = runs["kind"] == 0, runs["kind"] == 2
lo, hi = t[rec & (runs["retention"] == 0.5)], t[rec & (runs["retention"] == 0.75)]
assert len(lo) == 250 and len(hi) == 250 and (lo > 0).all()
assert lo.max() < hi.min(), (lo.max(), hi.min())
assert t[ref & (runs["retention"] == 0.5)][0] < lo.min()
PY

"$PSW_CLI" status sim.h5 > status.txt || fail "status failed"
grep -q '^SIMULATED: every row was made by `run --simulate`' status.txt || fail "status does not say SIMULATED"
grep -q '^progress: 503/503 done (503 ok, 0 diverged), 0 failed, 0 pending$' status.txt ||
    fail "status progress: $(grep progress status.txt)"

# A simulated rerun resumes the simulated file: nothing left to do.
mpi 3 run sim.json --simulate 0.01 > resume.log 2>&1 || { tail -5 resume.log; fail "simulated resume failed"; }
grep -q '503 already finished, 0 to run' resume.log || fail "simulated resume did not skip: $(grep 'sweep:' resume.log | head -1)"

# Deterministic: a fresh simulated run (--new) holds the same values per configuration.
cp sim.h5 first.h5
mpi 4 run sim.json --simulate 0.01 --new > new.log 2>&1 || { tail -5 new.log; fail "--new run failed"; }
$CHECK same first.h5 sim.h5 || fail "simulated rows differ between two runs"

# SIGKILL of rank 0 in the middle of a simulated sweep, where results arrive faster than one
# append each (group commit: several rows per flush + fsync): every row logged as done is in the
# file, and a resume completes it with each configuration exactly once and the rows from before
# the kill unchanged.
sed 's/"sim.h5"/"kill.h5"/' sim.json > kill.json
mpi 7 run kill.json --simulate 5 > kill.log 2>&1 &
mp=$!
wait_done kill.log 100 "$mp"
pid=$(rank_pid "$mp" 0) || fail "kill: no rank 0 process"
kill -KILL "$pid"
wait "$mp" && fail "kill: mpirun exited 0 after SIGKILL of rank 0"
grep -qE 'sweep: [0-9]+/503 done .*; ETA' kill.log || fail "kill: no progress lines"
logged=$(grep -c ' done (' kill.log)
$PY "$PSW_SOURCE_DIR/tests/mpi/fault_rows.py" snap kill.h5 kill.before || fail "kill: snapshot"
n=$(wc -l < kill.before)
[ "$n" -ge "$logged" ] && [ "$n" -lt 503 ] || fail "kill: $n rows in the file, $logged logged as done"
mpi 7 run kill.json --simulate 0.01 > kill.resume.log 2>&1 || { tail -5 kill.resume.log; fail "kill: resume failed"; }
grep -q "$n already finished, $((503 - n)) to run" kill.resume.log ||
    fail "kill: resume did not skip the $n rows: $(grep 'sweep:' kill.resume.log | head -1)"
$PY "$PSW_SOURCE_DIR/tests/mpi/fault_rows.py" intact kill.before kill.h5 || fail "kill: rows changed"
$CHECK once kill.h5 503 || fail "kill: rows after the resume"
grep -qE 'sweep: [0-9]+ rows written in [0-9]+ appends' kill.resume.log || fail "kill: no rate line"
# (Whether rows were grouped depends on the disk's fsync speed, so it is not asserted here;
# tests/results/test_results.c checks group appends directly.)

# A real run refuses the simulated file (serially and under mpirun), and appends nothing.
rc=0
"$PSW_CLI" run sim.json > real.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat real.log; fail "real run on a simulated file: exit $rc, expected 1"; }
grep -qxF "prunesweep: error: sim.h5: holds simulated rows (made by 'run --simulate'); a real run does not resume it: use --new or another output path" real.log ||
    fail "real run on a simulated file: $(grep error real.log)"
rc=0
mpi 3 run sim.json > real3.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat real3.log; fail "mpirun real run on a simulated file: exit $rc"; }
grep -q 'holds simulated rows' real3.log || fail "mpirun: no refusal line"
[ "$(rows sim.h5)" -eq 503 ] || fail "the refused run changed the file"

# A simulated run refuses a real file.
write_spec real 1 "8" "0"
"$PSW_CLI" run real.json --threads-per-rank 1 > realrun.log 2>&1 || { tail -3 realrun.log; fail "real run failed"; }
rc=0
mpi 3 run real.json --simulate 1 > mix.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat mix.log; fail "simulated run on a real file: exit $rc, expected 1"; }
grep -qxF "prunesweep: error: real.h5: holds real results; 'run --simulate' does not add synthetic rows to it: use another output path" mix.log ||
    fail "simulated run on a real file: $(grep error mix.log)"
$CHECK once real.h5 7 || fail "the refused simulated run changed the real file"
"$PSW_CLI" status real.h5 | grep -q SIMULATED && fail "status calls a real file simulated"

# Bad uses.
rc=0
"$PSW_CLI" run sim.json --simulate 1 > serial.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "serial --simulate: exit $rc, expected 1"
grep -qx 'prunesweep: error: --simulate measures the coordinator: run it under mpirun with at least 2 ranks' serial.log ||
    fail "serial --simulate: $(cat serial.log)"
for bad in 0 -1 abc nan; do
    rc=0
    "$PSW_CLI" run sim.json --simulate "$bad" > bad.log 2>&1 || rc=$?
    [ "$rc" -eq 2 ] || fail "--simulate $bad: exit $rc, expected 2"
    grep -qx "prunesweep: error: run: --simulate: '$bad' is not a scale factor in (0, 1e6]" bad.log ||
        fail "--simulate $bad: $(cat bad.log)"
done
rc=0
"$PSW_CLI" run sim.json --simulate 1 --only-cache > oc.log 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--simulate --only-cache: exit $rc, expected 2"
grep -qx 'prunesweep: error: run: --simulate and --only-cache: a simulated sweep builds no cache' oc.log ||
    fail "--simulate --only-cache: $(cat oc.log)"
echo "PASS"
