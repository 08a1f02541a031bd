//! The layers every route shares: request ids, tracing, metrics, a deadline, panics caught.
//!
//! From the outside in: the request gets an `x-request-id` (the client's, or a new UUID),
//! echoed on the response; the trace span carries it; the latency is recorded; then the
//! deadline and the panic guard, so that a timeout (503 `timeout`) or a panic (500
//! `internal`) is still timed, traced and answered as a problem.

use std::any::Any;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::trace::MakeSpan;

use crate::problem::Problem;

/// The header carrying a request's id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How many milliseconds a request may take unless `MOSAIC_REQUEST_TIMEOUT_MS` says
/// otherwise.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// Answers 503 `timeout` when the handler has not finished within the deadline.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

/// A panicking handler becomes a 500 problem instead of a dropped connection.
pub fn panic_problem(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = what, "a handler panicked");
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred",
    )
    .into_response()
}

/// The trace span of a request: method, path and its id, so every log line it causes
/// can be found by the id the client saw.
#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> tracing::Span {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %id,
        )
    }
}
