//! How alike two offers are: the kernel of MMR and DPP, and the distance of
//! intra-list diversity.

use crate::embedding::cosine;
use crate::intern::{Codes, NO_VENUE};
use crate::score::dot;
use crate::Candidate;

/// Weights of what two offers may share. The similarity of two distinct offers is
/// `category·[same category] + subcategory·[same subcategory] + venue·[same venue]
/// + embedding·cos(embeddings)`, and 1 for an offer with itself.
///
/// Each term is a Gram matrix (of one-hot or unit vectors), so with non-negative weights
/// summing to at most 1 the similarity matrix stays positive semi-definite, as the DPP
/// needs; weights summing to more are scaled down to sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimilarityWeights {
    /// Same category (default 0.7): the axis the feed must diversify first. A DPP's
    /// penalty for one more item of a category already on the page tends to
    /// `ln(1 − similarity)`, so this weight sets how strongly it pushes other categories.
    pub category: f64,
    /// Same subcategory (default 0.15).
    pub subcategory: f64,
    /// Same venue (default 0.05; the page rules already cap items per venue).
    pub venue: f64,
    /// Cosine of the embeddings, 0 when either is missing (default 0.1).
    pub embedding: f64,
}

impl Default for SimilarityWeights {
    fn default() -> Self {
        SimilarityWeights {
            category: 0.7,
            subcategory: 0.15,
            venue: 0.05,
            embedding: 0.1,
        }
    }
}

impl SimilarityWeights {
    /// The weights, clamped at 0 and scaled to sum to at most 1.
    fn normalised(&self) -> SimilarityWeights {
        let w = [self.category, self.subcategory, self.venue, self.embedding].map(|x| x.max(0.0));
        let sum: f64 = w.iter().sum();
        let k = if sum > 1.0 { 1.0 / sum } else { 1.0 };
        SimilarityWeights {
            category: w[0] * k,
            subcategory: w[1] * k,
            venue: w[2] * k,
            embedding: w[3] * k,
        }
    }

    /// The similarity of two offers, in `[-1, 1]` (negative only through opposed
    /// embeddings); 1 for equal ids.
    pub fn similarity(&self, a: &Candidate, b: &Candidate) -> f64 {
        if a.id == b.id {
            return 1.0;
        }
        let w = self.normalised();
        let mut s = 0.0;
        if a.category == b.category {
            s += w.category;
        }
        if a.subcategory == b.subcategory {
            s += w.subcategory;
        }
        if a.venue_id.is_some() && a.venue_id == b.venue_id {
            s += w.venue;
        }
        if let (Some(x), Some(y)) = (&a.embedding, &b.embedding) {
            s += w.embedding * cosine(x, y);
        }
        s
    }
}

/// The candidates' features in the shape the greedy loops read thousands of times:
/// interned codes and unit embeddings in one flat buffer.
pub(crate) struct Features<'a> {
    pub(crate) codes: Codes<'a>,
    /// Unit embeddings, `dim` floats each; zeros for a candidate without one.
    embedding: Vec<f32>,
    dim: usize,
    weights: SimilarityWeights,
}

