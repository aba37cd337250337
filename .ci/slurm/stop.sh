#!/usr/bin/env bash
# Stop the single-node SLURM cluster that .ci/slurm/start.sh started: exactly the daemons whose
# PIDs it recorded in the state folder (slurmd, slurmctld, munged), nothing else.
#
#   .ci/slurm/stop.sh [STATE_DIR]      default: $HCCER_SLURM_STATE or /tmp/hccer-slurm
#
# Idempotent: daemons already gone are skipped. Logs stay in STATE_DIR/log for inspection.
set -euo pipefail

STATE=$(realpath -m "${1:-${HCCER_SLURM_STATE:-/tmp/hccer-slurm}}")
if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -n); fi
as_root() { "${SUDO[@]}" "$@"; }
say() { echo "[slurm-stop] $*" >&2; }

stop_one() {  # stop_one PIDFILE NAME: TERM, wait up to 20 s, then KILL; only if NAME matches
    local pidfile=$1 name=$2 pid
    if ! as_root test -s "$pidfile"; then say "$name: no PID file"; return 0; fi
    pid=$(as_root cat "$pidfile")
    if [ ! -r "/proc/$pid/comm" ] || [ "$(cat "/proc/$pid/comm")" != "$name" ]; then
        say "$name: PID $pid not running"
        as_root rm -f "$pidfile"
        return 0
    fi
    say "stopping $name (PID $pid)"
    as_root kill -TERM "$pid"
    for _ in $(seq 200); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then
        say "$name (PID $pid) ignored TERM; sending KILL"
        as_root kill -KILL "$pid" || true
    fi
    as_root rm -f "$pidfile"
}

# Compute daemon first, controller next, authentication last (the others use it to shut down).
stop_one "$STATE/slurmd.pid" slurmd
stop_one "$STATE/slurmctld.pid" slurmctld
stop_one "$STATE/munge/munged.pid" munged

# Remove the /etc/slurm link only when start.sh made it and it still points here.
if as_root test -s "$STATE/etc/linked" \
        && [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$(as_root cat "$STATE/etc/linked")" ]; then
    as_root rm -f /etc/slurm/slurm.conf "$STATE/etc/linked"
fi
say "stopped; logs in $STATE/log"
