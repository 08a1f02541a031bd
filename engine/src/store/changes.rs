//! What the index refresh reads: the changes that may alter offers' index documents, and
//! the transactions still open, whose changes other readers cannot see yet.

use std::collections::HashSet;

use super::{on_pool, Store};
use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{BookingId, OfferId, StockId};

/// A change to an offer's index document, stamped by its writer's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The offer whose document it changes.
    pub offer: OfferId,
    /// When it was stamped (or, for a stock's bound, when time crosses it).
    pub at: Timestamp,
    /// What happened.
    pub kind: ChangeKind,
}

/// What a [`Change`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The offer's row was written (an edit, a stock's quantity). Stamps are whole
    /// seconds, so two writes of one second look the same: such a change is never known
    /// to have been read already.
    Written,
    /// Something that happens once, so that having read it once is enough.
    Event(Event),
}

/// A change that happens once to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A booking was made.
    Booked(BookingId),
    /// A booking was cancelled or expired.
    Cancelled(BookingId),
    /// A booking was used.
    Used(BookingId),
    /// A stock's booking limit passed (with the limit, which an edit may move).
    LimitPassed(StockId, Timestamp),
    /// A stock's event began (with its start, which an edit may move).
    Began(StockId, Timestamp),
}

/// A transaction open on the database, told apart from the later ones of its connection
/// by the instant it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpenTransaction {
    /// The server process of its connection.
    pub backend: i64,
    /// When it began, in microseconds since the epoch (the database's clock).
    pub began_us: i64,
}

impl OpenTransaction {
    /// When it began, in whole seconds.
    pub fn began(&self) -> Timestamp {
        self.began_us.div_euclid(1_000_000)
    }
}

impl Store {
    /// The transactions open on this database now, other than the caller's. A writer
    /// stamps its changes before it commits: until then nobody else sees them, and a
    /// reader that moved past their stamp meanwhile would never read them. PostgreSQL
    /// says which transactions are open; SQLite does not, and reports none (its writers
    /// take turns, and are this process's own whose changes reach the index by id).
    /// PostgreSQL shows another role's transactions only to a role with
    /// `pg_read_all_stats`: the servers and the jobs that write should share one role.
    pub async fn open_transactions(&self) -> Result<HashSet<OpenTransaction>, EngineError> {
        let rows: Vec<(i64, i64)> = match &self.pool {
            super::Pool::Sqlite(_) => Vec::new(),
            super::Pool::Postgres(p) => {
                sqlx::query_as(
                    "SELECT pid::BIGINT, (EXTRACT(EPOCH FROM xact_start) * 1000000)::BIGINT \
                     FROM pg_stat_activity WHERE datname = current_database() \
                     AND backend_type = 'client backend' AND xact_start IS NOT NULL \
                     AND pid <> pg_backend_pid()",
                )
                .fetch_all(p)
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(backend, began_us)| OpenTransaction { backend, began_us })
            .collect())
    }

    /// The changes stamped from `since` on that may alter offers' index documents:
    /// offers written, bookings made, cancelled or used, and stocks whose booking limit
    /// or start falls in `[since, until]` (time alone makes those unbookable).
    pub async fn index_changes(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<Change>, EngineError> {
        // One arm per change and per index (migration 0003), so that each reads a range.
        let rows: Vec<(i64, i64, i64, i64)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT CAST(0 AS BIGINT), id, updated_at, id FROM offers WHERE updated_at >= $1 \
                 UNION ALL SELECT CAST(1 AS BIGINT), id, created_at, offer_id FROM bookings WHERE created_at >= $1 \
                 UNION ALL SELECT CAST(2 AS BIGINT), id, cancelled_at, offer_id FROM bookings WHERE cancelled_at >= $1 \
                 UNION ALL SELECT CAST(3 AS BIGINT), id, used_at, offer_id FROM bookings WHERE used_at >= $1 \
                 UNION ALL SELECT CAST(4 AS BIGINT), id, booking_limit_at, offer_id FROM stocks \
                 WHERE booking_limit_at BETWEEN $1 AND $2 \
                 UNION ALL SELECT CAST(5 AS BIGINT), id, beginning_at, offer_id FROM stocks \
                 WHERE beginning_at BETWEEN $1 AND $2",
            )
            .bind(since)
            .bind(until)
            .fetch_all(p)
            .await
        })?;
        rows.into_iter()
            .map(|(kind, id, at, offer)| {
                let kind = match kind {
                    0 => ChangeKind::Written,
                    1 => ChangeKind::Event(Event::Booked(BookingId(id))),
                    2 => ChangeKind::Event(Event::Cancelled(BookingId(id))),
                    3 => ChangeKind::Event(Event::Used(BookingId(id))),
                    4 => ChangeKind::Event(Event::LimitPassed(StockId(id), at)),
                    5 => ChangeKind::Event(Event::Began(StockId(id), at)),
                    other => return Err(EngineError::Data(format!("unknown change kind {other}"))),
                };
                Ok(Change {
                    offer: OfferId(offer),
                    at,
                    kind,
                })
            })
            .collect()
    }
}
