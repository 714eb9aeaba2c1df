#!/usr/bin/env bash
# Runs a command (the test suite) with the one-node Slurm cluster of scripts/slurm-up.sh, when it
# can be had: as root with Debian's slurm-wlm and munge installed. A cluster that was already up
# is used and left up; one started here is stopped afterwards. Otherwise the command runs alone
# (and the Slurm tests skip, unless REQUIRE_SLURM=1).
set -u
cd "$(dirname "$0")/.."
DIR=${ILR_SLURM_DIR:-/tmp/ilr-slurm}
if [ "$(id -u)" != 0 ] || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  exec "$@"
fi
started=0
if ! { [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null; }; then started=1; fi
bash scripts/slurm-up.sh >/dev/null || exit 1
export SLURM_CONF=$DIR/slurm.conf
"$@"
status=$?
[ "$started" = 1 ] && bash scripts/slurm-down.sh
exit $status
