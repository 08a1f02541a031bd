//! Reading offers with their venue, stocks and booking counts: what the index and
//! the offer page need.

use std::collections::HashMap;

use futures::TryStreamExt;

use super::{on_pool, Store};
use crate::domain::{Coordinates, Offer, Stock, Venue};
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
    v_name: Option<String>,
    v_type: Option<String>,
    v_lat: Option<f64>,
    v_lon: Option<f64>,
    v_department: Option<String>,
    v_city: Option<String>,
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

const OFFER_SELECT: &str = "SELECT o.id, o.offerer_id, o.venue_id, o.title, o.description, o.subcategory, \
     o.artist, o.url, o.is_duo, o.is_active, o.created_at, v.name AS v_name, v.venue_type AS v_type, \
     v.lat AS v_lat, v.lon AS v_lon, v.department AS v_department, v.city AS v_city \
     FROM offers o LEFT JOIN venues v ON v.id = o.venue_id";

const STOCK_SELECT: &str =
    "SELECT id, offer_id, price_cents, quantity, booked, beginning_at, booking_limit_at \
     FROM stocks WHERE NOT is_deleted";

impl OfferRow {
    fn into_parts(self) -> Result<(Offer, Option<Venue>), EngineError> {
        let venue = match (self.venue_id, self.v_lat, self.v_lon) {
            (Some(id), Some(lat), Some(lon)) => Some(Venue {
                id: VenueId(id),
                offerer_id: OffererId(self.offerer_id),
                name: self.v_name.unwrap_or_default(),
                venue_type: self.v_type.unwrap_or_default(),
                location: Coordinates::new(lat, lon)?,
                department: self.v_department.unwrap_or_default(),
                city: self.v_city.unwrap_or_default(),
            }),
            _ => None,
        };
        let offer = Offer {
            id: OfferId(self.id),
            offerer_id: OffererId(self.offerer_id),
            venue_id: self.venue_id.map(VenueId),
            title: self.title,
            description: self.description,
            subcategory: self.subcategory,
            artist: self.artist,
            url: self.url,
            is_duo: self.is_duo,
            is_active: self.is_active,
            created_at: self.created_at,
        };
        Ok((offer, venue))
    }
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

impl Store {
    /// Every active offer with its venue, stocks and booking count, streamed from three
    /// queries rather than one per offer so a million offers load in seconds.
    pub async fn offer_records(&self) -> Result<Vec<OfferRecord>, EngineError> {
        self.records("WHERE o.is_active", "").await
    }

    /// The offers with these ids (active or not; unknown ids are left out), three queries
    /// per 500 offers: what the index refresh reads after bookings.
    pub async fn offer_records_by_id(
        &self,
        ids: &[OfferId],
    ) -> Result<Vec<OfferRecord>, EngineError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            // Integers only, so the list is safe to write into the SQL.
            let list = chunk
                .iter()
                .map(|id| id.0.to_string())
                .collect::<Vec<_>>()
                .join(",");
            out.extend(
                self.records(
                    &format!("WHERE o.id IN ({list})"),
                    &format!("AND offer_id IN ({list})"),
                )
                .await?,
            );
        }
        Ok(out)
    }

    /// One offer (active or not) with its venue, stocks and booking count.
    pub async fn offer_record(&self, id: OfferId) -> Result<Option<OfferRecord>, EngineError> {
        Ok(self.offer_records_by_id(&[id]).await?.pop())
    }

    /// Offers matching `offers_where` (on `o`), with their stocks and counts restricted by
    /// `and_offer` (a condition on `offer_id`, or nothing).
    async fn records(
        &self,
        offers_where: &str,
        and_offer: &str,
    ) -> Result<Vec<OfferRecord>, EngineError> {
        let stocks_sql = format!("{STOCK_SELECT} {and_offer} ORDER BY id");
        let counts_sql = format!(
            "SELECT offer_id, COUNT(*) FROM bookings WHERE status <> 'cancelled' {and_offer} GROUP BY offer_id"
        );
        let offers_sql = format!("{OFFER_SELECT} {offers_where} ORDER BY o.id");
        let mut out = Vec::new();
        // One connection for the three reads: sqlx pings a connection each time it goes
        // back to the pool, a round trip per statement run on the pool.
        on_pool!(self, p => {
            let mut c = p.acquire().await?;
            let mut stocks: HashMap<i64, Vec<Stock>> = HashMap::new();
            let mut rows = sqlx::query_as::<_, StockRow>(&stocks_sql).fetch(&mut *c);
            while let Some(row) = rows.try_next().await? {
                stocks.entry(row.offer_id).or_default().push(row.into());
            }
            drop(rows);
            let counts: HashMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(&counts_sql)
                .fetch_all(&mut *c)
                .await?
                .into_iter()
                .collect();
            let mut rows = sqlx::query_as::<_, OfferRow>(&offers_sql).fetch(&mut *c);
            while let Some(row) = rows.try_next().await? {
                let id = row.id;
                let (offer, venue) = row.into_parts()?;
                out.push(OfferRecord {
                    offer,
                    venue,
                    stocks: stocks.remove(&id).unwrap_or_default(),
                    bookings: counts.get(&id).copied().unwrap_or(0),
                });
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
