use crate::diversify::{Diversifier, PageRules};
use crate::intern::Codes;
use crate::similarity::SimilarityWeights;
use crate::{Candidate, Profile};

/// What a ranking depends on besides the candidates, the profile and the config: the
/// clock and a seed. The caller derives the seed from (user, request, day) so the same
/// request on the same day gives the same feed, and there is no global random state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RankContext {
    /// Now, unix seconds: how soon events start is measured from here.
    pub now: i64,
    /// Seed of the exploration noise.
    pub seed: u64,
}

impl RankContext {
    /// A seed from the parts of a request (user, day, place…): a fixed mix, the same
    /// on every machine and release, unlike `std`'s hashers.
    pub fn seed_from(parts: &[u64]) -> u64 {
        parts.iter().fold(0x6D6F_7361_6963_u64, |acc, &p| {
            (unit_noise(acc, p) * (1u64 << 53) as f64) as u64 ^ acc.rotate_left(17)
        })
    }
}

/// Every weight of the ranking in one place. Defaults are documented per field.
///
/// The base score of a candidate is the sum of weighted terms — relevance·(affinity +
/// ½·subcategory affinity), embedding·⟨user, offer⟩, proximity·closeness,
/// popularity·damped popularity, urgency·event soon, scarcity·few places left,
/// price_fit·(1 − price / credit left), boost·editorial boost — minus penalties for what
/// cannot be booked (above the credit left, sold out).
#[derive(Debug, Clone, PartialEq)]
pub struct RankConfig {
    /// Weight of the user's affinity for the category (plus half the subcategory's),
    /// both in `[0, 1]` (default 1.0).
    pub relevance: f64,
    /// Weight of the dot product of the user's and the offer's embeddings, expected in
    /// about `[-1, 1]`; 0 when either is missing (default 0.5).
    pub embedding: f64,
    /// Weight of closeness, `exp(-d / distance_scale_m)` (default 0.8).
    pub proximity: f64,
    /// Distance at which closeness falls to 1/e (default 15 km).
    pub distance_scale_m: f64,
    /// Closeness given to digital offers, which are everywhere (default 0.3).
    pub digital_proximity: f64,
    /// Weight of damped popularity, `ln(1 + p) / ln(1 + max p)` over the candidates
    /// (default 0.4): the log keeps blockbusters from taking every slot.
    pub popularity: f64,
    /// Weight of an event starting soon, `exp(-(start − now) / urgency_scale_s)`;
    /// 0 for offers that are not events or already started (default 0.3).
    pub urgency: f64,
    /// Time at which an event's urgency falls to 1/e (default 7 days).
    pub urgency_scale_s: f64,
    /// Weight of few places left, `exp(-places / scarcity_scale)` (default 0.15).
    pub scarcity: f64,
    /// Places at which scarcity falls to 1/e (default 10).
    pub scarcity_scale: f64,
    /// Penalty for an offer with no place left (default 2.0).
    pub sold_out_penalty: f64,
    /// Weight of the price fit to the credit left, `1 − price / credit`, for offers the
    /// user can afford; 0 when the credit is unknown (default 0.2).
    pub price_fit: f64,
    /// Penalty for an offer priced above the credit left (default 1.5).
    pub unaffordable_penalty: f64,
    /// Weight of the curators' editorial boost (default 1.0).
    pub boost: f64,
    /// Amplitude of the exploration noise: each candidate gets `exploration · u` with `u`
    /// uniform in `[0, 1)`, drawn from the context's seed and the offer id (default 0.1).
    /// It lets offers just below the top surface now and then, and differs per user and day.
    pub exploration: f64,
    /// How a page is picked from the scores (default [`Diversifier::DEFAULT`], DPP).
    pub diversifier: Diversifier,
    /// How alike two offers are, for MMR and DPP.
    pub similarity: SimilarityWeights,
    /// The page-filling rules (hard guarantees).
    pub page: PageRules,
}

impl Default for RankConfig {
    fn default() -> Self {
        RankConfig {
            relevance: 1.0,
            embedding: 0.5,
            proximity: 0.8,
            distance_scale_m: 15_000.0,
            digital_proximity: 0.3,
            popularity: 0.4,
            urgency: 0.3,
            urgency_scale_s: 7.0 * 86_400.0,
            scarcity: 0.15,
            scarcity_scale: 10.0,
            sold_out_penalty: 2.0,
            price_fit: 0.2,
            unaffordable_penalty: 1.5,
            boost: 1.0,
            exploration: 0.1,
            diversifier: Diversifier::DEFAULT,
            similarity: SimilarityWeights::default(),
            page: PageRules::default(),
        }
    }
}

