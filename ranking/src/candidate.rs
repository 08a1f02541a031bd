/// An offer that may enter a feed, with what scoring needs to know of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: u64,
    pub category: String,
    pub subcategory: String,
    /// `None` for digital offers.
    pub venue_id: Option<u64>,
    /// Distance from the user's point; `None` for digital offers.
    pub distance_m: Option<f64>,
    /// Bookings so far.
    pub popularity: u64,
    pub price_cents: u64,
}

/// Why an item is in the feed: machine-readable, turned into French by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Close to the user.
    NearYou { distance_m: f64 },
    /// In a category the user booked before.
    BecauseYouBooked { category: String },
    /// In a category the user never booked.
    Discover { category: String },
    /// Booked a lot.
    Popular,
}

/// A candidate placed in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Index into the candidate slice.
    pub index: usize,
    pub score: f64,
    pub reason: Reason,
}
