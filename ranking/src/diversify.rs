//! Filling pages: a greedy pick per slot, by relevance, MMR or DPP, among the
//! candidates that keep the page's hard guarantees reachable.

use std::collections::HashMap;

use crate::similarity::Features;
use crate::{Candidate, Profile, RankConfig};

/// Rules every page of the feed keeps when the candidate pool allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRules {
    /// Items per page (default 20). Rules and diversity apply within a page; later pages
    /// continue with what earlier pages left.
    pub page_size: usize,
    /// Distinct categories per page, at least (default 4).
    pub min_categories: usize,
    /// Items from categories the user never booked, at least (default 2).
    pub min_new_category_items: usize,
    /// Items from one venue, at most (default 2).
    pub max_per_venue: usize,
    /// Digital items, at most (default 5): the feed is first an agenda of what is near.
    pub max_digital: usize,
}

impl Default for PageRules {
    fn default() -> Self {
        PageRules {
            page_size: 20,
            min_categories: 4,
            min_new_category_items: 2,
            max_per_venue: 2,
            max_digital: 5,
        }
    }
}

impl PageRules {
    /// No guarantee at all (pages of `page_size`): for baselines such as the pure
    /// relevance order in an offline evaluation.
    pub fn none(page_size: usize) -> PageRules {
        PageRules {
            page_size,
            min_categories: 0,
            min_new_category_items: 0,
            max_per_venue: usize::MAX,
            max_digital: usize::MAX,
        }
    }
}

/// How each slot of a page is chosen among the eligible candidates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Diversifier {
    /// The highest score: relevance only (the page rules still hold).
    Relevance,
    /// Maximal marginal relevance (Carbonell & Goldstein, 1998): the highest
    /// `λ·score − (1 − λ)·max similarity to the page`, with scores min-max scaled to
    /// `[0, 1]`. λ = 1 is the relevance order; lower λ spreads the page more.
    Mmr {
        /// In `[0, 1]`.
        lambda: f64,
    },
    /// Determinantal point process, greedy MAP inference with incremental Cholesky
    /// updates (Chen, Zhang & Zhou, NeurIPS 2018), over the kernel
    /// `L = diag(e^{α·s}) · S · diag(e^{α·s})` with `α = θ / (2(1 − θ))`: each slot takes
    /// the item with the largest `θ·score + (1 − θ)·` gain in `log det S` of the page,
    /// up to a factor. θ near 1 is the relevance order; lower θ spreads the page more.
    Dpp {
        /// In `[0, 1)`.
        theta: f64,
    },
}

impl Diversifier {
    /// The feed's choice: DPP with θ = 0.5, i.e. one unit of score is worth as much as
    /// the page's log-determinant falling by one. DPP rather than MMR because it
    /// penalises an item for what it shares with the whole page (the volume it adds), not
    /// only with its nearest neighbour, so five concerts weigh more than one.
    pub const DEFAULT: Diversifier = Diversifier::Dpp { theta: 0.5 };
}

impl Default for Diversifier {
    fn default() -> Self {
        Diversifier::DEFAULT
    }
}

/// Smallest residual variance a DPP candidate keeps: items already spanned by the page
/// get `ln(EPS)` rather than `-∞`, so a page can always be completed.
const EPS: f64 = 1e-9;

