//! Reading offers with their venue, stocks and booking counts: what the index and
//! the offer page need.

use std::collections::{BTreeSet, HashMap};

use futures::TryStreamExt;

use super::partners::{VenueRow, VENUE_SELECT};
use super::{on_pool, sql_list, Store};
use crate::domain::{Offer, Stock, Venue};
use crate::error::EngineError;
use crate::ids::{OfferId, OffererId, StockId, VenueId};
use crate::money::Cents;

/// An offer with everything needed to index or show it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferRecord {
    pub offer: Offer,
    pub venue: Option<Venue>,
    /// Stocks that are not deleted, by id.
    pub stocks: Vec<Stock>,
    /// Bookings that are not cancelled: the popularity signal.
    pub bookings: i64,
}

#[derive(sqlx::FromRow)]
struct OfferRow {
    id: i64,
    offerer_id: i64,
    venue_id: Option<i64>,
    title: String,
    description: String,
    subcategory: String,
    artist: Option<String>,
    url: Option<String>,
    is_duo: bool,
    is_active: bool,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StockRow {
    id: i64,
    offer_id: i64,
    price_cents: i64,
    quantity: Option<i64>,
    booked: i64,
    beginning_at: Option<i64>,
    booking_limit_at: Option<i64>,
}

const OFFER_SELECT: &str = "SELECT id, offerer_id, venue_id, title, description, subcategory, \
     artist, url, is_duo, is_active, created_at FROM offers";

const STOCK_SELECT: &str =
    "SELECT id, offer_id, price_cents, quantity, booked, beginning_at, booking_limit_at \
     FROM stocks WHERE NOT is_deleted";

impl From<OfferRow> for Offer {
    fn from(r: OfferRow) -> Offer {
        Offer {
            id: OfferId(r.id),
            offerer_id: OffererId(r.offerer_id),
            venue_id: r.venue_id.map(VenueId),
            title: r.title,
            description: r.description,
            subcategory: r.subcategory,
            artist: r.artist,
            url: r.url,
            is_duo: r.is_duo,
            is_active: r.is_active,
            created_at: r.created_at,
        }
    }
}

/// Venues by id.
fn by_id(rows: Vec<VenueRow>) -> Result<HashMap<i64, Venue>, EngineError> {
    rows.into_iter()
        .map(|r| Ok((r.id, Venue::try_from(r)?)))
        .collect()
}

impl From<StockRow> for Stock {
    fn from(r: StockRow) -> Stock {
        Stock {
            id: StockId(r.id),
            offer_id: OfferId(r.offer_id),
            price: Cents(r.price_cents),
            quantity: r.quantity,
            booked: r.booked,
            beginning_at: r.beginning_at,
            booking_limit_at: r.booking_limit_at,
        }
    }
}

/// Which offers [`Store::records`] reads.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Every active offer.
    Active,
    /// One offer, by a bound id: the offer page's statements are prepared once per
    /// connection, where a list of ids is parsed and planned anew each time. On the bench
    /// world PostgreSQL's CPU per page fell from 1.28 to 0.44 ms, and at 16 connections
    /// the pages served went from 833–1,179/s to 2,040–2,946/s (`benches/ab.sh --family
    /// offer`).
    One(i64),
    /// The offers with these ids, a list of integers written for SQL's `IN`.
    Ids(&'a str),
}

impl Store {
    /// Every active offer with its venue, stocks and booking count, streamed from four
    /// queries rather than one per offer so a million offers load in seconds.
    pub async fn offer_records(&self) -> Result<Vec<OfferRecord>, EngineError> {
        self.records(Scope::Active).await
    }

