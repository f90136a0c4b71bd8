#!/usr/bin/env bash
# test_errors_catalogue.sh: every row of docs/errors.md, provoked through the CLI.
#
# docs/errors.md is the source of truth: each table row whose first cell is an `id` gives the
# command (run in a fresh directory named after the id, after `setup ID` below made the bad
# input there), the exit status and the exact error line. This script checks, per row: the
# exit status, exactly one "prunesweep: error: " line on stderr, and that line equal to the
# table's. It also fails when a row has no setup here, or a setup has no row.
#   test_errors_catalogue.sh           the test (needs PSW_CLI, PSW_BINARY_DIR, PSW_SOURCE_DIR)
#   test_errors_catalogue.sh --print   prints "id | exit | error line" as the CLI gives them now
set -u
if [ -z "${PSW_CLI:-}" ] || [ -z "${PSW_BINARY_DIR:-}" ] || [ -z "${PSW_SOURCE_DIR:-}" ]; then
    echo "skip: PSW_CLI, PSW_BINARY_DIR and PSW_SOURCE_DIR must be set (run through ctest)"
    exit 77
fi
PY=/usr/bin/python3
if ! $PY -c 'import h5py' 2> /dev/null; then
    echo "skip: /usr/bin/python3 cannot import h5py"
    exit 77
fi
DOC="$PSW_SOURCE_DIR/docs/errors.md"
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2> /dev/null; rm -rf "$T"' EXIT
export OPENBLAS_NUM_THREADS=1
print_mode=0
[ "${1:-}" = "--print" ] && print_mode=1

# ---- the base fixture: a world (tokenizer, data), a tiny model, a spec and a results file ----
B="$T/base"
mkdir -p "$B"
"$PSW_CLI" make-world "$B/world" --entities 10 --train 32 --dev 8 --test 12 --vocab 300 \
    > /dev/null 2>&1 || { echo "FAIL: make-world"; exit 1; }
"$PSW_BINARY_DIR/tests/psw_tiny_model" "$B/world/tokenizer.json" "$B/model" 7 ||
    { echo "FAIL: psw_tiny_model"; exit 1; }
