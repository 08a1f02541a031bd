//! Shared test fixtures: seeded offer generators and brute-force helpers.
#![allow(dead_code)]

use indexer::{GeoPoint, OfferDoc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub use rand::SeedableRng;
pub type TestRng = ChaCha8Rng;

pub const PARIS: (f64, f64) = (48.8566, 2.3522);
pub const AJACCIO: (f64, f64) = (41.9192, 8.7386);
pub const CAYENNE: (f64, f64) = (4.9372, -52.3260);
pub const SAINT_DENIS_REUNION: (f64, f64) = (-20.8823, 55.4504);
pub const PLACES: [(f64, f64); 4] = [PARIS, AJACCIO, CAYENNE, SAINT_DENIS_REUNION];

pub const CATEGORIES: [&str; 5] = ["CINEMA", "LIVRE", "MUSIQUE_LIVE", "SPECTACLE", "MUSEE"];

pub fn rng(seed: u64) -> TestRng {
    TestRng::seed_from_u64(seed)
}

/// A point `dist_m` away from `(lat, lon)` on bearing `bearing_rad`
/// (spherical destination formula).
pub fn offset(lat: f64, lon: f64, dist_m: f64, bearing_rad: f64) -> GeoPoint {
    let r = indexer::EARTH_RADIUS_M;
    let (phi1, l1) = (lat.to_radians(), lon.to_radians());
    let delta = dist_m / r;
    let phi2 = (phi1.sin() * delta.cos() + phi1.cos() * delta.sin() * bearing_rad.cos()).asin();
    let l2 = l1
        + (bearing_rad.sin() * delta.sin() * phi1.cos())
            .atan2(delta.cos() - phi1.sin() * phi2.sin());
    let lon2 = (l2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
    GeoPoint::new(phi2.to_degrees().clamp(-90.0, 90.0), lon2).unwrap()
}

/// Log-uniform sample in `[lo, hi]`.
pub fn log_uniform(rng: &mut TestRng, lo: f64, hi: f64) -> f64 {
    (rng.gen_range(lo.ln()..=hi.ln())).exp()
}

/// A point clustered around a real place, or anywhere in mainland France.
pub fn random_point(rng: &mut TestRng) -> GeoPoint {
    if rng.gen_bool(0.25) {
        GeoPoint::new(rng.gen_range(42.5..51.0), rng.gen_range(-4.5..8.0)).unwrap()
    } else {
        let (lat, lon) = PLACES[rng.gen_range(0..PLACES.len())];
        let d = log_uniform(rng, 1.0, 60_000.0);
        offset(lat, lon, d, rng.gen_range(0.0..std::f64::consts::TAU))
    }
}

/// A plain offer with neutral values; tests override what they exercise.
pub fn offer(id: u64, title: &str) -> OfferDoc {
    OfferDoc {
        id,
        title: title.to_string(),
        description: String::new(),
        venue_name: None,
        artist: None,
        category: "SPECTACLE".to_string(),
        subcategory: "SPECTACLE_REPRESENTATION".to_string(),
        subcategory_label: "Spectacle".to_string(),
        venue_id: Some(id % 50),
        offerer_id: id % 7,
        location: Some(GeoPoint::new(PARIS.0, PARIS.1).unwrap()),
        price_cents: 1_000,
        is_duo: false,
        is_event: false,
        next_beginning_at: None,
        sold_out: false,
        popularity: 0,
        remaining_places: None,
    }
}

/// Random offers: about 10% digital, varied categories, prices, dates.
pub fn random_offers(rng: &mut TestRng, n: u64) -> Vec<OfferDoc> {
    (1..=n)
        .map(|id| {
            let mut o = offer(id, &format!("Offre {id}"));
            o.location = (!rng.gen_bool(0.1)).then(|| random_point(rng));
            o.category = CATEGORIES[rng.gen_range(0..CATEGORIES.len())].to_string();
            o.subcategory = format!("{}_{}", o.category, rng.gen_range(0..3));
            o.price_cents = if rng.gen_bool(0.3) {
                0
            } else {
                rng.gen_range(1..10_000)
            };
            o.is_duo = rng.gen_bool(0.4);
            o.is_event = rng.gen_bool(0.5);
            o.next_beginning_at = o
                .is_event
                .then(|| rng.gen_range(1_700_000_000..1_800_000_000));
            o.sold_out = rng.gen_bool(0.15);
            o.popularity = rng.gen_range(0..1000);
            o.venue_id = rng.gen_bool(0.9).then(|| rng.gen_range(1..300));
            o.remaining_places = rng.gen_bool(0.5).then(|| rng.gen_range(0..500));
            o
        })
        .collect()
}
