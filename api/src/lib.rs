//! Mosaic's HTTP service: thin handlers over [`engine::Engine`].
//!
//! [`router`] builds the routes; [`serve`] runs them until a shutdown signal,
//! letting requests in flight (bookings included) finish.

mod auth;
mod extract;
pub mod layers;
pub mod metrics;
pub mod openapi;
mod paging;
pub mod problem;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use engine::Engine;
use tokio::net::TcpListener;

pub use routes::{router, router_with_timeout, AppState};

/// Serves `engine` on `listener` until `shutdown` resolves, then drains requests in flight.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
