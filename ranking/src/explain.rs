//! Why an item is in the feed, from what weighed in its score.

use crate::score::ScoreParts;
use crate::{Candidate, Profile, RankConfig, Reason};

/// Distance within which a physical offer is "near you" whatever else weighed.
const NEAR_M: f64 = 5_000.0;

/// The reason shown for a candidate: picked by curators when boosted; to discover when
/// its category is new to a user who booked before; otherwise what weighed most among
/// the user's taste (because you booked), closeness (near you) and popularity.
pub fn reason(c: &Candidate, parts: &ScoreParts, profile: &Profile, config: &RankConfig) -> Reason {
    if c.boost > 0.0 {
        return Reason::Curated;
    }
    let booked = profile.has_booked(c.category);
    if !profile.booked_categories.is_empty() && !booked {
        return Reason::Discover {
            category: c.category.to_string(),
        };
    }
    if booked && parts.relevance >= parts.proximity.max(parts.popularity) {
        return Reason::BecauseYouBooked {
            category: c.category.to_string(),
        };
    }
    // Popular when its damped popularity is at least half the top one's.
    let popular = parts.popularity >= 0.5 * config.popularity && config.popularity > 0.0;
    match c.distance_m {
        Some(d) if d <= NEAR_M || !popular => Reason::NearYou { distance_m: d },
        _ if popular => Reason::Popular,
        _ if booked => Reason::BecauseYouBooked {
            category: c.category.to_string(),
        },
        _ => Reason::Discover {
            category: c.category.to_string(),
        },
    }
}
