#!/bin/bash
# Bit identity: the same spec run serially (no mpirun), with -np 2 and with -np 3, at one
# OpenBLAS thread per rank, gives per configuration identical /runs fields (all but rank, host,
# times), /probs rows and /curves rows. The checker itself is shown to catch a one-ulp change.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec id 2 "8, 16" "0, 1"
cd "$WORK"
for mode in serial np2 np3; do
    sed "s/\"id.h5\"/\"$mode.h5\"/" id.json > "$mode.json"
done

"$PSW_CLI" run serial.json --threads-per-rank 1 > serial.log 2>&1 || { cat serial.log; fail "serial run"; }
mpi 2 run np2.json --threads-per-rank 1 > np2.log 2>&1 || { cat np2.log; fail "-np 2 run"; }
mpi 3 run np3.json --threads-per-rank 1 > np3.log 2>&1 || { cat np3.log; fail "-np 3 run"; }
for mode in serial np2 np3; do $CHECK once "$mode.h5" 19 || fail "$mode rows"; done
# The three runs used different rank layouts (else the comparison proves little).
grep -q '1 rank$' serial.log && grep -q '2 ranks$' np2.log && grep -q '3 ranks$' np3.log ||
    fail "rank counts not as launched"
$CHECK same serial.h5 np2.h5 || fail "serial vs -np 2"
$CHECK same serial.h5 np3.h5 || fail "serial vs -np 3"

# Negative control: one probability one ulp off must be caught.
cp np3.h5 tampered.h5
$PY - <<'PY'
import h5py, numpy as np
with h5py.File("tampered.h5", "r+") as f:
    p = f["probs"][3]
    p[0, 0] = np.nextafter(p[0, 0], np.float32(2))
    f["probs"][3] = p
PY
if $CHECK same serial.h5 tampered.h5 > tamper.out; then fail "the checker missed a changed probability"; fi
grep -q '/probs rows differ' tamper.out || fail "unexpected checker output: $(cat tamper.out)"
echo "PASS"
