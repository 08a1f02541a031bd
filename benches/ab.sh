#!/usr/bin/env bash
# Two builds of `mosaic`, measured side by side on feeds (or searches, or offer pages): how the figures of
# benches/RESULTS.md ("End-to-end load") and benches/LOAD-HISTORY.md (the tables of changes)
# are taken.
#
#   benches/ab.sh BIN_A BIN_B [--rounds R] [--feeds N] [--same M] [--family feed|search|offer]
#
# Run benches/load.sh once first: this reuses its world, taste model, index and feed file
# (target/load-bench). Both builds serve at once, A on 127.0.0.1:8091 and B on :8092, each
# on its own copy of the index, so they meet the same machine, the same PostgreSQL and the
# same page cache. Each first serves feeds 1–1,000 of the load file and one pass of feeds
# 1,001–1,000+N, unmeasured: the first pass of a batch warms PostgreSQL's cache for
# whichever build comes second, which made the build served first use 15–25 % more CPU
# when each round drew new feeds. Then R rounds (6 by default) replay the same N feeds
# (2,000) through wrk, A first in odd rounds and B first in even ones. Per round and build:
# CPU per feed of the server and of all PostgreSQL processes (/proc/PID/stat), feeds/s and
# wrk's p99; then the medians. The machine drifts by as much as a change between pairs of
# builds, so only builds measured in the same run are compared.
#
# With --same M, the first M feeds' answers of both builds are compared byte for byte
# first (a change meant to keep every page as it was). With --family search or offer, the
# same is done with the load file's searches or offer pages instead of its feeds (N of them
# a round).
#
# Environment: MOSAIC_BENCH_PG / MOSAIC_BENCH_DB as in benches/world.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: benches/ab.sh BIN_A BIN_B [--rounds R] [--feeds N] [--same M] [--family feed|search|offer]" >&2; exit 2; }
[ $# -ge 2 ] || usage
bin_a=$(realpath "$1") bin_b=$(realpath "$2")
shift 2
rounds=6 feeds=2000 same=0 family=feed
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --feeds) feeds="$2"; shift 2 ;;
        --same) same="$2"; shift 2 ;;
        --family) family="$2"; shift 2 ;;
        *) usage ;;
    esac
done
case "$family" in feed | search | offer) ;; *) usage ;; esac
for b in "$bin_a" "$bin_b"; do [ -x "$b" ] || { echo "$b is not an executable" >&2; exit 2; }; done

server="${MOSAIC_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
url="${server%/}/${MOSAIC_BENCH_DB:-mosaic_bench}"
load=target/load-bench
requests="$load/$family.tsv"
for f in "$load/model.bin" "$requests" "$load/index/meta.json"; do
    [ -e "$f" ] || { echo "$f is missing: run benches/load.sh first" >&2; exit 1; }
done
[ "$(wc -l < "$requests")" -ge $((1000 + feeds)) ] ||
    { echo "$requests holds fewer than $((1000 + feeds)) requests" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

work=target/ab
rm -rf "$work"
mkdir -p "$work"
cp -r "$load/index" "$work/index-a"
cp -r "$load/index" "$work/index-b"
head -n 1000 "$requests" > "$work/warm.tsv"
sed -n "1001,$((1000 + feeds))p" "$requests" > "$work/round.tsv"

pids=()
stop() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; }
trap stop EXIT
serve() { # binary port index
    DATABASE_URL="$url" RUST_LOG=warn "$1" serve --addr "127.0.0.1:$2" --index-dir "$3" \
        --model "$load/model.bin" >>"$work/server-$2.log" 2>&1 &
    pids+=($!)
}
serve "$bin_a" 8091 "$work/index-a"
serve "$bin_b" 8092 "$work/index-b"
for port in 8091 8092; do
    until curl -fs "127.0.0.1:$port/ready" >/dev/null 2>&1; do
        for p in "${pids[@]}"; do
            kill -0 "$p" 2>/dev/null || { echo "a server died: see $work/server-*.log" >&2; exit 1; }
        done
        sleep 0.2
    done
