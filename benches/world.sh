# Sourced by the benchmark scripts: makes sure PostgreSQL holds the seeded world of
# `$profile` (seed `$seed`) in a dedicated database, seeding it with the release `mosaic`
# only when no completed seed of that world is there, and sets `$url` to that database.
#
# Environment: MOSAIC_BENCH_PG (server URL without database, default
# postgres://postgres@127.0.0.1:5432), MOSAIC_BENCH_DB (database name, default mosaic_bench
# for bench, mosaic_bench_<profile> otherwise). Expects `$profile` and `$seed` to be set.
# The seed is timed (wall clock and peak memory) into target/seed-$profile.time.

server="${MOSAIC_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
server="${server%/}"
if [ "$profile" = bench ]; then default_db=mosaic_bench; else default_db="mosaic_bench_$profile"; fi
db="${MOSAIC_BENCH_DB:-$default_db}"
url="$server/$db"
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
    mkdir -p target
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -v -o "target/seed-$profile.time")
    "${timer[@]}" env DATABASE_URL="$url" target/release/mosaic seed --profile "$profile" --seed "$seed"
    [ -f "target/seed-$profile.time" ] &&
        log "seeded in $(grep -F 'Elapsed (wall clock)' "target/seed-$profile.time" | awk '{print $NF}')"
    # Millions of freshly inserted rows wake autovacuum, which then shares the cores with
    # whatever benchmark comes next: a load run minutes after a seed had its feed p99
    # multiplied by four and its booking p99 by sixteen. Vacuum now, before anything is
    # measured; FREEZE spares the world the anti-wraparound pass later. No ANALYZE: the
    # seed ends with one (engine/src/seeding.rs).
    log "vacuuming $db"
    vacuum_start=$(date +%s)
    psql_db -c 'VACUUM (FREEZE)'
    log "vacuumed in $(($(date +%s) - vacuum_start)) s"
    mark_seeded
fi

