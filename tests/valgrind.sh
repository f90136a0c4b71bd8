#!/usr/bin/env bash
# valgrind.sh [--ci] [CTEST_ARGS...]: the MPI-free test suite under valgrind memcheck.
#
# Builds build-valgrind (RelWithDebInfo, no sanitizers), lists the tests with ctest (default
# selection: -LE mpi; extra arguments are passed to ctest, e.g. -R 'unit\.' or -L cli) and runs
# each one itself: a C test runs under valgrind; a shell test runs with PSW_CLI pointing to a
# wrapper that runs prunesweep under valgrind. Every valgrind process writes its own log
# (--log-file=.../%p.log), so the tests still see the CLI's exact stderr. Afterwards every log is
# checked: any memcheck error, or a definite/indirect leak, fails the run (possible leaks and
# still-reachable memory are reported by OpenBLAS's and libgomp's thread pools and are not
# errors). Known library noise is in tests/valgrind.supp.
#
# Env: PSW_VALGRIND_BUILD (build dir, default <repo>/build-valgrind), PSW_VALGRIND_JOBS
# (parallel tests, default nproc), PSW_VALGRIND_TIMEOUT (seconds per test, default 1800).
# Exit 0 = every selected test passed with clean logs. Prints the time each test took.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${PSW_VALGRIND_BUILD:-$root/build-valgrind}
jobs=${PSW_VALGRIND_JOBS:-$(nproc)}
timeout_s=${PSW_VALGRIND_TIMEOUT:-1800}
PY=/usr/bin/python3
command -v valgrind > /dev/null || { echo "valgrind.sh: valgrind is not installed"; exit 77; }

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSW_WERROR=ON -DPSW_SANITIZE= \
    > /dev/null || exit 1
cmake --build "$build" -j "$jobs" > "$build/valgrind-build.log" 2>&1 ||
    { tail -20 "$build/valgrind-build.log"; exit 1; }

out="$build/valgrind"
rm -rf "$out"
mkdir -p "$out/logs"
vg=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=30
    --suppressions="$root/tests/valgrind.supp")
# Open MPI ships suppressions for its own allocations (`prunesweep run` starts MPI).
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && vg+=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
# The wrapper the shell tests get as PSW_CLI; logs go to the directory of the test running it.
cat > "$out/prunesweep-vg" <<WRAP
#!/bin/sh
exec ${vg[*]} --log-file="\${PSW_VG_LOGDIR:?}/cli.%p.log" "$build/prunesweep" "\$@"
WRAP
chmod +x "$out/prunesweep-vg"

# --ci: the subset that fits a CI budget (a few minutes on 2 cores): everything MPI-free except
# the tests whose BLAS-heavy training, many model loads or 256 decoding steps (stories260k) take
# minutes each under valgrind.
if [ "${1:-}" = "--ci" ]; then
    shift
    set -- -LE 'mpi|examples' -E 'test_recover$|test_recover_cli|test_plan$|test_gradcheck|test_evaluate|test_convert|test_make_world|test_validate|test_cli_tokenize|test_hf_|test_world_tokenizer|test_errors_catalogue|test_stories260k|test_threads' "$@"
fi
if [ $# -eq 0 ]; then set -- -LE 'mpi|examples'; fi
ctest --test-dir "$build" --show-only=json-v1 "$@" > "$out/tests.json" || exit 1
# One line per test: name <TAB> cwd <TAB> skip code <TAB> env (\x1f-separated) <TAB> command (\x1f).
$PY - "$out/tests.json" > "$out/tests.tsv" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1]))["tests"]:
    p = {x["name"]: x["value"] for x in t.get("properties", [])}
    print("\t".join([t["name"], p.get("WORKING_DIRECTORY", "."), str(p.get("SKIP_RETURN_CODE", 77)),
                     "\x1f".join(p.get("ENVIRONMENT", [])), "\x1f".join(t["command"])]))
PY

run_one() { # run_one LINE: runs one test, prints "name verdict seconds"
    local name cwd skip envs cmd
    IFS=$'\t' read -r name cwd skip envs cmd <<< "$1"
    local logdir="$out/logs/$name"
    mkdir -p "$logdir"
    local -a env_args cmd_args
    IFS=$'\x1f' read -r -a env_args <<< "$envs"
    IFS=$'\x1f' read -r -a cmd_args <<< "$cmd"
    env_args+=("PSW_CLI=$out/prunesweep-vg" "PSW_VG_LOGDIR=$logdir")
    case "${cmd_args[0]}" in
        */bash | */sh) ;;
        *) cmd_args=($vg_cmd "--log-file=$logdir/test.%p.log" "${cmd_args[@]}") ;;
    esac
    local t0 rc=0
    t0=$(date +%s.%N)
    (cd "$cwd" && env "${env_args[@]}" timeout "$timeout_s" "${cmd_args[@]}") \
        > "$logdir/output.txt" 2>&1 || rc=$?
    local secs
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    local verdict=pass
    if [ "$rc" -eq "$skip" ]; then verdict=skip
    elif [ "$rc" -eq 124 ]; then verdict="FAIL(timeout)"
    elif [ "$rc" -ne 0 ]; then verdict="FAIL(exit $rc)"; fi
    # A process killed by a signal (the kill tests SIGKILL writers on purpose) leaves a log
    # without a summary: counted, not an error.
    local bad killed
    bad=$(grep -l 'ERROR SUMMARY: [1-9]' "$logdir"/*.log 2> /dev/null | wc -l)
    killed=$(grep -L 'ERROR SUMMARY: ' "$logdir"/*.log 2> /dev/null | wc -l)
    [ "$bad" -eq 0 ] || verdict="FAIL($bad valgrind logs with errors)"
    printf '%-40s %-32s %7.1f s  %s valgrind runs (%s killed)\n' "$name" "$verdict" "$secs" \
        "$(ls "$logdir"/*.log 2> /dev/null | wc -l)" "$killed"
}
export -f run_one
vg_cmd="${vg[*]}" # a string: arrays do not cross into the xargs shells (no spaces in paths)
export out vg_cmd timeout_s

t0=$(date +%s)
tr '\n' '\0' < "$out/tests.tsv" | xargs -0 -P "$jobs" -I{} bash -c 'run_one "$1"' _ {} |
    tee "$out/summary.txt"
echo "total wall time: $(( $(date +%s) - t0 )) s with $jobs parallel tests; logs in $out/logs"
if grep -q 'FAIL' "$out/summary.txt"; then
    echo "valgrind.sh: FAILED:"
    grep FAIL "$out/summary.txt"
    for f in $(grep -l 'ERROR SUMMARY: [1-9]' "$out"/logs/*/*.log 2> /dev/null); do
        echo "== $f"; grep -E '^==[0-9]+== (Invalid|Conditional|.*definitely|.*indirectly|   (at|by) )' "$f" | head -30
    done
    exit 1
fi
echo "valgrind.sh: all clean"
