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
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

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
    for collector in [
        Box::new(latency.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(feed_stages.clone()),
        Box::new(feed_pages.clone()),
        Box::new(bookings.clone()),
        Box::new(index_age.clone()),
        Box::new(indexed_offers.clone()),
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

/// Records the index's freshness, just before a scrape renders it.
pub fn index_freshness(age_s: i64, offers: u64) {
    METRICS.index_age.set(age_s);
    METRICS
        .indexed_offers
        .set(i64::try_from(offers).unwrap_or(i64::MAX));
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
