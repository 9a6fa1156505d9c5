#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine, for tests/test_slurm.py.
#
# Installs Debian's munge, slurmctld, slurmd and slurm-client (as root), writes a
# single-node slurm.conf for this host with the machine's real CPUs and a little less
# than its real memory, starts munged, slurmctld and slurmd, and waits until `sinfo`
# shows the node idle. Idempotent: running it again on a running cluster changes nothing.
# No accounting database (AccountingStorageType=accounting_storage/none): sacct cannot
# see finished jobs, so the Snakemake SLURM plugin must poll with squeue, which in turn
# needs MinJobAge long enough for finished jobs to stay visible (300 s here).
#
# Exit status 0 once the node is idle; non-zero (with the reason on stderr) otherwise.
# .ci/run tolerates a failure: tests/test_slurm.py then skips and says why.
set -euo pipefail

log() { echo "start_cluster: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (installs packages and starts daemons)"
    exit 1
fi

# Up: idle, or busy with jobs (mixed / allocated) on a second call.
node_idle() {
    command -v sinfo >/dev/null 2>&1 || return 1
    case $(timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -n1) in
        idle* | mix* | alloc*) return 0 ;;
        *) return 1 ;;
    esac
}

if node_idle; then
    log "cluster already up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
    exit 0
fi

packages=(munge slurmctld slurmd slurm-client)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q >/dev/null
    timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_total_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
# A bit under the real memory: slurmd drains a node that reports less than RealMemory.
real_mb=$((mem_total_mb * 95 / 100))

mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm /run/munge
conf=/etc/slurm/slurm.conf
new_conf=$(mktemp)
cat >"$new_conf" <<CONF
# Written by moonlight's tests/slurm/start_cluster.sh: a one-node test cluster.
ClusterName=moonlight-test
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for 5 minutes (the plugin's status polling).
MinJobAge=300
InactiveLimit=0
KillWait=30
Waittime=0
NodeName=${host} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$new_conf" "$conf"; then
    install -m 0644 "$new_conf" "$conf"
fi
rm -f "$new_conf"

running() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# munge first: slurmctld and slurmd authenticate every message through it.
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
if ! running /run/munge/munged.pid; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 20); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n </dev/null | unmunge >/dev/null

if ! running /run/slurmctld.pid; then
    log "starting slurmctld"
    slurmctld
fi
if ! running /run/slurmd.pid; then
    log "starting slurmd"
    slurmd
fi

for _ in $(seq 60); do
    if node_idle; then
        log "cluster up: $(sinfo -h -N -o '%N %T %c CPUs %m MB')"
        exit 0
    fi
    state=$(timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -n1 || true)
    # A node left down or drained by an earlier configuration: bring it back.
    if [[ $state == down* || $state == drain* ]]; then
        scontrol update NodeName="$host" State=RESUME 2>/dev/null || true
    fi
    sleep 1
done
log "node never became idle; sinfo says: $(sinfo -N -l 2>&1 || true)"
log "slurmctld log tail:"; tail -n 20 /var/log/slurm/slurmctld.log >&2 || true
log "slurmd log tail:"; tail -n 20 /var/log/slurm/slurmd.log >&2 || true
exit 1
