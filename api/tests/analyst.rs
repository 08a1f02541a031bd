//! Analysts read the diversity summaries of `mosaic analytics` over HTTP.

use engine::auth::Principal;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore, UserSpec};
use indicatif::ProgressBar;
use reqwest::StatusCode;
use serde_json::Value;

mod common;

use common::Server;

#[tokio::test]
async fn analysts_read_diversity_summaries_and_nobody_else_does() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let (_, book) = f.offer(OfferSpec::default());
    let (_, film) = f.offer(OfferSpec {
        subcategory: "SUPPORT_PHYSIQUE_FILM",
        price: Cents(500),
        ..OfferSpec::default()
    });
    let reader = f.user_with(UserSpec::default());
    let young = f.user_with(UserSpec::default());
    f.write(&t.store).await;
    for stock in [book, film] {
        t.store
            .book(
                &engine::booking::BookingRequest {
                    user_id: reader,
                    stock_id: stock,
                    quantity: 1,
                    now: engine::now(),
                },
                None,
            )
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    analytics::run(&t.store, dir.path(), engine::now(), &ProgressBar::hidden())
        .await
        .unwrap();
    // The server reads the exports from here (this test binary has no other test).
    std::env::set_var("MOSAIC_ANALYTICS_DIR", dir.path());
    let analyst = t
        .store
        .create_token(Principal::Analyst, engine::now())
        .await
        .unwrap();
    let user = t
        .store
        .create_token(Principal::User(young), engine::now())
        .await
        .unwrap();
    let server = Server::start(t.store.clone()).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("{base}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let (status, body) = get("/v1/analyst/diversity/by_age", Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["table"], "by_age");
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "both users are 17: {body}");
    assert_eq!(rows[0]["users"], 2);
    assert_eq!(rows[0]["users_with_bookings"], 1);
    assert_eq!(rows[0]["mean_distinct_categories"], 2.0);
    assert_eq!(rows[0]["mean_category_entropy"], 1.0);
    let (status, body) = get("/v1/analyst/diversity/by_region", Some(&analyst)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"][0]["region"], "Île-de-France");

    // Per-user tables are not served; unknown ones neither.
    assert_eq!(
        get("/v1/analyst/diversity/users", Some(&analyst)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/v1/analyst/diversity/nope", Some(&analyst)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/v1/analyst/diversity/by_age", Some(&user)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get("/v1/analyst/diversity/by_age", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
