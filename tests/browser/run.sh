#!/usr/bin/env bash
# End-to-end test of the admin console in a real browser: builds and starts the real auth-core binary
# on a loopback port against a temporary SQLite file, creates an administrator with the CLI, seeds
# users, an organization and a membership through the signed Clerk webhook endpoint, then drives
# Debian's headless Chromium with playwright-core (console.mjs) through sign-in, users, audit trail,
# CSV export, API keys and sign-out. Screenshots go to tests/artifacts/browser/NN-name.png.
# Installs what is missing: Debian's chromium, the Node.js dependencies of tests/browser (npm ci).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$(pwd)"
here="$root/tests/browser"
chromium="${CHROMIUM:-/usr/bin/chromium}"

step() { printf '\n-- browser test: %s\n' "$*"; }

step "dependencies"
if [ ! -x "$chromium" ]; then
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
"$chromium" --version 2>/dev/null
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
fi
node --version
# npm ci unless node_modules already holds exactly the locked versions (npm's own record of them).
if ! node -e 'const a = require(process.argv[1]).packages, b = require(process.argv[2]).packages;
    for (const k of Object.keys(a)) if (k && (!b[k] || b[k].version !== a[k].version)) process.exit(1);' \
    "$here/package-lock.json" "$here/node_modules/.package-lock.json" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

step "cargo build --bin auth-core"
cargo build --quiet --bin auth-core
bin="${CARGO_TARGET_DIR:-$root/target}/debug/auth-core"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

random_b64() { node -e 'process.stdout.write(require("crypto").randomBytes(+process.argv[1]).toString("base64"))' "$1"; }
secret_key="$(node -e 'process.stdout.write(require("crypto").randomBytes(20).toString("hex"))')"  # 40 chars
webhook_secret="whsec_$(random_b64 24)"
admin_email="admin@example.com"
admin_password="browser-test-$(node -e 'process.stdout.write(require("crypto").randomBytes(12).toString("hex"))')"

# The server and the CLI see only these variables (no .env, no developer settings leak in).
server_env=(
  PATH="$PATH"
  DATABASE_URL="$work/auth-core.sqlite3"
  SECRET_KEY="$secret_key"
  CLERK_WEBHOOK_SECRET="$webhook_secret"
  CLERK_JWT_KEY="$(cat "$root/tests/fixtures/keys/rsa-2048-a.pub.pem")"
)

step "administrator $admin_email"
printf '%s\n' "$admin_password" | (cd "$work" && env -i "${server_env[@]}" "$bin" admin create --email "$admin_email")

step "auth-core serve"
# exec: $! is the server itself, so the trap stops it. It prints "auth-core listening on http://…"
# once it listens.
(cd "$work" && exec env -i "${server_env[@]}" "$bin" serve --bind 127.0.0.1:0 --workers 1 >"$work/stdout" 2>"$work/stderr") &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base="$(sed -n 's/^auth-core listening on //p' "$work/stdout" 2>/dev/null | head -n 1 || true)"
  [ -n "$base" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "auth-core did not start:"; cat "$work/stderr"; exit 1
fi
echo "auth-core at $base"

step "seeding through POST /api/auth/webhooks/clerk"
CLERK_WEBHOOK_SECRET="$webhook_secret" node "$here/seed.mjs" "$base"

step "console in headless Chromium"
set +e
CHROMIUM="$chromium" ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
  ARTIFACTS="$root/tests/artifacts/browser" node "$here/console.mjs" "$base"
status=$?
set -e
if grep -q 'panicked' "$work/stderr"; then
  echo "the server panicked:"; grep -B2 -A5 'panicked' "$work/stderr"; status=1
fi
if [ "$status" != 0 ]; then
  echo "browser test FAILED (server log tail below; screenshots in tests/artifacts/browser/)"
  tail -n 40 "$work/stderr"
fi
exit "$status"
