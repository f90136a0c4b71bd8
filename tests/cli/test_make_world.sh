#!/usr/bin/env bash
# test_make_world.sh: `prunesweep make-world`: the six files, byte-identical for the same seed,
# different for another seed or size, progress on stderr, and its usage/runtime errors
# (exit 2 / 1 with one "prunesweep: error:" line).
set -uo pipefail
[ -n "${PSW_CLI:-}" ] || { echo "skip: PSW_CLI is not set"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
files="train.jsonl dev.jsonl test.jsonl corpus.txt tokenizer.json world.json"
small="--entities 12 --train 200 --dev 30 --test 30 --vocab 400"

run() { "$PSW_CLI" make-world "$@" >"$tmp/out" 2>"$tmp/err"; }

run "$tmp/a" --seed 4 $small || { cat "$tmp/err"; echo "FAIL: make-world a"; exit 1; }
grep -q "make-world: seed 4: 12 entities, 60 facts, 200/30/30 questions" "$tmp/err" ||
  { echo "FAIL: progress line missing from stderr"; cat "$tmp/err"; fail=1; }
run "$tmp/b" --seed 4 $small || { echo "FAIL: make-world b"; exit 1; }
run "$tmp/c" --seed 5 $small || { echo "FAIL: make-world c"; exit 1; }
run "$tmp/d" --seed 4 $small --facts-per-entity 4 || { echo "FAIL: make-world d"; exit 1; }
run "$tmp/f" --seed 4 $small --fixed-choices || { echo "FAIL: make-world f"; exit 1; }
grep -q '"fixed_choices":.*true' "$tmp/f/world.json" || { echo "FAIL: world.json lacks fixed_choices true"; fail=1; }
cmp -s "$tmp/a/dev.jsonl" "$tmp/f/dev.jsonl" && { echo "FAIL: --fixed-choices changes nothing"; fail=1; }
for f in $files; do
  [ -s "$tmp/a/$f" ] || { echo "FAIL: $f missing or empty"; fail=1; continue; }
  cmp -s "$tmp/a/$f" "$tmp/b/$f" || { echo "FAIL: $f differs for the same seed"; fail=1; }
done
for f in dev.jsonl corpus.txt; do
  cmp -s "$tmp/a/$f" "$tmp/c/$f" && { echo "FAIL: $f same for seeds 4 and 5"; fail=1; }
  cmp -s "$tmp/a/$f" "$tmp/d/$f" && { echo "FAIL: $f same for 5 and 4 facts per entity"; fail=1; }
done
[ "$(wc -l <"$tmp/a/dev.jsonl")" -eq 30 ] || { echo "FAIL: dev.jsonl has not 30 lines"; fail=1; }
[ "$(wc -l <"$tmp/d/train.jsonl")" -eq 200 ] || { echo "FAIL: train.jsonl has not 200 lines"; fail=1; }

expect() { # exit code, message substring, args...
  local code=$1 msg=$2; shift 2
  "$PSW_CLI" make-world "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne "$code" ] || ! grep -qF "prunesweep: error: $msg" "$tmp/err"; then
    echo "FAIL: make-world $* -> exit $rc, stderr: $(cat "$tmp/err"); want $code and '$msg'"
    fail=1
  fi
}
expect 2 "make-world: unknown option '--bogus'" "$tmp/e" --bogus 1
expect 2 "make-world: missing OUT_DIR" --seed 1
expect 2 "make-world: unexpected argument 'extra'" "$tmp/e" extra
expect 2 "make-world: --seed needs a value" "$tmp/e" --seed
expect 2 "make-world: --vocab: 'abc' is not a non-negative integer" "$tmp/e" --vocab abc
expect 2 "make-world: world: entities = 0, expected 1..2000" "$tmp/e" --entities 0
expect 2 "make-world: bpe training: vocab_size = 100 is below 263" "$tmp/e" $small --vocab 100
expect 1 "make-world: /dev/null/w: cannot create directory" /dev/null/w $small
[ -e "$tmp/e" ] && { echo "FAIL: a failed make-world left $tmp/e behind"; fail=1; }

"$PSW_CLI" make-world --help >"$tmp/out" 2>&1 && grep -q "usage: prunesweep make-world" "$tmp/out" ||
  { echo "FAIL: --help"; fail=1; }
[ $fail -eq 0 ] && echo "ok: make-world"
exit $fail
