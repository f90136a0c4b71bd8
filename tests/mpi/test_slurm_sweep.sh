#!/bin/bash
# slurm/sweep.sbatch on a real single-node SLURM cluster started here (munge, slurmctld, slurmd):
# the job runs a small real sweep with srun --mpi=pmix (1 worker + the coordinator), gets the
# time-limit signal (scancel --signal=USR1 --batch, what --signal=B:USR1@N delivers), forwards it,
# prunesweep stops with exit 3, the script requeues the job, the second run (SLURM_RESTART_COUNT
# 1) resumes and completes; the results file then holds every configuration exactly once, and
# analysis/summary.py reads it. Before it, slurm/prepare.sbatch builds the teacher cache as its
# own job, which the sweep then reuses. Skips (77) loudly only where SLURM is not installed.
set -u
. "$(dirname "$0")/slurm_cluster.sh"
slurm_require
if [ -z "${PSW_CLI:-}" ] || [ -z "${PSW_BINARY_DIR:-}" ] || [ -z "${PSW_SOURCE_DIR:-}" ]; then
    echo "skip: PSW_CLI, PSW_BINARY_DIR and PSW_SOURCE_DIR must be set (run through ctest)"
    exit 77
fi
PY=/usr/bin/python3
WORK=$(mktemp -d)
chmod 755 "$WORK" # munged (user munge) must reach its files below
cleanup() { slurm_stop; rm -rf "$WORK"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
rows_done() { local n; n=$(grep -c ' done (' "$WORK/job.out" 2>/dev/null); echo "${n:-0}"; }

slurm_start "$WORK/cluster" || exit 1
echo "ok   SLURM cluster up: $(sinfo -h -o '%P %t %c CPUs')"

# A small sweep: 12 configurations + 3 reference rows, ~0.5 s each with one worker.
"$PSW_CLI" make-world "$WORK/world" --entities 10 --train 64 --dev 16 --test 24 --vocab 300 \
    >/dev/null 2>&1 || fail "make-world"
"$PSW_BINARY_DIR/tests/psw_tiny_model" "$WORK/world/tokenizer.json" "$WORK/model" 7 >/dev/null \
    || fail "psw_tiny_model"
cat > "$WORK/slow.json" <<JSON
{
  "name": "slow",
  "model": {"path": "model"},
  "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 4, "eval_batch": 8, "lr": 1e-3, "epochs": 6},
  "grid": {"retention": [0.5, 0.75], "loss": ["ce", "kl"], "data_size": [64], "seed": [0, 1, 2]},
  "output": "slow.h5"
}
JSON

cd "$WORK"
export PSW_BIN="$PSW_CLI" PSW_GRACE=30

# slurm/prepare.sbatch through sbatch: validate, plan, then the teacher cache alone (no results
# file); the sweep job below then finds the cache and does not build it again.
pjob=$(sbatch --parsable --nodes=1 --ntasks=1 --cpus-per-task="$(nproc)" --time=30 \
       --output="$WORK/prep.out" "$PSW_SOURCE_DIR/slurm/prepare.sbatch" "$WORK/slow.json") \
    || fail "sbatch refused prepare.sbatch"
for _ in $(seq 600); do
    [ -z "$(squeue -h -j "$pjob" 2>/dev/null)" ] && break
    sleep 0.1
done
[ -z "$(squeue -h -j "$pjob" 2>/dev/null)" ] || { cat "$WORK/prep.out"; fail "prepare job still queued or running after 60 s"; }
grep -q '^grid: 12 configurations' "$WORK/prep.out" || { cat "$WORK/prep.out"; fail "prepare: no validate output"; }
grep -q 'fits; at most' "$WORK/prep.out" || { cat "$WORK/prep.out"; fail "prepare: no plan output"; }
grep -q 'sweep: teacher cache built in' "$WORK/prep.out" || { cat "$WORK/prep.out"; fail "prepare: cache not built"; }
ls "$WORK"/slow.h5.cache/teacher-*.bin > /dev/null 2>&1 || fail "prepare: no cache file"
[ ! -e "$WORK/slow.h5" ] || fail "prepare.sbatch created a results file"
echo "ok   prepare.sbatch (job $pjob): validated, planned, teacher cache built, no results file"
jobid=$(sbatch --parsable --nodes=1 --ntasks=1 --cpus-per-task="$(nproc)" --time=30 \
        --output="$WORK/job.out" "$PSW_SOURCE_DIR/slurm/sweep.sbatch" "$WORK/slow.json") \
    || fail "sbatch refused the script"
echo "ok   submitted job $jobid"

# --time=30: the script asks for USR1 600 s before the limit, so a shorter limit would signal at
# once. Wait until the sweep has written 2 rows, then deliver the time-limit signal to the batch script.
for _ in $(seq 600); do
    [ "$(rows_done)" -ge 2 ] && break
    sleep 0.1
done
[ "$(rows_done)" -ge 2 ] \
    || { cat "$WORK/job.out" 2>/dev/null; fail "no rows within 60 s"; }
scancel --signal=USR1 --batch "$jobid" || fail "scancel --signal=USR1 --batch"
echo "ok   sent USR1 to the batch script after 2 rows"

# The first run stops and requeues; the second completes.
for _ in $(seq 1200); do
    grep -q "sweep complete" "$WORK/job.out" 2>/dev/null && break
    sleep 0.1
done
for _ in $(seq 100); do
    [ -z "$(squeue -h -j "$jobid" 2>/dev/null)" ] && break
    sleep 0.1
done
out=$(cat "$WORK/job.out")
grep -q "sweep complete" <<<"$out" || { echo "$out"; fail "the job did not complete within 120 s"; }
grep -q "got SIGUSR1 .*forwarding SIGUSR1 to the sweep" <<<"$out" || { echo "$out"; fail "no forwarding message"; }
grep -q "prunesweep exited with 3" <<<"$out" || { echo "$out"; fail "the first run did not exit 3"; }
grep -q "stopped (resumable): scontrol requeue $jobid" <<<"$out" || { echo "$out"; fail "no requeue"; }
grep -q "job $jobid restart 1:" <<<"$out" || { echo "$out"; fail "no second run with SLURM_RESTART_COUNT 1"; }
grep -q "srun --mpi=pmix --ntasks=2" <<<"$out" || { echo "$out"; fail "not launched as 2 ranks by srun"; }
grep -q "after building the teacher cache" <<<"$out" && { echo "$out"; fail "the sweep rebuilt the prepared cache"; }
echo "ok   stopped with 3, requeued, restarted (SLURM_RESTART_COUNT=1), completed"

$PY "$PSW_SOURCE_DIR/tests/mpi/check_results.py" once "$WORK/slow.h5" 15 \
    || fail "results file after the requeue"
echo "ok   slow.h5: 15 rows, each configuration exactly once"
summary=$($PY "$PSW_SOURCE_DIR/analysis/summary.py" "$WORK/slow.h5") || fail "summary.py"
grep -q "15 configurations with an outcome" <<<"$summary" || { echo "$summary"; fail "summary counts"; }
echo "ok   analysis/summary.py reads the sweep's file"
grep "^sweep.sbatch:" <<<"$out"

# The mpirun launcher inside the allocation, on a fresh file (--new moves the old one aside).
jobid=$(PSW_LAUNCHER=mpirun sbatch --parsable --nodes=1 --ntasks=1 --cpus-per-task="$(nproc)" \
        --time=30 --output="$WORK/job2.out" "$PSW_SOURCE_DIR/slurm/sweep.sbatch" "$WORK/slow.json" \
        --new) || fail "sbatch (mpirun)"
for _ in $(seq 900); do
    grep -q "prunesweep exited with" "$WORK/job2.out" 2>/dev/null && break
    sleep 0.1
done
grep -q "running: mpirun -np 2 --bind-to none --oversubscribe" "$WORK/job2.out" \
    && grep -q "sweep complete" "$WORK/job2.out" || { cat "$WORK/job2.out"; fail "mpirun job"; }
$PY "$PSW_SOURCE_DIR/tests/mpi/check_results.py" once "$WORK/slow.h5" 15 || fail "mpirun results"
echo "ok   PSW_LAUNCHER=mpirun: complete, 15 rows"
echo "all SLURM checks passed"
