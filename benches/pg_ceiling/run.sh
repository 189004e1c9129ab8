#!/usr/bin/env bash
# PostgreSQL's own ceiling for Entrada's initial cycle, with no Entrada server in the way.
#
# pgbench (a light C client) runs the statements the server sends per person of the initial
# cycle against a fresh database with Entrada's schema, so the rate it reaches is the most
# any server could get from this PostgreSQL on this machine for the same work:
#   initial_pair.sql  the userName filter (a miss) and the one-statement create, as sent
#   users_only.sql    the same without the lookup rows and the event (what a leaner schema
#                     could at best reach)
#   floor.sql         a trivial query and a one-column durable INSERT
# Each pgbench transaction is one person, i.e. two requests of the benchmark's initial cycle.
#
#   benches/pg_ceiling/run.sh                                   # postgres://postgres@127.0.0.1:5432
#   benches/pg_ceiling/run.sh postgres://user@host:5432         # another server
#
# Needs psql and pgbench (Debian: postgresql-client, postgresql-contrib). Honours DURATION
# (seconds per run, default 10), CLIENTS (default "4 16") and SCRIPTS (default
# "initial_pair users_only floor").
# The .sql files are the server's statements as captured on 2026-12-02: after a change to
# what the server sends (src/models/one_trip.rs), capture them again with log_statement.
set -euo pipefail
cd "$(dirname "$0")"
SERVER=${1:-postgres://postgres@127.0.0.1:5432}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-4 16}
DB=entrada_pg_ceiling_$$
psql -q "$SERVER/postgres" -c "CREATE DATABASE $DB"
trap 'psql -q "$SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
for up in ../../migrations/postgres/*/up.sql; do
  psql -q -v ON_ERROR_STOP=1 "$SERVER/$DB" -f "$up"
done
psql -q -v ON_ERROR_STOP=1 "$SERVER/$DB" <<'SQL'
INSERT INTO companies (shortcode, name, entra_enabled, created_at, updated_at)
SELECT 'b' || g, 'B' || g, true, now(), now() FROM generate_series(1, 20) g;
CREATE TABLE t (id BIGINT);
SQL
# Warm-up, then statistics: the server's statistics keeper does the same on a new database.
pgbench -n -M prepared -c 4 -j 1 -T 3 -f initial_pair.sql "$SERVER/$DB" >/dev/null
psql -q "$SERVER/$DB" -c ANALYZE
printf '%-18s %8s %14s %18s\n' script clients persons/s "requests/s (x2)"
for script in ${SCRIPTS:-initial_pair users_only floor}; do
  for clients in $CLIENTS; do
    out=$(pgbench -n -M prepared -c "$clients" -j 1 -T "$DURATION" -f "$script.sql" "$SERVER/$DB" 2>&1) ||
      { echo "pgbench failed on $script.sql:"; echo "$out"; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9]*\).*/\1/p' <<<"$out")
    printf '%-18s %8s %14s %18s\n' "$script" "$clients" "$tps" "$((tps * 2))"
  done
done
