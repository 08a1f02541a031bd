//! The service over real HTTP on 127.0.0.1, on a real store and a real index.

use std::sync::Arc;

use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use reqwest::StatusCode;
use serde_json::{json, Value};

mod support;

use support::{seeded_sqlite, Server};

#[tokio::test]
async fn the_app_endpoints_answer_their_contract() {
    let t = seeded_sqlite().await;
    let s = Server::start(t.store.clone()).await;

    let (status, health, _) = s.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(health["indexed_offers"].as_u64().unwrap() > 1_000);

    // A feed around Paris for user 1.
    let (status, feed, _) = s
        .get("/v1/feed?user_id=1&lat=48.8566&lon=2.3522&radius_km=30&limit=20")
        .await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    for item in items {
        for key in [
            "offer_id",
            "title",
            "category",
            "subcategory",
            "venue",
            "distance_m",
            "price_cents",
            "reason",
        ] {
            assert!(item.get(key).is_some(), "{key} missing in {item}");
        }
        assert!(item["reason"]["kind"].is_string() && item["reason"]["label"].is_string());
        match item["distance_m"].as_f64() {
            Some(d) => {
                assert!(d <= 30_000.0, "{item}");
                let venue = &item["venue"];
                for key in ["id", "name", "lat", "lon", "offerer_id"] {
                    assert!(venue.get(key).is_some(), "venue.{key} missing");
                }
            }
            None => assert!(
                item["venue"].is_null(),
                "digital offers have no venue: {item}"
            ),
        }
    }
    // Every card says why it is there, machine-readable and in French.
    let mut kinds = std::collections::HashSet::new();
    for item in items {
        let kind = item["reason"]["kind"].as_str().unwrap();
        let label = item["reason"]["label"].as_str().unwrap();
        let prefix = match kind {
            "near_you" => "À ",
            "because_you_booked" => "Parce que vous ",
            "discover" => "À découvrir : ",
            "curated" => "Choisi par ",
            "popular" => "Populaire ",
            other => panic!("unknown reason kind {other:?} in {item}"),
        };
        assert!(label.starts_with(prefix), "{kind}: {label:?}");
        assert!(label.chars().count() <= 80, "a short label: {label:?}");
        if kind == "near_you" {
            assert!(item["distance_m"].as_f64().is_some(), "{item}");
        }
        kinds.insert(kind);
    }
    assert!(kinds.len() >= 2, "reasons vary along the page: {kinds:?}");
    let cursor = feed["next_cursor"].as_str().expect("a second page");
    let (_, page2, _) = s
        .get(&format!(
            "/v1/feed?user_id=1&lat=48.8566&lon=2.3522&radius_km=30&cursor={cursor}"
        ))
        .await;
    let first: Vec<_> = items
        .iter()
        .map(|i| i["offer_id"].as_i64().unwrap())
        .collect();
    assert!(page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| !first.contains(&i["offer_id"].as_i64().unwrap())));
    // Same request, same feed.
    let (_, again, _) = s
        .get("/v1/feed?user_id=1&lat=48.8566&lon=2.3522&radius_km=30&limit=20")
        .await;
    assert_eq!(again, feed);

    // Search with facets.
    let (status, found, _) = s
        .get("/v1/search?q=concert&lat=48.8566&lon=2.3522&radius_km=100&limit=10")
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert!(found["facets"].as_array().is_some());
    assert!(found.get("next_cursor").is_some());
    let (_, digital, _) = s.get("/v1/search?digital=only&limit=10").await;
    let digital = digital["items"].as_array().unwrap();
    assert!(!digital.is_empty());
    assert!(digital
        .iter()
        .all(|i| i["venue"].is_null() && i["distance_m"].is_null()));

    // Offer page, wallet, booking.
    let offer_id = items
        .iter()
        .find(|i| i["price_cents"].as_i64() == Some(0) || i["venue"].is_object())
        .unwrap()["offer_id"]
        .as_i64()
        .unwrap();
    let (status, offer, _) = s.get(&format!("/v1/offers/{offer_id}")).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "id",
        "title",
        "description",
        "category",
        "subcategory",
        "offerer_id",
        "venue",
        "is_duo",
        "stocks",
    ] {
        assert!(offer.get(key).is_some(), "{key} missing in {offer}");
    }
    let stock = &offer["stocks"][0];
    for key in [
        "id",
        "price_cents",
        "remaining",
        "beginning_at",
        "booking_limit_at",
    ] {
        assert!(stock.get(key).is_some(), "stocks[].{key} missing");
    }
    let (status, wallet, _) = s.get("/v1/users/1/wallet").await;
    assert_eq!(status, StatusCode::OK);
    assert!(wallet["balance_cents"].as_i64().is_some());
}

