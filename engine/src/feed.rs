//! The personalised, geolocated, diversified feed.

use indexer::{DigitalMode, GeoFilter, Query, SortBy};
use ranking::{rank, Candidate, RankConfig, Reason};

use crate::domain::Coordinates;
use crate::engine::{now, Engine};
use crate::error::EngineError;
use crate::ids::UserId;
use crate::profile::{taste, UserTaste};
use crate::search::{format_distance, parse_cursor};
use crate::views::{OfferCard, Page, ReasonView};

/// Physical candidates considered per feed, nearest first.
const PHYSICAL_CANDIDATES: usize = 2_000;
/// Digital candidates considered per feed.
const DIGITAL_CANDIDATES: usize = 300;
/// How deep a feed can be paged.
const MAX_FEED_DEPTH: usize = 200;

/// A feed request. `at` defaults to the user's home, `radius_km` to 30 km.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRequest {
    pub user_id: UserId,
    pub at: Option<Coordinates>,
    pub radius_km: Option<f64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Engine {
    /// A page of the user's feed: offers near the point plus digital ones, scored for the
    /// user and diversified page by page. The same request gives the same page.
    pub async fn feed(&self, req: &FeedRequest) -> Result<Page<OfferCard>, EngineError> {
        if !(1..=50).contains(&req.limit) {
            return Err(EngineError::BadInput(
                "limit must be between 1 and 50".into(),
            ));
        }
        let radius_km = req.radius_km.unwrap_or(30.0);
        if !(0.1..=200.0).contains(&radius_km) {
            return Err(EngineError::BadInput(
                "radius_km must be between 0.1 and 200".into(),
            ));
        }
        let offset = parse_cursor(req.cursor.as_deref(), MAX_FEED_DEPTH)?;
        let user = self
            .store
            .user(req.user_id)
            .await?
            .ok_or(EngineError::NotFound {
                what: "user",
                id: req.user_id.0,
            })?;
        let center = req.at.unwrap_or(user.home);
        let now = now();
        let history = self.store.history(user.id, 200).await?;
        let credit = self
            .store
            .active_deposit(user.id, now)
            .await?
            .map(|d| d.remaining().0);
        let taste = taste(&history, self.taxonomy, now, credit);

        let physical = self.index.search(&Query {
            geo: Some(GeoFilter::Radius {
                center,
                radius_m: radius_km * 1000.0,
            }),
            digital: DigitalMode::Exclude,
            sort: Some(SortBy::Distance),
            limit: PHYSICAL_CANDIDATES,
            ..Query::default()
        })?;
        let digital = self.index.search(&Query {
            digital: DigitalMode::Only,
            limit: DIGITAL_CANDIDATES,
            ..Query::default()
        })?;
        let physical_count = physical.hits.len();
        let hits: Vec<_> = physical.hits.iter().chain(&digital.hits).collect();
        let candidates: Vec<Candidate> = hits
            .iter()
            .map(|h| Candidate {
                id: h.id,
                category: h.category.clone(),
                subcategory: h.subcategory.clone(),
                venue_id: h.venue_id,
                distance_m: h.distance_m,
                popularity: h.popularity,
                price_cents: h.price_cents,
                event_at: h.is_event.then_some(h.next_beginning_at).flatten(),
                remaining_places: h
                    .remaining_places
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
                embedding: None,
                boost: 0.0,
            })
            .collect();
        let want = (offset + req.limit).min(MAX_FEED_DEPTH);
        let ranked = rank(&candidates, &taste.profile, &RankConfig::default(), want);
        let mut items = Vec::with_capacity(req.limit);
        for r in ranked.iter().skip(offset) {
            let hit = hits[r.index];
            let results = if r.index < physical_count {
                &physical
            } else {
                &digital
            };
            let reason = self.reason(&r.reason, &taste, hit.location.is_none());
            items.push(self.card(hit, results.stored(hit)?, reason)?);
        }
        let end = offset + items.len();
        let next_cursor = (end == want && end < MAX_FEED_DEPTH && candidates.len() > end)
            .then(|| end.to_string());
        Ok(Page { items, next_cursor })
    }

    fn reason(&self, reason: &Reason, taste: &UserTaste, digital: bool) -> ReasonView {
        match reason {
            Reason::NearYou { distance_m } => ReasonView {
                kind: "near_you",
                label: format!("À {} de chez vous", format_distance(*distance_m)),
            },
            Reason::BecauseYouBooked { category } => ReasonView {
                kind: "because_you_booked",
                label: match taste.anchors.get(category) {
                    Some(title) => format!("Parce que vous avez réservé « {title} »"),
                    None => format!(
                        "Parce que vous aimez : {}",
                        self.taxonomy.category_label(category)
                    ),
                },
            },
            Reason::Discover { category } => ReasonView {
                kind: "discover",
                label: format!(
                    "À découvrir : {}, nouveau pour vous",
                    self.taxonomy.category_label(category)
                ),
            },
            Reason::Curated => ReasonView {
                kind: "curated",
                label: "Choisi par nos médiateurs".into(),
            },
            Reason::Popular => ReasonView {
                kind: "popular",
                label: if digital {
                    "Populaire en ligne"
                } else {
                    "Populaire près de chez vous"
                }
                .into(),
            },
        }
    }
}
