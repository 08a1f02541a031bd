//! Operations: liveness.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::json;

use super::{Answer, AppState};

/// Routes for operators and probes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health(State(engine): State<AppState>) -> Answer<impl IntoResponse> {
    engine.store().ping().await?;
    Ok(axum::Json(
        json!({"status": "ok", "indexed_offers": engine.indexed_offers()}),
    ))
}
