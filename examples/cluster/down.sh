#!/usr/bin/env bash
# Stops what up.sh started in DIR (default: ./sluice-cluster): the replicas, then NATS, then
# PostgreSQL. The data stays; up.sh starts the cluster again with it, `rm -rf DIR` removes it.
set -uo pipefail

dir=$(realpath -m "${1:-sluice-cluster}")
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
[ -d "$dir" ] || { echo "error: no cluster in $dir" >&2; exit 1; }

stop() {
  local pidfile=$1
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    # Up to 10 s for a clean stop, then SIGKILL.
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}

for pidfile in "$dir"/r*.pid; do stop "$pidfile"; done
stop "$dir/nats.pid"
if [ -d "$dir/pg/data" ]; then
  as_pg=()
  if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1
fi
echo "stopped: $dir"
