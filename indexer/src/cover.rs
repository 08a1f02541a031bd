//! Conservative H3 covers of disks.
//!
//! Every physical offer is indexed with its H3 cell at each resolution of
//! [`RESOLUTIONS`] (one multi-valued `u64` field; a cell id encodes its
//! resolution, so ids of different resolutions never collide). A radius query
//! turns into "doc holds one of these cells", which the inverted index answers
//! quickly, and the collector then applies the exact distance test.
//!
//! The cover must never miss a cell that intersects the disk, or the exact
//! filter would silently lose offers. Argument: if a cell `C` holds a point
//! `p` with `d(centre, p) <= r`, then `d(centre, centre(C)) <= r + R(C)`
//! where `R(C)` is the cell's circumradius (the farthest boundary vertex from
//! its centre; cell edges are great-circle arcs in H3's gnomonic faces, so
//! the whole cell lies within that distance). The cells meeting the disk form
//! a connected set under adjacency (the disk is connected and H3 cells that
//! touch share an edge), it contains the centre cell, and each of its cells
//! passes the test above. A flood fill from the centre cell through
//! neighbours passing the test therefore reaches all of them.

use std::collections::{HashSet, VecDeque};
use std::sync::{OnceLock, RwLock};

use h3o::{CellIndex, LatLng, Resolution};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::geo::{haversine_m, GeoPoint, Measured};

/// Resolutions indexed for every physical offer, coarsest first
/// (average edge from about 158 km down to about 174 m).
pub(crate) const RESOLUTIONS: [Resolution; 8] = [
    Resolution::Two,
    Resolution::Three,
    Resolution::Four,
    Resolution::Five,
    Resolution::Six,
    Resolution::Seven,
    Resolution::Eight,
    Resolution::Nine,
];

/// The finest resolution is chosen so that the radius spans at most this many
/// average edge lengths: the cover then holds roughly 20 to 150 cells.
const MAX_RADIUS_IN_EDGES: f64 = 8.0;

/// Relative safety margin on the circumradius, against the small gap between
/// h3o's point assignment and the vertex polygon (and rounding).
const RELATIVE_MARGIN: f64 = 0.05;

/// Absolute safety margin, in metres, for the same reason.
const ABSOLUTE_MARGIN_M: f64 = 10.0;

/// Beyond this many cells the cover is abandoned; the caller scans instead,
/// which is slower but still exact.
const MAX_CELLS: usize = 4_000;

/// The H3 cell ids of a point, one per indexed resolution.
pub(crate) fn cells_of(p: GeoPoint) -> impl Iterator<Item = u64> {
    let ll = p.to_latlng();
    RESOLUTIONS
        .into_iter()
        .map(move |res| u64::from(ll.to_cell(res)))
}

/// A key that orders offers by place, for full builds: the id of the offer's cell at
/// the finest indexed resolution. An H3 id spells its ancestors' digits from the
/// coarsest down, so sorting by it puts the descendants of one cell side by side at
/// every coarser resolution. Offers without a location sort last.
///
/// Offers added in this order are stored with each cell's offers in a few runs of
/// neighbours (a few, not one: an H3 cell is not exactly the union of its children,
/// so offers near its edge sort with a neighbour's descendants). A large disk then
/// reads runs of documents, and of their fast fields, instead of offers scattered over
/// the whole index.
///
/// ```
/// use indexer::{spatial_key, GeoPoint};
/// let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
/// let near = GeoPoint::new(48.8570, 2.3530).unwrap();
/// let lyon = GeoPoint::new(45.7640, 4.8357).unwrap();
/// let mut places = [Some(lyon), None, Some(paris), Some(near)];
/// places.sort_by_key(|p| spatial_key(*p));
/// assert_eq!(places[3], None);
/// ```
pub fn spatial_key(location: Option<GeoPoint>) -> u64 {
    location
        .and_then(|p| cells_of(p).last())
        .unwrap_or(u64::MAX)
}

/// The finest indexed resolution whose cells are not too small for the radius.
pub(crate) fn resolution_for(radius_m: f64) -> Resolution {
    finest_for(radius_m, MAX_RADIUS_IN_EDGES)
}

/// The finest indexed resolution whose average edge times `edges` reaches the radius.
fn finest_for(radius_m: f64, edges: f64) -> Resolution {
    RESOLUTIONS
        .into_iter()
        .rev()
        .find(|res| res.edge_length_m() * edges >= radius_m)
        .unwrap_or(RESOLUTIONS[0])
}

