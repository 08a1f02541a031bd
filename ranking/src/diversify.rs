//! Filling pages: a greedy pick per slot, by relevance, MMR or DPP, among the
//! candidates that keep the page's hard guarantees reachable.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::intern::{Codes, NO_VENUE};
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
    /// The feed's choice: DPP with θ = 0.7, i.e. one unit of score is worth as much as
    /// the page's log-determinant falling by 7/3. DPP rather than MMR because it
    /// penalises an item for what it shares with the whole page (the volume it adds), not
    /// only with its nearest neighbour, so five concerts weigh more than one.
    ///
    /// θ = 0.7 rather than a stronger spread: with the page rules, which already put four
    /// categories and two new to the user on every page, it keeps the relevance order's
    /// recall (102 % of it over ten generated `ci` worlds and on the `bench` world) where
    /// θ = 0.5 fell below 95 % on half of those worlds and to 79 % on `bench`, and it still
    /// more than doubles the category entropy of the lists (`mosaic eval --theta`; the
    /// README gives the figures).
    pub const DEFAULT: Diversifier = Diversifier::Dpp { theta: 0.7 };
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
    let features = Features::new(candidates, Codes::new(candidates), &config.similarity);
    diversify_with(&features, scores, profile, config, n)
}

/// [`diversify`] over features already built (by [`crate::rank`], which interned the
/// codes for scoring).
pub(crate) fn diversify_with(
    features: &Features,
    scores: &[f64],
    profile: &Profile,
    config: &RankConfig,
    n: usize,
) -> Vec<usize> {
    let candidates = features.codes.category.len();
    assert_eq!(candidates, scores.len(), "one score per candidate");
    // Per category id: never booked by the user.
    let never_booked: Vec<bool> = features
        .codes
        .category_names
        .iter()
        .map(|name| !profile.has_booked(name))
        .collect();
    let mut alive: Vec<usize> = (0..candidates).collect();
    let mut out = Vec::with_capacity(n.min(candidates));
    let page_size = config.page.page_size.max(1);
    // One selection state for all pages: a feed ranks three, and the DPP's heap and rows
    // of the factor are reset for the candidates a page touched rather than rebuilt.
    let mut greedy = Greedy::new(config.diversifier, scores, features, &alive, page_size);
    // Whole pages even when `n` ends inside one, so that the first items do not depend
    // on how many are asked (a feed's cursor relies on it).
    while out.len() < n && !alive.is_empty() {
        if !out.is_empty() {
            greedy.next_page(config.diversifier, scores, features, &alive, page_size);
        }
        let page = Page {
            features,
            never_booked: &never_booked,
            rules: &config.page,
            scores,
        }
        .fill(&mut alive, page_size, &mut greedy);
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    out.truncate(n);
    out
}

/// How many of the page rules a pick must keep.
///
/// Under any one tier a candidate the rules refuse stays refused until the page is full:
/// the page's counts only grow, and the slots left only shrink, never faster than the
/// minimums still to meet ([`Page::eligible`]). The DPP relies on it to set refused
/// candidates aside for the rest of the page.
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
    features: &'a Features<'a>,
    never_booked: &'a [bool],
    rules: &'a PageRules,
    scores: &'a [f64],
}

/// What the page holds so far, for the rules.
struct Counts {
    per_category: Vec<u32>,
    distinct: usize,
    /// Per venue id.
    per_venue: Vec<u32>,
    new_items: usize,
    digital: usize,
}

