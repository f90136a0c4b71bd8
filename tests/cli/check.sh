# check.sh (sourced by the CLI tests).
# check NAME WANT_RC WANT_SUBSTRING CMD...: runs CMD; its exit status must be WANT_RC and its
# output (stdout and stderr) must contain WANT_SUBSTRING. Prints "ok NAME", or "FAIL ..." and
# sets fail=1 (the caller exits with it at the end).
check() {
    local name=$1 want_rc=$2 want=$3; shift 3
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ $rc -ne "$want_rc" ]; then echo "FAIL $name: exit $rc, want $want_rc: $out"; fail=1; return; fi
    if ! printf '%s\n' "$out" | grep -qF -- "$want"; then
        echo "FAIL $name: output lacks '$want':"; printf '%s\n' "$out"; fail=1; return
    fi
    echo "ok $name"
}
