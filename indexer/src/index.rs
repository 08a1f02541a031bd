//! The index handle: writing, committing, searching.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::collector::Collector;
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::query::EnableScoring;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, Occur, Query as TantivyQuery, TermQuery, TermSetQuery,
};
use tantivy::schema::IndexRecordOption;
use tantivy::{
    DocAddress, DocSet, Executor, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy,
    Searcher, TantivyDocument, Term, TERMINATED,
};

use crate::analysis::{french_analyzer, text_query, FRENCH};
use crate::cells::{CellCountCache, CountTerms, DOCS_PER_CELL};
use crate::collect::{ColumnCache, Harvest, OfferCollector};
use crate::compaction::{plan, Reach, Segment};
use crate::cover::{disk_cover, CoverCell};
use crate::query::{DigitalMode, GeoPlan, Plan, Query};
use crate::schema::{build_schema, Fields};
use crate::term_filter::TermFilter;
use crate::{GeoPoint, IndexError, OfferDoc};

/// Writer memory budget per indexing thread (tantivy needs at least 15 MB).
const WRITER_HEAP_PER_THREAD: usize = 25_000_000;
/// Indexing threads, at most; the budget is 25 MB per thread (50–100 MB).
const MAX_WRITER_THREADS: usize = 4;

/// Bytes of stored documents compressed together (tantivy's default is 16 KiB). A card
/// reads one random offer's document, and decompressing a whole block for it was 4 % of
/// a feed's CPU; smaller blocks cost some compression on disk.
const DOCSTORE_BLOCK_BYTES: usize = 4_096;

/// The settings of a new index; one on disk with others is rebuilt, since its stored
/// documents keep the block size they were written with through merges.
fn settings() -> IndexSettings {
    IndexSettings {
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..IndexSettings::default()
    }
}

/// How many times [`OfferIndex::compact`] regroups segments held by background merges.
const COMPACT_ATTEMPTS: usize = 50;

/// What [`OfferIndex::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Documents written into merged segments: 0 when nothing was worth merging, those of
    /// the small segments when only they were, and half the catalogue on two cores more
    /// when a large one was rewritten.
    pub rewritten: u64,
    /// Segments searches visit now.
    pub segments: usize,
    /// A large segment's rewrite was due but out of [`Reach::Tail`]'s reach: a compaction
    /// of [`Reach::Full`] does it.
    pub deferred: bool,
}

/// Radius of the first disk a nearest-first search tries (see [`Query::exact_total`]).
const NEAREST_FIRST_START_M: f64 = 1_000.0;
/// Each next disk's radius over the last's when the cells' counts do not say how short
/// the last one fell, and the least growth when they do ([`growth`]). Offers grow with the
/// area, so the disks searched in vain cost a third of the last one at most, and the last
/// holds at most four times the offers the page needed (sixteen times with a growth of 4,
/// which a profile of the bench world's feeds showed to cost more than the extra searches,
/// before the counts shrank disks).
const NEAREST_FIRST_GROWTH: f64 = 2.0;

/// The next disk's radius over the last's, at most, when the cells' counts say how few
/// offers the last one held: see [`growth`].
const NEAREST_FIRST_MAX_GROWTH: f64 = 4.0;

/// What the cells' counts say of a disk ([`OfferIndex::radius_holding`]).
enum Holding {
    /// The smallest disk, at most the one counted, that holds the page: its radius.
    Within(f64),
    /// The cells wholly inside the disk hold only this many offers.
    Short(u64),
}

/// How much larger the next nearest-first disk is, given what the cells' counts said of
/// the last one (`holding`) and the `wanted` offers: by what it lacked when it was
/// [`Holding::Short`]; by [`NEAREST_FIRST_GROWTH`] when it was not counted, or was counted
/// enough but searched short.
///
/// Offers grow with the area, so a disk holding a ninth of the page needs about three
/// times its radius: the next disk is that, a quarter more for the offers near its edge,
/// at least [`NEAREST_FIRST_GROWTH`] and at most [`NEAREST_FIRST_MAX_GROWTH`]. Doubling
/// alone made a 30 km feed try 3.8 disks on average, each with its own cover and counts;
/// a larger jump costs little, as the counts shrink the disk found to the cells that hold
/// the page, though its cover's coarser cells hold it less tightly (on the bench world's
/// feeds, a cap of eight instead of four saved 0.2 % more of a first page's instructions
/// and tested 11 % more offers).
fn growth(holding: &Holding, wanted: usize) -> f64 {
    match *holding {
        Holding::Short(held) => ((wanted as f64 / held.max(1) as f64).sqrt() * 1.25)
            .clamp(NEAREST_FIRST_GROWTH, NEAREST_FIRST_MAX_GROWTH),
        Holding::Within(_) => NEAREST_FIRST_GROWTH,
    }
}

