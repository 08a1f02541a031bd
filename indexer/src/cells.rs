//! Per-cell offer counts, so that a large disk is counted without visiting its offers.
//!
//! A search without text around Paris at 50 km matches some 170,000 offers; visiting each
//! one only to count it (and its category, for the facets) was most of its time. The
//! offers of a cell wholly inside the disk need no distance test, so their count is all
//! the search needs from them, unless they could make the page.
//!
//! Counts are kept per segment (a segment's documents never change) and per cell, split
//! by category ordinal and sold-out flag (a stock change re-adds the offer, so the flag
//! never changes in place either). They are filled the first time a search needs a cell,
//! from its postings, deleted documents included. Deletes do change: the documents
//! deleted since are subtracted, per cell, from counts kept beside, which grow as the
//! segment's deletes do (a segment only ever loses documents).

use std::sync::{Arc, Mutex, RwLock};

use rustc_hash::{FxHashMap, FxHashSet};
use tantivy::postings::SegmentPostings;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocId, DocSet, SegmentReader, Term, TERMINATED};

use crate::collect::Columns;
use crate::cover::cells_of;
use crate::per_segment::PerSegment;

/// A segment with fewer offers than this many per cell of the cover is scanned whole
/// instead: looking a cell up costs about as much as testing that many offers.
pub(crate) const DOCS_PER_CELL: u64 = 20;

/// The count key of the digital offers, which have no cell: counted as one more cell, they
/// let a search that includes them count them too. No H3 index has every bit set.
pub(crate) const DIGITAL: u64 = u64::MAX;

/// How many cells' counts a segment keeps (a few hundred bytes each).
const CELLS_KEPT: usize = 100_000;

/// The count of one cell (or one segment's deleted documents in it), by slot: see
/// [`Slots`].
type Counts = Arc<[u32]>;

/// Where an offer is counted: two slots per category ordinal of the segment (available,
/// sold out), then two for offers without a category.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slots {
    categories: usize,
}

impl Slots {
    pub(crate) fn new(categories: usize) -> Self {
        Slots { categories }
    }

    /// Number of slots.
    pub(crate) fn len(self) -> usize {
        2 * (self.categories + 1)
    }

    /// The slot of an offer.
    pub(crate) fn of(self, category: Option<u64>, sold_out: bool) -> usize {
        let category = category
            .and_then(|c| usize::try_from(c).ok())
            .filter(|&c| c < self.categories)
            .unwrap_or(self.categories);
        2 * category + usize::from(sold_out)
    }

    /// The category ordinal of a slot (`None` for offers without one) and its sold-out flag.
    pub(crate) fn split(self, slot: usize) -> (Option<usize>, bool) {
        let category = slot / 2;
        (
            (category < self.categories).then_some(category),
            slot % 2 == 1,
        )
    }
}

/// The fields whose terms a count reads: a cell's in the H3 field, [`DIGITAL`]'s in the
/// digital flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CountTerms {
    pub h3: Field,
    pub digital: Field,
}

impl CountTerms {
    /// The offers of `cell` in `segment`, deleted ones included; `None` if it has none.
    pub(crate) fn postings(
        self,
        segment: &SegmentReader,
        cell: u64,
    ) -> tantivy::Result<Option<SegmentPostings>> {
        let term = if cell == DIGITAL {
            Term::from_field_bool(self.digital, true)
        } else {
            Term::from_field_u64(self.h3, cell)
        };
        Ok(segment
            .inverted_index(term.field())?
            .read_postings(&term, IndexRecordOption::Basic)?)
    }
}

/// Every segment's counts.
pub(crate) type CellCountCache = PerSegment<SegmentCounts>;

impl SegmentCounts {
    /// Empty counts for a segment whose categories fill `slots`.
    pub(crate) fn new(slots: Slots) -> Self {
        SegmentCounts {
            slots,
            base: RwLock::default(),
            deleted: Mutex::default(),
        }
    }
}

