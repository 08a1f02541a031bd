//! Scoring and diversity-aware re-ranking for Mosaic's feed.
//!
//! The crate knows nothing of HTTP, SQL or the index: it takes [`Candidate`]s and a
//! user [`Profile`], scores them ([`score`]), and fills pages greedily with guarantees
//! that keep a feed from collapsing onto what the user already likes ([`diversify`]).
//!
//! ```
//! use ranking::{rank, Candidate, Profile, RankConfig};
//!
//! let candidates: Vec<Candidate> = (0..40)
//!     .map(|i| Candidate {
//!         id: i,
//!         category: ["CINEMA", "LIVRE", "MUSEE", "SPECTACLE", "MUSIQUE_LIVE"][i as usize % 5].into(),
//!         subcategory: "X".into(),
//!         venue_id: Some(i % 7),
//!         distance_m: Some(100.0 * i as f64),
//!         popularity: i,
//!         price_cents: 500,
//!         ..Candidate::default()
//!     })
//!     .collect();
//! let page = rank(&candidates, &Profile::default(), &RankConfig::default(), 20);
//! assert_eq!(page.len(), 20);
//! ```

mod candidate;
mod diversify;
pub mod embedding;
pub mod metrics;
mod profile;
mod score;

pub use candidate::{Candidate, Ranked, Reason};
pub use diversify::{diversify, PageRules};
pub use profile::Profile;
pub use score::{score, RankConfig};

/// Scores `candidates` for `profile` and returns the first `n` items, page by page
/// under the diversity rules of `config`.
pub fn rank(
    candidates: &[Candidate],
    profile: &Profile,
    config: &RankConfig,
    n: usize,
) -> Vec<Ranked> {
    let scored = score(candidates, profile, config);
    diversify(candidates, &scored, profile, &config.page, n)
}
