//! The collector: exact geo test, fast-field filters, facets and top-k.
//!
//! Everything here reads columnar fast fields only, never stored documents,
//! so scanning many thousands of candidates stays cheap.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};
use tantivy_common::BitSet;

use crate::cells::{CellCountCache, CountTerms, Deleted, SegmentCounts, Slots};
use crate::codes::intern;
use crate::cover::CoverCell;
use crate::geo::{GeoPoint, Measured, Reach};
use crate::index::Hit;
use crate::per_segment::PerSegment;
use crate::query::{DigitalMode, Filters, GeoPlan, Plan, SortBy};
use crate::schema;
use crate::top::TopK;

/// What the segment collectors need from the plan (they must be `'static`).
struct Criteria {
    geo: GeoPlan,
    /// The centre of `geo`, measured once for all the distances from it.
    centre: Option<Measured>,
    /// The radius of a `GeoPlan::Radius`.
    reach: Option<Reach>,
    digital: DigitalMode,
    filters: Filters,
    sort: SortBy,
    /// offset + limit: the best `keep` hits of each segment are enough.
    keep: usize,
    facets: bool,
}

pub(crate) struct OfferCollector {
    criteria: Arc<Criteria>,
    scoring: bool,
    columns: Arc<ColumnCache>,
}

/// Each segment's fast-field handles, opened once. Opening a dozen columns and reading
/// the category dictionaries was a tenth of a feed's time, for every segment of every
/// search.
pub(crate) type ColumnCache = PerSegment<Columns>;

impl ColumnCache {
    /// The columns of `segment`, read the first time it is met.
    pub(crate) fn of(&self, segment: &SegmentReader) -> tantivy::Result<Arc<Columns>> {
        self.get_or_make(segment.segment_id(), || Columns::open(segment))
    }
}

/// What the segments kept: the best offers of each, and the columns their hits are read
/// from.
pub(crate) struct Harvest {
    hits: Vec<Ranked>,
    columns: Vec<(SegmentOrdinal, Arc<Columns>)>,
    pub total: usize,
    pub facets: HashMap<String, u64>,
}

impl OfferCollector {
    /// Collects one segment cell by cell, for a search that counts whole cells (see
    /// [`crate::cells`] and [`Plan::counting`]): the offers of a cell inside the disk are
    /// counted from the cell's counts, and visited only if they could still make the page;
    /// those of a cell cut by the circle are measured one by one. `cover` is sorted by
    /// [`CoverCell::near_m`], so the page fills from the nearest cells first.
    pub(crate) fn collect_cells(
        &self,
        ord: SegmentOrdinal,
        segment: &SegmentReader,
        cover: &[CoverCell],
        counts: &CellCountCache,
        terms: CountTerms,
    ) -> tantivy::Result<Harvest> {
        let mut collector = self.for_segment(ord, segment)?;
        collector.collect_cells(segment, cover, counts, terms)?;
        Ok(collector.harvest())
    }

    /// How many offers passing the plan's categories and sold-out filters each of
    /// `cells` holds in one segment, by the cells' counts (live offers only; the plan's
    /// other filters are not applied).
    pub(crate) fn cell_totals(
        &self,
        segment: &SegmentReader,
        cells: &[&CoverCell],
        cache: &CellCountCache,
        terms: CountTerms,
    ) -> tantivy::Result<Vec<u64>> {
        let cols = self.columns.of(segment)?;
        let (counts, deleted, wanted) = cols.cell_counts(segment, cache, &self.criteria.filters);
        cells
            .iter()
            .map(|cell| {
                let mut total = 0;
                counts.count(segment, terms, cell.id, &cols, &deleted, |slot, n| {
                    if wanted[slot] {
                        total += u64::from(n);
                    }
                })?;
                Ok(total)
            })
            .collect()
    }

