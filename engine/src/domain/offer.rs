use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::ids::{OfferId, OffererId, StockId, VenueId};
use crate::money::Cents;

/// Something a young person can book: a film session, a book, a concert…
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub id: OfferId,
    pub offerer_id: OffererId,
    /// `None` for digital offers, which have no place.
    pub venue_id: Option<VenueId>,
    pub title: String,
    pub description: String,
    /// A subcategory id of the taxonomy (`SEANCE_CINE`, `LIVRE_PAPIER`…).
    pub subcategory: String,
    /// Author, artist or director, where there is one.
    pub artist: Option<String>,
    /// Set for digital offers: an offer is digital when it carries a URL.
    pub url: Option<String>,
    /// Whether two places may be booked at once (events only).
    pub is_duo: bool,
    pub is_active: bool,
    pub created_at: Timestamp,
}

impl Offer {
    /// An offer is digital when it carries a URL (domain rule).
    pub fn is_digital(&self) -> bool {
        self.url.is_some()
    }
}

/// One bookable line of an offer: a price, a quantity, and for events a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stock {
    pub id: StockId,
    pub offer_id: OfferId,
    pub price: Cents,
    /// `None` means unlimited (digital codes, subscriptions).
    pub quantity: Option<i64>,
    /// Places already taken by bookings that are not cancelled.
    pub booked: i64,
    /// Event start; `None` for things.
    pub beginning_at: Option<Timestamp>,
    /// After this instant the stock cannot be booked.
    pub booking_limit_at: Option<Timestamp>,
}

impl Stock {
    /// Places left, or `None` when unlimited.
    pub fn remaining(&self) -> Option<i64> {
        self.quantity.map(|q| (q - self.booked).max(0))
    }

    /// Whether the stock can still be booked at `now` for `places` places.
    pub fn is_bookable(&self, now: Timestamp, places: i64) -> bool {
        let open = self.booking_limit_at.is_none_or(|limit| now <= limit)
            && self.beginning_at.is_none_or(|start| now < start);
        open && self.remaining().is_none_or(|left| left >= places)
    }
}
