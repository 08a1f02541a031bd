//! The section "## Search (indexer issue)" of `benches/RESULTS.md`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::mix::{BenchQuery, CatalogSummary, Family, PAGE};
use crate::pg::PgTable;
use crate::stats::Figures;

pub const HEADING: &str = "## Search (indexer issue)";

/// Hit-set comparison of the two engines.
#[derive(Debug, Default)]
pub struct Verification {
    /// Geo-only and filtered queries compared.
    pub compared: usize,
    /// Offers returned by the index over those queries.
    pub hits_compared: usize,
    pub mismatched_queries: usize,
    /// Offers returned by one engine and not the other, summed.
    pub mismatched_ids: usize,
    /// Queries whose first page (ids, in order) differs.
    pub mismatched_pages: usize,
    pub examples: Vec<String>,
    pub text_queries: usize,
    /// Sum of totals over text queries: (index, PostgreSQL).
    pub text_totals: (u64, u64),
    /// Text queries with no hit: (index, PostgreSQL).
    pub text_empty: (usize, usize),
}

pub struct Report {
    pub profile: String,
    pub date: String,
    pub machine: String,
    pub pg_version: String,
    pub pg_settings: String,
    pub offers: usize,
    pub catalog: CatalogSummary,
    pub queries: Vec<BenchQuery>,
    pub load: Duration,
    pub convert: Duration,
    pub build: Duration,
    pub segments_at_commit: usize,
    pub merge_wait: Duration,
    pub segments: usize,
    pub live_bytes: u64,
    pub dir_bytes: u64,
    pub rss_after_build: f64,
    pub rss_peak: f64,
    pub rss_end: f64,
    pub pg_table: PgTable,
    /// Per thread count, per family.
    pub mosaic_runs: Vec<(usize, BTreeMap<Family, Figures>)>,
    /// Per connection count, per family.
    pub pg_runs: Vec<(usize, BTreeMap<Family, Figures>)>,
    pub verification: Verification,
    /// (commit, visible) per round.
    pub mosaic_fresh: Vec<(Duration, Duration)>,
    /// (update, visible) per round.
    pub pg_fresh: Vec<(Duration, Duration)>,
    pub elapsed: Duration,
}

fn ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 1_000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / 1024.0 / 1024.0)
}

