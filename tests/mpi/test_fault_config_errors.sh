#!/bin/bash
# Errors inside single configurations, and a worker that cannot work, do not stop a 3-rank sweep:
#  1. data_size 100 > the 64 training examples: those configurations are failed rows carrying the
#     message, the rest is ok; meanwhile rank 2 runs in a directory without the model (a missing
#     file on its node): the coordinator logs why it cannot work and rank 1 does everything.
#  2. lr 1e30: every recovery diverges (a row with status diverged and the step and loss), the
#     reference rows are ok; diverged is a final outcome, so a rerun skips them.
# Both exit 0 with every configuration exactly once.
. "$(dirname "$0")/lib.sh"
ROWS="$PY $PSW_SOURCE_DIR/tests/mpi/fault_rows.py"
make_fixture
cd "$WORK"

write_spec cfg 2 "8, 100" "0"   # 4 ok + 4 failed configs + 3 reference rows
mkdir elsewhere && cp cfg.json elsewhere/
"$MPIEXEC" -np 2 --oversubscribe "$PSW_CLI" run cfg.json --threads-per-rank 1 : \
    -np 1 --oversubscribe -wdir "$WORK/elsewhere" "$PSW_CLI" run cfg.json --threads-per-rank 1 \
    > cfg.log 2>&1 || { cat cfg.log; fail "the sweep with failing configurations did not exit 0"; }
grep -q 'ERROR sweep: rank 2 cannot work: model/config.json: cannot open: No such file or directory' cfg.log ||
    fail "no message about rank 2: $(grep 'rank 2' cfg.log)"
grep -q 'sweep: complete: 11 rows (0 from earlier runs, 11 written now, 4 of them failed)' cfg.log ||
    fail "completion line: $(grep 'sweep: complete' cfg.log)"
$CHECK once cfg.h5 11 --failed 4 || fail "rows"
$PY - <<'PY' || fail "failed rows"
import h5py, numpy as np
r = h5py.File("cfg.h5", "r", swmr=True)["runs"][:]
bad = r[r["status"] == 3]
assert len(bad) == 4 and set(bad["data_size"]) == {100}, bad["data_size"]
msgs = {m.decode() for m in bad["message"]}
assert msgs == {"grid.data_size: 100 is outside 1..64 (the train split's size)"}, msgs
assert set(r["rank"]) == {1}, set(r["rank"])   # rank 2 never got a task
ok = r[r["status"] == 1]
assert len(ok) == 7 and all(m == b"" for m in ok["message"])
PY
"$PSW_CLI" status cfg.h5 | grep -q '^progress: 7/11 done (7 ok, 0 diverged), 4 failed, 0 pending$' ||
    fail "status: $("$PSW_CLI" status cfg.h5 | grep progress)"
echo "ok: failed configurations recorded, a worker without its model skipped, the sweep completed"

write_spec div 3 "8" "0, 1" '"max_grad_norm": 0'   # 8 configs + 3 reference rows
sed -i 's/"lr": 1e-3/"lr": 1e30/' div.json
mpi 3 run div.json --threads-per-rank 1 > div.log 2>&1 || { cat div.log; fail "the diverging sweep did not exit 0"; }
[ "$(grep -c ': diverged: training diverged at step [0-9]*: ' div.log)" -eq 8 ] ||
    fail "expected 8 diverged progress lines: $(grep -c diverged div.log)"
$ROWS final div.h5 11 || fail "diverged rows"
$PY - <<'PY' || fail "diverged rows' contents"
import h5py, re
r = h5py.File("div.h5", "r", swmr=True)["runs"][:]
d = r[r["status"] == 2]
assert len(d) == 8 and set(d["kind"]) == {0}, (len(d), set(d["kind"]))
for m in d["message"]:
    assert re.fullmatch(r"training diverged at step \d+: (loss|gradient norm) -?(nan|inf)", m.decode()), m
assert (r["status"][r["kind"] != 0] == 1).all()
PY
"$PSW_CLI" status div.h5 | grep -q '^progress: 11/11 done (3 ok, 8 diverged), 0 failed, 0 pending$' ||
    fail "status: $("$PSW_CLI" status div.h5 | grep progress)"
"$PSW_CLI" run div.json --threads-per-rank 1 > div2.log 2>&1 || fail "rerun"
grep -q '11 already finished, 0 to run' div2.log || fail "diverged rows were rerun: $(grep 'to run' div2.log)"
echo "ok: diverged configurations recorded as final outcomes"
echo "PASS"
