#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...]: configures a clang libFuzzer build (ASan + UBSan) in
# build-fuzz (or $PSW_FUZZ_BUILD_DIR), builds the harnesses and runs each target (all by default)
# for SECONDS, starting from the committed seeds in tests/fuzz/corpus/<target> (with the
# libFuzzer dictionary tests/fuzz/dict/<target>.dict). New inputs go to
# BUILD/fuzz-corpus/<target>, crash inputs to BUILD/fuzz-artifacts/. Prints one summary line per
# target (executions, exec/s, coverage) and exits 1 when any target crashed, leaked, timed out or
# ran out of memory. Add a crash input to tests/fuzz/regressions/<target>/ once it is fixed.
set -euo pipefail

usage() { echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2; }
[[ $# -ge 1 && $1 =~ ^[0-9]+$ && $1 -gt 0 ]] || usage
secs=$1
shift
all=(safetensors st_index checkpoint config tokenizer_load tokenizer_encode csqa spec)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "$0: unknown target $t (one of: ${all[*]})" >&2; exit 2; }
done

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${PSW_FUZZ_BUILD_DIR:-$src/build-fuzz}
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DPSW_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 ||
    { cat "$build/fuzz-configure.log" >&2; echo "$0: configure failed" >&2; exit 1; }
cmake --build "$build" -j"${PSW_FUZZ_JOBS:-2}" --target "${targets[@]/#/fuzz_}" >"$build/fuzz-build.log" 2>&1 ||
    { tail -50 "$build/fuzz-build.log" >&2; echo "$0: build failed" >&2; exit 1; }

mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
printf '%-18s %10s %8s %8s %8s %8s  %s\n' target execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
    corpus="$build/fuzz-corpus/$t"
    log="$build/fuzz-logs/$t.log"
    mkdir -p "$corpus"
    dict=()
    [[ -f $src/tests/fuzz/dict/$t.dict ]] && dict=(-dict="$src/tests/fuzz/dict/$t.dict")
    rc=0
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" "${dict[@]}" \
        "$corpus" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [[ $rc -ne 0 ]]; then
        result="FAILED (exit $rc, log $log)"
        failed+=("$t")
    fi
    printf '%-18s %10s %8s %8s %8s %8s  %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" \
        "${ft:--}" "${corp:--}" "$result"
    if [[ $rc -ne 0 ]]; then
        { grep -E 'runtime error|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer|invariant violated|SUMMARY|Test unit written' "$log" | head -8
          grep -m 8 -E '^    #[0-9]+ ' "$log"; } >&2 || true
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "$0: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
    exit 1
fi
