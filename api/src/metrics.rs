//! Prometheus metrics: per-route latency histograms, feed stages and rankings, booking
//! events and index freshness, rendered at `/metrics`.
//!
//! One registry per process (every router in a process, tests included, shares it);
//! labels keep routes apart.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry,
};

/// Buckets from 1 ms to 30 s: feed and search live in the tens of milliseconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets from 25 µs to 250 ms for the stages of one feed.
const STAGE_BUCKETS: [f64; 13] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032,
    0.064, 0.25,
];

/// The service's metrics and the registry that renders them.
struct Metrics {
    registry: Registry,
    /// `mosaic_http_request_duration_seconds{route, method, status}`.
    latency: HistogramVec,
    /// `mosaic_feed_stage_seconds{stage}`.
    feed_stages: HistogramVec,
    /// `mosaic_feed_pages_total{ranking}`.
    feed_pages: IntCounterVec,
    /// `mosaic_bookings_total{event}`.
    bookings: IntCounterVec,
    /// `mosaic_index_age_seconds`.
    index_age: IntGauge,
    /// `mosaic_indexed_offers`.
    indexed_offers: IntGauge,
    /// `mosaic_index_reindexed_offers_total`.
    reindexed: IntCounter,
    /// `mosaic_index_segments`.
    index_segments: IntGauge,
    /// `mosaic_index_compactions_total`.
    compactions: IntCounter,
    /// `mosaic_index_compaction_seconds_total`.
    compaction_seconds: Counter,
    /// `mosaic_index_rewrite_due`.
    rewrite_due: IntGauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "mosaic_http_request_duration_seconds",
            "Time to answer a request, by route template, method and status",
        )
        .buckets(BUCKETS.to_vec()),
        &["route", "method", "status"],
    )
    .expect("valid histogram");
    let feed_stages = HistogramVec::new(
        HistogramOpts::new(
            "mosaic_feed_stage_seconds",
            "Time a feed request spends in each stage: boosts, profile, candidates, rank, cards",
        )
        .buckets(STAGE_BUCKETS.to_vec()),
        &["stage"],
    )
    .expect("valid histogram");
    let feed_pages = IntCounterVec::new(
        Opts::new(
            "mosaic_feed_pages_total",
            "Feed pages served, by ranking: fresh (ranked for the request) or kept (cut from \
             the ranking of the feed's first page)",
        ),
        &["ranking"],
    )
    .expect("valid counter");
    let bookings = IntCounterVec::new(
        Opts::new(
            "mosaic_bookings_total",
            "Booking events: created, cancelled, used, expired",
        ),
        &["event"],
    )
    .expect("valid counter");
    let index_age = IntGauge::new(
        "mosaic_index_age_seconds",
        "Seconds since the offer index last caught up with the store",
    )
    .expect("valid gauge");
    let indexed_offers =
        IntGauge::new("mosaic_indexed_offers", "Offers in the search index").expect("valid gauge");
    let reindexed = IntCounter::new(
        "mosaic_index_reindexed_offers_total",
        "Offer documents the index refreshes wrote or removed: each change is pushed once",
    )
    .expect("valid counter");
    let index_segments = IntGauge::new(
        "mosaic_index_segments",
        "Segments of the search index: each refresh that changed offers adds one, a compaction \
         merges them back",
    )
    .expect("valid gauge");
    let compactions = IntCounter::new(
        "mosaic_index_compactions_total",
        "Compactions of the search index that merged segments",
    )
    .expect("valid counter");
    let compaction_seconds = Counter::new(
        "mosaic_index_compaction_seconds_total",
        "Wall time spent compacting the search index",
    )
    .expect("valid counter");
    let rewrite_due = IntGauge::new(
        "mosaic_index_rewrite_due",
        "1 while a rewrite of a large index segment, due since before start-up, waits for or \
         runs in the compaction task; 0 otherwise",
    )
    .expect("valid gauge");
    for collector in [
        Box::new(latency.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(feed_stages.clone()),
        Box::new(feed_pages.clone()),
        Box::new(bookings.clone()),
        Box::new(index_age.clone()),
        Box::new(indexed_offers.clone()),
        Box::new(reindexed.clone()),
        Box::new(index_segments.clone()),
        Box::new(compactions.clone()),
        Box::new(compaction_seconds.clone()),
        Box::new(rewrite_due.clone()),
    ] {
        registry
            .register(collector)
            .expect("each metric registered once");
    }
    Metrics {
        registry,
        latency,
        feed_stages,
        feed_pages,
        bookings,
        index_age,
        indexed_offers,
        reindexed,
        index_segments,
        compactions,
        compaction_seconds,
        rewrite_due,
    }
});

