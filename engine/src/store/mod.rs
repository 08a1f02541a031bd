//! The store: SQLite by default, PostgreSQL when the URL says so.
//!
//! Both dialects run the same SQL (placeholders are `$1`, `$2`… in both), so each
//! query is written once inside [`on_pool!`], which compiles it for the pool at hand.
//! SQLite takes one writer at a time anyway; the store serialises its write
//! transactions behind a mutex so that a transaction never has to upgrade a read lock
//! into a write lock, which SQLite answers with `SQLITE_BUSY` instead of waiting.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

use crate::error::EngineError;

mod accounts;
mod activity;
mod bookings;
mod boosts;
mod campaigns;
mod catalog;
mod deferred;
mod exports;
mod favorites;
mod grants;
mod idempotency;
mod ledger;
mod lifecycle;
mod partners;
mod tokens;
mod writer;

pub use accounts::{HistoryEntry, UserContext};
pub use activity::{Activity, Cohort};
pub use boosts::BoostFilter;
pub use campaigns::{AudienceCandidate, AudienceFilter};
pub use catalog::OfferRecord;
pub use exports::{BookingColumns, OfferColumns, UserColumns};
pub use grants::GrantSummary;
pub use idempotency::{IdempotencyKey, Outcome, Replay};
pub use ledger::Mismatch;
pub use lifecycle::{LifecycleSummary, UsedBooking};
pub use partners::{NewOffer, NewStock, OfferStats, PartnerBooking, PartnerBookingFilter};

