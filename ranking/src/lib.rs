//! Scoring and diversity-aware re-ranking for Mosaic's feed.
//!
//! The crate knows nothing of HTTP, SQL or the index: it takes [`Candidate`]s and a
//! user [`Profile`], scores them ([`score`]: relevance, distance, popularity, urgency,
//! places left, price fit, editorial boost, all weighted by one [`RankConfig`]), adds a
//! seeded exploration noise ([`explore`]), and fills pages greedily by relevance, MMR or
//! a DPP ([`Diversifier`]) under hard guarantees that keep a feed from collapsing onto
//! what the user already likes ([`PageRules`], [`diversify`]). Each item says why it is
//! there ([`Reason`]). [`metrics`] measures lists the same way everywhere.
//!
//! ```
//! use ranking::{rank, Candidate, Profile, RankConfig, RankContext};
//!
//! let candidates: Vec<Candidate> = (0..40)
//!     .map(|i| Candidate {
//!         id: i,
//!         category: ["CINEMA", "LIVRE", "MUSEE", "SPECTACLE", "MUSIQUE_LIVE"][i as usize % 5],
//!         subcategory: "X",
//!         venue_id: Some(i % 7),
//!         distance_m: Some(100.0 * i as f64),
//!         popularity: i,
//!         price_cents: 500,
//!         ..Candidate::default()
//!     })
//!     .collect();
//! let ctx = RankContext { now: 1_764_547_200, seed: 42 };
//! let page = rank(&candidates, &Profile::default(), &RankConfig::default(), &ctx, 20);
//! assert_eq!(page.len(), 20);
//! ```

mod candidate;
mod diversify;
pub mod embedding;
mod explain;
mod intern;
pub mod metrics;
mod profile;
mod score;
mod similarity;

pub use candidate::{Candidate, Ranked, Reason};
pub use diversify::{diversify, Diversifier, PageRules};
pub use explain::reason;
pub use profile::Profile;
pub use score::{explore, score, score_parts, RankConfig, RankContext, ScoreParts};
pub use similarity::SimilarityWeights;

/// Scores `candidates` for `profile`, adds the exploration noise of `ctx.seed`, and
/// returns the first `n` items, page by page under the rules of `config`, each with its
/// reason. The same inputs give the same list; asking for more items (a deeper page)
/// keeps the earlier ones in place.
pub fn rank(
    candidates: &[Candidate],
    profile: &Profile,
    config: &RankConfig,
    ctx: &RankContext,
    n: usize,
) -> Vec<Ranked> {
    // Codes are interned once, for scoring and for the page rules.
    let codes = intern::Codes::new(candidates);
    let parts = score::score_parts_with(candidates, &codes, profile, config, ctx);
    let mut scores: Vec<f64> = parts.iter().map(ScoreParts::total).collect();
    explore(&mut scores, candidates, config, ctx);
    let features = similarity::Features::new(candidates, codes, &config.similarity);
    diversify::diversify_with(&features, &scores, profile, config, n)
        .into_iter()
        .map(|i| Ranked {
            index: i,
            score: scores[i],
            reason: reason(&candidates[i], &parts[i], profile, config),
        })
        .collect()
}
