//! After a booking: validation at the door, cancellation and its refund.
//!
//! Like booking, each is one transaction whose guard is an `UPDATE … WHERE status =
//! 'confirmed'`: two cancellations racing for the same booking refund it once.

use sqlx::QueryBuilder;

use super::{in_tx, on_pool, Store};
use crate::booking::{cap_shares, user_may_cancel, Canceller, Collect, Refusal};
use crate::domain::{BookingStatus, Timestamp};
use crate::error::EngineError;
use crate::ids::{BookingId, OfferId, OffererId, StockId, UserId};
use crate::money::Cents;

/// What a partner sees when validating a token at the door.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct UsedBooking {
    pub id: BookingId,
    pub token: String,
    pub offer_id: OfferId,
    pub offer_title: String,
    pub quantity: i64,
    pub status: &'static str,
}

type CancelRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    i64,
    i64,
    String,
    i64,
    Option<i64>,
    i64,
    String,
    Option<String>,
);

impl Store {
    /// Marks the booking with this token used, if it belongs to one of `offerer`'s offers
    /// and is confirmed. A token of another offerer is "not found", never revealed.
    pub async fn use_booking(
        &self,
        token: &str,
        offerer: OffererId,
        now: Timestamp,
    ) -> Result<UsedBooking, EngineError> {
        let _writer = self.writer().await;
        let row: Option<(i64, i64, String, i64, String, i64)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT b.id, b.offer_id, o.title, b.quantity, b.status, o.offerer_id FROM bookings b \
                 JOIN offers o ON o.id = b.offer_id WHERE b.token = $1",
            )
            .bind(token)
            .fetch_optional(p)
            .await
        })?;
        let not_found = || EngineError::NotFound {
            what: "booking",
            id: 0,
        };
        let (id, offer_id, title, quantity, status, owner) = row.ok_or_else(not_found)?;
        if owner != offerer.0 {
            return Err(not_found());
        }
        let changed = on_pool!(self, p => {
            sqlx::query("UPDATE bookings SET status = 'used', used_at = $1 WHERE id = $2 AND status = 'confirmed'")
                .bind(now)
                .bind(id)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
        })?;
        if changed != 1 {
            // Read before the update: it tells which way the booking had already gone.
            return Err(match BookingStatus::parse(&status) {
                Some(BookingStatus::Cancelled) => Refusal::AlreadyCancelled,
                _ => Refusal::AlreadyUsed,
            }
            .into());
        }
        Ok(UsedBooking {
            id: BookingId(id),
            token: token.to_owned(),
            offer_id: OfferId(offer_id),
            offer_title: title,
            quantity,
            status: BookingStatus::Used.as_str(),
        })
    }

    /// Cancels a booking on behalf of `by` and refunds it: places back to the stock,
    /// credit back to the deposit, a `refund` line in the ledger. Exactly once.
    pub async fn cancel(
        &self,
        id: BookingId,
        by: Canceller,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let row: Option<CancelRow> = sqlx::query_as(
                "SELECT b.user_id, b.stock_id, b.quantity, b.deposit_id, b.amount_cents, b.created_at, b.status, \
                 o.offerer_id, s.beginning_at, o.id, o.subcategory, o.url FROM bookings b \
                 JOIN stocks s ON s.id = b.stock_id JOIN offers o ON o.id = b.offer_id WHERE b.id = $1",
            )
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let not_found = EngineError::NotFound { what: "booking", id: id.0 };
            let Some((user, stock, quantity, deposit, amount, created_at, status, owner, start, _offer, sub, url)) = row else {
                return Err(not_found);
            };
            match by {
                Canceller::User(u) if u != UserId(user) => return Err(not_found),
                Canceller::Partner(o) if o != OffererId(owner) => return Err(not_found),
                _ => {}
            }
            match BookingStatus::parse(&status) {
                Some(BookingStatus::Cancelled) => return Err(Refusal::AlreadyCancelled.into()),
                Some(BookingStatus::Used) => return Err(Refusal::AlreadyUsed.into()),
                _ => {}
            }
            if matches!(by, Canceller::User(_)) && !user_may_cancel(created_at, start, now) {
                return Err(Refusal::CancellationClosed.into());
            }
            let changed = sqlx::query(
                "UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancel_reason = $2 \
                 WHERE id = $3 AND status = 'confirmed'",
            )
            .bind(now)
            .bind(by.reason())
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() != 1 {
                return Err(Refusal::AlreadyCancelled.into());
            }
            sqlx::query("UPDATE stocks SET booked = booked - $1 WHERE id = $2")
                .bind(quantity)
                .bind(StockId(stock).0)
                .execute(&mut *tx)
                .await?;
            if let Some(deposit) = deposit {
                let (digital, physical) = cap_shares(&sub, url.is_some(), Cents(amount));
                sqlx::query(
                    "UPDATE deposits SET spent_cents = spent_cents - $1, digital_spent_cents = digital_spent_cents - $2, \
                     physical_spent_cents = physical_spent_cents - $3 WHERE id = $4",
                )
                .bind(amount)
                .bind(digital.0)
                .bind(physical.0)
                .bind(deposit)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO credit_ledger (deposit_id, booking_id, kind, amount_cents, at) VALUES ($1, $2, 'refund', $3, $4)",
                )
                .bind(deposit)
                .bind(id.0)
                .bind(amount)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Ok(())
        }))
    }
}

