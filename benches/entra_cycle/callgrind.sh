#!/usr/bin/env bash
# Instructions per filter request, counted by callgrind: a measure of the server's CPU work
# per request that does not move with the machine's speed or load, for before/after checks.
#
#   benches/entra_cycle/callgrind.sh [SECONDS]     # default 20 s of wrk filter traffic
#
# Seeds a 2,000-user tenant with the release server, restarts it under
# `valgrind --tool=callgrind` with instrumentation off, warms it up for 5 s, then counts the
# instructions of every thread while wrk sends `GET /Users?filter=userName eq "…"` (1 thread,
# 8 connections). Prints total instructions, requests answered and instructions per request;
# keeps the callgrind output for callgrind_annotate. Needs valgrind, wrk and curl.
# ENTRADA_BIN names another build's entrada binary (A/B runs); CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${CARGO_TARGET_DIR:-target}
PORT=${PORT:-18183}
SECONDS_COUNTED=${1:-20}
cargo bench --bench entra_cycle --no-run
BIN=${ENTRADA_BIN:-$TARGET/release/entrada}
WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -INT "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -f "$WORK"/entrada.db*   # the callgrind output stays for callgrind_annotate
}
trap cleanup EXIT
export DATABASE_URL=$WORK/entrada.db BIND=127.0.0.1:$PORT PUBLIC_URL=http://127.0.0.1:$PORT RUST_LOG=warn
wait_healthy() {
  for _ in $(seq 300); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.2; done
  echo "the server did not answer /healthz; its log:"; cat "$WORK/server.log"; exit 1
}
"$BIN" migrate >/dev/null
"$BIN" company create --shortcode wread --name "callgrind" --enable-entra >/dev/null
TOKEN=$("$BIN" token generate --company wread | sed -n 's/^Secret token: //p')
echo "wread $TOKEN" >"$WORK/tokens"
"$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
wait_healthy
cargo bench --bench entra_cycle -- --url "http://127.0.0.1:$PORT" --tokens-file "$WORK/tokens" \
  --tenants 1 --users 2000 --read-users 2000 --read-requests 2000 --skip incremental --tag wrk --server-pid "$PID" | tail -1
kill -TERM "$PID"; wait "$PID" || true

valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out" "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
wait_healthy
filter() {
  TOKEN=$TOKEN SC=wread TAG=wrk USERS=2000 wrk -t1 -c8 -d"$1" -s benches/entra_cycle/wrk_filter_users.lua "http://127.0.0.1:$PORT"
}
filter 5s >/dev/null
callgrind_control -i on "$PID" >/dev/null
filter "${SECONDS_COUNTED}s" | tee "$WORK/wrk.txt" | grep -E "requests in|without"
callgrind_control -i off "$PID" >/dev/null
callgrind_control -d "$PID" >/dev/null
kill -INT "$PID"; wait "$PID" || true
PID=""
OUT=$WORK/callgrind.out.1   # the dump taken above (callgrind.out itself is the empty exit dump)
TOTAL=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ && !t {gsub(",", "", $1); t = $1} END {print t}')
REQUESTS=$(awk '/requests in/{print $1; exit}' "$WORK/wrk.txt")
echo "instructions: $TOTAL   requests: $REQUESTS   instructions per request: $((TOTAL / REQUESTS))"
echo "callgrind output (for callgrind_annotate): $OUT"