fn qps(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn all(per: &BTreeMap<Family, Figures>) -> Figures {
    Figures::combine(&per.values().collect::<Vec<_>>())
}

/// Median and maximum, in milliseconds.
fn median_max(v: &[Duration]) -> (f64, f64) {
    let mut v = v.to_vec();
    v.sort_unstable();
    let m = |d: Duration| d.as_secs_f64() * 1_000.0;
    match v.len() {
        0 => (f64::NAN, f64::NAN),
        n => (m(v[(n - 1) / 2]), m(v[n - 1])),
    }
}

fn table(
    out: &mut String,
    unit: &str,
    runs: &[(usize, BTreeMap<Family, Figures>)],
) -> std::fmt::Result {
    writeln!(
        out,
        "| {unit} | family | queries | p50 ms | p90 ms | p99 ms | queries/s |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for (n, per) in runs {
        let mut rows: Vec<(&str, Figures)> = per
            .iter()
            .map(|(f, fig)| (f.label(), fig.clone()))
            .collect();
        rows.push(("**whole mix**", all(per)));
        for (label, f) in rows {
            writeln!(
                out,
                "| {n} | {label} | {} | {} | {} | {} | {} |",
                f.queries,
                ms(f.ms(0.5)),
                ms(f.ms(0.9)),
                ms(f.ms(0.99)),
                qps(f.qps())
            )?;
        }
    }
    Ok(())
}

impl Report {
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s).expect("writing to a String");
        s
    }

    fn write(&self, s: &mut String) -> std::fmt::Result {
        let c = &self.catalog;
        let count = |f: Family| self.queries.iter().filter(|q| q.family == f).count();
        let mut radii: Vec<f64> = self.queries.iter().map(|q| q.radius_m / 1000.0).collect();
        radii.sort_by(f64::total_cmp);
        let median_radius = radii.get(radii.len() / 2).copied().unwrap_or(f64::NAN);
        let dated = self.queries.iter().filter(|q| q.begins.is_some()).count();
        let bench_size = self.offers >= 1_000_000;

        writeln!(s, "{HEADING}\n")?;
        writeln!(
            s,
            "Measured {} on {} by `benches/search.sh --profile {}` (binary `search-bench`, release build), \
             against {} on the same machine ({}). Run time {:.0} s.\n",
            self.date,
            self.machine,
            self.profile,
            self.pg_version,
            self.pg_settings,
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            s,
            "Dataset: profile `{}` seeded with `mosaic seed --seed 42`: {} active offers ({} physical at {} venues, {} digital), \
             read from PostgreSQL with `Store::offer_records` in {:.1} s and turned into index documents \
             (as of 00:00 UTC today, like `engine::indexing::offer_doc`) in {:.1} s.\n",
            self.profile,
            self.offers,
            c.physical,
            c.venues,
            self.offers - c.physical,
            self.load.as_secs_f64(),
            self.convert.as_secs_f64()
        )?;

        writeln!(s, "### Building\n")?;
        writeln!(
            s,
            "| | Mosaic index (tantivy + H3, on disk) | PostgreSQL table `bench_offers` |"
        )?;
        writeln!(s, "|---|---|---|")?;
        let pg_build = if self.pg_table.built_now {
            format!("{:.1} s", self.pg_table.build_secs)
        } else {
            format!(
                "{:.1} s (in an earlier run; reused, same documents)",
                self.pg_table.build_secs
            )
        };
        writeln!(
            s,
            "| build | **{:.1} s** (`upsert` of every document + `commit` + `compact` into as many segments as cores, 2 writer threads); \
             background merges then ran {:.1} s more ({} → {} segments) | {pg_build} (COPY with a generated `tsvector`, \
             then primary key, GIN, GiST `ll_to_earth`, category and digital indexes, ANALYZE) |",
            self.build.as_secs_f64(),
            self.merge_wait.as_secs_f64(),
            self.segments_at_commit,
            self.segments
        )?;
        writeln!(
            s,
            "| size on disk | **{}** (live segments; {} in the folder) | {} table + {} indexes |",
            mib(self.live_bytes as f64),
            mib(self.dir_bytes as f64),
            mib(self.pg_table.table_bytes as f64),
            mib(self.pg_table.index_bytes as f64)
        )?;
        writeln!(
            s,
            "| process RSS | **{:.0} MiB** peak (VmHWM, with all {} store records and documents in memory \
             while building); {:.0} MiB right after the build, {:.0} MiB after every run | (server processes, not measured) |\n",
            self.rss_peak, self.offers, self.rss_after_build, self.rss_end
        )?;

        writeln!(s, "### Latency and throughput\n")?;
        writeln!(
            s,
            "A fixed mix of {} searches (seed 42): {} text+geo (a typed word or pair, or words of a catalogue title; \
             digital offers included, by relevance), {} geo-only (physical offers, nearest first) and {} filtered \
             (physical, 1–2 categories, a price cap of 5–100 €, {} of them with a 7–90-day date window; nearest first). \
             Radii log-uniform in 1–50 km (median {:.1} km), centred half on population-weighted places of \
             `datasets/fr_places.csv`, half on venues. Every search answers as `GET /v1/search` does: the first page \
             of {PAGE} with titles and venue names, the total and the category facets (index: `search` with facets, \
             then `get` for each hit; PostgreSQL: one statement, plus the any-word retry when all words match nothing, \
             like the index). Each family runs on its own after {} warm-up searches; the whole mix adds them up. \
             Latencies are per search, client side; queries/s is searches over wall time.\n",
            self.queries.len(),
            count(Family::TextGeo),
            count(Family::GeoOnly),
            count(Family::Filtered),
            dated,
            median_radius,
            crate::WARMUP
        )?;
        writeln!(
            s,
            "Mosaic index, in process (threads share one `OfferIndex`):\n"
        )?;
        table(s, "threads", &self.mosaic_runs)?;
        writeln!(
            s,
            "\nPostgreSQL, same queries over the same documents: `tsv @@ plainto_tsquery('french', …)` ranked by \
             `ts_rank` (GIN), radius as `earth_box(…) @> ll_to_earth(lat, lon)` (GiST) then the indexer's haversine \
             (R = 6,371,008.8 m) in SQL; sessions with {}:\n",
            crate::pg::SESSION
                .trim_start_matches("SET ")
                .replace("; SET ", ", ")
        )?;
        table(s, "connections", &self.pg_runs)?;

        // Throughput ratios: index with 2 threads against PostgreSQL's best.
        let mosaic2 = self.mosaic_runs.iter().find(|r| r.0 == 2).map(|r| &r.1);
        let ratio = |family: Option<Family>| -> Option<(f64, usize)> {
            let m = mosaic2?;
            let m_qps = match family {
                Some(f) => m.get(&f)?.qps(),
                None => all(m).qps(),
            };
            let (best, clients) = self
                .pg_runs
                .iter()
                .map(|(n, per)| {
                    let q = match family {
                        Some(f) => per.get(&f).map_or(0.0, Figures::qps),
                        None => all(per).qps(),
                    };
                    (q, *n)
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))?;
            Some((m_qps / best, clients))
        };
        let fmt_ratio = |r: Option<(f64, usize)>| {
            r.map_or("n/a".into(), |(x, n)| {
                format!(
                    "{x:.1}× (vs {n} connection{})",
                    if n > 1 { "s" } else { "" }
                )
            })
        };
        writeln!(
            s,
            "\nThroughput ratio, index on 2 threads over PostgreSQL's best connection count: **whole mix {}**; \
             text+geo {}, geo-only {}, filtered {}.\n",
            fmt_ratio(ratio(None)),
            fmt_ratio(ratio(Some(Family::TextGeo))),
            fmt_ratio(ratio(Some(Family::GeoOnly))),
            fmt_ratio(ratio(Some(Family::Filtered)))
        )?;

        let v = &self.verification;
        writeln!(s, "### Same answers\n")?;
        writeln!(
            s,
            "Geo-only and filtered searches have one right answer: for each of the {} of them the full hit set of the \
             index (paged through) was compared with PostgreSQL's. **{} mismatching queries** ({} offers in one set \
             and not the other, over {} hits compared; totals included); {} first pages differ in ids or order.",
            v.compared, v.mismatched_queries, v.mismatched_ids, v.hits_compared, v.mismatched_pages
        )?;
        for e in &v.examples {
            writeln!(s, "- {e}")?;
        }
        writeln!(
            s,
            "\nText searches are timed side by side but not compared: the index folds accents and stems with its \
             own French analyser over boosted fields and BM25, PostgreSQL's `french` configuration neither folds \
             accents nor ranks alike. Over the {} text+geo searches the index found {} hits in all (none for {}), \
             PostgreSQL {} (none for {}).\n",
            v.text_queries, v.text_totals.0, v.text_empty.0, v.text_totals.1, v.text_empty.1
        )?;

        let (commit_p50, commit_max) =
            median_max(&self.mosaic_fresh.iter().map(|f| f.0).collect::<Vec<_>>());
        let (fresh_p50, fresh_max) =
            median_max(&self.mosaic_fresh.iter().map(|f| f.1).collect::<Vec<_>>());
        let (pg_p50, pg_max) = median_max(&self.pg_fresh.iter().map(|f| f.1).collect::<Vec<_>>());
        writeln!(s, "### Freshness\n")?;
        writeln!(
            s,
            "One offer changed (a new word in its title), then searched for until it comes back, {} times: \
             index `upsert` + `commit` + first search that sees it **{} ms median, {} ms max** (commit alone {} ms \
             median, {} ms max); PostgreSQL autocommitted UPDATE + search {} ms median, {} ms max. In the engine a \
             booking marks the offer and the refresh task pushes it within its 250 ms period, so a change is \
             searchable within about {} ms.\n",
            self.mosaic_fresh.len(),
            ms(fresh_p50),
            ms(fresh_max),
            ms(commit_p50),
            ms(commit_max),
            ms(pg_p50),
            ms(pg_max),
            (250.0 + fresh_max).round()
        )?;

        writeln!(s, "### Targets (indexer issue)\n")?;
        writeln!(s, "| target | measured | met |")?;
        writeln!(s, "|---|---|---|")?;
        let verdict = |ok: bool| if ok { "yes" } else { "**no**" };
        let size_note = if bench_size {
            String::new()
        } else {
            format!(" (only {} offers: the targets are for 1M)", self.offers)
        };
        writeln!(
            s,
            "| build ≤ 60 s for 1M offers | {:.1} s for {} offers (+ {:.1} s reading the store){size_note} | {} |",
            self.build.as_secs_f64(),
            self.offers,
            self.load.as_secs_f64() + self.convert.as_secs_f64(),
            if bench_size {
                verdict(self.build.as_secs_f64() <= 60.0)
            } else {
                "n/a"
            }
        )?;
        let p99s: Vec<(usize, f64)> = self
            .mosaic_runs
            .iter()
            .map(|(n, per)| (*n, all(per).ms(0.99)))
            .collect();
        let worst_family = self
            .mosaic_runs
            .iter()
            .flat_map(|(n, per)| per.iter().map(move |(f, fig)| (*n, *f, fig.ms(0.99))))
            .max_by(|a, b| a.2.total_cmp(&b.2));
        writeln!(
            s,
            "| p99 ≤ 10 ms | whole mix {}; worst family {}{size_note} | {} |",
            p99s.iter()
                .map(|(n, p)| format!(
                    "{} ms on {n} thread{}",
                    ms(*p),
                    if *n > 1 { "s" } else { "" }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            worst_family.map_or("n/a".into(), |(n, f, p)| format!(
                "{} {} ms on {n} thread{}",
                f.label(),
                ms(p),
                if n > 1 { "s" } else { "" }
            )),
            verdict(p99s.iter().all(|(_, p)| *p <= 10.0))
        )?;
        let r = ratio(None);
        writeln!(
            s,
            "| ≥ 10× PostgreSQL's throughput | {}{size_note} | {} |",
            fmt_ratio(r),
            verdict(r.is_some_and(|(x, _)| x >= 10.0))
        )?;
        writeln!(
            s,
            "| freshness ≤ 1 s | {} ms max in the index, ≈ {} ms with the engine's refresh period | {} |",
            ms(fresh_max),
            (250.0 + fresh_max).round(),
            verdict(250.0 + fresh_max <= 1_000.0)
        )?;
        writeln!(
            s,
            "| same geo hit sets as PostgreSQL | {} mismatching queries out of {} | {} |",
            v.mismatched_queries,
            v.compared,
            verdict(v.mismatched_queries == 0)
        )?;
        Ok(())
    }
}

/// Replaces the section in `path` (from its heading to the next `## ` heading), or
/// appends it; other sections are kept as they are.
pub fn write_section(path: &Path, section: &str) -> Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "# Benchmark results\n".into(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let lines: Vec<&str> = old.lines().collect();
    let section = section.trim_end();
    let new = match lines.iter().position(|l| l.trim_end() == HEADING) {
        Some(start) => {
            let end = lines[start + 1..]
                .iter()
                .position(|l| l.starts_with("## "))
                .map_or(lines.len(), |p| start + 1 + p);
            let mut out = lines[..start].join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(section);
            out.push('\n');
            if end < lines.len() {
                out.push('\n');
                out.push_str(&lines[end..].join("\n"));
                out.push('\n');
            }
            out
        }
        None => format!("{}\n\n{section}\n", old.trim_end()),
    };
    std::fs::write(path, new).with_context(|| format!("writing {}", path.display()))
}