    pub(crate) fn new(plan: &Plan, columns: Arc<ColumnCache>) -> Self {
        OfferCollector {
            columns,
            criteria: Arc::new(Criteria {
                geo: plan.geo.clone(),
                centre: match &plan.geo {
                    GeoPlan::None => None,
                    GeoPlan::Radius { center, .. } | GeoPlan::Box { center, .. } => {
                        Some(Measured::new(*center))
                    }
                },
                reach: match &plan.geo {
                    GeoPlan::Radius { radius_m, .. } => Some(Reach::new(*radius_m)),
                    _ => None,
                },
                digital: plan.digital,
                filters: plan.filters.clone(),
                sort: plan.sort,
                keep: plan.offset.saturating_add(plan.limit),
                facets: plan.facets,
            }),
            scoring: !plan.terms.is_empty(),
        }
    }
}

impl Harvest {
    /// The requested page, best first unless not `ordered` ([`crate::Query::ordered`]).
    /// Hits are read from the columns only for the offers on it: each segment keeps a
    /// whole page, and a feed's 2,000 candidates from two large segments would otherwise
    /// read twice as many.
    pub(crate) fn page(&mut self, offset: usize, limit: usize, ordered: bool) -> Vec<Hit> {
        let mut ranked = std::mem::take(&mut self.hits);
        let end = offset.saturating_add(limit);
        if end < ranked.len() {
            ranked.select_nth_unstable(end);
            ranked.truncate(end);
        }
        if ordered {
            ranked.sort_unstable();
        } else if offset < ranked.len() {
            // Keys are distinct (the id is part of them), so the first `offset` are
            // exactly those an ordered page skips.
            ranked.select_nth_unstable(offset);
        }
        let mut hits = Vec::with_capacity(ranked.len().saturating_sub(offset));
        hits.extend(ranked.iter().skip(offset).filter_map(|r| {
            let (_, cols) = self.columns.iter().find(|(s, _)| *s == r.segment)?;
            Some(cols.hit(r))
        }));
        hits
    }
}

/// A kept offer, measured; best-first is `primary` ascending, then id ascending.
#[derive(Clone, Copy)]
pub(crate) struct Ranked {
    /// `primary` and the id in one integer ordered as they are, compared at once: a feed
    /// selects and sorts its kept offers by it (3.8 % of the server's CPU in a profile of
    /// the bench feeds), where each comparison was a float's `total_cmp`, a branch and
    /// then the ids'.
    key: u128,
    segment: SegmentOrdinal,
    doc: DocId,
    score: Score,
    distance_m: Option<f64>,
}

impl Ranked {
    fn new(primary: f64, id: u64, at: DocAddress, score: Score, distance_m: Option<f64>) -> Ranked {
        Ranked {
            key: (u128::from(ordered_bits(primary)) << 64) | u128::from(id),
            segment: at.segment_ord,
            doc: at.doc_id,
            score,
            distance_m,
        }
    }

    fn primary(&self) -> f64 {
        let bits = (self.key >> 64) as u64 ^ SIGN;
        // `ordered_bits` flipped the other bits of a negative number; flip them back.
        f64::from_bits(if bits & SIGN == 0 { bits } else { bits ^ !SIGN })
    }

    fn id(&self) -> u64 {
        self.key as u64
    }
}

const SIGN: u64 = 1 << 63;

