//! The collector: exact geo test, fast-field filters, facets and top-k.
//!
//! Everything here reads columnar fast fields only, never stored documents,
//! so scanning many thousands of candidates stays cheap.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Score, Searcher, SegmentOrdinal, SegmentReader};

use crate::geo::{haversine_m, GeoPoint};
use crate::index::Hit;
use crate::query::{DigitalMode, Filters, GeoPlan, Plan, SortBy};
use crate::schema;

/// What the segment collectors need from the plan (they must be `'static`).
struct Criteria {
    geo: GeoPlan,
    digital: DigitalMode,
    filters: Filters,
    sort: SortBy,
    /// offset + limit: the best `keep` hits of each segment are enough.
    keep: usize,
    facets: bool,
    /// Scores carry cell bounds, not text relevance (see `Plan::cell_bounds`).
    cell_bounds: bool,
}

pub(crate) struct OfferCollector {
    criteria: Arc<Criteria>,
    scoring: bool,
    columns: Arc<ColumnCache>,
}

/// Each segment's fast-field handles, opened once. Opening a dozen columns and reading
/// the category dictionaries was a tenth of a feed's time, for every segment of every
/// search; a segment's fast fields never change (deletes live beside them).
#[derive(Default)]
pub(crate) struct ColumnCache(Mutex<HashMap<SegmentId, Arc<Columns>>>);

impl ColumnCache {
    fn map(&self) -> MutexGuard<'_, HashMap<SegmentId, Arc<Columns>>> {
        // The map is valid whatever panicked while holding it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, segment: &SegmentReader) -> tantivy::Result<Arc<Columns>> {
        let id = segment.segment_id();
        if let Some(columns) = self.map().get(&id) {
            return Ok(columns.clone());
        }
        let columns = Arc::new(Columns::open(segment)?);
        self.map().insert(id, columns.clone());
        Ok(columns)
    }

    /// Forgets the segments `searcher` no longer has (merged away): their handles keep
    /// the files mapped.
    pub(crate) fn retain_live(&self, searcher: &Searcher) {
        let readers = searcher.segment_readers();
        let mut map = self.map();
        // Every search passes here: the set of live ids is built only when something died.
        if map.len() > readers.len() {
            let live: HashSet<SegmentId> = readers.iter().map(|s| s.segment_id()).collect();
            map.retain(|id, _| live.contains(id));
        }
    }
}

/// A ranked hit: `primary` ascending, then id ascending, is best-first.
pub(crate) struct Ranked {
    primary: f64,
    hit: Hit,
}

pub(crate) struct Harvest {
    pub hits: Vec<Ranked>,
    pub total: usize,
    pub facets: HashMap<String, u64>,
}

impl OfferCollector {
    pub(crate) fn new(plan: &Plan, columns: Arc<ColumnCache>) -> Self {
        OfferCollector {
            columns,
            criteria: Arc::new(Criteria {
                geo: plan.geo.clone(),
                digital: plan.digital,
                filters: plan.filters.clone(),
                sort: plan.sort,
                keep: plan.offset.saturating_add(plan.limit),
                facets: plan.facets,
                cell_bounds: plan.cell_bounds(),
            }),
            scoring: !plan.terms.is_empty() || plan.cell_bounds(),
        }
    }
}

fn rank_order(a_primary: f64, a_id: u64, b_primary: f64, b_id: u64) -> Ordering {
    a_primary.total_cmp(&b_primary).then(a_id.cmp(&b_id))
}

impl Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        rank_order(self.primary, self.hit.id, other.primary, other.hit.id)
    }
}

/// Sorts best-first and returns the requested page.
pub(crate) fn page(mut hits: Vec<Ranked>, offset: usize, limit: usize) -> Vec<Hit> {
    hits.sort_unstable_by(Ranked::cmp);
    hits.into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.hit)
        .collect()
}

/// Heap entry; the heap's top is the worst kept candidate.
struct Candidate {
    primary: f64,
    id: u64,
    doc: DocId,
    score: Score,
    distance_m: Option<f64>,
    location: Option<GeoPoint>,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        rank_order(self.primary, self.id, other.primary, other.id)
    }
}

pub(crate) struct OfferSegmentCollector {
    criteria: Arc<Criteria>,
    segment: SegmentOrdinal,
    cols: Arc<Columns>,
    heap: BinaryHeap<Candidate>,
    total: usize,
    /// Matches per category term ordinal of this segment.
    facet_counts: Vec<u64>,
}

