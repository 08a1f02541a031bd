//! Partners' catalogue (role `partner`, scoped to its offerer): venues, offers with their
//! stock lines, creating and duplicating an offer, a stock's quantity, view counts.
//! Another offerer's venue, offer or stock is a 404, never its data.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use engine::domain::Venue;
use engine::ids::{OfferId, OffererId, StockId, VenueId};
use engine::store::{NewOffer, NewStock, OfferRecord};
use engine::views::rfc3339;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{offerer_of, Caller};
use crate::extract::{Json, Path, Query};
use crate::paging::{OffsetPage, PageParams};
use crate::problem::{Problem, SignedInProblems};

/// The partner catalogue routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(venues))
        .routes(routes!(offers, create))
        .routes(routes!(offer))
        .routes(routes!(duplicate))
        .routes(routes!(edit_stock))
        .routes(routes!(stats))
}

/// A venue of the partner's offerer.
#[derive(Serialize, ToSchema)]
struct VenueOut {
    id: VenueId,
    name: String,
    venue_type: String,
    lat: f64,
    lon: f64,
    department: String,
    city: String,
}

impl From<Venue> for VenueOut {
    fn from(v: Venue) -> VenueOut {
        VenueOut {
            id: v.id,
            name: v.name,
            venue_type: v.venue_type,
            lat: v.location.lat(),
            lon: v.location.lon(),
            department: v.department,
            city: v.city,
        }
    }
}

#[utoipa::path(
    get, path = "/v1/partner/venues", tag = "partner",
    security(("bearer" = [])),
    responses(
        (status = 200, body = serde_json::Value),
        SignedInProblems
    )
)]
async fn venues(
    State(engine): State<AppState>,
    Caller(caller): Caller,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let items: Vec<VenueOut> = engine
        .store()
        .venues_of(offerer)
        .await?
        .into_iter()
        .map(VenueOut::from)
        .collect();
    Ok(axum::Json(serde_json::json!({ "items": items })))
}

/// A stock line as its partner manages it: places, booked, and what is left.
#[derive(Serialize, ToSchema)]
struct StockOut {
    id: StockId,
    price_cents: i64,
    /// `None` means unlimited.
    quantity: Option<i64>,
    booked: i64,
    remaining: Option<i64>,
    /// RFC 3339; `None` for things.
    beginning_at: Option<String>,
    booking_limit_at: Option<String>,
}

/// An offer as its partner manages it, active or not.
#[derive(Serialize, ToSchema)]
struct OfferOut {
    id: OfferId,
    offerer_id: OffererId,
    venue_id: Option<VenueId>,
    title: String,
    description: String,
    subcategory: String,
    artist: Option<String>,
    url: Option<String>,
    is_duo: bool,
    is_active: bool,
    created_at: String,
    /// Bookings that are not cancelled.
    bookings: i64,
    stocks: Vec<StockOut>,
}

impl From<OfferRecord> for OfferOut {
    fn from(r: OfferRecord) -> OfferOut {
        let o = r.offer;
        OfferOut {
            id: o.id,
            offerer_id: o.offerer_id,
            venue_id: o.venue_id,
            title: o.title,
            description: o.description,
            subcategory: o.subcategory,
            artist: o.artist,
            url: o.url,
            is_duo: o.is_duo,
            is_active: o.is_active,
            created_at: rfc3339(o.created_at),
            bookings: r.bookings,
            stocks: r
                .stocks
                .iter()
                .map(|s| StockOut {
                    id: s.id,
                    price_cents: s.price.0,
                    quantity: s.quantity,
                    booked: s.booked,
                    remaining: s.remaining(),
                    beginning_at: s.beginning_at.map(rfc3339),
                    booking_limit_at: s.booking_limit_at.map(rfc3339),
                })
                .collect(),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/partner/offers", tag = "partner",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OffsetPage<OfferOut>),
        SignedInProblems
    )
)]
async fn offers(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<PageParams>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let paging = p.paging(20)?;
    let items: Vec<OfferOut> = engine
        .store()
        .partner_offers(offerer, paging.limit, paging.offset)
        .await?
        .into_iter()
        .map(OfferOut::from)
        .collect();
    Ok(axum::Json(paging.page(items)))
}

