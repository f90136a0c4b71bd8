#!/usr/bin/env bash
# test_world_tokenizer.sh: the tokenizer.json that `prunesweep make-world` trains gives the same
# ids in our encoder (`prunesweep tokenize`) and in HuggingFace tokenizers (hf_tokenize.js,
# @anush008/tokenizers) on the world's whole corpus, on every line of its three JSONL splits, and
# on the dev questions as multiple-choice prompts joined by <|endoftext|>. Our ids decode back to
# the corpus byte for byte, and " A" .. " E" are the single tokens 256..260.
# Skips (77) when PSW_CLI, node or tests/tokenizer/node_modules is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ -n "${PSW_CLI:-}" ] || { echo "skip: PSW_CLI is not set"; exit 77; }
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
[ -d "$here/node_modules/@anush008/tokenizers" ] ||
  { echo "skip: run 'npm ci' in tests/tokenizer for HF tokenizers"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
w=$tmp/w
"$PSW_CLI" make-world "$w" --seed 11 --entities 30 --train 400 --dev 100 --test 100 \
  --vocab 700 2>"$tmp/make.log" || { cat "$tmp/make.log"; echo "FAIL: make-world"; exit 1; }
tok=$w/tokenizer.json

compare() { # name, args...; stdin file in $input
  local name=$1; shift
  "$PSW_CLI" tokenize "$tok" "$@" <"$input" >"$tmp/c.ids"
  node "$here/hf_tokenize.js" "$tok" "$@" <"$input" >"$tmp/hf.ids"
  if cmp -s "$tmp/c.ids" "$tmp/hf.ids"; then
    echo "ok: $name: $(wc -w <"$tmp/c.ids") ids identical to HF tokenizers"
  else
    echo "FAIL: $name: ids differ from HF tokenizers; first differing line:"
    diff <(tr ' ' '\n' <"$tmp/c.ids") <(tr ' ' '\n' <"$tmp/hf.ids") | head -5
    fail=1
  fi
}

input=$w/corpus.txt
compare "corpus.txt (whole)" --whole
cp "$tmp/c.ids" "$tmp/corpus.ids"
for split in train dev test; do
  input=$w/$split.jsonl
  compare "$split.jsonl (per line)"
done

# Dev questions as prompts, each preceded by <|endoftext|>, in one text.
node -e '
const fs = require("fs");
let out = "";
for (const line of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
  if (!line) continue;
  const q = JSON.parse(line);
  out += "<|endoftext|>Question: " + q.question.stem;
  for (const c of q.question.choices) out += "\n " + c.label + ". " + c.text;
  out += "\nAnswer: " + q.answerKey;
}
fs.writeFileSync(process.argv[2], out);
' "$w/dev.jsonl" "$tmp/prompts.txt"
input=$tmp/prompts.txt
compare "dev prompts with <|endoftext|> (whole)" --whole
eot=$(tr ' ' '\n' <"$tmp/c.ids" | grep -cx 698 || true)
if [ "$eot" -eq 100 ]; then echo "ok: <|endoftext|> is id 698, 100 times"
else echo "FAIL: <|endoftext|> (id 698) found $eot times, want 100"; fail=1; fi

# Our ids decode back to the corpus exactly.
"$PSW_CLI" tokenize "$tok" --decode --whole <"$tmp/corpus.ids" >"$tmp/decoded.txt"
if cmp -s "$tmp/decoded.txt" "$w/corpus.txt"; then echo "ok: corpus decodes back byte for byte"
else echo "FAIL: decoded corpus differs"; cmp "$tmp/decoded.txt" "$w/corpus.txt" | head -2; fail=1; fi

# The answer letters are single tokens, the first merges.
got=$(printf ' A\n B\n C\n D\n E\n' | "$PSW_CLI" tokenize "$tok" | tr '\n' ' ')
if [ "$got" = "256 257 258 259 260 " ]; then echo "ok: \" A\"..\" E\" are ids 256..260"
else echo "FAIL: \" A\"..\" E\" encode to '$got', want '256 257 258 259 260 '"; fail=1; fi

exit $fail
