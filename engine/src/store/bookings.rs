//! The booking transaction: one transaction, guarded writes, nothing half-written.
//!
//! The stock row is locked first and the deposit second, always in that order, so
//! concurrent bookings on PostgreSQL queue instead of deadlocking. Each guard
//! ("still enough left") is checked under the row lock, so two requests racing for
//! the last place cannot both win: on PostgreSQL by `SELECT … FOR UPDATE` inside the
//! single statement that writes, on SQLite by `UPDATE … WHERE` with writers serialised.

use std::sync::LazyLock;

use super::accounts::{DepositRow, DEPOSIT_SELECT};
use super::idempotency::{encoded, IdempotencyKey, Outcome, Replay, INSERT_KEY, SELECT_KEY};
use super::{in_tx, on_pool, Pool, Store};
use crate::booking::{cap_shares, check_stock, token_for, BookingRequest, Collect, Refusal};
use crate::domain::{Booking, BookingStatus, Deposit, Stock};
use crate::error::EngineError;
use crate::ids::{BookingId, DepositId, OfferId};
use crate::money::Cents;
use sqlx::{PgPool, SqlitePool};

/// What the booking rules read, in one statement.
#[derive(sqlx::FromRow)]
struct BookingContext {
    offer_id: i64,
    price_cents: i64,
    quantity: Option<i64>,
    booked: i64,
    beginning_at: Option<i64>,
    booking_limit_at: Option<i64>,
    is_deleted: bool,
    is_duo: bool,
    is_active: bool,
    subcategory: String,
    url: Option<String>,
    user_id: Option<i64>,
    existing: Option<i64>,
    deposit_id: Option<i64>,
    next_id: i64,
}

/// `$1` stock, `$2` user, `$3` now; `{next_id}` is the dialect's way to reserve an id.
const CONTEXT: &str = "SELECT s.offer_id, s.price_cents, s.quantity, s.booked, s.beginning_at, \
     s.booking_limit_at, s.is_deleted, o.is_duo, o.is_active, o.subcategory, o.url, \
     (SELECT u.id FROM users u WHERE u.id = $2) AS user_id, \
     (SELECT b.id FROM bookings b WHERE b.user_id = $2 AND b.offer_id = s.offer_id AND b.status <> 'cancelled' \
      LIMIT 1) AS existing, \
     (SELECT d.id FROM deposits d WHERE d.user_id = $2 AND d.granted_at <= $3 AND d.expires_at > $3 \
      ORDER BY d.granted_at DESC, d.id DESC LIMIT 1) AS deposit_id, \
     {next_id} AS next_id \
     FROM stocks s JOIN offers o ON o.id = s.offer_id WHERE s.id = $1";

static CONTEXT_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    CONTEXT.replace(
        "{next_id}",
        "nextval(pg_get_serial_sequence('bookings', 'id'))",
    )
});
// Safe: SQLite writers are serialised by `writer()` and the database lock.
static CONTEXT_SQLITE: LazyLock<String> = LazyLock::new(|| {
    CONTEXT.replace(
        "{next_id}",
        "(SELECT COALESCE(MAX(id), 0) + 1 FROM bookings)",
    )
});

/// Takes `$1` places of stock `$2` if that many are left.
const TAKE_PLACES: &str =
    "UPDATE stocks SET booked = booked + $1 WHERE id = $2 AND (quantity IS NULL OR booked + $1 <= quantity)";

/// Debits `$1` cents (`$2` of them digital, `$3` physical) from deposit `$4` if its
/// balance and caps allow it.
const DEBIT_DEPOSIT: &str = "UPDATE deposits SET spent_cents = spent_cents + $1, \
     digital_spent_cents = digital_spent_cents + $2, physical_spent_cents = physical_spent_cents + $3 \
     WHERE id = $4 AND amount_cents - spent_cents - closed_cents >= $1 \
     AND (digital_cap_cents IS NULL OR digital_spent_cents + $2 <= digital_cap_cents) \
     AND (physical_cap_cents IS NULL OR physical_spent_cents + $3 <= physical_cap_cents)";

const INSERT_BOOKING: &str = "INSERT INTO bookings (id, user_id, stock_id, offer_id, deposit_id, \
     quantity, amount_cents, status, token, created_at, collect) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'confirmed', $8, $9, $10)";