/// Largest distance from the cell's centre to its boundary, in metres.
fn circumradius_m(cell: CellIndex, centre: GeoPoint) -> f64 {
    cell.boundary()
        .iter()
        .map(|v| haversine_m(centre, GeoPoint::from_latlng(*v)))
        .fold(0.0, f64::max)
}

/// The finest resolution of the cover a search uses when it counts the offers of whole
/// cells without visiting them (see [`counting_resolution`]): the radius spans at most
/// this many average edges, so the cover holds at most about 1,500 cells.
const COUNTING_RADIUS_IN_EDGES: f64 = 24.0;

/// The resolution of the cover of a search that counts whole cells: finer than
/// [`resolution_for`], so that the cells cut by the circle, whose offers must still be
/// measured one by one, hold a smaller share of the disk (a sixth or less instead of
/// half); a cell inside costs a lookup of its counts instead.
pub(crate) fn counting_resolution(radius_m: f64) -> Resolution {
    finest_for(radius_m, COUNTING_RADIUS_IN_EDGES)
}

/// One cell of a cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CoverCell {
    /// The H3 cell id.
    pub id: u64,
    /// A lower bound, in metres, of the distance from the centre to any point of the
    /// cell (0 for cells near the centre).
    pub near_m: f64,
    /// When the whole cell lies inside the disk: a lower bound, in metres, of the
    /// distance from the centre to any point of the cell. Offers in such a cell
    /// need no distance test, and a nearest-first search can skip computing their
    /// distance once it holds enough closer offers.
    pub inside_from_m: Option<f64>,
    /// An upper bound, in metres, of the distance from the centre to any point of the
    /// cell: a disk of that radius holds all of the cell's offers.
    pub far_m: f64,
}

/// Cells (at [`resolution_for`]`(radius_m)`) covering every point within
/// `radius_m` of `centre`, or `None` when the cover would be too large to be
/// worth it.
pub(crate) fn disk_cover(centre: GeoPoint, radius_m: f64) -> Option<Vec<CoverCell>> {
    disk_cover_at(centre, radius_m, resolution_for(radius_m))
}

/// Like [`disk_cover`], with cells of resolution `res`.
pub(crate) fn disk_cover_at(
    centre: GeoPoint,
    radius_m: f64,
    res: Resolution,
) -> Option<Vec<CoverCell>> {
    let start = centre.to_latlng().to_cell(res);
    let mut seen: FxHashSet<CellIndex> = FxHashSet::default();
    seen.insert(start);
    let mut queue = VecDeque::from([start]);
    let mut kept = Vec::new();
    // Measured once: a cover visits hundreds of cells, and `haversine_m` would work out
    // the centre's cosine again for each.
    let from = Measured::new(centre);
    let known = shapes().read().unwrap_or_else(|e| e.into_inner());
    // Shapes to put in the table's recent generation: those computed, and those found
    // only in the older one, which would otherwise be lost when it is dropped.
    let mut renewed = Vec::new();
    let covered = loop {
        let Some(cell) = queue.pop_front() else {
            break Some(kept);
        };
        let shape = match known.get(cell) {
            Some((shape, Generation::Recent)) => shape,
            Some((shape, Generation::Older)) => {
                renewed.push((cell, shape));
                shape
            }
            None => {
                let shape = Shape::new(cell);
                renewed.push((cell, shape));
                shape
            }
        };
        let spread = shape.spread_m;
        let d = from.distance_m(&shape.centre);
        // The start cell holds the centre, so it is always kept.
        if cell != start && d > radius_m + spread {
            continue;
        }
        kept.push(CoverCell {
            id: u64::from(cell),
            near_m: (d - spread).max(0.0),
            inside_from_m: (d + spread <= radius_m).then(|| (d - spread).max(0.0)),
            far_m: d + spread,
        });
        if kept.len() > MAX_CELLS {
            break None;
        }
        for &n in shape.neighbours() {
            if seen.insert(n) {
                queue.push_back(n);
            }
        }
    };
    drop(known);
    if !renewed.is_empty() {
        shapes()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .renew(renewed);
    }
    covered
}

