#!/usr/bin/env bash
# Start a real single-node SLURM cluster (munged + slurmctld + slurmd) on this machine, for the
# SLURM tests and CI. No systemd needed: the daemons run in the background and record their PIDs
# in the state folder, so .ci/slurm/stop.sh stops exactly these and nothing else.
#
#   .ci/slurm/start.sh [STATE_DIR]     default: $HCCER_SLURM_STATE or /tmp/hccer-slurm
#
# Idempotent: when the daemons of STATE_DIR are already up it only checks the node is idle.
# Installs Debian's slurm-wlm, slurm-client and munge when missing (needs root or sudo).
# Accounting (slurmdbd) is deliberately not started; the profile uses the executor plugin's
# squeue status check, which needs MinJobAge well above the plugin's status interval.
set -euo pipefail

STATE=$(realpath -m "${1:-${HCCER_SLURM_STATE:-/tmp/hccer-slurm}}")
PARTITION=${HCCER_SLURM_PARTITION:-debug}
CONF="$STATE/etc/slurm.conf"

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
as_root() { "${SUDO[@]}" "$@"; }
say() { echo "[slurm-start] $*" >&2; }

alive() {  # alive PIDFILE NAME: the PID in PIDFILE runs a process called NAME
    local pid
    [ -s "$1" ] || return 1
    pid=$(cat "$1")
    [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "$2" ]
}

# 1. Packages (Debian 12 ships SLURM 22.05).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm, slurm-client, munge"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm slurm-client munge >/dev/null
fi
PATH="$PATH:/usr/sbin:/sbin"

as_root mkdir -p "$STATE"/{etc,munge,ctld,spool,log}
as_root chmod 0755 "$STATE" "$STATE/etc" "$STATE/log"

# 2. munge: own key, socket and PID file in the state folder, run as the munge user.
MUNGE_SOCKET="$STATE/munge/munge.socket"
if ! alive "$STATE/munge/munged.pid" munged; then
    as_root chown munge:munge "$STATE/munge"
    as_root chmod 0755 "$STATE/munge"
    if ! as_root test -s "$STATE/munge/munge.key"; then
        as_root runuser -u munge -- mungekey --create --keyfile="$STATE/munge/munge.key"
    fi
    say "starting munged"
    as_root runuser -u munge -- munged --socket="$MUNGE_SOCKET" \
        --key-file="$STATE/munge/munge.key" --pid-file="$STATE/munge/munged.pid" \
        --log-file="$STATE/munge/munged.log" --seed-file="$STATE/munge/munged.seed"
    for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done
fi

# 3. slurm.conf for this machine: CPUs and sockets as slurmd detects them, memory from
# /proc/meminfo minus headroom for the OS, a per-CPU default so small jobs run side by side.
if [ ! -s "$CONF" ] || ! alive "$STATE/slurmctld.pid" slurmctld; then
    HOST=$(hostname -s)
    NODE_HW=$(slurmd -C | head -1 | sed -e 's/ RealMemory=[0-9]*//' -e "s/^NodeName=[^ ]*/NodeName=$HOST/")
    CPUS=$(nproc)
    MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    HEADROOM=$(( MEM_MB / 10 > 1024 ? MEM_MB / 10 : 1024 ))
    REAL_MB=$(( MEM_MB - HEADROOM ))
    DEF_PER_CPU=$(( REAL_MB / CPUS < 2048 ? REAL_MB / CPUS : 2048 ))
    cat > "$STATE/slurm.conf.new" <<EOF
# Single-node test cluster written by .ci/slurm/start.sh; not for production.
ClusterName=hccer-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmctldPort=${HCCER_SLURMCTLD_PORT:-6817}
SlurmdPort=${HCCER_SLURMD_PORT:-6818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# Containers and CI runners often lack a delegated cgroup tree: track processes plainly.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
# No slurmdbd: sacct cannot see finished jobs, so Snakemake polls squeue instead, which keeps
# finished jobs for MinJobAge seconds (must exceed the plugin's longest status interval, 180 s).
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=600
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
$NODE_HW RealMemory=$REAL_MB State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=$DEF_PER_CPU
EOF
    as_root mv "$STATE/slurm.conf.new" "$CONF"
    say "wrote $CONF ($CPUS CPUs, RealMemory=${REAL_MB} MB, DefMemPerCPU=${DEF_PER_CPU} MB)"
fi
export SLURM_CONF="$CONF"

# Commands run without SLURM_CONF (jobs, other shells) look in /etc/slurm: point it here unless
# the machine has its own configuration.
if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
    as_root mkdir -p /etc/slurm
    as_root ln -sfn "$CONF" /etc/slurm/slurm.conf
    echo "$CONF" | as_root tee "$STATE/etc/linked" >/dev/null
fi

# 4. Daemons. A fresh controller clears old job state (-c) so reruns start clean.
if ! alive "$STATE/slurmctld.pid" slurmctld; then
    say "starting slurmctld"
    as_root env SLURM_CONF="$CONF" slurmctld -c -f "$CONF"
fi
if ! alive "$STATE/slurmd.pid" slurmd; then
    say "starting slurmd"
    as_root env SLURM_CONF="$CONF" slurmd -f "$CONF"
fi

# 5. Wait until the node takes jobs.
for _ in $(seq 60); do
    node_state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    case "$node_state" in
        idle|mix|alloc) say "node $(hostname -s) is $node_state in partition $PARTITION"
                        echo "export SLURM_CONF=$CONF"
                        exit 0 ;;
        down*|drain*) as_root env SLURM_CONF="$CONF" scontrol update \
                          nodename="$(hostname -s)" state=resume 2>/dev/null || true ;;
    esac
    sleep 1
done
say "node did not become idle within 60 s; state '${node_state:-none}'; logs in $STATE/log"
tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
exit 1
