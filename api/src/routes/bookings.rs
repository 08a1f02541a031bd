//! A user's own bookings (role `user`): the list, and one booking. Booking and cancelling
//! live with the other app routes; someone else's booking is a 404, never its data.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use engine::auth::Principal;
use engine::ids::{BookingId, UserId};
use serde::Deserialize;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Path, Query};
use crate::paging::Paging;

/// The routes of a user's bookings.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/bookings", get(list))
        .route("/v1/bookings/{id}", get(one))
}

/// The user behind a user token; every other role is refused here.
pub fn user_of(caller: Principal) -> Answer<UserId> {
    match caller {
        Principal::User(user) => Ok(user),
        _ => Err(forbidden()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<i64>,
    offset: Option<i64>,
}

async fn list(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Query(p): Query<ListParams>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    let paging = Paging::new(p.limit, p.offset, 20)?;
    let items = engine
        .user_bookings(user, paging.limit, paging.offset)
        .await?;
    Ok(axum::Json(paging.page(items)))
}

async fn one(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    Ok(axum::Json(engine.user_booking(user, BookingId(id)).await?))
}