/// Where the store lives when `DATABASE_URL` is not set.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/mosaic.db";

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool and the type `Db` naming its
/// database, compiled once per dialect.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type Db = sqlx::Sqlite;
                $body
            }
            $crate::store::Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type Db = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` (an expression of type `Result<T, EngineError>`, where `return` leaves the
/// transaction early) in a transaction on `$pool`, bound to `$tx`: committed on `Ok`,
/// rolled back on `Err` before returning. Dropping an sqlx transaction only queues its
/// rollback, and on SQLite the connection would keep the write lock after the store's
/// writer mutex is released, making the next writer fail with `SQLITE_BUSY`.
macro_rules! in_tx {
    ($pool:expr, $tx:ident => $body:expr) => {{
        let mut $tx = $pool.begin().await?;
        let result: Result<_, $crate::error::EngineError> = async { $body }.await;
        match result {
            Ok(value) => {
                $tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                $tx.rollback().await?;
                Err(e)
            }
        }
    }};
}
pub(crate) use in_tx;

/// A handle on the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    write_lock: Arc<Mutex<()>>,
}

/// PostgreSQL connections per process unless `MOSAIC_PG_CONNECTIONS` says otherwise.
/// On the 2-core benchmark machine 16 booked the most per second: 2,220/s on average
/// against 2,000/s with 8 and 1,890/s with 24, where more backends than that only
/// contend for the cores and the WAL.
pub const DEFAULT_PG_CONNECTIONS: u32 = 16;

/// A pooled PostgreSQL connection idle for this long is pinged before it is lent again:
/// the server may have ended it meanwhile. Busier ones are lent as they are.
const PING_IF_IDLE: Duration = Duration::from_secs(1);

/// The size of the PostgreSQL pool: `MOSAIC_PG_CONNECTIONS` when it is a positive
/// number, [`DEFAULT_PG_CONNECTIONS`] otherwise (with a warning when it is set to
/// anything else, so that a typo does not go unnoticed).
fn pg_connections() -> u32 {
    let Ok(value) = std::env::var("MOSAIC_PG_CONNECTIONS") else {
        return DEFAULT_PG_CONNECTIONS;
    };
    match value.trim().parse() {
        Ok(n) if n > 0 => n,
        _ => {
            tracing::warn!(
                value,
                default = DEFAULT_PG_CONNECTIONS,
                "MOSAIC_PG_CONNECTIONS is not a positive number; using the default"
            );
            DEFAULT_PG_CONNECTIONS
        }
    }
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file
    /// and its folder if missing, and runs the migrations. A PostgreSQL pool holds up
    /// to [`DEFAULT_PG_CONNECTIONS`] connections, or `MOSAIC_PG_CONNECTIONS`.
    pub async fn connect(url: &str) -> Result<Store, EngineError> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(pg_connections())
                    .acquire_timeout(Duration::from_secs(30))
                    // sqlx pings every connection it hands out by default: a round trip
                    // per query or transaction, 2.7 % of the server's CPU under a feed
                    // load. Only a connection that sat idle is pinged (and replaced if
                    // the server ended it meanwhile, e.g. by restarting); under load none
                    // waits that long.
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_IF_IDLE {
                                conn.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(options)
                    .await?,
            )
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
            let options = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                // NORMAL in WAL mode survives a process crash (kill -9); only a power
                // loss can lose the last transactions.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            // WAL is a property of the file. Setting it takes an exclusive lock that the busy
            // timeout cannot wait for, so it is set once here, never by pooled connections
            // opening while others write.
            let first = options
                .clone()
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await?;
            first.close().await?;
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    // A file cannot go away like a server: no ping at all.
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?,
            )
        } else {
            return Err(EngineError::BadInput(format!(
                "unsupported DATABASE_URL {url:?}: expected sqlite://PATH or postgres://…"
            )));
        };
        let store = Store {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        };
        store.migrate().await?;
        let restored = store.restore_deferred().await?;
        if restored > 0 {
            tracing::warn!(
                restored,
                "a seed stopped before the end: its deferred indexes and constraints were restored"
            );
        }
        Ok(store)
    }

    /// Which database this is.
    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn migrate(&self) -> Result<(), EngineError> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("../migrations/sqlite").run(p).await?,
            Pool::Postgres(p) => sqlx::migrate!("../migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Serialises writers on SQLite; PostgreSQL's row locks need no help.
    pub(crate) async fn writer(&self) -> Option<MutexGuard<'_, ()>> {
        match self.pool {
            Pool::Sqlite(_) => Some(self.write_lock.lock().await),
            Pool::Postgres(_) => None,
        }
    }

    /// Checks the store answers.
    pub async fn ping(&self) -> Result<(), EngineError> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Number of rows in one of the store's tables.
    pub async fn count(&self, table: Table) -> Result<i64, EngineError> {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        Ok(on_pool!(self, p => sqlx::query_scalar::<_, i64>(&sql).fetch_one(p).await)?)
    }

    /// Runs a read-only query returning one integer (a count, a sum): for invariant
    /// checks and reports. A NULL (the sum of nothing) reads as 0. PostgreSQL's `SUM` of
    /// integers is NUMERIC: cast it to BIGINT in `sql`.
    pub async fn scalar(&self, sql: &str) -> Result<i64, EngineError> {
        let v: Option<i64> = on_pool!(self, p => sqlx::query_scalar(sql).fetch_one(p).await)?;
        Ok(v.unwrap_or(0))
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }

    /// Whether [`Store::close`] was called: background jobs that fail afterwards are
    /// shutting down, not failing.
    pub fn is_closed(&self) -> bool {
        on_pool!(self, p => p.is_closed())
    }
}

/// The store's tables, for counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Offerers,
    Venues,
    Offers,
    Stocks,
    Users,
    Deposits,
    Bookings,
    Interactions,
}

impl Table {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Offerers => "offerers",
            Table::Venues => "venues",
            Table::Offers => "offers",
            Table::Stocks => "stocks",
            Table::Users => "users",
            Table::Deposits => "deposits",
            Table::Bookings => "bookings",
            Table::Interactions => "interactions",
        }
    }

    /// Every table, parents before children.
    pub const ALL: [Table; 8] = [
        Table::Offerers,
        Table::Venues,
        Table::Offers,
        Table::Stocks,
        Table::Users,
        Table::Deposits,
        Table::Bookings,
        Table::Interactions,
    ];
}
