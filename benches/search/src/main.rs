//! The search benchmark of the indexer issue.
//!
//! Reads every active offer of the store at `DATABASE_URL` (a PostgreSQL world seeded by
//! `mosaic seed`), builds Mosaic's offer index on disk from them and times it, then
//! runs a fixed, seeded mix of text+geo, geo-only and filtered searches against the
//! index (1 and 2 threads) and against PostgreSQL full-text + earthdistance search over
//! the same offers (several connections), checks that both engines return the same
//! offers for every geo query, measures freshness, and writes the section
//! "## Search (indexer issue)" of `benches/RESULTS.md`.
//!
//! Run it through `benches/search.sh`, which seeds the world and installs the
//! extensions. Environment: `DATABASE_URL` (required), `BENCH_PROFILE` (label, default
//! `bench`), `BENCH_QUERIES` (default 2000), `BENCH_MIX_SEED` (default 42),
//! `BENCH_PG_CLIENTS` (default `1,2,4`), `BENCH_INDEX_DIR` (default: a temporary
//! folder), `BENCH_PG_REBUILD=1` (rebuild the PostgreSQL table even if current),
//! `BENCH_RESULTS` (default `benches/RESULTS.md`), `BENCH_INDEX_ONLY=1` (time the index,
//! list the slowest searches and stop: for profiling, writes nothing), `BENCH_INDEX_REUSE=1`
//! (with `BENCH_INDEX_DIR`: keep an index there that holds as many offers, for profiling).

/// The service uses mimalloc; so does its benchmark, to measure the same thing (with the
/// service's purge delay, which benches/search.sh sets).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod mix;
mod mosaic;
mod pg;
mod report;
mod stats;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use engine::store::Store;
use engine::taxonomy::Taxonomy;
use indexer::{OfferDoc, OfferIndex};

use crate::mix::{BenchQuery, CatalogSummary, Family};
use crate::report::{Report, Verification};
use crate::stats::{status_mib, symmetric_difference, Figures, Outcome};

/// Searches run before timing, on each engine.
const WARMUP: usize = 200;
/// Offers changed one at a time for the freshness figure.
const FRESHNESS_ROUNDS: usize = 20;

struct Config {
    database_url: String,
    profile: String,
    queries: usize,
    mix_seed: u64,
    pg_clients: Vec<usize>,
    index_dir: Option<PathBuf>,
    pg_rebuild: bool,
    results: PathBuf,
    root: PathBuf,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| anyhow::anyhow!("{name}={v:?} is not valid")),
        _ => Ok(default),
    }
}

impl Config {
    fn from_env() -> Result<Config> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL must be set")?;
        if !database_url.starts_with("postgres") {
            bail!("DATABASE_URL must be a PostgreSQL URL: the benchmark compares with PostgreSQL");
        }
        let pg_clients = env_or("BENCH_PG_CLIENTS", "1,2,4".to_string())?
            .split(',')
            .map(|c| c.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .context("BENCH_PG_CLIENTS: comma-separated connection counts")?;
        if pg_clients.is_empty() || pg_clients.contains(&0) {
            bail!("BENCH_PG_CLIENTS needs positive connection counts");
        }
        Ok(Config {
            database_url,
            profile: env_or("BENCH_PROFILE", "bench".to_string())?,
            queries: env_or("BENCH_QUERIES", 2_000usize)?.max(10),
            mix_seed: env_or("BENCH_MIX_SEED", 42u64)?,
            pg_clients,
            index_dir: std::env::var_os("BENCH_INDEX_DIR").map(PathBuf::from),
            pg_rebuild: env_or("BENCH_PG_REBUILD", 0u8)? != 0,
            results: std::env::var_os("BENCH_RESULTS")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("benches/RESULTS.md")),
            root,
        })
    }
}

