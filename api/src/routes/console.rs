//! The curator console: a static page (HTML, CSS, JavaScript modules) embedded in the
//! binary at build time, so `mosaic serve` alone serves it and no build step is needed.
//! The page talks to the curator routes with the token the curator signs in with.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::problem::Problem;

/// Every file of the console: name under `/console/`, content type, bytes.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/console.css"),
    ),
    (
        "app.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../console/app.mjs"),
    ),
    (
        "api.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../console/api.mjs"),
    ),
    (
        "form.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../console/form.mjs"),
    ),
    (
        "preview.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../console/preview.mjs"),
    ),
    (
        "views.mjs",
        "text/javascript; charset=utf-8",
        include_str!("../../console/views.mjs"),
    ),
];

/// The console's routes: the page and its assets.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page))
        .routes(routes!(slash))
        .routes(routes!(file))
}

/// The curator console (HTML).
#[utoipa::path(get, path = "/console", tag = "curator",
    responses((status = 200, description = "The console page", content_type = "text/html")))]
async fn page() -> Response {
    asset("index.html")
}

/// One address for the page: its assets are linked by absolute paths.
#[utoipa::path(get, path = "/console/", tag = "curator",
    responses((status = 308, description = "To /console")))]
async fn slash() -> Redirect {
    Redirect::permanent("/console")
}

/// One of the console's files (CSS, JavaScript modules).
#[utoipa::path(get, path = "/console/{file}", tag = "curator",
    params(("file" = String, Path, description = "e.g. app.mjs")),
    responses((status = 200, description = "The file"),
        (status = 404, response = crate::problem::ProblemResponse)))]
async fn file(Path(name): Path<String>) -> Response {
    asset(&name)
}

fn asset(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, body)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                // Same-origin everything: the page loads nothing from elsewhere.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => Problem::not_found(format!("no console file {name:?}")).into_response(),
    }
}
