//! Editorial boosts: a curator lifts (or lowers) an offer, a venue, a subcategory or the
//! offers matching a search phrase in everyone's feed, by a weight, for a time window.
//!
//! Boosts are rows of the store ([`crate::store::Store::create_boost`]…). The feed reads
//! the active ones through a short cache ([`BOOST_CACHE_TTL`]) and resolves them into a
//! [`BoostSet`]: a weight per offer, venue and subcategory that it adds to each
//! candidate's score (`ranking::Candidate::boost`).

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;
use crate::error::EngineError;
use crate::ids::{BoostId, OfferId, VenueId};
use crate::taxonomy::Taxonomy;

/// How long the feed trusts its copy of the active boosts; edits made through this
/// engine are seen at once, those of another process within this delay.
pub const BOOST_CACHE_TTL: Duration = Duration::from_secs(30);

/// The longest window a boost may have: editorial pushes are campaigns, not settings.
pub const MAX_BOOST_WINDOW_S: i64 = 366 * 86_400;

/// Offers a phrase boost reaches at most (the best text matches).
pub const MAX_PHRASE_OFFERS: usize = 2_000;

/// What a boost applies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum BoostTarget {
    /// One offer.
    Offer(OfferId),
    /// Every offer of one venue.
    Venue(VenueId),
    /// Every offer of a subcategory of the taxonomy (`SEANCE_CINE`…).
    Subcategory(String),
    /// Every offer whose text matches this phrase, as the search understands it.
    Phrase(String),
}

impl BoostTarget {
    /// The stored kind and target columns.
    pub fn columns(&self) -> (&'static str, String) {
        match self {
            BoostTarget::Offer(id) => ("offer", id.0.to_string()),
            BoostTarget::Venue(id) => ("venue", id.0.to_string()),
            BoostTarget::Subcategory(s) => ("subcategory", s.clone()),
            BoostTarget::Phrase(p) => ("phrase", p.clone()),
        }
    }

    /// Reads the stored columns back.
    pub fn from_columns(kind: &str, target: &str) -> Result<BoostTarget, EngineError> {
        let id = || {
            target
                .parse::<i64>()
                .map_err(|_| EngineError::Data(format!("boost target {target:?} is not an id")))
        };
        Ok(match kind {
            "offer" => BoostTarget::Offer(OfferId(id()?)),
            "venue" => BoostTarget::Venue(VenueId(id()?)),
            "subcategory" => BoostTarget::Subcategory(target.to_owned()),
            "phrase" => BoostTarget::Phrase(target.to_owned()),
            other => return Err(EngineError::Data(format!("unknown boost kind {other:?}"))),
        })
    }
}

/// A boost as a curator writes it, before it is stored (or to preview it).
#[derive(Debug, Clone, PartialEq)]
pub struct BoostDraft {
    pub target: BoostTarget,
    /// Added to the score of every offer the target reaches, in `[-1, 1]`, never 0.
    pub weight: f64,
    /// The window in which the boost applies: `[starts_at, ends_at)`.
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// Why: shown to other curators.
    pub note: String,
}

