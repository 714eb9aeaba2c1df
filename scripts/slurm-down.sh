#!/usr/bin/env bash
# Stops the cluster scripts/slurm-up.sh started, by the PIDs it recorded, and removes its files.
set -u
DIR=${ILR_SLURM_DIR:-/tmp/ilr-slurm}
for daemon in slurmd slurmctld munged; do
  pidfile=$DIR/$daemon.pid
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
done
rm -rf "$DIR"
