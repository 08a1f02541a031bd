use serde::{Deserialize, Serialize};

use super::Coordinates;
use crate::ids::{OffererId, VenueId};

/// The legal entity behind venues and offers; partners act on behalf of one offerer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offerer {
    pub id: OffererId,
    pub name: String,
}

/// A physical place where offers happen or are collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Venue {
    pub id: VenueId,
    pub offerer_id: OffererId,
    pub name: String,
    /// One of the real service's venue types (MOVIE, BOOKSTORE, MUSEUM…).
    pub venue_type: String,
    pub location: Coordinates,
    /// INSEE department code ("75", "2A", "974").
    pub department: String,
    pub city: String,
}