/// The offerer's offer `id` as answered, or a 404 (also for another offerer's offer).
async fn read_offer(engine: &AppState, offerer: OffererId, id: OfferId) -> Answer<OfferOut> {
    engine
        .store()
        .partner_offer(offerer, id)
        .await?
        .map(OfferOut::from)
        .ok_or_else(|| Problem::not_found(format!("offer {} not found", id.0)))
}

#[utoipa::path(
    get, path = "/v1/partner/offers/{id}", tag = "partner",
    params(("id" = i64, Path, description = "The offer")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OfferOut),
        SignedInProblems
    )
)]
async fn offer(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    Ok(axum::Json(read_offer(&engine, offerer, OfferId(id)).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StockIn {
    price_cents: i64,
    /// Absent or `null`: unlimited.
    quantity: Option<i64>,
    /// Unix seconds; required for events, absent for things.
    beginning_at: Option<i64>,
    booking_limit_at: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OfferIn {
    /// Absent for a digital offer, which has a `url` instead.
    venue_id: Option<i64>,
    title: String,
    #[serde(default)]
    description: String,
    subcategory: String,
    artist: Option<String>,
    url: Option<String>,
    #[serde(default)]
    is_duo: bool,
    stocks: Vec<StockIn>,
}

/// 201 with the new offer; the index shows it to the app at its next refresh.
#[utoipa::path(
    post, path = "/v1/partner/offers", tag = "partner",
    request_body = OfferIn,
    security(("bearer" = [])),
    responses(
        (status = 201, body = OfferOut),
        SignedInProblems
    )
)]
async fn create(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<OfferIn>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let offer = NewOffer {
        venue_id: body.venue_id.map(VenueId),
        title: body.title,
        description: body.description,
        subcategory: body.subcategory,
        artist: body.artist,
        url: body.url,
        is_duo: body.is_duo,
        stocks: body
            .stocks
            .into_iter()
            .map(|s| NewStock {
                price_cents: s.price_cents,
                quantity: s.quantity,
                beginning_at: s.beginning_at,
                booking_limit_at: s.booking_limit_at,
            })
            .collect(),
    };
    let id = engine.create_offer(offerer, &offer, engine::now()).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(read_offer(&engine, offerer, id).await?),
    ))
}

/// 201 with the copy: same details and stock lines, none of the bookings.
#[utoipa::path(
    post, path = "/v1/partner/offers/{id}/duplicate", tag = "partner",
    params(("id" = i64, Path, description = "The offer to copy")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = OfferOut),
        SignedInProblems
    )
)]
async fn duplicate(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let copy = engine
        .duplicate_offer(offerer, OfferId(id), engine::now())
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(read_offer(&engine, offerer, copy).await?),
    ))
}

/// A field that must be present, though it may be `null`: `{"quantity": null}` means
/// unlimited, while `{}` is a mistake rather than a silent "unlimited".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StockPatch {
    #[serde(default, deserialize_with = "present")]
    quantity: Option<Option<i64>>,
}

/// 200 with the stock's offer as it now stands; a quantity below the places already
/// booked is a 409 `quantity_below_booked`.
#[utoipa::path(
    patch, path = "/v1/partner/stocks/{id}", tag = "partner",
    params(("id" = i64, Path, description = "The stock")),
    request_body = StockPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, body = OfferOut),
        SignedInProblems
    )
)]
async fn edit_stock(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
    Json(body): Json<StockPatch>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let quantity = body.quantity.ok_or_else(|| {
        Problem::bad_request("quantity is required: a number of places, or null for unlimited")
    })?;
    let offer = engine
        .set_stock_quantity(offerer, StockId(id), quantity, engine::now())
        .await?;
    Ok(axum::Json(read_offer(&engine, offerer, offer).await?))
}

#[utoipa::path(
    get, path = "/v1/partner/stats", tag = "partner",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OffsetPage<engine::store::OfferStats>),
        SignedInProblems
    )
)]
async fn stats(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<PageParams>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let paging = p.paging(20)?;
    let items = engine
        .store()
        .offer_stats(offerer, paging.limit, paging.offset)
        .await?;
    Ok(axum::Json(paging.page(items)))
}
