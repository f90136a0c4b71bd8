#!/usr/bin/env bash
# test_convert.sh: `prunesweep convert llama2c` and `prunesweep info`: exit codes (0 ok, 1 runtime
# failure, 2 usage), one-line errors, and info --json figures against hand-computed parameter
# counts (a synthetic llama2.c file always; stories260K when PSW_SHARED_DIR is set).
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
. "$(dirname "$0")/check.sh"
# json_get FILE KEY.PATH: prints the value at a dotted path of a JSON file.
json_get() {
    python3 -I -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}
expect_json() { # expect_json NAME FILE PATH WANT
    local got
    got=$(json_get "$2" "$3" 2>&1)
    if [ "$got" != "$4" ]; then echo "FAIL $1: $3 = '$got', want '$4'"; fail=1; else echo "ok $1"; fi
}

# Tiny llama2.c file: dim 16, hidden 8, 1 layer, 2 heads, 1 kv head, vocab -12 (untied), seq 4.
# Floats: emb 192, rms_att 16, wq 256, wk 128, wv 128, wo 256, rms_ffn 16, w1/w2/w3 128 each,
# rms_final 16, freq_cis 2*4*4 = 32, wcls 192 -> 1616 floats.
python3 -I -c 'import struct,sys,math
n=1616
with open(sys.argv[1],"wb") as f:
    f.write(struct.pack("<7i",16,8,1,2,1,-12,4))
    f.write(struct.pack("<%df"%n,*[math.sin(i) for i in range(n)]))
with open(sys.argv[2],"wb") as f:
    f.write(struct.pack("<7i",16,8,1,2,1,-12,4))
    f.write(struct.pack("<%df"%(n-1),*[0.0]*(n-1)))' "$tmp/tiny.bin" "$tmp/short.bin"

check convert_no_args 2 "need FORMAT MODEL OUT_DIR" "$PSW_CLI" convert
check convert_bad_format 2 "unknown format 'gguf'" "$PSW_CLI" convert gguf "$tmp/tiny.bin" "$tmp/o"
check convert_bad_flag 2 "unknown option --bogus" "$PSW_CLI" convert llama2c "$tmp/tiny.bin" "$tmp/o" --bogus
check convert_bad_dtype 2 "--dtype f16: want f32 or bf16" "$PSW_CLI" convert llama2c "$tmp/tiny.bin" "$tmp/o" --dtype f16
check convert_bad_shard 2 "--max-shard-bytes needs" "$PSW_CLI" convert llama2c "$tmp/tiny.bin" "$tmp/o" --max-shard-bytes -5
check convert_missing 1 "prunesweep: error: $tmp/none.bin: cannot open" "$PSW_CLI" convert llama2c "$tmp/none.bin" "$tmp/o"
check convert_truncated 1 "implies 6492" "$PSW_CLI" convert llama2c "$tmp/short.bin" "$tmp/o"

check convert_tiny 0 "1584 parameters" "$PSW_CLI" convert llama2c "$tmp/tiny.bin" "$tmp/tiny"
check info_tiny 0 "architecture: LlamaForCausalLM" "$PSW_CLI" info "$tmp/tiny" --batch 2 --seq 4
"$PSW_CLI" info "$tmp/tiny" --json > "$tmp/tiny.json" || { echo "FAIL info --json"; fail=1; }
expect_json tiny_total "$tmp/tiny.json" parameters.total 1584
expect_json tiny_embed "$tmp/tiny.json" parameters.embeddings 192
expect_json tiny_attn "$tmp/tiny.json" parameters.attention 768
expect_json tiny_mlp "$tmp/tiny.json" parameters.mlp 384
expect_json tiny_norms "$tmp/tiny.json" parameters.norms 48
expect_json tiny_head "$tmp/tiny.json" parameters.head 192
expect_json tiny_dtype "$tmp/tiny.json" files.dtype F32
expect_json tiny_tie "$tmp/tiny.json" config.tie_word_embeddings False
expect_json tiny_kv "$tmp/tiny.json" config.num_key_value_heads 1
expect_json tiny_params_bytes "$tmp/tiny.json" memory.inference.params 6336

check convert_bf16_sharded 0 "bfloat16" "$PSW_CLI" convert llama2c "$tmp/tiny.bin" "$tmp/tiny16" --dtype bf16 --max-shard-bytes 1024
"$PSW_CLI" info "$tmp/tiny16" --json > "$tmp/tiny16.json" || { echo "FAIL info bf16"; fail=1; }
expect_json bf16_dtype "$tmp/tiny16.json" files.dtype BF16
expect_json bf16_files "$tmp/tiny16.json" files.count 4
[ -f "$tmp/tiny16/model.safetensors.index.json" ] && echo "ok bf16_index" || { echo "FAIL no index"; fail=1; }

check info_no_args 2 "need MODEL_DIR" "$PSW_CLI" info
check info_bad_flag 2 "unknown option --wat" "$PSW_CLI" info "$tmp/tiny" --wat
check info_bad_batch 2 "--batch needs an integer" "$PSW_CLI" info "$tmp/tiny" --batch 0
check info_missing 1 "$tmp/nothing/config.json: cannot open" "$PSW_CLI" info "$tmp/nothing"
rm "$tmp/tiny/model.safetensors"
check info_no_weights 1 "no model.safetensors or model.safetensors.index.json" "$PSW_CLI" info "$tmp/tiny"

if [ -n "${PSW_SHARED_DIR:-}" ]; then
    bin="$PSW_SHARED_DIR/data/models/stories260K/stories260K.bin"
    check convert_stories 0 "260032 parameters" "$PSW_CLI" convert llama2c "$bin" "$tmp/s260k"
    "$PSW_CLI" info "$tmp/s260k" --json > "$tmp/s.json" || { echo "FAIL info stories"; fail=1; }
    # 512*64; 5*(64*64 + 32*64 + 32*64 + 64*64); 5*3*172*64; 5*2*64 + 64; tied head.
    expect_json s_embed "$tmp/s.json" parameters.embeddings 32768
    expect_json s_attn "$tmp/s.json" parameters.attention 61440
    expect_json s_mlp "$tmp/s.json" parameters.mlp 165120
    expect_json s_norms "$tmp/s.json" parameters.norms 704
    expect_json s_head "$tmp/s.json" parameters.head 0
    expect_json s_param_bytes "$tmp/s.json" memory.inference.params 1040128
else
    echo "PSW_SHARED_DIR unset: stories260K part skipped"
fi
exit $fail
