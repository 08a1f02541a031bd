//! What partners read and change: their venues, offers, stock lines, bookings and view
//! counts, always scoped to their offerer. A row of another offerer reads as absent.

use super::{in_tx, on_pool, Store};
use chrono::{Months, NaiveDate};

use crate::curation::PersonaFilter;
use crate::domain::{Coordinates, Timestamp, User, Venue};
use crate::error::EngineError;
use crate::ids::{BookingId, OfferId, OffererId, StockId, UserId, VenueId};
use crate::store::OfferRecord;

/// A stock line of a new offer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStock {
    pub price_cents: i64,
    /// `None` means unlimited.
    pub quantity: Option<i64>,
    pub beginning_at: Option<Timestamp>,
    pub booking_limit_at: Option<Timestamp>,
}

/// An offer a partner creates, with its stock lines (several dates, slots or prices).
#[derive(Debug, Clone, PartialEq)]
pub struct NewOffer {
    /// `None` for a digital offer, which then needs `url`.
    pub venue_id: Option<VenueId>,
    pub title: String,
    pub description: String,
    pub subcategory: String,
    pub artist: Option<String>,
    pub url: Option<String>,
    pub is_duo: bool,
    pub stocks: Vec<NewStock>,
}

/// A booking as its venue sees it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct PartnerBooking {
    pub id: i64,
    pub token: String,
    pub status: String,
    pub user_id: i64,
    pub offer_id: i64,
    pub offer_title: String,
    pub venue_id: Option<i64>,
    pub venue_name: Option<String>,
    pub stock_id: i64,
    pub beginning_at: Option<i64>,
    pub quantity: i64,
    pub amount_cents: i64,
    pub created_at: i64,
    pub used_at: Option<i64>,
    pub cancelled_at: Option<i64>,
}

/// Which of its bookings a partner lists.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartnerBookingFilter {
    pub venue_id: Option<VenueId>,
    pub offer_id: Option<OfferId>,
    /// `confirmed`, `used` or `cancelled`.
    pub status: Option<String>,
}

/// Views, clicks, favorites and bookings of one offer.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct OfferStats {
    pub offer_id: i64,
    pub title: String,
    pub views: i64,
    pub clicks: i64,
    pub favorites: i64,
    pub bookings: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct VenueRow {
    pub(super) id: i64,
    offerer_id: i64,
    name: String,
    venue_type: String,
    lat: f64,
    lon: f64,
    department: String,
    city: String,
}

impl TryFrom<VenueRow> for Venue {
    type Error = EngineError;
    fn try_from(r: VenueRow) -> Result<Venue, EngineError> {
        Ok(Venue {
            id: VenueId(r.id),
            offerer_id: OffererId(r.offerer_id),
            name: r.name,
            venue_type: r.venue_type,
            location: Coordinates::new(r.lat, r.lon)?,
            department: r.department,
            city: r.city,
        })
    }
}

pub(super) const VENUE_SELECT: &str =
    "SELECT id, offerer_id, name, venue_type, lat, lon, department, city FROM venues";

const PARTNER_BOOKING_SELECT: &str = "SELECT b.id, b.token, b.status, b.user_id, b.offer_id, \
     o.title AS offer_title, o.venue_id, v.name AS venue_name, b.stock_id, s.beginning_at, b.quantity, \
     b.amount_cents, b.created_at, b.used_at, b.cancelled_at \
     FROM bookings b JOIN offers o ON o.id = b.offer_id JOIN stocks s ON s.id = b.stock_id \
     LEFT JOIN venues v ON v.id = o.venue_id";