/// One search result, with the offer's fast-field values so that callers can
/// re-rank thousands of candidates without fetching stored documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Offer id.
    pub id: u64,
    /// BM25 text score (field-boosted); 0 when the query has no text.
    pub score: f32,
    /// Great-circle distance in metres to the geo filter's centre (the box
    /// centre for bounding boxes); `None` for digital offers or without geo
    /// filter.
    pub distance_m: Option<f64>,
    /// Category code (shared by every hit of the process that has it).
    pub category: &'static str,
    /// Subcategory code (shared likewise).
    pub subcategory: &'static str,
    /// Venue id.
    pub venue_id: Option<u64>,
    /// Offerer id.
    pub offerer_id: u64,
    /// Location; `None` for digital offers.
    pub location: Option<GeoPoint>,
    /// Lowest bookable price, in cents.
    pub price_cents: u64,
    /// Duo offer.
    pub is_duo: bool,
    /// Event offer.
    pub is_event: bool,
    /// Next event date, unix seconds.
    pub next_beginning_at: Option<i64>,
    /// Bookings count.
    pub popularity: u64,
    /// Places left; `None` when unlimited.
    pub remaining_places: Option<u64>,
    /// Where the stored document is, in the searcher that found the hit.
    pub(crate) address: DocAddress,
}

/// Number of matching offers in one category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryFacet {
    /// Category code.
    pub category: String,
    /// Matching offers (all pages) in that category.
    pub count: u64,
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    /// The requested page, best first.
    pub hits: Vec<Hit>,
    /// Number of matching offers over all pages.
    pub total: usize,
    /// Per-category counts over all matching offers, by descending count then
    /// category; empty unless [`Query::facets`] was set.
    pub facets: Vec<CategoryFacet>,
    /// The index as the search saw it, so stored documents of the hits can be
    /// read without looking them up again, even after later commits.
    snapshot: Snapshot,
}

/// A searcher kept alive with the results; results compare equal whatever it is.
#[derive(Clone, Default)]
struct Snapshot(Option<(Searcher, Fields)>);

impl PartialEq for Snapshot {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Snapshot")
    }
}

impl SearchResults {
    /// The stored document of one of these hits (title, description, venue name…),
    /// read directly from where the search found it: no term lookup, so a page of
    /// cards costs one document read per card.
    pub fn stored(&self, hit: &Hit) -> Result<OfferDoc, IndexError> {
        let Some((searcher, fields)) = &self.snapshot.0 else {
            return Err(IndexError::NoSnapshot);
        };
        let doc: TantivyDocument = searcher.doc(hit.address)?;
        OfferDoc::from_document(&doc, fields)
    }
}

/// Stored offers by id, from the state of the index it was made at
/// ([`OfferIndex::lookup`]).
pub struct Lookup {
    searcher: Searcher,
    fields: Fields,
}

impl Lookup {
    /// The stored offer with this id, if the index holds it. Reads the id's postings
    /// segment by segment: no query to weigh or score, for the one live document.
    pub fn get(&self, id: u64) -> Result<Option<OfferDoc>, IndexError> {
        let term = Term::from_field_u64(self.fields.id, id);
        for (ord, segment) in self.searcher.segment_readers().iter().enumerate() {
            let Some(mut postings) = segment
                .inverted_index(self.fields.id)?
                .read_postings(&term, IndexRecordOption::Basic)
                .map_err(tantivy::TantivyError::from)?
            else {
                continue;
            };
            let alive = segment.alive_bitset();
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    let stored: TantivyDocument =
                        self.searcher.doc(DocAddress::new(ord as u32, doc))?;
                    return OfferDoc::from_document(&stored, &self.fields).map(Some);
                }
                doc = postings.advance();
            }
        }
        Ok(None)
    }
}

