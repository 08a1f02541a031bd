//! The HTTP routes, one module per audience: parse, authorize, call the engine, serialise.
//!
//! Each module exposes `routes() -> Router<AppState>`; [`router`] merges them and adds
//! the layers every route shares. A new audience is one module and one `.merge(...)` line.

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

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use engine::domain::Coordinates;
use engine::Engine;
use tower_http::trace::TraceLayer;

use crate::problem::Problem;

/// Request bodies are small JSON objects; anything larger is refused with 413.
const BODY_LIMIT: usize = 64 * 1024;

/// What every handler is given: the engine (reachable through `Deref`) and the
/// service-wide parts that live beside it.
#[derive(Clone)]
pub struct AppState {
    /// The engine every use case goes through.
    pub engine: Arc<Engine>,
}

impl Deref for AppState {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

/// A handler's result: its answer, or a problem.
pub type Answer<T> = Result<T, Problem>;

/// The service's routes over `engine`.
pub fn router(engine: Arc<Engine>) -> Router {
    let state = AppState { engine };
    Router::new()
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
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
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
