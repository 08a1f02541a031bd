//! Quality metrics of recommendation lists, as plain functions over slices.
//!
//! The same functions serve the offline evaluation (`mosaic eval`), the feedback-loop
//! simulation and the analytics of served feeds, so that a number means the same thing
//! everywhere. Conventions: entropies are in bits, divergences in nats, and every metric
//! of an empty input is `0.0` (callers skip users with nothing to measure).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Smoothing of the page's category mix towards the profile in [`calibration_kl`]
/// (Steck, "Calibrated recommendations", RecSys 2018): keeps the divergence finite when
/// the page misses a category of the profile.
pub const CALIBRATION_ALPHA: f64 = 0.01;

/// Intra-list diversity: the mean dissimilarity `1 - similarity(a, b)` over all
/// unordered pairs of the list. `0.0` for fewer than two items.
pub fn intra_list_diversity<T>(items: &[T], similarity: impl Fn(&T, &T) -> f64) -> f64 {
    let n = items.len();
    if n < 2 {
        return 0.0;
    }
    let mut sum = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            sum += 1.0 - similarity(&items[i], &items[j]);
        }
    }
    sum / (n * (n - 1) / 2) as f64
}

/// Intra-list diversity where two items are similar (1) when they share a category and
/// dissimilar (0) otherwise: the share of pairs from different categories.
pub fn category_ild<S: AsRef<str>>(categories: &[S]) -> f64 {
    intra_list_diversity(
        categories,
        |a, b| {
            if a.as_ref() == b.as_ref() {
                1.0
            } else {
                0.0
            }
        },
    )
}

/// Share of each category in a list (shares sum to 1; empty map for an empty list).
pub fn category_mix<S: AsRef<str>>(categories: &[S]) -> HashMap<String, f64> {
    let mut mix: HashMap<String, f64> = HashMap::new();
    for c in categories {
        *mix.entry(c.as_ref().to_owned()).or_default() += 1.0;
    }
    let n = categories.len() as f64;
    mix.values_mut().for_each(|v| *v /= n);
    mix
}

/// Shannon entropy, in bits, of the category mix of a list: 0 when all items share one
/// category, `log2(k)` when they spread evenly over `k` categories.
pub fn category_entropy<S: AsRef<str>>(categories: &[S]) -> f64 {
    category_mix(categories)
        .values()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.log2())
        .sum()
}

/// Catalogue coverage: the share of a catalogue of `catalogue_size` items that appears
/// in at least one of the lists.
pub fn catalogue_coverage<I, L>(lists: &[L], catalogue_size: usize) -> f64
where
    I: Eq + Hash,
    L: AsRef<[I]>,
{
    if catalogue_size == 0 {
        return 0.0;
    }
    let seen: HashSet<&I> = lists.iter().flat_map(|l| l.as_ref()).collect();
    seen.len() as f64 / catalogue_size as f64
}

/// Gini coefficient of non-negative values: 0 when all are equal, close to 1 when one
/// value holds everything. `0.0` for an empty slice or an all-zero one.
pub fn gini(values: &[f64]) -> f64 {
    let total: f64 = values.iter().sum();
    if values.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, x)| (2.0 * (i + 1) as f64 - n - 1.0) * x)
        .sum();
    weighted / (n * total)
}

/// Exposure Gini across venues: `shown` holds the venue of every impression (one entry
/// per item shown, over all lists); venues of the catalogue never shown count as zero
/// exposure up to `venue_count` in all. High values mean a few venues take the audience.
pub fn exposure_gini<K: Eq + Hash>(shown: &[K], venue_count: usize) -> f64 {
    let mut counts: HashMap<&K, f64> = HashMap::new();
    for k in shown {
        *counts.entry(k).or_default() += 1.0;
    }
    let mut values: Vec<f64> = counts.into_values().collect();
    values.resize(values.len().max(venue_count), 0.0);
    gini(&values)
}

/// Novelty: the mean self-information `-log2(n_i / user_count)` of the listed items,
/// where `item_users[i]` is how many users interacted with the i-th item. Items no one
/// touched count as touched by one user, so the value stays finite.
pub fn novelty(item_users: &[u64], user_count: u64) -> f64 {
    if item_users.is_empty() || user_count == 0 {
        return 0.0;
    }
    let users = user_count as f64;
    item_users
        .iter()
        .map(|&n| -((n.max(1) as f64 / users).min(1.0)).log2())
        .sum::<f64>()
        / item_users.len() as f64
}

/// Calibration miscalibration: `KL(p ‖ q̃)` in nats between the user's category mix `p`
/// (weights, normalised here; e.g. a profile's affinities) and the page's category mix
/// `q`, smoothed as `q̃ = (1 − α) q + α p` with α = [`CALIBRATION_ALPHA`]. 0 when the page
/// mirrors the profile; larger when it drifts away. `0.0` for an empty profile.
pub fn calibration_kl<S: AsRef<str>>(profile: &HashMap<String, f64>, page: &[S]) -> f64 {
    let total: f64 = profile.values().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let q = category_mix(page);
    profile
        .iter()
        .filter(|(_, w)| **w > 0.0)
        .map(|(cat, w)| {
            let p = w / total;
            let q = (1.0 - CALIBRATION_ALPHA) * q.get(cat).copied().unwrap_or(0.0)
                + CALIBRATION_ALPHA * p;
            p * (p / q).ln()
        })
        .sum()
}

