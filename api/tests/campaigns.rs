//! Push campaigns over HTTP: partners request them, and the engine delivers them to a
//! push provider's webhook on 127.0.0.1 that fails some requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use engine::auth::Principal;
use engine::campaign::{self, CampaignConfig, CampaignStatus, WebhookSink};
use engine::ids::OffererId;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore, UserSpec};
use indicatif::ProgressBar;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

mod common;

use common::{token, Server};

const DAY: i64 = 86_400;

/// Requests a campaign: status and body.
async fn post(s: &Server, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    s.call(Method::POST, "/v1/partner/campaigns", token, Some(&body))
        .await
}

fn concert(places: i64) -> OfferSpec {
    let start = engine::now() + 20 * DAY;
    OfferSpec {
        subcategory: "CONCERT",
        price: Cents(1_000),
        quantity: Some(places),
        beginning_at: Some(start),
        booking_limit_at: Some(start - 3 * DAY),
        ..OfferSpec::default()
    }
}

#[tokio::test]
async fn partners_request_campaigns_for_their_offers_with_fifty_places() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let (big, _) = f.offer(concert(80));
    let (small, _) = f.offer(concert(49));
    let user = f.user(Some(Cents(5_000)), None);
    f.write(&t.store).await;
    let mut other = Fixture::new(1_000);
    other.offer(concert(10));
    other.write(&t.store).await;
    let partner = token(&t.store, Principal::Partner(OffererId(1))).await;
    let stranger = token(&t.store, Principal::Partner(OffererId(1_000))).await;
    let young = token(&t.store, Principal::User(user)).await;
    let server = Server::start(t.store.clone()).await;

    let (status, body) = post(&server, Some(&partner), json!({"offer_id": small.0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "not_enough_places");
    assert!(body["detail"].as_str().unwrap().contains("49"), "{body}");

    let (status, body) = post(&server, Some(&partner), json!({"offer_id": big.0})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "requested");
    assert_eq!(body["offer_id"], big.0);
    assert_eq!(body["targeted"], 0);
    let id = body["id"].as_i64().unwrap();

    let (status, body) = post(&server, Some(&partner), json!({"offer_id": big.0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "campaign_already_active");
    // Another partner, a young person, nobody: never the campaign.
    assert_eq!(
        post(&server, Some(&stranger), json!({"offer_id": big.0}))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&server, Some(&young), json!({"offer_id": big.0}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(&server, None, json!({"offer_id": big.0})).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&server, Some(&partner), json!({"offer": big.0}))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let get = |path: String, t: String| {
        let server = &server;
        async move { server.call(Method::GET, &path, Some(&t), None).await }
    };
    let (status, list) = get("/v1/partner/campaigns".into(), partner.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, list) = get("/v1/partner/campaigns".into(), stranger.clone()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (status, _) = get(format!("/v1/partner/campaigns/{id}"), stranger).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, one) = get(format!("/v1/partner/campaigns/{id}"), partner).await;
    assert_eq!((status, one["id"].as_i64()), (StatusCode::OK, Some(id)));
}

/// What the fake push provider saw: every message it was handed, by idempotency key.
#[derive(Default)]
struct Provider {
    requests: usize,
    /// Messages per key, counted each time a request carrying them reached the provider
    /// and was kept (including those whose answer was lost).
    received: HashMap<String, usize>,
    /// The user of each key.
    users: HashMap<String, i64>,
}

/// A push provider that, cycling over requests: keeps the batch but answers 500 as if
/// the answer were lost (the engine resends; the provider must drop the duplicates),
/// refuses with 503, then accepts.
fn flaky_provider(state: Arc<Mutex<Provider>>) -> axum::Router {
    axum::Router::new().route(
        "/push",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| {
            let state = state.clone();
            async move {
                assert!(headers.contains_key("idempotency-key"));
                let mut p = state.lock().unwrap();
                p.requests += 1;
                let turn = p.requests % 3;
                if turn == 2 {
                    return AxumStatus::SERVICE_UNAVAILABLE;
                }
                for m in body["messages"].as_array().unwrap() {
                    let key = m["idempotency_key"].as_str().unwrap().to_owned();
                    *p.received.entry(key.clone()).or_default() += 1;
                    p.users.insert(key, m["user_id"].as_i64().unwrap());
                }
                if turn == 1 {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            }
        }),
    )
}

#[tokio::test]
async fn a_flaky_webhook_notifies_each_user_once_after_retries_and_reruns() {
    for t in TestStore::each().await {
        let store = &t.store;
        let mut f = Fixture::new(1);
        let (offer, _) = f.offer(concert(60));
        let users: Vec<_> = (0..7).map(|_| f.user_with(UserSpec::default())).collect();
        f.write(store).await;
        let provider = Arc::new(Mutex::new(Provider::default()));
        let webhook = Server::serve(flaky_provider(provider.clone())).await;
        let base = webhook.base.clone();
        let sink = WebhookSink::new(&format!("{base}/push")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = CampaignConfig {
            quiet_hours: None,
            batch_size: 2,
            max_attempts: 3,
            backoff_ms: 1,
            out_dir: dir.path().to_path_buf(),
            ..CampaignConfig::default()
        };
        let id = campaign::request(store, None, offer, &config, engine::now())
            .await
            .unwrap()
            .id;
        let runs = campaign::run(
            store,
            &sink,
            &config,
            None,
            false,
            engine::now(),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert_eq!((runs[0].sent, runs[0].failed), (7, 0), "{:?}", runs[0]);
        assert_eq!(runs[0].status, CampaignStatus::Sent);
        {
            let p = provider.lock().unwrap();
            // Four batches, each tried three times (kept-but-lost, refused, accepted).
            assert_eq!(p.requests, 12);
            let mut notified: Vec<i64> = p.users.values().copied().collect();
            notified.sort();
            let mut expected: Vec<i64> = users.iter().map(|u| u.0).collect();
            expected.sort();
            assert_eq!(notified, expected, "every user, once after deduplication");
            assert!(
                p.received.values().all(|&n| n == 2),
                "each message resent once after the lost answer"
            );
        }
        let counts = campaign::views(store, None, &config).await.unwrap()[0].counts;
        assert_eq!((counts.targeted, counts.sent, counts.failed), (7, 7, 0));

        // A re-run has nothing to send: the provider hears nothing more.
        let runs = campaign::run(
            store,
            &sink,
            &config,
            Some(id),
            false,
            engine::now(),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(runs.is_empty());
        assert_eq!(provider.lock().unwrap().requests, 12);
        let payload =
            std::fs::read_to_string(dir.path().join(format!("campaign-{id}.jsonl"))).unwrap();
        assert_eq!(payload.lines().count(), 7);
    }
}

/// A provider that keeps every batch, then takes a while to answer: a run killed
/// meanwhile never hears that its last batch went through.
fn slow_provider(state: Arc<Mutex<Provider>>) -> axum::Router {
    axum::Router::new().route(
        "/push",
        axum::routing::post(move |body: axum::Json<Value>| {
            let state = state.clone();
            async move {
                {
                    let mut p = state.lock().unwrap();
                    p.requests += 1;
                    for m in body["messages"].as_array().unwrap() {
                        let key = m["idempotency_key"].as_str().unwrap().to_owned();
                        *p.received.entry(key.clone()).or_default() += 1;
                        p.users.insert(key, m["user_id"].as_i64().unwrap());
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                AxumStatus::OK
            }
        }),
    )
}

/// `mosaic campaigns run` killed with SIGKILL in the middle of sending, then run again:
/// everyone is notified, and only the batch in flight at the kill can reach the
/// provider twice, with the same idempotency key (so the provider drops it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_delivery_resumes_without_notifying_anyone_twice() {
    for t in TestStore::each().await {
        let store = &t.store;
        let mut f = Fixture::new(1);
        let (offer, _) = f.offer(concert(60));
        let users: Vec<_> = (0..12).map(|_| f.user_with(UserSpec::default())).collect();
        f.write(store).await;
        let config = CampaignConfig::default();
        campaign::request(store, None, offer, &config, engine::now())
            .await
            .unwrap();
        let provider = Arc::new(Mutex::new(Provider::default()));
        let webhook = Server::serve(slow_provider(provider.clone())).await;
        let base = webhook.base.clone();
        let out = tempfile::tempdir().unwrap();
        let (out_dir, hook, url) = (
            out.path().to_path_buf(),
            format!("{base}/push"),
            t.url.clone(),
        );
        let run = move || {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_mosaic"));
            c.args([
                "campaigns",
                "run",
                "--batch-size",
                "1",
                "--quiet-hours",
                "none",
            ])
            .arg("--out-dir")
            .arg(&out_dir)
            .args(["--webhook", &hook])
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
            c
        };
        let mut child = run().spawn().unwrap();
        // Kill it once a few batches reached the provider.
        for _ in 0..600 {
            if provider.lock().unwrap().requests >= 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let counts = campaign::views(store, None, &config).await.unwrap()[0].counts;
        assert_eq!(counts.targeted, 12);
        assert!(
            counts.sent < 12,
            "the run was killed before the end: {counts:?}"
        );

        let mut again = run();
        let status = tokio::task::spawn_blocking(move || again.status().unwrap())
            .await
            .unwrap();
        assert!(status.success());
        let counts = campaign::views(store, None, &config).await.unwrap()[0].counts;
        assert_eq!((counts.sent, counts.failed), (12, 0));
        let p = provider.lock().unwrap();
        let mut notified: Vec<i64> = p.users.values().copied().collect();
        notified.sort();
        let mut expected: Vec<i64> = users.iter().map(|u| u.0).collect();
        expected.sort();
        assert_eq!(notified, expected);
        let resent = p.received.values().filter(|&&n| n > 1).count();
        assert!(
            resent <= 1,
            "only the batch in flight may be resent: {:?}",
            p.received
        );
        assert!(p.received.values().all(|&n| n <= 2));
    }
}
