//! The ledger issue over real HTTP: roles, idempotent retries, 10,000 concurrent
//! booking attempts, and a kill -9 in the middle of a booking load.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use engine::auth::Principal;
use engine::ids::{OffererId, UserId};
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::Server;

/// POST with an optional token and extra headers: status code and JSON body.
async fn post(
    s: &Server,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let mut req = s.client.post(format!("{}{path}", s.base)).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn roles_and_ownership_guard_cancellation_and_validation() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let (_, stock) = f.offer(OfferSpec {
            price: Cents(700),
            ..OfferSpec::default()
        });
        let (_, stock2) = f.offer(OfferSpec {
            price: Cents(700),
            ..OfferSpec::default()
        });
        let alice = f.user(Some(Cents(5_000)), None);
        let bob = f.user(Some(Cents(5_000)), None);
        f.write(&t.store).await;
        let token = |p| {
            let store = t.store.clone();
            async move { store.create_token(p, engine::now()).await.unwrap() }
        };
        let (alice_t, bob_t) = (
            token(Principal::User(alice)).await,
            token(Principal::User(bob)).await,
        );
        let partner_t = token(Principal::Partner(OffererId(1))).await;
        let curator_t = token(Principal::Curator).await;
        let s = Server::start(t.store.clone()).await;

        // Booking: a token must be the booker's; an idempotent retry answers the same.
        let body = json!({"user_id": alice.0, "stock_id": stock.0});
        let (status, _) = post(&s, "/v1/bookings", Some(&bob_t), &[], &body).await;
        assert_eq!(status, 403);
        let (status, _) = post(&s, "/v1/bookings", Some(&curator_t), &[], &body).await;
        assert_eq!(status, 403, "a curator cannot book");
        let (status, _) = post(&s, "/v1/bookings", Some("mos_forged"), &[], &body).await;
        assert_eq!(status, 401);
        let key = [("Idempotency-Key", "retry-me")];
        let (status, first) = post(&s, "/v1/bookings", Some(&alice_t), &key, &body).await;
        assert_eq!(status, 201, "{first}");
        let (status, again) = post(&s, "/v1/bookings", Some(&alice_t), &key, &body).await;
        assert_eq!(
            (status, &again),
            (201, &first),
            "same key, same body: the first answer"
        );
        let other = json!({"user_id": alice.0, "stock_id": stock2.0});
        let (status, problem) = post(&s, "/v1/bookings", Some(&alice_t), &key, &other).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (422, Some("idempotency_key_reused"))
        );
        assert_eq!(
            t.store
                .scalar("SELECT COUNT(*) FROM bookings")
                .await
                .unwrap(),
            1
        );

        // Cancellation: only the booker (404 for others, never data), only users on this route.
        let id = first["id"].as_i64().unwrap();
        let cancel = format!("/v1/bookings/{id}/cancel");
        let (status, _) = post(&s, &cancel, None, &[], &json!({})).await;
        assert_eq!(status, 401);
        let (status, _) = post(&s, &cancel, Some(&bob_t), &[], &json!({})).await;
        assert_eq!(status, 404);
        let (status, _) = post(&s, &cancel, Some(&partner_t), &[], &json!({})).await;
        assert_eq!(status, 403);

        // Validation at the door: only the offerer's partner, once.
        let door = format!(
            "/v1/partner/bookings/{}/use",
            first["token"].as_str().unwrap()
        );
        let (status, _) = post(&s, &door, Some(&alice_t), &[], &json!({})).await;
        assert_eq!(status, 403);
        let (status, used) = post(&s, &door, Some(&partner_t), &[], &json!({})).await;
        assert_eq!(
            (status, used["status"].as_str()),
            (200, Some("used")),
            "{used}"
        );
        let (status, problem) = post(&s, &door, Some(&partner_t), &[], &json!({})).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("already_used"))
        );
        let (status, problem) = post(&s, &cancel, Some(&alice_t), &[], &json!({})).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("already_used"))
        );

        // A second booking, cancelled by its user: refunded once.
        let (_, b2) = post(&s, "/v1/bookings", Some(&alice_t), &[], &other).await;
        let cancel2 = format!("/v1/bookings/{}/cancel", b2["id"]);
        let (status, _) = post(&s, &cancel2, Some(&alice_t), &[], &json!({})).await;
        assert_eq!(status, 200);
        let (status, problem) = post(&s, &cancel2, Some(&alice_t), &[], &json!({})).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (409, Some("already_cancelled"))
        );
        let deposit = t
            .store
            .active_deposit(alice, engine::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deposit.remaining(), Cents(5_000 - 700));
        assert_eq!(t.store.ledger_check().await.unwrap(), vec![]);
    }
}

