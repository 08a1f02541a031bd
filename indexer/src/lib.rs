//! Full-text (French) and exact geospatial search over cultural offers.
//!
//! One [tantivy] document per offer. [`OfferIndex`] wraps the index, a single
//! writer behind a mutex and a manually reloaded reader, so that
//! [`OfferIndex::commit`] returning means "visible to the next search".
//!
//! # Text
//!
//! Titles, descriptions, venue names, artists and subcategory labels are
//! analysed for French: split on anything not alphanumeric, elided articles
//! dropped ("l'opéra" → "opéra"), lowercased, a few function words removed,
//! accents folded ("theatre" matches "Théâtre"), and Snowball-stemmed
//! ("concerts" matches "concert"). User text goes through the same analyzer
//! and becomes a boolean query of plain terms: it is never parsed as query
//! syntax, so quotes, colons, `AND` or unbalanced parentheses are just
//! punctuation. Fields are boosted (title 3, artist 2, venue and subcategory
//! label 1.5, description 1) and summed under BM25. All words are required,
//! unless no offer has them all, in which case any word is enough.
//!
//! # Geo: H3 pre-filter, exact test
//!
//! Physical offers carry their H3 cell at resolutions 2 to 9 (one indexed
//! multi-valued `u64` field) and their latitude/longitude as fast fields. A
//! radius search picks the finest resolution for which the disk spans at most
//! about eight cell edges, covers the disk by flood-filling neighbours from
//! the centre cell, and keeps every cell whose centre lies within the radius
//! plus that cell's circumradius (plus a margin). That cover provably
//! contains every cell touching the disk, so the inverted index returns a
//! superset of the answer, quickly; the collector then applies the exact
//! haversine test on the fast fields. Hence no false negatives from the grid
//! and no false positives from its coarseness: results equal a brute-force
//! scan. Bounding boxes are covered through their circumscribed disk and
//! tested exactly on latitude/longitude. Covers too large to help (boxes over
//! 1000 km) fall back to a scan with the same exact test.
//!
//! The cells' offers are read into a bitset per segment (one postings read per
//! cell), which the text and filters then intersect.
//!
//! A search for the nearest physical offers with an exact total and no filter but
//! categories and sold-out ones (a geo-only search) is counted rather than
//! visited: its cover uses finer cells (the radius spans up to 24 of their edges),
//! nearest first. A cell wholly inside the disk adds its per-segment counts (by
//! category and sold-out flag, deleted offers subtracted) to the total and the
//! facets, and its offers are read only while they could still make the page. Only
//! the cells cut by the circle are tested offer by offer: a 50 km disk around Paris
//! holds 170,000 offers, of which only those near its edge are read.
//!
//! Digital offers (no location) are nationwide: they bypass geo filters unless
//! excluded with [`DigitalMode::Exclude`], and never have a distance.
//!
//! # Example
//!
//! ```
//! use indexer::{GeoFilter, GeoPoint, OfferDoc, OfferIndex, Query};
//!
//! let index = OfferIndex::in_ram()?;
//! index.upsert([OfferDoc {
//!     id: 1,
//!     title: "Concert à l'Opéra Garnier".into(),
//!     description: "Orchestre et chœur.".into(),
//!     venue_name: Some("Palais Garnier".into()),
//!     artist: None,
//!     category: "MUSIQUE_LIVE".into(),
//!     subcategory: "CONCERT".into(),
//!     subcategory_label: "Concert".into(),
//!     venue_id: Some(10),
//!     offerer_id: 100,
//!     location: Some(GeoPoint::new(48.8720, 2.3316)?),
//!     price_cents: 1_500,
//!     is_duo: true,
//!     is_event: true,
//!     next_beginning_at: Some(1_767_225_600),
//!     sold_out: false,
//!     popularity: 42,
//!     remaining_places: Some(30),
//! }])?;
//! index.commit()?;
//!
//! let results = index.search(&Query {
//!     text: Some("l'opera".into()),
//!     geo: Some(GeoFilter::Radius { center: GeoPoint::new(48.8566, 2.3522)?, radius_m: 5_000.0 }),
//!     ..Query::default()
//! })?;
//! assert_eq!(results.total, 1);
//! assert_eq!(results.hits[0].id, 1);
//! assert!(results.hits[0].distance_m.unwrap() < 3_000.0);
//! # Ok::<(), indexer::IndexError>(())
//! ```

#![warn(missing_docs)]

mod analysis;
mod cells;
mod codes;
mod collect;
mod compaction;
mod cover;
mod doc;
mod error;
mod geo;
mod index;
mod per_segment;
mod query;
mod schema;
mod term_filter;
mod top;

pub use compaction::Reach;
pub use cover::{spatial_key, Disk};
pub use doc::OfferDoc;
pub use error::IndexError;
pub use geo::{haversine_m, BoundingBox, GeoPoint, EARTH_RADIUS_M};
pub use index::{CategoryFacet, Compacted, Hit, Lookup, OfferIndex, SearchResults};
pub use query::{
    DigitalMode, Filters, GeoFilter, Query, SortBy, DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_CHARS,
    MAX_RADIUS_M, MIN_RADIUS_M,
};