/// Recall@k: the share of the relevant items found among the first `k` ranked ones.
/// `0.0` when nothing is relevant.
pub fn recall_at_k<I: Eq + Hash>(ranked: &[I], relevant: &[I], k: usize) -> f64 {
    let relevant: HashSet<&I> = relevant.iter().collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let hits: HashSet<&I> = ranked
        .iter()
        .take(k)
        .filter(|i| relevant.contains(i))
        .collect();
    hits.len() as f64 / relevant.len() as f64
}

/// NDCG@k with binary relevance: `Σ 1/log2(rank + 1)` over relevant items in the first
/// `k` (rank from 1; a repeated item counts once), divided by the same sum for an ideal
/// list with every relevant item first. `0.0` when nothing is relevant.
pub fn ndcg_at_k<I: Eq + Hash>(ranked: &[I], relevant: &[I], k: usize) -> f64 {
    let relevant: HashSet<&I> = relevant.iter().collect();
    if relevant.is_empty() {
        return 0.0;
    }
    let mut seen = HashSet::new();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .filter(|(_, i)| relevant.contains(i) && seen.insert(*i))
        .map(|(pos, _)| 1.0 / ((pos + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(k))
        .map(|pos| 1.0 / ((pos + 2) as f64).log2())
        .sum();
    dcg / ideal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn ild_is_the_mean_pairwise_dissimilarity() {
        // Pairs: (A,A) 0, (A,B) 1, (A,B) 1 → 2/3.
        close(category_ild(&["A", "A", "B"]), 2.0 / 3.0);
        close(category_ild(&["A"]), 0.0);
        let ild = intra_list_diversity(&[0.0, 0.5, 1.0], |a: &f64, b: &f64| 1.0 - (a - b).abs());
        // Dissimilarities 0.5, 1.0, 0.5 → 2/3.
        close(ild, 2.0 / 3.0);
    }

    #[test]
    fn entropy_in_bits() {
        close(category_entropy(&["A", "A", "B", "C"]), 1.5);
        close(category_entropy(&["A", "A"]), 0.0);
        close(category_entropy(&["A", "B", "C", "D"]), 2.0);
        close(category_entropy::<&str>(&[]), 0.0);
    }

    #[test]
    fn coverage_counts_distinct_items_over_lists() {
        let lists = [vec![1, 2, 3], vec![3, 4]];
        close(catalogue_coverage(&lists, 10), 0.4);
        close(catalogue_coverage::<u32, Vec<u32>>(&[], 10), 0.0);
    }

    #[test]
    fn gini_of_exposure() {
        close(gini(&[1.0, 1.0, 1.0]), 0.0);
        // Sorted [0, 0, 1, 3]: (1·1 + 3·3) / (4 · 4) = 10/16.
        close(gini(&[3.0, 0.0, 1.0, 0.0]), 0.625);
        // Venue 7 shown 3 times, venue 8 once, two venues never: same as above.
        close(exposure_gini(&[7, 7, 8, 7], 4), 0.625);
        close(gini(&[0.0, 0.0]), 0.0);
    }

    #[test]
    fn novelty_is_mean_self_information() {
        // 8 users; items touched by 1, 2 and 8 users: (3 + 2 + 0) / 3 bits.
        close(novelty(&[1, 2, 8], 8), 5.0 / 3.0);
        // Untouched items count as touched once.
        close(novelty(&[0], 8), 3.0);
    }

    #[test]
    fn calibration_kl_against_a_hand_computed_value() {
        let profile = HashMap::from([("A".to_string(), 1.0), ("B".to_string(), 1.0)]);
        // p = (½, ½); q = (1, 0) → q̃ = (0.995, 0.005);
        // KL = ½ ln(0.5/0.995) + ½ ln(0.5/0.005) = 1.9585177736…
        close(calibration_kl(&profile, &["A", "A"]), 1.958_517_773_625_845);
        // A page that mirrors the profile is calibrated.
        close(calibration_kl(&profile, &["A", "B"]), 0.0);
        close(calibration_kl(&HashMap::new(), &["A"]), 0.0);
    }

    #[test]
    fn recall_and_ndcg_at_k() {
        let ranked = ["a", "b", "c", "d"];
        let relevant = ["b", "d", "e"];
        close(recall_at_k(&ranked, &relevant, 4), 2.0 / 3.0);
        close(recall_at_k(&ranked, &relevant, 2), 1.0 / 3.0);
        // DCG = 1/log2(3) + 1/log2(5); ideal = 1 + 1/log2(3) + 1/log2(4).
        close(ndcg_at_k(&ranked, &relevant, 4), 0.498_189_257_466_412_85);
        close(ndcg_at_k(&["b", "d", "e"], &relevant, 3), 1.0);
        close(ndcg_at_k(&ranked, &[] as &[&str], 4), 0.0);
    }
}
