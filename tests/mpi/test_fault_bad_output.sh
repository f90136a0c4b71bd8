#!/bin/bash
# Outputs a sweep must refuse: a missing output directory, a path whose directory is a file, a
# read-only directory and a read-only results file (as root: run as nobody, since root ignores
# permissions), files that are not ours (text, HDF5 without our format tag, another format),
# and results files that are truncated or corrupted. Each: exit status 1, exactly one error line
# (the exact message, or its fixed part where HDF5 supplies the detail), the file byte-identical
# before and after (md5), and no file created next to it. `prunesweep status` refuses the
# damaged ones the same way. The truncated case also runs with 3 ranks (one message).
. "$(dirname "$0")/lib.sh"
make_fixture
write_spec out 1 "8" "0"   # 4 configs + 3 reference rows
cd "$WORK"
"$PSW_CLI" run out.json --threads-per-rank 1 > /dev/null 2>&1 || fail "the reference run failed"
cp out.h5 good.h5
mkdir logs

# refuse NAME OUTPUT REGEX [CMD...]: with `output` set to OUTPUT (relative to $WORK), `run` (or
# CMD) exits 1 with one error line matching ^prunesweep: error: REGEX$, and OUTPUT and the
# directory listing are unchanged.
refuse() {
    local name=$1 output=$2 regex=$3
    shift 3
    sed "s|\"output\": \"out.h5\"|\"output\": \"$output\"|" out.json > "$name.json"
    local sum_before="" ls_before sum_after=""
    [ -f "$output" ] && sum_before=$(md5sum < "$output")
    ls_before=$(ls -la "$(dirname "$output")" 2> /dev/null | grep -v '\.cache$' | grep -v '^total' | awk '{print $1, $5, $9}')
    local rc=0
    if [ $# -eq 0 ]; then set -- "$PSW_CLI" run "$name.json" --threads-per-rank 1 --cache-dir cache; fi
    "$@" > "logs/$name.out" 2> "logs/$name.err" || rc=$?
    [ "$rc" -eq 1 ] || { cat "logs/$name.err"; fail "$name: exit $rc, expected 1"; }
    local lines
    lines=$(grep -c '^prunesweep: error: ' "logs/$name.err")
    [ "$lines" -eq 1 ] || { cat "logs/$name.err"; fail "$name: $lines error lines, expected 1"; }
    grep -qE "^prunesweep: error: $regex\$" "logs/$name.err" ||
        fail "$name: '$(grep '^prunesweep: error: ' "logs/$name.err")' does not match '$regex'"
    [ -f "$output" ] && sum_after=$(md5sum < "$output")
    [ "$sum_before" = "$sum_after" ] || fail "$name: $output was modified"
    [ "$ls_before" = "$(ls -la "$(dirname "$output")" 2> /dev/null | grep -v '\.cache$' | grep -v '^total' | awk '{print $1, $5, $9}')" ] ||
        fail "$name: the directory of $output changed"
    echo "ok: $name: $(grep '^prunesweep: error: ' "logs/$name.err")"
}

refuse missing_dir nodir/x.h5 'nodir/x\.h5: output directory nodir: No such file or directory'
[ ! -e nodir ] || fail "the missing directory was created"
touch afile
refuse dir_is_file afile/x.h5 'afile/x\.h5: output directory afile is not a directory'

# Read-only directory and read-only file. Root ignores permission bits: drop to nobody.
as_user=()
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv > /dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups true 2> /dev/null; then
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        chmod 755 "$WORK"
        mkdir -m 777 cache
    else
        echo "note: root without setpriv: skipping the read-only cases"
    fi
fi
if [ "$(id -u)" -ne 0 ] || [ ${#as_user[@]} -gt 0 ]; then
    mkdir -p cache ro && cp good.h5 ro/x.h5 && chmod 555 ro && chmod 444 ro/x.h5
    refuse ro_dir ro/new.h5 'ro/new\.h5: output directory ro is not writable: Permission denied' \
        "${as_user[@]}" "$PSW_CLI" run ro_dir.json --threads-per-rank 1 --cache-dir cache
    mkdir -m 777 rw && cp good.h5 rw/x.h5 && chmod 444 rw/x.h5
    refuse ro_file rw/x.h5 'rw/x\.h5: cannot open for writing: Permission denied' \
        "${as_user[@]}" "$PSW_CLI" run ro_file.json --threads-per-rank 1 --cache-dir cache
fi
mkdir -p cache

# Files that are not ours.
echo "my notes, not a results file" > notes.h5
refuse text notes.h5 'notes\.h5: not an HDF5 file \(no HDF5 signature\); refusing to touch it'
: > empty.h5
refuse empty empty.h5 'empty\.h5: not an HDF5 file \(no HDF5 signature\); refusing to touch it'
$PY -c 'import h5py; f = h5py.File("plain.h5", "w"); f["x"] = [1, 2, 3]'
refuse plain plain.h5 "plain\.h5: not a prunesweep results file \(no 'format' attribute\); refusing to touch it"
$PY -c 'import h5py; f = h5py.File("other.h5", "w"); f.attrs["format"] = "someone-elses/2"'
refuse other other.h5 "other\.h5: format is 'someone-elses/2', expected 'prunesweep-results/1'"

# Truncated and corrupted copies of our own file, put in place of out.h5 one at a time (the
# spec, which includes the output path, is the same, so only the damage can be the reason).
size=$(stat -c %s good.h5)
for cut in 100 $((size / 2)) $((size - 100)); do
    head -c "$cut" good.h5 > "t$cut.h5"
done
damaged() { # damaged NAME COPY REGEX [CMD...]: refuse NAME with COPY as out.h5
    local name=$1 copy=$2 regex=$3
    shift 3
    cp "$copy" out.h5
    refuse "$name" out.h5 "$regex" "$@"
    cmp -s "$copy" out.h5 || fail "$name: out.h5 changed"
}
damaged trunc_head t100.h5 "out\.h5: read attribute 'format': .*"
damaged trunc_half "t$((size / 2)).h5" \
    "out\.h5: truncated: $((size / 2)) of $size bytes present and [0-9]+ of [0-9]+ written rows damaged; not resuming \(restore a copy, or use --new\)"
damaged trunc_tail "t$((size - 100)).h5" \
    "out\.h5: truncated: $((size - 100)) of $size bytes present and [1-9][0-9]* of 7 written rows damaged; not resuming \(restore a copy, or use --new\)"
damaged trunc_np3 "t$((size / 2)).h5" "out\.h5: truncated: .*" \
    "$MPIEXEC" -np 3 --oversubscribe "$PSW_CLI" run out.json --threads-per-rank 1 --cache-dir cache

# Corrupted metadata: the superblock's version byte, and the /runs object header (its address
# from h5py). HDF5 keeps no checksums on raw data, so a flipped byte inside a /probs chunk is
# not detectable; see docs/errors.md.
cp good.h5 c_super.h5
printf '\x07' | dd of=c_super.h5 bs=1 seek=8 conv=notrunc 2> /dev/null
damaged corrupt_super c_super.h5 'out\.h5: cannot open existing file: H5F__superblock_prefix_decode: bad superblock version number'
cp good.h5 c_runs.h5
addr=$($PY -c 'import h5py; print(h5py.h5g.get_objinfo(h5py.File("good.h5", "r").id, b"runs").objno[0])')
$PY - "$addr" <<'PY'
import sys
with open("c_runs.h5", "r+b") as f:
    f.seek(int(sys.argv[1]) + 16)
    b = f.read(32)
    f.seek(int(sys.argv[1]) + 16)
    f.write(bytes(x ^ 0x5A for x in b))
PY
damaged corrupt_runs c_runs.h5 'out\.h5: open /runs: H5C_load_entry: incorrect metadata checksum after all read attempts'
cp good.h5 out.h5

# status reads the damaged files and refuses them with one line too.
status_refuses() { # status_refuses FILE REGEX
    local rc=0
    "$PSW_CLI" status "$1" > logs/st.out 2> logs/st.err || rc=$?
    [ "$rc" -eq 1 ] && [ "$(grep -c '^prunesweep: error: ' logs/st.err)" -eq 1 ] &&
        grep -qE "^prunesweep: error: $2\$" logs/st.err ||
        fail "status $1: exit $rc: $(cat logs/st.err)"
    echo "ok: status $1: $(cat logs/st.err)"
}
status_refuses notes.h5 'notes\.h5: .*'
status_refuses c_super.h5 'c_super\.h5: .*'
status_refuses t100.h5 't100\.h5: .*'
echo "PASS"