impl Page<'_> {
    fn fill(&self, alive: &mut Vec<usize>, page_len: usize, greedy: &mut Greedy) -> Vec<usize> {
        let f = &self.features.codes;
        let mut counts = Counts {
            per_category: vec![0; f.categories()],
            distinct: 0,
            per_venue: vec![0; f.venues],
            new_items: 0,
            digital: 0,
        };
        let mut page = Vec::with_capacity(page_len);
        // The page's picks leave `alive` once it is full: removing each from the pool as
        // it is picked scanned 2,300 indices per pick.
        let mut on_page = vec![false; self.scores.len()];
        while page.len() < page_len && page.len() < alive.len() {
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
                greedy.best(alive, self.features, tier, |i| {
                    !on_page[i] && self.eligible(&counts, i, tier, slots_left)
                })
            });
            let Some(j) = pick else {
                break;
            };
            let cat = f.category[j] as usize;
            if counts.per_category[cat] == 0 {
                counts.distinct += 1;
            }
            counts.per_category[cat] += 1;
            match f.venue[j] {
                NO_VENUE => counts.digital += 1,
                v => counts.per_venue[v as usize] += 1,
            }
            if self.never_booked[cat] {
                counts.new_items += 1;
            }
            on_page[j] = true;
            greedy.take(j, alive, self.features, page.len());
            page.push(j);
        }
        alive.retain(|&i| !on_page[i]);
        page
    }

    fn eligible(&self, counts: &Counts, i: usize, tier: Tier, slots_left: usize) -> bool {
        if tier == Tier::Any {
            return true;
        }
        let f = &self.features.codes;
        let venue = f.venue[i];
        if tier != Tier::OverVenue
            && venue != NO_VENUE
            && counts.per_venue[venue as usize] as usize >= self.rules.max_per_venue
        {
            return false;
        }
        if tier == Tier::Relaxed {
            return true;
        }
        if tier == Tier::Strict && venue == NO_VENUE && counts.digital >= self.rules.max_digital {
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
    /// Boxed: the DPP's state is many times the other variants'.
    Dpp(Box<Dpp<'a>>),
}

impl<'a> Greedy<'a> {
    fn new(
        diversifier: Diversifier,
        scores: &'a [f64],
        f: &'a Features<'_>,
        alive: &[usize],
        page_len: usize,
    ) -> Self {
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
                Greedy::Dpp(Box::new(Dpp::new(theta, scores, f, alive, page_len)))
            }
        }
    }

    /// Makes the state of a new page over `alive`, the candidates earlier pages left.
    fn next_page(
        &mut self,
        diversifier: Diversifier,
        scores: &'a [f64],
        f: &'a Features<'_>,
        alive: &[usize],
        page_len: usize,
    ) {
        match self {
            Greedy::Dpp(dpp) => dpp.next_page(),
            _ => *self = Greedy::new(diversifier, scores, f, alive, page_len),
        }
    }

    /// The value of adding candidate `i` to the page (for the DPP, as of its last update).
    #[inline]
    fn gain(&self, i: usize) -> f64 {
        match self {
            Greedy::Relevance { scores } => scores[i],
            Greedy::Mmr {
                lambda,
                scaled,
                max_sim,
            } => lambda * scaled[i] - (1.0 - lambda) * max_sim[i],
            Greedy::Dpp(dpp) => dpp.gain(i),
        }
    }

    /// The candidate of largest gain among those of `alive` that are `eligible` (which
    /// refuses those already on the page), the lower index on ties. The caller takes it
    /// ([`Greedy::take`]).
    fn best(
        &mut self,
        alive: &[usize],
        f: &Features,
        tier: Tier,
        eligible: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if let Greedy::Dpp(dpp) = self {
            if !eager() {
                return dpp.best(f, tier, eligible);
            }
            // The reference the lazy heap is tested against: every gain that may win fresh.
            for &i in alive.iter().filter(|&&i| eligible(i)) {
                dpp.refresh(i, f);
            }
        }
        alive
            .iter()
            .filter(|&&i| eligible(i))
            .map(|&i| (i, self.gain(i)))
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i)
    }

    /// Takes `j` as the page's `t`-th item (from 0) and updates what the candidates of
    /// `alive` would add (those already on the page included, which are never picked
    /// again).
    fn take(&mut self, j: usize, alive: &[usize], f: &Features, t: usize) {
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
            Greedy::Dpp(dpp) => dpp.take(j, f),
        }
    }
}

