#!/usr/bin/env bash
# The audit trail's cost in its production layout: PostgreSQL on a host of its own. This machine has
# one host, so PostgreSQL's processes get the last CPU core to themselves and the bench (servers, wrk
# and the hello world) runs on the others; both auth-core servers use PostgreSQL, only one audits.
# The unaudited server never touches the database on the request path, so the ratio is what
# auditing costs the service when its database is elsewhere (minus the network hop to it).
#
#   bash benches/production_layout.sh          # needs PostgreSQL on 127.0.0.1:5432 (user postgres), wrk
#
# BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) names the server; a database is
# created for the run and dropped after. Other BENCH_* settings pass through to `cargo bench --bench
# http`. PostgreSQL's CPU affinity is restored on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

server="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
cores=$(nproc)
if [ "$cores" -lt 2 ]; then
  echo "needs at least 2 CPU cores (one for PostgreSQL)" >&2
  exit 2
fi
pg_core=$((cores - 1))
bench_cores="0-$((cores - 2))"
all_cores="0-$((cores - 1))"
database="auth_core_layout_$$"

pin_postgres() {
  for pid in $(pgrep -x postgres || pgrep postgres); do
    taskset -pc "$1" "$pid" >/dev/null 2>&1 || true
  done
}
cleanup() {
  pin_postgres "$all_cores"
  psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql "$server/postgres" -qc "CREATE DATABASE $database"
pin_postgres "$pg_core"
# Without the pinning the figure would be the shared-cores one under another name: check it took.
postmaster=$(pgrep -o -x postgres || pgrep -o postgres)
if [ "$(taskset -pc "$postmaster" | sed 's/.*: //')" != "$pg_core" ]; then
  echo "could not pin PostgreSQL (pid $postmaster) to core $pg_core; run as its owner or root" >&2
  exit 2
fi
echo "PostgreSQL on core $pg_core; servers, wrk and hello world on cores $bench_cores"
# The http bench pins servers and wrk itself: here both go to the bench cores, and this layout's
# figures are not written into docs/performance.md's table.
AUTH_CORE__DATABASE__URL="$server/$database?sslmode=disable" \
  BENCH_SERVER_CPU="$bench_cores" BENCH_WRK_CPU="$bench_cores" BENCH_WRITE_DOCS=0 \
  taskset -c "$bench_cores" cargo bench --bench http
