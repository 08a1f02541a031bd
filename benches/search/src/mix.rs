//! The fixed, seeded query mix: text+geo, geo-only and filtered searches around
//! population-weighted real places and venues.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use indexer::{DigitalMode, Filters, GeoFilter, GeoPoint, OfferDoc, Query, SortBy};
use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Page size of every timed search, as the app's search screen asks.
pub const PAGE: usize = 20;

/// A query family; each is timed on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Words near a point; digital offers included (the app's default).
    TextGeo,
    /// Everything physical within a radius, nearest first.
    GeoOnly,
    /// Within a radius, one or two categories, a price cap and sometimes a date window.
    Filtered,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Family::TextGeo => "text+geo",
            Family::GeoOnly => "geo-only",
            Family::Filtered => "filtered",
        }
    }

    /// Whether both engines must return exactly the same offers (no text semantics).
    pub fn exact(self) -> bool {
        self != Family::TextGeo
    }
}

/// One search of the mix, engine-neutral.
#[derive(Debug, Clone)]
pub struct BenchQuery {
    pub family: Family,
    pub text: Option<String>,
    pub center: GeoPoint,
    pub radius_m: f64,
    pub digital: DigitalMode,
    pub categories: Vec<String>,
    pub max_price_cents: Option<u64>,
    /// Next date within `[from, to]`, unix seconds.
    pub begins: Option<(i64, i64)>,
}

impl BenchQuery {
    /// The index query: a page of `limit` hits from `offset`, sorted as the engine
    /// would (relevance with text, distance without).
    pub fn to_index_query(&self, offset: usize, limit: usize, facets: bool) -> Query {
        Query {
            text: self.text.clone(),
            geo: Some(GeoFilter::Radius {
                center: self.center,
                radius_m: self.radius_m,
            }),
            digital: self.digital,
            filters: Filters {
                categories: self.categories.clone(),
                max_price_cents: self.max_price_cents,
                begins_after: self.begins.map(|b| b.0),
                begins_before: self.begins.map(|b| b.1),
                ..Filters::default()
            },
            sort: Some(if self.text.is_some() {
                SortBy::Relevance
            } else {
                SortBy::Distance
            }),
            offset,
            limit,
            facets,
            ..Query::default()
        }
    }
}

/// What the mix needs to know of the catalogue (kept after the documents are
/// handed to the index).
pub struct CatalogSummary {
    pub physical: usize,
    pub venues: usize,
    /// Every physical offer's location, in id order.
    pub locations: Vec<GeoPoint>,
    /// Physical offers per category, and how many of them are events.
    pub categories: BTreeMap<String, (usize, usize)>,
    /// A deterministic sample of titles, to draw words from.
    pub titles: Vec<String>,
}

impl CatalogSummary {
    pub fn of(docs: &[OfferDoc]) -> CatalogSummary {
        let mut locations = Vec::new();
        let mut categories: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut venues = std::collections::HashSet::new();
        let step = (docs.len() / 5_000).max(1);
        let mut titles = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            if let Some(p) = d.location {
                locations.push(p);
                let e = categories.entry(d.category.clone()).or_default();
                e.0 += 1;
                if d.is_event {
                    e.1 += 1;
                }
            }
            if let Some(v) = d.venue_id {
                venues.insert(v);
            }
            if i % step == 0 {
                titles.push(d.title.clone());
            }
        }
        CatalogSummary {
            physical: locations.len(),
            venues: venues.len(),
            locations,
            categories,
            titles,
        }
    }
}

/// Searches people type: single words and pairs from the catalogue's vocabulary,
/// plus a few that match little or nothing.
const TYPED: &[&str] = &[
    "concert",
    "théâtre",
    "cinéma",
    "livre",
    "musée",
    "exposition",
    "atelier",
    "festival",
    "jazz",
    "rap",
    "opéra",
    "danse",
    "cirque",
    "humour",
    "photographie",
    "manga",
    "roman",
    "guitare",
    "piano",
    "visite guidée",
    "concert jazz",
    "atelier photographie",
    "bande dessinée",
    "musique classique",
    "danse hip-hop",
    "festival de musique",
    "théâtre d'improvisation",
    "escape game",
    "jeu de rôle",
    "street art",
    "séance de cinéma",
    "science-fiction",
    "conférence astronomie",
    "vinyle rock",
    "cours de chant",
    "marionnettes",
    "ukulélé",
    "poterie",
    "slam",
    "kayak",
];