/// 10,000 attempts, 100 at a time, by 1,000 users whose wallets afford one booking but
/// not two, on five small stocks (one duo) and two unlimited ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_concurrent_attempts_keep_every_invariant() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let mut stocks = Vec::new();
        for i in 0..5 {
            let spec = OfferSpec {
                subcategory: if i == 0 { "CONCERT" } else { "LIVRE_PAPIER" },
                price: Cents(1_000),
                quantity: Some(20),
                is_duo: i == 0,
                beginning_at: (i == 0).then(|| engine::now() + 30 * 86_400),
                ..OfferSpec::default()
            };
            stocks.push(f.offer(spec).1);
        }
        for _ in 0..2 {
            stocks.push(
                f.offer(OfferSpec {
                    price: Cents(900),
                    quantity: None,
                    ..OfferSpec::default()
                })
                .1,
            );
        }
        let users: Vec<UserId> = (0..1_000)
            .map(|_| f.user(Some(Cents(1_500)), None))
            .collect();
        f.write(&t.store).await;
        let s = Arc::new(Server::start(t.store.clone()).await);

        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let attempts: Vec<Value> = (0..10_000)
            .map(|_| {
                let quantity = if rng.gen_bool(0.1) { 2 } else { 1 };
                json!({
                    "user_id": users[rng.gen_range(0..users.len())].0,
                    "stock_id": stocks[rng.gen_range(0..stocks.len())].0,
                    "quantity": quantity,
                })
            })
            .collect();
        let answers: Vec<(u16, Value)> = futures::stream::iter(attempts)
            .map(|body| {
                let s = s.clone();
                async move { post(&s, "/v1/bookings", None, &[], &body).await }
            })
            .buffer_unordered(100)
            .collect()
            .await;

        let allowed = [
            "sold_out",
            "insufficient_credit",
            "duplicate_booking",
            "duo_not_allowed",
        ];
        let mut codes: HashMap<String, usize> = HashMap::new();
        let mut created = Vec::new();
        for (status, body) in &answers {
            match status {
                201 => created.push(body.clone()),
                409 | 422 => {
                    let code = body["code"].as_str().unwrap_or_default();
                    assert!(allowed.contains(&code), "{status} {body}");
                    *codes.entry(code.to_owned()).or_default() += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        let rows = t
            .store
            .scalar("SELECT COUNT(*) FROM bookings")
            .await
            .unwrap();
        assert_eq!(
            rows as usize,
            created.len(),
            "every 201 is a row and every row a 201"
        );
        for b in &created {
            let id = engine::ids::BookingId(b["id"].as_i64().unwrap());
            let row = t
                .store
                .booking(id)
                .await
                .unwrap()
                .expect("the booking answered exists");
            assert_eq!(
                (row.token.as_str(), row.amount.0),
                (
                    b["token"].as_str().unwrap(),
                    b["amount_cents"].as_i64().unwrap()
                )
            );
        }
        for &stock in &stocks[..5] {
            assert_eq!(
                t.store.stock(stock).await.unwrap().unwrap().booked,
                20,
                "small stocks sell out, never over"
            );
        }
        assert_eq!(
            t.store.ledger_check().await.unwrap(),
            vec![],
            "{:?}",
            t.store.dialect()
        );
        assert!(
            codes.get("sold_out").is_some_and(|&n| n > 0)
                && codes.get("insufficient_credit").is_some_and(|&n| n > 0),
            "{codes:?}"
        );
    }
}

/// Starts the real binary, kills it with SIGKILL in the middle of a booking load, and
/// restarts it on the same store: nothing answered is lost, nothing half-written stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_mid_load_loses_nothing_answered() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let stocks: Vec<_> = (0..30)
            .map(|_| {
                f.offer(OfferSpec {
                    price: Cents(500),
                    quantity: Some(5),
                    ..OfferSpec::default()
                })
                .1
            })
            .collect();
        let users: Vec<UserId> = (0..300).map(|_| f.user(Some(Cents(2_000)), None)).collect();
        f.write(&t.store).await;

        let spawn = || {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = std::process::Command::new(env!("CARGO_BIN_EXE_mosaic"))
                .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
                .env("DATABASE_URL", &t.url)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            (child, format!("http://127.0.0.1:{port}"))
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let wait_ready = |base: String| {
            let client = client.clone();
            async move {
                for _ in 0..200 {
                    if client
                        .get(format!("{base}/health"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                panic!("the server did not come up");
            }
        };

        let (mut child, base) = spawn();
        wait_ready(base.clone()).await;
        let answered = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
        let mut load = Vec::new();
        for worker in 0..16u64 {
            let (client, base, answered) = (client.clone(), base.clone(), answered.clone());
            let (users, stocks) = (users.clone(), stocks.clone());
            load.push(tokio::spawn(async move {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(worker);
                for _ in 0..500 {
                    let body = json!({
                        "user_id": users[rng.gen_range(0..users.len())].0,
                        "stock_id": stocks[rng.gen_range(0..stocks.len())].0,
                    });
                    match client
                        .post(format!("{base}/v1/bookings"))
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            if let Ok(v) = r.json::<Value>().await {
                                answered.lock().unwrap().push(v);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => return, // the server is gone
                    }
                }
            }));
        }
        // Let the load run, then pull the plug.
        while answered.lock().unwrap().len() < 20 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for l in load {
            l.await.unwrap();
        }
        let answered = answered.lock().unwrap().clone();

        let (mut child, base) = spawn();
        wait_ready(base.clone()).await;
        for b in &answered {
            let id = engine::ids::BookingId(b["id"].as_i64().unwrap());
            let row = t
                .store
                .booking(id)
                .await
                .unwrap()
                .expect("an answered booking survived the crash");
            assert_eq!(row.token, b["token"].as_str().unwrap());
        }
        assert_eq!(
            t.store.ledger_check().await.unwrap(),
            vec![],
            "{:?}",
            t.store.dialect()
        );
        // The restarted index agrees with the store: sold-out offers are not found, others are.
        let found: Value = client
            .get(format!(
                "{base}/v1/search?lat=48.8566&lon=2.3522&radius_km=5&digital=exclude&limit=100"
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed: Vec<i64> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["offer_id"].as_i64().unwrap())
            .collect();
        for &stock in &stocks {
            let s = t.store.stock(stock).await.unwrap().unwrap();
            assert_eq!(
                listed.contains(&s.offer_id.0),
                s.remaining() != Some(0),
                "offer {}",
                s.offer_id
            );
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
