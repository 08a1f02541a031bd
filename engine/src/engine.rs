//! The facade: one [`Engine`] composes the store, the offer index and the ranking.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use indexer::OfferIndex;

use crate::booking::BookingRequest;
use crate::domain::{Coordinates, Timestamp};
use crate::error::EngineError;
use crate::ids::{OfferId, UserId};
use crate::indexing::offer_doc;
use crate::store::{IdempotencyKey, Store};
use crate::taxonomy::Taxonomy;
use crate::views::{
    rfc3339, BookingView, DepositView, OfferDetail, StockView, VenueView, WalletView,
};

/// How often changed offers are pushed to the index: the bound on search freshness.
const REFRESH_EVERY: Duration = Duration::from_millis(250);

/// The current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}

/// Mosaic's use cases over one store and one index.
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) index: OfferIndex,
    pub(crate) taxonomy: &'static Taxonomy,
    /// Offers whose index document is stale (a booking changed a stock).
    dirty: Mutex<BTreeSet<OfferId>>,
}

impl Engine {
    /// Opens the engine on `store`, building the index from it (in RAM, or in
    /// `index_dir` when given; the store is the source of truth either way), and
    /// starts the background task that keeps the index fresh.
    pub async fn open(store: Store, index_dir: Option<&Path>) -> Result<Arc<Engine>, EngineError> {
        let index = match index_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                OfferIndex::open_or_create(dir)?
            }
            None => OfferIndex::in_ram()?,
        };
        let engine = Arc::new(Engine {
            store,
            index,
            taxonomy: Taxonomy::shipped(),
            dirty: Mutex::new(BTreeSet::new()),
        });
        engine.rebuild_index().await?;
        tokio::spawn(refresh_loop(Arc::downgrade(&engine)));
        Ok(engine)
    }

    /// The store under the engine.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Number of offers in the index.
    pub fn indexed_offers(&self) -> u64 {
        self.index.doc_count()
    }

    /// Re-reads every offer from the store into the index.
    pub async fn rebuild_index(&self) -> Result<usize, EngineError> {
        let records = self.store.offer_records().await?;
        let now = now();
        let taxonomy = self.taxonomy;
        let docs: Vec<_> = records
            .iter()
            .map(|r| offer_doc(r, taxonomy, now))
            .collect();
        let count = docs.len();
        self.index.upsert(docs)?;
        self.index.commit()?;
        Ok(count)
    }

    /// Pushes every offer marked stale to the index and commits once.
    pub async fn refresh_index(&self) -> Result<usize, EngineError> {
        let ids: Vec<OfferId> = std::mem::take(&mut *self.dirty.lock().expect("dirty set lock"))
            .into_iter()
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let result = self.reindex(&ids).await;
        if result.is_err() {
            // Nothing is lost: the offers stay stale until the next refresh succeeds.
            self.dirty
                .lock()
                .expect("dirty set lock")
                .extend(ids.iter().copied());
        }
        result.map(|()| ids.len())
    }

    async fn reindex(&self, ids: &[OfferId]) -> Result<(), EngineError> {
        let now = now();
        let records = self.store.offer_records_by_id(ids).await?;
        let live: std::collections::HashSet<OfferId> = records
            .iter()
            .filter(|r| r.offer.is_active)
            .map(|r| r.offer.id)
            .collect();
        for &id in ids.iter().filter(|id| !live.contains(id)) {
            self.index.delete(id.0 as u64)?;
        }
        let docs = records
            .iter()
            .filter(|r| r.offer.is_active)
            .map(|r| offer_doc(r, self.taxonomy, now));
        self.index.upsert(docs.collect::<Vec<_>>())?;
        self.index.commit()?;
        Ok(())
    }

    fn mark_dirty(&self, id: OfferId) {
        self.dirty.lock().expect("dirty set lock").insert(id);
    }

    /// The offer page; `from` adds the distance to the venue.
    pub async fn offer(
        &self,
        id: OfferId,
        from: Option<Coordinates>,
    ) -> Result<OfferDetail, EngineError> {
        let record = self
            .store
            .offer_record(id)
            .await?
            .filter(|r| r.offer.is_active)
            .ok_or(EngineError::NotFound {
                what: "offer",
                id: id.0,
            })?;
        let now = now();
        let sub = self.taxonomy.subcategory(&record.offer.subcategory);
        let venue = record.venue.as_ref();
        Ok(OfferDetail {
            id,
            title: record.offer.title.clone(),
            description: record.offer.description.clone(),
            category: sub.map_or_else(String::new, |s| s.category.clone()),
            subcategory: record.offer.subcategory.clone(),
            subcategory_label: sub.map_or_else(String::new, |s| s.label.clone()),
            artist: record.offer.artist.clone(),
            url: record.offer.url.clone(),
            offerer_id: record.offer.offerer_id,
            venue: venue.map(|v| VenueView {
                id: v.id,
                name: v.name.clone(),
                lat: v.location.lat(),
                lon: v.location.lon(),
                offerer_id: v.offerer_id,
            }),
            distance_m: venue
                .zip(from)
                .map(|(v, p)| indexer::haversine_m(v.location, p).round()),
            is_duo: record.offer.is_duo,
            is_digital: record.offer.is_digital(),
            stocks: record
                .stocks
                .iter()
                .map(|s| StockView {
                    id: s.id,
                    price_cents: s.price.0,
                    remaining: s.remaining(),
                    beginning_at: s.beginning_at.map(rfc3339),
                    booking_limit_at: s.booking_limit_at.map(rfc3339),
                    bookable: s.is_bookable(now, 1),
                })
                .collect(),
        })
    }

    /// What a user can spend now.
    pub async fn wallet(&self, user: UserId) -> Result<WalletView, EngineError> {
        self.store.user(user).await?.ok_or(EngineError::NotFound {
            what: "user",
            id: user.0,
        })?;
        let deposit = self.store.active_deposit(user, now()).await?;
        Ok(WalletView {
            user_id: user,
            balance_cents: deposit.as_ref().map_or(0, |d| d.remaining().0),
            deposit: deposit.map(|d| DepositView {
                policy: d.policy.clone(),
                amount_cents: d.amount.0,
                spent_cents: d.spent.0,
                expires_at: rfc3339(d.expires_at),
                digital_cap_cents: d.digital_cap.map(|c| c.0),
                digital_remaining_cents: d
                    .digital_cap
                    .map(|c| (c.0 - d.digital_spent.0).min(d.remaining().0)),
            }),
        })
    }

    /// Books a stock now; the offer's index document follows within [`REFRESH_EVERY`].
    pub async fn book(
        &self,
        user: UserId,
        stock: crate::ids::StockId,
        quantity: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<BookingView, EngineError> {
        let booking = self
            .store
            .book(
                &BookingRequest {
                    user_id: user,
                    stock_id: stock,
                    quantity,
                    now: now(),
                },
                key.as_ref(),
            )
            .await?;
        self.mark_dirty(booking.offer_id);
        Ok(BookingView {
            id: booking.id,
            qr_payload: format!("MOSAIC:v1:{}", booking.token),
            token: booking.token,
            status: booking.status.as_str(),
            amount_cents: booking.amount.0,
            offer_id: booking.offer_id,
            stock_id: booking.stock_id,
            quantity: booking.quantity,
        })
    }
}

impl Engine {
    /// Expires uncollected physical goods (10 days for paper books, 30 otherwise) and
    /// marks past events used; the offers whose places came back are re-indexed.
    pub async fn expire_bookings(&self) -> Result<crate::store::LifecycleSummary, EngineError> {
        let summary = self.store.expire_bookings(now(), 10, 30).await?;
        for (_, offer) in &summary.expired {
            self.mark_dirty(*offer);
        }
        Ok(summary)
    }

    /// Cancels a booking on behalf of `by`, refunding it; the offer's index document
    /// follows within [`REFRESH_EVERY`].
    pub async fn cancel(
        &self,
        id: crate::ids::BookingId,
        by: crate::booking::Canceller,
    ) -> Result<(), EngineError> {
        let booking = self.store.booking(id).await?.ok_or(EngineError::NotFound {
            what: "booking",
            id: id.0,
        })?;
        self.store.cancel(id, by, now()).await?;
        self.mark_dirty(booking.offer_id);
        Ok(())
    }
}

async fn refresh_loop(engine: Weak<Engine>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if let Err(e) = engine.refresh_index().await {
            tracing::warn!(error = %e, "index refresh failed; will retry");
        }
    }
}