const INSERT_DEBIT: &str =
    "INSERT INTO credit_ledger (deposit_id, booking_id, kind, amount_cents, at) \
     VALUES ($1, $2, 'debit', $3, $4)";

/// A booking on PostgreSQL as one statement, and so one transaction without a BEGIN or
/// a COMMIT to wait for. The stock row, then the deposit row, are locked and their
/// guards checked (`FOR UPDATE` re-checks them on the newest version of a row another
/// booking just changed); only when both hold is anything written: the places, the
/// debit, the booking, its ledger line and, with `$12`, the idempotency key. So either
/// all of it is written or none of it; a unique violation undoes the whole statement.
/// Answers whether it booked and whether the stock had the places.
/// `$1` quantity, `$2` stock, `$3` amount, `$4` digital share, `$5` physical share,
/// `$6` deposit, `$7` booking id, `$8` user, `$9` offer, `$10` token, `$11` now,
/// `$12` key scope, `$13` key, `$14` request hash, `$15` status, `$16` body, `$17` the good
/// to collect.
const BOOK_POSTGRES: &str = "WITH s0 AS (\
       SELECT id FROM stocks WHERE id = $2 AND (quantity IS NULL OR booked + $1 <= quantity) FOR UPDATE), \
     d0 AS (\
       SELECT id FROM deposits WHERE id = $6 AND EXISTS (SELECT 1 FROM s0) \
       AND amount_cents - spent_cents - closed_cents >= $3 \
       AND (digital_cap_cents IS NULL OR digital_spent_cents + $4 <= digital_cap_cents) \
       AND (physical_cap_cents IS NULL OR physical_spent_cents + $5 <= physical_cap_cents) FOR UPDATE), \
     ok AS (SELECT 1 FROM s0 WHERE $6::BIGINT IS NULL OR EXISTS (SELECT 1 FROM d0)), \
     s AS (UPDATE stocks SET booked = booked + $1 WHERE id = $2 AND EXISTS (SELECT 1 FROM ok)), \
     d AS (\
       UPDATE deposits SET spent_cents = spent_cents + $3, \
       digital_spent_cents = digital_spent_cents + $4, physical_spent_cents = physical_spent_cents + $5 \
       WHERE id = $6 AND EXISTS (SELECT 1 FROM ok)), \
     b AS (\
       INSERT INTO bookings (id, user_id, stock_id, offer_id, deposit_id, quantity, amount_cents, status, token, \
       created_at, collect) \
       SELECT $7, $8, $2, $9, $6, $1, $3, 'confirmed', $10, $11, $17 WHERE EXISTS (SELECT 1 FROM ok)), \
     l AS (\
       INSERT INTO credit_ledger (deposit_id, booking_id, kind, amount_cents, at) \
       SELECT $6, $7, 'debit', -$3, $11 WHERE $6::BIGINT IS NOT NULL AND EXISTS (SELECT 1 FROM ok)), \
     k AS (\
       INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) \
       SELECT $12, $13, $14, $15, $16, $11 WHERE $12::TEXT IS NOT NULL AND EXISTS (SELECT 1 FROM ok)) \
     SELECT EXISTS (SELECT 1 FROM ok), EXISTS (SELECT 1 FROM s0)";

