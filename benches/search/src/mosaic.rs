//! Mosaic's side: the documents, the on-disk index, timed runs, full hit sets and
//! freshness.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
pub use engine::indexing::offer_doc;
use indexer::{OfferDoc, OfferIndex, Query, MAX_LIMIT};

use crate::mix::{BenchQuery, PAGE};
use crate::stats::Outcome;

/// One timed search as the API runs it: the page with facets, then each hit's stored
/// document for its card (title, venue name).
pub fn search_page(index: &OfferIndex, q: &Query) -> Result<Outcome> {
    let results = index.search(q)?;
    let mut page = Vec::with_capacity(results.hits.len());
    for hit in &results.hits {
        let doc = results
            .stored(hit)
            .with_context(|| format!("hit {} has no stored document", hit.id))?;
        black_box(&doc.title);
        black_box(&doc.venue_name);
        page.push(hit.id as i64);
    }
    black_box(&results.facets);
    Ok(Outcome {
        total: results.total as i64,
        page,
    })
}

/// Runs `queries` on `threads` threads (query i on thread i mod threads); returns the
/// wall time and, per query, its latency and outcome.
pub fn run(
    index: &OfferIndex,
    queries: &[&BenchQuery],
    threads: usize,
) -> Result<(Duration, Vec<(Duration, Outcome)>)> {
    let started = Instant::now();
    let parts: Vec<Result<Vec<(usize, Duration, Outcome)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (i, q) in queries.iter().enumerate().skip(t).step_by(threads) {
                        let query = q.to_index_query(0, PAGE, true);
                        let t0 = Instant::now();
                        let outcome = search_page(index, &query)?;
                        out.push((i, t0.elapsed(), outcome));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("query thread panicked"))
            .collect()
    });
    let wall = started.elapsed();
    let mut all = Vec::with_capacity(queries.len());
    for part in parts {
        all.extend(part?);
    }
    all.sort_by_key(|r| r.0);
    Ok((wall, all.into_iter().map(|(_, d, o)| (d, o)).collect()))
}

/// Every offer a query matches, sorted by id (paging through the whole result).
pub fn hit_set(index: &OfferIndex, q: &BenchQuery) -> Result<Vec<i64>> {
    let mut ids = Vec::new();
    loop {
        let r = index.search(&q.to_index_query(ids.len(), MAX_LIMIT, false))?;
        let got = r.hits.len();
        ids.extend(r.hits.iter().map(|h| h.id as i64));
        if got == 0 || ids.len() >= r.total {
            break;
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// A word no offer has: lower-case letters ending in "zq", so that neither the
/// French stemmer nor PostgreSQL's parser changes it.
pub fn fresh_token(i: usize) -> String {
    let mut s = String::from("mosaicfresh");
    let mut n = i;
    loop {
        s.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    s.push_str("zq");
    s
}

/// Freshness: append a new word to an offer's title, upsert and commit, then search
/// for the word until the offer comes back. Returns (commit, visible) durations.
pub fn freshness(
    index: &OfferIndex,
    docs: &[OfferDoc],
    rounds: usize,
) -> Result<Vec<(Duration, Duration)>> {
    let mut out = Vec::new();
    for (i, doc) in docs.iter().take(rounds).enumerate() {
        let token = fresh_token(i);
        let mut changed = doc.clone();
        changed.title = format!("{} {token}", doc.title);
        let q = Query {
            text: Some(token),
            limit: 1,
            ..Query::default()
        };
        let t0 = Instant::now();
        index.upsert([changed])?;
        index.commit()?;
        let committed = t0.elapsed();
        loop {
            if index.search(&q)?.hits.iter().any(|h| h.id == doc.id) {
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(30),
                "offer {} not visible 30 s after its commit",
                doc.id
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        out.push((committed, t0.elapsed()));
    }
    Ok(out)
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Waits until tantivy's background merges stop (the process is idle for a second),
/// at most `limit`; returns how long it waited.
pub fn wait_for_merges(limit: Duration) -> Duration {
    let started = Instant::now();
    let mut idle = 0;
    let mut last = cpu_seconds();
    while started.elapsed() < limit && idle < 2 {
        std::thread::sleep(Duration::from_millis(500));
        let now = cpu_seconds();
        idle = if now - last < 0.05 { idle + 1 } else { 0 };
        last = now;
    }
    started.elapsed()
}

/// Segments listed in the index's meta.json, and the bytes of their files (what a
/// fresh process would open) and of the whole folder.
pub fn index_footprint(dir: &Path) -> Result<(usize, u64, u64)> {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("meta.json")).context("reading the index meta.json")?,
    )?;
    let live: Vec<String> = meta["segments"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["segment_id"].as_str())
                .map(|s| s.replace('-', ""))
                .collect()
        })
        .unwrap_or_default();
    let (mut live_bytes, mut all_bytes) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let len = entry.metadata()?.len();
        all_bytes += len;
        let name = entry.file_name().to_string_lossy().replace('-', "");
        let segment_file = name
            .split('.')
            .next()
            .is_some_and(|stem| stem.len() == 32 && stem.chars().all(|c| c.is_ascii_hexdigit()));
        if !segment_file || live.iter().any(|id| name.starts_with(id.as_str())) {
            live_bytes += len;
        }
    }
    Ok((live.len(), live_bytes, all_bytes))
}