/// What a cover needs to know of a cell.
#[derive(Debug, Clone, Copy)]
struct Shape {
    /// With its latitude's cosine, which every cover measuring the cell needs.
    centre: Measured,
    /// Every point of the cell is within this distance of its centre (the circumradius
    /// with the cover's margins).
    spread_m: f64,
    /// The adjacent cells (five around a pentagon, six otherwise), then `len`.
    adjacent: [CellIndex; 6],
    len: usize,
}

impl Shape {
    fn new(cell: CellIndex) -> Shape {
        let mut adjacent = [cell; 6];
        let mut len = 0;
        for n in cell.grid_disk::<Vec<_>>(1) {
            if n != cell && len < adjacent.len() {
                adjacent[len] = n;
                len += 1;
            }
        }
        let centre = GeoPoint::from_latlng(LatLng::from(cell));
        Shape {
            centre: Measured::new(centre),
            spread_m: circumradius_m(cell, centre) * (1.0 + RELATIVE_MARGIN) + ABSOLUTE_MARGIN_M,
            adjacent,
            len,
        }
    }

    fn neighbours(&self) -> &[CellIndex] {
        &self.adjacent[..self.len]
    }
}

/// How many cell shapes each of the two generations of [`Shapes`] holds; about 100 bytes
/// each.
const SHAPES_PER_GENERATION: usize = 200_000;

/// Which generation of [`Shapes`] a shape was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Generation {
    Recent,
    Older,
}

/// A bounded table of cell shapes in two generations: shapes go into the recent one, and
/// when it is full it becomes the older one, whose shapes are dropped unless a cover
/// uses them again before the next turn. Emptying one table whenever it was full instead
/// dropped the cells of busy places along with those of places seen once: over 1,000
/// bench feeds, 70,700 of the 276,000 cells the covers visited had their shape worked out
/// again, 6 % of a feed's instructions; two generations of the same size work out 40,400.
struct Shapes {
    recent: FxHashMap<CellIndex, Shape>,
    older: FxHashMap<CellIndex, Shape>,
    per_generation: usize,
}

impl Default for Shapes {
    fn default() -> Self {
        Shapes::new(SHAPES_PER_GENERATION)
    }
}

impl Shapes {
    fn new(per_generation: usize) -> Shapes {
        Shapes {
            recent: FxHashMap::default(),
            older: FxHashMap::default(),
            per_generation,
        }
    }

    fn get(&self, cell: CellIndex) -> Option<(Shape, Generation)> {
        if let Some(shape) = self.recent.get(&cell) {
            return Some((*shape, Generation::Recent));
        }
        self.older.get(&cell).map(|s| (*s, Generation::Older))
    }

    /// Puts shapes in the recent generation, turning generations as it fills.
    fn renew(&mut self, shapes: Vec<(CellIndex, Shape)>) {
        for (cell, shape) in shapes {
            if self.recent.len() >= self.per_generation {
                // The older generation's memory is reused for the next recent one.
                std::mem::swap(&mut self.recent, &mut self.older);
                self.recent.clear();
            }
            self.recent.insert(cell, shape);
        }
    }
}

/// The process-wide table of cell shapes: computing one (its boundary above all) took a
/// few microseconds, most of a small search, and searches around the same places use the
/// same cells again and again. A cover reads it under one lock, not one per cell: taking
/// the shared lock cell by cell was a sixth of the covers' time in a profile of the bench
/// feeds.
fn shapes() -> &'static RwLock<Shapes> {
    static SHAPES: OnceLock<RwLock<Shapes>> = OnceLock::new();
    SHAPES.get_or_init(RwLock::default)
}

/// A disk on the sphere, with the H3 cover the search pre-filter uses, for callers that
/// test many points against one disk (a campaign's audience around a venue): a point
/// whose cell is outside the cover is out without a distance computation; the others are
/// measured exactly.
///
/// ```
/// use indexer::{Disk, GeoPoint};
/// let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
/// let disk = Disk::new(paris, 30_000.0);
/// let versailles = GeoPoint::new(48.8049, 2.1204).unwrap();
/// let lyon = GeoPoint::new(45.7640, 4.8357).unwrap();
/// assert!(disk.distance_if_inside(versailles).is_some());
/// assert!(disk.distance_if_inside(lyon).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Disk {
    centre: GeoPoint,
    radius_m: f64,
    resolution: Resolution,
    /// The cover's cells. Empty when the cover would be too large, in which case every
    /// point is measured.
    cells: HashSet<u64>,
}