/// Which guarded writes of a SQLite booking went through.
#[derive(Debug, Default)]
struct Written {
    taken: bool,
    debited: bool,
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Why a guarded deposit update matched no row, read back from the deposit.
fn credit_refusal(d: &Deposit, amount: Cents, digital: Cents, physical: Cents) -> Refusal {
    let over =
        |spent: Cents, add: Cents, cap: Option<Cents>| cap.is_some_and(|c| spent.0 + add.0 > c.0);
    if d.remaining().0 < amount.0 {
        Refusal::InsufficientCredit
    } else if over(d.digital_spent, digital, d.digital_cap)
        || over(d.physical_spent, physical, d.physical_cap)
    {
        Refusal::CapExceeded
    } else {
        // The guard and the read disagree only if the deposit changed in between: the
        // caller saw a stale balance, which is what "insufficient" means to it.
        Refusal::InsufficientCredit
    }
}

impl Store {
    /// Books a stock for a user, debiting the stock and the user's deposit in one
    /// transaction. Refusals come back as [`EngineError::Refused`]. With a key, a retry
    /// gets the first outcome back (the same booking, or the same refusal) and books
    /// nothing more; the same key with another request is [`EngineError::IdempotencyConflict`].
    pub async fn book(
        &self,
        req: &BookingRequest,
        key: Option<&IdempotencyKey>,
    ) -> Result<Booking, EngineError> {
        let first = self.book_once(req, key).await;
        let (Some(key), Err(EngineError::Refused(refusal))) = (key, &first) else {
            return first;
        };
        // A refusal, or a key already taken: whatever was recorded first is the answer.
        self.record_refusal(key, refusal.code(), req.now).await?;
        match self.idempotency_replay(key).await? {
            Some(Replay::Same(Outcome::Booked(id))) => {
                self.booking(BookingId(id))
                    .await?
                    .ok_or(EngineError::NotFound {
                        what: "booking",
                        id,
                    })
            }
            Some(Replay::Same(Outcome::Refused(code))) => {
                Err(Refusal::from_code(&code).unwrap_or(*refusal).into())
            }
            Some(Replay::Conflict) => Err(EngineError::IdempotencyConflict),
            None => first,
        }
    }

    async fn book_once(
        &self,
        req: &BookingRequest,
        key: Option<&IdempotencyKey>,
    ) -> Result<Booking, EngineError> {
        match &self.pool {
            Pool::Postgres(p) => book_postgres(p, req, key).await,
            Pool::Sqlite(p) => {
                let _writer = self.writer().await;
                book_sqlite(p, req, key).await
            }
        }
    }
}

/// A booking the rules accept, before its guarded writes.
struct Planned {
    booking: Booking,
    digital: Cents,
    physical: Cents,
    collect: Option<Collect>,
}

/// Applies the booking rules to what the context statement read.
fn plan(req: &BookingRequest, ctx: Option<BookingContext>) -> Result<Planned, EngineError> {
    let Some(ctx) = ctx else {
        return Err(EngineError::NotFound {
            what: "stock",
            id: req.stock_id.0,
        });
    };
    if ctx.user_id.is_none() {
        return Err(EngineError::NotFound {
            what: "user",
            id: req.user_id.0,
        });
    }
    let stock = Stock {
        id: req.stock_id,
        offer_id: OfferId(ctx.offer_id),
        price: Cents(ctx.price_cents),
        quantity: ctx.quantity,
        booked: ctx.booked,
        beginning_at: ctx.beginning_at,
        booking_limit_at: ctx.booking_limit_at,
    };
    // A user's own earlier booking is the most precise reason to refuse, so it comes
    // before the stock's state (which that booking may have sold out).
    if ctx.existing.is_some() {
        return Err(Refusal::DuplicateBooking.into());
    }
    check_stock(req, &stock, ctx.is_duo, ctx.is_active && !ctx.is_deleted)?;
    let amount = stock.price.times(req.quantity);
    let (digital, physical) = cap_shares(&ctx.subcategory, ctx.url.is_some(), amount);
    if amount.0 > 0 && ctx.deposit_id.is_none() {
        return Err(Refusal::InsufficientCredit.into());
    }
    let deposit_id = ctx.deposit_id.filter(|_| amount.0 > 0).map(DepositId);
    let id = BookingId(ctx.next_id);
    Ok(Planned {
        booking: Booking {
            id,
            user_id: req.user_id,
            stock_id: req.stock_id,
            offer_id: OfferId(ctx.offer_id),
            deposit_id,
            quantity: req.quantity,
            amount,
            status: BookingStatus::Confirmed,
            token: token_for(id),
            created_at: req.now,
            cancelled_at: None,
            used_at: None,
        },
        digital,
        physical,
        collect: Collect::of(&ctx.subcategory, ctx.beginning_at),
    })
}

impl Planned {
    /// The deposit this booking debits (0, which matches nothing, when it debits none).
    fn deposit(&self) -> i64 {
        self.booking.deposit_id.map_or(0, |d| d.0)
    }

