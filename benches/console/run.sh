#!/usr/bin/env bash
# Console latency on PostgreSQL at scale: a fresh database, migrated by the release binary, seeded by
# seed.sql (100k users, 2k organizations, 150k memberships, 1M audit events, 20k webhook deliveries),
# an administrator signed in with curl, then every console page timed (1 warm-up + RUNS runs each):
# status, median and max in ms. Pages whose median is >= LIMIT_MS (100) are flagged SLOW.
#
#   BENCH_PG_URL  server to use (default postgres://postgres@127.0.0.1:5432; no database name)
#   RUNS          timed runs per page (default 10)
#   RESULTS       also write the table as Markdown to this file
#   KEEP_DB=1     keep the database afterwards (for EXPLAIN ANALYZE); it is dropped otherwise
#   EXTRA_SQL     SQL file applied after seeding, e.g. candidate-indexes.sql to try indexes before a
#                 migration adds them
#   PG_LOG        PostgreSQL server log to read statements >= LIMIT_MS from
#                 (default /var/log/postgresql/postgresql-*-main.log when readable)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
here="$root/benches/console"
pg="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
pg="${pg%/}"
runs="${RUNS:-10}"
limit_ms="${LIMIT_MS:-100}"
db="auth_core_console_bench_$$"
db_url="$pg/$db?sslmode=disable"
secret_key="console-bench-secret-key-0123456789abcdef"   # 40 characters
admin_email="bench@example.com"
admin_password="bench-password-$(date +%s)-console"

work="$(mktemp -d)"
server_pid=""
db_created=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$db_created" ]; then
    if [ "${KEEP_DB:-0}" = 1 ]; then
      echo "kept database: $db_url"
    else
      psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    fi
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_now() { date +%s%3N; }

echo "== build"
cargo build --release --quiet --bin auth-core
bin="${CARGO_TARGET_DIR:-$root/target}/release/auth-core"

# The binary reads ./.env and ./Settings.local.toml: run it from an empty directory with a clean env.
run_bin() {
  (cd "$work" && env -i PATH="$PATH" HOME="$work" \
    DATABASE_URL="$db_url" SECRET_KEY="$secret_key" \
    CLERK_JWT_KEY="$(cat "$root/tests/fixtures/keys/rsa-2048-a.pub.pem")" \
    AUTH_CORE__AUTH__ISSUER="https://clerk.example.com" \
    AUTH_CORE__LOG__LEVEL="${BENCH_LOG_LEVEL:-warn}" \
    "$bin" "$@")
}

echo "== database $db"
psql -q -v ON_ERROR_STOP=1 "$pg/postgres" -c "CREATE DATABASE $db"
db_created=1
run_bin migrate

echo "== seed"
t0="$(ms_now)"
psql -q -X -v ON_ERROR_STOP=1 "$pg/$db" -f "$here/seed.sql" >/dev/null
seed_ms=$(( $(ms_now) - t0 ))
seed_s="$(awk -v ms="$seed_ms" 'BEGIN { printf "%.1f", ms / 1000 }')"
echo "seeded in ${seed_s} s"
psql -X -A -t -F ' ' "$pg/$db" -c "SELECT 'users', count(*) FROM users UNION ALL SELECT 'organizations', count(*) FROM organizations UNION ALL SELECT 'memberships', count(*) FROM organization_memberships UNION ALL SELECT 'audit_events', count(*) FROM audit_events UNION ALL SELECT 'webhook_deliveries', count(*) FROM webhook_deliveries UNION ALL SELECT 'service_api_keys', count(*) FROM service_api_keys"

if [ -n "${EXTRA_SQL:-}" ]; then
  echo "== extra SQL: $EXTRA_SQL"
  psql -q -X -v ON_ERROR_STOP=1 "$pg/$db" -f "$EXTRA_SQL" >/dev/null
fi

printf '%s\n' "$admin_password" | run_bin admin create --email "$admin_email"

