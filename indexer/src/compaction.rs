//! Which segments a compaction merges.
//!
//! The index is kept as `parts` large segments (one per core, so that a lone search
//! spreads over every core) and a tail of small ones that refreshes add, one per commit.
//! Searches pay for every segment they visit, so the tail is merged into one segment as
//! often as [`OfferIndex::compact`](crate::OfferIndex::compact) is called: that rewrites
//! only the offers changed since the last rewrite, a fraction of a second on the bench
//! world. Folding the tail into a large segment rewrites half the catalogue on two cores,
//! seconds of a core during which the feeds beside it queued (the load test's worst
//! p99s), so it waits until what the large segments hold for nothing, the tail and their
//! deleted documents, is worth a rewrite.

/// How much a compaction may rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The small segments only, merged together: a fraction of a second whatever is due.
    /// What a restart does before it serves, so that a rewrite that fell due while the
    /// last run was stopped does not delay its readiness by seconds.
    Tail,
    /// The large segments too, when what they hold for nothing is worth their rewrite.
    Full,
}

/// A committed segment as a compaction sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Segment<Id> {
    /// The segment's identity, given back in the groups to merge.
    pub id: Id,
    /// Documents searches see.
    pub docs: u32,
    /// Documents deleted since the segment was written: searches still walk past them.
    pub deleted: u32,
}

/// The large segments are rewritten once the tail and their deleted documents come to
/// this share of the smallest of them: an eighth, so that a search does at most an
/// eighth more work than on a compact index, and the bench world's half a million offers
/// a segment are rewritten once per some 60,000 changed offers.
const WASTE_SHARE: u64 = 8;

/// The groups of segments to merge, each into one segment, for an index kept as `parts`
/// large segments and at most one small one; empty when there is nothing worth merging.
/// Within [`Reach::Tail`], a large segment is never in a group.
pub(crate) fn plan<Id: Copy>(segments: &[Segment<Id>], parts: usize, reach: Reach) -> Vec<Vec<Id>> {
    let parts = parts.max(1);
    if segments.len() <= parts {
        return Vec::new();
    }
    let mut sorted = segments.to_vec();
    // Largest first, ties by position, so that the same index always gets the same plan.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.docs));
    let (large, tail) = sorted.split_at(parts);
    let smallest = large.iter().map(|s| u64::from(s.docs)).min().unwrap_or(0);
    let tail_docs: u64 = tail.iter().map(|s| u64::from(s.docs)).sum();
    let waste = tail_docs + large.iter().map(|s| u64::from(s.deleted)).sum::<u64>();
    if waste * WASTE_SHARE < smallest || reach == Reach::Tail {
        return if tail.len() > 1 {
            vec![tail.iter().map(|s| s.id).collect()]
        } else {
            Vec::new()
        };
    }
    if tail_docs < smallest {
        // Into the lightest large segment alone: rewriting the others too would double
        // the cost for a balance that one fold hardly changes (it adds the tail, about an
        // eighth of a segment when the tail is what made the rewrite worth it).
        let lightest = large[parts - 1].id;
        return vec![std::iter::once(lightest)
            .chain(tail.iter().map(|s| s.id))
            .collect()];
    }
    rebalance(&sorted, parts)
}

/// `parts` groups of about equal size (largest first, each to the lightest group so far),
/// leaving out the groups of one segment: there is nothing to merge in them.
fn rebalance<Id: Copy>(sorted: &[Segment<Id>], parts: usize) -> Vec<Vec<Id>> {
    let mut groups: Vec<(u64, Vec<Id>)> = (0..parts).map(|_| (0, Vec::new())).collect();
    for s in sorted {
        if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
            g.0 += u64::from(s.docs);
            g.1.push(s.id);
        }
    }
    groups
        .into_iter()
        .map(|g| g.1)
        .filter(|g| g.len() > 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u32, docs: u32, deleted: u32) -> Segment<u32> {
        Segment { id, docs, deleted }
    }

    #[test]
    fn a_small_tail_is_merged_without_touching_the_large_segments() {
        let segments = [
            seg(1, 500_000, 2_000),
            seg(2, 300, 0),
            seg(3, 490_000, 1_000),
            seg(4, 1_200, 0),
            seg(5, 40, 0),
        ];
        assert_eq!(plan(&segments, 2, Reach::Full), vec![vec![4, 2, 5]]);
    }

    #[test]
    fn a_lone_small_segment_beside_the_large_ones_is_left_alone() {
        let segments = [seg(1, 500_000, 0), seg(2, 490_000, 0), seg(3, 5_000, 0)];
        assert!(plan(&segments, 2, Reach::Full).is_empty());
        assert!(
            plan(&segments[..2], 2, Reach::Full).is_empty(),
            "already compact"
        );
    }

    #[test]
    fn a_tail_worth_an_eighth_of_a_large_segment_is_folded_into_them() {
        let segments = [
            seg(1, 500_000, 0),
            seg(2, 480_000, 0),
            seg(3, 40_000, 0),
            seg(4, 20_000, 0),
        ];
        // 60,000 of 480,000: the tail joins the lighter large segment.
        assert_eq!(plan(&segments, 2, Reach::Full), vec![vec![2, 3, 4]]);
        let fewer = [
            segments[0],
            segments[1],
            seg(3, 40_000, 0),
            seg(4, 19_000, 0),
        ];
        assert_eq!(
            plan(&fewer, 2, Reach::Full),
            vec![vec![3, 4]],
            "59,000 is not yet worth it"
        );
    }

    #[test]
    fn within_the_tail_a_due_rewrite_merges_the_tail_alone() {
        let segments = [
            seg(1, 500_000, 0),
            seg(2, 480_000, 0),
            seg(3, 40_000, 0),
            seg(4, 20_000, 0),
        ];
        assert_eq!(plan(&segments, 2, Reach::Tail), vec![vec![3, 4]]);
        let build: Vec<_> = (0..3).map(|i| seg(i, 80_000, 0)).collect();
        assert_eq!(
            plan(&build, 1, Reach::Tail),
            vec![vec![1, 2]],
            "the largest is left as it is"
        );
    }

    #[test]
    fn deleted_documents_count_towards_a_rewrite() {
        let segments = [
            seg(1, 500_000, 30_000),
            seg(2, 480_000, 30_000),
            seg(3, 1_000, 0),
        ];
        assert_eq!(plan(&segments, 2, Reach::Full), vec![vec![2, 3]]);
    }

    #[test]
    fn the_segments_of_a_build_are_balanced_into_parts() {
        let segments: Vec<_> = (0..12).map(|i| seg(i, 80_000 + i * 1_000, 0)).collect();
        let groups = plan(&segments, 2, Reach::Full);
        assert_eq!(groups.len(), 2);
        let docs = |g: &Vec<u32>| -> u32 { g.iter().map(|&i| segments[i as usize].docs).sum() };
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 12);
        assert!(docs(&groups[0]).abs_diff(docs(&groups[1])) <= 11_000);
    }

    #[test]
    fn one_part_merges_everything() {
        let segments = [seg(1, 10, 0), seg(2, 3, 0), seg(3, 7, 0)];
        assert_eq!(plan(&segments, 1, Reach::Full), vec![vec![1, 3, 2]]);
        assert_eq!(
            plan(&segments, 0, Reach::Full),
            vec![vec![1, 3, 2]],
            "at least one part"
        );
    }
}
