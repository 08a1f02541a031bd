#!/usr/bin/env bash
# The end-to-end load test of the performance issue: `mosaic serve` (release) on
# 127.0.0.1 over the `bench` world in PostgreSQL, driven by wrk with a fixed number of
# requests per phase. Writes the section "## End-to-end load (performance issue)" of
# benches/RESULTS.md.
#
#   benches/load.sh [--profile ci|demo|bench] [--seed N] [--requests N] [--connections C]
#                   [--bin PATH | --pgo]
#
# --bin serves another build of `mosaic` than target/release/mosaic; the seed, the taste
# model and the token still use the release build. --pgo serves the build benches/pgo.sh
# optimises with a profile of this load, the one replicas should run (README): made after
# the first start below, which builds the index it trains on, and remade only when the
# source has changed since (pgo.sh --if-stale); every start after the first is its own.
#
# 1. seeds the profile's world into PostgreSQL, or reuses it (benches/world.sh), and vacuums it,
# 2. learns the world's taste model once (`mosaic profiles build`, timed) and reuses it,
# 3. starts `mosaic serve` twice: the first start builds the on-disk index (or catches an
#    existing one up), the second reopens it — the start-up time reported (with --pgo, a
#    start of the PGO build between them catches the index up with the training's bookings),
# 4. draws requests from the store (varied users, places, words, offers; bookings that
#    should all succeed: distinct users with credit left, physical stocks with places),
# 5. reads the world's tables and indexes (pg_prewarm) and the server's index files into
#    the page cache, when they fit in half the memory available,
# 6. runs wrk (installed from Debian's packages if missing) once per family — feed (pages
#    1–3), search, offer detail, bookings — then once over a shuffled mix of all four,
#    each request sent exactly once, with feeds and searches again saturating 8, 4 and 2
#    connections after their own runs; then feed, search and bookings again, each at a
#    fixed offered rate of a quarter, a half and three quarters of what its own run
#    reached (latency at a given load, where the runs before measure it at saturation),
# 7. reads the server's peak RSS (VmHWM) and its per-stage feed histograms
#    (`mosaic_feed_stage_seconds`, scraped from /metrics around the feed run), and writes
#    the figures to RESULTS.md.
#
# Environment: MOSAIC_BENCH_PG / MOSAIC_BENCH_DB as in benches/world.sh; LOAD_PORT (8089).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${MOSAIC_BENCH_PROFILE:-bench}"
seed="${MOSAIC_BENCH_SEED:-42}"
requests=20000
connections=16
bin=target/release/mosaic
pgo=no
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        --pgo) pgo=yes; shift ;;
        -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
# shellcheck source=benches/profile.sh
. benches/profile.sh
if [ "$pgo" = yes ] && [ "$bin" != target/release/mosaic ]; then
    echo "--pgo and --bin choose the build both: give one" >&2
    exit 2
fi

log() { echo "[load.sh] $*" >&2; }
# shellcheck source=benches/ticks.sh
. benches/ticks.sh
# shellcheck source=benches/world.sh
. benches/world.sh
[ -x "$bin" ] || { echo "$bin is not an executable (--bin)" >&2; exit 2; }
# Each run's bookings leave dead rows in deposits and stocks (some 40,000 of each after two
# runs), which the next run's bookings update again, and autovacuum may wake in the middle
# of it: every run starts from a vacuumed world instead. A few seconds, as the seed's
# FREEZE left little else to visit.
log "vacuuming $db"
psql_db -c 'VACUUM'

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    sudo_="" ; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
    $sudo_ apt-get install -y -qq wrk >/dev/null
fi

port="${LOAD_PORT:-8089}"
base="http://127.0.0.1:$port"
work="target/load-$profile"
index_dir="$work/index"
mkdir -p "$work"

# --- the taste model ----------------------------------------------------------------------
# The feed runs on the embeddings of the world it serves: learnt once per world by
# `mosaic profiles build` (timed: the ranking issue's build at this scale, store read
# included), reused after.
model="$work/model.bin"
if [ ! -f "$model" ]; then
    log "learning the taste model (mosaic profiles build)"
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -v -o "$work/profiles.time")
    "${timer[@]}" env DATABASE_URL="$url" target/release/mosaic profiles build --out "$model.tmp"
    mv "$model.tmp" "$model"
fi

# --- the server ---------------------------------------------------------------------------
server_pid=""
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" || true
    fi
    server_pid=""
}
trap stop_server EXIT

# The seconds since `date +%s.%N` gave $1, with $2 decimals.
seconds_since() {
    awk -v a="$1" -v b="$(date +%s.%N)" -v d="$2" 'BEGIN {printf "%." d "f", b - a}'
}