#[tokio::test]
async fn a_booking_debits_the_wallet_and_shows_in_the_index() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let (offer, stock) = f.offer(OfferSpec {
        price: Cents(1200),
        quantity: Some(1),
        ..OfferSpec::default()
    });
    let user = f.user(Some(Cents(5000)), None);
    f.write(&t.store).await;
    let s = Server::start(t.store.clone()).await;

    let near = "/v1/search?lat=48.8566&lon=2.3522&radius_km=5&digital=exclude";
    let (_, before, _) = s.get(near).await;
    assert!(before["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["offer_id"] == json!(offer.0)));

    let (status, booking) = s
        .post(
            "/v1/bookings",
            &json!({"user_id": user.0, "stock_id": stock.0, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booking}");
    assert_eq!(booking["amount_cents"], json!(1200));
    assert_eq!(booking["status"], json!("confirmed"));
    assert_eq!(booking["token"].as_str().unwrap().len(), 8);
    assert_eq!(
        booking["qr_payload"],
        json!(format!("MOSAIC:v1:{}", booking["token"].as_str().unwrap()))
    );
    let (_, wallet, _) = s.get(&format!("/v1/users/{}/wallet", user.0)).await;
    assert_eq!(wallet["balance_cents"], json!(3800));

    // The last place is gone: within a second the offer leaves searches that exclude sold-out offers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let (_, after, _) = s.get(near).await;
        if !after["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["offer_id"] == json!(offer.0))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sold-out offer still searchable after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, detail, _) = s.get(&format!("/v1/offers/{}", offer.0)).await;
    assert_eq!(detail["stocks"][0]["remaining"], json!(0));
}

#[tokio::test]
async fn bad_input_is_a_problem_never_a_500() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let (_, stock) = f.offer(OfferSpec::default());
    let user = f.user(Some(Cents(5000)), None);
    f.write(&t.store).await;
    let s = Server::start(t.store.clone()).await;

    let junk = "%28%22%3A".repeat(400);
    let cases: Vec<(String, u16)> = vec![
        ("/v1/feed".into(), 400),
        ("/v1/feed?user_id=abc".into(), 400),
        (format!("/v1/feed?user_id={}&lat=100&lon=2", user.0), 400),
        (format!("/v1/feed?user_id={}&lat=48.8", user.0), 400),
        (format!("/v1/feed?user_id={}&lat=NaN&lon=2", user.0), 400),
        (format!("/v1/feed?user_id={}&radius_km=-1", user.0), 400),
        (format!("/v1/feed?user_id={}&limit=0", user.0), 400),
        (format!("/v1/feed?user_id={}&limit=1000", user.0), 400),
        (format!("/v1/feed?user_id={}&cursor=zzz", user.0), 400),
        ("/v1/feed?user_id=999999".into(), 404),
        ("/v1/search?limit=101".into(), 400),
        ("/v1/search?radius_km=10".into(), 400),
        ("/v1/search?digital=sometimes".into(), 400),
        ("/v1/search?category=NOPE".into(), 400),
        (format!("/v1/search?q={junk}"), 400),
        ("/v1/search?q=%22%3A%28%29%5B%5D%20AND%20((".into(), 200),
        ("/v1/offers/abc".into(), 400),
        ("/v1/offers/999999".into(), 404),
        ("/v1/users/999999/wallet".into(), 404),
        ("/v1/nothing-here".into(), 404),
    ];
    for (path, expected) in cases {
        let (status, body, ctype) = s.get(&path).await;
        assert_eq!(status.as_u16(), expected, "{path}: {body}");
        if expected != 200 {
            assert_eq!(ctype, "application/problem+json", "{path}");
            assert_eq!(body["status"], json!(expected), "{path}: {body}");
            assert!(
                body["code"].is_string() && body["type"].is_string() && body["detail"].is_string(),
                "{body}"
            );
        }
    }

    let url = format!("{}/v1/bookings", s.base);
    let send = |body: String, ctype: &'static str| {
        let c = s.client.clone();
        let url = url.clone();
        async move {
            let r = c
                .post(url)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let (status, body) = send("{not json".into(), "application/json").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (status, _) = send(
        json!({"user_id": 1, "stock_id": 1}).to_string(),
        "text/plain",
    )
    .await;
    assert_eq!(status, 415);
    let (status, body) = send(
        json!({"user_id": "x", "stock_id": 1}).to_string(),
        "application/json",
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_body")));
    let (status, _) = send(
        format!(
            "{{\"user_id\": 1, \"stock_id\": 1, \"pad\": \"{}\"}}",
            "x".repeat(100_000)
        ),
        "application/json",
    )
    .await;
    assert_eq!(status, 413);
    let (status, body) = s
        .post(
            "/v1/bookings",
            &json!({"user_id": user.0, "stock_id": stock.0, "quantity": 3}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (422, Some("invalid_quantity"))
    );
    let (status, body) = s
        .post(
            "/v1/bookings",
            &json!({"user_id": user.0, "stock_id": 999_999}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = s
        .client
        .delete(format!("{}/v1/bookings", s.base))
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status.as_u16(), 405);
}

/// 200 requests at once: 120 users race for a stock of 10 places while one user whose
/// wallet affords 3 bookings tries 80 different offers. Exactly 10 and exactly 3 win.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bookings_never_oversell_or_overspend() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let (_, scarce) = f.offer(OfferSpec {
            price: Cents(500),
            quantity: Some(10),
            ..OfferSpec::default()
        });
        let racers: Vec<_> = (0..120).map(|_| f.user(Some(Cents(5000)), None)).collect();
        let spender = f.user(Some(Cents(3000)), None);
        let stocks: Vec<_> = (0..80)
            .map(|_| {
                f.offer(OfferSpec {
                    price: Cents(1000),
                    quantity: None,
                    ..OfferSpec::default()
                })
                .1
            })
            .collect();
        f.write(&t.store).await;
        let s = Arc::new(Server::start(t.store.clone()).await);

        let mut tasks = Vec::new();
        for user in &racers {
            let (s, body) = (s.clone(), json!({"user_id": user.0, "stock_id": scarce.0}));
            tasks.push(tokio::spawn(async move {
                (true, s.post("/v1/bookings", &body).await)
            }));
        }
        for stock in &stocks {
            let (s, body) = (
                s.clone(),
                json!({"user_id": spender.0, "stock_id": stock.0}),
            );
            tasks.push(tokio::spawn(async move {
                (false, s.post("/v1/bookings", &body).await)
            }));
        }
        let (mut scarce_won, mut spender_won) = (0, 0);
        for task in futures::future::join_all(tasks).await {
            let (racing, (status, body)) = task.unwrap();
            match (status.as_u16(), racing) {
                (201, true) => scarce_won += 1,
                (201, false) => spender_won += 1,
                (409, true) => assert_eq!(body["code"], json!("sold_out"), "{body}"),
                (409, false) => assert_eq!(body["code"], json!("insufficient_credit"), "{body}"),
                other => panic!("unexpected answer {other:?}: {body}"),
            }
        }
        assert_eq!(
            (scarce_won, spender_won),
            (10, 3),
            "{:?}",
            t.store.dialect()
        );
        let stock = t.store.stock(scarce).await.unwrap().unwrap();
        assert_eq!(stock.booked, 10);
        let deposit = t
            .store
            .active_deposit(spender, engine::now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deposit.remaining(), Cents(0));
        let negative = t
            .store
            .scalar("SELECT COUNT(*) FROM deposits WHERE spent_cents > amount_cents")
            .await
            .unwrap();
        assert_eq!(negative, 0);
        let rows = t
            .store
            .scalar("SELECT COUNT(*) FROM bookings")
            .await
            .unwrap();
        assert_eq!(
            rows, 13,
            "every 201 is one booking row, and nothing else was written"
        );
        assert_eq!(
            t.store.ledger_check().await.unwrap(),
            vec![],
            "the ledger reconciles"
        );
    }
}
