//! Partners (role `partner`), scoped to their offerer and its venues.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use engine::auth::Principal;
use engine::booking::Canceller;
use engine::ids::{BookingId, OffererId};
use serde_json::json;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::Path;

/// The partner routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/partner/bookings/{token}/use", post(use_booking))
        .route("/v1/partner/bookings/{id}/cancel", post(partner_cancel))
}

/// The offerer behind a partner token; every other role is refused on partner routes.
pub fn offerer_of(caller: Principal) -> Answer<OffererId> {
    match caller {
        Principal::Partner(offerer) => Ok(offerer),
        _ => Err(forbidden()),
    }
}

async fn partner_cancel(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let Principal::Partner(offerer) = caller else {
        return Err(forbidden());
    };
    engine
        .cancel(BookingId(id), Canceller::Partner(offerer))
        .await?;
    Ok(axum::Json(json!({"id": id, "status": "cancelled"})))
}

async fn use_booking(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(token): Path<String>,
) -> Answer<impl IntoResponse> {
    let Principal::Partner(offerer) = caller else {
        return Err(forbidden());
    };
    let used = engine
        .store()
        .use_booking(&token.to_ascii_uppercase(), offerer, engine::now())
        .await?;
    Ok(axum::Json(used))
}
