//! Points, great-circle distance and bounding boxes.

use serde::{Deserialize, Serialize};

use crate::IndexError;

/// Mean Earth radius (IUGG), in metres, used by every distance in the crate.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A validated WGS84 point, in degrees.
///
/// Deserialisation goes through the same validation as [`GeoPoint::new`], so
/// an invalid point cannot sneak in through JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawPoint")]
pub struct GeoPoint {
    lat: f64,
    lon: f64,
}

#[derive(Deserialize)]
struct RawPoint {
    lat: f64,
    lon: f64,
}

impl TryFrom<RawPoint> for GeoPoint {
    type Error = IndexError;
    fn try_from(raw: RawPoint) -> Result<Self, IndexError> {
        GeoPoint::new(raw.lat, raw.lon)
    }
}

impl GeoPoint {
    /// Builds a point; latitude must be within `-90..=90`, longitude within
    /// `-180..=180`, both finite.
    pub fn new(lat: f64, lon: f64) -> Result<Self, IndexError> {
        if lat.is_finite()
            && lon.is_finite()
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            Ok(GeoPoint { lat, lon })
        } else {
            Err(IndexError::InvalidCoordinates { lat, lon })
        }
    }

    /// Latitude in degrees.
    pub fn lat(&self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(&self) -> f64 {
        self.lon
    }

    /// For values read back from the index, validated when written.
    pub(crate) fn new_unchecked(lat: f64, lon: f64) -> Self {
        GeoPoint { lat, lon }
    }

    pub(crate) fn to_latlng(self) -> h3o::LatLng {
        // GeoPoint is validated finite, the only thing h3o checks.
        h3o::LatLng::new(self.lat, self.lon).expect("GeoPoint is finite")
    }

    pub(crate) fn from_latlng(ll: h3o::LatLng) -> Self {
        GeoPoint {
            lat: ll.lat().clamp(-90.0, 90.0),
            lon: ll.lng().clamp(-180.0, 180.0),
        }
    }
}

/// Great-circle distance in metres (haversine, mean Earth radius
/// [`EARTH_RADIUS_M`]).
pub fn haversine_m(a: GeoPoint, b: GeoPoint) -> f64 {
    Measured::new(a).distance_m(&Measured::new(b))
}

/// A point with the cosine of its latitude worked out once: a search measures thousands
/// of offers from one centre, and the index keeps its offers this way, so a distance
/// costs two sines and an arcsine instead of two more cosines besides. The arithmetic is
/// [`haversine_m`]'s, which goes through it, so distances are the same to the bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Measured {
    point: GeoPoint,
    cos_lat: f64,
}

impl Measured {
    pub(crate) fn new(point: GeoPoint) -> Measured {
        Measured {
            point,
            cos_lat: point.lat.to_radians().cos(),
        }
    }

    pub(crate) fn point(&self) -> GeoPoint {
        self.point
    }

    /// The great-circle distance to `other`, in metres.
    pub(crate) fn distance_m(&self, other: &Measured) -> f64 {
        metres(self.haversine(other))
    }

    /// The haversine of the central angle to `other`, which grows with the distance:
    /// sin²(Δφ/2) + cos φ₁ cos φ₂ sin²(Δλ/2).
    #[inline]
    fn haversine(&self, other: &Measured) -> f64 {
        let (a, b) = (self.point, other.point);
        let dphi = b.lat.to_radians() - a.lat.to_radians();
        let dlambda = (b.lon - a.lon).to_radians();
        let s_phi = sin(dphi * 0.5);
        let s_lambda = sin(dlambda * 0.5);
        (s_phi * s_phi + self.cos_lat * other.cos_lat * s_lambda * s_lambda).clamp(0.0, 1.0)
    }
}

/// The distance, in metres, of a central angle of haversine `h`.
#[inline]
fn metres(h: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * asin(h.sqrt())
}

/// A disk's radius, with the haversine beyond which a point is surely outside it: a
/// search tests thousands of offers against its disk, and those the haversine turns away
/// need no square root and arcsine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Reach {
    radius_m: f64,
    max_haversine: f64,
}

impl Reach {
    pub(crate) fn new(radius_m: f64) -> Reach {
        let half_angle = radius_m / (2.0 * EARTH_RADIUS_M);
        let max_haversine = if half_angle < std::f64::consts::FRAC_PI_2 {
            // Raised by a millionth of a millionth: the haversine and the distance are each
            // within a few ulps of the truth, so no point whose distance is within the
            // radius has a haversine above it, and [`Reach::distance_m`] keeps exactly the
            // points the distance alone would.
            half_angle.sin().powi(2) * (1.0 + 1e-12)
        } else {
            f64::INFINITY
        };
        Reach {
            radius_m,
            max_haversine,
        }
    }

