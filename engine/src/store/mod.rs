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
mod changes;
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
pub use changes::{Change, ChangeKind, Event, OpenTransaction};
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

/// Runs `$body` with `$pool` bound to the store's concrete pool (or, after `in`, to the
/// concrete pool of that [`Pool`]) and the type `Db` naming its database, compiled once
/// per dialect.
macro_rules! on_pool {
    (in $which:expr, $pool:ident => $body:expr) => {
        match $which {
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
    ($store:expr, $pool:ident => $body:expr) => {
        $crate::store::on_pool!(in &$store.pool, $pool => $body)
    };
}
pub(crate) use on_pool;

/// Ids written as a list for SQL's `IN (...)`: integers only, so safe to write into the
/// statement, and one statement for a chunk where binding each would need its own
/// placeholder in both dialects.
fn sql_list(ids: impl IntoIterator<Item = i64>) -> String {
    let mut list = String::new();
    for id in ids {
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(&id.to_string());
    }
    list
}

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
    /// The pool a feed reads its user from: on PostgreSQL a small one of its own (see
    /// [`DEFAULT_PG_FEED_CONNECTIONS`]), on SQLite the same as `pool`.
    pub(crate) feed_pool: Pool,
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

/// PostgreSQL connections of the feeds' own pool unless `MOSAIC_PG_FEED_CONNECTIONS` says
/// otherwise. A feed reads its user in two short statements and holds no lock, so more
/// backends than cores only take turns on them: on the 2-core benchmark machine, with the
/// feeds' reads on 4 connections of their own instead of the store's 16, a feed cost
/// PostgreSQL 0.305–0.340 ms of CPU instead of 0.370–0.415, less in each of 20 alternated
/// rounds; since feeds take turns at the cores (`MOSAIC_CPU_CONCURRENCY`), 2 instead of 4 gave
/// a lower p99 in 17 of 20 rounds (benches/RESULTS.md). A replica whose PostgreSQL is
/// across a network, where a read waits on round trips rather than on cores, may want
/// more. Bookings keep the store's pool, which they need.
pub const DEFAULT_PG_FEED_CONNECTIONS: u32 = 2;

/// The size of a PostgreSQL pool: the environment variable `variable` when it is a
/// positive number, `default` otherwise (see [`crate::settings`]).
fn pg_connections(variable: &str, default: u32) -> u32 {
    crate::settings::number(
        variable,
        default,
        "a positive number of connections",
        |&n| n > 0,
    )
}

/// How every PostgreSQL pool of the store lends its connections, up to `max` of them.
fn pg_pool_options(max: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        // sqlx pings every connection it hands out by default: a round trip per query or
        // transaction, 2.7 % of the server's CPU under a feed load. Only a connection that
        // sat idle is pinged (and replaced if the server ended it meanwhile, e.g. by
        // restarting); under load none waits that long.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_IF_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

impl Store {
    /// Connects to `url` (`sqlite://path` or `postgres://…`), creating a SQLite file
    /// and its folder if missing, and runs the migrations. On PostgreSQL the store
    /// holds up to [`DEFAULT_PG_CONNECTIONS`] connections (or `MOSAIC_PG_CONNECTIONS`),
    /// and the feeds up to [`DEFAULT_PG_FEED_CONNECTIONS`] more of their own (or
    /// `MOSAIC_PG_FEED_CONNECTIONS`).
    pub async fn connect(url: &str) -> Result<Store, EngineError> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            Pool::Postgres(
                pg_pool_options(pg_connections(
                    "MOSAIC_PG_CONNECTIONS",
                    DEFAULT_PG_CONNECTIONS,
                ))
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
        let feed_pool = match &pool {
            Pool::Postgres(p) => Pool::Postgres(
                pg_pool_options(pg_connections(
                    "MOSAIC_PG_FEED_CONNECTIONS",
                    DEFAULT_PG_FEED_CONNECTIONS,
                ))
                .connect_with((*p.connect_options()).clone())
                .await?,
            ),
            Pool::Sqlite(_) => pool.clone(),
        };
        let store = Store {
            pool,
            feed_pool,
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
        on_pool!(self, p => p.close().await);
        on_pool!(in &self.feed_pool, p => p.close().await)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::testing::TestStore;

    /// On PostgreSQL a feed reads its user on a pool of its own, so it answers while
    /// bookings hold every connection of the store's.
    #[tokio::test]
    async fn feeds_read_their_user_while_the_stores_pool_is_taken() {
        let Some(test) = TestStore::postgres().await else {
            return;
        };
        let store = &test.store;
        let Pool::Postgres(pool) = &store.pool else {
            panic!("a PostgreSQL store");
        };
        let mut held = Vec::new();
        for _ in 0..pool.options().get_max_connections() {
            held.push(
                pool.acquire()
                    .await
                    .expect("a connection of the store's pool"),
            );
        }
        assert!(pool.try_acquire().is_none(), "the store's pool is taken");
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            store.user_context(UserId(1), 10, 0),
        )
        .await
        .expect("the feed's read did not wait for the store's pool");
        assert!(read.expect("the read").is_none(), "an empty store");
        drop(held);
    }
}