impl Disk {
    /// The points within `radius_m` metres of `centre`.
    pub fn new(centre: GeoPoint, radius_m: f64) -> Disk {
        let cells = disk_cover(centre, radius_m)
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.id)
            .collect();
        Disk {
            centre,
            radius_m,
            resolution: resolution_for(radius_m),
            cells,
        }
    }

    /// Whether `p` lies in the disk and, when it does, its distance to the centre in
    /// metres. Exact: the cover only skips points it proves are outside.
    pub fn distance_if_inside(&self, p: GeoPoint) -> Option<f64> {
        if !self.cells.is_empty() {
            let cell = u64::from(p.to_latlng().to_cell(self.resolution));
            if !self.cells.contains(&cell) {
                return None;
            }
        }
        let d = haversine_m(self.centre, p);
        (d <= self.radius_m).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shapes used again survive a turn of generations; the others are dropped at the
    /// second turn.
    #[test]
    fn shapes_used_again_outlive_their_generation() {
        let parent = GeoPoint::new(48.8566, 2.3522)
            .unwrap()
            .to_latlng()
            .to_cell(Resolution::Seven);
        let cells: Vec<CellIndex> = parent.children(Resolution::Eight).take(6).collect();
        let shape = |i: usize| (cells[i], Shape::new(cells[i]));
        let mut shapes = Shapes::new(3);
        shapes.renew((0..3).map(shape).collect());
        assert!(matches!(
            shapes.get(cells[2]),
            Some((_, Generation::Recent))
        ));
        // Full: the first three become the older generation.
        shapes.renew(vec![shape(3)]);
        assert!(matches!(shapes.get(cells[0]), Some((_, Generation::Older))));
        assert!(matches!(
            shapes.get(cells[3]),
            Some((_, Generation::Recent))
        ));
        // Cell 0 is used again, cell 1 is not; two turns later only 0 is known.
        shapes.renew(vec![shape(0), shape(4)]);
        shapes.renew(vec![shape(5)]);
        assert!(shapes.get(cells[1]).is_none());
        assert!(shapes.get(cells[2]).is_none());
        let (kept, generation) = shapes.get(cells[0]).expect("renewed shape kept");
        assert_eq!(generation, Generation::Older);
        assert_eq!(kept.spread_m, Shape::new(cells[0]).spread_m);
        assert!(shapes.recent.len() + shapes.older.len() <= 2 * 3);
    }

    /// Sorted by [`spatial_key`], points fall into one run per ancestor of their finest
    /// cell at every indexed resolution, and into a few runs per cell of their own.
    #[test]
    fn spatial_order_keeps_cells_together() {
        // A deterministic spread over metropolitan France, dense enough to share cells.
        let mut points: Vec<GeoPoint> = (0..5_000u32)
            .map(|i| {
                let a = f64::from(i.wrapping_mul(2_654_435_761) % 10_000) / 10_000.0;
                let b = f64::from(i.wrapping_mul(40_503) % 10_000) / 10_000.0;
                GeoPoint::new(43.0 + 6.0 * a, -1.0 + 8.0 * b).unwrap()
            })
            .collect();
        points.sort_by_key(|p| spatial_key(Some(*p)));
        let finest = RESOLUTIONS[RESOLUTIONS.len() - 1];
        // Runs of equal values, and how many distinct values they hold.
        let runs = |values: &[u64]| {
            let runs = 1 + values.windows(2).filter(|w| w[0] != w[1]).count();
            (runs, values.iter().collect::<HashSet<_>>().len())
        };
        for res in RESOLUTIONS {
            let ancestors: Vec<u64> = points
                .iter()
                .map(|p| {
                    let cell = p.to_latlng().to_cell(finest);
                    u64::from(cell.parent(res).expect("coarser resolution"))
                })
                .collect();
            let (n, distinct) = runs(&ancestors);
            assert_eq!(n, distinct, "ancestors at {res:?} split");
            let own: Vec<u64> = points
                .iter()
                .map(|p| u64::from(p.to_latlng().to_cell(res)))
                .collect();
            let (n, distinct) = runs(&own);
            // Random order would give about one run per point; ideal, one per cell.
            assert!(
                n - distinct <= points.len() / 8,
                "{n} runs for {distinct} cells at {res:?}"
            );
        }
        assert_eq!(spatial_key(None), u64::MAX);
    }

    /// The finer covers of searches that count cells stay small, even for the largest
    /// radius each resolution is chosen for.
    #[test]
    fn counting_covers_stay_small() {
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        for res in RESOLUTIONS {
            for edges in [MAX_RADIUS_IN_EDGES, COUNTING_RADIUS_IN_EDGES] {
                let r = res.edge_length_m() * edges - 1.0;
                if r > crate::MAX_RADIUS_M {
                    continue;
                }
                let res = counting_resolution(r);
                assert!(res >= resolution_for(r));
                let cells = disk_cover_at(paris, r, res).map_or(0, |c| c.len());
                assert!((1..=2_000).contains(&cells), "r={r}: {cells} cells");
            }
        }
    }

    #[test]
    fn cover_sizes_stay_reasonable() {
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        for r in [
            1.0,
            500.0,
            2_000.0,
            10_000.0,
            50_000.0,
            100_000.0,
            400_000.0,
            1_000_000.0,
        ] {
            let cells = disk_cover(paris, r).unwrap();
            assert!(cells
                .iter()
                .all(|c| c.inside_from_m.is_none_or(|lb| lb <= r)));
            assert!(
                !cells.is_empty() && cells.len() <= 400,
                "r={r}: {} cells",
                cells.len()
            );
        }
    }

    #[test]
    fn cover_contains_cells_of_points_inside() {
        let c = GeoPoint::new(-20.8823, 55.4504).unwrap();
        let r = 3_000.0;
        for res in [resolution_for(r), counting_resolution(r)] {
            cover_contains_cells_of_points_inside_at(c, r, res);
        }
    }

    fn cover_contains_cells_of_points_inside_at(c: GeoPoint, r: f64, res: Resolution) {
        let cover = disk_cover_at(c, r, res).unwrap();
        let cells: HashSet<u64> = cover.iter().map(|c| c.id).collect();
        let inside: HashSet<u64> = cover
            .iter()
            .filter(|c| c.inside_from_m.is_some())
            .map(|c| c.id)
            .collect();
        assert!(!inside.is_empty(), "a 3 km disk holds whole cells");
        for i in 0..360 {
            let a = (i as f64).to_radians();
            // Points on the circle, 2.99 km away, in every direction.
            let dlat = (r * 0.999 * a.cos() / crate::geo::EARTH_RADIUS_M).to_degrees();
            let dlon = (r * 0.999 * a.sin()
                / (crate::geo::EARTH_RADIUS_M * c.lat().to_radians().cos()))
            .to_degrees();
            let p = GeoPoint::new(c.lat() + dlat, c.lon() + dlon).unwrap();
            let cell = u64::from(p.to_latlng().to_cell(res));
            if haversine_m(c, p) <= r {
                assert!(cells.contains(&cell));
            }
            // Points just outside the circle are never in a cell marked inside.
            let dlat = (r * 1.001 * a.cos() / crate::geo::EARTH_RADIUS_M).to_degrees();
            let dlon = (r * 1.001 * a.sin()
                / (crate::geo::EARTH_RADIUS_M * c.lat().to_radians().cos()))
            .to_degrees();
            let q = GeoPoint::new(c.lat() + dlat, c.lon() + dlon).unwrap();
            if haversine_m(c, q) > r {
                assert!(!inside.contains(&u64::from(q.to_latlng().to_cell(res))));
            }
        }
    }

    #[test]
    fn disk_agrees_with_the_exact_distance() {
        let c = GeoPoint::new(45.7640, 4.8357).unwrap();
        let r = 30_000.0;
        let disk = Disk::new(c, r);
        let mut inside = 0;
        for i in 0..20_000u32 {
            // A deterministic scatter over a 1.2-degree square around the centre.
            let a = f64::from(i.wrapping_mul(2_654_435_761) % 10_000) / 10_000.0;
            let b = f64::from(i.wrapping_mul(40_503) % 10_000) / 10_000.0;
            let p = GeoPoint::new(c.lat() - 0.6 + 1.2 * a, c.lon() - 0.6 + 1.2 * b).unwrap();
            let exact = haversine_m(c, p);
            assert_eq!(disk.distance_if_inside(p), (exact <= r).then_some(exact));
            inside += usize::from(exact <= r);
        }
        assert!(inside > 1_000 && inside < 19_000, "{inside} points inside");
    }
}