# Ids to look at: the user with the most audit events, the largest organization.
q() { psql -X -A -t "$pg/$db" -c "$1"; }
user_id="$(q "SELECT user_id FROM audit_events WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1")"
org_id="$(q "SELECT organization_id FROM organization_memberships GROUP BY organization_id ORDER BY count(*) DESC, organization_id LIMIT 1")"
from_date="$(date -u -d '3 days ago' +%F)"
to_date="$(date -u -d '2 days ago' +%F)"

# From here on the server logs this database's statements that take >= LIMIT_MS (new connections).
psql -q -v ON_ERROR_STOP=1 "$pg/postgres" -c "ALTER DATABASE $db SET log_min_duration_statement = $limit_ms"

echo "== serve"
: >"$work/stdout"
(cd "$work" && exec env -i PATH="$PATH" HOME="$work" \
  DATABASE_URL="$db_url" SECRET_KEY="$secret_key" \
  CLERK_JWT_KEY="$(cat "$root/tests/fixtures/keys/rsa-2048-a.pub.pem")" \
  AUTH_CORE__AUTH__ISSUER="https://clerk.example.com" \
  AUTH_CORE__LOG__LEVEL="${BENCH_LOG_LEVEL:-warn}" \
  "$bin" serve --bind 127.0.0.1:0 --workers 2 >"$work/stdout" 2>"$work/stderr") &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/^auth-core listening on //p' "$work/stdout" | head -n 1)"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "auth-core did not start:"; cat "$work/stderr"; exit 1
fi
echo "auth-core at $base"

echo "== sign in"
jar="$work/cookies"
curl -s -c "$jar" -b "$jar" -o "$work/login.html" "$base/admin/login"
csrf="$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$work/login.html" | head -n 1)"
[ -n "$csrf" ] || { echo "no csrf token on /admin/login"; exit 1; }
login_status="$(curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
  -H "Origin: $base" \
  --data-urlencode "csrf=$csrf" --data-urlencode "email=$admin_email" \
  --data-urlencode "password=$admin_password" --data-urlencode "next=/admin" \
  "$base/admin/login")"
if [ "$login_status" != 303 ]; then
  echo "sign-in answered $login_status, expected 303"; tail -n 20 "$work/stderr"; exit 1
fi
echo "signed in"

get() { curl -s -b "$jar" -c "$jar" "$@"; }

