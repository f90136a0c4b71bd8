#!/usr/bin/env bash
# test_stories260k.sh: acceptance on the real llama2.c model stories260K (GQA 8/4 heads, tied
# classifier): convert it to an HF directory, greedy-decode from BOS (id 1), and compare every
# generated id with expected_greedy_t0.json (an independent float64 reimplementation of llama2.c),
# plus the step-0 top-5 logits to 1e-4 relative. Skips (77) without PSW_SHARED_DIR.
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
[ -n "${PSW_SHARED_DIR:-}" ] || { echo "skip: PSW_SHARED_DIR is not set"; exit 77; }
src="$PSW_SHARED_DIR/data/models/stories260K"
[ -f "$src/stories260K.bin" ] || { echo "FAIL: $src/stories260K.bin missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PSW_CLI" convert llama2c "$src/stories260K.bin" "$tmp/model" >/dev/null || { echo "FAIL: convert"; exit 1; }
steps=$(python3 -I -c 'import json,sys; print(json.load(open(sys.argv[1]))["max_steps"])' "$src/expected_greedy_t0.json")
"$PSW_CLI" generate "$tmp/model" --ids 1 --steps "$steps" --stop-id 1 --json > "$tmp/out.json" ||
    { echo "FAIL: generate exited $?"; exit 1; }
python3 -I - "$tmp/out.json" "$src/expected_greedy_t0.json" <<'PY'
import json, sys
got = json.load(open(sys.argv[1]))
want = json.load(open(sys.argv[2]))
g, w = got["generated_ids"], want["generated_ids"]
bad = 0
if g != w:
    n = next((i for i in range(min(len(g), len(w))) if g[i] != w[i]), min(len(g), len(w)))
    print(f"FAIL: generated ids differ at step {n} (got {len(g)} ids, want {len(w)}): "
          f"got {g[n:n+5]} want {w[n:n+5]}")
    bad = 1
else:
    print(f"ok: all {len(g)} greedy ids match")
for a, b in zip(got["steps"][0]["top5"], want["step0_top5"]):
    if a["id"] != b["id"] or abs(a["logit"] - b["logit"]) > 1e-4 * abs(b["logit"]) + 1e-5:
        print(f"FAIL: step-0 top5 got {a} want {b}")
        bad = 1
if not bad:
    print("ok: step-0 top-5 ids and logits match", [(a["id"], round(a["logit"], 5)) for a in got["steps"][0]["top5"]])
sys.exit(bad)
PY
