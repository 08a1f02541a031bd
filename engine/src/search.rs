//! Search: text, place, radius and filters, with category facets.

use indexer::{DigitalMode, Filters, GeoFilter, OfferDoc, Query};

use crate::domain::Coordinates;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{OfferId, OffererId, VenueId};
use crate::views::{Facet, OfferCard, ReasonView, SearchPage, VenueView};

/// How deep search results can be paged.
const MAX_SEARCH_DEPTH: usize = 1_000;

/// A search request. Without a point the search is nationwide; with a point and no
/// radius it is limited to 50 km.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchRequest {
    pub q: Option<String>,
    pub at: Option<Coordinates>,
    pub radius_km: Option<f64>,
    pub digital: DigitalMode,
    pub categories: Vec<String>,
    pub max_price_cents: Option<u64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Reads a cursor (an offset this engine handed out); `None` is the first page.
pub(crate) fn parse_cursor(cursor: Option<&str>, max: usize) -> Result<usize, EngineError> {
    match cursor {
        None | Some("") => Ok(0),
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|&o| o < max)
            .ok_or_else(|| EngineError::BadInput(format!("invalid cursor {c:?}"))),
    }
}

/// "850 m", "3,2 km", "42 km": how far, the French way.
pub(crate) fn format_distance(m: f64) -> String {
    if m < 1_000.0 {
        format!("{} m", (m / 10.0).round() * 10.0)
    } else if m < 10_000.0 {
        format!("{:.1} km", m / 1_000.0).replace('.', ",")
    } else {
        format!("{} km", (m / 1_000.0).round())
    }
}

impl Engine {
    /// One page of search hits with facets per category.
    pub async fn search(&self, req: &SearchRequest) -> Result<SearchPage, EngineError> {
        if !(1..=100).contains(&req.limit) {
            return Err(EngineError::BadInput(
                "limit must be between 1 and 100".into(),
            ));
        }
        let offset = parse_cursor(req.cursor.as_deref(), MAX_SEARCH_DEPTH)?;
        let geo = match (req.at, req.radius_km) {
            (Some(center), radius) => {
                let radius_km = radius.unwrap_or(50.0);
                if !(0.1..=1_000.0).contains(&radius_km) {
                    return Err(EngineError::BadInput(
                        "radius_km must be between 0.1 and 1000".into(),
                    ));
                }
                Some(GeoFilter::Radius {
                    center,
                    radius_m: radius_km * 1000.0,
                })
            }
            (None, Some(_)) => {
                return Err(EngineError::BadInput("radius_km needs lat and lon".into()))
            }
            (None, None) => None,
        };
        for c in &req.categories {
            if !self.taxonomy.categories().iter().any(|k| &k.id == c) {
                return Err(EngineError::BadInput(format!("unknown category {c:?}")));
            }
        }
        // In the feeds' line for the cores: a search is all CPU, and 16 of them at once
        // shared two cores until each took as long as the burst.
        let _turn = self.cpu_gate.turn().await;
        let results = self
            .search_index(Query {
                text: req.q.clone(),
                geo,
                digital: req.digital,
                filters: Filters {
                    categories: req.categories.clone(),
                    max_price_cents: req.max_price_cents,
                    ..Filters::default()
                },
                offset,
                limit: req.limit,
                facets: true,
                ..Query::default()
            })
            .await?;
        let reason = || ReasonView {
            kind: "search_match",
            label: "Correspond à votre recherche".into(),
        };
        let items = results
            .hits
            .iter()
            .map(|h| Ok(self.card(results.stored(h)?, h.distance_m, reason())))
            .collect::<Result<Vec<_>, EngineError>>()?;
        let end = offset + items.len();
        let next_cursor = (end < results.total && end < MAX_SEARCH_DEPTH).then(|| end.to_string());
        Ok(SearchPage {
            items,
            next_cursor,
            total: results.total,
            facets: results
                .facets
                .into_iter()
                .map(|f| Facet {
                    label: self.taxonomy.category_label(&f.category).to_string(),
                    category: f.category,
                    count: f.count,
                })
                .collect(),
        })
    }

    /// The card of an offer's stored document, `distance_m` from the point asked about.
    pub(crate) fn card(
        &self,
        doc: OfferDoc,
        distance_m: Option<f64>,
        reason: ReasonView,
    ) -> OfferCard {
        OfferCard {
            offer_id: OfferId(doc.id as i64),
            title: doc.title,
            category: doc.category,
            subcategory: doc.subcategory,
            venue: doc.venue_id.zip(doc.location).map(|(id, at)| VenueView {
                id: VenueId(id as i64),
                name: doc.venue_name.unwrap_or_default(),
                lat: at.lat(),
                lon: at.lon(),
                offerer_id: OffererId(doc.offerer_id as i64),
            }),
            distance_m: distance_m.map(f64::round),
            price_cents: doc.price_cents as i64,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_read_the_french_way() {
        assert_eq!(format_distance(849.0), "850 m");
        assert_eq!(format_distance(3_240.0), "3,2 km");
        assert_eq!(format_distance(42_400.0), "42 km");
    }

    #[test]
    fn cursors_are_bounded_offsets() {
        assert_eq!(parse_cursor(None, 10).unwrap(), 0);
        assert_eq!(parse_cursor(Some("5"), 10).unwrap(), 5);
        assert!(parse_cursor(Some("10"), 10).is_err());
        assert!(parse_cursor(Some("-1"), 10).is_err());
        assert!(parse_cursor(Some("abc"), 10).is_err());
    }

    #[tokio::test]
    async fn searches_wait_in_the_feeds_line_for_the_cores() {
        use futures::FutureExt;

        let t = crate::testing::TestStore::sqlite().await;
        let mut f = crate::testing::Fixture::new(1);
        f.offer(crate::testing::OfferSpec::default());
        f.write(&t.store).await;
        let engine = Engine::open(t.store.clone(), None).await.unwrap();
        let req = SearchRequest {
            limit: 10,
            ..SearchRequest::default()
        };
        assert_eq!(engine.search(&req).await.unwrap().total, 1);

        // Every turn taken, as by feeds in their CPU stages.
        let mut held = Vec::new();
        while let Some(turn) = engine.cpu_gate.turn().now_or_never() {
            held.push(turn.expect("a gate by default"));
        }
        let mut search = Box::pin(engine.search(&req));
        let waited = tokio::time::timeout(std::time::Duration::from_millis(500), &mut search).await;
        assert!(waited.is_err(), "the search went past the line");
        held.pop();
        let page = tokio::time::timeout(std::time::Duration::from_secs(30), search)
            .await
            .expect("the search had its turn once one came free")
            .unwrap();
        assert_eq!(page.total, 1);
    }
}
