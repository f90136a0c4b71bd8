#!/bin/bash
# Graceful stop of a 3-rank sweep: SIGTERM to the coordinator, SIGUSR1 to mpirun (forwarded to
# every rank) and SIGUSR1 to one worker only each stop it: no new work, the in-flight tasks are
# written, exit status 3. A rerun completes with every configuration exactly once.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec slow 30 "64" "0, 1, 2"   # 15 rows, ~0.3 s each
cd "$WORK"

stop_case() { # stop_case NAME SIGNAL TARGET(mpirun|RANK)
    sed "s/\"slow.h5\"/\"$1.h5\"/" slow.json > "$1.json"
    "$MPIEXEC" -np 3 --oversubscribe "$PSW_CLI" run "$1.json" --threads-per-rank 1 > "$1.log" 2>&1 &
    local mp=$!
    wait_done "$1.log" 2 "$mp"
    if [ "$3" = mpirun ]; then
        kill "-$2" "$mp"
    else
        kill "-$2" "$(rank_pid "$mp" "$3")" || fail "$1: no rank $3"
    fi
    local rc=0
    wait "$mp" || rc=$?
    [ "$rc" -eq 3 ] || { cat "$1.log"; fail "$1: exit status $rc, expected 3"; }
    grep -q 'handing out no more work' "$1.log" || fail "$1: no stop message"
    grep -q 'prunesweep: stopped with [0-9]* of 15 rows missing; rerun the same command to resume' \
        "$1.log" || fail "$1: no resumable message"
    [ "$(grep -c 'prunesweep: stopped with' "$1.log")" -eq 1 ] || fail "$1: the message is not printed once"
    local n
    n=$(rows "$1.h5")
    [ "$n" -ge 2 ] && [ "$n" -lt 15 ] || fail "$1: $n rows after the stop"
    # Every task in flight at the signal was written: no task was handed out after it.
    [ "$(grep -c ' done (' "$1.log")" -eq "$n" ] || fail "$1: progress lines and rows disagree"
}

stop_case term SIGTERM 0
mpi 3 run term.json --threads-per-rank 1 > term.resume.log 2>&1 || { cat term.resume.log; fail "resume"; }
$CHECK once term.h5 15 || fail "rows after resume"

stop_case usr1 SIGUSR1 mpirun
stop_case worker SIGUSR1 1
grep -q 'a worker got a stop signal' worker.log || fail "the worker's signal was not the reason"
echo "PASS"
