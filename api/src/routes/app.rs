//! The app (role `user`): feed, search, offers, wallet, bookings.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use engine::auth::Principal;
use engine::booking::Canceller;
use engine::ids::{BookingId, OfferId, StockId, UserId};
use engine::store::IdempotencyKey;
use engine::views::{BookingView, OfferCard, OfferDetail, Page, SearchPage, WalletView};
use engine::{DigitalMode, FeedRequest, SearchRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{point, Answer, AppState};
use crate::auth::{forbidden, user_of, Caller};
use crate::extract::{Json, Path, Query};
use crate::problem::{Problem, ProblemResponse};

/// The app routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feed))
        .routes(routes!(search))
        .routes(routes!(offer))
        .routes(routes!(wallet))
        .routes(routes!(book))
        .routes(routes!(cancel))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedParams {
    /// Whose feed.
    user_id: i64,
    /// Latitude of the point to search around (with `lon`); default: the user's home.
    lat: Option<f64>,
    /// Longitude, with `lat`.
    lon: Option<f64>,
    /// Radius around the point in km (default 30, at most 200).
    radius_km: Option<f64>,
    /// Items per page (default 20).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The user's personalised, diversified feed around a point, one page at a time. With a
/// token, only its user (or an admin) may read this user's feed.
#[utoipa::path(get, path = "/v1/feed", tag = "app", params(FeedParams),
    responses((status = 200, body = Page<OfferCard>),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse)))]
async fn feed(
    State(engine): State<AppState>,
    caller: Option<Caller>,
    Query(p): Query<FeedParams>,
) -> Answer<impl IntoResponse> {
    may_act_for(caller, UserId(p.user_id))?;
    let (page, timings) = engine
        .feed_timed(&FeedRequest {
            user_id: UserId(p.user_id),
            at: point(p.lat, p.lon)?,
            radius_km: p.radius_km,
            limit: p.limit.unwrap_or(20),
            cursor: p.cursor,
        })
        .await?;
    crate::metrics::feed_stages(&timings);
    Ok(axum::Json(page))
}

/// Refuses a token that belongs to someone other than `user` (an admin's passes); no
/// token at all is the open contract of the first slice.
fn may_act_for(caller: Option<Caller>, user: UserId) -> Answer<()> {
    match caller {
        None | Some(Caller(Principal::Admin)) => Ok(()),
        Some(Caller(Principal::User(u))) if u == user => Ok(()),
        Some(_) => Err(forbidden()),
    }
}

/// Whether digital offers (no venue) are in the results.
#[derive(Deserialize, Default, Clone, Copy, ToSchema)]
#[serde(rename_all = "lowercase")]
enum Digital {
    #[default]
    Include,
    Exclude,
    Only,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchParams {
    /// Free text (French analysis).
    q: Option<String>,
    /// Latitude of the point to search around (with `lon`).
    lat: Option<f64>,
    /// Longitude, with `lat`.
    lon: Option<f64>,
    /// Radius around the point in km.
    radius_km: Option<f64>,
    /// Hits per page (at most 100, default 20).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Digital offers: included (default), excluded, or only them.
    #[serde(default)]
    digital: Digital,
    /// Comma-separated category ids.
    category: Option<String>,
    /// Only offers at most this price.
    max_price_cents: Option<u64>,
}

/// Full-text and geographic search with filters and facets.
#[utoipa::path(get, path = "/v1/search", tag = "app", params(SearchParams),
    responses((status = 200, body = SearchPage), (status = 400, response = ProblemResponse)))]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OfferParams {
    /// Latitude to measure the distance from (with `lon`).
    lat: Option<f64>,
    /// Longitude, with `lat`.
    lon: Option<f64>,
}

/// An offer with its venue, stocks and distance.
#[utoipa::path(get, path = "/v1/offers/{id}", tag = "app",
    params(("id" = i64, Path, description = "The offer"), OfferParams),
    responses((status = 200, body = OfferDetail),
        (status = 400, response = ProblemResponse), (status = 404, response = ProblemResponse)))]
async fn offer(
    State(engine): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<OfferParams>,
) -> Answer<impl IntoResponse> {
    Ok(axum::Json(
        engine.offer(OfferId(id), point(p.lat, p.lon)?).await?,
    ))
}

/// A user's credit: balance and current deposit. With a token, only its user's (or any,
/// for an admin).
#[utoipa::path(get, path = "/v1/users/{id}/wallet", tag = "app",
    params(("id" = i64, Path, description = "The user")),
    responses((status = 200, body = WalletView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse)))]
async fn wallet(
    State(engine): State<AppState>,
    caller: Option<Caller>,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    may_act_for(caller, UserId(id))?;
    Ok(axum::Json(engine.wallet(UserId(id)).await?))
}

/// A booking request.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BookingBody {
    /// Who books (with a user token: that user).
    user_id: i64,
    /// The stock (date, slot or price line) to book.
    stock_id: i64,
    /// Places: 1, or 2 for a duo offer.
    #[serde(default = "one")]
    #[schema(default = 1)]
    quantity: i64,
}

fn one() -> i64 {
    1
}

/// Clients may send this header so that a retry books at most once.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Books a stock with the user's credit, exactly once per `Idempotency-Key`.
#[utoipa::path(post, path = "/v1/bookings", tag = "app", request_body = BookingBody,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "1 to 255 visible ASCII characters: a retry with the same key books once")),
    security((), ("bearer" = [])),
    responses((status = 201, body = BookingView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse), (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse), (status = 422, response = ProblemResponse)))]
async fn book(
    State(engine): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Json(body): Json<BookingBody>,
) -> Answer<impl IntoResponse> {
    // With a token, only its user may book, for themself.
    may_act_for(caller, UserId(body.user_id))?;
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
    crate::metrics::booking("created", 1);
    Ok((StatusCode::CREATED, axum::Json(booking)))
}

/// A booking just cancelled (and refunded).
#[derive(Serialize, ToSchema)]
pub(super) struct Cancelled {
    /// The booking.
    pub id: i64,
    /// Always `cancelled`.
    pub status: &'static str,
}

/// The user cancels their own booking (until 48 h after booking, no later than 48 h
/// before the event); refunded exactly once.
#[utoipa::path(post, path = "/v1/bookings/{id}/cancel", tag = "app",
    params(("id" = i64, Path, description = "The booking")),
    security(("bearer" = [])),
    responses((status = 200, body = Cancelled),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse)))]
async fn cancel(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    engine.cancel(BookingId(id), Canceller::User(user)).await?;
    crate::metrics::booking("cancelled", 1);
    Ok(axum::Json(Cancelled {
        id,
        status: "cancelled",
    }))
}