/// One segment's counts.
pub(crate) struct SegmentCounts {
    slots: Slots,
    /// Per cell, over every document of the segment, deleted ones included.
    base: RwLock<FxHashMap<u64, Counts>>,
    /// The deleted documents, as of the most deletes seen so far.
    deleted: Mutex<Arc<Deleted>>,
}

/// A segment's deleted documents and their counts per cell (at every resolution).
#[derive(Default, Clone)]
pub(crate) struct Deleted {
    docs: FxHashSet<DocId>,
    by_cell: FxHashMap<u64, Vec<u32>>,
}

impl Deleted {
    /// Adds the documents `segment` has deleted that are not here yet.
    fn extend(&mut self, segment: &SegmentReader, cols: &Columns, slots: Slots) {
        let Some(alive) = segment.alive_bitset() else {
            return;
        };
        for doc in 0..segment.max_doc() {
            if alive.is_alive(doc) || !self.docs.insert(doc) {
                continue;
            }
            let slot = cols.slot(slots, doc);
            let by_cell = &mut self.by_cell;
            let mut add = |cell| {
                by_cell.entry(cell).or_insert_with(|| vec![0; slots.len()])[slot] += 1;
            };
            match cols.place(doc) {
                // The cells the document was indexed with, from the same coordinates.
                Some(place) => cells_of(place.point()).for_each(add),
                // Only digital offers have no location.
                None => add(DIGITAL),
            }
        }
    }
}

impl SegmentCounts {
    /// The deleted documents of `segment` (this segment, as one searcher sees it).
    pub(crate) fn deleted(&self, segment: &SegmentReader, cols: &Columns) -> Arc<Deleted> {
        let mut latest = self.deleted.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = segment.num_deleted_docs() as usize;
        if latest.docs.len() == wanted {
            return latest.clone();
        }
        if latest.docs.len() < wanted {
            // Copied only if a search still reads the previous state.
            Arc::make_mut(&mut *latest).extend(segment, cols, self.slots);
            return latest.clone();
        }
        // An older searcher, with fewer deletes than a newer one already saw.
        drop(latest);
        let mut older = Deleted::default();
        older.extend(segment, cols, self.slots);
        Arc::new(older)
    }

    /// Calls `f(slot, n)` for each slot holding `n > 0` live offers of `cell` (or of
    /// [`DIGITAL`]) in `segment`.
    pub(crate) fn count(
        &self,
        segment: &SegmentReader,
        terms: CountTerms,
        cell: u64,
        cols: &Columns,
        deleted: &Deleted,
        mut f: impl FnMut(usize, u32),
    ) -> tantivy::Result<()> {
        let cached = self
            .base
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&cell)
            .cloned();
        let base = match cached {
            Some(base) => base,
            None => {
                let base = self.fill(segment, terms, cell, cols)?;
                let mut cached = self.base.write().unwrap_or_else(|e| e.into_inner());
                // Beyond the bound, start again rather than track which cells are used:
                // a load test over the whole country grew them by a gigabyte.
                if cached.len() >= CELLS_KEPT {
                    cached.clear();
                }
                cached.insert(cell, base.clone());
                base
            }
        };
        let dead = deleted.by_cell.get(&cell);
        for (slot, &n) in base.iter().enumerate() {
            let d = dead.and_then(|d| d.get(slot)).copied().unwrap_or(0);
            let n = n.saturating_sub(d);
            if n > 0 {
                f(slot, n);
            }
        }
        Ok(())
    }

    fn fill(
        &self,
        segment: &SegmentReader,
        terms: CountTerms,
        cell: u64,
        cols: &Columns,
    ) -> tantivy::Result<Counts> {
        let mut counts = vec![0u32; self.slots.len()];
        if let Some(mut postings) = terms.postings(segment, cell)? {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                counts[cols.slot(self.slots, doc)] += 1;
                doc = postings.advance();
            }
        }
        Ok(counts.into())
    }
}
