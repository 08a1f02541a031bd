//! The deterministic dataset generator behind `mosaic seed`.
//!
//! It places venues on real French places (weighted by population), spreads offers
//! over every public subcategory with French titles drawn from a per-subcategory
//! vocabulary, creates users aged 15–18 with a latent taste, and replays twelve
//! months of bookings and interactions drawn from taste and distance. The same
//! seed and reference day always give the same world.
//!
//! Generation is CPU work that streams [`Batch`]es to a sink (the store's bulk
//! writer), so a 10M-booking world never sits in memory at once.

use std::str::FromStr;

use chrono::NaiveDate;

use crate::booking::Collect;
use crate::domain::{Booking, Deposit, Interaction, Offer, Offerer, Stock, User, Venue};
use crate::ids::StockId;

mod geography;
mod lexicon;
mod world;

pub use world::generate;

/// How big a world to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// About 2k offers: small enough for tests.
    Ci,
    /// About 20k offers and 10k users: the local demo.
    Demo,
    /// 1M offers, 1M users, 10M bookings: benchmarks.
    Bench,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ci" => Ok(Profile::Ci),
            "demo" => Ok(Profile::Demo),
            "bench" => Ok(Profile::Bench),
            other => Err(format!(
                "unknown profile {other:?}: expected ci, demo or bench"
            )),
        }
    }
}

/// Target sizes of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub offerers: usize,
    pub venues: usize,
    pub offers: usize,
    pub users: usize,
    /// Bookings over the twelve months of history (approximate: stock and credit limits apply).
    pub bookings: usize,
}

impl Profile {
    /// The sizes this profile aims at.
    pub fn sizes(self) -> Sizes {
        match self {
            Profile::Ci => Sizes {
                offerers: 120,
                venues: 200,
                offers: 2_000,
                users: 1_000,
                bookings: 6_000,
            },
            Profile::Demo => Sizes {
                offerers: 1_200,
                venues: 2_000,
                offers: 20_000,
                users: 10_000,
                bookings: 60_000,
            },
            Profile::Bench => Sizes {
                offerers: 30_000,
                venues: 50_000,
                offers: 1_000_000,
                users: 1_000_000,
                bookings: 10_000_000,
            },
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedConfig {
    pub profile: Profile,
    pub seed: u64,
    /// The reference day: history ends here and upcoming events start after it.
    pub today: NaiveDate,
}

/// Rows ready to be written, in an order that respects foreign keys:
/// offerers, venues, offers, stocks, then users with their deposits, bookings and
/// interactions a chunk at a time, then the stocks' final counters.
#[derive(Debug)]
pub enum Batch {
    Offerers(Vec<Offerer>),
    Venues(Vec<Venue>),
    Offers(Vec<Offer>),
    /// Stocks with `booked = 0`; [`Batch::StockBooked`] sets the counts at the end.
    Stocks(Vec<Stock>),
    Users(Vec<User>),
    /// Deposits as they stand at the end of the history (spending and carry-over included).
    Deposits(Vec<Deposit>),
    /// Bookings, with the good each must be collected as.
    Bookings(Vec<(Booking, Option<Collect>)>),
    Interactions(Vec<Interaction>),
    /// Places taken per stock by bookings that are not cancelled.
    StockBooked(Vec<(StockId, i64)>),
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub offerers: usize,
    pub venues: usize,
    pub offers: usize,
    pub stocks: usize,
    pub users: usize,
    pub deposits: usize,
    pub bookings: usize,
    pub interactions: usize,
}
