//! Gini and catalogue coverage exactly as the ranking crate's `metrics` module defines
//! them (same formulas, same edge cases). Stand-in until that module is on main; then
//! this file goes and `compute` calls `ranking::metrics` directly.
use std::collections::HashSet;
use std::hash::Hash;
/// Share of a catalogue of `catalogue_size` items found in at least one list.
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
/// Gini of non-negative values: 0 when equal, near 1 when one holds everything.
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
