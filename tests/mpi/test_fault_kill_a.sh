#!/bin/bash
# SIGKILL fault injection, trials 0..9 of 20 (tests/mpi/fault_kill.py; the other
# half is test_fault_kill_b.sh): a random rank of a 3-rank sweep is killed at a random
# moment, then the sweep is resumed; after each trial the file opens, every row written before
# the kill is unchanged, and each configuration is present exactly once, bit-identical to an
# uninterrupted run. Seed: $PSW_FAULT_SEED (default 9); each trial prints its choices, and
# PSW_FAULT_TRIALS=A:B reruns any range of trials with the same choices.
. "$(dirname "$0")/lib.sh"
fault_kill_trials 0:10
