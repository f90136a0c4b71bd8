#!/usr/bin/env bash
# The main job: the default sweep end to end on a fresh machine.
#   1. installs the Debian packages (tests/deps.sh), builds prunesweep;
#   2. builds the embedded default (synthetic world, tokenizer, tiny OLMo2 teacher) if missing;
#   3. runs experiments/default.json with mpirun (1 coordinator + 2 workers);
#   4. prints the status table and the summary, and writes the figures to out/figures/.
# Rerunning resumes: finished configurations are skipped. PSW_NP overrides the rank count.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$(nproc)"
bin="$root/build/prunesweep"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

"$bin" prepare-default
mkdir -p "$root/out"
np=${PSW_NP:-3}
set +e
mpirun -np "$np" --oversubscribe "$bin" run "$root/experiments/default.json"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "run_default: the sweep exited with $rc (3 = stopped early; rerun to resume)" >&2
  exit "$rc"
fi
"$bin" status "$root/out/default.h5"
/usr/bin/python3 "$root/analysis/summary.py" "$root/out/default.h5"
/usr/bin/python3 "$root/analysis/plot.py" "$root/out/default.h5" --out "$root/out/figures"
echo "figures: $root/out/figures"
