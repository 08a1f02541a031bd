//! The domain: who offers what, where, at what price, to whom, and what was booked.
//!
//! These are plain rows, shaped like the tables of `migrations/`; the rules that
//! change them (booking, cancellation, credit) live in their own modules.

mod booking;
mod interaction;
mod offer;
mod user;
mod venue;

pub use booking::{Booking, BookingStatus};
pub use interaction::{Interaction, InteractionKind};
pub use offer::{Offer, Stock};
pub use user::{Deposit, User};
pub use venue::{Offerer, Venue};

/// A validated WGS84 point: the indexer's type, so the two crates never disagree on a coordinate.
pub use indexer::GeoPoint as Coordinates;

/// Seconds since the Unix epoch, UTC. Every instant in the store is one of these.
pub type Timestamp = i64;