# Runs the command `$2...` every $1 seconds until it succeeds; stops the script if the
# server died meanwhile.
poll() {
    local every=$1
    shift
    until "$@"; do
        kill -0 "$server_pid" 2>/dev/null || { echo "mosaic serve died: see $work/server.log" >&2; exit 1; }
        sleep "$every"
    done
}

# Whether the server answers (a build without /ready answers /health).
answering() {
    curl -fs "$base/ready" >/dev/null 2>&1 || curl -fs "$base/health" >/dev/null 2>&1
}

# Whether the server has no index rewrite left due (a build without the gauge has none).
rewrite_done() {
    curl -fs "$base/metrics" | awk '$1 == "mosaic_index_rewrite_due" && $2 != 0 {due = 1} END {exit due}'
}

# Starts the server and sets `ready_s` to the seconds until /ready answers 200, then
# `rewrite_s` to the seconds after that until the server has done the rewrite of a large
# index segment that fell due while it was stopped (0 when none was), which it leaves to a
# task once it serves: the runs, and the next start, find the index compact.
start_server() {
    local started
    if curl -s -o /dev/null "$base/health"; then
        echo "something already listens on 127.0.0.1:$port (LOAD_PORT)" >&2
        exit 1
    fi
    started=$(date +%s.%N)
    DATABASE_URL="$url" RUST_LOG=warn "$bin" serve --addr "127.0.0.1:$port" \
        --index-dir "$index_dir" --model "$model" >>"$work/server.log" 2>&1 &
    server_pid=$!
    poll 0.1 answering
    ready_s=$(seconds_since "$started" 2)
    rewrite_s=0
    rewrite_done && return
    started=$(date +%s.%N)
    poll 0.2 rewrite_done
    rewrite_s=$(seconds_since "$started" 2)
}

fresh_index=no
[ -d "$index_dir" ] || fresh_index=yes
log "first start (index: $([ $fresh_index = yes ] && echo build || echo reopen))"
start_server
first_start=$ready_s
stop_server
catch_up_s=""
if [ "$pgo" = yes ]; then
    MOSAIC_BENCH_SEED="$seed" benches/pgo.sh --profile "$profile" --if-stale
    bin=target/pgo/mosaic
    # A training books offers in the store behind this index's back: the next start
    # catches the index up before it is ready, and may rewrite a segment after. That start
    # is reported apart; the one reported as start-up reopens the index as it is, as
    # without --pgo.
    log "PGO build's first start (catching the index up with a training's bookings)"
    start_server
    catch_up_s=$ready_s
    stop_server
fi
log "second start (reopening the index)"
start_server
start_s=$ready_s
start_rewrite_s=$rewrite_s
log "ready in ${start_s}s (then a rewrite due: ${start_rewrite_s}s)"

token=$(DATABASE_URL="$url" target/release/mosaic token create --role admin | awk '{w=$NF} END {print w}')

