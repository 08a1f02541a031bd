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


def section(args, runs):
    today = datetime.date.today().isoformat()
    lines = [HEADING, ""]
    lines.append(
        f"Measured {today} on {machine()} by `benches/load.sh --profile {args.profile}` "
        f"(seed {args.seed}): `mosaic serve` (release build) on 127.0.0.1 over the world in "
        f"{postgres_version(args.url)} on the same machine, driven by wrk 4 (one thread, "
        f"{args.connections} connections) on the same 2 cores. Each family runs on its own after a "
        "warm-up of a tenth of its requests, then a shuffled mix of all four (per feed: 0.8 "
        "search, 0.4 offer detail, 0.1 booking); every request is sent once, bookings are "
        "distinct (user, offer) pairs drawn to succeed. Latencies are wrk's, client side."
    )
    lines += ["", "| run | requests | seconds | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        rps = r["requests"] / r["seconds"] if r["seconds"] else 0.0
        errors = r["errors"] + r["socket_errors"]
        detail = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(
            f"| {r['family']} | {r['requests']} | {r['seconds']:.1f} | {rps:.0f} | {r['p50_ms']:.2f} | "
            f"{r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {errors}"
            + (f" ({detail})" if detail else "") + " |"
        )
    by_family = {r["family"]: r for r in runs}
    rss_gib = args.rss_kib / 2**20
    lines += ["", "Targets (performance issue), on this machine:", ""]
    for family, (p99, rps) in TARGETS.items():
        r = by_family.get(family)
        if r is None:
            continue
        got_rps = r["requests"] / r["seconds"] if r["seconds"] else 0.0
        line = f"- {family} p99 ≤ {p99:g} ms: {r['p99_ms']:.2f} ms, {verdict(r['p99_ms'] <= p99)}"
        if rps:
            line += f"; ≥ {rps:,.0f} {family}s/s: {got_rps:,.0f}/s, {verdict(got_rps >= rps)}"
        lines.append(line)
    total_errors = sum(r["errors"] + r["socket_errors"] for r in runs)
    lines.append(f"- 0 errors: {total_errors}, {verdict(total_errors == 0)}")
    lines.append(f"- peak RSS ≤ 2 GiB: {rss_gib:.2f} GiB (VmHWM of `mosaic serve` over all runs), "
                 f"{verdict(rss_gib <= 2.0)}")
    first = "building the index from the store" if args.fresh_index == "yes" else "reopening the index"
    lines.append(f"- start-up ≤ 10 s with an existing index: {args.start_s:.1f} s from `mosaic serve` to "
                 f"`/ready`, {verdict(args.start_s <= 10.0)} (first start, {first}: {args.first_start_s:.1f} s)")
    return "\n".join(lines) + "\n"


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
    p.add_argument("--first-start-s", type=float, required=True)
    p.add_argument("--fresh-index", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--connections", type=int, required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    runs = [json.loads(line) for line in open(args.results, encoding="utf-8") if line.strip()]
    text = open(args.out, encoding="utf-8").read() if os.path.exists(args.out) else "# Benchmark results\n"
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(replace_section(text, section(args, runs)))


if __name__ == "__main__":
    main()
