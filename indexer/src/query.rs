//! What a search asks for, and its validation into an execution plan.

use crate::analysis::analyze;
use crate::cells::DIGITAL;
use crate::cover::{counting_resolution, disk_cover, disk_cover_at, CoverCell};
use crate::geo::{BoundingBox, GeoPoint};
use crate::IndexError;

/// Longest accepted search text, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Largest page size; larger `limit`s are silently capped.
pub const MAX_LIMIT: usize = 10_000;
/// Page size of [`Query::default`].
pub const DEFAULT_LIMIT: usize = 20;
/// Smallest search radius, in metres.
pub const MIN_RADIUS_M: f64 = 1.0;
/// Largest search radius, in metres (1000 km).
pub const MAX_RADIUS_M: f64 = 1_000_000.0;

/// How digital offers (no location, available nationwide) take part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigitalMode {
    /// Digital and physical offers; digital ones bypass the geo filter.
    #[default]
    Include,
    /// Physical offers only.
    Exclude,
    /// Digital offers only; the geo filter is then ignored.
    Only,
}

/// Where physical offers must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoFilter {
    /// Within `radius_m` metres (great-circle) of `center`; `radius_m` must be
    /// within [`MIN_RADIUS_M`]`..=`[`MAX_RADIUS_M`]. Hits carry their distance
    /// to `center`.
    Radius {
        /// Centre of the disk.
        center: GeoPoint,
        /// Radius in metres.
        radius_m: f64,
    },
    /// Inside the box (edges included). Hits carry their distance to the
    /// box's [`BoundingBox::center`].
    BoundingBox(BoundingBox),
}

/// Result order. Ties are always broken by ascending offer id, so results
/// and pages are deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// BM25 text score, descending.
    Relevance,
    /// Distance to the geo filter's centre, ascending; offers without a
    /// distance (digital ones, or any offer when there is no geo filter) come
    /// last, by id.
    Distance,
    /// `score / (1 + distance_km / 10)`, descending: an offer 10 km away needs
    /// twice the text score of one next door. Digital offers get no distance
    /// penalty (they are usable from anywhere).
    Blend,
}

/// Exact-match and range filters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filters {
    /// Keep offers whose category is one of these (empty: no constraint).
    pub categories: Vec<String>,
    /// Keep offers whose subcategory is one of these (empty: no constraint).
    pub subcategories: Vec<String>,
    /// Keep offers costing at most this, in cents.
    pub max_price_cents: Option<u64>,
    /// Keep free offers only (price 0).
    pub free_only: bool,
    /// Keep duo offers only.
    pub duo_only: bool,
    /// Keep offers whose next date is at or after this (unix seconds);
    /// offers without a date are then excluded.
    pub begins_after: Option<i64>,
    /// Keep offers whose next date is at or before this (unix seconds);
    /// offers without a date are then excluded.
    pub begins_before: Option<i64>,
    /// Also return sold-out offers (excluded by default).
    pub include_sold_out: bool,
}

impl Filters {
    /// Whether cells' counts can tell how many offers pass: they are split by category
    /// and sold-out flag only (see [`crate::cells`]).
    pub(crate) fn countable(&self) -> bool {
        self.subcategories.is_empty() && !self.on_fields()
    }

    /// Whether a filter asks for a price, duo flag or date: what the collector reads
    /// from each tested offer's fields, beyond its place and sold-out flag.
    pub(crate) fn on_fields(&self) -> bool {
        self.max_price_cents.is_some()
            || self.free_only
            || self.duo_only
            || self.begins_after.is_some()
            || self.begins_before.is_some()
    }
}

