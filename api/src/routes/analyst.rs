//! Analysts (role `analyst`, or `admin`): the diversity summaries written by
//! `mosaic analytics`, served from its exports.

use std::path::PathBuf;

use axum::extract::State;
use axum::response::IntoResponse;
use engine::auth::Principal;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Answer, AppState};
use crate::auth::{forbidden, Caller};
use crate::extract::Path;
use crate::problem::{Problem, ProblemResponse};

/// Where `mosaic analytics --out` wrote, unless `MOSAIC_ANALYTICS_DIR` says otherwise.
const DEFAULT_DIR: &str = "data/analytics";

/// The analyst routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(table))
}

/// One diversity summary table written by `mosaic analytics`, as JSON rows.
#[utoipa::path(get, path = "/v1/analyst/diversity/{table}", tag = "analyst",
    params(("table" = String, Path, description = "by_age, by_department, by_region, by_month, since_first_booking, concentration, no_show_by_distance or campaigns", example = "by_age")),
    security(("bearer" = [])),
    responses((status = 200, description = "The table", body = serde_json::Value),
        (status = 401, response = ProblemResponse), (status = 403, response = ProblemResponse),
        (status = 404, response = ProblemResponse)))]

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