/// Whether the DPP brings every candidate up to date before each pick: only in the test
/// that checks the lazy heap against it.
fn eager() -> bool {
    #[cfg(test)]
    return tests::EAGER.get();
    #[cfg(not(test))]
    false
}

/// Greedy DPP MAP inference with incremental Cholesky updates (Chen, Zhang & Zhou 2018,
/// Algorithm 1), evaluated lazily.
///
/// Algorithm 1 extends every candidate's row of the factor after each pick: `e_i = (S_ji −
/// ⟨c_j, c_i⟩) / d_j`, `c_i ← [c_i e_i]`, `d_i² ← d_i² − e_i²`. A candidate's gain
/// `2α·s_i + ln d_i²` can only fall as the page grows, so a gain computed at an earlier
/// slot bounds the current one: candidates wait in a max-heap under their last gain, and
/// only those popped above the best fresh gain catch up on the picks they missed — the
/// same arithmetic in the same order, hence the same page, without touching the tail of
/// the pool at every slot.
///
/// Any upper bound serves, and a tighter one spares refreshes: a page item of the same
/// category (and subcategory) leaves a candidate at most `1 − floor²` of its variance,
/// `floor` being the least similarity those shared codes give
/// ([`Features::same_code_floors`]).
struct Dpp<'a> {
    /// `2α` of the kernel `L = diag(e^{α s}) S diag(e^{α s})`.
    two_alpha: f64,
    scores: &'a [f64],
    /// Rows of the incremental Cholesky factor, `stride` entries each, made for a
    /// candidate the first time it is brought up to date: the lazy heap refreshes a few
    /// hundred of a feed's 2,300 candidates (240 to 640 a page in the ranking benchmark),
    /// and a row for every one of them was 368 KB a page to zero, mostly never read.
    c: Vec<f64>,
    stride: usize,
    /// Per candidate, the start of its row in `c`, [`NO_ROW`] until it has one.
    row: Vec<usize>,
    /// Per candidate, its residual variance `d²` in S given the first `done` page items.
    d2: Vec<f64>,
    /// Per candidate, how many page items its row and `d²` account for.
    done: Vec<usize>,
    /// The page so far: each item and its `d`, 0 for an item already spanned by the page
    /// (taken only to keep a rule), which adds no direction.
    page: Vec<(usize, f64)>,
    /// Candidates popped on this page and put back, not on it (nor being taken), by their
    /// last computed gain.
    heap: BinaryHeap<Bound>,
    /// Candidates not brought up to date on this page, one heap per category, by their
    /// gain on an empty page, `2α·s_i`. Kept from page to page: a page puts back the few
    /// hundred it touched instead of building a heap of the whole pool again.
    untouched: Vec<BinaryHeap<Bound>>,
    /// Per category, what its untouched candidates' gain is at most above their key in
    /// `untouched`: 0 while the page holds none of the category, then [`Dpp::covered`].
    ceiling: Vec<f64>,
    /// `ln d²` at most for a candidate whose category is on the page: the category's
    /// similarity weight bounds its similarity to that item from below, so it cannot keep
    /// all of its variance. Without it, the candidates of a category the page already
    /// holds were brought up to date one after another whenever their score led the
    /// pool, each only to fall below the best fresh gain.
    covered: f64,
    /// [`Dpp::untouched_top`] as of the last change to `untouched` or `ceiling`: the
    /// heaps' tops are compared once per change, not once per candidate popped.
    untouched_best: Option<(usize, Bound)>,
    /// `ln d²` at most for a candidate whose category and subcategory are both an item's
    /// of the page: less than [`Dpp::covered`], as two weights bound the similarity.
    covered_subcategory: f64,
    /// Per subcategory id, the category of a page item of that subcategory, or
    /// [`NO_ITEM`].
    subcategory_on_page: Vec<u32>,
    /// Each candidate's category id.
    category: &'a [u32],
    /// Each candidate's subcategory id.
    subcategory: &'a [u32],
    /// The candidates given a row on this page, to reset for the next.
    touched: Vec<usize>,
    /// Candidates the rules of `parked_tier` refused on this page, out of the heap: they
    /// stay refused under that tier ([`Tier`]), and near a page's end, when only new
    /// categories may come, popping them and pushing them back at every pick moved most
    /// of the heap.
    parked: Vec<Bound>,
    parked_tier: Option<Tier>,
}

