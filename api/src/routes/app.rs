//! The app (role `user`): feed, search, offers, wallet, bookings.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use engine::auth::Principal;
use engine::booking::Canceller;
use engine::ids::{BookingId, OfferId, StockId, UserId};
use engine::store::IdempotencyKey;
use engine::{DigitalMode, FeedRequest, SearchRequest};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{point, Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Json, Path, Query};
use crate::problem::Problem;

/// The app routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/feed", get(feed))
        .route("/v1/search", get(search))
        .route("/v1/offers/{id}", get(offer))
        .route("/v1/users/{id}/wallet", get(wallet))
        .route("/v1/bookings", post(book))
        .route("/v1/bookings/{id}/cancel", post(cancel))
}

#[derive(Deserialize)]
struct FeedParams {
    user_id: i64,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_km: Option<f64>,
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn feed(
    State(engine): State<AppState>,
    Query(p): Query<FeedParams>,
) -> Answer<impl IntoResponse> {
    let page = engine
        .feed(&FeedRequest {
            user_id: UserId(p.user_id),
            at: point(p.lat, p.lon)?,
            radius_km: p.radius_km,
            limit: p.limit.unwrap_or(20),
            cursor: p.cursor,
        })
        .await?;
    Ok(axum::Json(page))
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Digital {
    #[default]
    Include,
    Exclude,
    Only,
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_km: Option<f64>,
    limit: Option<usize>,
    cursor: Option<String>,
    #[serde(default)]
    digital: Digital,
    /// Comma-separated category ids.
    category: Option<String>,
    max_price_cents: Option<u64>,
}

async fn search(
    State(engine): State<AppState>,
    Query(p): Query<SearchParams>,
) -> Answer<impl IntoResponse> {
    let page = engine
        .search(&SearchRequest {
            q: p.q,
            at: point(p.lat, p.lon)?,
            radius_km: p.radius_km,
            digital: match p.digital {
                Digital::Include => DigitalMode::Include,
                Digital::Exclude => DigitalMode::Exclude,
                Digital::Only => DigitalMode::Only,
            },
            categories: p
                .category
                .iter()
                .flat_map(|c| c.split(','))
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
            max_price_cents: p.max_price_cents,
            limit: p.limit.unwrap_or(20),
            cursor: p.cursor,
        })
        .await?;
    Ok(axum::Json(page))
}

#[derive(Deserialize)]
struct OfferParams {
    lat: Option<f64>,
    lon: Option<f64>,
}

async fn offer(
    State(engine): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<OfferParams>,
) -> Answer<impl IntoResponse> {
    Ok(axum::Json(
        engine.offer(OfferId(id), point(p.lat, p.lon)?).await?,
    ))
}

async fn wallet(State(engine): State<AppState>, Path(id): Path<i64>) -> Answer<impl IntoResponse> {
    Ok(axum::Json(engine.wallet(UserId(id)).await?))
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BookingBody {
    user_id: i64,
    stock_id: i64,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

/// Clients may send this header so that a retry books at most once.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

async fn book(
    State(engine): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Json(body): Json<BookingBody>,
) -> Answer<impl IntoResponse> {
    // With a token, only its user may book, for themself.
    match caller {
        None | Some(Caller(Principal::Admin)) => {}
        Some(Caller(Principal::User(u))) if u == UserId(body.user_id) => {}
        Some(_) => return Err(forbidden()),
    }
    let key = match headers.get(IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| (1..=255).contains(&k.len()))
                .ok_or_else(|| {
                    Problem::bad_request(
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                })?;
            Some(IdempotencyKey::new(
                format!("booking:user:{}", body.user_id),
                key.to_owned(),
                &body,
            ))
        }
    };
    let booking = engine
        .book(
            UserId(body.user_id),
            StockId(body.stock_id),
            body.quantity,
            key,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(booking)))
}

async fn cancel(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let Principal::User(user) = caller else {
        return Err(forbidden());
    };
    engine.cancel(BookingId(id), Canceller::User(user)).await?;
    Ok(axum::Json(json!({"id": id, "status": "cancelled"})))
}
