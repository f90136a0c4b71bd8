#!/bin/bash
# Error paths of `prunesweep run` and `prunesweep status`: usage errors (exit 2), bad specs
# (exit 2, one message even with 3 ranks), missing model (exit 1, no file created), configurations
# that fail (rows with status failed and the message; the sweep goes on and exits 0; a resume
# reruns only them), a results file from another spec (refused, untouched), and --new.
. "$(dirname "$0")/lib.sh"
make_fixture
cd "$WORK"

expect() { # expect CODE PATTERN CMD...: exit status CODE and stderr matching PATTERN
    local code=$1 pattern=$2
    shift 2
    local rc=0
    "$@" > out.txt 2> err.txt || rc=$?
    [ "$rc" -eq "$code" ] || fail "'$*': exit $rc, expected $code; stderr: $(tail -3 err.txt)"
    grep -q -- "$pattern" err.txt || fail "'$*': stderr lacks '$pattern': $(tail -3 err.txt)"
}

write_spec ok 1 "8" "0"
expect 2 'run: missing SPEC.json' "$PSW_CLI" run
expect 2 "run: unknown option '--frobnicate'" "$PSW_CLI" run ok.json --frobnicate
expect 2 "run: --grace: '-1' is not a number of seconds" "$PSW_CLI" run ok.json --grace -1
expect 2 "run: --grace needs a value" "$PSW_CLI" run ok.json --grace
expect 2 "run: --threads-per-rank: '0' is not an integer" "$PSW_CLI" run ok.json --threads-per-rank 0
expect 2 "run: more than one spec given" "$PSW_CLI" run ok.json ok.json
expect 1 'nope.json: ' "$PSW_CLI" run nope.json

echo '{"name": "bad", "grid": ' > bad.json
expect 2 'bad.json: malformed JSON near line 1' "$PSW_CLI" run bad.json
sed 's/"lr": 1e-3/"lrr": 1e-3/' ok.json > typo.json
expect 2 'typo.json: training.lrr: unknown key' "$PSW_CLI" run typo.json
sed 's/"retention": \[0.5, 0.75\]/"retention": [0.5, 1.5]/' ok.json > range.json
expect 2 'range.json: grid.retention\[1\]: 1.5 is outside (0, 1\]' "$PSW_CLI" run range.json
$PY -c 'import json; s=json.load(open("ok.json")); del s["grid"]; json.dump(s, open("nogrid.json","w"))'
expect 2 'nogrid.json: ' "$PSW_CLI" run nogrid.json
# With 3 ranks every rank parses the same bytes; only rank 0 prints, and all exit 2.
expect 2 'typo.json: training.lrr: unknown key' mpi 3 run typo.json
[ "$(grep -c 'prunesweep: error:' err.txt)" -eq 1 ] || fail "the spec error is not printed exactly once"

sed 's/"path": "model"/"path": "nomodel"/' ok.json > nomodel.json
expect 1 'nomodel/config.json: cannot open' mpi 3 run nomodel.json
[ ! -e nomodel.h5 ] || fail "a results file was created for a missing model"

# Failing configurations: data_size 100 > the 64 training examples.
write_spec fails 1 "8, 100" "0"
expect 0 'sweep: complete: 11 rows (0 from earlier runs, 11 written now, 4 of them failed)' \
    mpi 3 run fails.json --threads-per-rank 1
grep -q 'failed: grid.data_size: 100 is outside 1..64' err.txt || fail "no failure message in the progress"
$CHECK once fails.h5 11 --failed 4 || fail "rows with failures"
msg=$($PY -c 'import h5py; r=h5py.File("fails.h5","r",swmr=True)["runs"][:]; print("|".join(sorted(set(m.decode() for m in r["message"][r["status"]==3]))))')
[ "$msg" = "grid.data_size: 100 is outside 1..64 (the train split's size)" ] || fail "stored message: $msg"
"$PSW_CLI" status fails.h5 > st.txt
grep -q '^progress: 7/11 done (7 ok, 0 diverged), 4 failed, 0 pending$' st.txt || fail "status: $(grep progress st.txt)"
grep -qE '^0\.5 +ce +100 +0/1 +- ' st.txt || fail "status line of a failed group: $(cat st.txt)"
# Failed rows are retried on resume (and fail again, appended after the old ones).
expect 0 '7 already finished, 4 to run' "$PSW_CLI" run fails.json
# Without --threads-per-rank a single process uses every core it may run on.
t=$(nproc)
grep -q "running every task in this process, $t OpenBLAS thread" err.txt || fail "thread count: $(grep 'running every' err.txt)"
[ "$(rows fails.h5)" -eq 15 ] || fail "resume of failed rows: $(rows fails.h5) rows"

# A results file from another spec is refused and left alone; --new moves it aside.
"$PSW_CLI" run ok.json --threads-per-rank 1 2> /dev/null || fail "ok run"
sum=$(md5sum < ok.h5)
sed 's/"lr": 1e-3/"lr": 2e-3/' ok.json > ok2.json
sed -i 's/"name": "ok"/"name": "ok"/; s/"output": "ok2.h5"/"output": "ok.h5"/' ok2.json
expect 1 'ok.h5: made from a different spec (fingerprint [0-9a-f]* in the file, [0-9a-f]* now); use --new' \
    "$PSW_CLI" run ok2.json
[ "$(md5sum < ok.h5)" = "$sum" ] || fail "the refused file was modified"
expect 0 '--new: moved the old results to ok.h5.bak-' "$PSW_CLI" run ok2.json --new --threads-per-rank 1
bak=$(ls ok.h5.bak-*) || fail "no backup file"
[ "$(md5sum < "$bak")" = "$sum" ] || fail "the backup differs from the old file"
$CHECK once ok.h5 7 || fail "rows of the --new run"

# A teacher cache that cannot be built: its kl configurations become failed rows, the rest runs.
cache=$(cd ok.h5.cache && ls teacher-*.bin) || fail "no teacher cache from the ok run"
mkdir -p "blocked/$cache"   # a directory where the cache file must go: the rename fails
sed 's/"output": "ok.h5"/"output": "blocked.h5"/' ok.json > blocked.json
expect 0 "sweep: teacher cache: blocked/$cache: rename failed: Is a directory; its kl/mix" \
    mpi 3 run blocked.json --cache-dir blocked --threads-per-rank 1
$CHECK once blocked.h5 7 --failed 2 || fail "rows with a failed cache"
n=$($PY -c 'import h5py; r=h5py.File("blocked.h5","r",swmr=True)["runs"][:]; f=r[r["status"]==3]; print(int(((f["loss"]==1)&(f["message"]==b"teacher cache: blocked/'"$cache"': rename failed: Is a directory")).sum()))')
[ "$n" -eq 2 ] || fail "the failed rows are not the kl ones with the cache message ($n)"

# status errors.
expect 2 'status: missing RESULTS.h5' "$PSW_CLI" status
expect 2 "status: unknown option '--x'" "$PSW_CLI" status ok.h5 --x
expect 1 'missing.h5: cannot open: No such file or directory' "$PSW_CLI" status missing.h5
expect 1 'ok.json: not an HDF5 file (no HDF5 signature)' "$PSW_CLI" status ok.json
echo "PASS"