    /// Why the deposit's guard refused this booking, from the deposit read back after.
    fn credit_refusal(&self, row: DepositRow) -> EngineError {
        let b = &self.booking;
        credit_refusal(&Deposit::from(row), b.amount, self.digital, self.physical).into()
    }
}

static DEPOSIT_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{DEPOSIT_SELECT} WHERE id = $1"));

/// PostgreSQL: the context is read outside any transaction (the statement that writes
/// re-checks under row locks all that can change), then [`BOOK_POSTGRES`] writes all
/// or nothing. Two round trips, where a transaction around them would take four.
///
/// Both go through one connection held for the booking: sqlx pings a connection each
/// time it goes back to the pool, so a statement run on the pool costs two round trips.
async fn book_postgres(
    p: &PgPool,
    req: &BookingRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Booking, EngineError> {
    let mut c = p.acquire().await?;
    if let Some(key) = key {
        let seen: Option<(String, i32, String)> = sqlx::query_as(SELECT_KEY)
            .bind(&key.scope)
            .bind(&key.key)
            .fetch_optional(&mut *c)
            .await?;
        if seen.is_some() {
            // Answered before: the caller replays what was recorded.
            return Err(Refusal::DuplicateBooking.into());
        }
    }
    let ctx: Option<BookingContext> = sqlx::query_as(&CONTEXT_POSTGRES)
        .bind(req.stock_id.0)
        .bind(req.user_id.0)
        .bind(req.now)
        .fetch_optional(&mut *c)
        .await?;
    let planned = plan(req, ctx)?;
    let b = &planned.booking;
    let recorded = key.map(|k| (k, encoded(&Outcome::Booked(b.id.0))));
    let written = sqlx::query_as::<_, (bool, bool)>(BOOK_POSTGRES)
        .bind(b.quantity)
        .bind(b.stock_id.0)
        .bind(b.amount.0)
        .bind(planned.digital.0)
        .bind(planned.physical.0)
        .bind(b.deposit_id.map(|d| d.0))
        .bind(b.id.0)
        .bind(b.user_id.0)
        .bind(b.offer_id.0)
        .bind(&b.token)
        .bind(b.created_at)
        .bind(recorded.as_ref().map(|(k, _)| &k.scope))
        .bind(recorded.as_ref().map(|(k, _)| &k.key))
        .bind(recorded.as_ref().map(|(k, _)| &k.request_hash))
        .bind(recorded.as_ref().map(|(_, (status, _))| *status))
        .bind(recorded.as_ref().map(|(_, (_, body))| body))
        .bind(planned.collect.map(Collect::as_str))
        .fetch_one(&mut *c)
        .await;
    let (booked, placed) = match written {
        // A concurrent booking of the same offer by the same user, or under the same
        // key, won the race; nothing of this one was written.
        Err(e) if is_unique_violation(&e) => return Err(Refusal::DuplicateBooking.into()),
        other => other?,
    };
    match (booked, placed) {
        (true, _) => Ok(planned.booking),
        (false, false) => Err(Refusal::SoldOut.into()),
        (false, true) => {
            let row = sqlx::query_as(&DEPOSIT_BY_ID)
                .bind(planned.deposit())
                .fetch_one(&mut *c)
                .await?;
            Err(planned.credit_refusal(row))
        }
    }
}

/// SQLite: one transaction, writers serialised by the caller; each guarded write is
/// checked before the next.
async fn book_sqlite(
    p: &SqlitePool,
    req: &BookingRequest,
    key: Option<&IdempotencyKey>,
) -> Result<Booking, EngineError> {
    in_tx!(p, tx => {
        if let Some(key) = key {
            let seen: Option<(String, i32, String)> =
                sqlx::query_as(SELECT_KEY).bind(&key.scope).bind(&key.key).fetch_optional(&mut *tx).await?;
            if seen.is_some() {
                return Err(Refusal::DuplicateBooking.into());
            }
        }
        let ctx: Option<BookingContext> = sqlx::query_as(&CONTEXT_SQLITE)
            .bind(req.stock_id.0)
            .bind(req.user_id.0)
            .bind(req.now)
            .fetch_optional(&mut *tx)
            .await?;
        let planned = plan(req, ctx)?;
        let b = &planned.booking;
        let written = async {
            let taken = sqlx::query(TAKE_PLACES)
                .bind(b.quantity)
                .bind(b.stock_id.0)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if !taken {
                return Ok(Written::default());
            }
            if let Some(deposit) = b.deposit_id {
                let debited = sqlx::query(DEBIT_DEPOSIT)
                    .bind(b.amount.0)
                    .bind(planned.digital.0)
                    .bind(planned.physical.0)
                    .bind(deposit.0)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() == 1;
                if !debited {
                    return Ok(Written { taken, debited });
                }
            }
            sqlx::query(INSERT_BOOKING)
                .bind(b.id.0)
                .bind(b.user_id.0)
                .bind(b.stock_id.0)
                .bind(b.offer_id.0)
                .bind(b.deposit_id.map(|d| d.0))
                .bind(b.quantity)
                .bind(b.amount.0)
                .bind(&b.token)
                .bind(b.created_at)
                .bind(planned.collect.map(Collect::as_str))
                .execute(&mut *tx)
                .await?;
            if let Some(deposit) = b.deposit_id {
                sqlx::query(INSERT_DEBIT)
                    .bind(deposit.0)
                    .bind(b.id.0)
                    .bind(-b.amount.0)
                    .bind(b.created_at)
                    .execute(&mut *tx)
                    .await?;
            }
            Ok::<_, sqlx::Error>(Written { taken, debited: true })
        }
        .await;
        let written = match written {
            // A concurrent booking of the same offer by the same user won the race.
            Err(e) if is_unique_violation(&e) => return Err(Refusal::DuplicateBooking.into()),
            other => other?,
        };
        if !written.taken {
            return Err(Refusal::SoldOut.into());
        }
        if !written.debited {
            let row = sqlx::query_as(&DEPOSIT_BY_ID)
                .bind(planned.deposit())
                .fetch_one(&mut *tx)
                .await?;
            return Err(planned.credit_refusal(row));
        }
        if let Some(key) = key {
            let (status, body) = encoded(&Outcome::Booked(b.id.0));
            let recorded = sqlx::query(INSERT_KEY)
                .bind(&key.scope)
                .bind(&key.key)
                .bind(&key.request_hash)
                .bind(status)
                .bind(body)
                .bind(req.now)
                .execute(&mut *tx)
                .await;
            match recorded {
                // The same key won a race on another connection: this booking rolls back.
                Err(e) if is_unique_violation(&e) => return Err(Refusal::DuplicateBooking.into()),
                other => other?,
            };
        }
        Ok(planned.booking)
    })
}

#[derive(sqlx::FromRow)]
struct BookingRow {
    id: i64,
    user_id: i64,
    stock_id: i64,
    offer_id: i64,
    deposit_id: Option<i64>,
    quantity: i64,
    amount_cents: i64,
    status: String,
    token: String,
    created_at: i64,
    cancelled_at: Option<i64>,
    used_at: Option<i64>,
}

impl TryFrom<BookingRow> for Booking {
    type Error = EngineError;
    fn try_from(r: BookingRow) -> Result<Booking, EngineError> {
        Ok(Booking {
            id: BookingId(r.id),
            user_id: crate::ids::UserId(r.user_id),
            stock_id: crate::ids::StockId(r.stock_id),
            offer_id: OfferId(r.offer_id),
            deposit_id: r.deposit_id.map(DepositId),
            quantity: r.quantity,
            amount: Cents(r.amount_cents),
            status: BookingStatus::parse(&r.status).ok_or_else(|| {
                EngineError::Data(format!("booking {}: status {:?}", r.id, r.status))
            })?,
            token: r.token,
            created_at: r.created_at,
            cancelled_at: r.cancelled_at,
            used_at: r.used_at,
        })
    }
}

impl Store {
    /// The booking with this id.
    pub async fn booking(&self, id: BookingId) -> Result<Option<Booking>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, BookingRow>(
                "SELECT id, user_id, stock_id, offer_id, deposit_id, quantity, amount_cents, status, token, \
                 created_at, cancelled_at, used_at FROM bookings WHERE id = $1",
            )
            .bind(id.0)
            .fetch_optional(p)
            .await
        })?;
        row.map(Booking::try_from).transpose()
    }
}
