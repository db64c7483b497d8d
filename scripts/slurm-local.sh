#!/usr/bin/env bash
# A real single-node Slurm (Debian slurm-wlm 22.05) on this machine, for the tests of the Slurm run target.
#   scripts/slurm-local.sh start    start munge, slurmctld and slurmd; prints the folder of client wrappers
#   scripts/slurm-local.sh stop     stop the daemons this script started and remove the network namespace
#   scripts/slurm-local.sh status   sinfo and squeue
#   scripts/slurm-local.sh bin      print the folder of client wrappers (sbatch, squeue, sacct, scancel, ...)
# Needs root (daemons, network namespace). State lives in $SCWB_SLURM_DIR (default /tmp/scwb-slurm).
#
# slurmctld and slurmd listen on every interface, so both run inside a network namespace that has only a
# loopback device; the clients must run inside it too. `start` writes small wrappers into $SCWB_SLURM_DIR/bin
# that enter the namespace (nsenter --net, which keeps /sys/fs/cgroup visible, unlike `ip netns exec`) and run
# the real client with this cluster's slurm.conf: put that folder first on PATH and `sbatch` etc. just work.
# Batch jobs inherit the submitting environment (PATH, SLURM_CONF), so `srun` inside a job works as well.
set -euo pipefail
DIR=${SCWB_SLURM_DIR:-/tmp/scwb-slurm}
NS=${SCWB_SLURM_NETNS:-scwbslurm}
NODE=$(hostname -s)
CONF=$DIR/slurm.conf
export SLURM_CONF=$CONF
say() { printf '[slurm-local] %s\n' "$*" >&2; }
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
live_pid() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }

write_conf() {
  cat > "$CONF.tmp" <<CONF
# written by scripts/slurm-local.sh: one node, no cgroups, no systemd, no slurmdbd
ClusterName=scwblocal
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
  mv "$CONF.tmp" "$CONF"
}

write_wrappers() {
  mkdir -p "$DIR/bin"
  local tool real
  for tool in sbatch squeue sacct scancel sinfo srun scontrol; do
    real=$(command -v "$tool" || true)
    [ -n "$real" ] || { say "$tool is not installed (apt-get install slurm-wlm)"; exit 1; }
    printf '#!/bin/sh\n# %s inside the scwb-local Slurm network namespace\nSLURM_CONF=%s exec nsenter --net=/run/netns/%s %s "$@"\n' \
      "$tool" "$CONF" "$NS" "$real" > "$DIR/bin/$tool.tmp"
    chmod 755 "$DIR/bin/$tool.tmp"; mv "$DIR/bin/$tool.tmp" "$DIR/bin/$tool"
  done
}

start() {
  [ "$(id -u)" = 0 ] || { say "must run as root (daemons and a network namespace)"; exit 1; }
  for t in slurmctld slurmd munged nsenter ip; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || { say "$t not found (apt-get install slurm-wlm)"; exit 1; }
  done
  getent hosts "$NODE" >/dev/null || { say "the host name $NODE does not resolve; add it to /etc/hosts"; exit 1; }
  mkdir -p "$DIR"/{state,spool,log,run}
  write_conf
  write_wrappers
  if ! ip netns list | grep -qw "$NS"; then
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    # getaddrinfo with AI_ADDRCONFIG finds no IPv4 when 127.0.0.1 is the only address: add a second one
    ip netns exec "$NS" ip addr add 127.0.0.2/8 dev lo
  fi
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --force 2>/dev/null || head -c 1024 /dev/urandom > /etc/munge/munge.key
  fi
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  if ! live_pid /run/munge/munged.pid >/dev/null; then
    runuser -u munge -- /usr/sbin/munged
    : > "$DIR/run/munged.ours"
  fi
  for _ in $(seq 100); do munge -n | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  live_pid "$DIR/run/slurmctld.pid" >/dev/null || in_ns /usr/sbin/slurmctld -f "$CONF"
  live_pid "$DIR/run/slurmd.pid" >/dev/null || in_ns /usr/sbin/slurmd -f "$CONF"
  for _ in $(seq 150); do
    if in_ns sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "$DIR/bin"; return 0
    fi
    sleep 0.2
  done
  say "the node did not come up; logs in $DIR/log"; in_ns sinfo -R >&2 || true; exit 1
}

stop() {
  local f p
  for f in "$DIR/run/slurmd.pid" "$DIR/run/slurmctld.pid"; do
    if p=$(live_pid "$f"); then
      kill "$p"; for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  if [ -f "$DIR/run/munged.ours" ] && p=$(live_pid /run/munge/munged.pid); then kill "$p"; rm -f "$DIR/run/munged.ours"; fi
  if ip netns list | grep -qw "$NS"; then ip netns del "$NS"; fi
  say "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) in_ns sinfo; in_ns squeue ;;
  bin) echo "$DIR/bin" ;;
  *) echo "usage: $0 start|stop|status|bin" >&2; exit 2 ;;
esac
