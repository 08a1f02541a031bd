//! Fresh stores for the tests of Mosaic's crates: a SQLite file in a temporary folder,
//! or a PostgreSQL database created for one test and dropped after it, so runs never
//! collide. Also a small fixture builder for hand-made worlds.
//!
//! PostgreSQL is found at `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). When it cannot be reached the PostgreSQL
//! pass is skipped with a loud message, unless `MOSAIC_REQUIRE_POSTGRES=1` (set by CI),
//! which turns the skip into a failure.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use sqlx::Connection;

use crate::domain::{Coordinates, Deposit, Offer, Offerer, Stock, Timestamp, User, Venue};
use crate::ids::{DepositId, OfferId, OffererId, StockId, UserId, VenueId};
use crate::money::Cents;
use crate::seed::Batch;
use crate::store::Store;

/// The PostgreSQL server tests use when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store that cleans up after itself when dropped.
pub struct TestStore {
    pub store: Store,
    /// The URL the store was opened with (for a server started by the test).
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestStore {
    /// A store on a new SQLite file.
    pub async fn sqlite() -> TestStore {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("sqlite://{}", dir.path().join("mosaic.db").display());
        let store = Store::connect(&url).await.expect("open SQLite store");
        TestStore {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A store on a new PostgreSQL database, or `None` (said loudly) when the server is
    /// unreachable and not required.
    pub async fn postgres() -> Option<TestStore> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin_url =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.into());
        let required = std::env::var("MOSAIC_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) if required => {
                panic!("PostgreSQL at {admin_url} is required (MOSAIC_REQUIRE_POSTGRES=1): {e}")
            }
            Err(e) => {
                eprintln!(
                    "\n!!! SKIPPING the PostgreSQL pass: {admin_url} unreachable ({e}) !!!\n"
                );
                return None;
            }
        };
        let name = format!(
            "mosaic_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_micros() % 1_000_000_000
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        // Swap the database name, keeping any query (e.g. `?host=/var/run/postgresql`).
        let (base, query) = admin_url
            .split_once('?')
            .map_or((admin_url.as_str(), ""), |(b, q)| (b, q));
        let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
        let url = if query.is_empty() {
            format!("{base}/{name}")
        } else {
            format!("{base}/{name}?{query}")
        };
        let store = Store::connect(&url).await.expect("open PostgreSQL store");
        Some(TestStore {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// One store per dialect that can be reached: SQLite always, PostgreSQL when up.
    pub async fn each() -> Vec<TestStore> {
        let mut stores = vec![TestStore::sqlite().await];
        stores.extend(TestStore::postgres().await);
        stores
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on: use a thread
            // with its own. FORCE ends the connections the store still holds.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

/// Builds a small world by hand, with ids from `first_id` up so it can sit beside a
/// generated one.
pub struct Fixture {
    next: i64,
    offerer: OffererId,
    venue: VenueId,
    batches: Vec<Batch>,
}

/// How to make a fixture offer.
#[derive(Debug, Clone)]
pub struct OfferSpec {
    pub subcategory: &'static str,
    pub price: Cents,
    pub quantity: Option<i64>,
    pub is_duo: bool,
    /// Event start; `None` for things.
    pub beginning_at: Option<Timestamp>,
    pub booking_limit_at: Option<Timestamp>,
    /// Digital offers have a URL and no venue.
    pub digital: bool,
}

impl Default for OfferSpec {
    fn default() -> Self {
        OfferSpec {
            subcategory: "LIVRE_PAPIER",
            price: Cents(1000),
            quantity: Some(10),
            is_duo: false,
            beginning_at: None,
            booking_limit_at: None,
            digital: false,
        }
    }
}

/// How to make a fixture user with [`Fixture::user_with`].
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub birth: NaiveDate,
    pub home: Coordinates,
    pub department: &'static str,
    pub opt_in: bool,
    pub credit: Option<Cents>,
    /// The deposit's cap on digital offers.
    pub digital_cap: Option<Cents>,
}

impl Default for UserSpec {
    /// A 17-year-old (born 2009-06-01) in Paris, opted in to notifications, with 150 €.
    fn default() -> Self {
        UserSpec {
            birth: NaiveDate::from_ymd_opt(2009, 6, 1).expect("date"),
            home: Coordinates::new(48.86, 2.35).expect("Paris"),
            department: "75",
            opt_in: true,
            credit: Some(Cents(15_000)),
            digital_cap: None,
        }
    }
}

impl Fixture {
    /// A fixture with one offerer and one venue in Paris.
    pub fn new(first_id: i64) -> Fixture {
        let offerer = OffererId(first_id);
        let venue = VenueId(first_id);
        let mut f = Fixture {
            next: first_id + 1,
            offerer,
            venue,
            batches: Vec::new(),
        };
        f.batches.push(Batch::Offerers(vec![Offerer {
            id: offerer,
            name: "Fixture".into(),
        }]));
        f.batches.push(Batch::Venues(vec![Venue {
            id: venue,
            offerer_id: offerer,
            name: "Librairie du Test".into(),
            venue_type: "BOOKSTORE".into(),
            location: Coordinates::new(48.8566, 2.3522).expect("Paris"),
            department: "75".into(),
            city: "Paris".into(),
        }]));
        f
    }

    fn id(&mut self) -> i64 {
        self.next += 1;
        self.next
    }

    /// Adds an offer with one stock; returns both ids.
    pub fn offer(&mut self, spec: OfferSpec) -> (OfferId, StockId) {
        let (offer_id, stock_id) = (OfferId(self.id()), StockId(self.id()));
        self.batches.push(Batch::Offers(vec![Offer {
            id: offer_id,
            offerer_id: self.offerer,
            venue_id: (!spec.digital).then_some(self.venue),
            title: format!("Offre de test {}", offer_id.0),
            description: "Une offre créée pour un test.".into(),
            subcategory: spec.subcategory.into(),
            artist: None,
            url: spec.digital.then(|| "https://example.org/offre".into()),
            is_duo: spec.is_duo,
            is_active: true,
            created_at: 0,
        }]));
        self.batches.push(Batch::Stocks(vec![Stock {
            id: stock_id,
            offer_id,
            price: spec.price,
            quantity: spec.quantity,
            booked: 0,
            beginning_at: spec.beginning_at,
            booking_limit_at: spec.booking_limit_at,
        }]));
        (offer_id, stock_id)
    }

    /// Adds a user in Paris born on `birth`, with no deposit yet.
    pub fn user_born(&mut self, birth: NaiveDate) -> UserId {
        self.user_with(UserSpec {
            birth,
            credit: None,
            ..UserSpec::default()
        })
    }

    /// Adds a user as `spec` says, with a deposit of `spec.credit` (none when `None`)
    /// valid for a year around now.
    pub fn user_with(&mut self, spec: UserSpec) -> UserId {
        let user = UserId(self.id());
        self.batches.push(Batch::Users(vec![User {
            id: user,
            birth_date: spec.birth,
            department: spec.department.into(),
            home: spec.home,
            notifications_opt_in: spec.opt_in,
            created_at: 0,
        }]));
        if let Some(amount) = spec.credit {
            let id = DepositId(self.id());
            let now = crate::now();
            self.batches.push(Batch::Deposits(vec![Deposit {
                id,
                user_id: user,
                policy: "2025".into(),
                age: 17,
                amount,
                carried_in: Cents::ZERO,
                closed: Cents::ZERO,
                spent: Cents::ZERO,
                digital_spent: Cents::ZERO,
                physical_spent: Cents::ZERO,
                digital_cap: spec.digital_cap,
                physical_cap: None,
                granted_at: now - 180 * 86_400,
                expires_at: now + 180 * 86_400,
            }]));
        }
        user
    }

    /// Adds a 17-year-old in Paris with a deposit of `credit` (none when `None`) valid
    /// for a year around now, capped at `digital_cap` on digital offers.
    pub fn user(&mut self, credit: Option<Cents>, digital_cap: Option<Cents>) -> UserId {
        self.user_with(UserSpec {
            credit,
            digital_cap,
            ..UserSpec::default()
        })
    }

    /// Writes everything to `store`.
    pub async fn write(self, store: &Store) {
        for batch in &self.batches {
            store.write_batch(batch).await.expect("write fixture");
        }
        store
            .derive_ledger(crate::now())
            .await
            .expect("fixture ledger");
        store.reset_sequences().await.expect("reset sequences");
    }
}

/// Books one place of `stock` for `user` at `at`, without an idempotency key; panics on
/// refusal, since tests that call it mean the booking to go through.
pub async fn book_one(
    store: &Store,
    user: UserId,
    stock: StockId,
    at: Timestamp,
) -> crate::domain::Booking {
    let req = crate::booking::BookingRequest {
        user_id: user,
        stock_id: stock,
        quantity: 1,
        now: at,
    };
    store.book(&req, None).await.unwrap()
}
