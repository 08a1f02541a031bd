//! Partners (role `partner`), scoped to their offerer and its venues.

use axum::extract::State;
use axum::response::IntoResponse;
use engine::booking::Canceller;
use engine::ids::BookingId;
use engine::store::UsedBooking;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::app::Cancelled;
use super::{Answer, AppState};
use crate::auth::{offerer_of, Caller};
use crate::extract::Path;
use crate::problem::ProblemResponse;

/// The partner routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(use_booking))
        .routes(routes!(partner_cancel))
}

/// The venue cancels a booking of one of its offers, at any time; refunded exactly once.
#[utoipa::path(post, path = "/v1/partner/bookings/{id}/cancel", tag = "partner",
    params(("id" = i64, Path, description = "The booking")),
    security(("bearer" = [])),
    responses((status = 200, body = Cancelled),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse)))]
async fn partner_cancel(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    engine
        .cancel(BookingId(id), Canceller::Partner(offerer))
        .await?;
    crate::metrics::booking("cancelled", 1);
    Ok(axum::Json(Cancelled {
        id,
        status: "cancelled",
    }))
}

/// Validates a booking's token at the door, once.
#[utoipa::path(post, path = "/v1/partner/bookings/{token}/use", tag = "partner",
    params(("token" = String, Path, description = "The booking's token (case does not matter)")),
    security(("bearer" = [])),
    responses((status = 200, body = UsedBooking),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse), (status = 409, response = ProblemResponse)))]

async fn use_booking(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(token): Path<String>,
) -> Answer<impl IntoResponse> {
    let offerer = offerer_of(caller)?;
    let used = engine
        .store()
        .use_booking(&token.to_ascii_uppercase(), offerer, engine::now())
        .await?;
    crate::metrics::booking("used", 1);
    Ok(axum::Json(used))
}
