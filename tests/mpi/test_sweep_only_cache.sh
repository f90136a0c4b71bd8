#!/bin/bash
# `run --only-cache` builds the teacher cache and nothing else: serially and under mpiexec -np 3
# (one build, by rank 0) the cache file appears, no results file is created, a second call keeps
# the valid cache; the following normal run reuses it (no build, the file untouched); a ce-only
# spec has nothing to build; --new is refused; an unusable cache directory is reported; and
# slurm/prepare.sbatch (run directly with SLURM's variables faked) validates, plans and builds.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec a 1 "8" "0"
write_spec b 1 "8" "0"
cd "$WORK"

sum() { md5sum "$1" | cut -d' ' -f1; }

# ---- serial, default cache directory (a.h5.cache) ----
"$PSW_CLI" run a.json --only-cache --threads-per-rank 1 > a1.log 2>&1 ||
    { cat a1.log; fail "serial --only-cache failed"; }
[ ! -e a.h5 ] || fail "--only-cache created the results file a.h5"
n=$(ls a.h5.cache/teacher-*.bin 2>/dev/null | wc -l)
[ "$n" -eq 1 ] || fail "expected 1 cache file in a.h5.cache/, found $n"
cache_a=$(ls a.h5.cache/teacher-*.bin)
grep -q "sweep: --only-cache: building the teacher cache $cache_a (64 train prompts, read by 2 kl/mix configurations; 1 thread)" a1.log ||
    fail "no build line: $(cat a1.log)"
grep -q "sweep: teacher cache built in .* s: $cache_a" a1.log || fail "no 'built' line: $(cat a1.log)"
sum_a=$(sum "$cache_a")
mtime_a=$(stat -c %y "$cache_a")

# Again: the valid cache is kept as it is.
"$PSW_CLI" run a.json --only-cache --threads-per-rank 1 > a2.log 2>&1 ||
    { cat a2.log; fail "second --only-cache failed"; }
grep -q "teacher cache $cache_a is already built and valid; nothing to do" a2.log ||
    fail "second call did not report the valid cache: $(cat a2.log)"
! grep -q "teacher cache built" a2.log || fail "second call rebuilt the cache"
[ "$(stat -c %y "$cache_a")" = "$mtime_a" ] || fail "second call rewrote the cache"
[ ! -e a.h5 ] || fail "second --only-cache created a.h5"

# The sweep after it (3 ranks) reuses the cache: no cache task, all 7 rows, the file untouched.
mpi 3 run a.json --threads-per-rank 1 > a3.log 2>&1 || { cat a3.log; fail "sweep after --only-cache failed"; }
grep -q "sweep: a.h5: 7 rows (1 teacher, 2 unrecovered, 4 recovered), 0 already finished, 7 to run; 3 ranks" a3.log ||
    fail "sweep start line (expected no cache build): $(grep 'sweep: a.h5' a3.log)"
! grep -q "teacher cache built" a3.log || fail "the sweep rebuilt the cache"
$CHECK once a.h5 7 || fail "rows after the sweep"
[ "$(sum "$cache_a")" = "$sum_a" ] || fail "the sweep changed the cache"

# ---- -np 3 with --cache-dir: rank 0 builds it once, the others exit cleanly ----
mpi 3 run b.json --only-cache --threads-per-rank 1 --cache-dir "$WORK/cb" > b1.log 2>&1 ||
    { cat b1.log; fail "-np 3 --only-cache failed"; }
[ ! -e b.h5 ] || fail "-np 3 --only-cache created b.h5"
[ ! -e b.h5.cache ] || fail "-np 3 --only-cache made the default cache dir despite --cache-dir"
cache_b=$(ls cb/teacher-*.bin) || fail "no cache file in cb/"
[ "$(grep -c 'teacher cache built in' b1.log)" -eq 1 ] || fail "expected one build: $(cat b1.log)"
# Same model, data and prompts as a: the same fingerprint (name) and the same bytes.
[ "$(basename "$cache_b")" = "$(basename "$cache_a")" ] || fail "cache names differ: $cache_a $cache_b"
cmp -s "$cache_a" "$cache_b" || fail "the -np 3 cache differs from the serial one"
sum_b=$(sum "$cache_b")
"$PSW_CLI" run b.json --threads-per-rank 1 --cache-dir "$WORK/cb" > b2.log 2>&1 ||
    { cat b2.log; fail "serial sweep after -np 3 --only-cache failed"; }
grep -q "0 already finished, 7 to run; 1 rank" b2.log || fail "start line: $(grep 'sweep: b.h5' b2.log)"
! grep -q "teacher cache built" b2.log || fail "serial sweep rebuilt the cache"
$CHECK once b.h5 7 || fail "rows of b"
[ "$(sum "$cache_b")" = "$sum_b" ] || fail "the serial sweep changed the cache"

# ---- nothing to build for a ce-only grid ----
sed 's/"loss": \["ce", "kl"\]/"loss": ["ce"]/; s/"b.h5"/"c.h5"/' b.json > c.json
grep -q '"loss": \["ce"\]' c.json || fail "c.json not rewritten"
"$PSW_CLI" run c.json --only-cache > c.log 2>&1 || { cat c.log; fail "ce-only --only-cache failed"; }
grep -q "no kl/mix configuration in c.json reads the teacher cache; nothing to build" c.log ||
    fail "ce-only message: $(cat c.log)"
[ ! -e c.h5 ] && [ ! -e c.h5.cache ] || fail "ce-only --only-cache created files"

# ---- errors ----
"$PSW_CLI" run a.json --only-cache --new > e1.log 2>&1
rc=$?
[ $rc -eq 2 ] || fail "--new --only-cache: exit $rc, expected 2"
grep -qx "prunesweep: error: run: --new and --only-cache: --only-cache writes no results file, so there is nothing to move aside" e1.log ||
    fail "--new --only-cache message: $(cat e1.log)"
touch notadir
"$PSW_CLI" run b.json --only-cache --cache-dir "$WORK/notadir/sub" > e2.log 2>&1
rc=$?
[ $rc -eq 1 ] || fail "unusable --cache-dir: exit $rc, expected 1"
[ "$(grep -c '^prunesweep: error: ' e2.log)" -eq 1 ] || fail "expected one error line: $(cat e2.log)"
grep -qx "prunesweep: error: $WORK/notadir/sub: cannot create directory: Not a directory" e2.log ||
    fail "unusable --cache-dir message: $(cat e2.log)"

# ---- slurm/prepare.sbatch, its body run directly with the SLURM variables faked ----
write_spec d 1 "8" "0"
env PSW_BIN="$PSW_CLI" SLURM_CPUS_PER_TASK=1 SLURM_JOB_ID=1 SLURM_SUBMIT_DIR="$WORK" \
    PSW_PLAN_ARGS="--nodes 1 --ranks-per-node 1 --node-mem 4" \
    bash "$PSW_SOURCE_DIR/slurm/prepare.sbatch" d.json > d.log 2>&1 ||
    { cat d.log; fail "prepare.sbatch failed"; }
grep -q "teacher cache built in .* s: d.h5.cache/teacher-" d.log || fail "prepare.sbatch built no cache: $(cat d.log)"
cmp -s d.h5.cache/teacher-*.bin "$cache_a" || fail "prepare.sbatch's cache differs from the serial one"
[ ! -e d.h5 ] || fail "prepare.sbatch created d.h5"
echo "PASS"
