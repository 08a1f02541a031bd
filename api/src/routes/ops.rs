//! Operations: liveness, readiness, metrics and the API's own description.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::openapi;
use crate::problem::Problem;

/// An index not refreshed for this long means the refresh loop is failing: not ready.
const STALE_AFTER_S: i64 = 60;

/// Routes for operators and probes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
}

/// The service is up and its store answers.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok`.
    status: &'static str,
    /// Offers in the search index.
    indexed_offers: u64,
}

/// Liveness: the process answers and the store is reachable.
#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, body = Health), (status = "5XX", response = crate::problem::ProblemResponse)))]
async fn health(State(engine): State<AppState>) -> Answer<impl IntoResponse> {
    engine.store().ping().await?;
    Ok(axum::Json(Health {
        status: "ok",
        indexed_offers: engine.indexed_offers(),
    }))
}

/// Ready to take traffic.
#[derive(Serialize, ToSchema)]
struct Ready {
    /// Always `ready`.
    status: &'static str,
    /// Offers in the search index.
    indexed_offers: u64,
    /// Seconds since the index last caught up with the store.
    index_age_s: i64,
}

/// Readiness: the store answers and the index is loaded and kept fresh; 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses((status = 200, body = Ready), (status = 503, response = crate::problem::ProblemResponse)))]
async fn ready(State(engine): State<AppState>) -> Answer<impl IntoResponse> {
    let unavailable =
        |code, detail: String| Problem::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
    if let Err(e) = engine.store().ping().await {
        return Err(unavailable(
            "store_unreachable",
            format!("the store does not answer: {e}"),
        ));
    }
    let synced_at = engine.index_synced_at();
    if synced_at <= 0 {
        return Err(unavailable(
            "index_not_loaded",
            "the offer index is not loaded yet".into(),
        ));
    }
    let age = (engine::now() - synced_at).max(0);
    if age > STALE_AFTER_S {
        return Err(unavailable(
            "index_stale",
            format!("the offer index has not caught up with the store for {age} s"),
        ));
    }
    Ok(axum::Json(Ready {
        status: "ready",
        indexed_offers: engine.indexed_offers(),
        index_age_s: age,
    }))
}

/// Prometheus metrics (text format): request latency per route template, method and
/// status; booking events; the index's age, size, segments and compactions.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(engine): State<AppState>) -> impl IntoResponse {
    crate::metrics::index_freshness(
        (engine::now() - engine.index_synced_at()).max(0),
        engine.indexed_offers(),
        engine.reindexed_offers(),
    );
    crate::metrics::index_compactions(engine.index().segment_count(), engine.index_compactions());
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        crate::metrics::render(),
    )
}

/// This document: the service's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        openapi::document_json(),
    )
}

/// A human-readable page over `/openapi.json`.
#[utoipa::path(get, path = "/docs", tag = "ops",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
async fn docs() -> impl IntoResponse {
    Html(openapi::DOCS_HTML)
}
