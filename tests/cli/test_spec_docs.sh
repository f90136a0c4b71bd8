#!/usr/bin/env bash
# test_spec_docs.sh: experiments/README.md documents exactly the keys the spec parser accepts
# (`prunesweep validate --list-keys`, generated from the parser's own key tables), and its example
# spec is valid with the grid size the README states.
set -u
: "${PSW_CLI:?PSW_CLI must point at the prunesweep binary}"
: "${PSW_SOURCE_DIR:?PSW_SOURCE_DIR must point at the repository}"
readme="$PSW_SOURCE_DIR/experiments/README.md"
fail=0

keys=$("$PSW_CLI" validate --list-keys) || { echo "FAIL: validate --list-keys exited $?"; exit 1; }
n=$(printf '%s\n' "$keys" | wc -l)
if [ "$n" -lt 50 ]; then echo "FAIL: only $n keys listed"; fail=1; fi

# 1. Every accepted key has a table row "| `key` |" in the README.
while IFS= read -r k; do
    if ! grep -qF "| \`$k\` |" "$readme"; then
        echo "FAIL: key '$k' is accepted by the parser but has no row in experiments/README.md"
        fail=1
    fi
done <<< "$keys"

# 2. Every documented key row names a key the parser accepts.
documented=$(grep -oE '^\| `[^`]+` \|' "$readme" | sed -E 's/^\| `([^`]+)` \|$/\1/')
nd=0
while IFS= read -r k; do
    nd=$((nd + 1))
    if ! printf '%s\n' "$keys" | grep -qxF "$k"; then
        echo "FAIL: experiments/README.md documents '$k', which the parser does not accept"
        fail=1
    fi
done <<< "$documented"
if [ "$nd" -ne "$n" ]; then echo "FAIL: $nd documented rows for $n keys"; fail=1; fi

# 3. The README's example is a valid spec and has the grid size the README states.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^## Example/{f=1} f && /^```json/{g=1; next} g && /^```/{exit} g{print}' "$readme" \
    > "$tmp/example.json"
if [ ! -s "$tmp/example.json" ]; then echo "FAIL: no example found"; fail=1; fi
out=$("$PSW_CLI" validate "$tmp/example.json" 2>&1)
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL: the README example is invalid (exit $rc): $out"; fail=1; fi
if ! printf '%s\n' "$out" | grep -qF "grid: 66 configurations (4 retention x 2 loss x 3 data_size x 3 seed = 72, 6 excluded by 1 rules)"; then
    echo "FAIL: unexpected grid line for the README example:"; printf '%s\n' "$out"; fail=1
fi
if ! grep -qF "4 × 2 × 3 × 3 = 72 configurations" "$readme" || ! grep -qF "leaving 66" "$readme"; then
    echo "FAIL: the README no longer states the example's grid size"; fail=1
fi

[ $fail -eq 0 ] && echo "ok: $n keys documented, README example valid"
exit $fail
