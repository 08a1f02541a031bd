//! The operations contract over real HTTP: the OpenAPI document lists every route, the
//! probes answer, `/metrics` times the routes, and request ids travel.

use std::collections::BTreeSet;
use std::time::Duration;

use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use reqwest::StatusCode;
use serde_json::Value;

mod common;

use common::Server;

/// Every route the service serves, as `METHOD path` in the document's spelling.
const ROUTES: &[&str] = &[
    "GET /health",
    "GET /ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET /docs",
    "GET /v1/feed",
    "GET /v1/search",
    "GET /v1/offers/{id}",
    "GET /v1/users/{id}/wallet",
    "POST /v1/bookings",
    "POST /v1/bookings/{id}/cancel",
    "POST /v1/partner/bookings/{token}/use",
    "POST /v1/partner/bookings/{id}/cancel",
    "GET /v1/partner/bookings/{id}",
    "GET /v1/partner/campaigns",
    "POST /v1/partner/campaigns",
    "GET /v1/partner/campaigns/{id}",
    "GET /v1/curator/boosts",
    "POST /v1/curator/boosts",
    "POST /v1/curator/boosts/preview",
    "POST /v1/curator/boosts/{id}/expire",
    "GET /v1/curator/boosts/{id}",
    "PUT /v1/curator/boosts/{id}",
    "GET /v1/curator/boosts/departments",
    "GET /v1/curator/taxonomy",
    "GET /console",
    "GET /console/",
    "GET /console/{file}",
    "GET /v1/analyst/diversity/{table}",
];

async fn empty_server() -> (TestStore, Server) {
    let t = TestStore::sqlite().await;
    let s = Server::start(t.store.clone()).await;
    (t, s)
}

#[tokio::test]
async fn the_openapi_document_is_3_1_and_lists_every_route() {
    let (_t, s) = empty_server().await;
    let (status, doc, ctype) = s.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("application/json"), "{ctype}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
        }
    }
    let expected: BTreeSet<String> = ROUTES.iter().map(|r| r.to_string()).collect();
    let missing: Vec<_> = expected.difference(&documented).collect();
    assert!(missing.is_empty(), "served but not documented: {missing:?}");
    // A route documented here but not in ROUTES was added since: it must answer (not 404
    // "no such route"), and this list should learn it.
    for extra in documented.difference(&expected) {
        let (method, path) = extra.split_once(' ').unwrap();
        let url = format!("{}{}", s.base, path.replace(['{', '}'], ""));
        let r = s
            .client
            .request(method.parse().unwrap(), url)
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["detail"], "no such route",
            "{extra} is documented but not served"
        );
    }
    // Errors are described once, as problem+json.
    let problem = &doc["components"]["schemas"]["ProblemBody"]["properties"];
    for key in ["type", "title", "status", "code", "detail"] {
        assert!(problem.get(key).is_some(), "ProblemBody.{key} missing");
    }
    assert!(doc["components"]["responses"]["ProblemResponse"]["content"]
        .get("application/problem+json")
        .is_some());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());

    let docs = s
        .client
        .get(format!("{}/docs", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("/openapi.json"));
}

/// Routes are registered only through `routes!`, which documents them: a plain
/// `.route(` in a route module would serve a route `/openapi.json` does not show.
#[test]
fn route_modules_register_only_documented_handlers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(".route(\""),
            "{} registers a route with .route(...): use .routes(routes!(handler)) over a #[utoipa::path]",
            path.display()
        );
    }
}

#[tokio::test]
async fn ready_metrics_and_request_ids() {
    let (_t, s) = empty_server().await;
    let (status, ready, _) = s.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "ready");

    // The client's request id comes back; without one, the service makes one.
    let r = s
        .client
        .get(format!("{}/health", s.base))
        .header("x-request-id", "test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "test-42");
    let r = s
        .client
        .get(format!("{}/v1/offers/999999", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(generated.len() >= 16, "{generated}");

    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |needle: &[&str]| {
        metrics
            .lines()
            .any(|l| needle.iter().all(|n| l.contains(n)))
    };
    assert!(
        line(&[
            "mosaic_http_request_duration_seconds_bucket",
            "route=\"/health\"",
            "method=\"GET\"",
            "status=\"200\""
        ]),
        "{metrics}"
    );
    // Under its template, never its raw path.
    assert!(line(&[
        "mosaic_http_request_duration_seconds_count",
        "route=\"/v1/offers/{id}\"",
        "status=\"404\""
    ]));
    // (The raw path, not the digits: a histogram's sum may print as 0.00999999….)
    assert!(!metrics.contains("/v1/offers/999999"));
    assert!(line(&["mosaic_index_age_seconds"]));
    assert!(line(&["mosaic_indexed_offers"]));
    // An empty catalogue is indexed in no segment, and nothing was compacted or re-indexed.
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert_eq!(value("mosaic_index_segments"), 0.0);
    assert_eq!(value("mosaic_index_compactions_total"), 0.0);
    assert_eq!(value("mosaic_index_compaction_seconds_total"), 0.0);
    assert_eq!(value("mosaic_index_reindexed_offers_total"), 0.0);
}

#[tokio::test]
async fn feeds_are_timed_stage_by_stage() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    for _ in 0..12 {
        f.offer(OfferSpec::default());
    }
    let user = f.user(Some(Cents(5_000)), None);
    f.write(&t.store).await;
    let s = Server::start(t.store.clone()).await;
    let path = format!("/v1/feed?user_id={}&limit=5", user.0);
    let (status, page, _) = s.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (status, page2, _) = s.get(&format!("{path}&cursor={cursor}")).await;
    assert_eq!(status, StatusCode::OK, "{page2}");
    assert_eq!(page2["items"].as_array().unwrap().len(), 5);
    let metrics = s.raw(reqwest::Method::GET, "/metrics", None, None).await;
    let text = String::from_utf8(metrics.body).unwrap();
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    for stage in ["boosts", "profile", "queue", "candidates", "rank", "cards"] {
        let count = format!("mosaic_feed_stage_seconds_count{{stage=\"{stage}\"}}");
        assert!(value(&count) >= 2, "{count}");
    }
    // Page 2 was cut from the ranking page 1 kept.
    for ranking in ["fresh", "kept"] {
        let pages = format!("mosaic_feed_pages_total{{ranking=\"{ranking}\"}}");
        assert!(value(&pages) >= 1, "{pages}");
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_is_a_503_problem() {
    // The service's deadline layer in front of a handler that takes far longer than the
    // deadline: no race with how fast the store answers.
    let slow = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_millis(50),
            api::layers::deadline,
        ));
    let s = Server::serve(slow).await;
    let started = std::time::Instant::now();
    let r = s.raw(reqwest::Method::GET, "/slow", None, None).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline cut it short"
    );
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.content_type, "application/problem+json");
    let problem = r.json();
    assert_eq!(problem["code"], "timeout", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("50 ms"),
        "{problem}"
    );
}