impl BoostDraft {
    /// Checks what can be checked without the store: weight, window, note, and that a
    /// subcategory exists and a phrase is a phrase.
    pub fn validate(&self, taxonomy: &Taxonomy) -> Result<(), EngineError> {
        let bad = |m: &str| Err(EngineError::BadInput(m.into()));
        if !self.weight.is_finite() || !(-1.0..=1.0).contains(&self.weight) || self.weight == 0.0 {
            return bad("weight must be within [-1, 1] and not 0");
        }
        // Unix seconds from 1970 to 2100: beyond, a date is a typo, and the window's
        // length below cannot overflow.
        let in_range = |t: Timestamp| (0..=4_102_444_800).contains(&t);
        if !in_range(self.starts_at) || !in_range(self.ends_at) {
            return bad("starts_at and ends_at must be Unix seconds between 1970 and 2100");
        }
        if self.ends_at <= self.starts_at {
            return bad("ends_at must be after starts_at");
        }
        if self.ends_at - self.starts_at > MAX_BOOST_WINDOW_S {
            return bad("a boost lasts at most 366 days");
        }
        if self.note.chars().count() > 500 {
            return bad("note is at most 500 characters");
        }
        match &self.target {
            BoostTarget::Subcategory(s) if taxonomy.subcategory(s).is_none() => {
                return Err(EngineError::BadInput(format!("unknown subcategory {s:?}")));
            }
            BoostTarget::Phrase(p) => {
                let n = p.trim().chars().count();
                if !(2..=100).contains(&n) {
                    return bad("a phrase is 2 to 100 characters");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A stored boost.
#[derive(Debug, Clone, PartialEq)]
pub struct Boost {
    pub id: BoostId,
    pub draft: BoostDraft,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When a curator expired it before its end.
    pub expired_at: Option<Timestamp>,
}

/// Where a boost stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoostStatus {
    /// Its window has not started.
    Scheduled,
    /// It applies now.
    Active,
    /// Its window is over.
    Ended,
    /// A curator stopped it.
    Expired,
}

impl Boost {
    /// Where the boost stands at `now`.
    pub fn status(&self, now: Timestamp) -> BoostStatus {
        if self.expired_at.is_some() {
            BoostStatus::Expired
        } else if now < self.draft.starts_at {
            BoostStatus::Scheduled
        } else if now < self.draft.ends_at {
            BoostStatus::Active
        } else {
            BoostStatus::Ended
        }
    }
}

/// Active boosts resolved to what a feed candidate carries: weights per offer, venue and
/// subcategory (phrases resolved to the offers they match), summed where they overlap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BoostSet {
    offers: HashMap<u64, f64>,
    venues: HashMap<u64, f64>,
    subcategories: HashMap<String, f64>,
}

impl BoostSet {
    /// Whether no boost applies.
    pub fn is_empty(&self) -> bool {
        self.offers.is_empty() && self.venues.is_empty() && self.subcategories.is_empty()
    }

    /// Adds `weight` to one offer.
    pub fn add_offer(&mut self, offer: u64, weight: f64) {
        *self.offers.entry(offer).or_default() += weight;
    }

    /// Adds `weight` to every offer of a venue.
    pub fn add_venue(&mut self, venue: u64, weight: f64) {
        *self.venues.entry(venue).or_default() += weight;
    }

    /// Adds `weight` to every offer of a subcategory.
    pub fn add_subcategory(&mut self, subcategory: &str, weight: f64) {
        *self
            .subcategories
            .entry(subcategory.to_owned())
            .or_default() += weight;
    }

    /// The boost of an offer: the sum of what reaches it, kept within `[-1, 1]` so that
    /// stacked boosts cannot bury or crown an offer beyond what one boost may.
    pub fn weight(&self, offer: u64, venue: Option<u64>, subcategory: &str) -> f64 {
        let sum = self.offers.get(&offer).copied().unwrap_or(0.0)
            + venue
                .and_then(|v| self.venues.get(&v))
                .copied()
                .unwrap_or(0.0)
            + self.subcategories.get(subcategory).copied().unwrap_or(0.0);
        sum.clamp(-1.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::VenueId;

    #[test]
    fn windows_far_outside_the_calendar_are_refused_not_overflowed() {
        let draft = |starts_at, ends_at| BoostDraft {
            target: BoostTarget::Venue(VenueId(94)),
            weight: 0.5,
            starts_at,
            ends_at,
            note: String::new(),
        };
        let taxonomy = Taxonomy::shipped();
        // Found by the API fuzz: a huge negative start made `ends_at - starts_at` overflow.
        for (s, e) in [(-9_223_372_036_854_775_807, 94), (0, i64::MAX), (-1, 10)] {
            assert!(matches!(
                draft(s, e).validate(taxonomy),
                Err(EngineError::BadInput(_))
            ));
        }
        assert!(draft(1_764_547_200, 1_764_547_200 + 86_400)
            .validate(taxonomy)
            .is_ok());
    }
}