/// The row of a candidate never brought up to date.
const NO_ROW: usize = usize::MAX;

/// In [`Dpp::subcategory_on_page`], a subcategory no page item has.
const NO_ITEM: u32 = u32::MAX;

/// Added to the residual variance [`Dpp::covered`] bounds, which must never fall below a
/// gain as computed (the page would differ from the eager loop's): the factor's updates
/// round, and an item taken with `d² ≤ EPS` is only within `√EPS` of the page's span, which
/// loosens the bound by up to `2·√EPS`.
const COVER_SLACK: f64 = 1e-4;

/// How many rows of the factor a page reserves room for at once: about as many as a page
/// refreshes, so its rows are copied to grow once at most.
const ROWS_RESERVED: usize = 512;

/// A candidate's gain as last computed: an upper bound of its gain now. Ordered by gain,
/// then the lower index first, like the eager loops' tie-break.
#[derive(Clone, Copy)]
struct Bound {
    gain: f64,
    index: usize,
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> Ordering {
        self.gain
            .total_cmp(&other.gain)
            .then(other.index.cmp(&self.index))
    }
}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Bound {}

impl<'a> Dpp<'a> {
    fn new(
        theta: f64,
        scores: &'a [f64],
        f: &'a Features<'_>,
        alive: &[usize],
        page_len: usize,
    ) -> Dpp<'a> {
        let theta = theta.clamp(0.0, 0.999);
        let two_alpha = theta / (1.0 - theta);
        let n = scores.len();
        let categories = f.codes.categories();
        let mut untouched = vec![Vec::new(); categories];
        for &i in alive {
            untouched[f.codes.category[i] as usize]
                .push(Dpp::untouched_bound(two_alpha, scores, i));
        }
        // The log of the residual variance one page item of similarity at least `floor`
        // leaves at most.
        let ln_residual = |floor: f64| {
            let residual = if floor > 0.0 {
                1.0 - floor * floor
            } else {
                1.0
            };
            (residual + COVER_SLACK).clamp(EPS, 1.0).ln()
        };
        let (category_floor, subcategory_floor) = f.same_code_floors();
        let mut dpp = Dpp {
            two_alpha,
            scores,
            c: Vec::with_capacity(page_len * ROWS_RESERVED.min(n)),
            stride: page_len,
            row: vec![NO_ROW; n],
            d2: vec![1.0; n],
            done: vec![0; n],
            page: Vec::with_capacity(page_len),
            heap: BinaryHeap::new(),
            untouched: untouched.into_iter().map(BinaryHeap::from).collect(),
            ceiling: vec![0.0; categories],
            covered: ln_residual(category_floor),
            untouched_best: None,
            covered_subcategory: ln_residual(subcategory_floor),
            subcategory_on_page: vec![NO_ITEM; f.codes.subcategory_names.len()],
            category: &f.codes.category,
            subcategory: &f.codes.subcategory,
            touched: Vec::with_capacity(ROWS_RESERVED),
            parked: Vec::new(),
            parked_tier: None,
        };
        dpp.untouched_best = dpp.untouched_top();
        dpp
    }

    /// The untouched candidate of largest bound, with its category, its bound raised by
    /// the category's ceiling: compared with the fresh heap's top as one heap's order.
    fn untouched_top(&self) -> Option<(usize, Bound)> {
        let mut top: Option<(usize, Bound)> = None;
        for (c, heap) in self.untouched.iter().enumerate() {
            if let Some(b) = heap.peek() {
                let b = Bound {
                    gain: b.gain + self.ceiling[c],
                    index: b.index,
                };
                if top.is_none_or(|(_, t)| b > t) {
                    top = Some((c, b));
                }
            }
        }
        top
    }

    /// Candidate `i` on an empty page: `d² = 1`, so [`Dpp::gain`] without its logarithm
    /// (ln 1 is +0, and adding it turns a −0 product into +0 as `gain` does).
    #[inline]
    fn untouched_bound(two_alpha: f64, scores: &[f64], i: usize) -> Bound {
        Bound {
            gain: two_alpha * scores[i] + 0.0,
            index: i,
        }
    }

    /// Starts a new page: the candidates left in the heap or parked go back among the
    /// untouched, and what the last page computed for them is forgotten.
    fn next_page(&mut self) {
        for i in self.touched.drain(..) {
            self.row[i] = NO_ROW;
            self.d2[i] = 1.0;
            self.done[i] = 0;
        }
        let (two_alpha, scores) = (self.two_alpha, self.scores);
        for b in self.heap.drain().chain(self.parked.drain(..)) {
            self.untouched[self.category[b.index] as usize]
                .push(Dpp::untouched_bound(two_alpha, scores, b.index));
        }
        self.ceiling.fill(0.0);
        self.subcategory_on_page.fill(NO_ITEM);
        self.untouched_best = self.untouched_top();
        self.c.clear();
        self.page.clear();
        self.parked_tier = None;
    }

    /// log of d_i² in L = 2α·s_i + ln(d_i² in S), as of the candidate's last update.
    #[inline]
    fn gain(&self, i: usize) -> f64 {
        self.two_alpha * self.scores[i] + self.d2[i].max(EPS).ln()
    }

    /// Brings candidate `i` up to date with every item of the page.
    fn refresh(&mut self, i: usize, f: &Features) {
        if self.row[i] == NO_ROW {
            // Zeros: the entries of items already spanned by the page stay 0 in the dots.
            self.row[i] = self.c.len();
            self.c.resize(self.c.len() + self.stride, 0.0);
            self.touched.push(i);
        }
        let ri = self.row[i];
        let sim = f.of(i);
        for k in self.done[i]..self.page.len() {
            let (j, dj) = self.page[k];
            if dj == 0.0 {
                continue;
            }
            // Every page item was brought up to date when taken, so it has a row.
            let rj = self.row[j];
            let cj = &self.c[rj..rj + k];
            let ci = &self.c[ri..ri + k];
            let e = (sim.to(j) - dot_f64(cj, ci)) / dj;
            self.c[ri + k] = e;
            self.d2[i] -= e * e;
        }
        self.done[i] = self.page.len();
    }

    /// See [`Greedy::best`], with `eligible` the rules of `tier`; the candidate returned
    /// has left the heap.
    fn best(
        &mut self,
        f: &Features,
        tier: Tier,
        eligible: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        if self.parked_tier != Some(tier) {
            self.heap.extend(self.parked.drain(..));
            self.parked_tier = Some(tier);
        }
        let t = self.page.len();
        loop {
            // The larger of the stale heap's top and the untouched heaps' best, raised by
            // its category's ceiling: one heap's order over all of them.
            let top = match (self.heap.peek(), self.untouched_best) {
                (Some(a), Some((_, b))) if *a > b => *a,
                (Some(a), None) => *a,
                (_, Some((category, _))) => {
                    let top = self.untouched[category].pop().expect("peeked");
                    self.untouched_best = self.untouched_top();
                    let i = top.index;
                    if !eligible(i) {
                        self.parked.push(top);
                    } else if self.subcategory_on_page[self.subcategory[i] as usize]
                        == self.category[i]
                    {
                        // A tighter bound than its category's: it waits in the heap under
                        // it, brought up to date only if it leads again.
                        self.heap.push(Bound {
                            gain: top.gain + self.covered_subcategory,
                            index: i,
                        });
                    } else {
                        // Stale unless the page is empty; the heap holds it from now on.
                        self.refresh(i, f);
                        self.heap.push(Bound {
                            gain: self.gain(i),
                            index: i,
                        });
                    }
                    continue;
                }
                (None, None) => return None,
            };
            let i = top.index;
            if !eligible(i) {
                self.parked.push(self.heap.pop().expect("peeked"));
            } else if self.done[i] < t {
                self.refresh(i, f);
                // Its gain can only have fallen: sifted down in place, where a pop and a
                // push moved it from the root to a leaf and back up.
                let gain = self.gain(i);
                self.heap.peek_mut().expect("peeked").gain = gain;
            } else {
                self.heap.pop();
                return Some(i);
            }
        }
    }

    /// Puts `j` (returned by [`Dpp::best`]) on the page.
    fn take(&mut self, j: usize, f: &Features) {
        self.refresh(j, f);
        let dj2 = self.d2[j];
        let dj = if dj2 <= EPS { 0.0 } else { dj2.sqrt() };
        self.page.push((j, dj));
        let subcategory = self.subcategory[j] as usize;
        if self.subcategory_on_page[subcategory] == NO_ITEM {
            self.subcategory_on_page[subcategory] = self.category[j];
        }
        let category = self.category[j] as usize;
        if self.ceiling[category] != self.covered {
            self.ceiling[category] = self.covered;
            self.untouched_best = self.untouched_top();
        }
    }
}

