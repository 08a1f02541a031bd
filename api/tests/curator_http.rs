//! Curator boosts over real HTTP on 127.0.0.1: roles, create, preview, expire.

use engine::auth::Principal;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use serde_json::{json, Value};

mod common;

use common::Server;

async fn call(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value, String) {
    let mut req = match body {
        Some(b) => c.post(url).json(b),
        None => c.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(Value::Null),
        ctype,
    )
}

#[tokio::test]
async fn only_curators_boost_and_preview_shows_the_move() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let offers: Vec<_> = (0..30)
        .map(|i| {
            f.offer(OfferSpec {
                subcategory: ["LIVRE_PAPIER", "SEANCE_CINE", "CONCERT"][i % 3],
                ..OfferSpec::default()
            })
            .0
        })
        .collect();
    let user = f.user(Some(Cents(10_000)), None);
    f.write(&t.store).await;
    let now = engine::now();
    let curator = t.store.create_token(Principal::Curator, now).await.unwrap();
    let user_t = t
        .store
        .create_token(Principal::User(user), now)
        .await
        .unwrap();
    let server = Server::start(t.store.clone()).await;
    let base = server.base.clone();
    let c = reqwest::Client::new();
    let draft = json!({"target": {"kind": "offer", "value": offers[29].0}, "weight": 1.0,
        "starts_at": now - 60, "ends_at": now + 86_400, "note": "Coup de cœur"});
    let url = format!("{base}/v1/curator/boosts");
    let (status, body, ctype) = call(&c, url.clone(), None, Some(&draft)).await;
    assert_eq!(
        (status, ctype.as_str()),
        (401, "application/problem+json"),
        "{body}"
    );
    let (status, body, _) = call(&c, url.clone(), Some(&user_t), Some(&draft)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, _, _) = call(&c, url.clone(), Some(&user_t), None).await;
    assert_eq!(status, 403);

    let preview = json!({"draft": draft, "users": [user.0]});
    let (status, p, _) = call(&c, format!("{url}/preview"), Some(&curator), Some(&preview)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["reached_offers"], json!(1));
    assert_eq!(p["personas"][0]["user_id"], json!(user.0));
    assert!(p["by_category"].is_array() && p["diversity_after"]["mean_categories"].is_number());

    let bad = json!({"target": {"kind": "subcategory", "value": "NOPE"}, "weight": 1.0, "starts_at": now, "ends_at": now + 10});
    let (status, body, ctype) = call(&c, url.clone(), Some(&curator), Some(&bad)).await;
    assert_eq!(
        (status, ctype.as_str()),
        (400, "application/problem+json"),
        "{body}"
    );

    let (status, created, _) = call(&c, url.clone(), Some(&curator), Some(&draft)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], json!("active"));
    let (_, list, _) = call(&c, url.clone(), Some(&curator), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let id = created["id"].as_i64().unwrap();
    let (status, expired, _) = call(
        &c,
        format!("{url}/{id}/expire"),
        Some(&curator),
        Some(&json!({})),
    )
    .await;
    assert_eq!((status, expired["status"].as_str()), (200, Some("expired")));
}

/// Sends `method` with an optional JSON body: `(status, body, content type)`.
async fn send(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<&Value>,
) -> (u16, Value, String) {
    let mut req = c.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(Value::Null),
        ctype,
    )
}

