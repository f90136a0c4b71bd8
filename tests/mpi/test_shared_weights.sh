#!/bin/bash
# Node-shared teacher weights (issue #8): with -np 3 the two workers borrow one read-only copy
# of the teacher from an MPI shared-memory window. Checks:
#  - the node's first worker logs that it loaded the weights once for 2 workers, and while the
#    sweep runs both workers map the same (already unlinked) osc_sm segment, read-only (r--s,
#    the mprotect'ed arena);
#  - the results are bit-identical (/runs fields, /probs, /curves) to --no-shared-weights and
#    to a run whose window cannot be allocated (Open MPI's osc/sm component disabled), which
#    falls back to private copies with one warning;
#  - --no-shared-weights maps no such segment and logs nothing about sharing.
. "$(dirname "$0")/lib.sh"
make_fixture
# 30 epochs over 32 examples: about 2 s of work after the workers are ready, time enough to
# read their memory maps.
write_spec sh 30 "32" "0"
cd "$WORK"
for mode in shared private fallback; do sed "s/\"sh.h5\"/\"$mode.h5\"/" sh.json > "$mode.json"; done

# mapping_of PID: "inode perms" of the rank's read-only osc_sm mapping (empty when none).
mapping_of() {
    awk '$6 ~ /\/osc_sm\./ && $2 == "r--s" { print $5, $2; exit }' "/proc/$1/maps" 2>/dev/null
}

mpi 3 run shared.json --threads-per-rank 1 > shared.log 2>&1 &
job=$!
for i in $(seq 300); do
    grep -q 'shared by 2 workers' shared.log && break
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
done
grep -q 'teacher weights (.* MiB) loaded once .* shared by 2 workers' shared.log ||
    { cat shared.log; fail "no sharing log line"; }
p1=$(rank_pid "$job" 1) && p2=$(rank_pid "$job" 2) || fail "worker pids not found"
m1=$(mapping_of "$p1")
m2=$(mapping_of "$p2")
[ -n "$m1" ] && [ "$m1" = "$m2" ] ||
    fail "workers do not map one read-only shared segment: rank 1 '$m1', rank 2 '$m2'"
wait "$job" || { cat shared.log; fail "shared run"; }

mpi 3 run private.json --threads-per-rank 1 --no-shared-weights > private.log 2>&1 &
job=$!
for i in $(seq 300); do
    grep -q 'rank 1 ready' private.log && break
    kill -0 "$job" 2>/dev/null || break
    sleep 0.1
done
p1=$(rank_pid "$job" 1) || fail "worker pid not found"
m1=$(mapping_of "$p1")
[ -z "$m1" ] || fail "--no-shared-weights: rank 1 maps a read-only osc_sm segment: $m1"
wait "$job" || { cat private.log; fail "--no-shared-weights run"; }
if grep -qi 'shared' private.log; then fail "--no-shared-weights logged sharing: $(grep -i shared private.log)"; fi

"$MPIEXEC" -np 3 --oversubscribe --mca osc ^sm "$PSW_CLI" run fallback.json --threads-per-rank 1 \
    > fallback.log 2>&1 || { cat fallback.log; fail "fallback run"; }
[ "$(grep -c 'no node-shared teacher weights (MPI_Win_allocate_shared of' fallback.log)" = 1 ] ||
    { cat fallback.log; fail "expected one fallback warning"; }
grep -q 'each worker loads its own copy' fallback.log || fail "fallback warning text"

for mode in shared private fallback; do $CHECK once "$mode.h5" 7 || fail "$mode rows"; done
$CHECK same shared.h5 private.h5 || fail "shared vs private weights"
$CHECK same shared.h5 fallback.h5 || fail "shared vs fallback"
echo "PASS"
