//! The personalised, geolocated, diversified feed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indexer::{DigitalMode, GeoFilter, Query, SearchResults, SortBy};
use ranking::{rank, Candidate, RankConfig, RankContext, Reason};

use crate::boost::BoostSet;
use crate::curation::ActiveBoosts;
use crate::domain::Coordinates;
use crate::engine::{now, Engine};
use crate::error::EngineError;
use crate::ids::{OfferId, UserId};
use crate::profile::{taste, Anchors, UserTaste};
use crate::ranked_feeds::{FeedKey, RankedFeed, RankedOffer, DEPTH};
use crate::search::format_distance;
use crate::store::UserContext;
use crate::taste::embed;
use crate::views::{OfferCard, Page, ReasonView};

/// Physical candidates considered per feed, nearest first.
pub(crate) const PHYSICAL_CANDIDATES: usize = 2_000;
/// Digital candidates considered per feed.
const DIGITAL_CANDIDATES: usize = 300;
/// How deep a feed can be paged.
const MAX_FEED_DEPTH: usize = 200;
/// How many items one request ranks at most: the depth plus room to skip offers that
/// earlier pages showed.
const MAX_RANKED: usize = 2 * MAX_FEED_DEPTH;

/// A feed request. `at` defaults to the user's home, `radius_km` to 30 km.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRequest {
    pub user_id: UserId,
    pub at: Option<Coordinates>,
    pub radius_km: Option<f64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Where one feed request spent its time, stage by stage: what the service's metrics
/// break a feed's latency into.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FeedTimings {
    /// The active boosts (cached for a while, so usually nothing).
    pub boosts: Duration,
    /// The user, their history and their credit, from the store; their taste from those.
    pub profile: Duration,
    /// Waiting in line for a turn at the stages that take the cores
    /// ([`crate::cpu_gate::CpuGate`]): a first page's candidates, rank and cards, after its
    /// profile; a page cut from a kept ranking's cards.
    pub queue: Duration,
    /// The physical and digital candidates from the index, turned into ranking input.
    pub candidates: Duration,
    /// Scoring and diversifying.
    pub rank: Duration,
    /// The page's cards: stored fields from the index, reasons in French.
    pub cards: Duration,
    /// The page was cut from the ranking its first page kept: it had no profile,
    /// candidates or rank stage.
    pub kept: bool,
}

impl FeedTimings {
    /// Each stage with its name, in pipeline order.
    pub fn stages(&self) -> [(&'static str, Duration); 6] {
        [
            ("boosts", self.boosts),
            ("profile", self.profile),
            ("queue", self.queue),
            ("candidates", self.candidates),
            ("rank", self.rank),
            ("cards", self.cards),
        ]
    }
}

/// Measures consecutive stages: each call to [`Lap::lap`] returns the time since the last.
struct Lap(Instant);

impl Lap {
    fn start() -> Lap {
        Lap(Instant::now())
    }

    fn lap(&mut self) -> Duration {
        let now = Instant::now();
        std::mem::replace(&mut self.0, now).elapsed()
    }
}

impl Engine {
    /// A page of the user's feed: offers near the point plus digital ones, scored for the
    /// user and diversified page by page. The same request gives the same page.
    /// Active editorial boosts ([`crate::boost`]) lift or lower the offers they reach.
    pub async fn feed(&self, req: &FeedRequest) -> Result<Page<OfferCard>, EngineError> {
        Ok(self.feed_timed(req).await?.0)
    }

    /// [`Engine::feed`], with where the time went.
    pub async fn feed_timed(
        &self,
        req: &FeedRequest,
    ) -> Result<(Page<OfferCard>, FeedTimings), EngineError> {
        let mut lap = Lap::start();
        let boosts = self.active_boosts().await?;
        let mut timings = FeedTimings {
            boosts: lap.lap(),
            ..FeedTimings::default()
        };
        if let Some(page) = self.kept_page(req, &boosts, &mut timings).await? {
            return Ok((page, timings));
        }
        let (page, _) = self
            .feed_with(req, &boosts.set, Some(&boosts), &mut timings)
            .await?;
        Ok((page, timings))
    }

