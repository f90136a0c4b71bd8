#!/usr/bin/env bash
# test_usage.sh: every subcommand's usage handling. `CMD --help` exits 0 with the usage on stdout
# (one "usage: " prefix, nothing on stderr); an unknown option exits 2 with exactly one line,
# "prunesweep: error: CMD: ...", on stderr and nothing on stdout; so does a missing argument,
# for the commands that need one.
set -u
P="${PSW_CLI:?PSW_CLI is not set}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

# usage_error NAME CMD [ARGS...]: `prunesweep CMD ARGS` exits 2 with one error line naming CMD
# and an empty stdout.
usage_error() {
    local name=$1 cmd=$2 rc=0
    shift 2
    "$P" "$cmd" "$@" > out 2> err < /dev/null || rc=$?
    local n
    n=$(wc -l < err)
    if [ "$rc" -eq 2 ] && [ "$n" -eq 1 ] && grep -q "^prunesweep: error: $cmd: " err && [ ! -s out ]; then
        ok "$name"
    else
        bad "$name: exit $rc, $n stderr lines: $(head -c 300 err); stdout: $(head -c 100 out)"
    fi
}

for cmd in tokenize info convert generate prune eval recover prepare-default make-world validate \
           run status plan; do
    rc=0
    "$P" "$cmd" --help > out 2> err < /dev/null || rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s err ] && grep -q "^usage: .*prunesweep $cmd" out &&
        ! grep -q "usage: usage" out; then
        ok "$cmd --help"
    else
        bad "$cmd --help: exit $rc; stdout: $(head -c 200 out); stderr: $(head -c 200 err)"
    fi
    usage_error "$cmd: unknown option" "$cmd" --no-such-option
done
for cmd in tokenize info convert generate prune eval recover make-world validate run status plan; do
    usage_error "$cmd: missing argument" "$cmd"
done

[ "$fails" -eq 0 ] && echo "PASS" || echo "$fails FAILED"
[ "$fails" -eq 0 ]
