#!/usr/bin/env bash
# The evaluation metrics against an independent numpy implementation: test_metrics --dump writes
# random cases (logits, letters, gold, C probabilities and metrics); tests/reference/metrics_ref.py
# recomputes everything and compares within 1e-12 (bin counts exactly).
set -euo pipefail
py=/usr/bin/python3
if ! "$py" -c 'import numpy' 2>/dev/null; then
    echo "skipped: $py cannot import numpy"
    exit 77
fi
bin="${PSW_BINARY_DIR:?}/tests/test_metrics"
[ -x "$bin" ] || { echo "missing $bin (build the tests first)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --dump "$tmp/cases.json"
"$py" "${PSW_SOURCE_DIR:?}/tests/reference/metrics_ref.py" "$tmp/cases.json"
