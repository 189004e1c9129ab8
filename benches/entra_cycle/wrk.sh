#!/usr/bin/env bash
# Raw request rates with wrk (1 thread, 8 connections, 10 s each) against the release server:
#   1. POST /Users with a unique Entra-shaped user per request (tenant wpost, starts empty)
#   2. GET /Users?filter=userName eq "…" of random existing users (tenant wread, 2,000 users)
#
#   benches/entra_cycle/wrk.sh                                      # SQLite file in a temp dir
#   benches/entra_cycle/wrk.sh postgres://postgres@127.0.0.1:5432   # fresh database, dropped after
#
# Needs wrk (apt-get install -y wrk) and curl; psql for PostgreSQL. Honours CARGO_TARGET_DIR,
# PORT (default 18181), DURATION (default 10s), CONNECTIONS (default 8), DATABASE_POOL_SIZE,
# and ENTRADA_BIN (another build's entrada binary, for A/B runs in alternation).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
PORT=${PORT:-18181}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-8}
cargo bench --bench entra_cycle --no-run
BIN=${ENTRADA_BIN:-$TARGET/release/entrada}
WORK=$(mktemp -d)
PGDB=""
PID=""
if [ -n "${1:-}" ]; then
  PGDB=entrada_wrk_$$
  psql -q "$1/postgres" -c "CREATE DATABASE $PGDB"
  DB="$1/$PGDB"
else
  DB=$WORK/entrada.db
fi
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -n "$PGDB" ]; then psql -q "$1/postgres" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" || true; fi
  rm -rf "$WORK"
}
trap 'cleanup "${1:-}"' EXIT
export DATABASE_URL=$DB BIND=127.0.0.1:$PORT PUBLIC_URL=http://127.0.0.1:$PORT RUST_LOG=warn
"$BIN" migrate >/dev/null
for sc in wpost wread; do
  "$BIN" company create --shortcode $sc --name "wrk $sc" --enable-entra >/dev/null
  echo "$sc $("$BIN" token generate --company $sc | sed -n 's/^Secret token: //p')" >>"$WORK/tokens"
done
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
healthy=""
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && { healthy=1; break; }; sleep 0.1; done
[ -n "$healthy" ] || { echo "the server did not answer /healthz; its log:"; cat "$WORK/server.log"; exit 1; }

echo "== seeding tenant wread with 2,000 users (entra_cycle --url)"
grep '^wread ' "$WORK/tokens" >"$WORK/wread.tokens"
cargo bench --bench entra_cycle -- --url "http://127.0.0.1:$PORT" --tokens-file "$WORK/wread.tokens" \
  --tenants 1 --users 2000 --read-users 2000 --read-requests 2000 --skip incremental --tag wrk --server-pid "$PID"

echo "== wrk POST /Users (unique users), 1 thread, $CONNECTIONS connections, $DURATION"
TOKEN=$(awk '$1=="wpost"{print $2}' "$WORK/tokens") SC=wpost \
  wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/entra_cycle/wrk_post_users.lua "http://127.0.0.1:$PORT"

echo "== wrk GET /Users?filter=userName eq (2,000 users), 1 thread, $CONNECTIONS connections, $DURATION"
TOKEN=$(awk '$1=="wread"{print $2}' "$WORK/tokens") SC=wread TAG=wrk USERS=2000 \
  wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/entra_cycle/wrk_filter_users.lua "http://127.0.0.1:$PORT"

echo "== server peak RSS: $(grep VmHWM "/proc/$PID/status")"
echo "== server log WARN/ERROR lines: $(grep -c -E 'WARN|ERROR' "$WORK/server.log" || true)"
