#!/bin/bash
# A full disk while a sweep writes its results:
#  1. a 3-rank sweep writing into a small tmpfs that another process fills after a few rows
#     (needs mount: root with CAP_SYS_ADMIN; otherwise this part is skipped with a note);
#  2. a file-size limit (RLIMIT_FSIZE) on the coordinator, resuming a file with earlier rows;
#  3. a file-size limit too small to create a new file.
# Each time: exit status 1, exactly one error line naming the file and "disk full", the rows
# written before intact (row hashes before/after), no temporary file left behind, and a resume
# with space completes with every configuration exactly once.
. "$(dirname "$0")/lib.sh"
ROWS="$PY $PSW_SOURCE_DIR/tests/mpi/fault_rows.py"
make_fixture
write_spec full 60 "8, 16" "0, 1"   # 16 configs + 3 reference rows, ~0.1 s each
cd "$WORK"
mkdir cache

# expect_full LOG PATTERN: the run failed with exit 1 and one "disk full" error line.
expect_full() {
    local n
    n=$(grep -c '^prunesweep: error: ' "$1")
    [ "$n" -eq 1 ] || { cat "$1"; fail "$n error lines, expected 1"; }
    grep -qE "^prunesweep: error: $2" "$1" ||
        fail "error line: '$(grep '^prunesweep: error: ' "$1")' does not match '$2'"
    echo "  $(grep '^prunesweep: error: ' "$1")"
}

# 1. tmpfs filled by another process.
# The trap unmounts lazily: an exiting rank may still hold a file there.
trap 'umount -l "$WORK/disk" 2> /dev/null; rm -rf "$WORK"' EXIT
if [ "$(id -u)" -eq 0 ] && mkdir disk && mount -t tmpfs -o size=4m tmpfs disk 2> /dev/null; then
    sed 's/"output": "full.h5"/"output": "disk\/full.h5"/' full.json > tmpfs.json
    mpi 3 run tmpfs.json --threads-per-rank 1 --cache-dir cache > tmpfs.log 2>&1 &
    mp=$!
    # The workers are held while the disk fills, so rows are still to come however fast the
    # configurations run (the writer, rank 0, keeps running: a reader must not meet it stopped
    # in the middle of a flush). Their pids are looked up first, so the hold follows the third
    # row closely.
    wait_done tmpfs.log 1 "$mp"
    w1=$(rank_pid "$mp" 1) && w2=$(rank_pid "$mp" 2) || fail "tmpfs: worker pids not found"
    workers="$w1 $w2"
    wait_done tmpfs.log 3 "$mp"
    kill -STOP $workers
    dd if=/dev/zero of=disk/filler bs=64k > /dev/null 2>&1   # until ENOSPC
    $ROWS snap disk/full.h5 tmpfs.before || { kill -CONT $workers; fail "snapshot after the fill"; }
    kill -CONT $workers
    rc=0
    wait "$mp" || rc=$?
    [ "$rc" -eq 1 ] || { cat tmpfs.log; fail "tmpfs: exit $rc, expected 1"; }
    expect_full tmpfs.log 'disk/full.h5: disk full: appending (a row|[0-9]+ rows) needs up to [0-9]+ bytes, [0-9]+ are free$'
    $ROWS intact tmpfs.before disk/full.h5 || fail "tmpfs: earlier rows"
    n=$($ROWS count disk/full.h5)
    [ "$n" -eq "$(grep -c ' done (' tmpfs.log)" ] || fail "tmpfs: $n rows but $(grep -c ' done (' tmpfs.log) progress lines"
    [ "$n" -ge 3 ] && [ "$n" -lt 19 ] || fail "tmpfs: $n rows"
    "$PSW_CLI" status disk/full.h5 | grep -q "^progress: $n/19 done" || fail "status after the failure"
    rm disk/filler
    mpi 3 run tmpfs.json --threads-per-rank 1 --cache-dir cache > tmpfs.resume.log 2>&1 ||
        { cat tmpfs.resume.log; fail "tmpfs: resume with space failed"; }
    grep -q "$n already finished, $((19 - n)) to run" tmpfs.resume.log || fail "tmpfs: resume did not skip $n"
    $ROWS intact tmpfs.before disk/full.h5 || fail "tmpfs: earlier rows after the resume"
    $ROWS final disk/full.h5 19 || fail "tmpfs: final file"
    ls disk | grep -q tmp- && fail "tmpfs: a temporary file was left: $(ls disk)"
    echo "ok: tmpfs filled after $n rows: clear error, rows intact, resumed"