cat > "$B/spec.json" <<'JSON'
{
  "name": "spec",
  "model": {"path": "model"},
  "data": {"train": "train.jsonl", "test": "test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 4, "eval_batch": 8, "lr": 1e-3, "epochs": 1},
  "grid": {"retention": [0.5], "loss": ["ce"], "data_size": [8], "seed": [0]},
  "output": "spec.h5"
}
JSON
cp "$B/world/train.jsonl" "$B/world/test.jsonl" "$B/"
# `run` starts Open MPI, whose own allocations read as leaks under ASan (as in tests/mpi/lib.sh);
# memory errors are still caught. Other commands keep leak checking.
NO_LEAKS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
(cd "$B" && ASAN_OPTIONS=$NO_LEAKS "$PSW_CLI" run spec.json --threads-per-rank 1 > /dev/null 2>&1) ||
    { echo "FAIL: the base sweep failed"; exit 1; }

# ---- helpers for the setups (cwd = the row's directory) ----
model() { cp -r "$B/model" model; }                       # a good model directory
data() { cp "$B/test.jsonl" data.jsonl; }                 # a good CSQA file
tok() { cp "$B/world/tokenizer.json" tok.json; }          # a good tokenizer.json
spec() { cp "$B/spec.json" spec.json; cp -r "$B/model" model; cp "$B/train.jsonl" "$B/test.jsonl" .; }
results() { spec; cp "$B/spec.h5" spec.h5; }              # a spec with its finished results
# pyedit FILE CODE: runs CODE with `j` = the JSON of FILE, then writes j back.
pyedit() {
    $PY - "$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
j = json.load(open(path))
exec(code)
json.dump(j, open(path, "w"), indent=1)
PY
}
# stedit CODE: rewrites model/model.safetensors with CODE applied to its header `h` (a dict);
# the data section is kept.
stedit() {
    $PY - "$1" <<'PY'
import json, struct, sys
p = "model/model.safetensors"
b = open(p, "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
exec(sys.argv[1])
hb = json.dumps(h).encode()
hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY
}
# jsonl LINE...: writes data.jsonl from the given lines.
jsonl() { printf '%s\n' "$@" > data.jsonl; }
Q1='{"id": "a", "question": {"stem": "Which?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}, "answerKey": "A"}'
Q2='{"id": "b", "question": {"stem": "What?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}, "answerKey": "B"}'

setup() {
    case "$1" in
    # model: config.json
    config-missing) model; rm model/config.json ;;
    config-not-json) model; echo '{"hidden_size": ' > model/config.json ;;
    config-not-object) model; echo '[1, 2]' > model/config.json ;;
    config-twice) model; sed -i '0,/"hidden_size"/s/"hidden_size"/"hidden_size": 32, "hidden_size"/' model/config.json ;;
    config-missing-field) model; pyedit model/config.json 'del j["intermediate_size"]' ;;
    config-not-number) model; pyedit model/config.json 'j["num_hidden_layers"] = "2"' ;;
    config-not-integer) model; pyedit model/config.json 'j["num_hidden_layers"] = 2.5' ;;
    config-arch) model; pyedit model/config.json 'j["architectures"] = ["GPT2LMHeadModel"]; j.pop("model_type", None)' ;;
    config-rope-scaling) model; pyedit model/config.json 'j["rope_scaling"] = {"type": "linear", "factor": 2.0}' ;;
    config-bias) model; pyedit model/config.json 'j["attention_bias"] = True' ;;
    config-act) model; pyedit model/config.json 'j["hidden_act"] = "gelu"' ;;
    config-kv-heads) model; pyedit model/config.json 'j["num_key_value_heads"] = 3' ;;
    config-head-dim) model; pyedit model/config.json 'j["head_dim"] = 7' ;;
    config-token-id) model; pyedit model/config.json 'j["eos_token_id"] = 100000' ;;
    # model: safetensors
    st-missing) model; rm model/model.safetensors ;;
    st-short) model; printf 'abcd' > model/model.safetensors ;;
    st-header-past-end) model; $PY -c 'import struct; open("model/model.safetensors", "wb").write(struct.pack("<Q", 1000) + b"{}")' ;;
    st-header-not-json) model; $PY -c 'import struct; open("model/model.safetensors", "wb").write(struct.pack("<Q", 8) + b"{nope!!}")' ;;
    st-dtype) model; stedit 'h["model.norm.weight"]["dtype"] = "Q4"' ;;
    st-offsets) model; stedit 'h["model.norm.weight"]["data_offsets"][1] += 4' ;;
    st-shape) model; pyedit model/config.json 'j["intermediate_size"] = 96' ;;
    st-missing-tensor) model; stedit 'h["model.norx.weight"] = h.pop("model.norm.weight")' ;;
    st-index) model; rm model/model.safetensors; echo '{"weight_map": []}' > model/model.safetensors.index.json ;;
    # tokenizer
    tok-missing) : ;;
    tok-not-json) echo '{"model": ' > tok.json ;;
    tok-model-missing) tok; pyedit tok.json 'del j["model"]' ;;
    tok-model-type) tok; pyedit tok.json 'j["model"]["type"] = "WordPiece"' ;;
    tok-dropout) tok; pyedit tok.json 'j["model"]["dropout"] = 0.1' ;;
    tok-no-bytelevel) tok; pyedit tok.json 'j["pre_tokenizer"] = None' ;;
    tok-regex) tok; pyedit tok.json 'j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(ab"}, "behavior": "Isolated", "invert": False}, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}' ;;
    tok-regex-C) tok; pyedit tok.json 'j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\w+|\\C"}, "behavior": "Isolated", "invert": False}, {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}' ;;
    tok-utf8) tok; printf 'ab\x80cd' > in.txt ;;
    tok-decode-id) tok; echo '5 99999' > in.txt ;;
    # data: CSQA JSONL
    data-missing) model ;;
    data-empty) model; : > data.jsonl ;;
    data-malformed) model; jsonl "$Q1" '{"id": "b", "question": ' ;;
    data-not-object) model; jsonl "$Q1" '[1, 2]' ;;
    data-no-id) model; jsonl '{"question": {"stem": "Q?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}}' ;;
    data-dup-id) model; jsonl "$Q1" "$Q1" ;;
    data-one-choice) model; jsonl '{"id": "a", "question": {"stem": "Q?", "choices": [{"label": "A", "text": "x"}]}, "answerKey": "A"}' ;;
    data-label-twice) model; jsonl '{"id": "a", "question": {"stem": "Q?", "choices": [{"label": "A", "text": "x"}, {"label": "A", "text": "y"}]}, "answerKey": "A"}' ;;
    data-answer) model; jsonl '{"id": "a", "question": {"stem": "Q?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}, "answerKey": "C"}' ;;
    data-mixed) model; jsonl "$Q1" '{"id": "b", "question": {"stem": "Q?", "choices": [{"label": "A", "text": "x"}, {"label": "B", "text": "y"}]}}' ;;
    # the experiment spec
    spec-missing) : ;;
    spec-malformed) echo '{"name": "x", "grid": ' > spec.json ;;
    spec-unknown-key) spec; pyedit spec.json 'j["training"]["lrr"] = j["training"].pop("lr")' ;;
    spec-section-key) spec; pyedit spec.json 'j["lr"] = 0.1' ;;
    spec-type) spec; pyedit spec.json 'j["training"]["epochs"] = "3"' ;;
    spec-range) spec; pyedit spec.json 'j["grid"]["retention"] = [0.5, 1.5]' ;;
    spec-loss) spec; pyedit spec.json 'j["grid"]["loss"] = ["ce", "mse"]' ;;
    spec-dtype) spec; pyedit spec.json 'j["model"]["dtype_frozen"] = "f16"' ;;
    spec-empty-axis) spec; pyedit spec.json 'j["grid"]["seed"] = []' ;;
    spec-no-grid) spec; pyedit spec.json 'del j["grid"]' ;;
    spec-model-path) spec; rm -r model ;;
    spec-data-size) spec ;;
    data-prompt-too-long) spec ;;
    # the results file
    results-missing) : ;;
    results-not-hdf5) spec; echo "my notes" > spec.h5 ;;
    results-no-format) spec; $PY -c 'import h5py; h5py.File("spec.h5", "w")["x"] = [1]' ;;
    results-other-format) spec; $PY -c 'import h5py; h5py.File("spec.h5", "w").attrs["format"] = "other/1"' ;;
    results-other-spec) results; pyedit spec.json 'j["training"]["lr"] = 2e-3' ;;
    results-truncated) results; head -c 30000 "$B/spec.h5" > spec.h5 ;;
    results-corrupted) results; printf '\x07' | dd of=spec.h5 bs=1 seek=8 conv=notrunc 2> /dev/null ;;
    results-no-dir) spec; pyedit spec.json 'j["output"] = "nodir/spec.h5"' ;;
    results-simulated) results; $PY -c 'import h5py, numpy; h5py.File("spec.h5", "a").attrs["simulated"] = numpy.int32(1)' ;;
    results-status-not-hdf5) echo "my notes" > notes.h5 ;;
    results-status-truncated) head -c 3000 "$B/spec.h5" > part.h5 ;;
    # the command line
    cli-command) : ;;
    cli-option) model ;;
    cli-missing-arg) : ;;
    cli-number) model ;;
    cli-range) model ;;
    cli-loss) model ;;
    cli-grace) spec ;;
    cli-threads) spec ;;
    cli-simulate) spec ;;
    cli-simulate-serial) spec ;;
    cli-two-specs) spec ;;
    *) return 1 ;;
    esac
}

