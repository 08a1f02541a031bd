//! A filter on a set of terms that reads each term's postings once.

use std::sync::Arc;

use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, Term, TERMINATED};
use tantivy_common::BitSet;

use crate::collect::ColumnCache;

/// The documents holding any of a set of terms, scoring a constant: the H3 cells of a
/// disk, with the digital offers when they bypass it.
///
/// A union of one term query per cell walks every cell's postings in step and compares
/// their heads at each document it yields: with the hundred or so cells of a large disk
/// around Paris, that was most of a text search there. This filter pours each term's
/// postings into a bitset of the segment once (a few nanoseconds per document), and the
/// search then walks the bitset. Unlike tantivy's term set, it looks each term up
/// instead of streaming the field's whole dictionary.
///
/// The digital offers come from a copy of each segment's bitset of them, kept with its
/// columns, rather than from their term: they are an eighth of the bench world's offers, and
/// pouring their postings into every search's bitset was most of the filter's time.
#[derive(Clone)]
pub(crate) struct TermFilter {
    terms: Arc<[Term]>,
    /// Where digital offers pass too, the columns that list them.
    digital: Option<Arc<ColumnCache>>,
}

impl TermFilter {
    /// The documents holding any of `terms` (of any fields).
    pub(crate) fn new(terms: impl IntoIterator<Item = Term>) -> Self {
        TermFilter {
            terms: terms.into_iter().collect(),
            digital: None,
        }
    }

    /// The same, with every digital offer of `columns`' segments.
    pub(crate) fn with_digital(self, columns: Arc<ColumnCache>) -> Self {
        TermFilter {
            digital: Some(columns),
            ..self
        }
    }
}

impl std::fmt::Debug for TermFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermFilter")
            .field("terms", &self.terms)
            .field("digital", &self.digital.is_some())
            .finish()
    }
}

impl Query for TermFilter {
    fn weight(&self, _: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for TermFilter {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut docs = match &self.digital {
            Some(columns) => columns.of(reader)?.digital().clone(),
            None => BitSet::with_max_value(reader.max_doc()),
        };
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

#[cfg(test)]
mod tests {
    use tantivy::schema::{Schema, INDEXED};
    use tantivy::{doc, Index};

    use super::*;

    /// The filter yields exactly the documents holding one of its terms, by `advance`
    /// and by `seek`: runs far apart, a term whose documents start late in the segment,
    /// and terms no document holds.
    #[test]
    fn yields_the_documents_of_its_terms_wherever_they_lie() {
        let mut schema = Schema::builder();
        let cell = schema.add_u64_field("cell", INDEXED);
        let index = Index::create_in_ram(schema.build());
        let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
        let cell_of = |doc: u64| match doc {
            0..300 => doc % 3,
            300..9_700 => 5,
            _ => 10 + doc % 3,
        };
        for d in 0..10_000 {
            writer.add_document(doc!(cell => cell_of(d))).unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let segment = searcher.segment_reader(0);
        assert_eq!(segment.max_doc(), 10_000);
        for cells in [vec![0, 10], vec![5], vec![1, 12], vec![12], vec![7], vec![]] {
            let expected: Vec<DocId> = (0..10_000u32)
                .filter(|&d| cells.contains(&cell_of(u64::from(d))))
                .collect();
            let filter = TermFilter::new(cells.iter().map(|&c| Term::from_field_u64(cell, c)));
            let mut scorer = filter.scorer(segment, 1.0).unwrap();
            let mut seen = Vec::new();
            while scorer.doc() != TERMINATED {
                seen.push(scorer.doc());
                scorer.advance();
            }
            assert_eq!(seen, expected, "cells {cells:?}");
            for target in [
                0, 1, 64, 299, 300, 4_096, 5_000, 9_699, 9_700, 9_763, 9_999, 10_000,
            ] {
                let mut scorer = filter.scorer(segment, 1.0).unwrap();
                if target < scorer.doc() {
                    // Seeking back is not a docset's contract.
                    continue;
                }
                let want = expected
                    .iter()
                    .copied()
                    .find(|&d| d >= target)
                    .unwrap_or(TERMINATED);
                assert_eq!(scorer.seek(target), want, "cells {cells:?}, seek {target}");
                assert_eq!(scorer.doc(), want);
                // And on from there.
                let next = expected
                    .iter()
                    .copied()
                    .find(|&d| d > want)
                    .unwrap_or(TERMINATED);
                if want != TERMINATED {
                    assert_eq!(scorer.advance(), next, "cells {cells:?}, after {want}");
                }
            }
        }
    }
}