/// The offer index. `Send + Sync`; share it behind an `Arc`.
///
/// Writes ([`upsert`](Self::upsert), [`delete`](Self::delete)) are buffered
/// until [`commit`](Self::commit), which makes them visible to searches
/// before it returns. Searches never wait for writers.
pub struct OfferIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    columns: Arc<ColumnCache>,
    /// Per-cell counts of the segments, for searches that count whole cells.
    cell_counts: CellCountCache,
    /// Runs the segments of a search that has the index to itself on every core.
    parallel: Executor,
    /// Searches running now.
    in_flight: AtomicUsize,
}

/// Counts a search as running while it lives.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, AtomicOrdering::Relaxed);
    }
}

impl std::fmt::Debug for OfferIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferIndex")
            .field("doc_count", &self.doc_count())
            .finish()
    }
}

impl OfferIndex {
    /// A fresh index in memory (tests, benchmarks, small deployments).
    pub fn in_ram() -> Result<Self, IndexError> {
        Self::from_index(
            Index::builder()
                .schema(build_schema())
                .settings(settings())
                .create_in_ram()?,
        )
    }

    /// Opens the index stored in `dir`, or creates an empty one there (the
    /// directory is created if needed).
    ///
    /// An existing index is checked (schema and file checksums); a corrupt or
    /// incompatible one is an error, and the caller decides to wipe and
    /// rebuild. Likewise, an empty index (see [`is_empty`](Self::is_empty))
    /// tells the caller to load the catalogue.
    pub fn open_or_create(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(tantivy::TantivyError::from)?;
        let directory = MmapDirectory::open(dir)?;
        let exists = Index::exists(&directory).map_err(tantivy::TantivyError::from)?;
        let index = if exists {
            let index = Index::open(directory)?;
            if index.schema() != build_schema() {
                return Err(IndexError::SchemaMismatch);
            }
            if index.settings() != &settings() {
                return Err(IndexError::SettingsMismatch);
            }
            let corrupt = index.validate_checksum()?;
            if !corrupt.is_empty() {
                return Err(IndexError::CorruptIndex(format!(
                    "bad checksums in {corrupt:?}"
                )));
            }
            index
        } else {
            Index::create(directory, build_schema(), settings())?
        };
        Self::from_index(index)
    }

