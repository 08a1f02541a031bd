//! What a user keeps and signals: favorites, views and clicks, and their bookings.

use super::{on_pool, sql_list, Store};
use crate::domain::{Booking, InteractionKind, Timestamp};
use crate::error::EngineError;
use crate::ids::{OfferId, UserId};

impl Store {
    /// Records a view, click or favorite of an offer by a user: the events profiles read.
    pub async fn record_interaction(
        &self,
        user: UserId,
        offer: OfferId,
        kind: InteractionKind,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        let _writer = self.writer().await;
        on_pool!(self, p => {
            sqlx::query("INSERT INTO interactions (user_id, offer_id, kind, at) VALUES ($1, $2, $3, $4)")
                .bind(user.0)
                .bind(offer.0)
                .bind(kind.as_str())
                .bind(now)
                .execute(p)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Adds an offer to a user's favorites; returns whether it was not there yet. A new
    /// favorite is also a `favorite` interaction, which profiles read.
    pub async fn add_favorite(
        &self,
        user: UserId,
        offer: OfferId,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        let added = {
            let _writer = self.writer().await;
            on_pool!(self, p => {
                sqlx::query(
                    "INSERT INTO favorites (user_id, offer_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, offer_id) DO NOTHING",
                )
                .bind(user.0)
                .bind(offer.0)
                .bind(now)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
            })? == 1
        };
        if added {
            self.record_interaction(user, offer, InteractionKind::Favorite, now)
                .await?;
        }
        Ok(added)
    }

    /// Removes an offer from a user's favorites; returns whether it was there.
    pub async fn remove_favorite(&self, user: UserId, offer: OfferId) -> Result<bool, EngineError> {
        let _writer = self.writer().await;
        let removed = on_pool!(self, p => {
            sqlx::query("DELETE FROM favorites WHERE user_id = $1 AND offer_id = $2")
                .bind(user.0)
                .bind(offer.0)
                .execute(p)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(removed == 1)
    }

    /// A user's favorite offers, newest first, with when they were added.
    pub async fn favorites(
        &self,
        user: UserId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(OfferId, Timestamp)>, EngineError> {
        let rows: Vec<(i64, i64)> = on_pool!(self, p => {
            sqlx::query_as(
                "SELECT offer_id, created_at FROM favorites WHERE user_id = $1 \
                 ORDER BY created_at DESC, offer_id DESC LIMIT $2 OFFSET $3",
            )
            .bind(user.0)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await
        })?;
        Ok(rows.into_iter().map(|(o, at)| (OfferId(o), at)).collect())
    }

    /// A user's bookings, newest first, a page at a time.
    pub async fn user_bookings(
        &self,
        user: UserId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Booking>, EngineError> {
        let ids: Vec<i64> = on_pool!(self, p => {
            sqlx::query_scalar(
                "SELECT id FROM bookings WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
            )
            .bind(user.0)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.booking(crate::ids::BookingId(id)).await?);
        }
        Ok(out)
    }
}

impl Store {
    /// Which of `ids` name an active offer: interactions and favorites on anything else
    /// are refused before they reach a foreign key.
    pub async fn active_offers_among(&self, ids: &[OfferId]) -> Result<Vec<OfferId>, EngineError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = sql_list(chunk.iter().map(|id| id.0));
            let sql =
                format!("SELECT id FROM offers WHERE is_active AND id IN ({list}) ORDER BY id");
            let found: Vec<i64> = on_pool!(self, p => sqlx::query_scalar(&sql).fetch_all(p).await)?;
            out.extend(found.into_iter().map(OfferId));
        }
        Ok(out)
    }
}
