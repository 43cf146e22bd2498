#!/usr/bin/env bash
# Schemathesis conformance run: builds and starts the real auth-core binary on a loopback port against
# a temporary SQLite file (networkless: a PEM key in CLERK_JWT_KEY), signs a session token with the
# matching test key, and fuzzes every operation of GET /api/openapi.json. Fails on any 5xx, any status,
# content type, header or body the document does not describe. Bounded: MAX_EXAMPLES (default 25) per
# operation and MAX_TIME seconds (default 60) in all.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
max_examples="${MAX_EXAMPLES:-25}"
max_time="${MAX_TIME:-60}"

if ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet schemathesis \
    || python3 -m pip install --quiet --break-system-packages schemathesis
fi
schemathesis --version

cargo build --quiet --bin auth-core
bin="${CARGO_TARGET_DIR:-$root/target}/debug/auth-core"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The binary prints "auth-core listening on http://…" once it listens.
(cd "$work" && exec env -i PATH="$PATH" \
  CLERK_JWT_KEY="$(cat "$root/tests/fixtures/keys/rsa-2048-a.pub.pem")" \
  AUTH_CORE__AUTH__ISSUER="https://clerk.example.com" \
  SECRET_KEY="conformance-secret-key-0123456789abcdef" \
  DATABASE_URL="$work/auth-core.sqlite3" \
  "$bin" serve --bind 127.0.0.1:0 --workers 1 >"$work/stdout" 2>"$work/stderr") &
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

# A session token (RS256, test key a) of an org:admin, so the organization routes answer 200 too.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now="$(date +%s)"
header="$(printf '{"alg":"RS256","typ":"JWT","kid":"ins_test_a"}' | b64url)"
payload="$(printf '{"sub":"user_conformance","sid":"sess_conformance","iss":"https://clerk.example.com","iat":%d,"nbf":%d,"exp":%d,"v":2,"o":{"id":"org_conformance","slg":"conformance","rol":"admin","per":"read"}}' \
  "$now" "$((now - 10))" "$((now + 900))" | b64url)"
signature="$(printf '%s.%s' "$header" "$payload" \
  | openssl dgst -sha256 -sign "$root/tests/fixtures/keys/rsa-2048-a.pem" | b64url)"
token="$header.$payload.$signature"

set +e
schemathesis run "$base/api/openapi.json" \
  --checks "${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method}" \
  --header "Authorization: Bearer $token" \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --workers 1 \
  --seed 1 \
  --generation-deterministic \
  --request-timeout 10 \
  --suppress-health-check all
status=$?
set -e
if grep -q 'panicked' "$work/stderr"; then
  echo "the server panicked:"; grep -B2 -A5 'panicked' "$work/stderr"; status=1
fi
exit "$status"
