//! Push campaigns for partners (role `partner`, scoped to their offerer; `admin` sees all):
//! request one for an offer with 50+ places left, follow its counts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use engine::auth::Principal;
use engine::campaign::{self, CampaignConfig, CampaignView};
use engine::ids::{CampaignId, OfferId, OffererId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Json, Path};
use crate::problem::{Problem, ProblemResponse};

/// The campaign routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, request))
        .routes(routes!(one))
}

/// Whose campaigns the caller may see: one offerer's, or all for an admin.
fn scope(caller: Principal) -> Answer<Option<OffererId>> {
    match caller {
        Principal::Partner(offerer) => Ok(Some(offerer)),
        Principal::Admin => Ok(None),
        _ => Err(forbidden()),
    }
}

/// A campaign request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    /// The partner's offer to push (≥ 50 places left on stocks that can still be booked).
    offer_id: i64,
}

/// 202: the campaign is recorded; its audience is picked by the next `mosaic campaigns run`.
#[utoipa::path(post, path = "/v1/partner/campaigns", tag = "partner", request_body = RequestBody,
    security(("bearer" = [])),
    responses((status = 202, body = CampaignView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse), (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse), (status = 422, response = ProblemResponse)))]
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

/// The caller's campaigns.
#[derive(Serialize, ToSchema)]
struct Campaigns {
    items: Vec<CampaignView>,
}

/// The partner's campaigns with their numbers (an admin sees every offerer's).
#[utoipa::path(get, path = "/v1/partner/campaigns", tag = "partner",
    security(("bearer" = [])),
    responses((status = 200, body = Campaigns),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse)))]
async fn list(State(engine): State<AppState>, Caller(caller): Caller) -> Answer<impl IntoResponse> {
    let items = campaign::views(engine.store(), scope(caller)?, &CampaignConfig::default()).await?;
    Ok(axum::Json(Campaigns { items }))
}

/// One of the partner's campaigns; another offerer's is not found.
#[utoipa::path(get, path = "/v1/partner/campaigns/{id}", tag = "partner",
    params(("id" = i64, Path, description = "The campaign")),
    security(("bearer" = [])),
    responses((status = 200, body = CampaignView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse)))]

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
