//! Curator boosts over real HTTP on 127.0.0.1: roles, create, preview, expire.

use std::sync::Arc;

use engine::auth::Principal;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use engine::Engine;
use serde_json::{json, Value};
use tokio::sync::oneshot;

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
    let engine: Arc<Engine> = Engine::open(t.store.clone(), None).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(api::serve(listener, engine, async {
        let _ = stopped.await;
    }));
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