struct Columns {
    id: Column<u64>,
    lat: Option<Column<f64>>,
    lon: Option<Column<f64>>,
    price: Column<u64>,
    duo: Column<bool>,
    event: Column<bool>,
    begins: Option<Column<i64>>,
    sold_out: Column<bool>,
    popularity: Column<u64>,
    remaining: Option<Column<u64>>,
    venue_id: Option<Column<u64>>,
    offerer_id: Column<u64>,
    category: Option<StrColumn>,
    subcategory: Option<StrColumn>,
    /// Every category and subcategory code of the segment, by term ordinal: there
    /// are a few dozen, and reading them once beats a dictionary lookup per hit.
    category_names: Vec<String>,
    subcategory_names: Vec<String>,
}

/// The terms of a string column, in ordinal order.
fn names(col: &Option<StrColumn>) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    if let Some(col) = col {
        out.reserve(col.num_terms());
        let mut terms = col.dictionary().stream()?;
        while terms.advance() {
            out.push(String::from_utf8_lossy(terms.key()).into_owned());
        }
    }
    Ok(out)
}

impl Columns {
    fn open(segment: &SegmentReader) -> tantivy::Result<Self> {
        let ff = segment.fast_fields();
        let category = ff.str(schema::CATEGORY)?;
        let subcategory = ff.str(schema::SUBCATEGORY)?;
        Ok(Columns {
            category_names: names(&category)?,
            subcategory_names: names(&subcategory)?,
            id: ff.u64(schema::ID)?,
            lat: ff.column_opt(schema::LAT)?,
            lon: ff.column_opt(schema::LON)?,
            price: ff.u64(schema::PRICE)?,
            duo: ff.bool(schema::DUO)?,
            event: ff.bool(schema::EVENT)?,
            begins: ff.column_opt(schema::BEGINS)?,
            sold_out: ff.bool(schema::SOLD_OUT)?,
            popularity: ff.u64(schema::POPULARITY)?,
            remaining: ff.column_opt(schema::REMAINING)?,
            venue_id: ff.column_opt(schema::VENUE_ID)?,
            offerer_id: ff.u64(schema::OFFERER_ID)?,
            category,
            subcategory,
        })
    }

    fn location(&self, doc: DocId) -> Option<GeoPoint> {
        let lat = self.lat.as_ref()?.first(doc)?;
        let lon = self.lon.as_ref()?.first(doc)?;
        Some(GeoPoint::new_unchecked(lat, lon))
    }

