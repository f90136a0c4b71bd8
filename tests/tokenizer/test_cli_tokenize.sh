#!/usr/bin/env bash
# `prunesweep tokenize`: usage and runtime errors (exit codes 2 and 1, one error line naming
# the problem), the invalid-UTF-8 policy (rejected with the byte offset, docs/tokenizer.md),
# empty lines, and a few ids known from tiktoken's cl100k_base.
source "$(dirname "$0")/lib.sh"

# expect NAME WANT_EXIT NEEDLE -- command...   (stdin from $input)
expect() {
  local name=$1 want=$2 needle=$3
  shift 4
  local rc=0
  "$@" < "$input" > "$work/out" 2> "$work/err" || rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qF -- "$needle" "$work/err"; then
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc (want $want), stderr: $(cat "$work/err")" >&2
  else
    passed=$((passed + 1))
  fi
}
input="$work/in"

printf 'fine\nab\xffcd\n' > "$input"
expect "invalid byte, lines" 1 "stdin line 2: tokenizer: input is not valid UTF-8 at byte offset 2 (byte 0xff)" -- "$PSW_CLI" tokenize "$CL100K"
printf 'abc\xc3' > "$input"
expect "truncated sequence, whole" 1 "stdin: tokenizer: input is not valid UTF-8 at byte offset 3 (byte 0xc3)" -- "$PSW_CLI" tokenize "$CL100K" --whole
printf 'x\xc0\xaf' > "$input"
expect "overlong" 1 "byte offset 1 (byte 0xc0)" -- "$PSW_CLI" tokenize "$CL100K" --whole
printf 'xy\xed\xa0\x80' > "$input"
expect "surrogate" 1 "byte offset 2 (byte 0xed)" -- "$PSW_CLI" tokenize "$CL100K" --whole
printf 'x\xf4\x90\x80\x80' > "$input"
expect "above U+10FFFF" 1 "byte offset 1 (byte 0xf4)" -- "$PSW_CLI" tokenize "$CL100K" --whole

printf 'hi\n' > "$input"
expect "unknown option" 2 "tokenize: unknown option '--bogus'" -- "$PSW_CLI" tokenize "$CL100K" --bogus
expect "missing file argument" 2 "tokenize: missing TOKENIZER.json" -- "$PSW_CLI" tokenize
expect "two files" 2 "more than one tokenizer file" -- "$PSW_CLI" tokenize "$CL100K" "$LLAMA3"
expect "nonexistent file" 1 "$work/nope.json" -- "$PSW_CLI" tokenize "$work/nope.json"
printf '{"model": ' > "$work/broken.json"
expect "broken JSON" 1 "broken.json: not valid JSON" -- "$PSW_CLI" tokenize "$work/broken.json"
printf '64 999999\n' > "$input"
expect "decode unknown id" 1 "stdin line 1: tokenizer: id 999999 (position 1) is not in the vocabulary" -- "$PSW_CLI" tokenize "$CL100K" --decode
printf '64 x\n' > "$input"
expect "decode not a number" 1 "stdin line 1: expected space-separated ids" -- "$PSW_CLI" tokenize "$CL100K" --decode
printf '100261\n' > "$input"
expect "decode id in a vocabulary hole" 1 "id 100261 (position 0) is not in the vocabulary" -- "$PSW_CLI" tokenize "$CL100K" --decode

# Known cl100k_base ids (tiktoken): "Hello world" -> 9906 1917, "<|endoftext|>" -> 100257;
# empty lines give empty lines.
printf 'Hello world\n\n<|endoftext|>\n' | "$PSW_CLI" tokenize "$CL100K" > "$work/out"
printf '9906 1917\n\n100257\n' > "$work/want"
check "known ids" "$work/out" "$work/want"
printf '9906 1917 100257\n' | "$PSW_CLI" tokenize "$CL100K" --decode --whole > "$work/out"
printf 'Hello world<|endoftext|>' > "$work/want"
check "decode whole" "$work/out" "$work/want"
finish