# Page 2 of the audit trail: the "Older" link's before= cursor on the first page.
get -o "$work/audit.html" "$base/admin/audit"
older="$(grep -o 'href="[^"]*before=[^"]*"' "$work/audit.html" | head -n 1 | sed 's/^href="//; s/"$//; s/&amp;/\&/g')"
if [ -n "$older" ]; then
  case "$older" in /*) ;; \?*) older="/admin/audit$older" ;; *) older="/admin/$older" ;; esac
else
  older="/admin/audit?before=(no Older link)"
fi

pages=(
  "/admin"
  "/admin/users"
  "/admin/users?q=smith"
  "/admin/users?q=user_00042"
  "/admin/users?q=zzqx"
  "/admin/users?sort=email"
  "/admin/users?status=deleted"
  "/admin/users/$user_id"
  "/admin/organizations"
  "/admin/organizations?q=acme"
  "/admin/organizations/$org_id"
  "/admin/memberships"
  "/admin/memberships?role=org:admin"
  "/admin/memberships?org=$org_id"
  "/admin/audit"
  "/admin/audit?status=4xx"
  "/admin/audit?reason=token-expired"
  "/admin/audit?principal=service_key"
  "/admin/audit?user=$user_id"
  "/admin/audit?path=/api/auth/me"
  "/admin/audit?status=5xx"
  "/admin/audit?reason=token-not-active-yet"
  "/admin/audit?principal=anonymous"
  "/admin/audit?path=/api/never-called"
  "/admin/audit?from=${from_date}T00:00&to=${to_date}T00:00"
  "$older"
  "/admin/audit.csv?status=4xx"
  "/admin/webhooks"
  "/admin/webhooks?status=failed"
  "/admin/keys"
  "/admin/admins"
)

table="$work/table.md"
{
  echo "| page | status | median ms | max ms | note |"
  echo "|---|---|---:|---:|---|"
} >"$table"
slow=0
echo "== pages ($runs runs each after 1 warm-up)"
for page in "${pages[@]}"; do
  url="$base$page"
  note=""
  if [[ "$page" == *"(no Older link)"* ]]; then
    echo "| \`/admin/audit?before=…\` (page 2) | – | – | – | no Older link on the first page |" >>"$table"
    continue
  fi
  get -o "$work/body" "$url" >/dev/null || true                # warm-up
  samples=()
  codes=()
  for _ in $(seq 1 "$runs"); do
    out="$(get -o "$work/body" -w '%{http_code} %{time_total}' "$url" || echo "000 0")"
    codes+=("${out%% *}")
    samples+=("${out##* }")
  done
  status="$(printf '%s\n' "${codes[@]}" | sort | uniq | paste -sd/ -)"
  read -r median max < <(printf '%s\n' "${samples[@]}" | sort -g | awk '
    { v[NR] = $1 * 1000 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f %.1f\n", m, v[NR] }')
  case "$status" in
    404) note="not there yet" ;;
    200) ;;
    *) note="unexpected status" ;;
  esac
  if [[ "$page" == /admin/audit.csv* && "$status" == 200 ]]; then
    rows=$(( $(wc -l <"$work/body") - 1 ))
    note="$rows rows, $(wc -c <"$work/body") bytes"
  fi
  if [[ "$page" == "/admin/users?q=zzqx" ]]; then note="worst case: matches nobody${note:+; $note}"; fi
  if [[ "$page" == "$older" ]]; then note="page 2 (Older link)${note:+; $note}"; fi
  if [ "$status" = 200 ] && awk -v m="$median" -v l="$limit_ms" 'BEGIN { exit !(m >= l) }'; then
    note="**SLOW**${note:+; $note}"; slow=$((slow + 1))
  fi
  shown="${page//|/\\|}"
  printf '| `%s` | %s | %s | %s | %s |\n' "$shown" "$status" "$median" "$max" "$note" >>"$table"
  printf '%-70s %-8s median %8s ms  max %8s ms  %s\n' "$page" "$status" "$median" "$max" "$note"
done

if grep -q 'panicked' "$work/stderr"; then
  echo "the server panicked:"; grep -B2 -A5 'panicked' "$work/stderr"
fi

commit="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src templates migrations || echo '+uncommitted')"
report="$work/report.md"
{
  echo "## Console pages on PostgreSQL, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- code: \`$commit\`; release build, \`serve --workers 2\`; $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)); PostgreSQL $(q 'SHOW server_version') on the same machine"
  echo "- data: 100,000 users (2% deleted), 2,000 organizations, 150,000 memberships, 1,000,000 audit events over 30 days, 20,000 webhook deliveries; seeding took ${seed_s} s"
  if [ -n "${EXTRA_SQL:-}" ]; then echo "- extra SQL applied after seeding: \`$(basename "$EXTRA_SQL")\`"; fi
  echo "- user \`$user_id\` (most audit events), organization \`$org_id\` (most members); $runs runs after 1 warm-up, curl \`time_total\`; limit ${limit_ms} ms"
  echo
  cat "$table"
  echo
  echo "$slow page(s) with a median >= ${limit_ms} ms."
} >"$report"
echo
cat "$report"
if [ -n "${RESULTS:-}" ]; then cp "$report" "$RESULTS"; echo "written to $RESULTS"; fi

# Statements the server logged as taking >= LIMIT_MS during this run (log_min_duration_statement).
log="${PG_LOG:-$(ls /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -n 1 || true)}"
if [ -n "$log" ] && [ -r "$log" ]; then
  echo
  echo "== statements >= ${limit_ms} ms in $log (database $db)"
  grep -A3 "@$db .*duration:" "$log" | cut -c1-2000 || echo "(none)"
fi
