# lib.sh: shared by tests/mpi/test_*.sh (sourced). Builds a tiny fixture in a temp dir: a
# synthetic world (make-world) and a random OLMo2 model with the world's tokenizer
# (psw_tiny_model), and offers helpers to run, watch and kill sweeps.
set -u
if [ -z "${PSW_CLI:-}" ] || [ -z "${PSW_BINARY_DIR:-}" ] || [ -z "${PSW_SOURCE_DIR:-}" ]; then
    echo "skip: PSW_CLI, PSW_BINARY_DIR and PSW_SOURCE_DIR must be set (run through ctest)"
    exit 77
fi
MPIEXEC=${MPIEXEC:-mpiexec}
PY=/usr/bin/python3
if ! $PY -c 'import h5py, numpy' 2>/dev/null; then
    echo "skip: /usr/bin/python3 cannot import h5py and numpy"
    exit 77
fi
CHECK="$PY $PSW_SOURCE_DIR/tests/mpi/check_results.py"
TINY="$PSW_BINARY_DIR/tests/psw_tiny_model"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OPENBLAS_NUM_THREADS=1
# Open MPI's own allocations (some in dlopen'ed plugins, unsuppressible) read as leaks under
# ASan (STYLE C6); memory errors are still caught.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

fail() {
    echo "FAIL: $*"
    exit 1
}

make_fixture() {
    "$PSW_CLI" make-world "$WORK/world" --entities 10 --train 64 --dev 16 --test 24 --vocab 300 \
        2>/dev/null || fail "make-world"
    "$TINY" "$WORK/world/tokenizer.json" "$WORK/model" 7 || fail "psw_tiny_model"
}

# write_spec NAME EPOCHS DATA_SIZES SEEDS [EXTRA_TRAINING_KEYS]: $WORK/NAME.json -> $WORK/NAME.h5.
# The grid is retention [0.5, 0.75] x loss [ce, kl] x DATA_SIZES x SEEDS, plus 3 reference rows.
write_spec() {
    cat > "$WORK/$1.json" <<JSON
{
  "name": "$1",
  "model": {"path": "model"},
  "data": {"train": "world/train.jsonl", "test": "world/test.jsonl"},
  "prompt": {"shots": 0},
  "training": {"micro_batch": 4, "eval_batch": 8, "lr": 1e-3, "epochs": $2${5:+, $5}},
  "grid": {"retention": [0.5, 0.75], "loss": ["ce", "kl"], "data_size": [$3], "seed": [$4]},
  "output": "$1.h5"
}
JSON
}

# mpi NP ARGS...: prunesweep under mpiexec with NP ranks.
mpi() {
    local np=$1
    shift
    "$MPIEXEC" -np "$np" --oversubscribe "$PSW_CLI" "$@"
}

. "$PSW_SOURCE_DIR/tests/mpi/rank_pid.sh"

# wait_done LOG N [PID]: waits (up to 60 s) until LOG shows N finished rows.
wait_done() {
    local i
    for i in $(seq 600); do
        [ "$(grep -c ' done (' "$1" 2>/dev/null)" -ge "$2" ] && return 0
        if [ -n "${3:-}" ] && ! kill -0 "$3" 2>/dev/null; then fail "process ended early: $(tail -3 "$1")"; fi
        sleep 0.1
    done
    fail "timed out waiting for $2 rows in $1"
}

# rows FILE: committed rows in a results file.
rows() {
    $CHECK ids "$1" | wc -l
}

# fault_kill_trials A:B: SIGKILL fault-injection trials A..B-1 (tests/mpi/fault_kill.py) on a
# 16-configuration sweep; $PSW_FAULT_SEED (default 9) and $PSW_FAULT_TRIALS=A:B override.
fault_kill_trials() {
    make_fixture
    write_spec kill 10 "8, 16" "0, 1"   # 16 configs + 3 reference rows
    cd "$WORK" || fail "cd $WORK"
    local seed=${PSW_FAULT_SEED:-9}
    echo "fault seed $seed"
    $PY "$PSW_SOURCE_DIR/tests/mpi/fault_kill.py" --cli "$PSW_CLI" --mpiexec "$MPIEXEC" \
        --spec kill.json --seed "$seed" --trials "${PSW_FAULT_TRIALS:-$1}" || fail "see above"
}
