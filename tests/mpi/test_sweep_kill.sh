#!/bin/bash
# SIGKILL of the coordinator, and of a worker, in the middle of a 3-rank sweep: mpirun ends the
# job, the rows written before survive unchanged, and rerunning the same command completes the
# sweep with every configuration exactly once (only the in-flight ones were lost and rerun).
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec slow 30 "64" "0, 1, 2"   # 12 configs + 3 reference rows, ~0.3 s each
cd "$WORK"

kill_case() { # kill_case NAME RANK
    sed "s/\"slow.h5\"/\"$1.h5\"/" slow.json > "$1.json"
    mpi 3 run "$1.json" --threads-per-rank 1 > "$1.log" 2>&1 &
    local mp=$!
    wait_done "$1.log" 3 "$mp"
    local pid
    pid=$(rank_pid "$mp" "$2") || fail "$1: no rank $2 process"
    kill -KILL "$pid"
    wait "$mp" && fail "$1: mpirun exited 0 after SIGKILL of rank $2"
    local before
    before=$(rows "$1.h5")
    [ "$before" -ge 3 ] && [ "$before" -lt 15 ] || fail "$1: $before rows after the kill"
    $CHECK ids "$1.h5" > "$1.before"
    $PY - "$1.h5" > "$1.before.acc" <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r", swmr=True) as f:
    for r in f["runs"][:]:
        print("%016x %r" % (r["config_id"], float(r["accuracy"])))
PY
    mpi 3 run "$1.json" --threads-per-rank 1 > "$1.resume.log" 2>&1 ||
        { cat "$1.resume.log"; fail "$1: resume failed"; }
    grep -q "$before already finished, $((15 - before)) to run" "$1.resume.log" ||
        fail "$1: resume did not skip the $before written rows: $(grep 'sweep:' "$1.resume.log" | head -1)"
    $CHECK once "$1.h5" 15 || fail "$1: rows after resume"
    # The rows from before the kill are the first rows of the file, unchanged.
    $PY - "$1.h5" "$before" > "$1.after.acc" <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r", swmr=True) as f:
    for r in f["runs"][: int(sys.argv[2])]:
        print("%016x %r" % (r["config_id"], float(r["accuracy"])))
PY
    cmp -s "$1.before.acc" "$1.after.acc" || fail "$1: rows written before the kill changed"
}

kill_case coord 0
kill_case worker 1
echo "PASS"