# --- the requests -------------------------------------------------------------------------
# Deterministic draws (benches/load/draw.sh), salted with the seed.
# shellcheck source=benches/load/draw.sh
. benches/load/draw.sh
# shellcheck source=benches/load/replay.sh
. benches/load/replay.sh
n=$requests
draw_requests "$work" "$n" "$seed"
# --- the runs -------------------------------------------------------------------------------
# The mix, as the app sends it: per feed, about one search (0.8), an offer detail (0.4)
# and a booking (0.1), shuffled deterministically, the feeds keeping their order (a user's
# page 2 after their page 1). Bookings are never sent twice: of the booking file, the
# booking run books the first half (less the mix's share), the mix the next n/20, the
# paced runs the rest.
mix_share() { head -n "$2" "$work/$1.tsv" | tail -n "$3"; }
drawn=$(wc -l < "$work/booking.tsv")
half=$((drawn < n ? drawn / 2 : n))
in_mix=$((n / 20 < half / 2 ? n / 20 : half / 2))
head -n $((half - in_mix)) "$work/booking.tsv" > "$work/booking-only.tsv"
head -n "$half" "$work/booking.tsv" | tail -n "$in_mix" > "$work/booking-mix.tsv"
tail -n +$((half + 1)) "$work/booking.tsv" > "$work/booking-paced.tsv"
mix_share feed "$n" $((n / 2)) > "$work/feed-mix.tsv"
{
    mix_share search "$n" $((n * 2 / 5))
    mix_share offer "$n" $((n / 5))
    cat "$work/booking-mix.tsv"
} > "$work/others-mix.tsv"
python3 - "$seed" "$work/feed-mix.tsv" "$work/others-mix.tsv" > "$work/mix.tsv" <<'PY'
import random, sys
feeds, others = (open(path).readlines() for path in sys.argv[2:4])
rng = random.Random(int(sys.argv[1]))
rng.shuffle(others)
slots = [True] * len(feeds) + [False] * len(others)
rng.shuffle(slots)
feeds, others = iter(feeds), iter(others)
sys.stdout.writelines(next(feeds) if is_feed else next(others) for is_feed in slots)
PY
wc -l "$work"/*.tsv >&2

# What ran beside the requests, read before and after each run: PostgreSQL's WAL position
# (in bytes) and how many checkpoints it has begun, the index compactions the server has
# finished with the seconds they took, and the offers its refreshes re-indexed (-1 for a
# build that does not count them), and the reads this machine's disks have completed (the
# store's pages in neither PostgreSQL's buffers nor the page cache: right after a seed, a
# feed's users came from the disk). A latency spike then has its suspects written next to it.
beside() {
    local pg index disk
    pg=$(psql_db -F ' ' -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
    index=$(curl -fs "$base/metrics" | awk '
        BEGIN {r = -1}
        $1 == "mosaic_index_compactions_total" {n = $2}
        $1 == "mosaic_index_compaction_seconds_total" {s = $2}
        $1 == "mosaic_index_reindexed_offers_total" {r = $2}
        END {print n + 0, s + 0, r}')
    # Whole devices only (partitions would count twice), not the kernel's virtual ones.
    disk=$(for d in /sys/block/*; do
        case "${d##*/}" in loop* | ram* | zram* | dm-* | md* | sr*) ;; *) cat "$d/stat" ;; esac
    done | awk '{r += $1} END {print r + 0}')
    echo "$pg $index $disk"
}
run() { # family file [offered requests/s] [connections] -> one JSON line
    local family=$1 file=$2 rate=${3:-0} conns=${4:-$connections}
    local wal0 checkpoints0 compactions0 seconds0 reindexed0 disk0 wal1 checkpoints1 compactions1 seconds1 reindexed1 disk1
    local server0 server1 pg0 pg1 pg
    # The CPU of the server and of PostgreSQL's processes (its backends, its writers), each
    # named `postgres`: what a request costs, wherever it waits.
    mapfile -t pg < <(pgrep -x postgres || true)
    log "wrk: $family ($(wc -l < "$file") requests, $conns connections$([ "$rate" -gt 0 ] && echo ", $rate/s"))"
    read -r wal0 checkpoints0 compactions0 seconds0 reindexed0 disk0 <<< "$(beside)"
    server0=$(ticks "$server_pid"); pg0=$(ticks "${pg[@]}")
    replay "$base" "$file" "$token" "$conns" "$rate" "$work/done" "$work/wrk.out"
    server1=$(ticks "$server_pid"); pg1=$(ticks "${pg[@]}")
    read -r wal1 checkpoints1 compactions1 seconds1 reindexed1 disk1 <<< "$(beside)"
    local reindexed=null
    [ "$reindexed0" -ge 0 ] && reindexed=$((reindexed1 - reindexed0))
    grep '^{' "$work/wrk.out" |
        sed "s/^{/{\"family\": \"$family\", \"offered\": $rate, \"connections\": $conns, \"wal_bytes\": $((wal1 - wal0)), \"checkpoints\": $((checkpoints1 - checkpoints0)), \"compactions\": $((compactions1 - compactions0)), \"compaction_s\": $(awk -v a="$seconds0" -v b="$seconds1" 'BEGIN {printf "%.3f", b - a}'), \"reindexed\": $reindexed, \"disk_reads\": $((disk1 - disk0)), \"server_cpu_s\": $(cpu_s $((server1 - server0))), \"pg_cpu_s\": $(cpu_s $((pg1 - pg0))), /"
}
# Each family at a quarter, a half and three quarters of the rate its own run reached, for
# about ten seconds each: the latency an app's requests meet at that load. Feeds and
# searches are sent again from the start of their files (the same work as the first time);
# bookings are new ones.
paced_seconds=10
# Connections of the sweep, and requests per step (a few seconds each).
sweep="8 4 2"
sweep_requests=$((n * 3 / 10))
reached() { # family -> requests/s of its saturated run
    python3 -c 'import json, sys
for r in map(json.loads, open(sys.argv[1])):
    if r["family"] == sys.argv[2] and not r["offered"] and r["connections"] == int(sys.argv[3]):
        print(int(r["requests"] / r["seconds"]))' "$work/results.jsonl" "$1" "$connections"
}
paced() { # family file -> JSON lines
    local family=$1 file=$2 full rate count
    full=$(reached "$family")
    for quarters in 1 2 3; do
        rate=$((full * quarters / 4))
        count=$((rate * paced_seconds))
        [ "$rate" -gt 0 ] || continue
        if [ "$count" -gt "$(wc -l < "$file")" ]; then
            log "not enough $family requests left for $rate/s: skipped"
            continue
        fi
        head -n "$count" "$file" > "$work/paced.tsv"
        tail -n +$((count + 1)) "$file" > "$work/paced-rest.tsv"
        # Bookings are consumed: the next rate takes the ones after.
        [ "$family" = booking ] && mv "$work/paced-rest.tsv" "$file"
        run "$family" "$work/paced.tsv" "$rate"
    done
}
# --- the page cache -------------------------------------------------------------------------
# A feed reads its user, their deposit and their history from PostgreSQL, whose 128 MB of
# shared buffers hold a sliver of a million users: the rest comes from the page cache, or
# from the disk. After a seed and its vacuum (which skips all-visible pages) the page cache
# held only 5 to 39 % of the feed's relations, and it did not keep them through the half
# hour between two runs: such runs read 1.7 to 2.0 blocks per feed from the disk, and
# measured the disk as much as the server. So every run first reads the world's tables and
# indexes (pg_prewarm, into the page cache) and the server's index files once, when they
# fit in half the memory available; the disk column says what was read all the same.
prewarm() { # -> "bytes seconds", or "bytes skipped" when the world is too big for it
    local store_bytes index_bytes available started
    local relations="FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'i', 't', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    psql_db -c 'CREATE EXTENSION IF NOT EXISTS pg_prewarm'
    store_bytes=$(psql_db -c "SELECT coalesce(sum(pg_relation_size(c.oid)), 0) $relations")
    index_bytes=$(du -sb "$index_dir" | awk '{print $1}')
    available=$(awk '/^MemAvailable:/ {print $2 * 1024}' /proc/meminfo)
    if [ $(((store_bytes + index_bytes) * 2)) -gt "$available" ]; then
        log "not reading the world ahead: $store_bytes + $index_bytes bytes, $available available"
        echo "$((store_bytes + index_bytes)) skipped"
        return
    fi
    log "reading the world into the page cache ($(((store_bytes + index_bytes) >> 20)) MiB)"
    started=$(date +%s.%N)
    psql_db -c "SELECT sum(pg_prewarm(c.oid, 'read')) $relations" > /dev/null
    find "$index_dir" -type f -exec cat {} + > /dev/null
    echo "$((store_bytes + index_bytes)) $(seconds_since "$started" 1)"
}
prewarmed=$(prewarm)
read -r prewarm_bytes prewarm_s <<< "$prewarmed"
# Warm the caches with a tenth of each family, unmeasured.
for f in feed search offer; do
    head -n $((n / 10)) "$work/$f.tsv" > "$work/warm-$f.tsv"
    run "warm-$f" "$work/warm-$f.tsv" > /dev/null
