#!/usr/bin/env bash
# Builds `mosaic` with profile-guided optimisation (PGO) for the load test: an instrumented
# build serves a training load over the load test's world, and LLVM's profile of what it ran
# guides a second release build, which lays out and inlines the code the feeds, searches
# and bookings take. `benches/load.sh --pgo` then serves it.
#
#   benches/pgo.sh [--profile ci|demo|bench] [--requests N] [--if-stale]
#
# Run benches/load.sh once first: this reuses its world, taste model and index
# (target/load-PROFILE, bench by default). `benches/load.sh --pgo` runs this itself. Steps:
# 1. installs rustup's llvm-tools (llvm-profdata) when missing,
# 2. builds the instrumented `mosaic` (target/pgo/gen, a release build of its own),
# 3. serves with it on a copy of the index and sends it N requests of each family (5,000 by
#    default: feeds, pages 1–3, searches, offer details, bookings), drawn as the load test
#    draws its own but with another salt (benches/load/draw.sh), so the build is not trained
#    on the requests it is then measured with,
# 4. merges the profile and builds target/pgo/mosaic with it (target/pgo/use). The
#    profile's file is named by its hash, so a new training rebuilds every crate with it.
#
# Both builds start from scratch the first time: about twice the release build's time.
# --if-stale does nothing when target/pgo/mosaic was built by this script from the source
# as it is now for the same world: a training rebuilds every crate, as each profile differs
# from the last.
# Environment: MOSAIC_BENCH_PG / MOSAIC_BENCH_DB as in benches/world.sh; MOSAIC_BENCH_SEED
# (42); PGO_PORT (8093).
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${MOSAIC_BENCH_PROFILE:-bench}"
requests=5000
if_stale=no
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile="$2"; shift 2 ;;
        --requests) requests="$2"; shift 2 ;;
        --if-stale) if_stale=yes; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

# shellcheck source=benches/profile.sh
. benches/profile.sh

log() { echo "[pgo.sh] $*" >&2; }
seed="${MOSAIC_BENCH_SEED:-42}"
pgo=$(realpath -m target/pgo)
# What the build is made from: the world it is trained on and the tracked files as they
# are (blobs staged, changes not), but for Markdown files, which load.sh itself rewrites
# (RESULTS.md), and the benchmark scripts other than the training's: a commit of text or
# of load.sh keeps the build. Outside a git checkout, stale.
source_state() {
    local code=(. ':(exclude)*.md' ':(exclude)benches')
    local training=(benches/pgo.sh benches/world.sh benches/load/draw.sh benches/load/replay.sh
        benches/load/replay.lua)
    echo "profile=$profile seed=$seed"
    {
        git ls-files -s -- "${code[@]}" && git ls-files -s -- "${training[@]}" &&
            git diff -- "${code[@]}" && git diff -- "${training[@]}"
    } 2>/dev/null | sha256sum
}
state=$(source_state)
if [ "$if_stale" = yes ] && [ -x "$pgo/mosaic" ] && [ "$(cat "$pgo/mosaic.source" 2>/dev/null)" = "$state" ] \
    && git rev-parse HEAD >/dev/null 2>&1; then
    log "$pgo/mosaic is built from this source for this world: kept"
    exit 0
fi
# shellcheck source=benches/world.sh
. benches/world.sh
# shellcheck source=benches/load/draw.sh
. benches/load/draw.sh
# shellcheck source=benches/load/replay.sh
. benches/load/replay.sh

load=target/load-$profile
for f in "$load/model.bin" "$load/index/meta.json"; do
    [ -e "$f" ] || { echo "$f is missing: run benches/load.sh first" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

host=$(rustc -vV | awk '/^host:/ {print $2}')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    log "installing llvm-tools (rustup component)"
    rustup component add llvm-tools
fi

rm -rf "$pgo/index" "$pgo/requests"
mkdir -p "$pgo/requests"
log "building the instrumented mosaic"
RUSTFLAGS="-Cprofile-generate=$pgo/raw" CARGO_TARGET_DIR="$pgo/gen" \
    cargo build --release --bin mosaic
# The build scripts and procedural macros the build ran are instrumented too, and wrote
# profiles of their own, which would mix their counts of shared crates into the server's.
rm -rf "$pgo/raw"

port="${PGO_PORT:-8093}"
base="http://127.0.0.1:$port"
if curl -s -o /dev/null "$base/health"; then
    echo "something already listens on 127.0.0.1:$port (PGO_PORT)" >&2
    exit 1
fi
cp -r "$load/index" "$pgo/index"
DATABASE_URL="$url" RUST_LOG=warn "$pgo/gen/release/mosaic" serve --addr "127.0.0.1:$port" \
    --index-dir "$pgo/index" --model "$load/model.bin" >"$pgo/server.log" 2>&1 &
server_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true' EXIT
until curl -fs "$base/ready" >/dev/null 2>&1; do
    kill -0 "$server_pid" 2>/dev/null || { echo "mosaic serve died: see $pgo/server.log" >&2; exit 1; }
    sleep 0.2
done
token=$(DATABASE_URL="$url" target/release/mosaic token create --role admin | awk '{w=$NF} END {print w}')
draw_requests "$pgo/requests" "$requests" $((seed + 1))
head -n "$requests" "$pgo/requests/booking.tsv" > "$pgo/requests/booking-train.tsv"
for family in feed search offer booking-train; do
    file="$pgo/requests/$family.tsv"
    log "training: $family ($(wc -l < "$file") requests)"
    replay "$base" "$file" "$token" 16 0 "$pgo/done" "$pgo/wrk-$family.out"
done
# The profile is written as the server exits.
kill -TERM "$server_pid"
wait "$server_pid" || true
trap - EXIT
# The training's bookings leave dead rows, as a load run's do, and the next load run may
# follow at once (load.sh --pgo).
log "vacuuming $db"
psql_db -c 'VACUUM'

"$profdata" merge -o "$pgo/merged.profdata" "$pgo/raw"
hash=$(sha256sum "$pgo/merged.profdata" | cut -c1-16)
# Only the profile in use is kept: each is some 40 MB.
rm -f "$pgo"/profile-*.profdata
mv "$pgo/merged.profdata" "$pgo/profile-$hash.profdata"
log "building mosaic with the profile ($pgo/profile-$hash.profdata)"
RUSTFLAGS="-Cprofile-use=$pgo/profile-$hash.profdata" CARGO_TARGET_DIR="$pgo/use" \
    cargo build --release --bin mosaic
cp "$pgo/use/release/mosaic" "$pgo/mosaic"
echo "$state" > "$pgo/mosaic.source"
log "wrote $pgo/mosaic"