    /// The distance from `centre` to `point` when it is within the radius.
    #[inline]
    pub(crate) fn distance_m(&self, centre: &Measured, point: &Measured) -> Option<f64> {
        let h = centre.haversine(point);
        if h > self.max_haversine {
            return None;
        }
        let d = metres(h);
        (d <= self.radius_m).then_some(d)
    }
}

/// Below this, in radians, [`sin`] and [`asin`] sum their Taylor series: half the
/// angle of 398 km on the ground, beyond any search's radius.
const SMALL_ANGLE: f64 = 0.031_25;

/// `x.sin()`, by its Taylor series up to x⁷ below [`SMALL_ANGLE`], where the next term
/// is under 2⁻⁶⁰ of `x`, below f64's rounding: glibc's `sin` saves and restores the
/// floating-point environment on every call, and a feed's search measures thousands of
/// offers (sines were 5 % of the server's CPU in a profile of the bench feeds).
#[inline]
fn sin(x: f64) -> f64 {
    if x.abs() < SMALL_ANGLE {
        let x2 = x * x;
        // Multiplied by the reciprocals, which the compiler folds into constants: it may
        // not turn a division into a multiplication itself, and a division takes several
        // times a multiplication's cycles.
        x * (1.0 - x2 * (1.0 / 6.0) * (1.0 - x2 * (1.0 / 20.0) * (1.0 - x2 * (1.0 / 42.0))))
    } else {
        x.sin()
    }
}

/// `x.asin()`, by its Taylor series up to x⁹ below [`SMALL_ANGLE`], where the next term
/// is under 2⁻⁶⁰ of `x`; see [`sin`].
#[inline]
fn asin(x: f64) -> f64 {
    if x.abs() < SMALL_ANGLE {
        let x2 = x * x;
        x * (1.0 + x2 * (1.0 / 6.0 + x2 * (3.0 / 40.0 + x2 * (5.0 / 112.0 + x2 * (35.0 / 1152.0)))))
    } else {
        x.asin()
    }
}

/// A latitude/longitude rectangle, in degrees, edges included.
///
/// Boxes never cross the antimeridian: `west <= east` is required (split a
/// crossing box into two queries).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Southern latitude.
    pub south: f64,
    /// Western longitude.
    pub west: f64,
    /// Northern latitude.
    pub north: f64,
    /// Eastern longitude.
    pub east: f64,
}

impl BoundingBox {
    /// Builds a validated box (see [`BoundingBox::validate`]).
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<Self, IndexError> {
        let b = BoundingBox {
            south,
            west,
            north,
            east,
        };
        b.validate()?;
        Ok(b)
    }

    /// Checks coordinates, `south <= north` and `west <= east`. The fields
    /// are public, so searches validate again.
    pub fn validate(&self) -> Result<(), IndexError> {
        GeoPoint::new(self.south, self.west)?;
        GeoPoint::new(self.north, self.east)?;
        if self.south > self.north {
            return Err(IndexError::InvalidBoundingBox(format!(
                "south {} is north of north {}",
                self.south, self.north
            )));
        }
        if self.west > self.east {
            return Err(IndexError::InvalidBoundingBox(format!(
                "west {} is east of east {} (antimeridian crossing is not supported)",
                self.west, self.east
            )));
        }
        Ok(())
    }

    /// `true` when the point lies inside the box or on its edges.
    pub fn contains(&self, p: GeoPoint) -> bool {
        (self.south..=self.north).contains(&p.lat) && (self.west..=self.east).contains(&p.lon)
    }

    /// The point at the middle of the latitude and longitude ranges; distances
    /// of bounding-box hits are measured from it.
    pub fn center(&self) -> GeoPoint {
        GeoPoint {
            lat: (self.south + self.north) * 0.5,
            lon: (self.west + self.east) * 0.5,
        }
    }

