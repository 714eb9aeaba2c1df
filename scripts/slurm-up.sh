#!/usr/bin/env bash
# Starts a one-node Slurm cluster on 127.0.0.1 for the Slurm launcher's tests and for trying it
# out: munged, slurmctld and slurmd, with every file (config, key, state, spool, logs, PIDs)
# under $ILR_SLURM_DIR (default /tmp/ilr-slurm). Needs root and Debian's slurm-wlm and munge.
# Prints the line to point Slurm's commands at it; scripts/slurm-down.sh stops what it started.
# Running it while the cluster is up does nothing. ILR_SLURM_CPUS and ILR_SLURM_MAX_ARRAY_SIZE
# change the node's CPUs and the largest array (Slurm's default, 1001).
set -euo pipefail
DIR=${ILR_SLURM_DIR:-/tmp/ilr-slurm}
CPUS=${ILR_SLURM_CPUS:-$(nproc)}
export SLURM_CONF=$DIR/slurm.conf

for tool in munged mungekey slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm-up: $tool not found; install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-up: needs root (slurmd runs jobs as their users)" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && alive "$DIR/munged.pid"; then
  echo "export SLURM_CONF=$SLURM_CONF"; exit 0
fi

mkdir -p "$DIR"/{state,spool,munge}
chmod 700 "$DIR/munge"
HOST=$(hostname -s)
cat > "$SLURM_CONF" <<CONF
ClusterName=ilr
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MaxArraySize=${ILR_SLURM_MAX_ARRAY_SIZE:-1001}
KillWait=30
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

[ -f "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null
alive "$DIR/munged.pid" || munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
  --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge/munge.seed"
alive "$DIR/slurmctld.pid" || slurmctld
alive "$DIR/slurmd.pid" || slurmd

for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then echo "export SLURM_CONF=$SLURM_CONF"; exit 0; fi
  sleep 0.5
done
echo "slurm-up: the node did not come up within 30 s; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
exit 1
