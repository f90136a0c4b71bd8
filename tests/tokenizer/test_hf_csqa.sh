#!/usr/bin/env bash
# Ids of `prunesweep tokenize` against HuggingFace tokenizers on every question stem and choice
# text of CommonsenseQA train, dev and test (each alone, and with a leading space as they follow
# "A." in a prompt), for OLMo2, cl100k and Llama 3 line by line, and for OLMo2 also as one text.
# Needs the shared data: skipped without PSW_SHARED_DIR.
[ -n "${PSW_SHARED_DIR:-}" ] || { echo "skipped: PSW_SHARED_DIR is not set"; exit 77; }
source "$(dirname "$0")/lib.sh"
csqa="$PSW_SHARED_DIR/data/csqa"
node -e '
const fs = require("fs");
const out = [];
for (const f of process.argv.slice(1)) {
  for (const line of fs.readFileSync(f, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const q = JSON.parse(line).question;
    for (const s of [q.stem, ...q.choices.map((c) => c.text)]) {
      if (/\n/.test(s)) throw new Error(f + ": a string contains a newline");
      out.push(s, " " + s);
    }
  }
}
fs.writeFileSync("/dev/stdout", out.join("\n") + "\n");
' "$csqa/train_rand_split.jsonl" "$csqa/dev_rand_split.jsonl" "$csqa/test_rand_split_no_answers.jsonl" > "$work/csqa.txt"
n=$(wc -l < "$work/csqa.txt")
[ "$n" -gt 140000 ] || fail "expected over 140000 CSQA strings, got $n"
echo "CSQA strings (each also with a leading space): $n lines"
for tok in "$OLMO2" "$CL100K" "$LLAMA3"; do
  "$PSW_CLI" tokenize "$tok" < "$work/csqa.txt" > "$work/ours.lines"
  $HF "$tok" < "$work/csqa.txt" > "$work/hf.lines"
  check "$tok lines" "$work/ours.lines" "$work/hf.lines"
  [ "$tok" = "$OLMO2" ] || continue
  "$PSW_CLI" tokenize "$tok" --whole < "$work/csqa.txt" > "$work/ours.whole"
  $HF "$tok" --whole < "$work/csqa.txt" > "$work/hf.whole"
  check "$tok whole" "$work/ours.whole" "$work/hf.whole"
done
finish
