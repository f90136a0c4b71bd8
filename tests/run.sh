#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds twice (Release, and ASan+UBSan for the
# MPI-free tests), and runs ctest. Exit code is the verdict.
# PSW_SHARED_DIR (optional) points to the shared data folder for the tests that use real data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
jobs=$(nproc)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DPSW_WERROR=ON >/dev/null
cmake --build "$root/build" -j "$jobs"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

# Sanitizer build: every test except those that start MPI (labels mpi, examples: Open MPI's own allocations
# are reported as leaks by LSan, so only MPI-free code runs under ASan+UBSan).
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPSW_WERROR=ON \
      -DPSW_SANITIZE=address,undefined >/dev/null
cmake --build "$root/build-asan" -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs" -LE 'mpi|examples'
