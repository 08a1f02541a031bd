//! The service's OpenAPI 3.1 document and its docs page.
//!
//! The document is not written by hand: each module's `routes()` registers its handlers
//! with `utoipa_axum::routes!`, which serves them *and* records their `#[utoipa::path]`
//! annotation, so a route cannot be served without being documented. [`ApiDoc`] only adds
//! what no handler owns: the title, the bearer scheme, the problem shape and the tags.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::problem::{ProblemBody, ProblemResponse};

/// The name handlers give in `security((BEARER = []))`.
pub const BEARER: &str = "bearer";

/// The parts of the document that belong to no single handler.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mosaic API",
        description = "Personalised, diversified discovery and booking of cultural offers. \
                       Every error is application/problem+json (RFC 9457) with a stable `code`."
    ),
    components(schemas(ProblemBody), responses(ProblemResponse)),
    modifiers(&BearerScheme),
    tags(
        (name = "ops", description = "Probes, metrics and this document"),
        (name = "app", description = "The app (role user): feed, search, offers, wallet, bookings"),
        (name = "partner", description = "Partners (role partner), scoped to their offerer"),
        (name = "curator", description = "Curators (role curator or admin): editorial boosts"),
        (name = "analyst", description = "Analysts (role analyst or admin): diversity summaries"),
    )
)]
pub struct ApiDoc;

/// Declares the `Authorization: Bearer <token>` scheme that `mosaic token create` issues for.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "A token from `mosaic token create`. An admin token acts for one \
                             user or offerer on their routes with the header \
                             `x-act-as: user:<id>` or `x-act-as: offerer:<id>`.",
                        ))
                        .build(),
                ),
            );
    }
}

/// The whole document: [`ApiDoc`] merged with every documented route.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::routes::documented().split_for_parts().1
}

/// [`document`] as JSON, built once: it never changes while the binary runs.
pub fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    &JSON
}

/// A page that renders the document (Redoc, loaded by the reader's browser; the page itself
/// links to the raw document for readers without scripts).
pub const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Mosaic API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <noscript>The API is described by <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</noscript>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="https://cdn.redoc.ly/redoc/latest/bundles/redoc.standalone.js"></script>
</body>
</html>
"#;