/// Places from `datasets/fr_places.csv` with their population.
fn places(path: &Path) -> Result<Vec<(GeoPoint, u64)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no column {name} in {}", path.display()))
    };
    let (lat, lon, pop) = (col("lat")?, col("lon")?, col("population")?);
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row?;
        let p = GeoPoint::new(row[lat].parse()?, row[lon].parse()?)?;
        let population: u64 = row[pop].parse().unwrap_or(0);
        if population > 0 {
            out.push((p, population));
        }
    }
    Ok(out)
}

/// Words of at least four letters in a title.
fn words(title: &str) -> Vec<String> {
    title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .map(str::to_lowercase)
        .collect()
}

/// The mix: `n` queries, 40% text+geo, 30% geo-only, 30% filtered, deterministic
/// for a seed and a catalogue. Radii are log-uniform in 1–50 km; half the centres
/// are real places drawn by population, half are venues (so half the searches start
/// where offers are).
pub fn generate(
    n: usize,
    seed: u64,
    now: i64,
    catalog: &CatalogSummary,
    places_csv: &Path,
) -> Result<Vec<BenchQuery>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let places = places(places_csv)?;
    let by_population = WeightedIndex::new(places.iter().map(|p| p.1))?;
    let all_categories: Vec<(&String, usize)> =
        catalog.categories.iter().map(|(c, v)| (c, v.0)).collect();
    let event_categories: Vec<(&String, usize)> = catalog
        .categories
        .iter()
        .filter(|(_, v)| v.1 > 0)
        .map(|(c, v)| (c, v.1))
        .collect();
    anyhow::ensure!(
        !catalog.locations.is_empty() && !all_categories.is_empty(),
        "the catalogue has no physical offer"
    );
    let by_offers = WeightedIndex::new(all_categories.iter().map(|c| c.1))?;
    let by_events = (!event_categories.is_empty())
        .then(|| WeightedIndex::new(event_categories.iter().map(|c| c.1)))
        .transpose()?;
    let (n_text, n_geo) = (n * 4 / 10, n * 3 / 10);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let family = if i < n_text {
            Family::TextGeo
        } else if i < n_text + n_geo {
            Family::GeoOnly
        } else {
            Family::Filtered
        };
        let center = if rng.gen_bool(0.5) {
            places[by_population.sample(&mut rng)].0
        } else {
            catalog.locations[rng.gen_range(0..catalog.locations.len())]
        };
        let radius_km: f64 = (rng.gen_range(0.0..50f64.ln())).exp();
        let radius_m = ((radius_km * 10.0).round() / 10.0).max(1.0) * 1_000.0;
        let mut q = BenchQuery {
            family,
            text: None,
            center,
            radius_m,
            digital: DigitalMode::Exclude,
            categories: Vec::new(),
            max_price_cents: None,
            begins: None,
        };
        match family {
            Family::TextGeo => {
                q.digital = DigitalMode::Include;
                let from_titles = rng.gen_bool(0.3);
                let text = if from_titles && !catalog.titles.is_empty() {
                    let title = &catalog.titles[rng.gen_range(0..catalog.titles.len())];
                    let mut w = words(title);
                    w.shuffle(&mut rng);
                    w.truncate(rng.gen_range(1..=2));
                    w.join(" ")
                } else {
                    String::new()
                };
                q.text = Some(if text.is_empty() {
                    TYPED[rng.gen_range(0..TYPED.len())].to_string()
                } else {
                    text
                });
            }
            Family::GeoOnly => {}
            Family::Filtered => {
                let dated = by_events.is_some() && rng.gen_bool(0.5);
                let k = if rng.gen_bool(0.7) { 1 } else { 2 };
                for _ in 0..k {
                    let c = match (&by_events, dated) {
                        (Some(w), true) => event_categories[w.sample(&mut rng)].0,
                        _ => all_categories[by_offers.sample(&mut rng)].0,
                    };
                    if !q.categories.contains(c) {
                        q.categories.push(c.clone());
                    }
                }
                const CAPS: [u64; 7] = [500, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000];
                q.max_price_cents = Some(CAPS[rng.gen_range(0..CAPS.len())]);
                if dated {
                    let days: i64 = rng.gen_range(7..=90);
                    q.begins = Some((now, now + days * 86_400));
                }
            }
        }
        out.push(q);
    }
    Ok(out)
}