    fn from_index(index: Index) -> Result<Self, IndexError> {
        index.tokenizers().register(FRENCH, french_analyzer());
        let fields = Fields::new(&index.schema())?;
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_WRITER_THREADS);
        let writer = index.writer_with_num_threads(threads, threads * WRITER_HEAP_PER_THREAD)?;
        // Manual reload: visibility is tied to `commit`, not to a timer.
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let index = OfferIndex {
            reader,
            writer: Mutex::new(writer),
            fields,
            columns: Arc::default(),
            cell_counts: CellCountCache::default(),
            parallel: Executor::multi_thread(threads, "mosaic-search-")?,
            in_flight: AtomicUsize::new(0),
        };
        index.read_columns()?;
        Ok(index)
    }

    /// Reads the columns of the segments searches see now, those not read yet (see
    /// [`Columns`]): a million offers take a tenth of a second, better spent at start-up
    /// or after a compaction than by the first search to meet them.
    fn read_columns(&self) -> Result<(), IndexError> {
        for segment in self.reader.searcher().segment_readers() {
            self.columns.of(segment)?;
        }
        Ok(())
    }

    fn writer(&self) -> Result<MutexGuard<'_, IndexWriter>, IndexError> {
        self.writer.lock().map_err(|_| IndexError::WriterPoisoned)
    }

    /// Number of searchable (committed, not deleted) offers.
    pub fn doc_count(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The ids of the committed offers in the order searches meet them: segment after
    /// segment, each in its documents' order, which a full build makes by place (see
    /// [`crate::spatial_key`]). Deleted documents are left out.
    pub fn doc_order(&self) -> Result<Vec<u64>, IndexError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let columns = self.columns.of(segment)?;
            let alive = segment.alive_bitset();
            ids.extend(
                (0..segment.max_doc())
                    .filter(|&doc| alive.is_none_or(|a| a.is_alive(doc)))
                    .map(|doc| columns.id(doc)),
            );
        }
        Ok(ids)
    }

    /// Merges the committed segments back into `parts` large ones and at most one small
    /// one, and waits for it. The small ones are merged together each time; a large one
    /// is rewritten only once the small ones and the documents deleted from the large
    /// ones come to an eighth of the smallest large one. A search looks each of its
    /// cells' terms up in every segment: after a full build left a dozen, that was most of
    /// a feed's candidate search on the bench world, and each refresh adds one. `parts` as
    /// many as cores keeps a lone search spread over them. Merges the writer started by
    /// itself may hold some segments for a while: those are waited for and the plan made
    /// again. Within [`Reach::Tail`], only the small ones are merged.
    pub fn compact(&self, parts: usize, reach: Reach) -> Result<Compacted, IndexError> {
        let mut attempts = 0;
        loop {
            self.reader.reload()?;
            let segments: Vec<Segment<SegmentId>> = self
                .reader
                .searcher()
                .index()
                .searchable_segment_metas()?
                .iter()
                .map(|m| Segment {
                    id: m.id(),
                    docs: m.num_docs(),
                    deleted: m.num_deleted_docs(),
                })
                .collect();
            let groups = plan(&segments, parts, reach);
            let deferred = reach == Reach::Tail && plan(&segments, parts, Reach::Full) != groups;
            if groups.is_empty() {
                return Ok(Compacted {
                    rewritten: 0,
                    segments: segments.len(),
                    deferred,
                });
            }
            let rewritten = segments
                .iter()
                .filter(|s| groups.iter().flatten().any(|id| *id == s.id))
                .map(|s| u64::from(s.docs))
                .sum();
            let merges: Vec<_> = {
                let mut writer = self.writer()?;
                groups.iter().map(|g| writer.merge(g)).collect()
            };
            let mut busy = false;
            for merge in merges {
                busy |= merge.wait().is_err();
            }
            if !busy {
                self.reader.reload()?;
                self.read_columns()?;
                return Ok(Compacted {
                    rewritten,
                    segments: self.segment_count(),
                    deferred,
                });
            }
            attempts += 1;
            if attempts == COMPACT_ATTEMPTS {
                return Err(IndexError::Busy(
                    "segments stayed in background merges; compaction gave up".into(),
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// Number of segments searches visit now. Every commit adds one (a booking's offer
    /// is re-added in a segment of its own) until merges bring them back together; see
    /// [`OfferIndex::compact`].
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Which committed state searches see now: it changes with every [`OfferIndex::commit`]
    /// that changed something, so a result computed at one generation holds until it moves.
    pub fn generation(&self) -> u64 {
        self.reader.searcher().generation().generation_id()
    }

    /// `true` when no committed offer is searchable.
    pub fn is_empty(&self) -> bool {
        self.doc_count() == 0
    }

    /// Adds offers, replacing any with the same id (also within the batch:
    /// the last one wins). Invisible until [`commit`](Self::commit).
    pub fn upsert(&self, docs: impl IntoIterator<Item = OfferDoc>) -> Result<(), IndexError> {
        let writer = self.writer()?;
        for doc in docs {
            writer.delete_term(Term::from_field_u64(self.fields.id, doc.id));
            writer.add_document(doc.to_document(&self.fields))?;
        }
        Ok(())
    }

    /// Removes an offer (no-op if absent). Invisible until
    /// [`commit`](Self::commit).
    pub fn delete(&self, id: u64) -> Result<(), IndexError> {
        self.writer()?
            .delete_term(Term::from_field_u64(self.fields.id, id));
        Ok(())
    }

    /// Persists pending writes and reloads the reader, so that searches see
    /// them as soon as this returns.
    pub fn commit(&self) -> Result<(), IndexError> {
        let mut writer = self.writer()?;
        writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// The stored offer with this id, if any.
    pub fn get(&self, id: u64) -> Result<Option<OfferDoc>, IndexError> {
        self.lookup().get(id)
    }

    /// Reads offers by id from the index as it stands now, however many commits follow:
    /// a page of them from one state.
    pub fn lookup(&self) -> Lookup {
        Lookup {
            searcher: self.reader.searcher(),
            fields: self.fields.clone(),
        }
    }

    /// Runs a search. Bad input (see [`IndexError::is_bad_input`]) is
    /// reported before touching the index.
    ///
    /// With several words, offers must contain all of them; if none does,
    /// the search is retried accepting any of them (ranked by BM25, so offers
    /// with more of the words still come first).
    pub fn search(&self, q: &Query) -> Result<SearchResults, IndexError> {
        let plan = q.plan()?;
        match plan.geo {
            GeoPlan::Radius { center, radius_m } if plan.nearest_first => {
                self.search_nearest(plan, center, radius_m)
            }
            _ => self.run(plan),
        }
    }

    /// The nearest offers of a large disk often lie in a small part of it (a 30 km feed
    /// in Paris finds its 2,000 candidates within a few km, among 150,000 offers): searches
    /// disks growing from a sixteenth of the radius (at least [`NEAREST_FIRST_START_M`]) up
    /// to the whole radius ([`growth`]), and stops at the first that holds the whole page;
    /// with the cells' counts, each disk is first shrunk to the cells that hold the page,
    /// or passed over. Exact: every offer of that disk was seen, and each offer outside it
    /// is farther than all of them.
    fn search_nearest(
        &self,
        plan: Plan,
        center: GeoPoint,
        radius_m: f64,
    ) -> Result<SearchResults, IndexError> {
        let wanted = plan.offset.saturating_add(plan.limit);
        let counted = plan.filters.countable();
        let mut r = (radius_m / 16.0).max(NEAREST_FIRST_START_M);
        // The whole radius is the last disk, shrunk by the counts like the others: around
        // a city, the page can end just beyond the previous disk while the radius reaches
        // the centre (a feed 35 km from Paris found its 2,000 offers within 15 km, and
        // searching the whole 30 km disk tested 143,000 offers: 18 ms instead of 5).
        loop {
            let last = r >= radius_m;
            if last {
                r = radius_m;
            }
            let Some(cover) = disk_cover(center, r) else {
                break;
            };
            // The cells' counts pass over a disk too small without searching it, and
            // shrink one large enough to the cells that hold the page: the disk searched
            // then holds about 1.5 times the page instead of up to four.
            let holding = match counted {
                true => self.radius_holding(&plan, &cover, r, wanted)?,
                false => Holding::Within(r),
            };
            if let Holding::Within(within) = holding {
                // The cells that reach the smaller disk cover it.
                let cells = cover
                    .iter()
                    .filter(|c| c.near_m <= within)
                    .copied()
                    .collect();
                let results = self.run(Plan {
                    geo: GeoPlan::Radius {
                        center,
                        radius_m: within,
                    },
                    cells: Some(cells),
                    ..plan.clone()
                })?;
                // Exact whatever the counts said: the disk holds the whole page, or it
                // is the whole radius.
                if results.total >= wanted || within >= radius_m {
                    return Ok(results);
                }
            }
            if last {
                // The whole disk, by the cover just made.
                return self.run(Plan {
                    cells: Some(cover),
                    ..plan
                });
            }
            r *= growth(&holding, wanted);
        }
        // A disk whose cover was too large to be worth making: the whole radius, by its
        // own cover if that one is worth it.
        self.run(Plan {
            cells: disk_cover(center, radius_m),
            ..plan
        })
    }

    /// The radius, at most `r`, of the smallest disk whose cells of `cover` (the cover
    /// of the disk of radius `r`) lying wholly inside it hold `wanted` offers passing the
    /// plan's filters, by the cells' counts; or how many those inside the disk of radius
    /// `r` hold when that is fewer. Only the plan's categories and sold-out filters are
    /// counted (see [`crate::Filters::countable`]).
    fn radius_holding(
        &self,
        plan: &Plan,
        cover: &[CoverCell],
        r: f64,
        wanted: usize,
    ) -> Result<Holding, IndexError> {
        if wanted == 0 {
            return Ok(Holding::Within(r));
        }
        let mut inside: Vec<&CoverCell> =
            cover.iter().filter(|c| c.inside_from_m.is_some()).collect();
        inside.sort_by(|a, b| a.far_m.total_cmp(&b.far_m));
        let searcher = self.reader.searcher();
        let collector = OfferCollector::new(plan, self.columns.clone());
        let mut totals = vec![0u64; inside.len()];
        let mut left_out = 0;
        for segment in searcher.segment_readers() {
            // A segment with fewer offers than cells is left out: looking its cells up
            // costs more than its offers would save, and counting fewer offers only
            // makes the disk larger.
            if (segment.num_docs() as usize) < inside.len() {
                left_out += u64::from(segment.num_docs());
                continue;
            }
            let counts =
                collector.cell_totals(segment, &inside, &self.cell_counts, self.count_terms())?;
            for (total, n) in totals.iter_mut().zip(counts) {
                *total += n;
            }
        }
        // Unless most offers were counted: then the disk is searched whole.
        if left_out * 10 > searcher.num_docs() {
            return Ok(Holding::Within(r));
        }
        let mut held = 0;
        for (cell, n) in inside.iter().zip(totals) {
            held += n;
            if held >= wanted as u64 {
                return Ok(Holding::Within(cell.far_m));
            }
        }
        Ok(Holding::Short(held))
    }

    /// The fields the cells' counts read postings of.
    fn count_terms(&self) -> CountTerms {
        CountTerms {
            h3: self.fields.h3,
            digital: self.fields.digital,
        }
    }

    fn run(&self, plan: Plan) -> Result<SearchResults, IndexError> {
        let searcher = self.reader.searcher();
        self.columns.retain_live(&searcher);
        self.cell_counts.retain_live(&searcher);
        // Alone, a search spreads its segments over every core: a large disk in Paris
        // visits 200,000 offers, and the idle core halves its latency. Beside others it
        // stays on its thread: the cores are busy already, and a server's threads would
        // otherwise wait on each other's searches.
        let alone = self.in_flight.fetch_add(1, AtomicOrdering::Relaxed) == 0;
        let _running = Running(&self.in_flight);
        let single = Executor::single_thread();
        let executor = if alone { &self.parallel } else { &single };
        let mut harvest = if plan.counting {
            self.collect_by_cells(&searcher, &plan, executor)?
        } else {
            self.collect(&searcher, &plan, executor)?
        };
        let hits = harvest.page(plan.offset, plan.limit, plan.ordered);
        let mut facets: Vec<CategoryFacet> = if plan.facets {
            harvest
                .facets
                .into_iter()
                .map(|(category, count)| CategoryFacet { category, count })
                .collect()
        } else {
            Vec::new()
        };
        facets.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.category.cmp(&b.category))
        });
        Ok(SearchResults {
            hits,
            total: harvest.total,
            facets,
            snapshot: Snapshot(Some((searcher, self.fields.clone()))),
        })
    }

    /// A search through tantivy's query and the offer collector.
    fn collect(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        executor: &Executor,
    ) -> Result<Harvest, IndexError> {
        let collector = OfferCollector::new(plan, self.columns.clone());
        let scoring = if collector.requires_scoring() {
            EnableScoring::enabled_from_searcher(searcher)
        } else {
            EnableScoring::disabled_from_searcher(searcher)
        };
        let search = |require_all: bool| {
            let query = self.tantivy_query(plan, require_all);
            searcher.search_with_executor(query.as_ref(), &collector, executor, scoring)
        };
        let mut harvest = search(true)?;
        if harvest.total == 0 && plan.terms.len() > 1 {
            harvest = search(false)?;
        }
        Ok(harvest)
    }

    /// A search that counts whole cells (see [`Plan::counting`]). A large segment goes
    /// cell by cell; a small one is scanned whole with the exact test, which costs less
    /// than looking each cell up in it.
    fn collect_by_cells(
        &self,
        searcher: &Searcher,
        plan: &Plan,
        executor: &Executor,
    ) -> Result<Harvest, IndexError> {
        let cover = plan.cells.as_deref().unwrap_or_default();
        let scan = Plan {
            cells: None,
            counting: false,
            ..plan.clone()
        };
        let collector = OfferCollector::new(&scan, self.columns.clone());
        let weight = self
            .tantivy_query(&scan, true)
            .weight(EnableScoring::disabled_from_searcher(searcher))?;
        let min_docs = DOCS_PER_CELL.saturating_mul(cover.len() as u64);
        let fruits = executor.map(
            |(ord, segment)| {
                let ord = ord as u32;
                if u64::from(segment.num_docs()) >= min_docs {
                    collector.collect_cells(
                        ord,
                        segment,
                        cover,
                        &self.cell_counts,
                        self.count_terms(),
                    )
                } else {
                    collector.collect_segment(weight.as_ref(), ord, segment)
                }
            },
            searcher.segment_readers().iter().enumerate(),
        )?;
        Ok(collector.merge_fruits(fruits)?)
    }

    /// The inverted-index part of the search: text terms plus cheap
    /// pre-filters (H3 cells, digital flag, categories). Exact geo tests and
    /// numeric filters run in the collector.
    fn tantivy_query(&self, plan: &Plan, require_all: bool) -> Box<dyn TantivyQuery> {
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = Vec::new();
        if !plan.terms.is_empty() {
            clauses.push((Occur::Must, text_query(&plan.terms, &f.text, require_all)));
        }
        let digital = |yes: bool| -> Box<dyn TantivyQuery> {
            Box::new(TermQuery::new(
                Term::from_field_bool(f.digital, yes),
                IndexRecordOption::Basic,
            ))
        };
        let mut filters: Vec<Box<dyn TantivyQuery>> = Vec::new();
        match plan.digital {
            DigitalMode::Only => filters.push(digital(true)),
            // Cell terms are on physical offers only: with a cover, intersecting with
            // the 900,000 physical offers of the bench world would only cost a seek per hit.
            DigitalMode::Exclude if plan.cells.is_none() => filters.push(digital(false)),
            DigitalMode::Exclude | DigitalMode::Include => {}
        }
        if let (Some(cells), false) = (&plan.cells, plan.digital == DigitalMode::Only) {
            let filter = TermFilter::new(cells.iter().map(|c| Term::from_field_u64(f.h3, c.id)));
            // Digital offers have no cell but bypass the geo filter.
            filters.push(Box::new(match plan.digital {
                DigitalMode::Include => filter.with_digital(self.columns.clone()),
                _ => filter,
            }));
        }
        // Codes narrow the search here only when nothing else does; otherwise the
        // collector tests them (see `WantedCodes` in collect.rs).
        let narrowed = !plan.terms.is_empty() || plan.cells.is_some();
        for (field, values) in [
            (f.category, &plan.filters.categories),
            (f.subcategory, &plan.filters.subcategories),
        ] {
            if !values.is_empty() && !narrowed {
                filters.push(Box::new(TermSetQuery::new(
                    values.iter().map(|v| Term::from_field_text(field, v)),
                )));
            }
        }
        // Filters must not change the text score.
        clauses.extend(filters.into_iter().map(|q| {
            (
                Occur::Must,
                Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn TantivyQuery>,
            )
        }));
        if clauses.is_empty() {
            Box::new(AllQuery)
        } else {
            Box::new(BooleanQuery::new(clauses))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<OfferIndex>();
    }

    #[test]
    fn disks_grow_with_what_the_counts_left_missing() {
        // Uncounted, or counted enough and searched short: doubling.
        assert_eq!(
            growth(&Holding::Within(5_000.0), 2_000),
            NEAREST_FIRST_GROWTH
        );
        // Nearly there: never less than doubling.
        assert_eq!(growth(&Holding::Short(1_500), 2_000), NEAREST_FIRST_GROWTH);
        // A ninth of the page: three times the radius, and a quarter more.
        assert!((growth(&Holding::Short(2_000 / 9), 2_000) - 3.0 * 1.25).abs() < 0.01);
        // Next to nothing, or nothing: the cap.
        assert_eq!(growth(&Holding::Short(10), 2_000), NEAREST_FIRST_MAX_GROWTH);
        assert_eq!(growth(&Holding::Short(0), 2_000), NEAREST_FIRST_MAX_GROWTH);
    }
}
