//! The best `k` of a stream of items, kept loosely.

/// The best (smallest) `k` items offered so far, among at most `2k - 1` kept.
///
/// A binary heap of the best `k` sifts most items through its log₂ k levels when they
/// arrive worst last, as a nearest-first search offers them: eleven levels of 48-byte
/// moves for each of a feed's first 2,000 offers. Here an item is pushed on a buffer,
/// and when the buffer holds `2k` a selection keeps the best `k`: O(1) amortised. From
/// the `k`-th item on, the worst of a set of `k` seen so far is a bound that turns away
/// at once any item no better, as a full heap's top does.
pub(crate) struct TopK<T> {
    items: Vec<T>,
    k: usize,
    bound: Option<T>,
}

/// The largest `k` whose whole buffer, `2k` items, is reserved up front.
const MAX_RESERVED: usize = 4_096;

impl<T: Ord + Copy> TopK<T> {
    /// An empty set that will keep the best `k`.
    pub(crate) fn new(k: usize) -> TopK<T> {
        TopK {
            // Room for the whole buffer at once: grown by doubling, a feed's 4,000 items
            // were copied three times over. Capped for the deep pages of a search.
            items: Vec::with_capacity(2 * k.min(MAX_RESERVED)),
            k,
            bound: None,
        }
    }

    /// Keeps `item` if it may be among the best `k`.
    pub(crate) fn offer(&mut self, item: T) {
        if self.k == 0 || self.bound.is_some_and(|b| item >= b) {
            return;
        }
        self.items.push(item);
        if self.bound.is_none() && self.items.len() == self.k {
            self.bound = self.items.iter().max().copied();
        } else if self.items.len() == 2 * self.k {
            let (_, worst, _) = self.items.select_nth_unstable(self.k - 1);
            self.bound = Some(*worst);
            self.items.truncate(self.k);
        }
    }

    /// Once `k` items were offered: an item that is not better than this one cannot be
    /// among the best `k`.
    pub(crate) fn bound(&self) -> Option<&T> {
        self.bound.as_ref()
    }

    /// The items kept, in no order: the best `k` offered (all of them if fewer), and
    /// perhaps others.
    pub(crate) fn into_vec(self) -> Vec<T> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn keeps_the_best_k_of_any_stream() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..500 {
            let k = rng.gen_range(0..40);
            let n = rng.gen_range(0..200);
            // Ascending streams (the nearest-first searches), descending ones and random
            // ones, with repeats.
            let mut items: Vec<u32> = (0..n).map(|_| rng.gen_range(0..60)).collect();
            match round % 3 {
                0 => items.sort_unstable(),
                1 => items.sort_unstable_by(|a, b| b.cmp(a)),
                _ => {}
            }
            let mut top = TopK::new(k);
            for (i, &item) in items.iter().enumerate() {
                top.offer(item);
                if i + 1 >= k && k > 0 {
                    let mut seen = items[..=i].to_vec();
                    seen.sort_unstable();
                    assert!(
                        top.bound().is_some_and(|b| *b >= seen[k - 1]),
                        "the bound never turns away one of the best k"
                    );
                } else {
                    assert!(top.bound().is_none());
                }
            }
            let mut kept = top.into_vec();
            assert!(kept.len() < 2 * k.max(1));
            kept.sort_unstable();
            kept.truncate(k);
            let mut best = items.clone();
            best.sort_unstable();
            best.truncate(k);
            assert_eq!(kept, best, "k {k}, stream {items:?}");
        }
    }
}