    /// The code of `doc` in a string column, from the segment's table of names.
    fn string(col: &Option<StrColumn>, names: &[String], doc: DocId) -> String {
        col.as_ref()
            .and_then(|c| c.ords().first(doc))
            .and_then(|ord| names.get(ord as usize))
            .cloned()
            .unwrap_or_default()
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
        let cols = self.columns.get(segment)?;
        let num_categories = match (&cols.category, self.criteria.facets) {
            (Some(c), true) => c.num_terms(),
            _ => 0,
        };
        Ok(OfferSegmentCollector {
            criteria: self.criteria.clone(),
            segment: ord,
            cols,
            heap: BinaryHeap::new(),
            total: 0,
            facet_counts: vec![0; num_categories],
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scoring
    }

    fn merge_fruits(&self, fruits: Vec<Harvest>) -> tantivy::Result<Harvest> {
        let mut merged = Harvest {
            hits: Vec::new(),
            total: 0,
            facets: HashMap::new(),
        };
        for fruit in fruits {
            merged.hits.extend(fruit.hits);
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
    fn geo_test(&self, location: Option<GeoPoint>) -> Option<Option<f64>> {
        let c = &self.criteria;
        match location {
            None => (c.digital != DigitalMode::Exclude).then_some(None),
            Some(_) if c.digital == DigitalMode::Only => None,
            Some(p) => match &c.geo {
                GeoPlan::None => Some(None),
                GeoPlan::Radius { center, radius_m } => {
                    let d = haversine_m(*center, p);
                    (d <= *radius_m).then_some(Some(d))
                }
                GeoPlan::Box { bbox, center } => {
                    bbox.contains(p).then(|| Some(haversine_m(*center, p)))
                }
            },
        }
    }

    fn passes_filters(&self, doc: DocId) -> bool {
        let f = &self.criteria.filters;
        // Each column read costs a large-radius search tens of nanoseconds per offer:
        // only those a filter asks for are read.
        if f.max_price_cents.is_some() || f.free_only {
            let price = self.cols.price.first(doc).unwrap_or(0);
            if f.max_price_cents.is_some_and(|max| price > max) || (f.free_only && price != 0) {
                return false;
            }
        }
        if f.duo_only && !self.cols.duo.first(doc).unwrap_or(false) {
            return false;
        }
        if !f.include_sold_out && self.cols.sold_out.first(doc).unwrap_or(false) {
            return false;
        }
        if f.begins_after.is_some() || f.begins_before.is_some() {
            let Some(t) = self.cols.begins.as_ref().and_then(|c| c.first(doc)) else {
                return false;
            };
            if f.begins_after.is_some_and(|a| t < a) || f.begins_before.is_some_and(|b| t > b) {
                return false;
            }
        }
        true
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
            if let Some(ord) = self
                .cols
                .category
                .as_ref()
                .and_then(|c| c.ords().first(doc))
            {
                if let Some(n) = self.facet_counts.get_mut(ord as usize) {
                    *n += 1;
                }
            }
        }
    }

    /// Keeps `candidate` if it is among the best `keep` so far.
    fn offer(&mut self, candidate: Candidate) {
        if self.heap.len() < self.criteria.keep {
            self.heap.push(candidate);
        } else if self.heap.peek().is_some_and(|worst| candidate < *worst) {
            self.heap.pop();
            self.heap.push(candidate);
        }
    }

    /// An offer of a cell that lies inside the disk, at least `inside_from_m` from
    /// the centre: it passes the geo test without one, and its distance is computed
    /// only if it could still make the page.
    fn collect_inside(&mut self, doc: DocId, inside_from_m: f64) {
        if !self.passes_filters(doc) {
            return;
        }
        self.count(doc);
        if self.criteria.keep == 0 {
            return;
        }
        if self.heap.len() == self.criteria.keep {
            let Some(worst) = self.heap.peek() else {
                return;
            };
            let hopeless = match self.criteria.sort {
                // The distance is at least the bound; ties go to the lower id, so only
                // a bound strictly beyond the worst kept distance rules the offer out.
                SortBy::Distance => inside_from_m > worst.primary,
                // Without text every primary key is 0: the lowest ids win.
                SortBy::Relevance | SortBy::Blend => {
                    self.cols.id.first(doc).unwrap_or(0) > worst.id
                }
            };
            if hopeless {
                return;
            }
        }
        let location = self.cols.location(doc);
        let distance_m = match (&self.criteria.geo, location) {
            (GeoPlan::Radius { center, .. }, Some(p)) => Some(haversine_m(*center, p)),
            // A cell term on an offer without location cannot happen; be exact anyway.
            _ => return,
        };
        self.offer(Candidate {
            primary: self.primary(0.0, distance_m),
            id: self.cols.id.first(doc).unwrap_or(0),
            doc,
            score: 0.0,
            distance_m,
            location,
        });
    }

    fn hit(&self, c: Candidate) -> Hit {
        let cols = &self.cols;
        let doc = c.doc;
        Hit {
            id: c.id,
            score: c.score,
            distance_m: c.distance_m,
            category: Columns::string(&cols.category, &cols.category_names, doc),
            subcategory: Columns::string(&cols.subcategory, &cols.subcategory_names, doc),
            venue_id: cols.venue_id.as_ref().and_then(|v| v.first(doc)),
            offerer_id: cols.offerer_id.first(doc).unwrap_or(0),
            location: c.location,
            price_cents: cols.price.first(doc).unwrap_or(0),
            is_duo: cols.duo.first(doc).unwrap_or(false),
            is_event: cols.event.first(doc).unwrap_or(false),
            next_beginning_at: cols.begins.as_ref().and_then(|b| b.first(doc)),
            popularity: cols.popularity.first(doc).unwrap_or(0),
            remaining_places: cols.remaining.as_ref().and_then(|r| r.first(doc)),
            address: DocAddress::new(self.segment, doc),
        }
    }
}

impl SegmentCollector for OfferSegmentCollector {
    type Fruit = Harvest;

    fn collect(&mut self, doc: DocId, score: Score) {
        let mut score = score;
        if self.criteria.cell_bounds {
            if score >= 1.0 {
                return self.collect_inside(doc, f64::from(score) - 1.0);
            }
            // Not text relevance: hits without text score 0.
            score = 0.0;
        }
        let location = self.cols.location(doc);
        let Some(distance_m) = self.geo_test(location) else {
            return;
        };
        if !self.passes_filters(doc) {
            return;
        }
        self.count(doc);
        if self.criteria.keep == 0 {
            return;
        }
        self.offer(Candidate {
            primary: self.primary(score, distance_m),
            id: self.cols.id.first(doc).unwrap_or(0),
            doc,
            score,
            distance_m,
            location,
        });
    }

    fn harvest(mut self) -> Harvest {
        let heap = std::mem::take(&mut self.heap);
        let hits = heap
            .into_vec()
            .into_iter()
            .map(|c| Ranked {
                primary: c.primary,
                hit: self.hit(c),
            })
            .collect();
        let mut facets = HashMap::new();
        for (ord, &count) in self.facet_counts.iter().enumerate() {
            if let (true, Some(name)) = (count > 0, self.cols.category_names.get(ord)) {
                *facets.entry(name.clone()).or_default() += count;
            }
        }
        Harvest {
            hits,
            total: self.total,
            facets,
        }
    }
}
