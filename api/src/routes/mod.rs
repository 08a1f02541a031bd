//! The HTTP routes, one module per audience: parse, authorize, call the engine, serialise.
//!
//! Each module exposes `routes() -> OpenApiRouter<AppState>` and registers every handler
//! with `.routes(routes!(handler))` over a `#[utoipa::path(...)]` annotation (see
//! `ops.rs` or `app.rs`): that both serves it and documents it in `/openapi.json`.
//! [`documented`] merges the modules; [`router`] adds the layers every route shares.
//! A new audience is one module and one `.merge(...)` line in [`documented`].

mod analyst;
mod app;
mod bookings;
mod campaigns;
mod console;
mod curator;
mod favorites;
mod ops;
mod partner;
mod partner_bookings;
mod partner_offers;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::Router;
use engine::domain::Coordinates;
use engine::settings;
use engine::Engine;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::layers::{self, DEFAULT_TIMEOUT_MS};
use crate::metrics;
use crate::openapi::ApiDoc;
use crate::problem::Problem;

/// Request bodies are small JSON objects; anything larger is refused with 413.
const BODY_LIMIT: usize = 64 * 1024;

/// What every handler is given: the engine (reachable through `Deref`) and the
/// service-wide parts that live beside it.
#[derive(Clone)]
pub struct AppState {
    /// The engine every use case goes through.
    pub engine: Arc<Engine>,
    /// Recently checked bearer tokens.
    pub tokens: Arc<crate::auth::TokenCache>,
}

impl Deref for AppState {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// A handler's result: its answer, or a problem.
pub type Answer<T> = Result<T, Problem>;

/// Every route with its OpenAPI description, before state and layers.
pub(crate) fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::routes())
        .merge(app::routes())
        .merge(bookings::routes())
        .merge(favorites::routes())
        .merge(partner::routes())
        .merge(partner_offers::routes())
        .merge(partner_bookings::routes())
        .merge(curator::routes())
        .merge(campaigns::routes())
        .merge(analyst::routes())
        .merge(console::routes())
}

/// The service's routes over `engine`, with the request deadline from
/// `MOSAIC_REQUEST_TIMEOUT_MS` (default [`DEFAULT_TIMEOUT_MS`]).
pub fn router(engine: Arc<Engine>) -> Router {
    // 0 ms would answer every request with a timeout.
    let ms = settings::number(
        "MOSAIC_REQUEST_TIMEOUT_MS",
        DEFAULT_TIMEOUT_MS,
        "a positive number of milliseconds",
        |&ms| ms > 0,
    );
    let timeout = Duration::from_millis(ms);
    router_with_timeout(engine, timeout)
}

/// The service's routes over `engine`, each request answered within `timeout` (or a 503
/// `timeout` problem). See [`crate::layers`] for the order of the layers.
pub fn router_with_timeout(engine: Arc<Engine>, timeout: Duration) -> Router {
    let state = AppState {
        engine,
        tokens: Arc::default(),
    };
    let (routes, _) = documented().split_for_parts();
    routes
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(CatchPanicLayer::custom(layers::panic_problem))
        .layer(middleware::from_fn_with_state(timeout, layers::deadline))
        .layer(middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // The last layer added is the outermost: the id is set first, then traced, and
        // copied onto the response last.
        .layer(PropagateRequestIdLayer::new(layers::REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(layers::RequestSpan))
        .layer(SetRequestIdLayer::new(layers::REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// A point from optional `lat` and `lon`: both or neither.
pub fn point(lat: Option<f64>, lon: Option<f64>) -> Answer<Option<Coordinates>> {
    match (lat, lon) {
        (Some(lat), Some(lon)) => Coordinates::new(lat, lon).map(Some).map_err(|_| {
            Problem::bad_request("lat must be within [-90, 90] and lon within [-180, 180]")
        }),
        (None, None) => Ok(None),
        _ => Err(Problem::bad_request("lat and lon go together")),
    }
}
