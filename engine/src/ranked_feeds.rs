//! The rankings behind recent first pages of the feed, kept for the pages that follow.
//!
//! A first page ranks its user's candidates [`DEPTH`] offers deep and leaves the ranking
//! here; the next pages, asked with that page's cursor, are cut from it rather than
//! searched and ranked again, which is a feed's whole cost but its cards. They read each
//! offer they show from the index as it is now, so an offer sold out or withdrawn since
//! the first page is still never shown. What a kept ranking does not see is what would
//! have moved it: new offers, popularity and places changed since, and the views and
//! favorites the user's app sent meanwhile (which it sends as the user scrolls, so
//! forgetting the ranking for them would keep nothing). A first page always ranks
//! afresh, so pulling the feed to refresh it sees them; a booking or a cancellation by
//! the user forgets their ranking here, so the pages after it are ranked for the credit
//! and history they have now.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use lru::LruCache;
use ranking::embedding::TasteModel;
use ranking::Reason;

use crate::curation::ActiveBoosts;
use crate::domain::Coordinates;
use crate::ids::UserId;
use crate::profile::Anchors;

/// How long a ranking serves the pages after its first: the minutes of an app session.
const TTL: Duration = Duration::from_secs(300);

/// Users whose ranking is kept, the least recently served forgotten first: one ranking
/// each, of the place they asked for last. A ranking holds [`DEPTH`] offers and the
/// user's anchors, about 4 KB: 20,000 users take under 100 MB.
const USERS: usize = 20_000;

/// How deep a first page ranks, so that the two pages after it of 20 offers come from
/// here.
pub(crate) const DEPTH: usize = 60;

/// What a ranking was computed for, besides the boosts and the taste model: the terms
/// of the request itself, so that a later page finds it before reading the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FeedKey {
    day: i64,
    /// The point asked for, as bits; `None` for the user's home.
    at: Option<(u64, u64)>,
    radius_km: u64,
}

impl FeedKey {
    /// The key of a feed asked around `at` (`None`: home), within `radius_km`, on `day`.
    pub(crate) fn new(day: i64, at: Option<Coordinates>, radius_km: f64) -> FeedKey {
        FeedKey {
            day,
            at: at.map(|p| (p.lat().to_bits(), p.lon().to_bits())),
            radius_km: radius_km.to_bits(),
        }
    }
}

/// One offer of a ranking: what its card needs beyond the offer's current document.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RankedOffer {
    /// Offer id.
    pub id: u64,
    /// Metres from the feed's point; `None` for a digital offer.
    pub distance_m: Option<f64>,
    /// Why the ranking placed it.
    pub reason: Reason,
}

/// A first page's ranking, as deep as it went.
#[derive(Debug)]
pub(crate) struct RankedFeed {
    /// The request terms it was ranked for.
    pub key: FeedKey,
    /// Best first.
    pub offers: Vec<RankedOffer>,
    /// Nothing lies beyond `offers`: the ranking used up its candidates.
    pub complete: bool,
    /// How many candidates it chose from.
    pub candidates: usize,
    /// What the user's "because you booked" reasons may name.
    pub anchors: Anchors,
    /// The boosts it was ranked under.
    pub boosts: Arc<ActiveBoosts>,
    /// The taste model it was ranked with, without keeping it alive once replaced.
    pub model: Option<Weak<TasteModel>>,
    /// When it was ranked.
    pub made: Instant,
}

impl RankedFeed {
    /// Whether it still stands for a request under `boosts` and `model`: young enough,
    /// and ranked under the same boosts and the same model.
    fn holds(&self, boosts: &Arc<ActiveBoosts>, model: Option<&Arc<TasteModel>>) -> bool {
        let same_model = match (&self.model, model) {
            (None, None) => true,
            (Some(kept), Some(now)) => std::ptr::eq(kept.as_ptr(), Arc::as_ptr(now)),
            _ => false,
        };
        // Boosts are read again every half minute into a new value: compare what they
        // resolved to, not where it lives.
        let same_boosts = Arc::ptr_eq(&self.boosts, boosts) || self.boosts.set == boosts.set;
        self.made.elapsed() < TTL && same_model && same_boosts
    }
}

