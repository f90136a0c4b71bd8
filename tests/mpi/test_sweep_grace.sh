#!/bin/bash
# Stop signals without mpirun (one process runs every task) and with an exhausted grace period:
#  - serial SIGTERM: the running task finishes within --grace, is written, exit 3; rerun completes;
#  - serial SIGTERM with --grace 0: exit 3 at once, the running task is lost, rows stay readable;
#  - 3 ranks, SIGTERM to the coordinator with --grace 0: the in-flight tasks are abandoned, the
#    file is closed, exit 3; a rerun completes with every configuration exactly once.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec small 30 "64" "0"   # 4 configs + 3 reference rows, ~0.3 s each
cd "$WORK"

"$PSW_CLI" run small.json --threads-per-rank 1 > s1.log 2>&1 &
pid=$!
wait_done s1.log 2 "$pid"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || { cat s1.log; fail "serial SIGTERM: exit $rc, expected 3"; }
n=$(rows small.h5)
[ "$n" -lt 7 ] && [ "$(grep -c ' done (' s1.log)" -eq "$n" ] || fail "serial: $n rows after SIGTERM"
grep -q 'stopped with' s1.log || fail "serial: no resumable message"

# --grace 0: the process leaves immediately; the file (not closed) is resumed like after a crash.
"$PSW_CLI" run small.json --threads-per-rank 1 > s3.log 2>&1 || { cat s3.log; fail "serial resume"; }
$CHECK once small.h5 7 || fail "serial rows after resume"
"$PSW_CLI" run small.json --new --threads-per-rank 1 --grace 0 > s2.log 2>&1 &
pid=$!
wait_done s2.log 1 "$pid"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || { cat s2.log; fail "serial --grace 0: exit $rc, expected 3"; }
grep -q 'no grace; the running task is lost' s2.log || fail "serial --grace 0 message"
"$PSW_CLI" status small.h5 > st.txt || fail "status after --grace 0"
# Usually 1 row; a second one may finish between the poll and the signal under load.
done_rows=$(grep -c ' done (' s2.log)
[ "$done_rows" -ge 1 ] && [ "$done_rows" -lt 7 ] || fail "serial --grace 0: $done_rows rows logged"
grep -q "^progress: $done_rows/7 done" st.txt || fail "status after --grace 0: $(grep progress st.txt), $done_rows rows logged"
"$PSW_CLI" run small.json --threads-per-rank 1 > s4.log 2>&1 || { cat s4.log; fail "resume after --grace 0"; }
$CHECK once small.h5 7 || fail "rows after the resume after --grace 0"

write_spec slow 30 "64" "0, 1"  # 11 rows, ~0.3 s each
"$MPIEXEC" -np 3 --oversubscribe "$PSW_CLI" run slow.json --threads-per-rank 1 --grace 0 > m1.log 2>&1 &
mp=$!
wait_done m1.log 2 "$mp"
kill -TERM "$(rank_pid "$mp" 0)"
rc=0; wait "$mp" || rc=$?
[ "$rc" -eq 3 ] || { cat m1.log; fail "-np 3 --grace 0: exit $rc, expected 3"; }
grep -q 'grace period of 0 s is over with [12] tasks* in flight' m1.log || { cat m1.log; fail "no grace message"; }
mpi 3 run slow.json --threads-per-rank 1 > m2.log 2>&1 || { cat m2.log; fail "-np 3 resume"; }
$CHECK once slow.h5 11 || fail "rows after the -np 3 resume"
echo "PASS"