done
token=$(DATABASE_URL="$url" "$bin_a" token create --role admin | awk '{w=$NF} END {print w}')

if [ "$same" -gt 0 ]; then
    head -n "$same" "$requests" | cut -f2 > "$work/same.txt"
    python3 - "$work/same.txt" <<'PY'
import sys, urllib.request
paths = open(sys.argv[1]).read().split()
differ = [p for p in paths
          if urllib.request.urlopen("http://127.0.0.1:8091" + p).read()
          != urllib.request.urlopen("http://127.0.0.1:8092" + p).read()]
print(f"same answers: {len(paths) - len(differ)} of {len(paths)} requests")
for p in differ[:5]:
    print(f"  differs: {p}")
PY
fi

# shellcheck source=benches/load/replay.sh
. benches/load/replay.sh
drive() { # port file -> wrk's JSON line (benches/load/replay.lua)
    replay "http://127.0.0.1:$1" "$2" "$token" 16 0 "$work/done" "$work/wrk.out" || true
    grep '^{' "$work/wrk.out"
}
# shellcheck source=benches/ticks.sh
. benches/ticks.sh
for port in 8091 8092; do
    drive "$port" "$work/warm.tsv" >/dev/null
    drive "$port" "$work/round.tsv" >/dev/null
done
hz=$(getconf CLK_TCK)
: > "$work/rounds.tsv"
for r in $(seq 1 "$rounds"); do
    order="A B"; [ $((r % 2)) -eq 0 ] && order="B A"
    for build in $order; do
        if [ "$build" = A ]; then pid=${pids[0]} port=8091; else pid=${pids[1]} port=8092; fi
        # PostgreSQL's processes of this round (the server and its children, all named
        # `postgres`): its backends may have come since the last.
        mapfile -t pg < <(pgrep -x postgres || true)
        s0=$(ticks "$pid"); g0=$(ticks "${pg[@]}"); t0=$(date +%s.%N)
        json=$(drive "$port" "$work/round.tsv")
        t1=$(date +%s.%N); s1=$(ticks "$pid"); g1=$(ticks "${pg[@]}")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$build" $((s1 - s0)) $((g1 - g0)) "$t0" "$t1" "$json" \
            >> "$work/rounds.tsv"
    done
done
python3 - "$work/rounds.tsv" "$feeds" "$hz" "$family" <<'PY'
import json, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
feeds, hz, unit = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
units = "searches" if unit == "search" else unit + "s"
per = {"A": [], "B": []}
for r, build, server, pg, t0, t1, js in rows:
    w = json.loads(js)
    fig = (int(server) * 1e3 / hz / feeds, int(pg) * 1e3 / hz / feeds, feeds / (float(t1) - float(t0)),
           w["p99_ms"])
    per[build].append(fig)
    print(f"round {r} {build}: server {fig[0]:.3f} ms/{unit}, PostgreSQL {fig[1]:.3f} ms/{unit}, "
          f"{fig[2]:.0f} {units}/s, p99 {w['p99_ms']:.1f} ms, {w['errors']} errors")
def fewer(i):
    return sum(b[i] < a[i] for a, b in zip(per["A"], per["B"]))
for build in "AB":
    s, g, f, p99 = zip(*per[build])
    print(f"{build}: server {statistics.median(s):.3f} ms/{unit} (median), PostgreSQL "
          f"{statistics.median(g):.3f} ms/{unit}, {min(f):.0f}–{max(f):.0f} {units}/s, "
          f"p99 {statistics.median(p99):.1f} ms (median)")
n = len(per["B"])
print(f"B used less server CPU than A in {fewer(0)} of {n} rounds, less PostgreSQL CPU in "
      f"{fewer(1)}, had a lower p99 in {fewer(3)}")
PY
