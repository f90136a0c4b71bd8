# slurm_cluster.sh: sourced by tests/mpi/test_slurm_*.sh. Starts a real single-node SLURM 22.05
# cluster (Debian's munge, slurmctld, slurmd; as root) with every file under one directory, and
# stops it again. Recipe: /work/shared/NOTES.md ("A real single-node SLURM cluster runs here").
#
#   slurm_start DIR   -> exports SLURM_CONF; sets SLURM_PIDS (munged slurmctld slurmd)
#   slurm_stop        -> scancels everything, SIGTERM to each daemon by PID
# Exits 77 (skipped, with a loud message) when SLURM or munge is not installed or we are not root:
# the Debian packages are slurmctld slurmd slurm-client munge.

SLURM_PIDS=()

slurm_require() {
    local missing=()
    for b in munged slurmctld slurmd sbatch srun scontrol sinfo squeue scancel; do
        command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || missing+=("$b")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "SKIPPED (LOUDLY): SLURM is not installed here (missing: ${missing[*]})."
        echo "SKIPPED (LOUDLY): install with: apt-get install slurmctld slurmd slurm-client munge"
        exit 77
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "SKIPPED (LOUDLY): the test cluster's daemons must run as root (uid $(id -u))."
        exit 77
    fi
    if ! id munge >/dev/null 2>&1; then
        echo "SKIPPED (LOUDLY): no munge user (the munge package creates it)."
        exit 77
    fi
}

slurm_start() {
    local dir=$1 host mem port
    host=$(hostname -s)
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
    chmod 755 "$dir"
    chown munge:munge "$dir/munge"
    chmod 700 "$dir/munge"
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$dir/munge/munge.key"
    chmod 400 "$dir/munge/munge.key"
    runuser -u munge -- /usr/sbin/munged --key-file="$dir/munge/munge.key" \
        --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" --force \
        || { echo "FAIL: munged did not start: $(tail -3 "$dir/munge/munged.log" 2>/dev/null)"; return 1; }
    local i
    for i in $(seq 50); do [[ -s "$dir/munge/munged.pid" ]] && break; sleep 0.1; done
    SLURM_PIDS+=("$(cat "$dir/munge/munged.pid")")
    mem=$(( $(free -m | awk '/^Mem:/ {print $2}') - 1000 ))
    port=$(( 20000 + RANDOM % 20000 ))
    cat > "$dir/slurm.conf" <<CONF
ClusterName=psw-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=5
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=4
SchedulerParameters=sched_interval=1
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    setsid /usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
    SLURM_PIDS+=("$!")
    setsid /usr/sbin/slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
    SLURM_PIDS+=("$!")
    for i in $(seq 150); do
        [[ "$(sinfo -h -o %t 2>/dev/null)" == idle ]] && return 0
        sleep 0.2
    done
    echo "FAIL: the SLURM node never became idle: sinfo says '$(sinfo -h -o %t 2>&1)'"
    tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" 2>/dev/null
    return 1
}

slurm_stop() {
    [[ -n "${SLURM_CONF:-}" ]] && scancel --user=root >/dev/null 2>&1
    local p
    for p in "${SLURM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${SLURM_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    SLURM_PIDS=()
}