/// Picks up to `n` candidates, page by page, and returns their indices in feed order.
/// Each slot takes the best candidate by `config.diversifier` among those that keep the
/// page rules reachable: when the slots left are just enough to meet a minimum
/// (categories, new-category items), only candidates that advance it are eligible. Rules
/// give way one tier at a time when the pool cannot keep them all: the digital cap first,
/// then the diversity minimums; when only venues already full are left, their cap (the
/// minimums are kept if they can be), so pages are always full while candidates remain.
///
/// No candidate is returned twice; ties go to the lower index, so the same inputs always
/// give the same order, and the first `k` of `n` items are those asked with `n = k`.
pub fn diversify(
    candidates: &[Candidate],
    scores: &[f64],
    profile: &Profile,
    config: &RankConfig,
    n: usize,
) -> Vec<usize> {
    assert_eq!(candidates.len(), scores.len(), "one score per candidate");
    let features = Features::new(candidates, &config.similarity);
    // Per category id: never booked by the user.
    let mut never_booked = vec![true; features.categories];
    for (c, &cat) in candidates.iter().zip(&features.category) {
        never_booked[cat as usize] = !profile.has_booked(&c.category);
    }
    let mut alive: Vec<usize> = (0..candidates.len()).collect();
    let mut out = Vec::with_capacity(n.min(candidates.len()));
    let page_size = config.page.page_size.max(1);
    // Whole pages even when `n` ends inside one, so that the first items do not depend
    // on how many are asked (a feed's cursor relies on it).
    while out.len() < n && !alive.is_empty() {
        let page_len = page_size;
        let page = Page {
            features: &features,
            never_booked: &never_booked,
            rules: &config.page,
            scores,
        }
        .fill(&mut alive, page_len, config.diversifier);
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    out.truncate(n);
    out
}

/// How many of the page rules a pick must keep.
#[derive(Clone, Copy, PartialEq)]
enum Tier {
    /// All of them.
    Strict,
    /// All but the digital cap.
    AnyDigital,
    /// Only the cap per venue.
    Relaxed,
    /// Only the diversity minimums: the pool has only items from venues already full.
    /// A full page still beats a short one, and keeps pages aligned with the caller's
    /// slices of `page_size`.
    OverVenue,
    /// None.
    Any,
}

struct Page<'a> {
    features: &'a Features,
    never_booked: &'a [bool],
    rules: &'a PageRules,
    scores: &'a [f64],
}

/// What the page holds so far, for the rules.
struct Counts {
    per_category: Vec<u32>,
    distinct: usize,
    per_venue: HashMap<u64, usize>,
    new_items: usize,
    digital: usize,
}

impl Page<'_> {
    fn fill(
        &self,
        alive: &mut Vec<usize>,
        page_len: usize,
        diversifier: Diversifier,
    ) -> Vec<usize> {
        let f = self.features;
        let mut counts = Counts {
            per_category: vec![0; f.categories],
            distinct: 0,
            per_venue: HashMap::new(),
            new_items: 0,
            digital: 0,
        };
        let mut greedy = Greedy::new(diversifier, self.scores, alive, page_len);
        let mut page = Vec::with_capacity(page_len);
        while page.len() < page_len && !alive.is_empty() {
            let slots_left = page_len - page.len();
            let pick = [
                Tier::Strict,
                Tier::AnyDigital,
                Tier::Relaxed,
                Tier::OverVenue,
                Tier::Any,
            ]
            .into_iter()
            .find_map(|tier| {
                alive
                    .iter()
                    .filter(|&&i| self.eligible(&counts, i, tier, slots_left))
                    .map(|&i| (i, greedy.gain(i)))
                    .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            });
            let Some((j, _)) = pick else {
                break;
            };
            let cat = f.category[j] as usize;
            if counts.per_category[cat] == 0 {
                counts.distinct += 1;
            }
            counts.per_category[cat] += 1;
            match f.venue[j] {
                Some(v) => *counts.per_venue.entry(v).or_default() += 1,
                None => counts.digital += 1,
            }
            if self.never_booked[cat] {
                counts.new_items += 1;
            }
            alive.retain(|&i| i != j);
            greedy.update(j, alive, f, page.len());
            page.push(j);
        }
        page
    }

    fn eligible(&self, counts: &Counts, i: usize, tier: Tier, slots_left: usize) -> bool {
        if tier == Tier::Any {
            return true;
        }
        let f = self.features;
        let venue = f.venue[i];
        if tier != Tier::OverVenue
            && venue.is_some_and(|v| {
                counts.per_venue.get(&v).copied().unwrap_or(0) >= self.rules.max_per_venue
            })
        {
            return false;
        }
        if tier == Tier::Relaxed {
            return true;
        }
        if tier == Tier::Strict && venue.is_none() && counts.digital >= self.rules.max_digital {
            return false;
        }
        let cat = f.category[i] as usize;
        let need_categories = self.rules.min_categories.saturating_sub(counts.distinct);
        let need_new = self
            .rules
            .min_new_category_items
            .saturating_sub(counts.new_items);
        (need_categories < slots_left || counts.per_category[cat] == 0)
            && (need_new < slots_left || self.never_booked[cat])
    }
}

