//! The app's and partners' own-data routes over real HTTP on 127.0.0.1: that each works,
//! and the role/ownership matrix (401 without a token, 403 for a wrong role, 404 for
//! someone else's data — never the data).

mod common;

use common::{token, Server};
use engine::auth::Principal;
use engine::money::Cents;
use engine::testing::{Fixture, OfferSpec, TestStore};
use indicatif::ProgressBar;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn users_list_and_read_their_own_bookings_only() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let (_, stock) = f.offer(OfferSpec::default());
        let alice = f.user(Some(Cents(5_000)), None);
        let bob = f.user(Some(Cents(5_000)), None);
        f.write(&t.store).await;
        let alice_t = token(&t.store, Principal::User(alice)).await;
        let bob_t = token(&t.store, Principal::User(bob)).await;
        let partner_t = token(&t.store, Principal::Partner(engine::ids::OffererId(1))).await;
        let s = Server::start(t.store.clone()).await;

        let body = json!({"user_id": alice.0, "stock_id": stock.0});
        let (status, booked) = s
            .call(Method::POST, "/v1/bookings", Some(&alice_t), Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{booked}");
        let id = booked["id"].as_i64().unwrap();

        let (status, mine) = s
            .call(Method::GET, "/v1/bookings", Some(&alice_t), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        assert_eq!(mine["items"].as_array().unwrap().len(), 1);
        assert_eq!(mine["items"][0]["id"], id);
        assert_eq!(mine["items"][0]["status"], "confirmed");
        assert!(mine["items"][0]["created_at"].is_string());
        assert!(mine["next_offset"].is_null());
        let (_, theirs) = s
            .call(Method::GET, "/v1/bookings", Some(&bob_t), None)
            .await;
        assert_eq!(
            theirs["items"],
            json!([]),
            "bob sees none of alice's bookings"
        );

        let one = format!("/v1/bookings/{id}");
        let (status, got) = s.call(Method::GET, &one, Some(&alice_t), None).await;
        assert_eq!((status, &got["token"]), (StatusCode::OK, &booked["token"]));
        let (status, problem) = s.call(Method::GET, &one, Some(&bob_t), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_no_booking_data(&problem, &booked);
        let (status, _) = s.call(Method::GET, &one, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = s.call(Method::GET, &one, Some(&partner_t), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = s
            .call(Method::GET, "/v1/bookings/999999", Some(&alice_t), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        for bad in [
            "limit=0",
            "limit=101",
            "offset=-1",
            "offset=100001",
            "limit=abc",
            "colour=blue",
        ] {
            let r = s
                .raw(
                    Method::GET,
                    &format!("/v1/bookings?{bad}"),
                    Some(&alice_t),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(r.content_type, "application/problem+json", "{bad}");
        }
        let (status, _) = s
            .call(Method::GET, "/v1/bookings/abc", Some(&alice_t), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}

/// A problem body says what went wrong, and nothing of the booking it was about.
fn assert_no_booking_data(problem: &Value, booking: &Value) {
    assert!(problem["code"].is_string(), "{problem}");
    let text = problem.to_string();
    assert!(
        !text.contains(booking["token"].as_str().unwrap()),
        "{problem}"
    );
    assert!(problem.get("token").is_none() && problem.get("amount_cents").is_none());
}

#[tokio::test]
async fn favorites_and_interactions_reach_the_activity_log() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let (seen, _) = f.offer(OfferSpec::default());
        let (liked, _) = f.offer(OfferSpec::default());
        let alice = f.user(Some(Cents(5_000)), None);
        let bob = f.user(Some(Cents(5_000)), None);
        f.write(&t.store).await;
        let alice_t = token(&t.store, Principal::User(alice)).await;
        let bob_t = token(&t.store, Principal::User(bob)).await;
        let curator_t = token(&t.store, Principal::Curator).await;
        let s = Server::start(t.store.clone()).await;

        let fav = format!("/v1/favorites/{}", liked.0);
        let (status, _) = s.call(Method::PUT, &fav, Some(&alice_t), None).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = s.call(Method::PUT, &fav, Some(&alice_t), None).await;
        assert_eq!(status, StatusCode::OK, "adding twice changes nothing");
        let (status, list) = s
            .call(Method::GET, "/v1/favorites", Some(&alice_t), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["offer_id"], liked.0);
        assert!(items[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("Offre de test"));
        let (_, theirs) = s
            .call(Method::GET, "/v1/favorites", Some(&bob_t), None)
            .await;
        assert_eq!(theirs["items"], json!([]));
        let (status, _) = s.call(Method::DELETE, &fav, Some(&bob_t), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "bob cannot remove alice's");
        let (status, _) = s
            .call(Method::PUT, "/v1/favorites/999999", Some(&alice_t), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = s.call(Method::PUT, &fav, Some(&curator_t), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = s.call(Method::PUT, &fav, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let events = json!({"events": [
            {"offer_id": seen.0, "kind": "view"},
            {"offer_id": seen.0, "kind": "click"},
            {"offer_id": liked.0, "kind": "favorite"},
        ]});
        let (status, answer) = s
            .call(
                Method::POST,
                "/v1/interactions",
                Some(&alice_t),
                Some(&events),
            )
            .await;
        assert_eq!(
            (status, answer["recorded"].as_i64()),
            (StatusCode::ACCEPTED, Some(3))
        );

        // What `mosaic profiles build` reads: one view, one click, and one favorite (the
        // event re-sent for an offer already favorite is not counted twice).
        let log = t.store.activity_log(&ProgressBar::hidden()).await.unwrap();
        let mut alice_log: Vec<(i64, String)> = log
            .iter()
            .filter(|a| a.user_id == alice)
            .map(|a| (a.offer_id.0, a.kind.clone()))
            .collect();
        alice_log.sort();
        let mut expected = vec![
            (seen.0, "click".to_owned()),
            (seen.0, "view".to_owned()),
            (liked.0, "favorite".to_owned()),
        ];
        expected.sort();
        assert_eq!(alice_log, expected);

        let (status, _) = s.call(Method::DELETE, &fav, Some(&alice_t), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = s.call(Method::DELETE, &fav, Some(&alice_t), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Bad batches are refused whole, as problems.
        let too_many: Vec<Value> = (0..101)
            .map(|_| json!({"offer_id": seen.0, "kind": "view"}))
            .collect();
        for (body, status) in [
            (json!({"events": []}), StatusCode::BAD_REQUEST),
            (json!({"events": too_many}), StatusCode::BAD_REQUEST),
            (
                json!({"events": [{"offer_id": seen.0, "kind": "stare"}]}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                json!({"events": [{"offer_id": seen.0, "kind": "view"}, {"offer_id": 999999, "kind": "view"}]}),
                StatusCode::NOT_FOUND,
            ),
        ] {
            let r = s
                .raw(
                    Method::POST,
                    "/v1/interactions",
                    Some(&alice_t),
                    Some(&body),
                )
                .await;
            assert_eq!(r.status, status, "{body}");
            assert_eq!(r.content_type, "application/problem+json");
        }
        let (status, _) = s
            .call(Method::POST, "/v1/interactions", None, Some(&events))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let after = t.store.activity_log(&ProgressBar::hidden()).await.unwrap();
        assert_eq!(
            after.len(),
            log.len(),
            "nothing of a refused batch is recorded"
        );
    }
}

/// Two offerers (1 and 1000, a venue each): a bookable book of the first, a concert of
/// the second with places enough for a push campaign, and two users.
struct World {
    t: TestStore,
    mine: engine::ids::OfferId,
    mine_stock: engine::ids::StockId,
    theirs: engine::ids::OfferId,
    theirs_stock: engine::ids::StockId,
    alice: engine::ids::UserId,
    bob: engine::ids::UserId,
    tokens: Tokens,
}

/// A token for each of the world's principals.
struct Tokens {
    alice_t: String,
    bob_t: String,
    /// Offerer 1's partner.
    p1: String,
    /// Offerer 1000's partner.
    p2: String,
    curator_t: String,
    analyst_t: String,
    admin_t: String,
}

async fn two_offerers(t: TestStore) -> World {
    let mut f = Fixture::new(1);
    let (mine, mine_stock) = f.offer(OfferSpec::default());
    let alice = f.user(Some(Cents(5_000)), None);
    let bob = f.user(Some(Cents(5_000)), None);
    f.write(&t.store).await;
    let mut other = Fixture::new(1000);
    let start = in_days(20);
    let (theirs, theirs_stock) = other.offer(OfferSpec {
        subcategory: "CONCERT",
        quantity: Some(80),
        beginning_at: Some(start),
        booking_limit_at: Some(start - 3 * 86_400),
        ..OfferSpec::default()
    });
    other.write(&t.store).await;
    let store = &t.store;
    let tokens = Tokens {
        alice_t: token(store, Principal::User(alice)).await,
        bob_t: token(store, Principal::User(bob)).await,
        p1: token(store, Principal::Partner(engine::ids::OffererId(1))).await,
        p2: token(store, Principal::Partner(engine::ids::OffererId(1000))).await,
        curator_t: token(store, Principal::Curator).await,
        analyst_t: token(store, Principal::Analyst).await,
        admin_t: token(store, Principal::Admin).await,
    };
    World {
        t,
        mine,
        mine_stock,
        theirs,
        theirs_stock,
        alice,
        bob,
        tokens,
    }
}

/// Alice books offerer 1's book with her own token; the booking as answered.
async fn alice_books(s: &Server, w: &World) -> Value {
    let body = json!({"user_id": w.alice.0, "stock_id": w.mine_stock.0});
    let (status, booked) = s
        .call(
            Method::POST,
            "/v1/bookings",
            Some(&w.tokens.alice_t),
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    booked
}

fn in_days(days: i64) -> i64 {
    engine::now() + days * 86_400
}

#[tokio::test]
async fn partners_manage_offers_stocks_bookings_exports_and_stats() {
    for t in TestStore::each().await {
        let w = two_offerers(t).await;
        let store = &w.t.store;
        let Tokens {
            alice_t,
            bob_t,
            p1,
            p2,
            ..
        } = &w.tokens;
        let s = Server::start(store.clone()).await;

        let (status, venues) = s
            .call(Method::GET, "/v1/partner/venues", Some(p1), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{venues}");
        assert_eq!(venues["items"].as_array().unwrap().len(), 1);
        assert_eq!(venues["items"][0]["id"], 1);
        assert_eq!(venues["items"][0]["city"], "Paris");

        // An event with two dated slots at two prices.
        let title = "Séance « Cinéma Paradiso » à l'Élysée";
        let (first, second) = (in_days(10), in_days(11));
        let new_offer = json!({
            "venue_id": 1,
            "title": title,
            "description": "Version restaurée, débat après la séance.",
            "subcategory": "SEANCE_CINE",
            "is_duo": true,
            "stocks": [
                {"price_cents": 800, "quantity": 5, "beginning_at": first, "booking_limit_at": first - 3600},
                {"price_cents": 650, "quantity": 3, "beginning_at": second},
            ],
        });
        let (status, created) = s
            .call(
                Method::POST,
                "/v1/partner/offers",
                Some(p1),
                Some(&new_offer),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["title"], title);
        assert_eq!(created["offerer_id"], 1);
        let stocks = created["stocks"].as_array().unwrap();
        assert_eq!(stocks.len(), 2);
        assert_eq!(
            (
                stocks[0]["price_cents"].as_i64(),
                stocks[0]["quantity"].as_i64()
            ),
            (Some(800), Some(5))
        );
        let offer_id = created["id"].as_i64().unwrap();
        let stock_id = stocks[0]["id"].as_i64().unwrap();

        // Bad offers are refused whole.
        let with = |patch: Value| {
            let mut o = new_offer.clone();
            for (k, v) in patch.as_object().unwrap() {
                o[k] = v.clone();
            }
            o
        };
        for (body, status) in [
            (
                with(json!({"subcategory": "NOPE"})),
                StatusCode::BAD_REQUEST,
            ),
            (with(json!({"stocks": []})), StatusCode::BAD_REQUEST),
            (with(json!({"title": "  "})), StatusCode::BAD_REQUEST),
            (with(json!({"venue_id": 1000})), StatusCode::NOT_FOUND),
            (
                with(json!({"subcategory": "LIVRE_PAPIER", "is_duo": false})),
                StatusCode::BAD_REQUEST,
            ),
            (
                with(json!({"stocks": [{"price_cents": -1, "beginning_at": first}]})),
                StatusCode::BAD_REQUEST,
            ),
            (
                with(json!({"stocks": [{"price_cents": 100, "beginning_at": first * 1000}]})),
                StatusCode::BAD_REQUEST,
            ),
            (
                with(json!({"colour": "blue"})),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let r = s
                .raw(Method::POST, "/v1/partner/offers", Some(p1), Some(&body))
                .await;
            assert_eq!(r.status, status, "{body}: {:?}", r.json());
            assert_eq!(r.content_type, "application/problem+json");
        }

        // Listing and reading: each offerer sees its own only.
        let (_, list) = s
            .call(Method::GET, "/v1/partner/offers", Some(p1), None)
            .await;
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, vec![offer_id, w.mine.0], "newest first");
        let (_, list2) = s
            .call(Method::GET, "/v1/partner/offers", Some(p2), None)
            .await;
        assert_eq!(list2["items"].as_array().unwrap().len(), 1);
        assert_eq!(list2["items"][0]["id"], w.theirs.0);
        let one = format!("/v1/partner/offers/{offer_id}");
        let (status, got) = s.call(Method::GET, &one, Some(p1), None).await;
        assert_eq!((status, &got["title"]), (StatusCode::OK, &json!(title)));
        let (status, problem) = s.call(Method::GET, &one, Some(p2), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!problem.to_string().contains("Paradiso"));

        // Duplicating copies the details and the stock lines, not the bookings.
        let dup = format!("/v1/partner/offers/{offer_id}/duplicate");
        let (status, _) = s.call(Method::POST, &dup, Some(p2), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, copy) = s.call(Method::POST, &dup, Some(p1), None).await;
        assert_eq!(status, StatusCode::CREATED, "{copy}");
        assert_ne!(copy["id"], created["id"]);
        assert_eq!(copy["title"], created["title"]);
        let shape = |o: &Value| -> Vec<(Value, Value, Value, Value)> {
            o["stocks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["price_cents"].clone(),
                        s["quantity"].clone(),
                        s["beginning_at"].clone(),
                        s["booking_limit_at"].clone(),
                    )
                })
                .collect()
        };
        assert_eq!(shape(&copy), shape(&created));
        let copy_stocks: Vec<i64> = copy["stocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_i64().unwrap())
            .collect();
        assert!(!copy_stocks.contains(&stock_id), "new stock lines");

        // A stock edit is what the next booking attempt sees.
        let book = |user: engine::ids::UserId| json!({"user_id": user.0, "stock_id": stock_id});
        let (status, booked) = s
            .call(
                Method::POST,
                "/v1/bookings",
                Some(alice_t),
                Some(&book(w.alice)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{booked}");
        let stock_path = format!("/v1/partner/stocks/{stock_id}");
        let (status, edited) = s
            .call(
                Method::PATCH,
                &stock_path,
                Some(p1),
                Some(&json!({"quantity": 1})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{edited}");
        assert_eq!(edited["stocks"][0]["remaining"], 0);
        let (status, problem) = s
            .call(
                Method::POST,
                "/v1/bookings",
                Some(bob_t),
                Some(&book(w.bob)),
            )
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::CONFLICT, Some("sold_out"))
        );
        for (body, status) in [
            (json!({"quantity": 0}), StatusCode::CONFLICT),
            (json!({"quantity": -1}), StatusCode::BAD_REQUEST),
            (json!({}), StatusCode::BAD_REQUEST),
            (
                json!({"quantity": "many"}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
        ] {
            let (got, problem) = s
                .call(Method::PATCH, &stock_path, Some(p1), Some(&body))
                .await;
            assert_eq!(got, status, "{body}: {problem}");
        }
        let (status, _) = s
            .call(
                Method::PATCH,
                &stock_path,
                Some(p2),
                Some(&json!({"quantity": 9})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "another offerer's stock");
        let (status, _) = s
            .call(
                Method::PATCH,
                &stock_path,
                Some(p1),
                Some(&json!({"quantity": null})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = s
            .call(
                Method::POST,
                "/v1/bookings",
                Some(bob_t),
                Some(&book(w.bob)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "unlimited again: bob books");

        // Bookings of the partner's venues, paged and filtered; another's filters are 404.
        let (status, bookings) = s
            .call(Method::GET, "/v1/partner/bookings?limit=1", Some(p1), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{bookings}");
        assert_eq!(bookings["items"].as_array().unwrap().len(), 1);
        assert_eq!(bookings["next_offset"], 1);
        assert_eq!(bookings["items"][0]["offer_title"], title);
        let filtered = format!("/v1/partner/bookings?offer_id={offer_id}&status=confirmed");
        let (_, filtered) = s.call(Method::GET, &filtered, Some(p1), None).await;
        assert_eq!(filtered["items"].as_array().unwrap().len(), 2);
        let (_, none) = s
            .call(Method::GET, "/v1/partner/bookings", Some(p2), None)
            .await;
        assert_eq!(none["items"], json!([]));
        for (path, status) in [
            (
                format!("/v1/partner/bookings?offer_id={offer_id}"),
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/partner/bookings?venue_id=1".to_owned(),
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/partner/bookings?status=lost".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "/v1/partner/bookings?limit=1000".to_owned(),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (got, _) = s.call(Method::GET, &path, Some(p2), None).await;
            assert_eq!(got, status, "{path}");
        }

        // Exports with chosen columns, accents intact.
        let csv = s
            .raw(
                Method::GET,
                "/v1/partner/bookings/export?format=csv&columns=id,offer_title,venue_name,amount_cents",
                Some(p1),
                None,
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.content_type.starts_with("text/csv"),
            "{}",
            csv.content_type
        );
        assert!(
            csv.body.starts_with(&[0xEF, 0xBB, 0xBF]),
            "a UTF-8 BOM first"
        );
        let text = std::str::from_utf8(&csv.body[3..]).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("id,offer_title,venue_name,amount_cents"));
        assert_eq!(lines.clone().count(), 2, "{text}");
        assert!(
            text.contains("Séance « Cinéma Paradiso » à l'Élysée"),
            "{text}"
        );
        assert!(text.contains('é'));
        assert!(text.contains("Librairie du Test"));
        let xlsx = s
            .raw(
                Method::GET,
                "/v1/partner/bookings/export?format=xlsx&columns=offer_title,beginning_at",
                Some(p1),
                None,
            )
            .await;
        assert_eq!(xlsx.status, StatusCode::OK);
        assert!(xlsx.content_type.contains("spreadsheetml"));
        assert!(xlsx.body.starts_with(b"PK"), "an XLSX is a zip");
        let theirs_csv = s
            .raw(
                Method::GET,
                "/v1/partner/bookings/export?format=csv",
                Some(p2),
                None,
            )
            .await;
        let theirs_text = String::from_utf8(theirs_csv.body).unwrap();
        assert_eq!(
            theirs_text.lines().count(),
            1,
            "the header only: {theirs_text}"
        );
        for q in [
            "format=csv&columns=id,nope",
            "format=csv&columns=id,id",
            "format=csv&columns=",
            "format=pdf",
            "columns=id",
            "format=csv&offer_id=abc",
        ] {
            let r = s
                .raw(
                    Method::GET,
                    &format!("/v1/partner/bookings/export?{q}"),
                    Some(p1),
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
            assert_eq!(r.content_type, "application/problem+json");
        }
        let (status, _) = s
            .call(
                Method::GET,
                &format!("/v1/partner/bookings/export?format=csv&offer_id={offer_id}"),
                Some(p2),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // View counts per offer, fed by the app's interactions.
        let views = json!({"events": [
            {"offer_id": offer_id, "kind": "view"},
            {"offer_id": offer_id, "kind": "view"},
            {"offer_id": offer_id, "kind": "click"},
        ]});
        let (status, _) = s
            .call(
                Method::POST,
                "/v1/interactions",
                Some(alice_t),
                Some(&views),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let (status, stats) = s
            .call(Method::GET, "/v1/partner/stats", Some(p1), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{stats}");
        let top = &stats["items"][0];
        assert_eq!(
            (
                top["offer_id"].as_i64(),
                top["views"].as_i64(),
                top["clicks"].as_i64(),
                top["bookings"].as_i64()
            ),
            (Some(offer_id), Some(2), Some(1), Some(2)),
            "{stats}"
        );
        let (_, stats2) = s
            .call(Method::GET, "/v1/partner/stats", Some(p2), None)
            .await;
        assert!(stats2["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["offer_id"] == w.theirs.0));
    }
}

/// Every route of a user's own data, and every partner route, as (method, path, body).
fn routes(w: &World, booking: i64, campaign: i64) -> (Vec<Call>, Vec<Call>) {
    let events = json!({"events": [{"offer_id": w.mine.0, "kind": "view"}]});
    let user_routes = vec![
        (Method::GET, "/v1/bookings".to_owned(), None),
        (Method::GET, format!("/v1/bookings/{booking}"), None),
        (Method::POST, format!("/v1/bookings/{booking}/cancel"), None),
        (Method::GET, "/v1/favorites".to_owned(), None),
        (Method::PUT, format!("/v1/favorites/{}", w.mine.0), None),
        (Method::DELETE, format!("/v1/favorites/{}", w.mine.0), None),
        (Method::POST, "/v1/interactions".to_owned(), Some(events)),
    ];
    let offer = json!({"venue_id": 1, "title": "Lecture", "subcategory": "LIVRE_PAPIER",
        "stocks": [{"price_cents": 100}]});
    let partner_routes = vec![
        (Method::GET, "/v1/partner/venues".to_owned(), None),
        (Method::GET, "/v1/partner/offers".to_owned(), None),
        (Method::POST, "/v1/partner/offers".to_owned(), Some(offer)),
        (
            Method::GET,
            format!("/v1/partner/offers/{}", w.theirs.0),
            None,
        ),
        (
            Method::POST,
            format!("/v1/partner/offers/{}/duplicate", w.theirs.0),
            None,
        ),
        (
            Method::PATCH,
            format!("/v1/partner/stocks/{}", w.theirs_stock.0),
            Some(json!({"quantity": 1})),
        ),
        (Method::GET, "/v1/partner/bookings".to_owned(), None),
        (Method::GET, format!("/v1/partner/bookings/{booking}"), None),
        (
            Method::GET,
            "/v1/partner/bookings/export?format=csv".to_owned(),
            None,
        ),
        (
            Method::GET,
            "/v1/partner/bookings/export?format=xlsx".to_owned(),
            None,
        ),
        (Method::GET, "/v1/partner/stats".to_owned(), None),
        (Method::GET, "/v1/partner/campaigns".to_owned(), None),
        (
            Method::GET,
            format!("/v1/partner/campaigns/{campaign}"),
            None,
        ),
        (
            Method::POST,
            "/v1/partner/campaigns".to_owned(),
            Some(json!({"offer_id": w.theirs.0})),
        ),
        (
            Method::POST,
            format!("/v1/partner/bookings/{booking}/cancel"),
            None,
        ),
    ];
    (user_routes, partner_routes)
}

type Call = (Method, String, Option<Value>);

#[tokio::test]
async fn the_role_and_ownership_matrix_holds() {
    for t in TestStore::each().await {
        let w = two_offerers(t).await;
        let store = &w.t.store;
        let Tokens {
            alice_t,
            bob_t,
            p1,
            p2,
            curator_t,
            analyst_t,
            ..
        } = &w.tokens;
        let s = Server::start(store.clone()).await;

        // Alice books offerer 1's book; offerer 1000 requests a campaign for its concert.
        let booked = alice_books(&s, &w).await;
        let booking = booked["id"].as_i64().unwrap();
        let secret = booked["token"].as_str().unwrap().to_owned();
        let (status, campaign) = s
            .call(
                Method::POST,
                "/v1/partner/campaigns",
                Some(p2),
                Some(&json!({"offer_id": w.theirs.0})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{campaign}");
        let campaign = campaign["id"].as_i64().unwrap();
        let (user_routes, partner_routes) = routes(&w, booking, campaign);

        // No token, or a forged one: 401 everywhere.
        for (method, path, body) in user_routes.iter().chain(&partner_routes) {
            for t in [None, Some("mos_forged")] {
                let r = s.raw(method.clone(), path, t, body.as_ref()).await;
                assert_eq!(
                    r.status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} with {t:?}"
                );
                assert_eq!(r.content_type, "application/problem+json");
            }
        }
        // The wrong role: 403, whoever the data belongs to.
        for (method, path, body) in &user_routes {
            for (who, t) in [
                ("partner", &p1),
                ("curator", &curator_t),
                ("analyst", &analyst_t),
            ] {
                let r = s.raw(method.clone(), path, Some(t), body.as_ref()).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {method} {path}");
                assert!(!String::from_utf8_lossy(&r.body).contains(&secret));
            }
        }
        for (method, path, body) in &partner_routes {
            for (who, t) in [
                ("user", &alice_t),
                ("curator", &curator_t),
                ("analyst", &analyst_t),
            ] {
                let r = s.raw(method.clone(), path, Some(t), body.as_ref()).await;
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {method} {path}");
            }
        }
        // Only users book, for themselves.
        let body = json!({"user_id": w.alice.0, "stock_id": w.mine_stock.0});
        for (who, t) in [
            ("curator", &curator_t),
            ("analyst", &analyst_t),
            ("partner", &p1),
            ("another user", &bob_t),
        ] {
            let (status, _) = s
                .call(Method::POST, "/v1/bookings", Some(t), Some(&body))
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{who} cannot book for alice");
        }

        // Someone else's booking: 404, never its data; it stays as it was.
        for (method, path) in [
            (Method::GET, format!("/v1/bookings/{booking}")),
            (Method::POST, format!("/v1/bookings/{booking}/cancel")),
        ] {
            let r = s.raw(method.clone(), &path, Some(bob_t), None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "bob: {method} {path}");
            assert!(!String::from_utf8_lossy(&r.body).contains(&secret));
        }
        let (_, bobs) = s.call(Method::GET, "/v1/bookings", Some(bob_t), None).await;
        assert_eq!(bobs["items"], json!([]));

        // Another offerer's offers, stocks, bookings, exports and campaigns: 404 or nothing.
        let theirs_title = format!("Offre de test {}", w.theirs.0);
        for (method, path, body) in [
            (
                Method::GET,
                format!("/v1/partner/offers/{}", w.theirs.0),
                None,
            ),
            (
                Method::POST,
                format!("/v1/partner/offers/{}/duplicate", w.theirs.0),
                None,
            ),
            (
                Method::PATCH,
                format!("/v1/partner/stocks/{}", w.theirs_stock.0),
                Some(json!({"quantity": 1})),
            ),
            (
                Method::GET,
                format!("/v1/partner/bookings?offer_id={}", w.theirs.0),
                None,
            ),
            (
                Method::GET,
                "/v1/partner/bookings?venue_id=1000".to_owned(),
                None,
            ),
            (
                Method::GET,
                format!(
                    "/v1/partner/bookings/export?format=csv&offer_id={}",
                    w.theirs.0
                ),
                None,
            ),
            (
                Method::GET,
                format!("/v1/partner/campaigns/{campaign}"),
                None,
            ),
            (
                Method::POST,
                "/v1/partner/campaigns".to_owned(),
                Some(json!({"offer_id": w.theirs.0})),
            ),
        ] {
            let r = s.raw(method.clone(), &path, Some(p1), body.as_ref()).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "partner 1: {method} {path}"
            );
            assert!(!String::from_utf8_lossy(&r.body).contains(&theirs_title));
        }
        for (method, path) in [
            (Method::GET, format!("/v1/partner/bookings/{booking}")),
            (
                Method::POST,
                format!("/v1/partner/bookings/{booking}/cancel"),
            ),
            (Method::POST, format!("/v1/partner/bookings/{secret}/use")),
            (
                Method::GET,
                format!(
                    "/v1/partner/bookings/export?format=csv&offer_id={}",
                    w.mine.0
                ),
            ),
        ] {
            let r = s.raw(method.clone(), &path, Some(p2), None).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "partner 1000: {method} {path}"
            );
            assert!(!String::from_utf8_lossy(&r.body).contains(&secret));
        }
        let (_, campaigns) = s
            .call(Method::GET, "/v1/partner/campaigns", Some(p1), None)
            .await;
        assert_eq!(
            campaigns["items"],
            json!([]),
            "partner 1 sees no campaign of 1000"
        );
        for path in [
            "/v1/partner/offers",
            "/v1/partner/stats",
            "/v1/partner/bookings",
        ] {
            let r = s.raw(Method::GET, path, Some(p2), None).await;
            assert_eq!(r.status, StatusCode::OK);
            let text = String::from_utf8_lossy(&r.body);
            assert!(!text.contains(&secret), "{path}: {text}");
            assert!(
                !text.contains(&format!("Offre de test {}", w.mine.0)),
                "{path}: {text}"
            );
        }
        let export = s
            .raw(
                Method::GET,
                "/v1/partner/bookings/export?format=csv",
                Some(p2),
                None,
            )
            .await;
        assert!(!String::from_utf8_lossy(&export.body).contains(&secret));
        let theirs_stock = store.stock(w.theirs_stock).await.unwrap().unwrap();
        assert_eq!(theirs_stock.quantity, Some(80), "untouched by partner 1");
        let still = store
            .booking(engine::ids::BookingId(booking))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            still.status.as_str(),
            "confirmed",
            "untouched by bob and partner 1000"
        );
    }
}

/// GET `path` with a bearer token and an `x-act-as` header: status and JSON body.
async fn acting(s: &Server, path: &str, token: &str, act_as: &str) -> (StatusCode, Value) {
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .header("x-act-as", act_as)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn partners_read_one_booking_and_admins_act_for_one_user_or_offerer() {
    for t in TestStore::each().await {
        let w = two_offerers(t).await;
        let Tokens {
            alice_t,
            bob_t,
            p1,
            admin_t,
            ..
        } = &w.tokens;
        let s = Server::start(w.t.store.clone()).await;
        let booked = alice_books(&s, &w).await;
        let booking = booked["id"].as_i64().unwrap();

        // The venue reads one of its bookings.
        let one = format!("/v1/partner/bookings/{booking}");
        let (status, got) = s.call(Method::GET, &one, Some(p1), None).await;
        assert_eq!(status, StatusCode::OK, "{got}");
        assert_eq!(
            (
                &got["token"],
                &got["status"],
                &got["user_id"],
                &got["amount_cents"]
            ),
            (
                &booked["token"],
                &json!("confirmed"),
                &json!(w.alice.0),
                &booked["amount_cents"]
            )
        );
        assert_eq!(got["offer_id"], w.mine.0);
        let (status, _) = s
            .call(Method::GET, "/v1/partner/bookings/999999", Some(p1), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // An admin names whom it acts for, and then has exactly their view.
        let (status, problem) = s
            .call(Method::GET, "/v1/bookings", Some(admin_t), None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("x-act-as: user:<id>"),
            "{problem}"
        );
        let as_alice = format!("user:{}", w.alice.0);
        let (status, list) = acting(&s, "/v1/bookings", admin_t, &as_alice).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["items"][0]["id"], booking);
        let (status, list) =
            acting(&s, "/v1/bookings", admin_t, &format!("user:{}", w.bob.0)).await;
        assert_eq!((status, &list["items"]), (StatusCode::OK, &json!([])));
        let (status, got) = acting(&s, &one, admin_t, "offerer:1").await;
        assert_eq!((status, &got["token"]), (StatusCode::OK, &booked["token"]));
        let (status, _) = acting(&s, &one, admin_t, "offerer:1000").await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "offerer 1000's view has no such booking"
        );
        let (status, _) = acting(&s, &one, admin_t, &as_alice).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "acting as a user is not a partner"
        );

        // Only admins act for someone, for someone who exists, named plainly.
        for (t, act_as, expected) in [
            (&alice_t, format!("user:{}", w.bob.0), StatusCode::FORBIDDEN),
            (&p1, "offerer:1000".to_owned(), StatusCode::FORBIDDEN),
            (&admin_t, "user:999999".to_owned(), StatusCode::NOT_FOUND),
            (&admin_t, "offerer:999999".to_owned(), StatusCode::NOT_FOUND),
            (&admin_t, "admin:1".to_owned(), StatusCode::BAD_REQUEST),
            (&admin_t, "user:alice".to_owned(), StatusCode::BAD_REQUEST),
        ] {
            let (status, problem) = acting(&s, "/v1/bookings", t, &act_as).await;
            assert_eq!(status, expected, "{act_as}: {problem}");
            assert!(problem["code"].is_string(), "{problem}");
        }

        // A user token reads its own feed and wallet only; an admin's reads any.
        let feed = |u: i64| format!("/v1/feed?user_id={u}&limit=5");
        let wallet = |u: i64| format!("/v1/users/{u}/wallet");
        for path in [feed(w.alice.0), wallet(w.alice.0)] {
            for (who, t, expected) in [
                ("alice", &alice_t, StatusCode::OK),
                ("admin", &admin_t, StatusCode::OK),
                ("bob", &bob_t, StatusCode::FORBIDDEN),
                ("partner", &p1, StatusCode::FORBIDDEN),
            ] {
                let (status, got) = s.call(Method::GET, &path, Some(t), None).await;
                assert_eq!(status, expected, "{who}: {path}: {got}");
            }
        }
    }
}