/// Identifies a set of documents, to reuse PostgreSQL's table across runs.
fn fingerprint(docs: &[OfferDoc]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for d in docs {
        d.id.hash(&mut h);
        d.title.hash(&mut h);
        d.description.hash(&mut h);
        d.venue_name.hash(&mut h);
        d.artist.hash(&mut h);
        d.category.hash(&mut h);
        d.subcategory.hash(&mut h);
        d.subcategory_label.hash(&mut h);
        d.location
            .map(|p| (p.lat().to_bits(), p.lon().to_bits()))
            .hash(&mut h);
        d.price_cents.hash(&mut h);
        d.is_duo.hash(&mut h);
        d.is_event.hash(&mut h);
        d.next_beginning_at.hash(&mut h);
        d.sold_out.hash(&mut h);
        d.popularity.hash(&mut h);
    }
    format!("{}-{:016x}", docs.len(), h.finish())
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[search-bench] {}", msg.as_ref());
}

/// Splits the outcomes of a run by family, in the mix's order.
fn by_family(queries: &[BenchQuery]) -> BTreeMap<Family, Vec<usize>> {
    let mut out: BTreeMap<Family, Vec<usize>> = BTreeMap::new();
    for (i, q) in queries.iter().enumerate() {
        out.entry(q.family).or_default().push(i);
    }
    out
}

