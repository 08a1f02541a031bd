//! Real French places (`datasets/fr_places.csv`) to put venues and homes where people live.

use std::collections::HashMap;

use rand::distributions::{Distribution, WeightedIndex};
use rand::Rng;
use serde::Deserialize;

use crate::domain::Coordinates;
use crate::error::EngineError;

const PLACES_CSV: &str = include_str!("../../../datasets/fr_places.csv");

/// Departments far from the mainland that every world must include: Corsica and overseas.
pub const FAR_DEPARTMENTS: [&str; 7] = ["2A", "2B", "971", "972", "973", "974", "976"];

/// One populated place.
#[derive(Debug, Clone, Deserialize)]
pub struct Place {
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub department: String,
    pub population: u64,
}

/// All places, with population-weighted sampling.
pub struct Places {
    pub places: Vec<Place>,
    weights: WeightedIndex<f64>,
    by_department: HashMap<String, (Vec<usize>, WeightedIndex<f64>)>,
}

fn weight(p: &Place) -> f64 {
    // Hamlets of population 0 still get a venue now and then.
    p.population.max(50) as f64
}

impl Places {
    /// The shipped places.
    pub fn shipped() -> Result<Places, EngineError> {
        let bad = |e: String| EngineError::Data(format!("datasets/fr_places.csv: {e}"));
        let places: Vec<Place> = csv::Reader::from_reader(PLACES_CSV.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let weights =
            WeightedIndex::new(places.iter().map(weight)).map_err(|e| bad(e.to_string()))?;
        let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in places.iter().enumerate() {
            groups.entry(p.department.clone()).or_default().push(i);
        }
        let by_department = groups
            .into_iter()
            .map(|(dep, idx)| {
                let w = WeightedIndex::new(idx.iter().map(|&i| weight(&places[i])))
                    .map_err(|e| bad(e.to_string()))?;
                Ok((dep, (idx, w)))
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Places {
            places,
            weights,
            by_department,
        })
    }

    /// A place drawn by population.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> &Place {
        &self.places[self.weights.sample(rng)]
    }

    /// A place of one department drawn by population, if the department has any.
    pub fn sample_in<R: Rng>(&self, department: &str, rng: &mut R) -> Option<&Place> {
        let (idx, w) = self.by_department.get(department)?;
        Some(&self.places[idx[w.sample(rng)]])
    }
}

/// A point at most `max_m` metres from `(lat, lon)`, uniform over the disk.
pub fn jitter<R: Rng>(lat: f64, lon: f64, max_m: f64, rng: &mut R) -> Coordinates {
    let r = max_m * rng.gen::<f64>().sqrt();
    let theta = rng.gen::<f64>() * std::f64::consts::TAU;
    let dlat = r * theta.cos() / 111_320.0;
    let dlon = r * theta.sin() / (111_320.0 * lat.to_radians().cos().max(0.01));
    Coordinates::new(
        (lat + dlat).clamp(-90.0, 90.0),
        (lon + dlon).clamp(-180.0, 180.0),
    )
    .expect("a clamped point is valid")
}

/// A coarse grid (about 28 km of latitude per cell) for "what is near this point".
pub const CELL_DEG: f64 = 0.25;

/// The grid cell of a point.
pub fn cell(p: Coordinates) -> (i32, i32) {
    (
        (p.lat() / CELL_DEG).floor() as i32,
        (p.lon() / CELL_DEG).floor() as i32,
    )
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn places_cover_far_departments_and_jitter_stays_close() {
        let places = Places::shipped().unwrap();
        assert!(places.places.len() > 15_000);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for dep in FAR_DEPARTMENTS {
            let p = places
                .sample_in(dep, &mut rng)
                .unwrap_or_else(|| panic!("no place in {dep}"));
            let q = jitter(p.lat, p.lon, 2_000.0, &mut rng);
            let d = indexer::haversine_m(q, Coordinates::new(p.lat, p.lon).unwrap());
            assert!(d <= 2_010.0, "{d}");
        }
    }
}