/// The terms of one candidate's base score, already weighted (see [`RankConfig`]);
/// explanations read them to say what weighed most.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScoreParts {
    /// Affinity and embedding terms.
    pub relevance: f64,
    /// Closeness term.
    pub proximity: f64,
    /// Damped popularity term.
    pub popularity: f64,
    /// Editorial boost term.
    pub boost: f64,
    /// Everything else: urgency, scarcity, price fit, penalties.
    pub other: f64,
}

impl ScoreParts {
    /// The base score: the sum of the terms.
    pub fn total(&self) -> f64 {
        self.relevance + self.proximity + self.popularity + self.boost + self.other
    }
}

/// The base score of each candidate, before exploration and diversification.
pub fn score(
    candidates: &[Candidate],
    profile: &Profile,
    config: &RankConfig,
    ctx: &RankContext,
) -> Vec<f64> {
    score_parts(candidates, profile, config, ctx)
        .iter()
        .map(ScoreParts::total)
        .collect()
}

/// The weighted terms of each candidate's base score.
pub fn score_parts(
    candidates: &[Candidate],
    profile: &Profile,
    config: &RankConfig,
    ctx: &RankContext,
) -> Vec<ScoreParts> {
    score_parts_with(candidates, &Codes::new(candidates), profile, config, ctx)
}

/// [`score_parts`] with the candidates' codes already interned: the profile's affinities
/// are looked up once per distinct category and subcategory, not once per candidate.
pub(crate) fn score_parts_with(
    candidates: &[Candidate],
    codes: &Codes,
    profile: &Profile,
    config: &RankConfig,
    ctx: &RankContext,
) -> Vec<ScoreParts> {
    warm_embeddings(candidates);
    let max_pop = candidates.iter().map(|c| c.popularity).max().unwrap_or(0);
    let pop_norm = ((1 + max_pop) as f64).ln().max(f64::EPSILON);
    let affinity = |map: &std::collections::HashMap<String, f64>, names: &[&str]| -> Vec<f64> {
        names
            .iter()
            .map(|&n| map.get(n).copied().unwrap_or(0.0))
            .collect()
    };
    let category = affinity(&profile.category_affinity, &codes.category_names);
    let subcategory = affinity(&profile.subcategory_affinity, &codes.subcategory_names);
    candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let affinity = category[codes.category[i] as usize]
                + 0.5 * subcategory[codes.subcategory[i] as usize];
            let embedding = match (&profile.embedding, &c.embedding) {
                (Some(u), Some(v)) => dot(u, v),
                _ => 0.0,
            };
            let proximity = match c.distance_m {
                Some(d) => (-d.max(0.0) / config.distance_scale_m).exp(),
                None => config.digital_proximity,
            };
            let popularity = ((1 + c.popularity) as f64).ln() / pop_norm;
            let urgency = match c.event_at {
                Some(at) if at >= ctx.now => {
                    (-((at - ctx.now) as f64) / config.urgency_scale_s).exp()
                }
                _ => 0.0,
            };
            let places = match c.remaining_places {
                Some(0) => -config.sold_out_penalty,
                Some(n) => config.scarcity * (-(n as f64) / config.scarcity_scale).exp(),
                None => 0.0,
            };
            let price = match profile.remaining_credit_cents {
                Some(left) if c.price_cents > left => -config.unaffordable_penalty,
                Some(0) => config.price_fit,
                Some(left) => config.price_fit * (1.0 - c.price_cents as f64 / left as f64),
                None => 0.0,
            };
            ScoreParts {
                relevance: config.relevance * affinity + config.embedding * embedding,
                proximity: config.proximity * proximity,
                popularity: config.popularity * popularity,
                boost: config.boost * c.boost,
                other: config.urgency * urgency + places + price,
            }
        })
        .collect()
}

/// Reads the first and last value of each candidate's embedding, and nothing else.
///
/// In a feed the embeddings are rows of the taste model, scattered over its million
/// offers, so the first read of each misses every cache. Read first by the dot products of
/// the scoring loop, the misses were waited for one after another: the busiest instruction
/// of the server under load. In a loop that does nothing else the core keeps many of them
/// in flight at once.
fn warm_embeddings(candidates: &[Candidate]) {
    let mut sum = 0.0f32;
    for e in candidates.iter().filter_map(|c| c.embedding) {
        if let (Some(first), Some(last)) = (e.first(), e.last()) {
            sum += first + last;
        }
    }
    std::hint::black_box(sum);
}

/// Adds the exploration noise of `config` to `scores`, drawn from `ctx.seed` and each
/// offer's id so that it does not depend on the candidates' order.
pub fn explore(
    scores: &mut [f64],
    candidates: &[Candidate],
    config: &RankConfig,
    ctx: &RankContext,
) {
    if config.exploration == 0.0 {
        return;
    }
    for (s, c) in scores.iter_mut().zip(candidates) {
        *s += config.exploration * unit_noise(ctx.seed, c.id);
    }
}