/// Confirmed bookings of goods to collect made on or before `$1`, with their delay.
/// Each lifecycle statement repeats the predicate of its partial index (migration 0031),
/// which is what lets both databases read the index instead of every booking ever made.
/// No `ORDER BY id`: SQLite would rather walk the table in id order than use the index.
const UNCOLLECTED: &str = "SELECT id, offer_id, collect, created_at FROM bookings \
     WHERE status = 'confirmed' AND collect IS NOT NULL AND created_at <= $1";

/// The events not settled yet that started on or before `$1`.
const UNSETTLED: &str =
    "SELECT id FROM stocks WHERE settled_at IS NULL AND beginning_at IS NOT NULL AND beginning_at <= $1";

/// How many events one transaction settles. Their ids are sent with the statements
/// rather than joined in a subquery: the planner cannot know that the unsettled past
/// events are few (past events are settled ones), and once it guesses a fifth of all
/// stocks, it hashes them and scans every booking.
const SETTLE_CHUNK: usize = 500;

/// What a lifecycle run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleSummary {
    /// Physical goods never collected, cancelled and refunded (reason `expired`).
    pub expired: Vec<(BookingId, OfferId)>,
    /// Event bookings marked used 48 h after the event.
    pub marked_used: u64,
}

impl Store {
    /// Cancels (reason `expired`, refunded) confirmed bookings of physical goods not
    /// collected within `paper_book_days` for paper books or `other_days` for other goods,
    /// and marks used the confirmed bookings of events that started 48 h ago or more.
    pub async fn expire_bookings(
        &self,
        now: Timestamp,
        paper_book_days: i64,
        other_days: i64,
    ) -> Result<LifecycleSummary, EngineError> {
        let oldest = now - paper_book_days.min(other_days) * 86_400;
        let mut candidates: Vec<(i64, i64, String, i64)> = on_pool!(self, p => {
            sqlx::query_as(UNCOLLECTED)
            .bind(oldest)
            .fetch_all(p)
            .await
        })?;
        candidates.sort_unstable();
        let mut summary = LifecycleSummary::default();
        for (id, offer, collect, created_at) in candidates {
            let days = if collect == Collect::PaperBook.as_str() {
                paper_book_days
            } else {
                other_days
            };
            if created_at + days * 86_400 > now {
                continue;
            }
            match self
                .cancel(BookingId(id), Canceller::System("expired"), now)
                .await
            {
                Ok(()) => summary.expired.push((BookingId(id), OfferId(offer))),
                // Collected or cancelled meanwhile: nothing to expire.
                Err(EngineError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let started_before = now - crate::booking::CANCELLATION_DELAY_S;
        let events: Vec<(i64,)> = on_pool!(self, p => {
            sqlx::query_as(UNSETTLED).bind(started_before).fetch_all(p).await
        })?;
        let _writer = self.writer().await;
        for chunk in events.chunks(SETTLE_CHUNK) {
            summary.marked_used += on_pool!(self, p => in_tx!(p, tx => {
                // No booking can be made once an event has started, so none of these
                // events' bookings can be confirmed again once marked used.
                let mut used = QueryBuilder::<Db>::new("UPDATE bookings SET status = 'used', used_at = ");
                used.push_bind(now);
                used.push(" WHERE status = 'confirmed' AND stock_id IN (");
                let mut settle = QueryBuilder::<Db>::new("UPDATE stocks SET settled_at = ");
                settle.push_bind(now);
                settle.push(" WHERE id IN (");
                let mut used_ids = used.separated(", ");
                let mut settled_ids = settle.separated(", ");
                for (id,) in chunk {
                    used_ids.push_bind(*id);
                    settled_ids.push_bind(*id);
                }
                used.push(")");
                settle.push(")");
                let n = used.build().execute(&mut *tx).await?.rows_affected();
                settle.build().execute(&mut *tx).await?;
                Ok(n)
            }))?;
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Pool;
    use crate::testing::TestStore;

    /// How the database would run `sql` (with `params` zeros bound), node by node. On
    /// PostgreSQL whole-table scans are priced out, so that an empty test table, which
    /// any plan reads at once, still shows which index the statement can use.
    async fn plan(store: &Store, sql: &str, params: usize) -> String {
        let lines: Vec<String> = match &store.pool {
            Pool::Sqlite(p) => {
                let sql = format!("EXPLAIN QUERY PLAN {sql}");
                let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
                for _ in 0..params {
                    q = q.bind(0_i64);
                }
                let rows = q.fetch_all(p).await.unwrap();
                rows.into_iter().map(|r| r.3).collect()
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await.unwrap();
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                let sql = format!("EXPLAIN {sql}");
                let mut q = sqlx::query_as::<_, (String,)>(&sql);
                for _ in 0..params {
                    q = q.bind(0_i64);
                }
                let rows = q.fetch_all(&mut *tx).await.unwrap();
                rows.into_iter().map(|r| r.0).collect()
            }
        };
        lines.join("\n")
    }

    #[tokio::test]
    async fn lifecycle_statements_read_only_what_waits_for_them() {
        for t in TestStore::each().await {
            for (sql, params, index) in [
                (UNCOLLECTED, 1, "bookings_to_collect"),
                (UNSETTLED, 1, "stocks_to_settle"),
            ] {
                let plan = plan(&t.store, sql, params).await;
                assert!(
                    plan.contains(index),
                    "{:?}: {sql}\n{plan}",
                    t.store.dialect()
                );
            }
        }
    }
}
