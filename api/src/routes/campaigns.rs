//! Push campaigns for partners (role `partner`, scoped to their offerer; `admin` sees all):
//! request one for an offer with 50+ places left, follow its counts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use engine::auth::Principal;
use engine::campaign::{self, CampaignConfig};
use engine::ids::{CampaignId, OfferId, OffererId};
use serde::Deserialize;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Json, Path};
use crate::problem::Problem;

/// The campaign routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/partner/campaigns", get(list).post(request))
        .route("/v1/partner/campaigns/{id}", get(one))
}

/// Whose campaigns the caller may see: one offerer's, or all for an admin.
fn scope(caller: Principal) -> Answer<Option<OffererId>> {
    match caller {
        Principal::Partner(offerer) => Ok(Some(offerer)),
        Principal::Admin => Ok(None),
        _ => Err(forbidden()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    offer_id: i64,
}

/// 202: the campaign is recorded; its audience is picked by the next `mosaic campaigns run`.
async fn request(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Json(body): Json<RequestBody>,
) -> Answer<impl IntoResponse> {
    let offerer = scope(caller)?;
    let config = CampaignConfig::default();
    let created = campaign::request(
        engine.store(),
        offerer,
        OfferId(body.offer_id),
        &config,
        engine::now(),
    )
    .await?;
    let view = campaign::views(engine.store(), Some(created.offerer_id), &config)
        .await?
        .into_iter()
        .find(|v| v.campaign.id == created.id)
        .ok_or_else(|| Problem::not_found("campaign vanished"))?;
    Ok((StatusCode::ACCEPTED, axum::Json(view)))
}

async fn list(State(engine): State<AppState>, Caller(caller): Caller) -> Answer<impl IntoResponse> {
    let views = campaign::views(engine.store(), scope(caller)?, &CampaignConfig::default()).await?;
    Ok(axum::Json(serde_json::json!({ "items": views })))
}

async fn one(
    State(engine): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    let views = campaign::views(engine.store(), scope(caller)?, &CampaignConfig::default()).await?;
    // Another offerer's campaign is "not found", never revealed.
    views
        .into_iter()
        .find(|v| v.campaign.id == CampaignId(id))
        .map(axum::Json)
        .ok_or_else(|| Problem::not_found(format!("campaign {id} not found")))
}
