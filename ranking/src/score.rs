use crate::diversify::PageRules;
use crate::{Candidate, Profile};

/// Every weight of the score in one place. Defaults are documented per field.
#[derive(Debug, Clone, PartialEq)]
pub struct RankConfig {
    /// Weight of the user's affinity for the category and subcategory (default 1.0).
    pub relevance: f64,
    /// Weight of closeness, `exp(-d / distance_scale_m)` (default 0.8).
    pub proximity: f64,
    /// Distance at which closeness falls to 1/e (default 15 km).
    pub distance_scale_m: f64,
    /// Closeness given to digital offers, which are everywhere (default 0.3).
    pub digital_proximity: f64,
    /// Weight of damped popularity, `ln(1 + p) / ln(1 + max p)` (default 0.4).
    pub popularity: f64,
    /// Penalty for an offer priced above the credit left (default 1.5).
    pub unaffordable_penalty: f64,
    /// The page-filling rules.
    pub page: PageRules,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            relevance: 1.0,
            proximity: 0.8,
            distance_scale_m: 15_000.0,
            digital_proximity: 0.3,
            popularity: 0.4,
            unaffordable_penalty: 1.5,
            page: PageRules::default(),
        }
    }
}

/// The base score of each candidate, before diversification.
pub fn score(candidates: &[Candidate], profile: &Profile, config: &RankConfig) -> Vec<f64> {
    let max_pop = candidates.iter().map(|c| c.popularity).max().unwrap_or(0);
    let pop_norm = ((1 + max_pop) as f64).ln().max(f64::EPSILON);
    candidates
        .iter()
        .map(|c| {
            let affinity = profile
                .category_affinity
                .get(&c.category)
                .copied()
                .unwrap_or(0.0)
                + 0.5
                    * profile
                        .subcategory_affinity
                        .get(&c.subcategory)
                        .copied()
                        .unwrap_or(0.0);
            let proximity = match c.distance_m {
                Some(d) => (-d / config.distance_scale_m).exp(),
                None => config.digital_proximity,
            };
            let popularity = ((1 + c.popularity) as f64).ln() / pop_norm;
            let unaffordable = profile
                .remaining_credit_cents
                .is_some_and(|left| c.price_cents > left);
            config.relevance * affinity
                + config.proximity * proximity
                + config.popularity * popularity
                - if unaffordable {
                    config.unaffordable_penalty
                } else {
                    0.0
                }
        })
        .collect()
}
