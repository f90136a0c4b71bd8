#!/usr/bin/env bash
# test_hf_loadable.sh: the checkpoints `prunesweep prune` and `prunesweep convert llama2c` write
# are loadable by HuggingFace transformers (issue #2). transformers and safetensors are not
# installable here, so cli/hf_loadable.py re-implements the rules both apply (safetensors'
# read_metadata/validate, transformers' load_state_dict, index and missing/unexpected-key rules,
# the config fields Olmo2Config/LlamaConfig read, the HF state_dict names and shapes) and, with
# Debian's torch, loads the tensors into HF-named torch modules and runs the independent float64
# model of tests/reference/make_fixture.py, whose top-5 logits must match `prunesweep generate`
# within 1e-4 relative. Cases: OLMo2 pruned to 50% as F32 / BF16, one file / shards; OLMo2 pruned
# at 100% (logits against the engine on the source fixture, so a mislabelled tensor is caught);
# a tied Llama made from the Llama fixture via llama2.c and converted back (logits against the
# engine on the fixture); stories260K when PSW_SHARED_DIR is set. The checker's self-tests damage
# copies of a good checkpoint and each damage must be rejected for the rule named.
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
: "${PSW_SOURCE_DIR:?}"
py=/usr/bin/python3
chk="$PSW_SOURCE_DIR/tests/cli/hf_loadable.py"
fx="$PSW_SOURCE_DIR/tests/reference/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
run() { # run NAME CMD...: passes when CMD exits 0; prints its output
    local name=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    printf '%s\n' "$out"
    if [ $rc -ne 0 ]; then echo "FAIL $name (exit $rc)"; fail=1; fi
}
. "$(dirname "$0")/check.sh"
$py -c 'import torch' 2>/dev/null || echo "note: /usr/bin/python3 has no torch: logits parts report skipped"

# Controls: the fixtures written by make_fixture.py's own HF-layout writer pass.
for d in olmo2_f32 olmo2_bf16 llama_tied_f32; do run "control $d" $py "$chk" check "$fx/$d"; done

# The new prune option: usage error.
check prune_bad_shard 2 "--max-shard-bytes must be >= 0" \
    "$PSW_CLI" prune "$fx/olmo2_f32" --retention 0.5 "$tmp/x" --max-shard-bytes -1

# OLMo2 pruned to 50%: F32 one file, BF16 one file, F32 shards, BF16 shards (from the BF16 shards).
ids=3,7,11,5,19
p() { "$PSW_CLI" prune "$@" > /dev/null || { echo "FAIL prune $*"; fail=1; }; }
p "$fx/olmo2_f32" --retention 0.5 "$tmp/o_f32"
p "$fx/olmo2_f32" --retention 0.5 "$tmp/o_bf16" --dtype bf16
p "$fx/olmo2_f32" --retention 0.5 "$tmp/o_f32s" --max-shard-bytes 12000
p "$fx/olmo2_bf16" --retention 0.5 "$tmp/o_bf16s" --dtype bf16 --max-shard-bytes 6000
run check_o_f32 $py "$chk" check "$tmp/o_f32" --dtype F32 --shards 1
run check_o_bf16 $py "$chk" check "$tmp/o_bf16" --dtype BF16 --shards 1
run check_o_f32s $py "$chk" check "$tmp/o_f32s" --dtype F32 --shards 4
run check_o_bf16s $py "$chk" check "$tmp/o_bf16s" --dtype BF16 --shards 4
run logits_olmo2 $py "$chk" logits "$tmp/o_f32" "$tmp/o_bf16" "$tmp/o_f32s" "$tmp/o_bf16s" \
    --cli "$PSW_CLI" --ids $ids --steps 3
# Retention 1 keeps the function: PyTorch on the written shards vs the engine on the fixture.
p "$fx/olmo2_f32" --retention 1 "$tmp/o_all" --dtype bf16 --max-shard-bytes 6000
run check_o_all $py "$chk" check "$tmp/o_all" --dtype BF16
run logits_o_all $py "$chk" logits "$tmp/o_all" --cli "$PSW_CLI" --ids $ids --steps 3 \
    --engine-dir "$fx/olmo2_f32"
run logits_selftest $py "$chk" logits-selftest "$tmp/o_all" --cli "$PSW_CLI" --ids $ids \
    --engine-dir "$fx/olmo2_f32"
run selftest $py "$chk" selftest "$tmp/o_bf16s"

# Llama, tied: the Llama fixture as llama2.c, converted back (F32 one file, BF16 shards); its
# function must be the fixture's with llama2.c's rope_theta.
run make_llama2c $py "$chk" make-llama2c "$tmp/l.bin" --from "$fx/llama_tied_f32"
mkdir -p "$tmp/l_ref" && cp "$fx/llama_tied_f32/"* "$tmp/l_ref/"
$py -c 'import json,sys
p=sys.argv[1]+"/config.json"; c=json.load(open(p)); c["rope_theta"]=10000.0
json.dump(c, open(p,"w"), indent=2)' "$tmp/l_ref"
"$PSW_CLI" convert llama2c "$tmp/l.bin" "$tmp/l_f32" > /dev/null || { echo "FAIL convert"; fail=1; }
"$PSW_CLI" convert llama2c "$tmp/l.bin" "$tmp/l_bf16s" --dtype bf16 --max-shard-bytes 16000 \
    > /dev/null || { echo "FAIL convert bf16"; fail=1; }
run check_l_f32 $py "$chk" check "$tmp/l_f32" --dtype F32 --shards 1
run check_l_bf16s $py "$chk" check "$tmp/l_bf16s" --dtype BF16 --shards 2
run logits_l_f32 $py "$chk" logits "$tmp/l_f32" --cli "$PSW_CLI" --ids 1,5,9,2 --steps 3 \
    --engine-dir "$tmp/l_ref"
p "$tmp/l_f32" --retention 0.5 "$tmp/l_pruned"
run check_l_pruned $py "$chk" check "$tmp/l_pruned" --dtype F32
run logits_llama $py "$chk" logits "$tmp/l_bf16s" "$tmp/l_pruned" --cli "$PSW_CLI" --ids 1,5,9,2 \
    --steps 3

if [ -n "${PSW_SHARED_DIR:-}" ]; then
    bin="$PSW_SHARED_DIR/data/models/stories260K/stories260K.bin"
    "$PSW_CLI" convert llama2c "$bin" "$tmp/s" --dtype bf16 --max-shard-bytes 200000 > /dev/null \
        || { echo "FAIL convert stories260K"; fail=1; }
    run check_stories $py "$chk" check "$tmp/s" --dtype BF16
    p "$tmp/s" --retention 0.5 "$tmp/s_pruned"
    run check_stories_pruned $py "$chk" check "$tmp/s_pruned" --dtype F32 --shards 1
    run logits_stories $py "$chk" logits "$tmp/s" "$tmp/s_pruned" --cli "$PSW_CLI" \
        --ids 1,403,407,261 --steps 3
else
    echo "PSW_SHARED_DIR unset: stories260K part skipped"
fi
exit $fail
