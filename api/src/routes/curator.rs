//! Curators (role `curator`, or `admin`): editorial boosts and their preview.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use engine::auth::Principal;
use engine::boost::{Boost, BoostDraft, BoostTarget};
use engine::curation::{PersonaFilter, PreviewRequest, DEFAULT_PREVIEW_SAMPLE};
use engine::ids::{BoostId, UserId};
use engine::store::BoostFilter;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Json, Path};
use crate::problem::Problem;

/// The curator routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/curator/boosts", get(list).post(create))
        .route("/v1/curator/boosts/preview", post(preview))
        .route("/v1/curator/boosts/departments", get(departments))
        .route("/v1/curator/taxonomy", get(taxonomy))
        .route("/v1/curator/boosts/{id}", get(one).put(edit))
        .route("/v1/curator/boosts/{id}/expire", post(expire))
}

fn curator(caller: &Caller) -> Answer<()> {
    match caller.0 {
        Principal::Curator | Principal::Admin => Ok(()),
        _ => Err(forbidden()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    target: BoostTarget,
    weight: f64,
    /// Unix seconds.
    starts_at: i64,
    ends_at: i64,
    #[serde(default)]
    note: String,
}

impl From<DraftBody> for BoostDraft {
    fn from(b: DraftBody) -> BoostDraft {
        BoostDraft {
            target: b.target,
            weight: b.weight,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            note: b.note,
        }
    }
}

fn view(b: &Boost) -> Value {
    json!({
        "id": b.id, "target": b.draft.target, "weight": b.draft.weight,
        "starts_at": b.draft.starts_at, "ends_at": b.draft.ends_at, "note": b.draft.note,
        "status": b.status(engine::now()), "created_at": b.created_at, "expired_at": b.expired_at,
    })
}

async fn list(State(app): State<AppState>, caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let boosts = app.store().boosts(BoostFilter::All, 200, 0).await?;
    Ok(axum::Json(
        json!({"items": boosts.iter().map(view).collect::<Vec<_>>()}),
    ))
}

async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<DraftBody>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let boost = app.create_boost(&body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&boost))))
}

async fn one(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let boost = app
        .store()
        .boost(BoostId(id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("boost {id} not found")))?;
    Ok(axum::Json(view(&boost)))
}

/// Replaces target, weight, window and note of a boost that was not expired.
async fn edit(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(body): Json<DraftBody>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    Ok(axum::Json(view(
        &app.update_boost(BoostId(id), &body.into()).await?,
    )))
}

/// Offers lifted by the boosts in force, per department: the console's map.
async fn departments(State(app): State<AppState>, caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let items = app.boosted_departments().await?;
    let total: i64 = items.iter().map(|d| d.offers).sum();
    Ok(axum::Json(json!({"items": items, "total": total})))
}

/// Categories and their public subcategories, in French: what a boost or a persona's
/// taste may name.
async fn taxonomy(caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let t = engine::taxonomy::Taxonomy::shipped();
    let categories = t
        .categories()
        .iter()
        .map(|c| {
            let subs = t
                .public_subcategories()
                .filter(|s| s.category == c.id)
                .map(|s| json!({"id": s.id, "label": s.label}))
                .collect::<Vec<_>>();
            json!({"id": c.id, "label": c.label, "subcategories": subs})
        })
        .filter(|c| c["subcategories"].as_array().is_some_and(|s| !s.is_empty()))
        .collect::<Vec<_>>();
    Ok(axum::Json(json!({"categories": categories})))
}

async fn expire(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    Ok(axum::Json(view(&app.expire_boost(BoostId(id)).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    draft: DraftBody,
    replaces: Option<i64>,
    #[serde(default)]
    users: Vec<i64>,
    sample: Option<usize>,
    #[serde(default)]
    personas: PersonaFilter,
}

async fn preview(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<PreviewBody>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let preview = app
        .preview_boost(&PreviewRequest {
            draft: body.draft.into(),
            replaces: body.replaces.map(BoostId),
            users: body.users.into_iter().map(UserId).collect(),
            sample: body.sample.unwrap_or(DEFAULT_PREVIEW_SAMPLE),
            personas: body.personas,
        })
        .await?;
    Ok(axum::Json(preview))
}