/// Records where a feed request spent its time (a page cut from a kept ranking spends
/// none in the stages it skipped), and whether its ranking was fresh or kept.
pub fn feed_stages(timings: &engine::FeedTimings) {
    for (stage, spent) in timings.stages() {
        METRICS
            .feed_stages
            .with_label_values(&[stage])
            .observe(spent.as_secs_f64());
    }
    let ranking = if timings.kept { "kept" } else { "fresh" };
    METRICS.feed_pages.with_label_values(&[ranking]).inc();
}

/// Counts `n` booking events (`created`, `cancelled`, `used`, `expired`).
pub fn booking(event: &str, n: u64) {
    METRICS.bookings.with_label_values(&[event]).inc_by(n);
}

/// Two scrapes at once would otherwise both add the same difference to a counter that
/// catches up with an engine total.
static CATCHING_UP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Records the index's freshness and the offer documents the engine has re-indexed, just
/// before a scrape renders them.
pub fn index_freshness(age_s: i64, offers: u64, reindexed: u64) {
    METRICS.index_age.set(age_s);
    METRICS
        .indexed_offers
        .set(i64::try_from(offers).unwrap_or(i64::MAX));
    let _alone = CATCHING_UP.lock().unwrap_or_else(|e| e.into_inner());
    let counter = &METRICS.reindexed;
    counter.inc_by(reindexed.saturating_sub(counter.get()));
}

/// Records the index's segments and the compactions the engine has run, just before a
/// scrape renders them. The engine keeps the totals; the counters catch up to them.
pub fn index_compactions(segments: usize, done: engine::Compactions) {
    METRICS
        .index_segments
        .set(i64::try_from(segments).unwrap_or(i64::MAX));
    let _alone = CATCHING_UP.lock().unwrap_or_else(|e| e.into_inner());
    let m = &METRICS;
    m.rewrite_due.set(i64::from(done.rewrite_due));
    m.compactions
        .inc_by(done.count.saturating_sub(m.compactions.get()));
    let seconds = done.time.as_secs_f64() - m.compaction_seconds.get();
    if seconds > 0.0 {
        m.compaction_seconds.inc_by(seconds);
    }
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    let mut out = Vec::new();
    if let Err(e) = prometheus::TextEncoder::new().encode(&METRICS.registry.gather(), &mut out) {
        tracing::error!(error = %e, "encoding the metrics failed");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Middleware timing every request under its route template (never the raw path, whose
/// ids would make one series per resource), method and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    METRICS
        .latency
        .with_label_values(&[route.as_str(), method.as_str(), response.status().as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn value(name: &str) -> String {
        render()
            .lines()
            .find_map(|l| Some(l.strip_prefix(name)?.strip_prefix(' ')?.to_owned()))
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn compaction_counters_catch_up_with_the_engine_totals_once() {
        let done = |count, ms| engine::Compactions {
            count,
            time: Duration::from_millis(ms),
            rewrite_due: count == 2,
        };
        index_compactions(3, done(2, 1_500));
        // Scraped again with nothing new: the counters stay, they do not add the totals.
        index_compactions(2, done(2, 1_500));
        assert_eq!(value("mosaic_index_segments"), "2");
        assert_eq!(value("mosaic_index_compactions_total"), "2");
        assert_eq!(value("mosaic_index_compaction_seconds_total"), "1.5");
        assert_eq!(value("mosaic_index_rewrite_due"), "1");
        index_compactions(2, done(3, 2_250));
        assert_eq!(value("mosaic_index_compactions_total"), "3");
        assert_eq!(value("mosaic_index_compaction_seconds_total"), "2.25");
        assert_eq!(value("mosaic_index_rewrite_due"), "0", "done by the third");
    }

    #[test]
    fn the_reindexed_counter_catches_up_with_the_engine_total_once() {
        index_freshness(1, 10, 7);
        index_freshness(0, 10, 7);
        assert_eq!(value("mosaic_index_reindexed_offers_total"), "7");
        assert_eq!(value("mosaic_index_age_seconds"), "0");
        index_freshness(0, 10, 9);
        assert_eq!(value("mosaic_index_reindexed_offers_total"), "9");
    }
}
