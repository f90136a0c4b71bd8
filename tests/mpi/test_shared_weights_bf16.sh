#!/bin/bash
# Node-shared teacher weights held in bf16 (model.dtype_frozen "bf16", issue #8): with -np 3 the
# two workers borrow one read-only bf16 copy of the teacher from the MPI shared-memory window,
# half the bytes of the fp32 window (the log line's MiB, against the same sweep in fp32), and the
# results are bit-identical (/runs fields, /probs, /curves) to --no-shared-weights, where each
# worker loads its own bf16 copy.
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec f32 2 "16" "0" '"trainable": "mlp"'
cd "$WORK"
for mode in shared private; do
    sed 's/"model": {"path": "model"}/"model": {"path": "model", "dtype_frozen": "bf16"}/;
         s/"f32.h5"/"'$mode'.h5"/' f32.json > "$mode.json"
done
grep -q '"dtype_frozen": "bf16"' shared.json || fail "spec edit"

mpi 3 run f32.json --threads-per-rank 1 > f32.log 2>&1 || { cat f32.log; fail "f32 run"; }
mpi 3 run shared.json --threads-per-rank 1 > shared.log 2>&1 || { cat shared.log; fail "bf16 run"; }
mpi 3 run private.json --threads-per-rank 1 --no-shared-weights > private.log 2>&1 ||
    { cat private.log; fail "bf16 --no-shared-weights run"; }

# "teacher weights (X MiB) loaded once in ... shared by 2 workers on HOST (N bytes, DTYPE)": N for
# bf16 is exactly half of fp32 (the tiny model's parameter count is even).
bytes_of() { sed -n 's/.*teacher weights (.* MiB) loaded once .* shared by 2 workers on .* (\([0-9]*\) bytes, \([a-z0-9]*\)).*/\1 \2/p' "$1"; }
a=$(bytes_of f32.log)
b=$(bytes_of shared.log)
[ "${a#* }" = fp32 ] && [ "${b#* }" = bf16 ] || fail "no sharing log line: fp32 '$a', bf16 '$b'"
[ $(( ${a% *} )) -gt 0 ] && [ $(( ${a% *} )) -eq $(( 2 * ${b% *} )) ] ||
    fail "bf16 window ${b% *} bytes is not half of the fp32 window ${a% *} bytes"
if grep -qi 'shared by' private.log; then fail "--no-shared-weights logged sharing"; fi

for mode in f32 shared private; do $CHECK once "$mode.h5" 7 || fail "$mode rows"; done
$CHECK same shared.h5 private.h5 || fail "bf16: shared vs private weights"
echo "PASS (fp32 window ${a% *} bytes, bf16 window ${b% *} bytes)"
