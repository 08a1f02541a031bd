//! Analysts (role `analyst`, or `admin`): the diversity summaries written by
//! `mosaic analytics`, served from its exports.

use std::path::PathBuf;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use engine::auth::Principal;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::Path;
use crate::problem::Problem;

/// Where `mosaic analytics --out` wrote, unless `MOSAIC_ANALYTICS_DIR` says otherwise.
const DEFAULT_DIR: &str = "data/analytics";

/// The analyst routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/analyst/diversity/{table}", get(table))
}

async fn table(
    State(_engine): State<AppState>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> Answer<impl IntoResponse> {
    if !matches!(caller, Principal::Analyst | Principal::Admin) {
        return Err(forbidden());
    }
    let dir = std::env::var_os("MOSAIC_ANALYTICS_DIR")
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from);
    let found =
        tokio::task::spawn_blocking(move || analytics::read_table(&dir, &name).map(|t| (t, name)))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "reading an analytics table panicked");
                Problem::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred",
                )
            })?;
    match found {
        Ok((Some(table), _)) => Ok(axum::Json(table)),
        Ok((None, name)) => Err(Problem::not_found(format!(
            "no analytics table {name:?}: one of {} once `mosaic analytics` has run",
            analytics::SERVED_TABLES.join(", ")
        ))),
        Err(e) => {
            tracing::error!(error = %e, "reading an analytics table failed");
            Err(Problem::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred",
            ))
        }
    }
}