    /// The page a cursor asks for, cut from the ranking its first page kept, if it is
    /// still kept and holds it; `None` when the feed must be ranked afresh.
    async fn kept_page(
        &self,
        req: &FeedRequest,
        boosts: &Arc<ActiveBoosts>,
        timings: &mut FeedTimings,
    ) -> Result<Option<Page<OfferCard>>, EngineError> {
        let (radius_km, cursor) = checked(req)?;
        // A first page is always ranked afresh: pulling the feed sees what is new.
        let Some(day) = cursor.day else {
            return Ok(None);
        };
        let key = FeedKey::new(day, req.at, radius_km);
        let Some(kept) = self
            .ranked_feeds
            .get(req.user_id, &key, boosts, self.model().as_ref())
        else {
            return Ok(None);
        };
        let mut lap = Lap::start();
        let _turn = self.cpu_gate.turn().await;
        timings.queue = lap.lap();
        // Offers as they are now: one sold out or withdrawn since is not shown.
        let lookup = self.index.lookup();
        let page = cut_page(
            &kept.offers,
            |o| o.id,
            cursor,
            req.limit,
            kept.candidates,
            |o| {
                let Some(doc) = lookup.get(o.id)?.filter(|d| !d.sold_out) else {
                    return Ok(None);
                };
                let digital = doc.location.is_none();
                let reason = self.reason(&o.reason, &kept.anchors, o.id, digital, &doc.title);
                Ok(Some(self.card(doc, o.distance_m, reason)))
            },
        )?;
        // Short of the depth it was ranked to: the pages after it are ranked afresh.
        if page.items.len() < req.limit && !kept.complete {
            return Ok(None);
        }
        timings.cards = lap.lap();
        timings.kept = true;
        Ok(Some(page))
    }

    /// The feed under the given boosts, with the taste it was ranked for: what a boost
    /// preview compares. With `keep`, the boosts in force, the ranking is made
    /// [`DEPTH`] deep and kept for the next pages. Fills every stage of `timings` but
    /// the boosts', adding its wait in line to the one already there.
    pub(crate) async fn feed_with(
        &self,
        req: &FeedRequest,
        boosts: &BoostSet,
        keep: Option<&Arc<ActiveBoosts>>,
        timings: &mut FeedTimings,
    ) -> Result<(Page<OfferCard>, UserTaste), EngineError> {
        let (radius_km, cursor) = checked(req)?;
        let mut lap = Lap::start();
        let now = now();
        let UserContext {
            user,
            history,
            deposit,
        } = self
            .store
            .user_context(req.user_id, 200, now)
            .await?
            .ok_or(EngineError::NotFound {
                what: "user",
                id: req.user_id.0,
            })?;
        let center = req.at.unwrap_or(user.home);
        // The day is fixed by the first page, so paging past midnight keeps its order.
        let day = cursor.day.unwrap_or(now.div_euclid(86_400));
        let ctx = RankContext {
            now: day * 86_400,
            seed: RankContext::seed_from(&[
                user.id.0 as u64,
                day as u64,
                center.lat().to_bits(),
                center.lon().to_bits(),
                radius_km.to_bits(),
            ]),
        };
        let credit = deposit.map(|d| d.remaining().0);
        let mut taste = taste(&history, self.taxonomy, now, credit);
        timings.profile = lap.lap();
        // In line only now: a turn held through the store's read would leave its core idle.
        let _turn = self.cpu_gate.turn().await;
        // Added to, not set: a kept page that fell short waited in line once already.
        timings.queue += lap.lap();

        // Held for the request: the candidates borrow their embeddings from it.
        let model = self.model();
        let physical = self
            .search_index(Query {
                geo: Some(GeoFilter::Radius {
                    center,
                    radius_m: radius_km * 1000.0,
                }),
                digital: DigitalMode::Exclude,
                sort: Some(SortBy::Distance),
                limit: PHYSICAL_CANDIDATES,
                // The nearest candidates are wanted, not how many offers the disk holds,
                // nor their order: the ranking makes its own.
                exact_total: false,
                ordered: false,
                ..Query::default()
            })
            .await?;
        let digital = self.digital_candidates()?;
        let physical_count = physical.hits.len();
        let hits: Vec<_> = physical.hits.iter().chain(&digital.hits).collect();
        let mut candidates: Vec<Candidate> = hits
            .iter()
            .map(|h| Candidate {
                id: h.id,
                category: h.category,
                subcategory: h.subcategory,
                venue_id: h.venue_id,
                distance_m: h.distance_m,
                popularity: h.popularity,
                price_cents: h.price_cents,
                event_at: h.is_event.then_some(h.next_beginning_at).flatten(),
                remaining_places: h
                    .remaining_places
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
                embedding: None,
                boost: boosts.weight(h.id, h.venue_id, h.subcategory),
            })
            .collect();
        // Embeddings from the taste model, when one is loaded (`mosaic profiles build`).
        if let Some(model) = &model {
            embed(
                model,
                &mut taste.profile,
                &mut candidates,
                &history,
                &user,
                now,
            );
        }
        timings.candidates = lap.lap();
        // The ranking of a day is deterministic, so page k is positions [offset, offset +
        // limit) of the same list. History, popularity or places may have changed since
        // the previous page, though: offers already shown are skipped and the page is
        // topped up from further down, so no page repeats an earlier one.
        let want = (cursor.offset + req.limit + cursor.shown.len()).min(MAX_RANKED);
        let depth = match keep {
            Some(_) => want.max(DEPTH),
            None => want,
        };
        let ranked = rank(
            &candidates,
            &taste.profile,
            &RankConfig::default(),
            &ctx,
            depth,
        );
        timings.rank = lap.lap();
        let page = cut_page(
            &ranked,
            |r| hits[r.index].id,
            FeedCursor {
                day: Some(day),
                ..cursor
            },
            req.limit,
            candidates.len(),
            |r| {
                let hit = hits[r.index];
                let results = if r.index < physical_count {
                    &physical
                } else {
                    &*digital
                };
                let doc = results.stored(hit)?;
                let digital = hit.location.is_none();
                let reason = self.reason(&r.reason, &taste.anchors, hit.id, digital, &doc.title);
                Ok(Some(self.card(doc, hit.distance_m, reason)))
            },
        )?;
        if let Some(boosts) = keep {
            let complete = ranked.len() < depth;
            self.ranked_feeds.put(
                req.user_id,
                RankedFeed {
                    key: FeedKey::new(day, req.at, radius_km),
                    // The page is cut: the ranking's reasons move into what is kept.
                    offers: ranked
                        .into_iter()
                        .map(|r| {
                            let hit = hits[r.index];
                            RankedOffer {
                                id: hit.id,
                                distance_m: hit.distance_m,
                                reason: r.reason,
                            }
                        })
                        .collect(),
                    complete,
                    candidates: candidates.len(),
                    anchors: taste.anchors.clone(),
                    boosts: boosts.clone(),
                    model: model.as_ref().map(Arc::downgrade),
                    made: Instant::now(),
                },
            );
        }
        timings.cards = lap.lap();
        Ok((page, taste))
    }

