"""Writes the section "## End-to-end load (performance issue)" of benches/RESULTS.md.

Called by benches/load.sh with the JSON lines wrk printed (benches/load/replay.lua), the
server's peak RSS and its start-up times; replaces the section if it is there, appends it
otherwise, and leaves the other sections alone.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess

HEADING = "## End-to-end load (performance issue)"

# family -> (p99 target in ms, requests/s target), from the performance issue.
TARGETS = {"feed": (15.0, 1500.0), "search": (10.0, None), "booking": (20.0, None)}


def machine():
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {mem_gib:.1f} GiB RAM, {platform.system()} {platform.release()}"


def postgres_version(url):
    try:
        out = subprocess.run(["psql", url, "-XAtc", "SHOW server_version"],
                             capture_output=True, text=True, check=True).stdout
        return "PostgreSQL " + out.strip().split()[0]
    except (OSError, subprocess.CalledProcessError):
        return "PostgreSQL"


def verdict(ok):
    return "met" if ok else "**not met**"


def rate(run):
    """Requests per second the run achieved."""
    return run["requests"] / run["seconds"] if run["seconds"] else 0.0


def errors(run):
    """Answers that were not 2xx, and requests that got no answer."""
    return run["errors"] + run["socket_errors"]


def cells(run):
    """The latency and error cells of a run's row, the statuses of its errors in brackets."""
    detail = ", ".join(f"{k}: {v}" for k, v in run["statuses"].items())
    return (f"{run['p50_ms']:.2f} | {run['p90_ms']:.2f} | {run['p99_ms']:.2f} | {run['max_ms']:.1f} | "
            f"{errors(run)}" + (f" ({detail})" if detail else ""))


def prewarm(args):
    """The sentence saying whether the world was read into the page cache before the runs."""
    if args.prewarm_bytes is None:
        return ""
    size = f"{args.prewarm_bytes / 2**30:.1f} GiB"
    if args.prewarm_s == "skipped":
        return (f" The world ({size} of tables, indexes and index files) was not read into the "
                "page cache first: it is bigger than half the memory available.")
    return (f" Before the runs, the world's tables and indexes in PostgreSQL (pg_prewarm) and the "
            f"server's index files, {size}, were read into the page cache ({args.prewarm_s} s).")