/// A uniform draw in `[0, 1)` from (seed, id): SplitMix64 finalisation of both.
pub(crate) fn unit_noise(seed: u64, id: u64) -> f64 {
    let mut z = seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// `a·b` over their common length, summed in eight lanes.
///
/// One running sum makes each addition wait for the previous one: for the taste model's
/// 32-float rows, 32 additions in a row, which the compiler may not reorder. Eight
/// independent sums, added pairwise at the end, fill vector registers instead. The order
/// is fixed by the code, not the machine, so results are the same everywhere.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (a, a_tail) = a[..n].as_chunks::<8>();
    let (b, b_tail) = b[..n].as_chunks::<8>();
    let mut lanes = [0f32; 8];
    for (x, y) in a.iter().zip(b) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    let [l0, l1, l2, l3, l4, l5, l6, l7] = lanes;
    (((l0 + l4) + (l1 + l5)) + ((l2 + l6) + (l3 + l7)) + tail) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_term_moves_the_score_its_way() {
        let ctx = RankContext {
            now: 1_000_000,
            seed: 0,
        };
        let base = Candidate {
            id: 1,
            category: "CINEMA",
            subcategory: "SEANCE_CINE",
            venue_id: Some(1),
            distance_m: Some(1_000.0),
            price_cents: 500,
            ..Candidate::default()
        };
        let profile = Profile {
            remaining_credit_cents: Some(10_000),
            ..Profile::default()
        };
        let config = RankConfig::default();
        let s = |c: &Candidate| score(std::slice::from_ref(c), &profile, &config, &ctx)[0];
        let b = s(&base);
        let soon = Candidate {
            event_at: Some(ctx.now + 86_400),
            ..base
        };
        let later = Candidate {
            event_at: Some(ctx.now + 60 * 86_400),
            ..base
        };
        assert!(s(&soon) > s(&later) && s(&later) > b);
        let sold_out = Candidate {
            remaining_places: Some(0),
            ..base
        };
        let few = Candidate {
            remaining_places: Some(2),
            ..base
        };
        assert!(s(&sold_out) < b && s(&few) > b);
        let dear = Candidate {
            price_cents: 20_000,
            ..base
        };
        let cheaper = Candidate {
            price_cents: 100,
            ..base
        };
        assert!(s(&dear) < b && s(&cheaper) > b);
        let boosted = Candidate { boost: 1.0, ..base };
        assert!((s(&boosted) - b - config.boost).abs() < 1e-12);
        let far = Candidate {
            distance_m: Some(20_000.0),
            ..base
        };
        assert!(s(&far) < b);
    }

    #[test]
    fn embeddings_add_their_dot_product() {
        let ctx = RankContext::default();
        let config = RankConfig::default();
        let profile = Profile {
            embedding: Some(vec![1.0, 0.0].into()),
            ..Profile::default()
        };
        let near = Candidate {
            id: 1,
            embedding: Some(&[0.8, 0.2]),
            ..Candidate::default()
        };
        let away = Candidate {
            id: 2,
            embedding: Some(&[-0.5, 0.5]),
            ..Candidate::default()
        };
        let s = score(&[near, away], &profile, &config, &ctx);
        assert!((s[0] - s[1] - config.embedding * 1.3).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn exploration_noise_is_seeded_bounded_and_order_free() {
        let cands: Vec<Candidate> = (0..100)
            .map(|id| Candidate {
                id,
                ..Candidate::default()
            })
            .collect();
        let config = RankConfig::default();
        let noisy = |seed| {
            let mut s = vec![0.0; cands.len()];
            explore(&mut s, &cands, &config, &RankContext { now: 0, seed });
            s
        };
        assert_eq!(noisy(7), noisy(7));
        assert_ne!(noisy(7), noisy(8));
        assert!(noisy(7)
            .iter()
            .all(|&x| (0.0..config.exploration).contains(&x)));
        let mut reversed = cands.clone();
        reversed.reverse();
        let mut s = vec![0.0; cands.len()];
        explore(&mut s, &reversed, &config, &RankContext { now: 0, seed: 7 });
        s.reverse();
        assert_eq!(s, noisy(7));
    }

    #[test]
    fn seeds_depend_on_every_part_and_its_place() {
        let a = RankContext::seed_from(&[1, 20_000, 7]);
        assert_eq!(a, RankContext::seed_from(&[1, 20_000, 7]));
        assert_ne!(a, RankContext::seed_from(&[1, 20_001, 7]));
        assert_ne!(a, RankContext::seed_from(&[7, 20_000, 1]));
        assert_ne!(a, RankContext::seed_from(&[1, 20_000]));
    }
}
