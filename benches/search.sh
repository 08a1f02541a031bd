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
# shellcheck source=benches/profile.sh
. benches/profile.sh

log() { echo "[search.sh] $*" >&2; }
# shellcheck source=benches/world.sh
. benches/world.sh

# --- the benchmark ---------------------------------------------------------------------
log "building search-bench (release)"
cargo build --release -p search-bench
log "running the benchmark"
# mimalloc keeps freed memory as long as `mosaic serve` has it keep it (PURGE_DELAY_MS in
# api/src/allocator.rs), so the index is measured under the service's allocator settings.
DATABASE_URL="$url" BENCH_PROFILE="$profile" MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:-10000}" \
    target/release/search-bench