/// A search.
///
/// `Default` gives: no text, no geo filter, digital offers included, no
/// filters, default sort, first page of [`DEFAULT_LIMIT`] hits, no facets.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Free text, analysed like the documents and never parsed as query
    /// syntax. `None`, empty or whitespace: no text constraint. At most
    /// [`MAX_QUERY_CHARS`] characters. Text without any searchable word
    /// (only punctuation, emoji or function words like "de") is treated as
    /// no text constraint too.
    pub text: Option<String>,
    /// Location constraint for physical offers.
    pub geo: Option<GeoFilter>,
    /// Digital offers handling.
    pub digital: DigitalMode,
    /// Filters.
    pub filters: Filters,
    /// Order; `None`: [`SortBy::Relevance`] when there is text, else
    /// [`SortBy::Distance`].
    pub sort: Option<SortBy>,
    /// Hits to skip.
    pub offset: usize,
    /// Page size, capped at [`MAX_LIMIT`]. Zero returns no hits but still
    /// counts `total` and facets.
    pub limit: usize,
    /// Compute per-category counts over all matching offers.
    pub facets: bool,
    /// Count every matching offer into `total` (the default). When `false`, a search
    /// for the nearest physical offers (no text, radius, [`SortBy::Distance`],
    /// [`DigitalMode::Exclude`], no facets) may stop at a smaller disk around the centre
    /// that already holds the whole page: the page is the same, and `total` is then
    /// only a lower bound, at least `offset + limit`.
    pub exact_total: bool,
    /// Return the page in the order of `sort` (the default). When `false`, the page holds
    /// the same hits in an order that is deterministic for one index but otherwise
    /// unspecified: for a caller that orders them itself, such as the feed, which
    /// re-ranks its 2,000 nearest offers and so is spared sorting them.
    pub ordered: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            text: None,
            geo: None,
            digital: DigitalMode::default(),
            filters: Filters::default(),
            sort: None,
            offset: 0,
            limit: DEFAULT_LIMIT,
            facets: false,
            exact_total: true,
            ordered: true,
        }
    }
}

/// The geo part of a validated query.
#[derive(Debug, Clone)]
pub(crate) enum GeoPlan {
    None,
    Radius { center: GeoPoint, radius_m: f64 },
    Box { bbox: BoundingBox, center: GeoPoint },
}

/// A validated query, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub terms: Vec<String>,
    pub geo: GeoPlan,
    /// H3 cells covering the geo filter; `None` when there is no geo filter, when its
    /// cover is too large (then the exact test alone decides), or when the search is
    /// nearest-first (see [`Plan::nearest_first`]), which covers each disk it tries.
    pub cells: Option<Vec<CoverCell>>,
    /// The search counts whole cells instead of visiting their offers (see
    /// [`crate::cells`]): `cells` is then a finer cover, sorted by
    /// [`CoverCell::near_m`], ending with [`DIGITAL`] when digital offers are included.
    pub counting: bool,
    /// The search may stop at a smaller disk holding the whole page (see
    /// [`Query::exact_total`]).
    pub nearest_first: bool,
    pub digital: DigitalMode,
    pub filters: Filters,
    pub sort: SortBy,
    pub offset: usize,
    pub limit: usize,
    pub facets: bool,
    pub ordered: bool,
}