    /// A radius around [`BoundingBox::center`] whose disk contains the whole
    /// box.
    ///
    /// Box edges along parallels are not great circles, so the farthest
    /// point is not always a corner. Each edge is sampled instead; distance to
    /// the centre is 1-Lipschitz along an edge, so the largest sample plus
    /// half the longest sampling step bounds every point of the edge.
    pub(crate) fn circumradius_m(&self) -> f64 {
        const STEPS: usize = 32;
        let c = self.center();
        let mut max_d: f64 = 0.0;
        let mut max_step: f64 = 0.0;
        let edges = [
            ((self.south, self.west), (self.south, self.east)),
            ((self.north, self.west), (self.north, self.east)),
            ((self.south, self.west), (self.north, self.west)),
            ((self.south, self.east), (self.north, self.east)),
        ];
        for ((lat0, lon0), (lat1, lon1)) in edges {
            let mut prev: Option<GeoPoint> = None;
            for i in 0..=STEPS {
                let t = i as f64 / STEPS as f64;
                let p = GeoPoint {
                    lat: lat0 + (lat1 - lat0) * t,
                    lon: lon0 + (lon1 - lon0) * t,
                };
                max_d = max_d.max(haversine_m(c, p));
                if let Some(q) = prev {
                    // Along a parallel the chord between samples is shorter
                    // than the arc; the arc length is the true bound.
                    let arc = (p.lon - q.lon).abs().to_radians()
                        * EARTH_RADIUS_M
                        * p.lat.to_radians().cos()
                        + (p.lat - q.lat).abs().to_radians() * EARTH_RADIUS_M;
                    max_step = max_step.max(arc);
                }
                prev = Some(p);
            }
        }
        max_d + max_step * 0.5 + 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_marseille() {
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        let marseille = GeoPoint::new(43.2965, 5.3698).unwrap();
        let d = haversine_m(paris, marseille);
        assert!((d - 660_000.0).abs() < 5_000.0, "{d}");
        assert_eq!(haversine_m(paris, paris), 0.0);
    }

    #[test]
    fn small_angle_series_agree_with_libm() {
        // Across the range where the series stand in for libm, and just past it.
        let mut worst = (0.0f64, 0.0f64);
        for i in 0..=200_000 {
            let x = SMALL_ANGLE * 1.01 * (i as f64 / 100_000.0 - 1.0);
            let ulp = |v: f64| v.abs().max(f64::MIN_POSITIVE) * f64::EPSILON;
            worst.0 = worst.0.max((sin(x) - x.sin()).abs() / ulp(x.sin()));
            worst.1 = worst.1.max((asin(x) - x.asin()).abs() / ulp(x.asin()));
        }
        assert!(
            worst.0 <= 2.0 && worst.1 <= 2.0,
            "worst error in ulps: {worst:?}"
        );
        assert_eq!(sin(0.0), 0.0);
        assert_eq!(asin(0.0), 0.0);
        // A kilometre, as libm measures it, to the micrometre.
        let a = GeoPoint::new(48.8566, 2.3522).unwrap();
        let b = GeoPoint::new(48.8656, 2.3522).unwrap();
        let libm = 2.0 * EARTH_RADIUS_M * (0.009f64.to_radians() * 0.5).sin().asin();
        assert!(
            (haversine_m(a, b) - libm).abs() < 1e-6,
            "{}",
            haversine_m(a, b)
        );
    }

    #[test]
    fn a_reach_keeps_what_the_distance_keeps() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut turned_away = 0;
        for _ in 0..100_000 {
            let lat = rng.gen_range(-60.0..60.0);
            let lon = rng.gen_range(-177.0..177.0);
            let centre = Measured::new(GeoPoint::new(lat, lon).unwrap());
            let spread = [0.001, 0.05, 2.0][rng.gen_range(0..3)];
            let point = Measured::new(
                GeoPoint::new(
                    lat + rng.gen_range(-spread..spread),
                    lon + rng.gen_range(-spread..spread),
                )
                .unwrap(),
            );
            let d = centre.distance_m(&point);
            // Radii exactly at the distance and one ulp either side, where rounding
            // could part the haversine's verdict from the distance's.
            for radius in [d.next_down(), d, d.next_up(), d * 0.999, d * 1.001] {
                if radius <= 0.0 {
                    continue;
                }
                let want = (d <= radius).then_some(d);
                assert_eq!(Reach::new(radius).distance_m(&centre, &point), want);
            }
            let far = Reach::new(d * 0.99);
            turned_away += usize::from(centre.haversine(&point) > far.max_haversine);
        }
        // The shortcut is taken, not only the distance.
        assert!(turned_away > 90_000, "{turned_away}");
    }

    #[test]
    fn rejects_bad_points_and_boxes() {
        assert!(GeoPoint::new(91.0, 0.0).unwrap_err().is_bad_input());
        assert!(GeoPoint::new(0.0, f64::NAN).is_err());
        assert!(BoundingBox::new(40.0, 10.0, 41.0, 9.0).is_err());
        assert!(BoundingBox::new(42.0, 9.0, 41.0, 10.0).is_err());
        assert!(BoundingBox::new(41.0, 9.0, 42.0, 10.0).is_ok());
    }

    #[test]
    fn deserialize_validates() {
        let ok: GeoPoint = serde_json::from_str(r#"{"lat": 48.8, "lon": 2.3}"#).unwrap();
        assert_eq!(ok.lat(), 48.8);
        assert!(serde_json::from_str::<GeoPoint>(r#"{"lat": 100.0, "lon": 0.0}"#).is_err());
    }
}