#[tokio::test]
async fn curators_read_edit_and_map_boosts_and_pick_personas() {
    use engine::testing::UserSpec;
    use reqwest::Method;

    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let offers: Vec<_> = (0..30)
        .map(|i| {
            f.offer(OfferSpec {
                subcategory: ["LIVRE_PAPIER", "SEANCE_CINE", "CONCERT"][i % 3],
                ..OfferSpec::default()
            })
            .0
        })
        .collect();
    let digital = f
        .offer(OfferSpec {
            subcategory: "ABO_PLATEFORME_VIDEO",
            digital: true,
            ..OfferSpec::default()
        })
        .0;
    let parisian = f.user(Some(Cents(10_000)), None);
    let marseillais = f.user_with(UserSpec {
        department: "13",
        birth: chrono::NaiveDate::from_ymd_opt(2010, 3, 1).unwrap(),
        ..UserSpec::default()
    });
    f.write(&t.store).await;
    let now = engine::now();
    let curator = t.store.create_token(Principal::Curator, now).await.unwrap();
    let user_t = t
        .store
        .create_token(Principal::User(parisian), now)
        .await
        .unwrap();
    let server = Server::start(t.store.clone()).await;
    let base = server.base.clone();
    let c = reqwest::Client::new();
    let url = format!("{base}/v1/curator/boosts");
    let boost = |target: Value, weight: f64, starts_at: i64| {
        json!({"target": target, "weight": weight, "starts_at": starts_at,
               "ends_at": now + 86_400, "note": "Sélection"})
    };
    let mut ids = Vec::new();
    for body in [
        boost(
            json!({"kind": "offer", "value": offers[0].0}),
            0.8,
            now - 60,
        ),
        boost(
            json!({"kind": "subcategory", "value": "CONCERT"}),
            0.4,
            now - 60,
        ),
        boost(json!({"kind": "offer", "value": digital.0}), 0.5, now - 60),
        // Scheduled and lowering boosts lift nothing on the map.
        boost(
            json!({"kind": "offer", "value": offers[1].0}),
            0.5,
            now + 3_600,
        ),
        boost(
            json!({"kind": "offer", "value": offers[4].0}),
            -0.5,
            now - 60,
        ),
    ] {
        let (status, b, _) = send(&c, Method::POST, url.clone(), &curator, Some(&body)).await;
        assert_eq!(status, 201, "{b}");
        ids.push(b["id"].as_i64().unwrap());
    }

    // One boost, as listed.
    let (status, one, _) = send(&c, Method::GET, format!("{url}/{}", ids[3]), &curator, None).await;
    assert_eq!((status, one["status"].as_str()), (200, Some("scheduled")));
    assert_eq!(
        one["target"],
        json!({"kind": "offer", "value": offers[1].0})
    );
    let (status, body, ctype) =
        send(&c, Method::GET, format!("{url}/999999"), &curator, None).await;
    assert_eq!(
        (status, ctype.as_str(), body["code"].as_str()),
        (404, "application/problem+json", Some("not_found"))
    );
    let (status, _, _) = send(&c, Method::GET, format!("{url}/{}", ids[0]), &user_t, None).await;
    assert_eq!(status, 403);
    let (status, _, _) = send(&c, Method::GET, format!("{url}/abc"), &curator, None).await;
    assert_eq!(status, 400);

    // Edit: weight, window and target, validated like a creation.
    let edited = json!({"target": {"kind": "venue", "value": 1}, "weight": 0.3,
        "starts_at": now - 120, "ends_at": now + 7_200, "note": "Toute la librairie"});
    let (status, e, _) = send(
        &c,
        Method::PUT,
        format!("{url}/{}", ids[3]),
        &curator,
        Some(&edited),
    )
    .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(
        (
            e["weight"].as_f64(),
            e["status"].as_str(),
            e["ends_at"].as_i64()
        ),
        (Some(0.3), Some("active"), Some(now + 7_200))
    );
    assert_eq!(e["target"], json!({"kind": "venue", "value": 1}));
    let (_, again, _) = send(&c, Method::GET, format!("{url}/{}", ids[3]), &curator, None).await;
    assert_eq!(again["note"], json!("Toute la librairie"));
    for (bad, want) in [
        (
            json!({"target": {"kind": "offer", "value": offers[0].0}, "weight": 2.0,
                "starts_at": now, "ends_at": now + 10}),
            400,
        ),
        (
            json!({"target": {"kind": "offer", "value": offers[0].0}, "weight": 0.5,
                "starts_at": now, "ends_at": now - 10}),
            400,
        ),
        (
            json!({"target": {"kind": "offer", "value": 987_654}, "weight": 0.5,
                "starts_at": now, "ends_at": now + 10}),
            404,
        ),
        (
            json!({"target": {"kind": "offer", "value": offers[0].0}, "weight": 0.5,
                "starts_at": now, "ends_at": now + 10, "colour": "red"}),
            422,
        ),
    ] {
        let (status, body, ctype) = send(
            &c,
            Method::PUT,
            format!("{url}/{}", ids[0]),
            &curator,
            Some(&bad),
        )
        .await;
        assert_eq!(
            (status, ctype.as_str()),
            (want, "application/problem+json"),
            "{body}"
        );
    }
    let (status, _, _) = send(
        &c,
        Method::PUT,
        format!("{url}/999999"),
        &curator,
        Some(&edited),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = send(
        &c,
        Method::PUT,
        format!("{url}/{}", ids[0]),
        &user_t,
        Some(&edited),
    )
    .await;
    assert_eq!(status, 403);

    // The map: the venue boost now lifts all 30 Paris offers, the digital one stands apart.
    let (status, map, _) = send(
        &c,
        Method::GET,
        format!("{url}/departments"),
        &curator,
        None,
    )
    .await;
    assert_eq!(status, 200, "{map}");
    assert_eq!(
        map["items"],
        json!([{"department": "75", "offers": 30}, {"department": "", "offers": 1}])
    );
    assert_eq!(map["total"], json!(31));
    // Expiring the venue boost leaves the offer and the concerts (10, one of them the offer).
    send(
        &c,
        Method::POST,
        format!("{url}/{}/expire", ids[3]),
        &curator,
        Some(&json!({})),
    )
    .await;
    let (_, map, _) = send(
        &c,
        Method::GET,
        format!("{url}/departments"),
        &curator,
        None,
    )
    .await;
    assert_eq!(map["items"][0], json!({"department": "75", "offers": 11}));
    let (status, body, _) = send(
        &c,
        Method::PUT,
        format!("{url}/{}", ids[3]),
        &curator,
        Some(&edited),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("boost_expired"))
    );
    let (status, _, _) = send(&c, Method::GET, format!("{url}/departments"), &user_t, None).await;
    assert_eq!(status, 403);

    // Preview personas chosen by department, age and taste; pages side by side.
    let draft = boost(
        json!({"kind": "offer", "value": offers[29].0}),
        1.0,
        now - 60,
    );
    let preview = |personas: Value| json!({"draft": draft, "personas": personas});
    let (status, p, _) = send(
        &c,
        Method::POST,
        format!("{url}/preview"),
        &curator,
        Some(&preview(json!({"department": "13"}))),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    let personas = p["personas"].as_array().unwrap();
    assert_eq!(personas.len(), 1);
    assert_eq!(personas[0]["user_id"], json!(marseillais.0));
    let page_after = personas[0]["page_after"].as_array().unwrap();
    assert!(!page_after.is_empty());
    assert!(page_after
        .iter()
        .any(|i| i["offer_id"] == json!(offers[29].0) && i["boosted"] == json!(true)));
    assert!(personas[0]["page_before"].is_array());
    let check = &personas[0]["checks_after"];
    assert!(check["categories"].as_u64().unwrap() >= 1);
    assert_eq!(check["keeps_guarantees"], personas[0]["guarantees_after"]);
    let age = chrono::Utc::now()
        .date_naive()
        .years_since(chrono::NaiveDate::from_ymd_opt(2010, 3, 1).unwrap())
        .unwrap();
    for (min_age, max_age, want) in [
        (age, age, json!([marseillais.0])),
        (age + 1, 120, json!([])),
    ] {
        let (status, p, _) = send(
            &c,
            Method::POST,
            format!("{url}/preview"),
            &curator,
            Some(&preview(
                json!({"department": "13", "min_age": min_age, "max_age": max_age}),
            )),
        )
        .await;
        assert_eq!(status, 200, "{p}");
        let seen: Vec<_> = p["personas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user_id"].clone())
            .collect();
        assert_eq!(json!(seen), want, "ages {min_age}..={max_age}");
    }
    let (_, p, _) = send(
        &c,
        Method::POST,
        format!("{url}/preview"),
        &curator,
        Some(&preview(json!({"taste": "CINEMA"}))),
    )
    .await;
    assert_eq!(p["personas"], json!([]), "nobody booked a film");
    for bad in [
        json!({"taste": "NOPE"}),
        json!({"min_age": 18, "max_age": 15}),
        json!({"department": "75; DROP"}),
        json!({"age": 15}),
    ] {
        let (status, body, ctype) = send(
            &c,
            Method::POST,
            format!("{url}/preview"),
            &curator,
            Some(&preview(bad)),
        )
        .await;
        assert!(matches!(status, 400 | 422), "{body}");
        assert_eq!(ctype, "application/problem+json");
    }
}

#[tokio::test]
async fn curators_read_the_taxonomy_in_french() {
    let t = TestStore::sqlite().await;
    let now = engine::now();
    let curator = t.store.create_token(Principal::Curator, now).await.unwrap();
    let server = Server::start(t.store.clone()).await;
    let base = server.base.clone();
    let c = reqwest::Client::new();
    let url = format!("{base}/v1/curator/taxonomy");
    let (status, _, _) = call(&c, url.clone(), None, None).await;
    assert_eq!(status, 401);
    let (status, t, _) = call(&c, url, Some(&curator), None).await;
    assert_eq!(status, 200);
    let cinema = t["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!("CINEMA"))
        .expect("cinema");
    assert_eq!(cinema["label"], json!("Cinéma"));
    assert!(cinema["subcategories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == json!("SEANCE_CINE")));
}