impl Store {
    /// One venue.
    pub async fn venue(&self, id: VenueId) -> Result<Option<Venue>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, VenueRow>(&format!("{VENUE_SELECT} WHERE id = $1")).bind(id.0).fetch_optional(p).await
        })?;
        row.map(Venue::try_from).transpose()
    }

    /// The venues of an offerer, by id.
    pub async fn venues_of(&self, offerer: OffererId) -> Result<Vec<Venue>, EngineError> {
        let rows = on_pool!(self, p => {
            sqlx::query_as::<_, VenueRow>(&format!("{VENUE_SELECT} WHERE offerer_id = $1 ORDER BY id"))
                .bind(offerer.0)
                .fetch_all(p)
                .await
        })?;
        rows.into_iter().map(Venue::try_from).collect()
    }

    /// Active offers of a venue.
    pub async fn venue_offer_count(&self, venue: VenueId) -> Result<i64, EngineError> {
        Ok(on_pool!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM offers WHERE venue_id = $1 AND is_active")
                .bind(venue.0)
                .fetch_one(p)
                .await
        })?)
    }

    /// Active offers of a subcategory.
    pub async fn subcategory_offer_count(&self, subcategory: &str) -> Result<i64, EngineError> {
        Ok(on_pool!(self, p => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM offers WHERE subcategory = $1 AND is_active")
                .bind(subcategory)
                .fetch_one(p)
                .await
        })?)
    }

    /// Up to `n` users matching `filter` (department, age today, a booked category given
    /// as its `taste` subcategories), spread over ages and over the id range so that a
    /// sample is not the first users created: personas for previews.
    pub async fn sample_personas(
        &self,
        filter: &PersonaFilter,
        taste: Option<&[String]>,
        today: NaiveDate,
        n: usize,
    ) -> Result<Vec<User>, EngineError> {
        // Age bounds as birth-date bounds: ISO dates compare as text in both dialects.
        let years_before = |years: i32| {
            today
                .checked_sub_months(Months::new(12 * years.max(0) as u32))
                .unwrap_or(NaiveDate::MIN)
                .format("%Y-%m-%d")
                .to_string()
        };
        let born_by = filter
            .min_age
            .map(years_before)
            .unwrap_or("9999-12-31".into());
        let born_after = filter
            .max_age
            .map(|a| years_before(a + 1))
            .unwrap_or("0000-01-01".into());
        let taste = taste.unwrap_or_default();
        let taste_cond = if filter.taste.is_some() {
            // An unknown category has no subcategory: no one matches rather than everyone.
            let marks = (0..taste.len())
                .map(|i| format!("${}", i + 4))
                .collect::<Vec<_>>();
            format!(
                "AND EXISTS (SELECT 1 FROM bookings b JOIN offers o ON o.id = b.offer_id \
                 WHERE b.user_id = users.id AND b.status <> 'cancelled' AND o.subcategory IN ({}))",
                if marks.is_empty() {
                    "NULL".into()
                } else {
                    marks.join(", ")
                }
            )
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT id, birth_date FROM users WHERE ($1 = '' OR department = $1) \
             AND birth_date <= $2 AND birth_date > $3 {taste_cond} ORDER BY id LIMIT 5000"
        );
        let ids: Vec<(i64, String)> = on_pool!(self, p => {
            let mut q = sqlx::query_as(&sql)
                .bind(filter.department.as_deref().unwrap_or(""))
                .bind(&born_by)
                .bind(&born_after);
            for s in taste {
                q = q.bind(s);
            }
            q.fetch_all(p).await
        })?;
        // Bucket by birth year, then take from each bucket in turn at even strides.
        let mut buckets: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for (id, birth) in ids {
            buckets
                .entry(birth.chars().take(4).collect())
                .or_default()
                .push(id);
        }
        let mut picked = Vec::new();
        let mut round = 0;
        while picked.len() < n && buckets.values().any(|b| b.len() > round) {
            for b in buckets.values() {
                if picked.len() < n && b.len() > round {
                    let stride = (b.len() / n.max(1)).max(1);
                    picked.push(b[(round * stride) % b.len()]);
                }
            }
            round += 1;
        }
        picked.sort_unstable();
        picked.dedup();
        let mut users = Vec::with_capacity(picked.len());
        for id in picked {
            users.extend(self.user(UserId(id)).await?);
        }
        Ok(users)
    }

    /// The offerer's offers (active or not), newest first, a page at a time.
    pub async fn partner_offers(
        &self,
        offerer: OffererId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<OfferRecord>, EngineError> {
        let ids: Vec<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT id FROM offers WHERE offerer_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3")
                .bind(offerer.0)
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await
        })?;
        let ids: Vec<OfferId> = ids.into_iter().map(OfferId).collect();
        let mut records = self.offer_records_by_id(&ids).await?;
        records.sort_by_key(|r| std::cmp::Reverse(r.offer.id));
        Ok(records)
    }

    /// One offer of the offerer, or `None` (also when it belongs to another offerer).
    pub async fn partner_offer(
        &self,
        offerer: OffererId,
        id: OfferId,
    ) -> Result<Option<OfferRecord>, EngineError> {
        Ok(self
            .offer_record(id)
            .await?
            .filter(|r| r.offer.offerer_id == offerer))
    }

    /// Creates an offer with its stock lines in one transaction; the index picks it up at
    /// its next refresh (its `updated_at` is `now`).
    pub async fn create_offer(
        &self,
        offerer: OffererId,
        offer: &NewOffer,
        now: Timestamp,
    ) -> Result<OfferId, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO offers (offerer_id, venue_id, title, description, subcategory, artist, url, \
                 is_duo, is_active, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRUE, $9, $9) RETURNING id",
            )
            .bind(offerer.0)
            .bind(offer.venue_id.map(|v| v.0))
            .bind(&offer.title)
            .bind(&offer.description)
            .bind(&offer.subcategory)
            .bind(&offer.artist)
            .bind(&offer.url)
            .bind(offer.is_duo)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for s in &offer.stocks {
                sqlx::query(
                    "INSERT INTO stocks (offer_id, price_cents, quantity, beginning_at, booking_limit_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(s.price_cents)
                .bind(s.quantity)
                .bind(s.beginning_at)
                .bind(s.booking_limit_at)
                .execute(&mut *tx)
                .await?;
            }
            Ok(OfferId(id))
        }))
    }

    /// Sets how many places a stock line has; refused below the places already booked.
    /// Returns the offer of the stock.
    pub async fn set_stock_quantity(
        &self,
        offerer: OffererId,
        stock: StockId,
        quantity: Option<i64>,
        now: Timestamp,
    ) -> Result<OfferId, EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => in_tx!(p, tx => {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "SELECT s.offer_id, s.booked FROM stocks s JOIN offers o ON o.id = s.offer_id \
                 WHERE s.id = $1 AND o.offerer_id = $2 AND NOT s.is_deleted",
            )
            .bind(stock.0)
            .bind(offerer.0)
            .fetch_optional(&mut *tx)
            .await?;
            let (offer, booked) = row.ok_or(EngineError::NotFound { what: "stock", id: stock.0 })?;
            if quantity.is_some_and(|q| q < booked) {
                return Err(EngineError::Conflict(
                    "quantity_below_booked",
                    format!("{booked} places are already booked on stock {}", stock.0),
                ));
            }
            sqlx::query("UPDATE stocks SET quantity = $2 WHERE id = $1")
                .bind(stock.0)
                .bind(quantity)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE offers SET updated_at = $2 WHERE id = $1")
                .bind(offer)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            Ok(OfferId(offer))
        }))
    }

    /// The offerer's bookings matching `filter`, newest first, a page at a time.
    pub async fn partner_bookings(
        &self,
        offerer: OffererId,
        filter: &PartnerBookingFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PartnerBooking>, EngineError> {
        let sql = format!(
            "{PARTNER_BOOKING_SELECT} WHERE o.offerer_id = $1 AND ($2 = 0 OR o.venue_id = $2) \
             AND ($3 = 0 OR b.offer_id = $3) AND ($4 = '' OR b.status = $4) \
             ORDER BY b.id DESC LIMIT $5 OFFSET $6"
        );
        Ok(on_pool!(self, p => {
            sqlx::query_as::<_, PartnerBooking>(&sql)
                .bind(offerer.0)
                .bind(filter.venue_id.map_or(0, |v| v.0))
                .bind(filter.offer_id.map_or(0, |o| o.0))
                .bind(filter.status.as_deref().unwrap_or(""))
                .bind(limit)
                .bind(offset)
                .fetch_all(p)
                .await
        })?)
    }

    /// One booking of the offerer's offers, or `None`.
    pub async fn partner_booking(
        &self,
        offerer: OffererId,
        id: BookingId,
    ) -> Result<Option<PartnerBooking>, EngineError> {
        let sql = format!("{PARTNER_BOOKING_SELECT} WHERE o.offerer_id = $1 AND b.id = $2");
        Ok(on_pool!(self, p => {
            sqlx::query_as::<_, PartnerBooking>(&sql).bind(offerer.0).bind(id.0).fetch_optional(p).await
        })?)
    }

    /// Views, clicks, favorites and bookings per offer of the offerer, most viewed first.
    pub async fn offer_stats(
        &self,
        offerer: OffererId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<OfferStats>, EngineError> {
        Ok(on_pool!(self, p => {
            sqlx::query_as::<_, OfferStats>(
                "SELECT o.id AS offer_id, o.title, \
                 (SELECT COUNT(*) FROM interactions i WHERE i.offer_id = o.id AND i.kind = 'view') AS views, \
                 (SELECT COUNT(*) FROM interactions i WHERE i.offer_id = o.id AND i.kind = 'click') AS clicks, \
                 (SELECT COUNT(*) FROM interactions i WHERE i.offer_id = o.id AND i.kind = 'favorite') AS favorites, \
                 (SELECT COUNT(*) FROM bookings b WHERE b.offer_id = o.id AND b.status <> 'cancelled') AS bookings \
                 FROM offers o WHERE o.offerer_id = $1 ORDER BY views DESC, o.id LIMIT $2 OFFSET $3",
            )
            .bind(offerer.0)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await
        })?)
    }
}
