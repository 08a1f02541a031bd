//! What a user reads and signals about themself: their bookings, their favorites, and
//! the views and clicks that profiles learn from. Every read is scoped to the user; a
//! booking of someone else reads as absent.

use crate::domain::{InteractionKind, Timestamp};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{BookingId, OfferId, UserId};
use crate::views::{rfc3339, BookingView};

/// One of a user's favorites.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct FavoriteView {
    pub offer_id: OfferId,
    pub title: String,
    /// `false` once the partner withdrew the offer: it stays listed but cannot be booked.
    pub is_active: bool,
    /// RFC 3339.
    pub added_at: String,
}

/// Events one ingestion call may carry: a screenful of views, not a replayed history.
pub const MAX_EVENTS: usize = 100;

impl Engine {
    /// One of the user's bookings; another user's is "not found", never shown.
    pub async fn user_booking(
        &self,
        user: UserId,
        id: BookingId,
    ) -> Result<BookingView, EngineError> {
        self.store
            .booking(id)
            .await?
            .filter(|b| b.user_id == user)
            .map(|b| BookingView::from(&b))
            .ok_or(EngineError::NotFound {
                what: "booking",
                id: id.0,
            })
    }

    /// The user's bookings, newest first, a page at a time.
    pub async fn user_bookings(
        &self,
        user: UserId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<BookingView>, EngineError> {
        Ok(self
            .store
            .user_bookings(user, limit, offset)
            .await?
            .iter()
            .map(BookingView::from)
            .collect())
    }

    /// Adds an active offer to the user's favorites; `false` when it already was one.
    pub async fn add_favorite(
        &self,
        user: UserId,
        offer: OfferId,
        now: Timestamp,
    ) -> Result<bool, EngineError> {
        if self.store.active_offers_among(&[offer]).await?.is_empty() {
            return Err(EngineError::NotFound {
                what: "offer",
                id: offer.0,
            });
        }
        self.store.add_favorite(user, offer, now).await
    }

    /// The user's favorites, newest first, a page at a time.
    pub async fn favorites(
        &self,
        user: UserId,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<FavoriteView>, EngineError> {
        let page = self.store.favorites(user, limit, offset).await?;
        let ids: Vec<OfferId> = page.iter().map(|(o, _)| *o).collect();
        let records: std::collections::HashMap<OfferId, _> = self
            .store
            .offer_records_by_id(&ids)
            .await?
            .into_iter()
            .map(|r| (r.offer.id, r.offer))
            .collect();
        Ok(page
            .into_iter()
            .filter_map(|(id, at)| {
                let offer = records.get(&id)?;
                Some(FavoriteView {
                    offer_id: id,
                    title: offer.title.clone(),
                    is_active: offer.is_active,
                    added_at: rfc3339(at),
                })
            })
            .collect())
    }

    /// Records the user's views, clicks and favorites of active offers, all or none
    /// checked first; a `favorite` also adds the favorite (once, like
    /// [`Engine::add_favorite`]), so that a favorite is never counted twice by profiles.
    pub async fn record_interactions(
        &self,
        user: UserId,
        events: &[(OfferId, InteractionKind)],
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        if events.is_empty() || events.len() > MAX_EVENTS {
            return Err(EngineError::BadInput(format!(
                "send 1 to {MAX_EVENTS} events"
            )));
        }
        let mut ids: Vec<OfferId> = events.iter().map(|(o, _)| *o).collect();
        ids.sort_unstable();
        ids.dedup();
        let known = self.store.active_offers_among(&ids).await?;
        if let Some(missing) = ids.iter().find(|id| known.binary_search(id).is_err()) {
            return Err(EngineError::NotFound {
                what: "offer",
                id: missing.0,
            });
        }
        for &(offer, kind) in events {
            match kind {
                InteractionKind::Favorite => {
                    self.store.add_favorite(user, offer, now).await?;
                }
                _ => {
                    self.store
                        .record_interaction(user, offer, kind, now)
                        .await?
                }
            }
        }
        Ok(events.len())
    }
}