    /// The offers with these ids (active or not; unknown ids are left out), four queries
    /// per 500 offers: what the index refresh reads after bookings.
    pub async fn offer_records_by_id(
        &self,
        ids: &[OfferId],
    ) -> Result<Vec<OfferRecord>, EngineError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            out.extend(
                self.records(Scope::Ids(&sql_list(chunk.iter().map(|id| id.0))))
                    .await?,
            );
        }
        Ok(out)
    }

    /// One offer (active or not) with its venue, stocks and booking count.
    pub async fn offer_record(&self, id: OfferId) -> Result<Option<OfferRecord>, EngineError> {
        Ok(self.records(Scope::One(id.0)).await?.pop())
    }

    /// The offers of `scope` with their venues, stocks and counts, by id.
    async fn records(&self, scope: Scope<'_>) -> Result<Vec<OfferRecord>, EngineError> {
        let (offers_where, and_offer) = match scope {
            Scope::Active => ("WHERE is_active".to_owned(), String::new()),
            Scope::One(_) => ("WHERE id = $1".to_owned(), "AND offer_id = $1".to_owned()),
            Scope::Ids(list) => (
                format!("WHERE id IN ({list})"),
                format!("AND offer_id IN ({list})"),
            ),
        };
        let stocks_sql = format!("{STOCK_SELECT} {and_offer} ORDER BY id");
        // Read from the index `bookings_offer` alone (offer and status), not from a table
        // page per booking (migration 0033).
        let counts_sql = format!(
            "SELECT offer_id, COUNT(*) FROM bookings WHERE status <> 'cancelled' {and_offer} GROUP BY offer_id"
        );
        let offers_sql = format!("{OFFER_SELECT} {offers_where} ORDER BY id");
        // Binds the id of one offer; a statement of a list of ids is not kept prepared,
        // as it is seldom run twice.
        macro_rules! scoped {
            ($query:expr) => {
                match scope {
                    Scope::One(id) => $query.bind(id),
                    Scope::Ids(_) => $query.persistent(false),
                    Scope::Active => $query,
                }
            };
        }
        let mut out = Vec::new();
        // One connection for the reads: sqlx pings a connection each time it goes back to
        // the pool, a round trip per statement run on the pool.
        on_pool!(self, p => {
            let mut c = p.acquire().await?;
            let mut stocks: HashMap<i64, Vec<Stock>> = HashMap::new();
            let mut rows = scoped!(sqlx::query_as::<_, StockRow>(&stocks_sql)).fetch(&mut *c);
            while let Some(row) = rows.try_next().await? {
                stocks.entry(row.offer_id).or_default().push(row.into());
            }
            drop(rows);
            let counts: HashMap<i64, i64> = scoped!(sqlx::query_as::<_, (i64, i64)>(&counts_sql))
                .fetch_all(&mut *c)
                .await?
                .into_iter()
                .collect();
            let mut record = |row: OfferRow, venues: &HashMap<i64, Venue>| {
                let id = row.id;
                out.push(OfferRecord {
                    venue: row.venue_id.and_then(|v| venues.get(&v).cloned()),
                    offer: row.into(),
                    stocks: stocks.remove(&id).unwrap_or_default(),
                    bookings: counts.get(&id).copied().unwrap_or(0),
                });
            };
            // The venues are read apart: joined to a chunk of 500 offers, PostgreSQL hashed
            // all 50,000 venues of the bench world for each chunk (35 ms under EXPLAIN
            // ANALYZE, of the some 100 ms a chunk took), where looking up the chunk's
            // venues by id took 3 ms.
            match scope {
                Scope::Active => {
                    let venues = sqlx::query_as::<_, VenueRow>(VENUE_SELECT).fetch_all(&mut *c).await?;
                    let venues = by_id(venues)?;
                    let mut rows = sqlx::query_as::<_, OfferRow>(&offers_sql).fetch(&mut *c);
                    while let Some(row) = rows.try_next().await? {
                        record(row, &venues);
                    }
                }
                Scope::One(_) | Scope::Ids(_) => {
                    let rows = scoped!(sqlx::query_as::<_, OfferRow>(&offers_sql)).fetch_all(&mut *c).await?;
                    let ids: BTreeSet<i64> = rows.iter().filter_map(|r| r.venue_id).collect();
                    let venues = match (scope, ids.first()) {
                        (_, None) => Vec::new(),
                        (Scope::One(_), Some(&id)) => {
                            let sql = format!("{VENUE_SELECT} WHERE id = $1");
                            sqlx::query_as::<_, VenueRow>(&sql).bind(id).fetch_all(&mut *c).await?
                        }
                        _ => {
                            let sql = format!("{VENUE_SELECT} WHERE id IN ({})", sql_list(ids));
                            sqlx::query_as::<_, VenueRow>(&sql).persistent(false).fetch_all(&mut *c).await?
                        }
                    };
                    let venues = by_id(venues)?;
                    for row in rows {
                        record(row, &venues);
                    }
                }
            }
        });
        Ok(out)
    }

    /// One stock as it stands (deleted or not).
    pub async fn stock(&self, id: StockId) -> Result<Option<Stock>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, StockRow>(
                "SELECT id, offer_id, price_cents, quantity, booked, beginning_at, booking_limit_at FROM stocks WHERE id = $1",
            )
            .bind(id.0)
            .fetch_optional(p)
            .await
        })?;
        Ok(row.map(Stock::from))
    }
}
