#!/usr/bin/env bash
# test_generate.sh: `prunesweep generate` usage errors (exit 2), runtime errors (exit 1), and the
# greedy output on the committed reference fixture: the next id is the first of the top 5, the top
# 5 are sorted, the step-0 logits equal the engine's reference logits for the same prompt computed
# by PyTorch (the fixture's batch row 0 at position 2), and text and JSON agree.
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
: "${PSW_SOURCE_DIR:?}"
fx="$PSW_SOURCE_DIR/tests/reference/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
. "$(dirname "$0")/check.sh"
m="$fx/olmo2_f32"
check no_args 2 "need MODEL_DIR and --ids" "$PSW_CLI" generate
check no_ids 2 "need MODEL_DIR and --ids" "$PSW_CLI" generate "$m"
check bad_ids 2 "--ids '1,,2'" "$PSW_CLI" generate "$m" --ids 1,,2
check neg_ids 2 "--ids '-3'" "$PSW_CLI" generate "$m" --ids -3
check bad_steps 2 "--steps needs" "$PSW_CLI" generate "$m" --ids 1 --steps 0
check bad_flag 2 "unknown option --bogus" "$PSW_CLI" generate "$m" --ids 1 --bogus
check extra_arg 2 "unexpected argument" "$PSW_CLI" generate "$m" "$m" --ids 1
check missing_dir 1 "prunesweep: error:" "$PSW_CLI" generate "$tmp/nope" --ids 1
check oov 1 "token 48 is outside the vocabulary (vocab_size 48)" "$PSW_CLI" generate "$m" --ids 1,48
check too_long 1 "exceed max_position_embeddings 64" "$PSW_CLI" generate "$m" --ids 1 --steps 65
check text_out 0 "step 0 pos 0 next" "$PSW_CLI" generate "$m" --ids 1 --steps 2

# Row 0 of the fixture batch, first 3 tokens: the logits at position 2 are the fixture's
# expected logits row 1 (ce.pos = [5, 2, 9]), from PyTorch.
ids=$(python3 -I - "$fx/expected_olmo2.safetensors" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
def get(name):
    a, b = h[name]["data_offsets"]; f.seek(8 + n + a)
    return struct.unpack("<%df" % ((b - a) // 4), f.read(b - a))
print(",".join(str(int(x)) for x in get("batch.tokens")[:3]))
PY
)
"$PSW_CLI" generate "$m" --ids "$ids" --steps 4 --json > "$tmp/g.json" || { echo "FAIL json run"; fail=1; }
"$PSW_CLI" generate "$m" --ids "$ids" --steps 4 > "$tmp/g.txt" || { echo "FAIL text run"; fail=1; }
python3 -I - "$tmp/g.json" "$tmp/g.txt" "$fx/expected_olmo2.safetensors" <<'PY' || fail=1
import json, struct, sys
g = json.load(open(sys.argv[1]))
txt = open(sys.argv[2]).read().split("\n")
f = open(sys.argv[3], "rb"); n = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(n))
a, b = h["logits"]["data_offsets"]; f.seek(8 + n + a)
logits = struct.unpack("<%df" % ((b - a) // 4), f.read(b - a))
V = h["logits"]["shape"][1]
row = logits[V:2 * V]  # ce.pos[1] = row 0, t = 2
bad = 0
want_top = sorted(range(V), key=lambda i: (-row[i], i))[:5]
got_top = g["steps"][0]["top5"]
if [e["id"] for e in got_top] != want_top:
    print("FAIL top5 ids", [e["id"] for e in got_top], "want", want_top); bad = 1
for e in got_top:
    if abs(e["logit"] - row[e["id"]]) > 1e-4 * (abs(row[e["id"]]) + 1):
        print("FAIL logit of", e["id"], e["logit"], "want", row[e["id"]]); bad = 1
for s in g["steps"]:
    vals = [e["logit"] for e in s["top5"]]
    if s["next"] != s["top5"][0]["id"] or vals != sorted(vals, reverse=True):
        print("FAIL step", s["step"], "next is not the argmax or top5 unsorted"); bad = 1
ids_line = [l for l in txt if l.startswith("ids: ")][0][5:]
if [int(x) for x in ids_line.split(",")] != g["prompt_ids"] + g["generated_ids"]:
    print("FAIL text ids", ids_line, "json", g["prompt_ids"] + g["generated_ids"]); bad = 1
if not bad: print("ok generate logits match the PyTorch fixture; text and JSON agree")
sys.exit(bad)
PY
exit $fail
