#!/usr/bin/env bash
# bench.sh: encode throughput (MB/s of UTF-8 input) of prunesweep's tokenizer against
# HuggingFace tokenizers (Rust, through the @anush008/tokenizers node binding), one thread each,
# on the same text. Reports the median of RUNS runs; times cover encoding only (no file load,
# no I/O), as printed by `prunesweep tokenize --time` and tests/tokenizer/hf_tokenize.js --time.
#   bash bench/tokenizer/bench.sh [PRUNESWEEP_BINARY]      (env RUNS, default 5)
# Text: every CSQA train question stem and choice text, one per line (needs PSW_SHARED_DIR),
# otherwise tests/tokenizer/adversarial.txt repeated to about 3 MB. Two modes: "lines" encodes each
# line with its own call (short texts, like prompts), "whole" encodes the text in one call.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cli=${1:-$root/build/prunesweep}
runs=${RUNS:-5}
[ -x "$cli" ] || { echo "bench.sh: no prunesweep binary at $cli (build first)" >&2; exit 1; }
export PSW_CLI=$cli PSW_SOURCE_DIR=$root RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
source "$root/tests/tokenizer/lib.sh" # installs the node packages, defines CL100K LLAMA3 OLMO2
if [ -n "${PSW_SHARED_DIR:-}" ]; then
  node -e '
    const fs = require("fs"); const out = [];
    for (const l of fs.readFileSync(process.argv[1], "utf8").split("\n")) {
      if (!l.trim()) continue;
      const q = JSON.parse(l).question;
      out.push(q.stem, ...q.choices.map((c) => c.text));
    }
    fs.writeFileSync("/dev/stdout", out.join("\n") + "\n");' "$PSW_SHARED_DIR/data/csqa/train_rand_split.jsonl" > "$work/text"
  what="CSQA train stems and choices"
else
  for _ in $(seq 400); do cat "$root/tests/tokenizer/adversarial.txt"; done > "$work/text"
  what="tests/tokenizer/adversarial.txt x400"
fi
bytes=$(wc -c < "$work/text")
lines=$(wc -l < "$work/text")
echo "text: $what, $bytes bytes, $lines lines; median of $runs runs; MB/s = 1e6 bytes/s"
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
rate() { sed -n 's/.*(\([0-9.]*\) MB\/s).*/\1/p'; }
printf '%-8s %-6s %12s %12s %8s\n' tokenizer mode "ours MB/s" "HF MB/s" ratio
for tok in $OLMO2 "$CL100K" "$LLAMA3"; do
  case "$tok" in
    "$OLMO2") name=olmo2 ;;
    "$CL100K") name=cl100k ;;
    *) name=llama3 ;;
  esac
  for mode in lines whole; do
    flag=""
    [ "$mode" = whole ] && flag=--whole
    ours=$(for _ in $(seq "$runs"); do "$cli" tokenize "$tok" $flag --time < "$work/text" 2>&1 >/dev/null | rate; done | median)
    hf=$(for _ in $(seq "$runs"); do node "$tokdir/hf_tokenize.js" "$tok" $flag --time < "$work/text" 2>&1 >/dev/null | rate; done | median)
    printf '%-8s %-6s %12.2f %12.2f %7.1fx\n' "$name" "$mode" "$ours" "$hf" "$(echo "$ours / $hf" | bc -l)"
  done
done