/// `x`'s bits as an integer ordered as [`f64::total_cmp`] orders `x`: the sign bit
/// flipped for positive numbers, every bit for negative ones.
fn ordered_bits(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits & SIGN == 0 {
        bits ^ SIGN
    } else {
        !bits
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

pub(crate) struct OfferSegmentCollector {
    criteria: Arc<Criteria>,
    segment: SegmentOrdinal,
    cols: Arc<Columns>,
    best: TopK<Ranked>,
    total: usize,
    /// Matches per category term ordinal of this segment.
    facet_counts: Vec<u64>,
    /// The codes the filters ask for, by this segment's term ordinals.
    wanted: WantedCodes,
}

/// Which category and subcategory term ordinals of a segment pass the filters; `None`
/// where the filters name none.
///
/// The collector tests them, not the inverted index, whenever text or a cover drives
/// the search: a term set on categories poured every offer of them into a bitset per
/// segment (two categories of the bench world hold a third of its offers), 6 % of the
/// server's CPU on searches, where the collector reads each tested offer's codes from a
/// column of 4 bytes a document.
struct WantedCodes {
    categories: Wanted,
    subcategories: Wanted,
}

impl WantedCodes {
    fn new(cols: &Columns, filters: &Filters) -> WantedCodes {
        WantedCodes {
            categories: Wanted::new(&cols.category_names, &filters.categories),
            subcategories: Wanted::new(&cols.subcategory_names, &filters.subcategories),
        }
    }

    fn any(&self) -> bool {
        self.categories.asked() || self.subcategories.asked()
    }

    /// Whether an offer of these codes passes.
    fn admit(&self, codes: DocCodes) -> bool {
        self.categories.admits(usize::from(codes.category))
            && self.subcategories.admits(usize::from(codes.subcategory))
    }
}

/// Which term ordinals of one kind of code a filter lets through: every one when it names
/// none.
struct Wanted(Option<Vec<bool>>);

impl Wanted {
    /// The ordinals of `names` (a segment's codes, by ordinal) that are among `asked`.
    fn new(names: &[&str], asked: &[String]) -> Wanted {
        Wanted((!asked.is_empty()).then(|| {
            names
                .iter()
                .map(|name| asked.iter().any(|a| a == name))
                .collect()
        }))
    }

    /// Whether the filter names any code.
    fn asked(&self) -> bool {
        self.0.is_some()
    }

    /// Whether `ord` passes; [`NO_CODE`], past every table, does not when codes are asked
    /// for.
    fn admits(&self, ord: usize) -> bool {
        self.0
            .as_ref()
            .is_none_or(|w| w.get(ord).copied().unwrap_or(false))
    }
}

pub(crate) struct Columns {
    /// Each document's offer id, place and whether it is sold out, read out of the
    /// columns once: a feed's search tests and weighs thousands of offers, and decoding
    /// four columns for each was 7 % of the server's CPU in a profile of the bench feeds.
    /// About 40 bytes a document.
    ids: Vec<u64>,
    places: Vec<Option<Measured>>,
    sold_outs: Vec<bool>,
    /// The digital offers (those without a place), which a disk lets through: an eighth
    /// of the bench world's offers, whose term's postings, poured into each search's
    /// bitset, took most of the disk filter's time (see [`crate::term_filter::TermFilter`]).
    digital: BitSet,
    /// Each document's category and subcategory, apart from its other fields: the cells'
    /// slots and the filters on codes read them for every offer a search visits, and in
    /// rows of 4 bytes they stay in the cache where the 80 bytes of the fields' rows miss
    /// it.
    codes: Vec<DocCodes>,
    /// The rest of each document's hit, read out likewise: a feed's 2,000 hits decoded
    /// ten columns each, a tenth of the server's CPU in a later profile. 80 bytes a
    /// document.
    fields: Vec<Fields>,
    /// Every category and subcategory code of the segment, by term ordinal: there
    /// are a few dozen, and reading them once beats a dictionary lookup per hit.
    category_names: Vec<&'static str>,
    subcategory_names: Vec<&'static str>,
}

/// What a hit reports of a document besides its id, distance and place.
#[derive(Clone, Copy)]
struct Fields {
    venue_id: Option<u64>,
    offerer_id: u64,
    price_cents: u64,
    popularity: u64,
    begins: Option<i64>,
    remaining: Option<u64>,
    duo: bool,
    event: bool,
}

/// A document's category and subcategory: term ordinals in `category_names` and
/// `subcategory_names`, [`NO_CODE`] (past every table) when it has none.
#[derive(Clone, Copy)]
struct DocCodes {
    category: u16,
    subcategory: u16,
}

/// The codes of a document without any.
const NO_CODES: DocCodes = DocCodes {
    category: NO_CODE,
    subcategory: NO_CODE,
};

/// The code ordinal of a document without one.
const NO_CODE: u16 = u16::MAX;

/// The fields of a document without any.
const NO_FIELDS: Fields = Fields {
    venue_id: None,
    offerer_id: 0,
    price_cents: 0,
    popularity: 0,
    begins: None,
    remaining: None,
    duo: false,
    event: false,
};

/// The terms of a string column, in ordinal order.
fn names(col: &Option<StrColumn>) -> std::io::Result<Vec<&'static str>> {
    let mut out = Vec::new();
    if let Some(col) = col {
        out.reserve(col.num_terms());
        let mut terms = col.dictionary().stream()?;
        while terms.advance() {
            out.push(intern(&String::from_utf8_lossy(terms.key())));
        }
    }
    Ok(out)
}

impl Columns {
    pub(crate) fn open(segment: &SegmentReader) -> tantivy::Result<Self> {
        let ff = segment.fast_fields();
        let category = ff.str(schema::CATEGORY)?;
        let subcategory = ff.str(schema::SUBCATEGORY)?;
        let id: Column<u64> = ff.u64(schema::ID)?;
        let lat: Option<Column<f64>> = ff.column_opt(schema::LAT)?;
        let lon: Option<Column<f64>> = ff.column_opt(schema::LON)?;
        let sold_out = ff.bool(schema::SOLD_OUT)?;
        let price = ff.u64(schema::PRICE)?;
        let duo = ff.bool(schema::DUO)?;
        let event = ff.bool(schema::EVENT)?;
        let begins: Option<Column<i64>> = ff.column_opt(schema::BEGINS)?;
        let popularity = ff.u64(schema::POPULARITY)?;
        let remaining: Option<Column<u64>> = ff.column_opt(schema::REMAINING)?;
        let venue_id: Option<Column<u64>> = ff.column_opt(schema::VENUE_ID)?;
        let offerer_id = ff.u64(schema::OFFERER_ID)?;
        let docs = 0..segment.max_doc();
        let place = |doc| {
            let lat = lat.as_ref()?.first(doc)?;
            let lon = lon.as_ref()?.first(doc)?;
            Some(Measured::new(GeoPoint::new_unchecked(lat, lon)))
        };
        // An ordinal too large for the table (never: codes are a few dozen) reads as none.
        let code = |col: &Option<StrColumn>, doc| {
            col.as_ref()
                .and_then(|c| c.ords().first(doc))
                .map_or(NO_CODE, |ord| u16::try_from(ord).unwrap_or(NO_CODE))
        };
        let fields = |doc| Fields {
            venue_id: venue_id.as_ref().and_then(|v| v.first(doc)),
            offerer_id: offerer_id.first(doc).unwrap_or(0),
            price_cents: price.first(doc).unwrap_or(0),
            popularity: popularity.first(doc).unwrap_or(0),
            begins: begins.as_ref().and_then(|b| b.first(doc)),
            remaining: remaining.as_ref().and_then(|r| r.first(doc)),
            duo: duo.first(doc).unwrap_or(false),
            event: event.first(doc).unwrap_or(false),
        };
        let places: Vec<Option<Measured>> = docs.clone().map(place).collect();
        let mut digital = BitSet::with_max_value(segment.max_doc());
        for (doc, place) in docs.clone().zip(&places) {
            if place.is_none() {
                digital.insert(doc);
            }
        }
        Ok(Columns {
            category_names: names(&category)?,
            subcategory_names: names(&subcategory)?,
            ids: docs.clone().map(|doc| id.first(doc).unwrap_or(0)).collect(),
            places,
            digital,
            sold_outs: docs
                .clone()
                .map(|doc| sold_out.first(doc).unwrap_or(false))
                .collect(),
            codes: docs
                .clone()
                .map(|doc| DocCodes {
                    category: code(&category, doc),
                    subcategory: code(&subcategory, doc),
                })
                .collect(),
            fields: docs.map(fields).collect(),
        })
    }

    /// The offer id of `doc`.
    pub(crate) fn id(&self, doc: DocId) -> u64 {
        self.ids.get(doc as usize).copied().unwrap_or(0)
    }

    /// The segment's digital offers, deleted ones included.
    pub(crate) fn digital(&self) -> &BitSet {
        &self.digital
    }

    /// Where `doc` is, if it has a place.
    pub(crate) fn place(&self, doc: DocId) -> Option<Measured> {
        self.places.get(doc as usize).copied().flatten()
    }

    fn sold_out(&self, doc: DocId) -> bool {
        self.sold_outs.get(doc as usize).copied().unwrap_or(false)
    }

    /// The slot `doc` is counted in: its category's ordinal and its sold-out flag.
    pub(crate) fn slot(&self, slots: Slots, doc: DocId) -> usize {
        let category = self.codes(doc).category;
        slots.of(
            (category != NO_CODE).then_some(u64::from(category)),
            self.sold_out(doc),
        )
    }

    /// The slots the segment's cell counts are split into.
    fn slots(&self) -> Slots {
        Slots::new(self.category_names.len())
    }

    /// The segment's cell counts (made in `cache` the first time), its deleted offers as
    /// `segment` sees them, and which slots pass `filters`: what counting cells needs.
    fn cell_counts(
        &self,
        segment: &SegmentReader,
        cache: &CellCountCache,
        filters: &Filters,
    ) -> (Arc<SegmentCounts>, Arc<Deleted>, Vec<bool>) {
        let counts = cache.get_or_insert(segment.segment_id(), || SegmentCounts::new(self.slots()));
        let deleted = counts.deleted(segment, self);
        (counts, deleted, self.wanted_slots(filters))
    }

    /// Which slots hold offers that pass the categories and sold-out filters, the only
    /// ones counts are split by.
    fn wanted_slots(&self, filters: &Filters) -> Vec<bool> {
        let slots = self.slots();
        let categories = Wanted::new(&self.category_names, &filters.categories);
        (0..slots.len())
            .map(|slot| {
                let (category, sold_out) = slots.split(slot);
                let category_ok = categories.admits(category.unwrap_or(usize::from(NO_CODE)));
                category_ok && (filters.include_sold_out || !sold_out)
            })
            .collect()
    }

    /// The hit of a kept offer of this segment.
    fn hit(&self, r: &Ranked) -> Hit {
        let doc = r.doc;
        let f = self.fields(doc);
        let codes = self.codes(doc);
        let name = |names: &[&'static str], ord: u16| {
            names.get(usize::from(ord)).copied().unwrap_or_default()
        };
        Hit {
            id: r.id(),
            score: r.score,
            distance_m: r.distance_m,
            category: name(&self.category_names, codes.category),
            subcategory: name(&self.subcategory_names, codes.subcategory),
            venue_id: f.venue_id,
            offerer_id: f.offerer_id,
            location: self.place(doc).map(|p| p.point()),
            price_cents: f.price_cents,
            is_duo: f.duo,
            is_event: f.event,
            next_beginning_at: f.begins,
            popularity: f.popularity,
            remaining_places: f.remaining,
            address: DocAddress::new(r.segment, doc),
        }
    }

    /// What the hit of `doc` reports; a document past the segment's (never) has none.
    fn fields(&self, doc: DocId) -> Fields {
        self.fields.get(doc as usize).copied().unwrap_or(NO_FIELDS)
    }

    /// The codes of `doc`; a document past the segment's (never) has none.
    fn codes(&self, doc: DocId) -> DocCodes {
        self.codes.get(doc as usize).copied().unwrap_or(NO_CODES)
    }
}

impl Collector for OfferCollector {
    type Fruit = Harvest;
    type Child = OfferSegmentCollector;

    fn for_segment(
        &self,
        ord: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let cols = self.columns.of(segment)?;
        let num_categories = if self.criteria.facets {
            cols.category_names.len()
        } else {
            0
        };
        Ok(OfferSegmentCollector {
            wanted: WantedCodes::new(&cols, &self.criteria.filters),
            criteria: self.criteria.clone(),
            segment: ord,
            cols,
            best: TopK::new(self.criteria.keep),
            total: 0,
            facet_counts: vec![0; num_categories],
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Harvest>) -> tantivy::Result<Harvest> {
        let mut merged = Harvest {
            hits: Vec::with_capacity(fruits.iter().map(|f| f.hits.len()).sum()),
            columns: Vec::new(),
            total: 0,
            facets: HashMap::new(),
        };
        for fruit in fruits {
            merged.hits.extend(fruit.hits);
            merged.columns.extend(fruit.columns);
            merged.total += fruit.total;
            for (category, count) in fruit.facets {
                *merged.facets.entry(category).or_default() += count;
            }
        }
        Ok(merged)
    }
}

impl OfferSegmentCollector {
    /// Exact geo test: `None` rejects the doc, `Some(distance)` keeps it.
    fn geo_test(&self, place: Option<Measured>) -> Option<Option<f64>> {
        let c = &self.criteria;
        match place {
            None => (c.digital != DigitalMode::Exclude).then_some(None),
            Some(_) if c.digital == DigitalMode::Only => None,
            Some(p) => match (&c.geo, &c.centre) {
                (GeoPlan::Radius { .. }, Some(centre)) => {
                    let reach = c.reach.as_ref()?;
                    reach.distance_m(centre, &p).map(Some)
                }
                (GeoPlan::Box { bbox, .. }, Some(centre)) => bbox
                    .contains(p.point())
                    .then(|| Some(centre.distance_m(&p))),
                // No geo filter (the centre is set with one).
                _ => Some(None),
            },
        }
    }

    fn passes_filters(&self, doc: DocId) -> bool {
        let f = &self.criteria.filters;
        // Only the filters asked for are read: most searches ask for none, and a feed tests
        // thousands of offers.
        if self.wanted.any() && !self.wanted.admit(self.cols.codes(doc)) {
            return false;
        }
        if f.on_fields() {
            let fields = self.cols.fields(doc);
            if f.max_price_cents
                .is_some_and(|max| fields.price_cents > max)
                || (f.free_only && fields.price_cents != 0)
                || (f.duo_only && !fields.duo)
            {
                return false;
            }
            if f.begins_after.is_some() || f.begins_before.is_some() {
                let Some(t) = fields.begins else {
                    return false;
                };
                if f.begins_after.is_some_and(|a| t < a) || f.begins_before.is_some_and(|b| t > b) {
                    return false;
                }
            }
        }
        !self.cols.sold_out(doc) || f.include_sold_out
    }

    fn primary(&self, score: Score, distance_m: Option<f64>) -> f64 {
        let score = f64::from(score);
        // `0.0 - x` keeps zero positive, so total_cmp sees equal keys as equal.
        match self.criteria.sort {
            SortBy::Relevance => 0.0 - score,
            SortBy::Distance => distance_m.unwrap_or(f64::INFINITY),
            SortBy::Blend => 0.0 - score / (1.0 + distance_m.unwrap_or(0.0) / 10_000.0),
        }
    }

    /// Counts a match in the total and the facets.
    fn count(&mut self, doc: DocId) {
        self.total += 1;
        // Sized only when facets are wanted.
        if !self.facet_counts.is_empty() {
            // A document without a category has NO_CODE, past every count.
            let ord = self.cols.codes(doc).category;
            if let Some(n) = self.facet_counts.get_mut(usize::from(ord)) {
                *n += 1;
            }
        }
    }

    /// Keeps `doc`, measured, if it is among the best `keep` so far.
    fn offer(&mut self, doc: DocId, score: Score, distance_m: Option<f64>) {
        let id = self.cols.id(doc);
        let at = DocAddress::new(self.segment, doc);
        self.best.offer(Ranked::new(
            self.primary(score, distance_m),
            id,
            at,
            score,
            distance_m,
        ));
    }

    /// Whether an offer at least `inside_from_m` from the centre cannot make a page
    /// sorted by distance any more.
    fn hopeless(&self, inside_from_m: f64) -> bool {
        if self.criteria.keep == 0 {
            return true;
        }
        // The distance is at least the bound; ties go to the lower id, so only a bound
        // strictly beyond the worst kept distance rules the offer out.
        self.best
            .bound()
            .is_some_and(|worst| inside_from_m > worst.primary())
    }

    /// Offers a counted offer of a cell inside the disk to the page.
    fn place_inside(&mut self, doc: DocId, inside_from_m: f64) {
        if self.hopeless(inside_from_m) {
            return;
        }
        let place = self.cols.place(doc);
        let distance_m = match (&self.criteria.geo, &self.criteria.centre, place) {
            (GeoPlan::Radius { .. }, Some(centre), Some(p)) => Some(centre.distance_m(&p)),
            // Digital offers, counted as one more cell: no distance, so after every
            // physical offer.
            (_, _, None) if self.criteria.digital == DigitalMode::Include => None,
            _ => return,
        };
        self.offer(doc, 0.0, distance_m);
    }

    /// See [`OfferCollector::collect_cells`].
    fn collect_cells(
        &mut self,
        segment: &SegmentReader,
        cover: &[CoverCell],
        cache: &CellCountCache,
        terms: CountTerms,
    ) -> tantivy::Result<()> {
        let cols = self.cols.clone();
        let slots = cols.slots();
        let (counts, deleted, wanted) = cols.cell_counts(segment, cache, &self.criteria.filters);
        let alive = segment.alive_bitset();
        for cell in cover {
            if let Some(bound) = cell.inside_from_m {
                let (total, facets) = (&mut self.total, &mut self.facet_counts);
                counts.count(segment, terms, cell.id, &cols, &deleted, |slot, n| {
                    if !wanted[slot] {
                        return;
                    }
                    *total += n as usize;
                    if let Some(f) = slots.split(slot).0.and_then(|c| facets.get_mut(c)) {
                        *f += u64::from(n);
                    }
                })?;
                if self.hopeless(bound) {
                    continue;
                }
            }
            let Some(mut postings) = terms.postings(segment, cell.id)? else {
                continue;
            };
            let mut doc = postings.doc();
            while doc != TERMINATED {
                let live = alive.is_none_or(|a| a.is_alive(doc));
                if live && wanted[cols.slot(slots, doc)] {
                    match cell.inside_from_m {
                        Some(bound) => self.place_inside(doc, bound),
                        None => self.collect_tested(doc, 0.0),
                    }
                }
                doc = postings.advance();
            }
        }
        Ok(())
    }

    /// An offer that passes the geo test and the filters is counted and offered to the
    /// page.
    fn collect_tested(&mut self, doc: DocId, score: Score) {
        // The filters first: a column read each, where the geo test reads two and
        // measures a distance, and a price cap or a date window rejects most offers.
        if !self.passes_filters(doc) {
            return;
        }
        let place = self.cols.place(doc);
        let Some(distance_m) = self.geo_test(place) else {
            return;
        };
        self.count(doc);
        if self.criteria.keep == 0 {
            return;
        }
        self.offer(doc, score, distance_m);
    }
}

impl SegmentCollector for OfferSegmentCollector {
    type Fruit = Harvest;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.collect_tested(doc, score);
    }

    fn harvest(self) -> Harvest {
        let hits = self.best.into_vec();
        let mut facets = HashMap::new();
        for (ord, &count) in self.facet_counts.iter().enumerate() {
            if let (true, Some(name)) = (count > 0, self.cols.category_names.get(ord)) {
                *facets.entry(name.to_string()).or_default() += count;
            }
        }
        Harvest {
            hits,
            columns: vec![(self.segment, self.cols.clone())],
            total: self.total,
            facets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_total_cmp_then_id_and_give_back_primary() {
        let values = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            30_000.0,
            1e300,
            f64::INFINITY,
        ];
        let ranked: Vec<Ranked> = values
            .iter()
            .flat_map(|&v| [7, 3].map(|id| Ranked::new(v, id, DocAddress::new(0, 0), 0.0, None)))
            .collect();
        for a in &ranked {
            for b in &ranked {
                let want = a
                    .primary()
                    .total_cmp(&b.primary())
                    .then(a.id().cmp(&b.id()));
                assert_eq!(
                    a.cmp(b),
                    want,
                    "{} #{} against {} #{}",
                    a.primary(),
                    a.id(),
                    b.primary(),
                    b.id()
                );
            }
        }
        assert!(ranked
            .iter()
            .zip(values.iter().flat_map(|v| [v, v]))
            .all(|(r, v)| r.primary().to_bits() == v.to_bits()));
    }
}
