//! Idempotency keys: a retried request with the same key gets the first outcome back.
//!
//! The key is recorded inside the booking's own transaction, so a booking and its key
//! commit together or not at all; a refusal is recorded on its own afterwards.

use super::{on_pool, Store};
use crate::domain::Timestamp;
use crate::error::EngineError;

/// A client's key for one request, with a digest of what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// Who the key belongs to (e.g. `booking:user:42`): keys of different callers never meet.
    pub scope: String,
    pub key: String,
    /// Digest of the request body: the same key with another body is an error.
    pub request_hash: String,
}

impl IdempotencyKey {
    /// A key for `request` (any serialisable body) in `scope`.
    pub fn new(scope: String, key: String, request: &impl serde::Serialize) -> IdempotencyKey {
        use sha2::{Digest, Sha256};
        let bytes = serde_json::to_vec(request).unwrap_or_default();
        let request_hash = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        IdempotencyKey {
            scope,
            key,
            request_hash,
        }
    }
}

/// What happened the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A booking was made: its id.
    Booked(i64),
    /// The request was refused: the refusal code.
    Refused(String),
}

impl Outcome {
    fn encode(&self) -> (i32, String) {
        match self {
            Outcome::Booked(id) => (201, id.to_string()),
            Outcome::Refused(code) => (409, code.clone()),
        }
    }

    fn decode(status: i32, body: String) -> Option<Outcome> {
        match status {
            201 => body.parse().ok().map(Outcome::Booked),
            409 => Some(Outcome::Refused(body)),
            _ => None,
        }
    }
}

/// A key seen before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// Same request: here is its outcome.
    Same(Outcome),
    /// Same key, different request.
    Conflict,
}

pub(super) const SELECT_KEY: &str =
    "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2";
pub(super) const INSERT_KEY: &str =
    "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)";

pub(super) fn replay(key: &IdempotencyKey, row: Option<(String, i32, String)>) -> Option<Replay> {
    let (hash, status, body) = row?;
    if hash != key.request_hash {
        return Some(Replay::Conflict);
    }
    Outcome::decode(status, body).map(Replay::Same)
}

pub(super) fn encoded(outcome: &Outcome) -> (i32, String) {
    outcome.encode()
}

impl Store {
    /// The recorded outcome of a key, if any.
    pub async fn idempotency_replay(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<Replay>, EngineError> {
        let row: Option<(String, i32, String)> = on_pool!(self, p => {
            sqlx::query_as(SELECT_KEY).bind(&key.scope).bind(&key.key).fetch_optional(p).await
        })?;
        Ok(replay(key, row))
    }

    /// Records a refusal under a key; a key recorded meanwhile wins.
    pub async fn record_refusal(
        &self,
        key: &IdempotencyKey,
        code: &str,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let (status, body) = Outcome::Refused(code.to_owned()).encode();
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query(&format!("{INSERT_KEY} ON CONFLICT (scope, key) DO NOTHING"))
                .bind(&key.scope)
                .bind(&key.key)
                .bind(&key.request_hash)
                .bind(status)
                .bind(body)
                .bind(now)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
