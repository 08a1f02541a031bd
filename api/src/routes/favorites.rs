//! A user's favorites and the interactions profiles learn from (role `user`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use engine::domain::InteractionKind;
use engine::ids::OfferId;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{user_of, Caller};
use crate::extract::{Json, Path, Query};
use crate::paging::{OffsetPage, PageParams};
use crate::problem::{Problem, SignedInProblems};

/// The favorites and interactions routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(add, remove))
        .routes(routes!(ingest))
}

#[utoipa::path(
    get, path = "/v1/favorites", tag = "app",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OffsetPage<engine::me::FavoriteView>),
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
    let items = engine.favorites(user, paging.limit, paging.offset).await?;
    Ok(axum::Json(paging.page(items)))
}

/// 201 when added, 200 when it already was a favorite: a retry changes nothing.
#[utoipa::path(
    put, path = "/v1/favorites/{offer_id}", tag = "app",
    params(("offer_id" = i64, Path, description = "The offer")),
    security(("bearer" = [])),
    responses(
        (status = 201, body = serde_json::Value),
        SignedInProblems
    )
)]
async fn add(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(offer): Path<i64>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    let added = engine
        .add_favorite(user, OfferId(offer), engine::now())
        .await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(json!({"offer_id": offer, "favorite": true})),
    ))
}

#[utoipa::path(
    delete, path = "/v1/favorites/{offer_id}", tag = "app",
    params(("offer_id" = i64, Path, description = "The offer")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "removed"),
        SignedInProblems
    )
)]
async fn remove(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(offer): Path<i64>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    if engine.store().remove_favorite(user, OfferId(offer)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!(
            "offer {offer} is not a favorite"
        )))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Event {
    offer_id: i64,
    kind: InteractionKind,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Events {
    events: Vec<Event>,
}

/// 202 with how many events were recorded; they are stamped with the server's clock,
/// not the client's, so that a skewed phone cannot reorder a profile's history.
#[utoipa::path(
    post, path = "/v1/interactions", tag = "app",
    request_body = Events,
    security(("bearer" = [])),
    responses(
        (status = 202, body = serde_json::Value),
        SignedInProblems
    )
)]
async fn ingest(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<Events>,
) -> Answer<impl IntoResponse> {
    let user = user_of(caller)?;
    let events: Vec<(OfferId, InteractionKind)> = body
        .events
        .iter()
        .map(|e| (OfferId(e.offer_id), e.kind))
        .collect();
    let recorded = engine
        .record_interactions(user, &events, engine::now())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "recorded": recorded })),
    ))
}