else
    echo "note: cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN): skipping the tmpfs part"
fi

# 2. RLIMIT_FSIZE on the coordinator (rank 0, the writer) of a resumed sweep. The limit is set in
# rank 0's own shell (MPMD launch): a serial run under `ulimit -f` cannot even start Open MPI's
# singleton, and Open MPI's shared-memory transport backs its segments with files larger than
# the limit, so the ranks talk over TCP here (--mca btl self,tcp).
"$PSW_CLI" run full.json --threads-per-rank 1 --cache-dir cache > part.log 2>&1 &
pid=$!
wait_done part.log 3 "$pid"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 3 ] || { cat part.log; fail "SIGTERM: exit $rc, expected 3"; }
$ROWS snap full.h5 limit.before || fail "snapshot"
n=$(wc -l < limit.before)
rc=0
"$MPIEXEC" --mca btl self,tcp -np 1 --oversubscribe bash -c 'ulimit -f 200 && exec "$0" "$@"' "$PSW_CLI" run full.json \
    --threads-per-rank 1 --cache-dir cache : -np 2 --oversubscribe "$PSW_CLI" run full.json \
    --threads-per-rank 1 --cache-dir cache > limit.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat limit.log; fail "RLIMIT_FSIZE: exit $rc, expected 1"; }
expect_full limit.log 'full.h5: disk full: appending (a row|[0-9]+ rows) needs up to [0-9]+ bytes, the file-size limit \(RLIMIT_FSIZE 204800\) leaves [0-9]+$'
$ROWS intact limit.before full.h5 || fail "RLIMIT_FSIZE: earlier rows"
[ "$($ROWS count full.h5)" -eq "$n" ] || fail "RLIMIT_FSIZE: rows were added"
mpi 3 run full.json --threads-per-rank 1 --cache-dir cache > limit.resume.log 2>&1 ||
    { cat limit.resume.log; fail "RLIMIT_FSIZE: resume failed"; }
grep -q "$n already finished, $((19 - n)) to run" limit.resume.log || fail "RLIMIT_FSIZE: resume did not skip $n"
$ROWS intact limit.before full.h5 || fail "RLIMIT_FSIZE: earlier rows after the resume"
$ROWS final full.h5 19 || fail "RLIMIT_FSIZE: final file"
echo "ok: RLIMIT_FSIZE after $n rows: clear error, rows intact, resumed"

# 3. A new file that cannot be created within the limit: an error, not SIGXFSZ; nothing left.
sed 's/"output": "full.h5"/"output": "small.h5"/' full.json > small.json
rc=0
"$MPIEXEC" --mca btl self,tcp -np 1 --oversubscribe bash -c 'ulimit -f 8 && exec "$0" "$@"' "$PSW_CLI" run small.json \
    --threads-per-rank 1 --cache-dir cache > small.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat small.log; fail "small limit: exit $rc, expected 1"; }
expect_full small.log 'small.h5: disk full: creating the file needs up to [0-9]+ bytes, the file-size limit \(RLIMIT_FSIZE 8192\) leaves 8192$'
[ -z "$(ls small.h5* 2> /dev/null)" ] || fail "small limit left files: $(ls small.h5*)"
echo "PASS"
