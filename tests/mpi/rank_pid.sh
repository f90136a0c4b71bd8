# rank_pid.sh (sourced by tests/mpi/lib.sh and bench/memory/pss.sh).
# rank_pid PID RANK: pid of that rank's prunesweep process, a descendant of PID (mpiexec, or a
# subshell running it), found by the OMPI_COMM_WORLD_RANK in its environment.
rank_pid() {
    local p
    for p in $(pgrep -P "$1"); do
        if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
            echo "$p"
            return 0
        fi
        rank_pid "$p" "$2" && return 0
    done
    return 1
}
