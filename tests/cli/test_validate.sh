#!/usr/bin/env bash
# test_validate.sh: `prunesweep validate` output, exit codes (0 valid, 2 invalid or usage,
# 1 unreadable) and one-line error messages.
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
. "$(dirname "$0")/check.sh"

mkdir -p "$tmp/exp"
cat > "$tmp/exp/s.json" <<'JSON'
{
  "model": {"path": "../m"},
  "data": {"train": "tr.jsonl", "test": "te.jsonl"},
  "prompt": {"shots": 2},
  "training": {"epochs": 3},
  "grid": {"retention": [1, 0.5, 0.25], "loss": ["ce", "kl"], "data_size": [10, 100],
           "seed": [0, 1], "exclude": [{"retention": 1, "loss": "kl"}]}
}
JSON
check valid 0 "grid: 20 configurations (3 retention x 2 loss x 2 data_size x 2 seed = 24, 4 excluded by 1 rules)" \
    "$PSW_CLI" validate "$tmp/exp/s.json"
out=$("$PSW_CLI" validate "$tmp/exp/s.json")
# Hand-computed: 20 configs, data_size 10 or 100 in 10 each, 3 epochs -> 3300 examples;
# (2 shots + 1) x 45 = 135 tokens per example -> 445500 tokens.
for want in "  retention: 1, 0.5, 0.25" "  loss: ce, kl" "  data_size: 10, 100" "  seed: 0, 1" \
    "prompt tokens per example: ~135" "training examples: 3300 in total" \
    "training tokens: 445500 in total" "model: $tmp/exp/../m" "output: $tmp/exp/s.h5" \
    "an estimate, not a measurement"; do
    printf '%s\n' "$out" | grep -qF -- "$want" || { echo "FAIL valid output lacks '$want'"; fail=1; }
done
check normalized 0 '"warmup_ratio":	0.1' "$PSW_CLI" validate --normalized "$tmp/exp/s.json"

printf '{"grid": {"retention": [0.5, 1.5], "data_size": [1]}, "model": {"path": "default"}}' > "$tmp/bad.json"
check invalid 2 "prunesweep: error: $tmp/bad.json: grid.retention[1]: 1.5 is outside (0, 1]" \
    "$PSW_CLI" validate "$tmp/bad.json"
n=$("$PSW_CLI" validate "$tmp/bad.json" 2>&1 | wc -l)
[ "$n" -eq 1 ] || { echo "FAIL invalid: $n lines of output, want 1"; fail=1; }
printf '{"model": ' > "$tmp/trunc.json"
check malformed 2 "$tmp/trunc.json: malformed JSON" "$PSW_CLI" validate "$tmp/trunc.json"
printf '{"model": {"path": "default"}}' > "$tmp/nogrid.json"
check missing_grid 2 "nogrid.json: grid: missing (required for run)" "$PSW_CLI" validate "$tmp/nogrid.json"
check unreadable 1 "nope.json: cannot open" "$PSW_CLI" validate "$tmp/nope.json"
check directory 1 "is a directory" "$PSW_CLI" validate "$tmp/exp"
printf '{"training": {"lr": 0.001}}' > "$tmp/rec.json"
check recover_ok 0 "grid: none" "$PSW_CLI" validate --recover "$tmp/rec.json"
check recover_needs_grid_for_run 2 "model.path: missing (required for run)" "$PSW_CLI" validate "$tmp/rec.json"
check unknown_flag 2 "validate: unknown option '--frob'" "$PSW_CLI" validate --frob "$tmp/rec.json"
check no_spec 2 "validate: missing SPEC.json" "$PSW_CLI" validate
check two_specs 2 "more than one spec" "$PSW_CLI" validate "$tmp/rec.json" "$tmp/bad.json"
check list_keys 0 "grid.exclude[].seed" "$PSW_CLI" validate --list-keys
check list_keys_extra 2 "--list-keys takes no other arguments" "$PSW_CLI" validate --list-keys x
exit $fail
