#!/bin/bash
# A 3-rank sweep of a small grid (16 configs + teacher + 2 unrecovered = 19 rows, with the
# teacher cache for kl) completes with every configuration exactly once; a rerun skips them all;
# `prunesweep status` reports the counts and the mean ± std that numpy computes from the file.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec grid 1 "8, 16" "0, 1"
cd "$WORK"

mpi 3 run grid.json --threads-per-rank 1 > run1.log 2>&1 || { cat run1.log; fail "-np 3 run failed"; }
$CHECK once grid.h5 19 || fail "rows after the -np 3 run"
[ "$(grep -c ' done (' run1.log)" -eq 19 ] || fail "expected 19 progress lines: $(grep -c ' done (' run1.log)"
grep -q 'sweep: 19/19 done (0 failed): .*; ETA ' run1.log || fail "no final progress line with ETA"
grep -q 'teacher cache built' run1.log || fail "teacher cache not built"
ls grid.h5.cache/teacher-*.bin > /dev/null || fail "no teacher cache in grid.h5.cache/"
# Both workers got work (rank column), and the coordinator ran none.
ranks=$($PY -c 'import h5py,sys; f=h5py.File("grid.h5","r",swmr=True); print(" ".join(map(str,sorted(set(f["runs"]["rank"].tolist())))))')
[ "$ranks" = "1 2" ] || fail "rows came from ranks '$ranks', expected '1 2'"

# Rerun: nothing to do, nothing appended.
mpi 3 run grid.json --threads-per-rank 1 > run2.log 2>&1 || { cat run2.log; fail "rerun failed"; }
grep -q '19 already finished, 0 to run' run2.log || fail "rerun did not skip: $(grep 'sweep:' run2.log | head -2)"
[ "$(rows grid.h5)" -eq 19 ] || fail "rerun appended rows"

# status: counts, and one table cell against numpy (mean and sample std over the 2 seeds).
"$PSW_CLI" status grid.h5 > status.txt || fail "status failed"
grep -q '^progress: 19/19 done (19 ok, 0 diverged), 0 failed, 0 pending$' status.txt ||
    fail "status progress line: $(grep progress status.txt)"
want=$($PY - <<'PY'
import h5py, numpy as np
with h5py.File("grid.h5", "r", swmr=True) as f:
    r = f["runs"][:]
sel = (r["kind"] == 0) & (r["retention"] == 0.5) & (r["loss"] == 1) & (r["data_size"] == 16)
a = r["accuracy"][sel]
assert len(a) == 2
print("%.4f ± %.4f" % (a.mean(), a.std(ddof=1)))
PY
)
line=$(grep -E '^0\.5 +kl +16 +2/2 ' status.txt) || fail "no (0.5, kl, 16) line in: $(cat status.txt)"
case "$line" in *"2/2  $want"*) ;; *) fail "status line '$line' does not show accuracy $want" ;; esac
grep -qE '^teacher +none +- +1/1 ' status.txt || fail "no teacher line"
[ "$(grep -cE '^0\.(5|75) +none +- +1/1 ' status.txt)" -eq 2 ] || fail "unrecovered lines"
echo "PASS"
