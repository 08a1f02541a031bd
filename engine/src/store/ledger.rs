//! The credit ledger: append-only lines whose sum per deposit is its balance, and the
//! reconciliation behind `mosaic ledger check`.

use serde::Serialize;

use super::{in_tx, on_pool, Store};
use crate::domain::Timestamp;
use crate::error::EngineError;

/// One invariant that does not hold, with how many rows break it and an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    pub check: &'static str,
    pub rows: i64,
    pub example_id: Option<i64>,
}

/// Each check selects the ids of the rows that break one invariant.
const CHECKS: [(&str, &str); 7] = [
    (
        "deposit balance equals the sum of its ledger lines",
        "SELECT d.id FROM deposits d LEFT JOIN (SELECT deposit_id, SUM(amount_cents) AS total FROM credit_ledger \
         GROUP BY deposit_id) l ON l.deposit_id = d.id \
         WHERE COALESCE(l.total, 0) <> d.amount_cents - d.spent_cents - d.closed_cents",
    ),
    (
        "deposit spending equals its live bookings",
        "SELECT d.id FROM deposits d LEFT JOIN (SELECT deposit_id, SUM(amount_cents) AS total FROM bookings \
         WHERE status <> 'cancelled' AND deposit_id IS NOT NULL GROUP BY deposit_id) b ON b.deposit_id = d.id \
         WHERE COALESCE(b.total, 0) <> d.spent_cents",
    ),
    (
        "no deposit spends more than it holds",
        "SELECT id FROM deposits WHERE spent_cents + closed_cents > amount_cents OR spent_cents < 0",
    ),
    (
        "every paid booking is debited exactly once, for its amount",
        "SELECT b.id FROM bookings b LEFT JOIN credit_ledger l ON l.booking_id = b.id AND l.kind = 'debit' \
         WHERE b.deposit_id IS NOT NULL AND (l.id IS NULL OR l.amount_cents <> -b.amount_cents)",
    ),
    (
        "cancelled paid bookings are refunded, others are not",
        "SELECT b.id FROM bookings b LEFT JOIN credit_ledger l ON l.booking_id = b.id AND l.kind = 'refund' \
         WHERE b.deposit_id IS NOT NULL AND ((b.status = 'cancelled') <> (l.id IS NOT NULL) \
         OR (l.id IS NOT NULL AND l.amount_cents <> b.amount_cents))",
    ),
    (
        "stock counters equal their live bookings",
        "SELECT s.id FROM stocks s LEFT JOIN (SELECT stock_id, SUM(quantity) AS total FROM bookings \
         WHERE status <> 'cancelled' GROUP BY stock_id) b ON b.stock_id = s.id WHERE COALESCE(b.total, 0) <> s.booked",
    ),
    (
        "no stock is oversold",
        "SELECT id FROM stocks WHERE quantity IS NOT NULL AND booked > quantity",
    ),
];

/// Closes deposits that ended by `$1` with credit left: the rest went to the successor
/// granted that day (carry), or is lost (expiry).
const CLOSE_ENDED: [&str; 2] = [
    "INSERT INTO credit_ledger (deposit_id, kind, amount_cents, at) \
     SELECT d.id, CASE WHEN EXISTS (SELECT 1 FROM deposits n WHERE n.user_id = d.user_id \
     AND n.granted_at = d.expires_at AND n.carried_in_cents > 0) THEN 'carry_out' ELSE 'expiry' END, \
     -(d.amount_cents - d.spent_cents), d.expires_at FROM deposits d \
     WHERE d.expires_at <= $1 AND d.closed_cents = 0 AND d.amount_cents - d.spent_cents > 0",
    "UPDATE deposits SET closed_cents = amount_cents - spent_cents \
     WHERE expires_at <= $1 AND closed_cents = 0 AND amount_cents - spent_cents > 0",
];

impl Store {
    /// Reconciles every wallet, stock and booking with the ledger; empty when all hold.
    pub async fn ledger_check(&self) -> Result<Vec<Mismatch>, EngineError> {
        let mut out = Vec::new();
        for (check, sql) in CHECKS {
            let count = self
                .scalar(&format!("SELECT COUNT(*) FROM ({sql}) AS bad"))
                .await?;
            if count > 0 {
                let example = self
                    .scalar(&format!("SELECT MIN(id) FROM ({sql}) AS bad"))
                    .await?;
                out.push(Mismatch {
                    check,
                    rows: count,
                    example_id: Some(example),
                });
            }
        }
        Ok(out)
    }

    /// Closes every deposit that ended by `now` with credit left, writing its ledger line
    /// (`carry_out` when a successor took the rest over, `expiry` otherwise). Returns how
    /// many deposits were closed; running it again closes nothing more.
    pub async fn close_ended_deposits(&self, now: Timestamp) -> Result<u64, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            sqlx::query(CLOSE_ENDED[0]).bind(now).execute(&mut *tx).await?;
            Ok(sqlx::query(CLOSE_ENDED[1]).bind(now).execute(&mut *tx).await?.rows_affected())
        }))
    }

    /// Writes the ledger lines missing from rows bulk-written without them (a generated
    /// history, a test fixture): grants and carried credit, debits and refunds of
    /// bookings, and the closing lines of deposits that ended before `now`. Lines already
    /// there are left alone, so running it twice changes nothing.
    pub(crate) async fn derive_ledger(&self, now: Timestamp) -> Result<(), EngineError> {
        let statements = [
            "INSERT INTO credit_ledger (deposit_id, kind, amount_cents, at) \
             SELECT d.id, 'grant', d.amount_cents - d.carried_in_cents, d.granted_at FROM deposits d \
             WHERE NOT EXISTS (SELECT 1 FROM credit_ledger l WHERE l.deposit_id = d.id AND l.kind = 'grant')",
            "INSERT INTO credit_ledger (deposit_id, kind, amount_cents, at) \
             SELECT d.id, 'carry_in', d.carried_in_cents, d.granted_at FROM deposits d WHERE d.carried_in_cents > 0 \
             AND NOT EXISTS (SELECT 1 FROM credit_ledger l WHERE l.deposit_id = d.id AND l.kind = 'carry_in')",
            "INSERT INTO credit_ledger (deposit_id, booking_id, kind, amount_cents, at) \
             SELECT b.deposit_id, b.id, 'debit', -b.amount_cents, b.created_at FROM bookings b \
             WHERE b.deposit_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM credit_ledger l WHERE l.booking_id = b.id AND l.kind = 'debit')",
            "INSERT INTO credit_ledger (deposit_id, booking_id, kind, amount_cents, at) \
             SELECT b.deposit_id, b.id, 'refund', b.amount_cents, COALESCE(b.cancelled_at, b.created_at) FROM bookings b \
             WHERE b.deposit_id IS NOT NULL AND b.status = 'cancelled' \
             AND NOT EXISTS (SELECT 1 FROM credit_ledger l WHERE l.booking_id = b.id AND l.kind = 'refund')",
        ];
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            for sql in statements.iter().chain(&CLOSE_ENDED) {
                let query = sqlx::query(sql);
                // Both drivers refuse an argument the statement has no placeholder for.
                let query = if sql.contains("$1") { query.bind(now) } else { query };
                query.execute(&mut *tx).await?;
            }
            Ok(())
        }))
    }
}