#[tokio::main]
async fn main() -> Result<()> {
    let cfg = Config::from_env()?;
    let started = Instant::now();

    // The offers, as the engine indexes them. Documents are taken as of 00:00 UTC
    // today, so that runs of the same day see the same documents.
    let store = Store::connect(&cfg.database_url).await?;
    let t = Instant::now();
    let records = store.offer_records().await?;
    let load = t.elapsed();
    store.close().await;
    if records.is_empty() {
        bail!("the store holds no active offer: seed it first (benches/search.sh does)");
    }
    let now = engine::now().div_euclid(86_400) * 86_400;
    let t = Instant::now();
    let taxonomy = Taxonomy::shipped();
    let docs: Vec<OfferDoc> = records
        .into_iter()
        .map(|r| mosaic::offer_doc(&r, taxonomy, now))
        .collect();
    let convert = t.elapsed();
    log(format!(
        "{} offers read from the store in {load:.1?}, documents in {convert:.1?}",
        docs.len()
    ));
    let catalog = CatalogSummary::of(&docs);
    let fingerprint = fingerprint(&docs);
    let queries = Arc::new(mix::generate(
        cfg.queries,
        cfg.mix_seed,
        now,
        &catalog,
        &cfg.root.join("datasets/fr_places.csv"),
    )?);
    let families = by_family(&queries);

    // PostgreSQL's copy of the same documents.
    let max_clients = *cfg.pg_clients.iter().max().unwrap_or(&1) as u32;
    let pg = pg::connect(&cfg.database_url, max_clients).await?;
    let pg_table = pg::ensure_table(&pg, &docs, &fingerprint, cfg.pg_rebuild).await?;
    let pg_version = pg::version(&pg).await?;
    let pg_settings = pg::settings(&pg).await?;
    log(format!(
        "PostgreSQL table {} ({:.1} s)",
        if pg_table.built_now {
            "built"
        } else {
            "reused"
        },
        pg_table.build_secs
    ));

    // Offers for the freshness test: bookable ones (searches leave sold-out offers
    // out) spread over the catalogue.
    let step = (docs.len() / FRESHNESS_ROUNDS).max(1);
    let fresh_docs: Vec<OfferDoc> = docs
        .chunks(step)
        .filter_map(|chunk| chunk.iter().find(|d| !d.sold_out))
        .take(FRESHNESS_ROUNDS)
        .cloned()
        .collect();

    // The index: build (upsert all, commit, compact) and wait for background merges.
    let tmp;
    let reuse = std::env::var_os("BENCH_INDEX_REUSE").is_some();
    let dir = match &cfg.index_dir {
        Some(d) => {
            if d.exists() && !reuse {
                std::fs::remove_dir_all(d).with_context(|| format!("emptying {}", d.display()))?;
            }
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("mosaic-search-bench")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let index = OfferIndex::open_or_create(&dir)?;
    let offers = docs.len();
    let t = Instant::now();
    if reuse && index.doc_count() as usize == offers {
        log(format!("reusing the index in {}", dir.display()));
    } else {
        log(format!("building the index in {}…", dir.display()));
        // As the engine's full rebuild does: each cell's offers side by side, then as
        // many segments as cores.
        let mut docs = docs;
        docs.sort_by_cached_key(|d| indexer::spatial_key(d.location));
        index.upsert(docs)?;
        index.commit()?;
        index.compact(
            std::thread::available_parallelism().map_or(1, usize::from),
            indexer::Reach::Full,
        )?;
    }
    let build = t.elapsed();
    let segments_at_commit = mosaic::index_footprint(&dir)?.0;
    let rss_after_build = status_mib("VmRSS");
    log(format!(
        "index built in {build:.1?} ({segments_at_commit} segments); waiting for merges…"
    ));
    let merge_wait = mosaic::wait_for_merges(Duration::from_secs(600));
    // What the engine's next refresh does: the reader moves to the merged segments.
    index.commit()?;
    let (segments, live_bytes, dir_bytes) = mosaic::index_footprint(&dir)?;
    anyhow::ensure!(
        index.doc_count() as usize == offers,
        "the index holds {} offers, not {offers}",
        index.doc_count()
    );

    // Warm-up, then timed runs on the index.
    let refs: Vec<&BenchQuery> = queries.iter().collect();
    let warm: Vec<&BenchQuery> = refs.iter().copied().step_by(3).take(WARMUP).collect();
    mosaic::run(&index, &warm, 2)?;
    let mut mosaic_runs: Vec<(usize, BTreeMap<Family, Figures>)> = Vec::new();
    let mut mosaic_outcomes: Vec<Outcome> = vec![Outcome::default(); queries.len()];
    // Per query, its single-thread latency: the slowest say where to look.
    let mut single_latency: Vec<Duration> = vec![Duration::ZERO; queries.len()];
    for threads in [1, 2] {
        let mut per = BTreeMap::new();
        for (family, idx) in &families {
            let qs: Vec<&BenchQuery> = idx.iter().map(|&i| &queries[i]).collect();
            let (wall, res) = mosaic::run(&index, &qs, threads)?;
            let lat = res.iter().map(|r| r.0).collect();
            if threads == 1 {
                for (&i, (took, o)) in idx.iter().zip(res) {
                    single_latency[i] = took;
                    mosaic_outcomes[i] = o;
                }
            }
            let f = Figures::new(wall, lat);
            log(format!(
                "mosaic {threads} thread(s) {}: p50 {:.2} ms p99 {:.2} ms {:.0} q/s",
                family.label(),
                f.ms(0.5),
                f.ms(0.99),
                f.qps()
            ));
            per.insert(*family, f);
        }
        mosaic_runs.push((threads, per));
    }

    if std::env::var_os("BENCH_INDEX_ONLY").is_some() {
        // Profiling the index alone: no comparison, nothing written; the slowest
        // searches of the single-thread run say where to look.
        let mut slowest: Vec<(Duration, usize)> = single_latency.iter().copied().zip(0..).collect();
        slowest.sort_unstable_by(|a, b| b.cmp(a));
        for (took, i) in slowest.iter().take(20) {
            let q = &queries[*i];
            log(format!(
                "slow: {:.2} ms {} r={:.1} km at {:.3},{:.3} text={:?} cats={:?} price={:?} dates={} total={}",
                took.as_secs_f64() * 1e3,
                q.family.label(),
                q.radius_m / 1e3,
                q.center.lat(),
                q.center.lon(),
                q.text,
                q.categories,
                q.max_price_cents,
                q.begins.is_some(),
                mosaic_outcomes[*i].total
            ));
        }
        log("BENCH_INDEX_ONLY: stopping before PostgreSQL; RESULTS.md untouched");
        return Ok(());
    }

    // The same on PostgreSQL.
    let warm_pg: Arc<Vec<BenchQuery>> = Arc::new(warm.iter().map(|q| (*q).clone()).collect());
    pg::run(&pg, warm_pg, max_clients as usize).await?;
    let mut pg_runs: Vec<(usize, BTreeMap<Family, Figures>)> = Vec::new();
    let mut pg_outcomes: Vec<Outcome> = vec![Outcome::default(); queries.len()];
    for (n, &clients) in cfg.pg_clients.iter().enumerate() {
        let mut per = BTreeMap::new();
        for (family, idx) in &families {
            let qs = Arc::new(idx.iter().map(|&i| queries[i].clone()).collect::<Vec<_>>());
            let (wall, res) = pg::run(&pg, qs, clients).await?;
            let lat = res.iter().map(|r| r.0).collect();
            if n == 0 {
                for (&i, (_, o)) in idx.iter().zip(res) {
                    pg_outcomes[i] = o;
                }
            }
            let f = Figures::new(wall, lat);
            log(format!(
                "postgres {clients} connection(s) {}: p50 {:.2} ms p99 {:.2} ms {:.1} q/s",
                family.label(),
                f.ms(0.5),
                f.ms(0.99),
                f.qps()
            ));
            per.insert(*family, f);
        }
        pg_runs.push((clients, per));
    }

    // Same offers for every geo query? Full hit sets, totals and first pages.
    log("comparing hit sets…");
    let mut v = Verification::default();
    for (i, q) in queries.iter().enumerate() {
        let (m, p) = (&mosaic_outcomes[i], &pg_outcomes[i]);
        if q.family.exact() {
            v.compared += 1;
            let a = mosaic::hit_set(&index, q)?;
            let b = pg::hit_set(&pg, q).await?;
            v.hits_compared += a.len();
            let diff = symmetric_difference(&a, &b);
            if diff > 0 || a.len() as i64 != m.total || b.len() as i64 != p.total {
                v.mismatched_queries += 1;
                v.mismatched_ids += diff;
                if v.examples.len() < 3 {
                    v.examples.push(format!(
                        "query {i} ({}, {:.1} km): index {} hits, PostgreSQL {} hits, {diff} differ",
                        q.family.label(),
                        q.radius_m / 1000.0,
                        a.len(),
                        b.len()
                    ));
                }
            }
            if m.page != p.page {
                v.mismatched_pages += 1;
            }
        } else {
            v.text_queries += 1;
            v.text_totals.0 += m.total as u64;
            v.text_totals.1 += p.total as u64;
            v.text_empty.0 += usize::from(m.total == 0);
            v.text_empty.1 += usize::from(p.total == 0);
        }
    }
    log(format!(
        "{} geo queries compared: {} mismatching",
        v.compared, v.mismatched_queries
    ));

    // Freshness.
    let mosaic_fresh = mosaic::freshness(&index, &fresh_docs, FRESHNESS_ROUNDS)?;
    let tokens: Vec<String> = (0..fresh_docs.len())
        .map(|i| mosaic::fresh_token(1_000 + i))
        .collect();
    let pg_fresh = pg::freshness(&pg, &fresh_docs, &tokens).await?;
    pg::set_fingerprint(&pg, &fingerprint).await?;

    let report = Report {
        profile: cfg.profile.clone(),
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        machine: stats::machine(),
        pg_version,
        pg_settings,
        offers,
        catalog,
        queries: queries.to_vec(),
        load,
        convert,
        build,
        segments_at_commit,
        merge_wait,
        segments,
        live_bytes,
        dir_bytes,
        rss_after_build,
        rss_peak: status_mib("VmHWM"),
        rss_end: status_mib("VmRSS"),
        pg_table,
        mosaic_runs,
        pg_runs,
        verification: v,
        mosaic_fresh,
        pg_fresh,
        elapsed: started.elapsed(),
    };
    let section = report.render();
    println!("{section}");
    report::write_section(&cfg.results, &section)?;
    log(format!(
        "wrote {} in {:.0?}",
        cfg.results.display(),
        started.elapsed()
    ));
    pg.close().await;
    Ok(())
}
