//! Bulk reads for analytics: whole tables streamed into columns, one row at a time
//! from the database cursor, so ten million bookings never sit in memory twice.

use futures::TryStreamExt;

use super::{on_pool, Store};
use crate::error::EngineError;

/// Every booking with what analytics join to it, as columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BookingColumns {
    pub booking_id: Vec<i64>,
    pub user_id: Vec<i64>,
    pub offer_id: Vec<i64>,
    /// `None` for digital offers.
    pub venue_id: Vec<Option<i64>>,
    pub subcategory: Vec<String>,
    /// `confirmed`, `used` or `cancelled`.
    pub status: Vec<String>,
    pub created_at: Vec<i64>,
    pub used_at: Vec<Option<i64>>,
    /// The stock's event start; `None` for things.
    pub beginning_at: Vec<Option<i64>>,
    /// Great-circle distance from the user's home to the venue; `None` for digital offers.
    pub distance_m: Vec<Option<f64>>,
}

/// Every user, as columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserColumns {
    pub user_id: Vec<i64>,
    /// `YYYY-MM-DD`.
    pub birth_date: Vec<String>,
    pub department: Vec<String>,
}

/// Every offer with its venue and interaction counts, as columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferColumns {
    pub offer_id: Vec<i64>,
    pub offerer_id: Vec<i64>,
    pub venue_id: Vec<Option<i64>>,
    pub title: Vec<String>,
    pub subcategory: Vec<String>,
    pub is_active: Vec<bool>,
    pub views: Vec<i64>,
    pub clicks: Vec<i64>,
    pub favorites: Vec<i64>,
}

impl Store {
    /// Every booking, streamed into columns; `progress` counts rows.
    pub async fn booking_columns(
        &self,
        progress: &indicatif::ProgressBar,
    ) -> Result<BookingColumns, EngineError> {
        type Row = (
            i64,
            i64,
            i64,
            Option<i64>,
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            f64,
            f64,
            Option<f64>,
            Option<f64>,
        );
        let mut c = BookingColumns::default();
        let sql = "SELECT b.id, b.user_id, b.offer_id, o.venue_id, o.subcategory, b.status, b.created_at, \
                   b.used_at, s.beginning_at, u.lat, u.lon, v.lat, v.lon \
                   FROM bookings b JOIN offers o ON o.id = b.offer_id JOIN stocks s ON s.id = b.stock_id \
                   JOIN users u ON u.id = b.user_id LEFT JOIN venues v ON v.id = o.venue_id ORDER BY b.id";
        on_pool!(self, p => {
            let mut rows = sqlx::query_as::<_, Row>(sql).fetch(p);
            while let Some(r) = rows.try_next().await? {
                let distance = match (r.11, r.12) {
                    (Some(lat), Some(lon)) => Some(indexer::haversine_m(
                        crate::domain::Coordinates::new(r.9, r.10)?,
                        crate::domain::Coordinates::new(lat, lon)?,
                    )),
                    _ => None,
                };
                c.booking_id.push(r.0);
                c.user_id.push(r.1);
                c.offer_id.push(r.2);
                c.venue_id.push(r.3);
                c.subcategory.push(r.4);
                c.status.push(r.5);
                c.created_at.push(r.6);
                c.used_at.push(r.7);
                c.beginning_at.push(r.8);
                c.distance_m.push(distance);
                if c.booking_id.len() % 100_000 == 0 {
                    progress.inc(100_000);
                }
            }
        });
        progress.inc((c.booking_id.len() % 100_000) as u64);
        Ok(c)
    }

    /// Every user, as columns.
    pub async fn user_columns(&self) -> Result<UserColumns, EngineError> {
        let mut c = UserColumns::default();
        on_pool!(self, p => {
            let mut rows = sqlx::query_as::<_, (i64, String, String)>(
                "SELECT id, birth_date, department FROM users ORDER BY id",
            )
            .fetch(p);
            while let Some((id, birth, department)) = rows.try_next().await? {
                c.user_id.push(id);
                c.birth_date.push(birth);
                c.department.push(department);
            }
        });
        Ok(c)
    }

    /// Every offer with its views, clicks and favorites (counted by the database).
    pub async fn offer_columns(&self) -> Result<OfferColumns, EngineError> {
        type Row = (i64, i64, Option<i64>, String, String, bool, i64, i64, i64);
        let mut c = OfferColumns::default();
        on_pool!(self, p => {
            let mut rows = sqlx::query_as::<_, Row>(
                "SELECT o.id, o.offerer_id, o.venue_id, o.title, o.subcategory, o.is_active, \
                 COALESCE(i.views, 0), COALESCE(i.clicks, 0), COALESCE(i.favorites, 0) \
                 FROM offers o LEFT JOIN (SELECT offer_id, \
                   CAST(SUM(CASE WHEN kind = 'view' THEN 1 ELSE 0 END) AS BIGINT) AS views, \
                   CAST(SUM(CASE WHEN kind = 'click' THEN 1 ELSE 0 END) AS BIGINT) AS clicks, \
                   CAST(SUM(CASE WHEN kind = 'favorite' THEN 1 ELSE 0 END) AS BIGINT) AS favorites \
                   FROM interactions GROUP BY offer_id) i ON i.offer_id = o.id ORDER BY o.id",
            )
            .fetch(p);
            while let Some(r) = rows.try_next().await? {
                c.offer_id.push(r.0);
                c.offerer_id.push(r.1);
                c.venue_id.push(r.2);
                c.title.push(r.3);
                c.subcategory.push(r.4);
                c.is_active.push(r.5);
                c.views.push(r.6);
                c.clicks.push(r.7);
                c.favorites.push(r.8);
            }
        });
        Ok(c)
    }

    /// The ids of every venue (those never booked nor viewed count in concentration measures).
    pub async fn venue_ids(&self) -> Result<Vec<i64>, EngineError> {
        Ok(on_pool!(self, p => {
            sqlx::query_scalar("SELECT id FROM venues ORDER BY id").fetch_all(p).await
        })?)
    }
}