/// The recent rankings, by user.
pub(crate) struct RankedFeeds(Mutex<LruCache<UserId, Arc<RankedFeed>>>);

impl Default for RankedFeeds {
    fn default() -> Self {
        RankedFeeds(Mutex::new(LruCache::new(
            NonZeroUsize::new(USERS).expect("a positive capacity"),
        )))
    }
}

impl RankedFeeds {
    /// The user's ranking for `key`, if one is kept that still holds under `boosts` and
    /// `model`.
    pub(crate) fn get(
        &self,
        user: UserId,
        key: &FeedKey,
        boosts: &Arc<ActiveBoosts>,
        model: Option<&Arc<TasteModel>>,
    ) -> Option<Arc<RankedFeed>> {
        let mut kept = self.0.lock().expect("ranked feeds lock");
        kept.get(&user)
            .filter(|f| f.key == *key && f.holds(boosts, model))
            .cloned()
    }

    /// Keeps `feed` as the user's ranking, in place of the one before it.
    pub(crate) fn put(&self, user: UserId, feed: RankedFeed) {
        self.0
            .lock()
            .expect("ranked feeds lock")
            .put(user, Arc::new(feed));
    }

    /// Forgets the user's rankings: their credit or history changed.
    pub(crate) fn forget(&self, user: UserId) {
        self.0.lock().expect("ranked feeds lock").pop(&user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(key: FeedKey, boosts: &Arc<ActiveBoosts>, made: Instant) -> RankedFeed {
        RankedFeed {
            key,
            offers: vec![RankedOffer {
                id: 7,
                distance_m: Some(120.0),
                reason: Reason::Popular,
            }],
            complete: true,
            candidates: 1,
            anchors: Anchors::default(),
            boosts: boosts.clone(),
            model: None,
            made,
        }
    }

    #[test]
    fn a_ranking_is_found_by_user_and_terms_while_it_holds() {
        let kept = RankedFeeds::default();
        let none = Arc::new(ActiveBoosts::default());
        let home = FeedKey::new(20_000, None, 30.0);
        let user = UserId(1);
        kept.put(user, feed(home, &none, Instant::now()));
        assert!(kept.get(user, &home, &none, None).is_some());
        assert!(kept.get(UserId(2), &home, &none, None).is_none());
        for other in [
            FeedKey::new(20_001, None, 30.0),
            FeedKey::new(20_000, None, 10.0),
            FeedKey::new(20_000, Some(Coordinates::new(48.86, 2.35).unwrap()), 30.0),
        ] {
            assert!(kept.get(user, &other, &none, None).is_none(), "{other:?}");
        }

        // The same boosts read again hold; other boosts do not.
        let again = Arc::new(ActiveBoosts::default());
        assert!(kept.get(user, &home, &again, None).is_some());
        let mut boosted = ActiveBoosts::default();
        boosted.set.add_offer(7, 2.0);
        assert!(kept.get(user, &home, &Arc::new(boosted), None).is_none());

        // Too old.
        if let Some(old) = Instant::now().checked_sub(TTL + Duration::from_secs(1)) {
            kept.put(user, feed(home, &none, old));
            assert!(kept.get(user, &home, &none, None).is_none());
        }

        // The place asked for last; forgetting drops it.
        let elsewhere = FeedKey::new(20_000, None, 5.0);
        kept.put(user, feed(home, &none, Instant::now()));
        kept.put(user, feed(elsewhere, &none, Instant::now()));
        assert!(kept.get(user, &home, &none, None).is_none());
        assert!(kept.get(user, &elsewhere, &none, None).is_some());
        kept.forget(user);
        assert!(kept.get(user, &elsewhere, &none, None).is_none());
    }
}
