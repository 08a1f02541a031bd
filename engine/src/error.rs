//! The engine's errors. `api` maps them to HTTP once.

use thiserror::Error;

/// Everything that can go wrong in the engine.
#[derive(Debug, Error)]
pub enum EngineError {
    /// Shipped or supplied data is malformed.
    #[error("invalid data: {0}")]
    Data(String),
    /// The caller asked for something invalid (a bad parameter).
    #[error("{0}")]
    BadInput(String),
    /// The thing asked for does not exist.
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: i64 },
    /// A booking, cancellation or validation was refused by a rule.
    #[error("{0}")]
    Refused(#[from] crate::booking::Refusal),
    /// A push campaign request was refused by a rule.
    #[error("{0}")]
    Campaign(#[from] crate::campaign::CampaignRefusal),
    /// The request conflicts with the state of a resource (a stable code and a detail).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// An idempotency key was reused for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyConflict,
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The index failed.
    #[error("index: {0}")]
    Index(#[from] indexer::IndexError),
    /// A file could not be read or written.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
