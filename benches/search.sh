#!/usr/bin/env bash
# The search benchmark of the indexer issue: Mosaic's offer index against PostgreSQL
# full-text (GIN tsvector) + earthdistance (GiST) search over the same offers. Writes
# the section "## Search (indexer issue)" of benches/RESULTS.md.
#
#   benches/search.sh [--profile ci|demo|bench] [--seed N] [--queries N] [--pg-rebuild]
#
# 1. makes sure PostgreSQL has the cube and earthdistance extensions (installing
#    postgresql-contrib if they are missing),
# 2. seeds the profile's world (`mosaic seed`, release build) into a dedicated database,
#    or reuses it when a previous run seeded it completely,
# 3. builds and runs the benchmark binary (benches/search/, release build).
#
# Environment: MOSAIC_BENCH_PROFILE (default bench), MOSAIC_BENCH_SEED (42),
# MOSAIC_BENCH_PG (server URL without database, default postgres://postgres@127.0.0.1:5432),
# MOSAIC_BENCH_DB (database name, default mosaic_bench for bench, mosaic_bench_<profile>
# otherwise), and the binary's BENCH_* variables (see benches/search/src/main.rs).
# Seeding `bench` (1M offers, 1M users, 10M bookings) takes a while; it happens once.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${MOSAIC_BENCH_PROFILE:-bench}"
seed="${MOSAIC_BENCH_SEED:-42}"
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --profile=*) profile="${1#*=}"; shift ;;
        --seed) seed="$2"; shift 2 ;;
        --seed=*) seed="${1#*=}"; shift ;;
        --queries) export BENCH_QUERIES="$2"; shift 2 ;;
        --queries=*) export BENCH_QUERIES="${1#*=}"; shift ;;
        --pg-rebuild) export BENCH_PG_REBUILD=1; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$profile" in
    ci|demo|bench) ;;
    *) echo "unknown profile $profile: expected ci, demo or bench" >&2; exit 2 ;;
esac

server="${MOSAIC_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
server="${server%/}"
if [ "$profile" = bench ]; then default_db=mosaic_bench; else default_db="mosaic_bench_$profile"; fi
db="${MOSAIC_BENCH_DB:-$default_db}"
url="$server/$db"
log() { echo "[search.sh] $*" >&2; }
psql_db() { psql "$url" -X -v ON_ERROR_STOP=1 -qAt "$@"; }

command -v psql >/dev/null || { echo "psql is needed (apt-get install postgresql-client)" >&2; exit 1; }
psql "$server/postgres" -X -qAt -c 'SELECT 1' >/dev/null \
    || { echo "PostgreSQL does not answer at $server" >&2; exit 1; }

# --- the database and its extensions -------------------------------------------------
create_db() {
    if [ -z "$(psql "$server/postgres" -X -qAt -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        log "creating database $db"
        psql "$server/postgres" -X -v ON_ERROR_STOP=1 -q -c "CREATE DATABASE \"$db\""
    fi
}
create_db

extensions() {
    psql_db -c 'CREATE EXTENSION IF NOT EXISTS cube' -c 'CREATE EXTENSION IF NOT EXISTS earthdistance' 2>/dev/null
}
if ! extensions; then
    log "cube/earthdistance missing: installing postgresql-contrib"
    sudo_="" ; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get update -qq
    $sudo_ apt-get install -y -qq postgresql-contrib
    extensions || { echo "cannot create the earthdistance extension in $db" >&2; exit 1; }
fi

# --- the world -------------------------------------------------------------------------
log "building mosaic (release)"
cargo build --release --bin mosaic

marker_ok() {
    [ "$(psql_db -c "SELECT to_regclass('mosaic_bench_seeded') IS NOT NULL")" = t ] &&
        [ -n "$(psql_db -c "SELECT 1 FROM mosaic_bench_seeded WHERE profile = '$profile' AND seed = $seed")" ]
}
offers_count() {
    if [ "$(psql_db -c "SELECT to_regclass('offers') IS NOT NULL")" = t ]; then
        psql_db -c 'SELECT count(*) FROM offers'
    else
        echo 0
    fi
}
mark_seeded() {
    psql_db -c "CREATE TABLE IF NOT EXISTS mosaic_bench_seeded (profile TEXT NOT NULL, seed BIGINT NOT NULL, seeded_at TIMESTAMPTZ NOT NULL DEFAULT now())" \
        -c "INSERT INTO mosaic_bench_seeded (profile, seed) VALUES ('$profile', $seed)"
}

if marker_ok; then
    log "reusing the $profile world (seed $seed) in $db: $(offers_count) offers"
else
    if [ "$(offers_count)" != 0 ]; then
        # Offers but no marker: a seed that did not finish, or another world.
        log "$db holds offers but no completed '$profile' seed $seed: recreating it"
        psql "$server/postgres" -X -v ON_ERROR_STOP=1 -q -c "DROP DATABASE \"$db\" WITH (FORCE)"
        create_db
        extensions
    fi
    log "seeding profile $profile (seed $seed) into $db"
    DATABASE_URL="$url" target/release/mosaic seed --profile "$profile" --seed "$seed"
    mark_seeded
fi

# --- the benchmark ---------------------------------------------------------------------
log "building search-bench (release)"
cargo build --release -p search-bench
log "running the benchmark"
DATABASE_URL="$url" BENCH_PROFILE="$profile" target/release/search-bench
