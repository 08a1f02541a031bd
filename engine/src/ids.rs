//! Typed identifiers: an offer id can never be passed where a user id is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type! {
    /// Identifies an offerer: the legal entity (bookshop chain, theatre company…) behind venues and offers.
    OffererId,
    /// Identifies a venue: a physical place where offers are held or collected.
    VenueId,
    /// Identifies an offer: what a young person books (a film, a book, a concert…).
    OfferId,
    /// Identifies a stock line of an offer: one price, one quantity, one date for events.
    StockId,
    /// Identifies a young person using the app.
    UserId,
    /// Identifies a credit deposit granted to a user.
    DepositId,
    /// Identifies a booking.
    BookingId,
    /// Identifies a push campaign a partner requested for one of its offers.
    CampaignId,
    /// Identifies an editorial boost.
    BoostId,
}