done
# The server's per-stage feed histograms before and after the feed run: their difference
# is where that run's feeds spent their time.
curl -fs "$base/metrics" > "$work/metrics-before-feed.txt"
{
    # Each family is run again right after its own run, saturating fewer connections: a
    # closed loop's latency is its connections over its rate, so these show how much of
    # the p99 is the queue of its connections, and what rate fewer keep up. The first
    # requests of its file again, the same work as the first time; before the bookings,
    # whose WAL sets off PostgreSQL's checkpoints, like the run they are compared with. Not
    # after the other family's run: feeds sent right after 20,000 searches cost the server
    # 13 to 52 % more CPU than just before them (memory faulted in again), which made
    # 8 connections, the first step, look slower than 4.
    for family in feed search; do
        run "$family" "$work/$family.tsv"
        if [ "$family" = feed ]; then
            curl -fs "$base/metrics" > "$work/metrics-after-feed.txt"
        fi
        head -n "$sweep_requests" "$work/$family.tsv" > "$work/sweep.tsv"
        for c in $sweep; do
            [ "$c" -lt "$connections" ] || continue
            run "$family" "$work/sweep.tsv" 0 "$c"
        done
    done
    run offer "$work/offer.tsv"
    run booking "$work/booking-only.tsv"
    run mix "$work/mix.tsv"
} > "$work/results.jsonl"
{
    paced feed "$work/feed.tsv"
    paced search "$work/search.tsv"
    paced booking "$work/booking-paced.tsv"
} >> "$work/results.jsonl"
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
stop_server
cat "$work/results.jsonl" >&2

python3 benches/load/report.py --results "$work/results.jsonl" --rss-kib "$rss_kib" \
    --start-s "$start_s" --start-rewrite-s "$start_rewrite_s" --first-start-s "$first_start" --fresh-index "$fresh_index" \
    --profile "$profile" --seed "$seed" --connections "$connections" --url "$url" \
    --bin "$bin" --pgo "$pgo" --prewarm-bytes "$prewarm_bytes" --prewarm-s "$prewarm_s" \
    ${catch_up_s:+--pgo-start-s "$catch_up_s"} \
    --profiles-time "$work/profiles.time" \
    --metrics-before "$work/metrics-before-feed.txt" --metrics-after "$work/metrics-after-feed.txt" \
    --out benches/RESULTS.md
log "wrote benches/RESULTS.md"
