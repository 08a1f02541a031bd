//! A filter on a set of terms that reads each term's postings once.

use std::sync::Arc;

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term, TERMINATED};
use tantivy_common::BitSet;

/// The documents holding any of a set of terms, scoring a constant: the H3 cells of a
/// disk, and the digital flag when digital offers bypass it.
///
/// A union of one term query per cell walks every cell's postings in step and compares
/// their heads at each document it yields: with the hundred or so cells of a large disk
/// around Paris, that was most of a text search there. This filter pours each term's
/// postings into a bitset of the segment once (a few nanoseconds per document), and the
/// search then walks the bitset. Unlike tantivy's term set, it looks each term up
/// instead of streaming the field's whole dictionary.
#[derive(Clone, Debug)]
pub(crate) struct TermFilter {
    terms: Arc<[Term]>,
}

impl TermFilter {
    /// The documents holding any of `terms` (of any fields).
    pub(crate) fn new(terms: impl IntoIterator<Item = Term>) -> Self {
        TermFilter {
            terms: terms.into_iter().collect(),
        }
    }
}

impl Query for TermFilter {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for TermFilter {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = BitSet::with_max_value(reader.max_doc());
        for term in self.terms.iter() {
            let inverted = reader.inverted_index(term.field())?;
            if let Some(mut postings) = inverted.read_postings(term, IndexRecordOption::Basic)? {
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    docs.insert(doc);
                    doc = postings.advance();
                }
            }
        }
        Ok(Box::new(ConstScorer::new(BitSetDocSet::from(docs), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} holds none of the terms"
            )));
        }
        Ok(Explanation::new("TermFilter", scorer.score()))
    }
}