    /// The digital candidates, the same for every feed: searched again only when the
    /// index has changed. Searching them means visiting each of the bench world's
    /// 125,000 digital offers, which cost every feed several milliseconds.
    fn digital_candidates(&self) -> Result<Arc<SearchResults>, EngineError> {
        let generation = self.index.generation();
        if let Some((at, results)) = &*self.digital_cache.lock().expect("digital cache lock") {
            if *at == generation {
                return Ok(results.clone());
            }
        }
        let results = Arc::new(self.index.search(&Query {
            digital: DigitalMode::Only,
            limit: DIGITAL_CANDIDATES,
            ..Query::default()
        })?);
        *self.digital_cache.lock().expect("digital cache lock") =
            Some((generation, results.clone()));
        Ok(results)
    }

    /// The reason shown for offer `id`, titled `title`; `anchors` are what a "because you
    /// booked" reason may name.
    fn reason(
        &self,
        reason: &Reason,
        anchors: &Anchors,
        id: u64,
        digital: bool,
        title: &str,
    ) -> ReasonView {
        match reason {
            Reason::NearYou { distance_m } => ReasonView {
                kind: "near_you",
                label: format!("À {} de chez vous", format_distance(*distance_m)),
            },
            Reason::BecauseYouBooked { category } => ReasonView {
                kind: "because_you_booked",
                label: match anchors.anchor(category, OfferId(id as i64), title) {
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

/// The request's radius (30 km unless it says) and cursor, or why they are refused.
fn checked(req: &FeedRequest) -> Result<(f64, FeedCursor), EngineError> {
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
    Ok((radius_km, FeedCursor::parse(req.cursor.as_deref())?))
}

/// Cuts the page `cursor` asks for out of `ranking`: from the cursor's position, the
/// offers not shown yet that `card` gives a card for (`None`: it can no longer be shown),
/// until there are `limit`. The next cursor starts past the last one looked at, unless
/// the page is short, the feed is [`MAX_FEED_DEPTH`] deep or all `candidates` are shown.
fn cut_page<T>(
    ranking: &[T],
    id: impl Fn(&T) -> u64,
    cursor: FeedCursor,
    limit: usize,
    candidates: usize,
    mut card: impl FnMut(&T) -> Result<Option<OfferCard>, EngineError>,
) -> Result<Page<OfferCard>, EngineError> {
    let mut items = Vec::with_capacity(limit);
    let mut shown = cursor.shown;
    let mut end = cursor.offset;
    for (pos, ranked) in ranking.iter().enumerate().skip(cursor.offset) {
        if items.len() == limit {
            break;
        }
        end = pos + 1;
        let id = id(ranked);
        if shown.contains(&id) {
            continue;
        }
        let Some(card) = card(ranked)? else {
            continue;
        };
        shown.push(id);
        items.push(card);
    }
    let next_cursor = (items.len() == limit && end < MAX_FEED_DEPTH && candidates > shown.len())
        .then(|| {
            FeedCursor {
                offset: end,
                day: cursor.day,
                shown,
            }
            .encode()
        });
    Ok(Page { items, next_cursor })
}

/// Where the next page of a feed starts: a position in the day's ranking, the day, and
/// the offers already shown (so that a page never repeats one when the ranking moved).
///
/// Written `OFFSET.DAY.IDS`, with IDS the shown offer ids sorted and written as base-36
/// gaps joined by `-`: about four characters per offer, 200 offers at most.
#[derive(Debug, Default, PartialEq)]
struct FeedCursor {
    offset: usize,
    day: Option<i64>,
    shown: Vec<u64>,
}

impl FeedCursor {
    fn parse(cursor: Option<&str>) -> Result<FeedCursor, EngineError> {
        let Some(text) = cursor.filter(|c| !c.is_empty()) else {
            return Ok(FeedCursor::default());
        };
        let invalid = || EngineError::BadInput(format!("invalid cursor {text:?}"));
        let mut parts = text.split('.');
        let (Some(offset), Some(day), Some(ids), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let offset: usize = offset
            .parse()
            .ok()
            .filter(|&o| o < MAX_FEED_DEPTH)
            .ok_or_else(invalid)?;
        let day: i64 = day.parse().map_err(|_| invalid())?;
        let mut shown = Vec::new();
        let mut last = 0u64;
        for gap in ids.split('-').filter(|g| !g.is_empty()) {
            let gap = u64::from_str_radix(gap, 36).map_err(|_| invalid())?;
            last = last.checked_add(gap).ok_or_else(invalid)?;
            shown.push(last);
            if shown.len() > MAX_FEED_DEPTH {
                return Err(invalid());
            }
        }
        Ok(FeedCursor {
            offset,
            day: Some(day),
            shown,
        })
    }

    fn encode(mut self) -> String {
        self.shown.sort_unstable();
        let mut last = 0;
        let ids: Vec<String> = self
            .shown
            .iter()
            .map(|&id| {
                let gap = base36(id - last);
                last = id;
                gap
            })
            .collect();
        format!(
            "{}.{}.{}",
            self.offset,
            self.day.unwrap_or_default(),
            ids.join("-")
        )
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = FeedCursor {
            offset: 40,
            day: Some(20_423),
            shown: vec![1_000_000, 7, 36, 35],
        };
        let text = c.encode();
        assert_eq!(text, "40.20423.7-s-1-lfks");
        let back = FeedCursor::parse(Some(&text)).unwrap();
        assert_eq!(back.offset, 40);
        assert_eq!(back.day, Some(20_423));
        assert_eq!(back.shown, vec![7, 35, 36, 1_000_000]);
        assert_eq!(FeedCursor::parse(None).unwrap(), FeedCursor::default());
        for bad in ["zzz", "20", "1.2", "999.1.", "1.x.", "1.2.!", "1.2.3.4"] {
            assert!(FeedCursor::parse(Some(bad)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn digital_candidates_are_searched_once_per_index_generation() {
        let t = crate::testing::TestStore::sqlite().await;
        let config = crate::seed::SeedConfig {
            profile: crate::seed::Profile::Ci,
            seed: 3,
            today: chrono::Utc::now().date_naive(),
        };
        crate::seed_store(&t.store, config, &indicatif::ProgressBar::hidden())
            .await
            .unwrap();
        let engine = Engine::open(t.store.clone(), None).await.unwrap();
        let first = engine.digital_candidates().unwrap();
        assert!(first.hits.iter().all(|h| h.location.is_none()));
        assert!(
            first.hits.len() > 100,
            "{} digital candidates",
            first.hits.len()
        );
        assert!(Arc::ptr_eq(&first, &engine.digital_candidates().unwrap()));

        // A change to the index is seen by the next feed.
        let gone = first.hits[0].id;
        engine.index.delete(gone).unwrap();
        engine.index.commit().unwrap();
        let after = engine.digital_candidates().unwrap();
        assert!(!Arc::ptr_eq(&first, &after));
        assert!(after.hits.iter().all(|h| h.id != gone));
        assert_eq!(after.hits.len(), first.hits.len() - 1);
    }
}
