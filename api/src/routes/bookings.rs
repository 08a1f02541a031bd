//! A user's own bookings (role `user`): the list, and one booking. Booking and cancelling
//! live with the other app routes; someone else's booking is a 404, never its data.

use axum::extract::State;
use axum::response::IntoResponse;
use engine::ids::BookingId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{user_of, Caller};
use crate::extract::{Path, Query};
use crate::paging::{OffsetPage, PageParams};
use crate::problem::SignedInProblems;

/// The routes of a user's bookings.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
}

#[utoipa::path(
    get, path = "/v1/bookings", tag = "app",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OffsetPage<engine::views::BookingView>),
        SignedInProblems
    )
)]
async fn list(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<PageParams>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    let paging = p.paging(20)?;
    let items = engine
        .user_bookings(user, paging.limit, paging.offset)
        .await?;
    Ok(axum::Json(paging.page(items)))
}

#[utoipa::path(
    get, path = "/v1/bookings/{id}", tag = "app",
    params(("id" = i64, Path, description = "The booking")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = engine::views::BookingView),
        SignedInProblems
    )
)]
async fn one(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    Ok(axum::Json(engine.user_booking(user, BookingId(id)).await?))
}