/// `a·b` over their common length, summed in four lanes: one running sum made each
/// addition of a refresh wait for the previous one. The order is fixed by the code, so
/// every machine gives the same pages; it differs from a running sum only in the last
/// bits (the load test's first 1,500 feeds were the same, byte for byte).
#[inline]
fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, a_tail) = a[..n].as_chunks::<4>();
    let (b, b_tail) = b[..n].as_chunks::<4>();
    let mut lanes = [0f64; 4];
    for (x, y) in a.iter().zip(b) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    let tail: f64 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    let [l0, l1, l2, l3] = lanes;
    ((l0 + l2) + (l1 + l3)) + tail
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    thread_local! {
        /// Whether the DPP brings every candidate up to date before each pick, instead of
        /// only those its heap pops: the reference of the test below.
        pub(crate) static EAGER: Cell<bool> = const { Cell::new(false) };
    }

    #[test]
    fn dot_f64_sums_every_term_of_the_common_length() {
        // Whole numbers, so every order of summing gives the exact value: lengths below,
        // at and past the four lanes, and a tail of each size.
        for n in 0..=11 {
            let a: Vec<f64> = (1..=n).map(|x| x as f64).collect();
            let b: Vec<f64> = (1..=n + 2).map(|x| (2 * x) as f64).collect();
            let exact: f64 = (1..=n).map(|x| (2 * x * x) as f64).sum();
            assert_eq!(dot_f64(&a, &b), exact, "n = {n}");
            assert_eq!(dot_f64(&b, &a), exact, "n = {n}");
        }
    }

    /// `n` random 4-d embeddings.
    fn random_embeddings(rng: &mut ChaCha8Rng, n: usize) -> Vec<[f32; 4]> {
        (0..n)
            .map(|_| std::array::from_fn(|_| rng.gen_range(-1.0..1.0)))
            .collect()
    }

    /// One candidate per embedding, ids from 1: the first category with probability
    /// `favourite` (else any), any subcategory, and with probability `with_venue` one of
    /// `venues` venues (else digital).
    fn random_pool<'a>(
        rng: &mut ChaCha8Rng,
        embeddings: &'a [[f32; 4]],
        categories: &[&'static str],
        favourite: f64,
        venues: u64,
        with_venue: f64,
    ) -> Vec<Candidate<'a>> {
        embeddings
            .iter()
            .enumerate()
            .map(|(i, embedding)| Candidate {
                id: i as u64 + 1,
                category: categories[if rng.gen_bool(favourite) {
                    0
                } else {
                    rng.gen_range(0..categories.len())
                }],
                subcategory: categories[rng.gen_range(0..categories.len())],
                venue_id: rng.gen_bool(with_venue).then(|| rng.gen_range(0..venues)),
                embedding: Some(embedding),
                ..Candidate::default()
            })
            .collect()
    }

    #[test]
    fn the_lazy_dpp_picks_what_an_eager_one_would_under_the_page_rules() {
        const CATEGORIES: [&str; 6] = [
            "CINEMA",
            "LIVRE",
            "MUSIQUE",
            "SPECTACLE",
            "MUSEE",
            "PRATIQUE",
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut moved = 0;
        for _ in 0..60 {
            let n = rng.gen_range(20..160);
            let embeddings = random_embeddings(&mut rng, n);
            // Few venues and one category weighing most, so that caps and minimums bind.
            let venues = rng.gen_range(3..20);
            let pool = random_pool(&mut rng, &embeddings, &CATEGORIES, 0.6, venues, 0.85);
            let scores: Vec<f64> = (0..n).map(|_| rng.gen_range(0.0..2.0)).collect();
            let profile = Profile {
                booked_categories: vec!["CINEMA".into(), "LIVRE".into()],
                ..Profile::default()
            };
            let config = RankConfig {
                diversifier: Diversifier::Dpp {
                    theta: rng.gen_range(0.3..0.9),
                },
                page: PageRules {
                    page_size: rng.gen_range(5..15),
                    min_categories: rng.gen_range(0..5),
                    min_new_category_items: rng.gen_range(0..4),
                    max_per_venue: rng.gen_range(1..3),
                    max_digital: rng.gen_range(0..3),
                },
                ..RankConfig::default()
            };
            let want = rng.gen_range(1..n);
            let lazy = diversify(&pool, &scores, &profile, &config, want);
            EAGER.set(true);
            let eager = diversify(&pool, &scores, &profile, &config, want);
            EAGER.set(false);
            assert_eq!(lazy, eager, "{config:?}");
            let mut by_score: Vec<usize> = (0..n).collect();
            by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
            moved += usize::from(lazy[..] != by_score[..want]);
        }
        assert!(
            moved > 50,
            "the rules and the DPP reorder most pools: {moved}"
        );
    }

    /// Each page after the first is what a first page over the candidates left would be:
    /// the state one page leaves behind (refreshed rows, parked and heaped candidates) is
    /// forgotten before the next. The eager test above compares two modes that share that
    /// state; this one compares it with rankings made afresh.
    #[test]
    fn a_later_page_is_a_first_page_over_what_earlier_pages_left() {
        const CATEGORIES: [&str; 5] = ["CINEMA", "LIVRE", "MUSIQUE", "SPECTACLE", "MUSEE"];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut pages_checked = 0;
        for _ in 0..40 {
            let n = rng.gen_range(40..200);
            let embeddings = random_embeddings(&mut rng, n);
            let pool = random_pool(&mut rng, &embeddings, &CATEGORIES, 0.5, 15, 0.9);
            let scores: Vec<f64> = (0..n).map(|_| rng.gen_range(0.0..2.0)).collect();
            let profile = Profile {
                booked_categories: vec!["CINEMA".into()],
                ..Profile::default()
            };
            let page_size = rng.gen_range(4..12);
            let config = RankConfig {
                page: PageRules {
                    page_size,
                    ..PageRules::default()
                },
                ..RankConfig::default()
            };
            let all = diversify(&pool, &scores, &profile, &config, n);
            let mut shown: Vec<usize> = Vec::new();
            for page in all.chunks(page_size) {
                // The pool without the pages shown, in the same order (ties go to the
                // lower index in both).
                let left: Vec<usize> = (0..n).filter(|i| !shown.contains(i)).collect();
                let sub_pool: Vec<Candidate> = left.iter().map(|&i| pool[i]).collect();
                let sub_scores: Vec<f64> = left.iter().map(|&i| scores[i]).collect();
                let first = diversify(&sub_pool, &sub_scores, &profile, &config, page_size);
                let first: Vec<usize> = first.iter().map(|&k| left[k]).collect();
                assert_eq!(page, &first[..], "page after {} items", shown.len());
                shown.extend(page);
                pages_checked += 1;
            }
        }
        assert!(pages_checked > 200, "{pages_checked} pages");
    }
}