impl Query {
    /// Validates the query; every bad-input error surfaces here.
    pub(crate) fn plan(&self) -> Result<Plan, IndexError> {
        let text = self.text.as_deref().unwrap_or("");
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(IndexError::QueryTooLong {
                chars,
                max: MAX_QUERY_CHARS,
            });
        }
        let terms = analyze(text);
        let sort = self.sort.unwrap_or(if terms.is_empty() {
            SortBy::Distance
        } else {
            SortBy::Relevance
        });
        let mut counting = false;
        // The nearest offers, by distance alone: what the counted cells can answer
        // (digital offers included or not); the nearest-first disks, physical ones only.
        let nearest = terms.is_empty() && sort == SortBy::Distance;
        let nearest_physical = nearest && self.digital == DigitalMode::Exclude;
        let nearest_first = nearest_physical
            && !self.exact_total
            && !self.facets
            && matches!(self.geo, Some(GeoFilter::Radius { .. }));
        let (geo, cells) = match self.geo {
            None => (GeoPlan::None, None),
            Some(GeoFilter::Radius { center, radius_m }) => {
                // `contains` is false for NaN, so NaN is rejected too.
                if !(MIN_RADIUS_M..=MAX_RADIUS_M).contains(&radius_m) {
                    return Err(IndexError::InvalidRadius(radius_m));
                }
                // Re-validate: a GeoPoint can only be built valid, but be
                // strict about what reaches h3o.
                let center = GeoPoint::new(center.lat(), center.lon())?;
                let fine = self
                    .counts_cells(nearest)
                    .then(|| disk_cover_at(center, radius_m, counting_resolution(radius_m)))
                    .flatten();
                counting = fine.is_some();
                let cells = match fine {
                    Some(mut cells) => {
                        cells.sort_by(|a, b| a.near_m.total_cmp(&b.near_m));
                        // Digital offers come after every physical one: one more cell,
                        // the farthest, wholly inside.
                        if self.digital == DigitalMode::Include {
                            cells.push(CoverCell {
                                id: DIGITAL,
                                near_m: f64::INFINITY,
                                inside_from_m: Some(f64::INFINITY),
                                far_m: f64::INFINITY,
                            });
                        }
                        Some(cells)
                    }
                    None => (self.needs_cover() && !nearest_first)
                        .then(|| disk_cover(center, radius_m))
                        .flatten(),
                };
                (GeoPlan::Radius { center, radius_m }, cells)
            }
            Some(GeoFilter::BoundingBox(bbox)) => {
                bbox.validate()?;
                let center = bbox.center();
                let radius = bbox.circumradius_m();
                // The box's circumscribed disk: its cells pre-filter, the exact test
                // against the box decides.
                let cells = (self.needs_cover() && radius <= MAX_RADIUS_M)
                    .then(|| disk_cover(center, radius.max(MIN_RADIUS_M)))
                    .flatten();
                (GeoPlan::Box { bbox, center }, cells)
            }
        };
        Ok(Plan {
            terms,
            geo,
            cells,
            counting,
            nearest_first,
            digital: self.digital,
            filters: self.filters.clone(),
            sort,
            offset: self.offset,
            limit: self.limit.min(MAX_LIMIT),
            facets: self.facets,
            ordered: self.ordered,
        })
    }

    /// Whether a radius search can count whole cells: nearest offers first (digital ones,
    /// if included, after all physical ones), and no filter but categories and sold-out
    /// ones, which the cells' counts are split by. A search box without words in a city
    /// ("le", "les") is one: 50 km around Paris, with the digital offers, it visited
    /// 250,000 offers.
    /// Only for an exact total: a search that may stop early (a feed's 2,000 candidates)
    /// reads most of its cells' offers anyway, and under load it ran 2.6 times slower
    /// counting them.
    fn counts_cells(&self, nearest: bool) -> bool {
        self.exact_total && nearest && self.digital != DigitalMode::Only && self.filters.countable()
    }

    /// With only digital offers wanted, the geo filter does not apply.
    fn needs_cover(&self) -> bool {
        self.digital != DigitalMode::Only
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nearest(radius_m: f64) -> Query {
        Query {
            geo: Some(GeoFilter::Radius {
                center: GeoPoint::new(48.8566, 2.3522).unwrap(),
                radius_m,
            }),
            digital: DigitalMode::Exclude,
            facets: true,
            ..Query::default()
        }
    }

    /// Nearest physical offers, filtered by category or not, count whole cells of a
    /// finer cover sorted nearest first; anything the counts are not split by does not.
    #[test]
    fn only_searches_the_counts_answer_count_cells() {
        for radius_m in [300.0, 5_000.0, 50_000.0, MAX_RADIUS_M] {
            let mut q = nearest(radius_m);
            q.filters.categories = vec!["CINEMA".into()];
            let plan = q.plan().unwrap();
            assert!(plan.counting, "{radius_m} m");
            let cells = plan.cells.unwrap();
            assert!(cells.windows(2).all(|w| w[0].near_m <= w[1].near_m));
            let coarse = disk_cover(GeoPoint::new(48.8566, 2.3522).unwrap(), radius_m).unwrap();
            assert!(cells.len() >= coarse.len());
        }
        // With digital offers, one more cell counts them, after every physical one.
        let with_digital = Query {
            digital: DigitalMode::Include,
            ..nearest(5_000.0)
        }
        .plan()
        .unwrap();
        assert!(with_digital.counting);
        let cells = with_digital.cells.unwrap();
        assert_eq!(cells.last().map(|c| c.id), Some(DIGITAL));
        assert!(cells
            .iter()
            .rev()
            .skip(1)
            .all(|c| c.id != DIGITAL && c.near_m.is_finite()));
        // Digital offers alone have no cells to count.
        let digital_only = Query {
            digital: DigitalMode::Only,
            ..nearest(5_000.0)
        };
        assert!(!digital_only.plan().unwrap().counting);
        let not_counting = [
            Query {
                text: Some("concert".into()),
                ..nearest(5_000.0)
            },
            Query {
                sort: Some(SortBy::Relevance),
                ..nearest(5_000.0)
            },
            Query {
                exact_total: false,
                facets: false,
                ..nearest(5_000.0)
            },
            Query {
                filters: Filters {
                    max_price_cents: Some(1_000),
                    ..Filters::default()
                },
                ..nearest(5_000.0)
            },
            Query {
                filters: Filters {
                    subcategories: vec!["LIVRE_PAPIER".into()],
                    ..Filters::default()
                },
                ..nearest(5_000.0)
            },
        ];
        for q in not_counting {
            let plan = q.plan().unwrap();
            assert!(!plan.counting, "{q:?}");
            // Only the nearest-first one leaves its cover to the disks it will try.
            assert_eq!(plan.nearest_first, !q.exact_total, "{q:?}");
            assert_eq!(plan.cells.is_none(), plan.nearest_first, "{q:?}");
        }
    }
}