# ---- the table ----
rows=$($PY - "$DOC" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if not line.startswith("| `"):
        continue
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    if len(cells) != 5:
        sys.exit(f"docs/errors.md: row with {len(cells)} cells: {line.strip()}")
    rid, _, cmd, code, msg = cells
    strip = lambda s: s[1:-1] if s.startswith("`") and s.endswith("`") else s
    print("\t".join([strip(rid), strip(cmd), code, strip(msg).replace("\\|", "|")]))
PY
) || { echo "FAIL: cannot parse $DOC"; exit 1; }
[ -n "$rows" ] || { echo "FAIL: no rows in $DOC"; exit 1; }

fail=0
n=0
declare -A seen
while IFS=$'\t' read -r id cmd want_rc want_msg; do
    n=$((n + 1))
    [ -z "${seen[$id]:-}" ] || { echo "FAIL $id: appears twice in docs/errors.md"; fail=1; }
    seen[$id]=1
    d="$T/rows/$id"
    mkdir -p "$d"
    if ! (cd "$d" && setup "$id"); then
        echo "FAIL $id: no setup in test_errors_catalogue.sh (or it failed)"
        fail=1
        continue
    fi
    rc=0
    asan=${ASAN_OPTIONS:-}
    case "$cmd" in run\ *) asan=$NO_LEAKS ;; esac
    (cd "$d" && export ASAN_OPTIONS="$asan" && eval "\"\$PSW_CLI\" $cmd") > "$d.out" 2> "$d.err" || rc=$?
    got=$(grep '^prunesweep: error: ' "$d.err")
    lines=$(grep -c '^prunesweep: error: ' "$d.err")
    if [ "$print_mode" -eq 1 ]; then
        printf '%s | %s | %s | %s\n' "$id" "$cmd" "$rc" "$got"
        continue
    fi
    if [ "$rc" != "$want_rc" ] || [ "$lines" -ne 1 ] || [ "$got" != "prunesweep: error: $want_msg" ]; then
        echo "FAIL $id: prunesweep $cmd"
        echo "    exit $rc (want $want_rc), $lines error lines"
        echo "    got:  $got"
        echo "    want: prunesweep: error: $want_msg"
        fail=1
    fi
done <<< "$rows"

# Every setup has a row.
for id in $(sed -n '/^setup() {/,/^}/p' "$0" | grep -oE '^    [a-z0-9-]+\)' | tr -d ' )'); do
    [ -n "${seen[$id]:-}" ] || { echo "FAIL $id: set up here but not in docs/errors.md"; fail=1; }
done
[ "$print_mode" -eq 1 ] && exit 0
[ "$fail" -eq 0 ] || exit 1
echo "PASS: $n rows of docs/errors.md"
