//! Bulk writes of generated worlds: multi-row INSERTs inside one transaction per batch.

use sqlx::QueryBuilder;

use super::{in_tx, on_pool, Dialect, Store, Table};
use crate::booking::Collect;
use crate::error::EngineError;
use crate::seed::Batch;

/// Bind parameters per statement: under SQLite's limit of 32,766 and PostgreSQL's of 65,535.
const MAX_BINDS: usize = 30_000;

/// Writes `$rows` as `$head VALUES (…), (…) $tail` statements, as many rows each as the
/// bind limit allows, all in one transaction.
macro_rules! values_rows {
    ($store:expr, $rows:expr, $head:expr, $cols:expr, $tail:expr, |$b:ident, $r:ident| $push:block) => {{
        let _writer = $store.writer().await;
        on_pool!($store, p => in_tx!(p, tx => {
            for chunk in $rows.chunks(MAX_BINDS / $cols) {
                let mut qb = QueryBuilder::<Db>::new($head);
                qb.push_values(chunk, |mut $b, $r| $push);
                qb.push($tail);
                qb.build().execute(&mut *tx).await?;
            }
            Ok(())
        }))
    }};
}

/// Inserts rows: a `VALUES` statement with nothing after the list.
macro_rules! insert_rows {
    ($store:expr, $rows:expr, $head:expr, $cols:expr, |$b:ident, $r:ident| $push:block) => {
        values_rows!($store, $rows, $head, $cols, "", |$b, $r| $push)
    };
}

impl Store {
    /// Writes one batch of generated rows.
    pub async fn write_batch(&self, batch: &Batch) -> Result<(), EngineError> {
        match batch {
            Batch::Offerers(rows) => insert_rows!(self, rows, "INSERT INTO offerers (id, name) ", 2, |b, r| {
                b.push_bind(r.id.0).push_bind(&r.name);
            }),
            Batch::Venues(rows) => insert_rows!(
                self, rows,
                "INSERT INTO venues (id, offerer_id, name, venue_type, lat, lon, department, city) ", 8,
                |b, r| {
                    b.push_bind(r.id.0).push_bind(r.offerer_id.0).push_bind(&r.name).push_bind(&r.venue_type)
                        .push_bind(r.location.lat()).push_bind(r.location.lon())
                        .push_bind(&r.department).push_bind(&r.city);
                }
            ),
            Batch::Offers(rows) => insert_rows!(
                self, rows,
                "INSERT INTO offers (id, offerer_id, venue_id, title, description, subcategory, artist, url, \
                 is_duo, is_active, created_at, updated_at) ", 12,
                |b, r| {
                    b.push_bind(r.id.0).push_bind(r.offerer_id.0).push_bind(r.venue_id.map(|v| v.0))
                        .push_bind(&r.title).push_bind(&r.description).push_bind(&r.subcategory)
                        .push_bind(&r.artist).push_bind(&r.url).push_bind(r.is_duo).push_bind(r.is_active)
                        .push_bind(r.created_at).push_bind(r.created_at);
                }
            ),
            Batch::Stocks(rows) => insert_rows!(
                self, rows,
                "INSERT INTO stocks (id, offer_id, price_cents, quantity, booked, beginning_at, booking_limit_at) ", 7,
                |b, r| {
                    b.push_bind(r.id.0).push_bind(r.offer_id.0).push_bind(r.price.0).push_bind(r.quantity)
                        .push_bind(r.booked).push_bind(r.beginning_at).push_bind(r.booking_limit_at);
                }
            ),
            Batch::Users(rows) => insert_rows!(
                self, rows,
                "INSERT INTO users (id, birth_date, department, lat, lon, notifications_opt_in, created_at) ", 7,
                |b, r| {
                    b.push_bind(r.id.0).push_bind(r.birth_date.to_string()).push_bind(&r.department)
                        .push_bind(r.home.lat()).push_bind(r.home.lon()).push_bind(r.notifications_opt_in)
                        .push_bind(r.created_at);
                }
            ),
            Batch::Deposits(rows) => insert_rows!(
                self, rows,
                "INSERT INTO deposits (id, user_id, policy, age, amount_cents, spent_cents, digital_spent_cents, \
                 physical_spent_cents, digital_cap_cents, physical_cap_cents, granted_at, expires_at, \
                 carried_in_cents, closed_cents) ", 14,
                |b, r| {
                    b.push_bind(r.id.0).push_bind(r.user_id.0).push_bind(&r.policy).push_bind(r.age)
                        .push_bind(r.amount.0).push_bind(r.spent.0).push_bind(r.digital_spent.0)
                        .push_bind(r.physical_spent.0).push_bind(r.digital_cap.map(|c| c.0))
                        .push_bind(r.physical_cap.map(|c| c.0)).push_bind(r.granted_at).push_bind(r.expires_at)
                        .push_bind(r.carried_in.0).push_bind(r.closed.0);
                }
            ),
            Batch::Bookings(rows) => insert_rows!(
                self, rows,
                "INSERT INTO bookings (id, user_id, stock_id, offer_id, deposit_id, quantity, amount_cents, status, \
                 token, created_at, cancelled_at, used_at, collect) ", 13,
                |b, row| {
                    let (r, collect) = row;
                    b.push_bind(r.id.0).push_bind(r.user_id.0).push_bind(r.stock_id.0).push_bind(r.offer_id.0)
                        .push_bind(r.deposit_id.map(|d| d.0)).push_bind(r.quantity).push_bind(r.amount.0)
                        .push_bind(r.status.as_str()).push_bind(&r.token).push_bind(r.created_at)
                        .push_bind(r.cancelled_at).push_bind(r.used_at)
                        .push_bind(collect.map(Collect::as_str));
                }
            ),
            Batch::Interactions(rows) => insert_rows!(
                self, rows,
                "INSERT INTO interactions (user_id, offer_id, kind, at) ", 4,
                |b, r| {
                    b.push_bind(r.user_id.0).push_bind(r.offer_id.0).push_bind(r.kind.as_str()).push_bind(r.at);
                }
            ),
            // `UPDATE … FROM (VALUES …)`: both dialects name the columns column1, column2…
            Batch::StockBooked(rows) => values_rows!(
                self, rows,
                "UPDATE stocks SET booked = v.column2 FROM (", 2,
                ") AS v WHERE stocks.id = v.column1",
                |b, r| {
                    b.push_bind(r.0 .0).push_bind(r.1);
                }
            ),
        }
    }

    /// Whether the store holds no offers yet (a fresh database).
    pub async fn is_empty(&self) -> Result<bool, EngineError> {
        Ok(self.count(Table::Offers).await? == 0)
    }

    /// After rows were inserted with explicit ids, moves PostgreSQL's identity
    /// sequences past them so that later inserts do not collide.
    pub async fn reset_sequences(&self) -> Result<(), EngineError> {
        if self.dialect() != Dialect::Postgres {
            return Ok(());
        }
        for table in Table::ALL {
            let t = table.name();
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 0) + 1, false)"
            );
            on_pool!(self, p => sqlx::query(&sql).execute(p).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// Refreshes the planner's statistics after a bulk load. Without them PostgreSQL
    /// estimated thousands of bookings per user on the freshly seeded `bench` world and
    /// sent each feed's history lookup to parallel workers (7 ms instead of 0.4 ms, and a
    /// process per worker), and autovacuum had not caught up an hour later.
    pub async fn analyze(&self) -> Result<(), EngineError> {
        on_pool!(self, p => sqlx::query("ANALYZE").execute(p).await.map(|_| ()))?;
        Ok(())
    }
}