/// The state of one page's greedy selection for the chosen diversifier.
enum Greedy<'a> {
    Relevance {
        scores: &'a [f64],
    },
    Mmr {
        lambda: f64,
        /// Scores min-max scaled to `[0, 1]`.
        scaled: Vec<f64>,
        /// Per candidate, its largest similarity to the page so far.
        max_sim: Vec<f64>,
    },
    Dpp {
        /// `2α` of the kernel `L = diag(e^{α s}) S diag(e^{α s})`.
        two_alpha: f64,
        scores: &'a [f64],
        /// Rows of the incremental Cholesky factor, `stride` entries per candidate.
        c: Vec<f64>,
        stride: usize,
        /// Per candidate, its residual variance `d²` given the page, in S.
        d2: Vec<f64>,
    },
}

impl<'a> Greedy<'a> {
    fn new(diversifier: Diversifier, scores: &'a [f64], alive: &[usize], page_len: usize) -> Self {
        let n = scores.len();
        match diversifier {
            Diversifier::Relevance => Greedy::Relevance { scores },
            Diversifier::Mmr { lambda } => {
                let (lo, hi) = alive
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                        (lo.min(scores[i]), hi.max(scores[i]))
                    });
                let span = if hi > lo { hi - lo } else { 1.0 };
                Greedy::Mmr {
                    lambda: lambda.clamp(0.0, 1.0),
                    scaled: scores.iter().map(|s| (s - lo) / span).collect(),
                    max_sim: vec![0.0; n],
                }
            }
            Diversifier::Dpp { theta } => {
                let theta = theta.clamp(0.0, 0.999);
                Greedy::Dpp {
                    two_alpha: theta / (1.0 - theta),
                    scores,
                    c: vec![0.0; n * page_len],
                    stride: page_len,
                    d2: vec![1.0; n],
                }
            }
        }
    }

    /// The value of adding candidate `i` to the page.
    #[inline]
    fn gain(&self, i: usize) -> f64 {
        match self {
            Greedy::Relevance { scores } => scores[i],
            Greedy::Mmr {
                lambda,
                scaled,
                max_sim,
            } => lambda * scaled[i] - (1.0 - lambda) * max_sim[i],
            // log of d_i² in L = 2α·s_i + ln(d_i² in S).
            Greedy::Dpp {
                two_alpha,
                scores,
                d2,
                ..
            } => two_alpha * scores[i] + d2[i].max(EPS).ln(),
        }
    }

    /// Takes `j` as the page's `t`-th item (from 0) and updates what the candidates
    /// still `alive` would add.
    fn update(&mut self, j: usize, alive: &[usize], f: &Features, t: usize) {
        match self {
            Greedy::Relevance { .. } => {}
            Greedy::Mmr { max_sim, .. } => {
                for &i in alive {
                    let s = f.sim(i, j);
                    if t == 0 || s > max_sim[i] {
                        max_sim[i] = s;
                    }
                }
            }
            Greedy::Dpp { c, stride, d2, .. } => {
                // Chen et al., Algorithm 1: e_i = (S_ji − ⟨c_j, c_i⟩) / d_j; c_i ← [c_i e_i];
                // d_i² ← d_i² − e_i². An item already spanned by the page (d_j ≈ 0, taken
                // only to keep a rule) adds no direction.
                let dj2 = d2[j];
                if dj2 <= EPS {
                    return;
                }
                let dj = dj2.sqrt();
                let stride = *stride;
                let (cj_start, cj_end) = (j * stride, j * stride + t);
                let cj: Vec<f64> = c[cj_start..cj_end].to_vec();
                for &i in alive {
                    let row = &mut c[i * stride..i * stride + t + 1];
                    let dotp: f64 = cj.iter().zip(&row[..t]).map(|(a, b)| a * b).sum();
                    let e = (f.sim(j, i) - dotp) / dj;
                    row[t] = e;
                    d2[i] -= e * e;
                }
            }
        }
    }
}
