//! Curators (role `curator`, or `admin`): editorial boosts and their preview.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use engine::auth::Principal;
use engine::boost::{Boost, BoostDraft, BoostStatus, BoostTarget};
use engine::curation::{
    BoostPreview, DepartmentCount, PersonaFilter, PreviewRequest, DEFAULT_PREVIEW_SAMPLE,
};
use engine::ids::{BoostId, UserId};
use engine::store::BoostFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::{Json, Path};
use crate::problem::{Problem, ProblemResponse};

/// The curator routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(preview))
        .routes(routes!(departments))
        .routes(routes!(taxonomy))
        .routes(routes!(one, edit))
        .routes(routes!(expire))
}

fn curator(caller: &Caller) -> Answer<()> {
    match caller.0 {
        Principal::Curator | Principal::Admin => Ok(()),
        _ => Err(forbidden()),
    }
}

/// A boost as a curator writes it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DraftBody {
    /// What is boosted: an offer, a venue, a subcategory or a search phrase.
    target: BoostTarget,
    /// Added to feed scores, in [-1, 1].
    weight: f64,
    /// Start of the window, unix seconds.
    starts_at: i64,
    /// End of the window, unix seconds (after `starts_at`).
    ends_at: i64,
    /// Why, for other curators.
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

/// A stored boost as curators see it.
#[derive(Serialize, ToSchema)]
struct BoostView {
    id: BoostId,
    target: BoostTarget,
    weight: f64,
    /// Unix seconds.
    starts_at: i64,
    /// Unix seconds.
    ends_at: i64,
    note: String,
    /// Where it stands now.
    status: BoostStatus,
    /// Unix seconds.
    created_at: i64,
    /// When a curator stopped it, unix seconds.
    expired_at: Option<i64>,
}

fn view(b: &Boost) -> BoostView {
    BoostView {
        id: b.id,
        target: b.draft.target.clone(),
        weight: b.draft.weight,
        starts_at: b.draft.starts_at,
        ends_at: b.draft.ends_at,
        note: b.draft.note.clone(),
        status: b.status(engine::now()),
        created_at: b.created_at,
        expired_at: b.expired_at,
    }
}

/// Boosts, newest first.
#[derive(Serialize, ToSchema)]
struct Boosts {
    items: Vec<BoostView>,
}

/// The boosts (at most 200, newest first).
#[utoipa::path(get, path = "/v1/curator/boosts", tag = "curator",
    security(("bearer" = [])),
    responses((status = 200, body = Boosts),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse)))]
async fn list(State(app): State<AppState>, caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let boosts = app.store().boosts(BoostFilter::All, 200, 0).await?;
    Ok(axum::Json(Boosts {
        items: boosts.iter().map(view).collect(),
    }))
}

/// Publishes a boost: it applies to feeds within its window (at once after this call).
#[utoipa::path(post, path = "/v1/curator/boosts", tag = "curator", request_body = DraftBody,
    security(("bearer" = [])),
    responses((status = 201, body = BoostView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse), (status = 422, response = ProblemResponse)))]
async fn create(
    State(app): State<AppState>,
    caller: Caller,
    Json(body): Json<DraftBody>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let boost = app.create_boost(&body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&boost))))
}

/// One boost.
#[utoipa::path(get, path = "/v1/curator/boosts/{id}", tag = "curator",
    params(("id" = i64, Path, description = "The boost")),
    security(("bearer" = [])),
    responses((status = 200, body = BoostView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse)))]
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
#[utoipa::path(put, path = "/v1/curator/boosts/{id}", tag = "curator", request_body = DraftBody,
    params(("id" = i64, Path, description = "The boost")),
    security(("bearer" = [])),
    responses((status = 200, body = BoostView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse), (status = 413, response = ProblemResponse),
        (status = 415, response = ProblemResponse), (status = 422, response = ProblemResponse)))]
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

/// Offers lifted by boosts in force, per department.
#[derive(Serialize, ToSchema)]
struct Departments {
    items: Vec<DepartmentCount>,
    /// Sum of `offers` over the departments.
    total: i64,
}

/// Offers lifted by the boosts in force, per department: the console's map.
#[utoipa::path(get, path = "/v1/curator/boosts/departments", tag = "curator",
    security(("bearer" = [])),
    responses((status = 200, body = Departments),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse)))]
async fn departments(State(app): State<AppState>, caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let items = app.boosted_departments().await?;
    let total: i64 = items.iter().map(|d| d.offers).sum();
    Ok(axum::Json(Departments { items, total }))
}

/// A subcategory a boost or a persona's taste may name.
#[derive(Serialize, ToSchema)]
struct SubcategoryEntry {
    id: String,
    /// In French.
    label: String,
}

/// A category with its public subcategories.
#[derive(Serialize, ToSchema)]
struct CategoryEntry {
    id: String,
    /// In French.
    label: String,
    subcategories: Vec<SubcategoryEntry>,
}

/// The categories with public subcategories.
#[derive(Serialize, ToSchema)]
struct TaxonomyView {
    categories: Vec<CategoryEntry>,
}

/// Categories and their public subcategories, in French: what a boost or a persona's
/// taste may name.
#[utoipa::path(get, path = "/v1/curator/taxonomy", tag = "curator",
    security(("bearer" = [])),
    responses((status = 200, body = TaxonomyView),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse)))]
async fn taxonomy(caller: Caller) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    let t = engine::taxonomy::Taxonomy::shipped();
    let categories = t
        .categories()
        .iter()
        .map(|c| CategoryEntry {
            id: c.id.clone(),
            label: c.label.clone(),
            subcategories: t
                .public_subcategories()
                .filter(|s| s.category == c.id)
                .map(|s| SubcategoryEntry {
                    id: s.id.clone(),
                    label: s.label.clone(),
                })
                .collect(),
        })
        .filter(|c| !c.subcategories.is_empty())
        .collect();
    Ok(axum::Json(TaxonomyView { categories }))
}

/// Stops a boost now.
#[utoipa::path(post, path = "/v1/curator/boosts/{id}/expire", tag = "curator",
    params(("id" = i64, Path, description = "The boost")),
    security(("bearer" = [])),
    responses((status = 200, body = BoostView),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 409, response = ProblemResponse)))]
async fn expire(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Answer<impl IntoResponse> {
    curator(&caller)?;
    Ok(axum::Json(view(&app.expire_boost(BoostId(id)).await?)))
}

/// A draft boost to preview, on chosen users or sampled personas.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    draft: DraftBody,
    /// The stored boost the draft would replace (an edit).
    replaces: Option<i64>,
    /// Users to preview for; empty picks personas.
    #[serde(default)]
    users: Vec<i64>,
    /// How many personas to pick when `users` is empty.
    sample: Option<usize>,
    /// Narrows the personas picked (department, age, taste).
    #[serde(default)]
    personas: PersonaFilter,
}

/// The first feed page before and after a draft boost for sample personas, with the change
/// in diversity and exposure; nothing is stored.
#[utoipa::path(post, path = "/v1/curator/boosts/preview", tag = "curator", request_body = PreviewBody,
    security(("bearer" = [])),
    responses((status = 200, body = BoostPreview),
        (status = 400, response = ProblemResponse), (status = 401, response = ProblemResponse),
        (status = 403, response = ProblemResponse), (status = 404, response = ProblemResponse),
        (status = 413, response = ProblemResponse), (status = 415, response = ProblemResponse),
        (status = 422, response = ProblemResponse)))]
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