impl<'a> Features<'a> {
    pub(crate) fn new(
        candidates: &[Candidate],
        codes: Codes<'a>,
        weights: &SimilarityWeights,
    ) -> Features<'a> {
        let weights = weights.normalised();
        let dim = if weights.embedding > 0.0 {
            candidates
                .iter()
                .filter_map(|c| c.embedding.as_ref().map(|e| e.len()))
                .max()
                .unwrap_or(0)
        } else {
            0
        };
        // Filled row by row rather than zeroed first: a feed's 2,300 rows are 300 KB.
        let mut embedding = Vec::with_capacity(dim * candidates.len());
        if dim > 0 {
            for c in candidates {
                let row = embedding.len();
                if let Some(e) = &c.embedding {
                    let norm = (dot(e, e) as f32).sqrt();
                    if norm > 0.0 {
                        embedding.extend(e.iter().map(|x| x / norm));
                    }
                }
                // Zeros for a candidate without one, and after a shorter one.
                embedding.resize(row + dim, 0.0);
            }
        }
        Features {
            codes,
            embedding,
            dim,
            weights,
        }
    }

    /// The least similarity two distinct candidates can have when they share their
    /// category, and when they share their category and subcategory: those weights, less
    /// the embedding's when the cosine may be −1.
    pub(crate) fn same_code_floors(&self) -> (f64, f64) {
        let w = &self.weights;
        let opposed = if self.dim > 0 { w.embedding } else { 0.0 };
        (w.category - opposed, w.category + w.subcategory - opposed)
    }

    /// Similarity of candidates `i` and `j` (see [`SimilarityWeights`]).
    #[inline]
    pub(crate) fn sim(&self, i: usize, j: usize) -> f64 {
        self.of(i).to(j)
    }

    /// Candidate `i`'s similarities to others, its features read once: the DPP brings a
    /// candidate up to date against every page item in a row.
    #[inline]
    pub(crate) fn of(&self, i: usize) -> Similarities<'_> {
        Similarities {
            features: self,
            i,
            category: self.codes.category[i],
            subcategory: self.codes.subcategory[i],
            venue: self.codes.venue[i],
            embedding: &self.embedding[i * self.dim..(i + 1) * self.dim],
        }
    }
}

/// One candidate's similarities to the others ([`Features::of`]).
pub(crate) struct Similarities<'f> {
    features: &'f Features<'f>,
    i: usize,
    category: u32,
    subcategory: u32,
    venue: u32,
    embedding: &'f [f32],
}

impl Similarities<'_> {
    /// The similarity to candidate `j`; the same terms added in the same order whichever
    /// of the two is asked about, so `of(i).to(j) == of(j).to(i)` exactly.
    ///
    /// Always inlined: the DPP's refresh calls it some 14,000 times a feed, and as a call
    /// it read the features' fields and checked their bounds again each time.
    #[inline(always)]
    pub(crate) fn to(&self, j: usize) -> f64 {
        if j == self.i {
            return 1.0;
        }
        let f = self.features;
        let (w, c) = (&f.weights, &f.codes);
        let mut s = 0.0;
        if self.category == c.category[j] {
            s += w.category;
        }
        if self.subcategory == c.subcategory[j] {
            s += w.subcategory;
        }
        if self.venue != NO_VENUE && self.venue == c.venue[j] {
            s += w.venue;
        }
        if f.dim > 0 {
            let b = &f.embedding[j * f.dim..(j + 1) * f.dim];
            s += w.embedding * dot(self.embedding, b);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer<'a>(
        id: u64,
        cat: &'a str,
        sub: &'a str,
        venue: Option<u64>,
        emb: Option<&'a [f32]>,
    ) -> Candidate<'a> {
        Candidate {
            id,
            category: cat,
            subcategory: sub,
            venue_id: venue,
            embedding: emb,
            ..Candidate::default()
        }
    }

    #[test]
    fn similarity_adds_what_two_offers_share() {
        let w = SimilarityWeights::default();
        let a = offer(1, "CINEMA", "SEANCE", Some(3), Some(&[1.0, 0.0]));
        let b = offer(2, "CINEMA", "SEANCE", Some(3), Some(&[2.0, 0.0]));
        let c = offer(3, "CINEMA", "FESTIVAL", None, Some(&[0.0, 1.0]));
        let d = offer(4, "LIVRE", "PAPIER", None, None);
        assert!((w.similarity(&a, &b) - 1.0).abs() < 1e-9);
        assert!((w.similarity(&a, &c) - 0.7).abs() < 1e-9);
        assert_eq!(w.similarity(&c, &d), 0.0);
        assert_eq!(w.similarity(&a, &a), 1.0);
        let all = [a, b, c, d];
        let f = Features::new(&all, Codes::new(&all), &w);
        for i in 0..4 {
            for j in 0..4 {
                assert!((f.sim(i, j) - w.similarity(&all[i], &all[j])).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn weights_above_one_are_scaled_down() {
        let w = SimilarityWeights {
            category: 2.0,
            subcategory: 2.0,
            venue: 0.0,
            embedding: 0.0,
        };
        let a = offer(1, "A", "X", None, None);
        let b = offer(2, "A", "Y", None, None);
        assert!((w.similarity(&a, &b) - 0.5).abs() < 1e-9);
    }
}