def section(args, all_runs):
    # Runs at an offered rate ("offered" > 0) come after the saturating ones, among which
    # the sweep's feeds and searches saturate fewer connections than the others.
    saturating = [r for r in all_runs if not r.get("offered")]
    runs = [r for r in saturating if r.get("connections", args.connections) == args.connections]
    sweep = [r for r in saturating if r.get("connections", args.connections) != args.connections]
    paced = [r for r in all_runs if r.get("offered")]
    today = datetime.date.today().isoformat()
    default_bin = args.bin == "target/release/mosaic"
    if args.pgo == "yes":
        bin_option = " --pgo"
        build = f"the PGO build, `{args.bin}` by `benches/pgo.sh`"
    else:
        bin_option = "" if default_bin else f" --bin {args.bin}"
        build = "release build" if default_bin else f"the build at `{args.bin}`"
    lines = [HEADING, ""]
    lines.append(
        f"Measured {today} on {machine()} by `benches/load.sh --profile {args.profile}"
        f"{bin_option}` (seed {args.seed}): `mosaic serve` ({build}) on 127.0.0.1 over the world in "
        f"{postgres_version(args.url)} on the same machine, driven by wrk 4 (one thread, "
        f"{args.connections} connections) on the same 2 cores. Each family runs on its own after a "
        "warm-up of a tenth of its requests, then a shuffled mix of all four (per feed: 0.8 "
        "search, 0.4 offer detail, 0.1 booking); every request is sent once, bookings are "
        "distinct (user, offer) pairs drawn to succeed. Latencies are wrk's, client side."
        + prewarm(args)
    )
    lines += ["", "| run | requests | seconds | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['family']} | {r['requests']} | {r['seconds']:.1f} | {rate(r):.0f} | {cells(r)} |")
    if sweep:
        lines += ["", "Feeds and searches saturating fewer connections: a closed loop's mean latency is its "
                  "connections divided by its rate, so the rate each count keeps up shows how much of the "
                  "p99 above is the queue of its connections. The first requests of each family's file "
                  "again, the same work as the first time.",
                  "", "| run | connections | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for family in dict.fromkeys(r["family"] for r in sweep):
            for r in [r for r in runs if r["family"] == family] + [r for r in sweep if r["family"] == family]:
                lines.append(f"| {family} | {r.get('connections', args.connections)} | {r['requests']} | "
                             f"{rate(r):.0f} | {cells(r)} |")
    if paced:
        lines += ["", "The same families at a fixed offered rate, a quarter, a half and three quarters "
                  "of what their own run above reached: requests leave on a schedule whatever the "
                  "answers (benches/load/replay.lua), as users' requests do, so latency is what a "
                  f"request meets at that load rather than the queue of {args.connections} connections "
                  "that a saturating run keeps full. Achieved below offered means the server fell behind.",
                  "", "| run | offered /s | achieved /s | requests | p50 ms | p90 ms | p99 ms | max ms | errors |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in paced:
            lines.append(f"| {r['family']} | {r['offered']:,} | {rate(r):,.0f} | {r['requests']} | {cells(r)} |")
    lines += beside(args, all_runs)
    by_family = {r["family"]: r for r in runs}
    rss_gib = args.rss_kib / 2**20
    lines += ["", "Targets (performance issue), on this machine:", ""]
    for family, (p99, rps) in TARGETS.items():
        r = by_family.get(family)
        if r is None:
            continue
        got_rps = rate(r)
        line = (f"- {family} p99 ≤ {p99:g} ms: {r['p99_ms']:.2f} ms at saturation, "
                f"{verdict(r['p99_ms'] <= p99)}")
        if rps:
            line += f"; ≥ {rps:,.0f} {family}s/s: {got_rps:,.0f}/s, {verdict(got_rps >= rps)}"
        fewer = [q for q in sweep if q["family"] == family]
        if fewer:
            line += "; saturating " + ", ".join(
                f"{q['connections']} connections: {rate(q):,.0f}/s, p99 {q['p99_ms']:.1f} ms" for q in fewer)
        at_rates = [q for q in paced if q["family"] == family]
        if at_rates:
            line += "; at an offered " + ", ".join(f"{q['offered']:,}/s" for q in at_rates)
            line += ": " + " / ".join(f"{q['p99_ms']:.1f}" for q in at_rates) + " ms"
        lines.append(line)
    total_errors = sum(errors(r) for r in all_runs)
    lines.append(f"- 0 errors: {total_errors}, {verdict(total_errors == 0)}")
    lines.append(f"- peak RSS ≤ 2 GiB: {rss_gib:.2f} GiB (VmHWM of `mosaic serve` over all runs), "
                 f"{verdict(rss_gib <= 2.0)}")
    first = "building the index from the store" if args.fresh_index == "yes" else "reopening the index"
    if args.pgo == "yes":
        first += ", by the release build"
    pgo_start = ""
    if args.pgo_start_s is not None:
        pgo_start = f"; the PGO build's first start, after pgo.sh: {args.pgo_start_s:.1f} s"
    rewrite = ""
    if args.start_rewrite_s:
        rewrite = (f", then {args.start_rewrite_s:.1f} s rewriting an index segment that fell due "
                   f"while it was stopped, serving meanwhile")
    lines.append(f"- start-up ≤ 10 s with an existing index: {args.start_s:.1f} s from `mosaic serve` to "
                 f"`/ready`{rewrite}, {verdict(args.start_s <= 10.0)} (first start, {first}: "
                 f"{args.first_start_s:.1f} s{pgo_start})")
    if args.profiles_time and os.path.exists(args.profiles_time):
        wall, rss = gnu_time(args.profiles_time)
        lines.append(f"- taste model of this world (`mosaic profiles build`: read every booking and "
                     f"interaction from the store, SVD, KMeans, write the file; learnt once and reused "
                     f"by later runs): {wall} wall clock, peak RSS {rss / 2**20:.2f} GiB")
    if args.metrics_before and args.metrics_after:
        lines += stage_profile(args.metrics_before, args.metrics_after)
    return "\n".join(lines) + "\n"


def compactions(run):
    """A run's compactions, with their seconds where the results recorded them."""
    if run["compactions"] and "compaction_s" in run:
        return f"{run['compactions']} ({run['compaction_s']:.2f} s)"
    return f"{run['compactions']}"


def per_request(run, key, scale=1):
    """A run's `key` per request, times `scale`, where the results recorded it: the offers
    re-indexed, where the build counted them; the seconds of CPU, as milliseconds."""
    if run.get(key) is None:
        return "—"
    return f"{run[key] * scale / max(run['requests'], 1):.2f}"


def beside(args, runs):
    """The table of what ran beside each run, in the order they ran, for results that recorded it."""
    runs = [r for r in runs if "wal_bytes" in r]
    if not runs:
        return []
    lines = ["", "What ran beside each run, read before and after it: the WAL PostgreSQL wrote per "
             "request, the checkpoints it began (forced by WAL volume when they come seconds "
             "apart; one spreads its writes over minutes, so one begun just before a run may still "
             "be writing in it) and the index compactions the server finished, with their wall time "
             "(merging the small segments refreshes add takes a fraction of a second; rewriting "
             "a large one, half the catalogue, seconds of one core), and the offers the index "
             "refreshes re-indexed per request (a booking changes one offer); the CPU the server "
             "and PostgreSQL's processes used per request, wherever it went (requests, refreshes, "
             "compactions); and the reads the machine's disks completed per request "
             "(`/sys/block/*/stat`): the store's pages found in neither PostgreSQL's buffers nor the "
             "page cache, as for the users of the first run after a seed.",
             "", "| run | connections | offered /s | WAL per request KB | checkpoints begun | compactions "
             "| re-indexed per request | server CPU ms per request | PostgreSQL CPU ms per request "
             "| disk reads per request |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        offered = f"{r['offered']:,}" if r.get("offered") else "—"
        lines.append(f"| {r['family']} | {r.get('connections', args.connections)} | {offered} | "
                     f"{r['wal_bytes'] / max(r['requests'], 1) / 1024:.1f} | {r['checkpoints']} | "
                     f"{compactions(r)} | {per_request(r, 'reindexed')} | "
                     f"{per_request(r, 'server_cpu_s', 1e3)} | {per_request(r, 'pg_cpu_s', 1e3)} | "
                     f"{per_request(r, 'disk_reads')} |")
    return lines


def gnu_time(path):
    """(wall clock as printed, peak RSS in KiB) from a `/usr/bin/time -v` report."""
    wall, rss = "?", 0
    for line in open(path, encoding="utf-8"):
        if "Elapsed (wall clock)" in line:
            wall = line.rsplit(" ", 1)[1].strip()
        elif "Maximum resident set size" in line:
            rss = int(line.rsplit(" ", 1)[1])
    return wall, rss


STAGE = re.compile(r'^mosaic_feed_stage_seconds_(bucket|sum|count)\{(?:le="([^"]+)",)?stage="(\w+)"(?:,le="([^"]+)")?\} (\S+)$')


def stage_histograms(path):
    """stage -> {"sum": s, "count": n, "buckets": [(le, cumulative count)]} from a scrape."""
    out = {}
    for line in open(path, encoding="utf-8"):
        m = STAGE.match(line.strip())
        if not m:
            continue
        kind, le1, stage, le2, value = m.groups()
        h = out.setdefault(stage, {"sum": 0.0, "count": 0.0, "buckets": []})
        if kind == "bucket":
            h["buckets"].append((float(le1 or le2), float(value)))
        else:
            h[kind] = float(value)
    return out


def quantile(buckets, q):
    """The upper bound of the bucket holding quantile q (Prometheus-style, no interpolation)."""
    total = buckets[-1][1] if buckets else 0
    for le, n in buckets:
        if total and n >= q * total:
            return le
    return float("inf")


def pages(path, ranking):
    """Feed pages served with a `ranking` (fresh or kept), from a scrape."""
    label = f'mosaic_feed_pages_total{{ranking="{ranking}"}} '
    for line in open(path, encoding="utf-8"):
        if line.startswith(label):
            return float(line.split()[-1])
    return 0.0


def stage_profile(before, after):
    """Markdown lines: where the feed run's requests spent their time, stage by stage."""
    b, a = stage_histograms(before), stage_histograms(after)
    order = ["boosts", "profile", "queue", "candidates", "rank", "cards"]
    rows, total = [], 0.0
    for stage in order:
        if stage not in a:
            continue
        prev = b.get(stage, {"sum": 0.0, "count": 0.0, "buckets": []})
        count = a[stage]["count"] - prev["count"]
        spent = a[stage]["sum"] - prev["sum"]
        old = dict(prev["buckets"])
        buckets = [(le, n - old.get(le, 0.0)) for le, n in a[stage]["buckets"]]
        rows.append((stage, count, spent, buckets))
        total += spent
    if not rows or not rows[0][1]:
        return []
    n = rows[0][1]
    kept = pages(after, "kept") - pages(before, "kept")
    lines = ["", "Where a feed's time goes: the server's `mosaic_feed_stage_seconds` histograms, "
             f"scraped before and after the feed run ({n:.0f} feeds; server side: without "
             "HTTP and JSON, with the wait in line as the queue stage). p50 and p99 are bucket upper bounds. "
             f"{kept:.0f} of the feeds ({kept / n * 100:.0f} %) were pages cut from the ranking "
             "their first page kept (`mosaic_feed_pages_total`), which spend nothing in the "
             "profile, candidates and rank stages.", "",
             "| stage | what | mean ms | share | p50 ≤ ms | p99 ≤ ms |", "|---|---|---|---|---|---|"]
    what = {
        "boosts": "active editorial boosts (cached 30 s)",
        "profile": "user, history (200) and credit from the store; taste",
        "queue": "waiting in line for a turn at the CPU stages below (engine/src/cpu_gate.rs)",
        "candidates": "index: ≤ 2,000 physical within the radius + ≤ 300 digital; ranking input",
        "rank": "score + DPP diversification into the page",
        "cards": "stored fields of the page's offers, reasons",
    }
    for stage, count, spent, buckets in rows:
        mean = spent / count * 1000 if count else 0.0
        share = spent / total * 100 if total else 0.0
        lines.append(f"| {stage} | {what.get(stage, '')} | {mean:.3f} | {share:.0f} % | "
                     f"{quantile(buckets, 0.5) * 1000:g} | {quantile(buckets, 0.99) * 1000:g} |")
    lines.append(f"| **all stages** | | {total / n * 1000:.3f} | 100 % | | |")
    return lines


def replace_section(text, new):
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda _: new + "\n", text, count=1)
    return text.rstrip("\n") + "\n\n" + new


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--results", required=True)
    p.add_argument("--rss-kib", type=int, required=True)
    p.add_argument("--start-s", type=float, required=True)
    p.add_argument("--start-rewrite-s", type=float, default=0.0,
                   help="seconds after /ready until the server had done a segment rewrite left due")
    p.add_argument("--first-start-s", type=float, required=True)
    p.add_argument("--fresh-index", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--bin", default="target/release/mosaic")
    p.add_argument("--pgo", choices=["yes", "no"], default="no",
                   help="the build served is benches/pgo.sh's (load.sh --pgo)")
    p.add_argument("--prewarm-bytes", type=int,
                   help="bytes of the world read into the page cache before the runs")
    p.add_argument("--prewarm-s",
                   help="the seconds that read took, or 'skipped' when the world was too big")
    p.add_argument("--pgo-start-s", type=float,
                   help="seconds the PGO build's first start took after pgo.sh, which may have trained")
    p.add_argument("--out", required=True)
    p.add_argument("--profiles-time")
    p.add_argument("--metrics-before")
    p.add_argument("--metrics-after")
    args = p.parse_args()
    runs = [json.loads(line) for line in open(args.results, encoding="utf-8") if line.strip()]
    text = open(args.out, encoding="utf-8").read() if os.path.exists(args.out) else "# Benchmark results\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(replace_section(text, section(args, runs)))


if __name__ == "__main__":
    main()
