/// An offer that may enter a feed, with what scoring needs to know of it.
///
/// Its strings and embedding are borrowed (from the search hits, from the taste model):
/// a feed ranks thousands of candidates, and copying each one's codes and vector cost
/// more than scoring it.
///
/// `Default` gives an empty physical-less candidate so callers (tests, the evaluation
/// harness) can write `Candidate { id, category, ..Candidate::default() }`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Candidate<'a> {
    /// Offer id; also what seeds tie-breaks and exploration, so it must be stable.
    pub id: u64,
    /// Category code (e.g. `CINEMA`).
    pub category: &'a str,
    /// Subcategory code (e.g. `SEANCE_CINE`).
    pub subcategory: &'a str,
    /// `None` for digital offers.
    pub venue_id: Option<u64>,
    /// Distance from the user's point; `None` for digital offers.
    pub distance_m: Option<f64>,
    /// Bookings so far.
    pub popularity: u64,
    /// Lowest bookable price, in cents.
    pub price_cents: u64,
    /// Next date of an event, unix seconds; `None` for offers that are not events.
    pub event_at: Option<i64>,
    /// Places left to book; `None` when unlimited.
    pub remaining_places: Option<u32>,
    /// The offer's learned embedding (same space as [`crate::Profile::embedding`]).
    pub embedding: Option<&'a [f32]>,
    /// Editorial boost from curators, `0.0` for none; positive values push the offer up.
    pub boost: f64,
}

/// Why an item is in the feed: machine-readable; [`Reason::kind`] names it and
/// [`Reason::label_fr`] gives a short French label the caller may refine (with an
/// offer title, a category's French name).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Close to the user.
    NearYou { distance_m: f64 },
    /// In a category the user booked before.
    BecauseYouBooked { category: String },
    /// In a category the user never booked.
    Discover { category: String },
    /// Picked by curators (editorial boost).
    Curated,
    /// Booked a lot.
    Popular,
}

impl Reason {
    /// The stable machine-readable name: `near_you`, `because_you_booked`, `discover`,
    /// `curated` or `popular`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::NearYou { .. } => "near_you",
            Reason::BecauseYouBooked { .. } => "because_you_booked",
            Reason::Discover { .. } => "discover",
            Reason::Curated => "curated",
            Reason::Popular => "popular",
        }
    }

    /// A short French label from what the ranking knows (codes, not display names).
    pub fn label_fr(&self) -> String {
        match self {
            Reason::NearYou { distance_m } if *distance_m < 1_000.0 => {
                format!("À {} m de chez vous", distance_m.round() as u64)
            }
            Reason::NearYou { distance_m } => {
                format!("À {:.1} km de chez vous", distance_m / 1_000.0).replace('.', ",")
            }
            Reason::BecauseYouBooked { category } => {
                format!("Parce que vous avez réservé : {category}")
            }
            Reason::Discover { category } => format!("À découvrir : {category}"),
            Reason::Curated => "Choisi par nos médiateurs".into(),
            Reason::Popular => "Populaire près de chez vous".into(),
        }
    }
}

/// A candidate placed in the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Index into the candidate slice.
    pub index: usize,
    /// Its base score plus exploration noise (what relevance order would sort by).
    pub score: f64,
    /// Why the item is shown.
    pub reason: Reason,
}
