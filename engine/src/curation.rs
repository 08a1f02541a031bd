//! Curators' use cases: editorial boosts (stored, cached for the feed) and their preview
//! on sample feeds before they are published.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::Datelike;
use indexer::Query;
use serde::{Deserialize, Serialize};

use crate::boost::{Boost, BoostDraft, BoostSet, BoostTarget, BOOST_CACHE_TTL, MAX_PHRASE_OFFERS};
use crate::domain::User;
use crate::engine::{now, Engine};
use crate::error::EngineError;
use crate::ids::{BoostId, OfferId, UserId, VenueId};
use crate::store::BoostFilter;
use crate::views::OfferCard;
use crate::{FeedRequest, FeedTimings};

/// At most this many boosts are active at once: more is a sign of a runaway script.
const MAX_ACTIVE_BOOSTS: i64 = 1_000;
/// Sample personas per preview by default, and at most.
pub const DEFAULT_PREVIEW_SAMPLE: usize = 12;
/// The largest preview sample: each persona costs two feeds.
pub const MAX_PREVIEW_SAMPLE: usize = 40;
/// The feed page a preview compares, the app's first screen.
const PREVIEW_PAGE: usize = 20;

/// The active boosts and what they resolve to, as the feed last read them.
#[derive(Debug, Default)]
pub(crate) struct BoostCache {
    loaded: Option<(Instant, Arc<ActiveBoosts>)>,
}

/// The boosts in force and their resolution.
#[derive(Debug, Default)]
pub(crate) struct ActiveBoosts {
    pub boosts: Vec<Boost>,
    pub set: BoostSet,
}

/// Asks for a preview of a draft boost.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRequest {
    pub draft: BoostDraft,
    /// The stored boost the draft would replace (an edit), if any.
    pub replaces: Option<BoostId>,
    /// Users to preview for; empty lets the engine pick personas.
    pub users: Vec<UserId>,
    /// Personas to pick when `users` is empty.
    pub sample: usize,
    /// Which personas to pick when `users` is empty.
    pub personas: PersonaFilter,
}

/// Narrows the personas a preview picks: a department, an age range, a taste.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonaFilter {
    /// INSEE department code of their home; by default that of the boosted offer or venue.
    pub department: Option<String>,
    /// Age today, inclusive bounds.
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    /// A category (`CINEMA`…) they booked at least once.
    pub taste: Option<String>,
}

/// One item of a preview page, enough to show the page side by side.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PreviewItem {
    pub offer_id: OfferId,
    pub title: String,
    pub category: String,
    pub category_label: String,
    pub venue_id: Option<VenueId>,
    pub venue_name: Option<String>,
    /// Whether the draft reaches this offer.
    pub boosted: bool,
}

/// How a page stands against the diversity guarantees (see `ranking::PageRules`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PageCheck {
    /// Distinct categories on the page (at least 4 wanted).
    pub categories: usize,
    /// Items of categories the user never booked (at least 2 wanted).
    pub new_to_user: usize,
    /// The most items of one venue (at most 2 wanted).
    pub max_per_venue: usize,
    /// Whether the page keeps all three.
    pub keeps_guarantees: bool,
}

/// Offers lifted by the boosts in force, per department of their venue.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DepartmentCount {
    /// INSEE department code; empty for digital offers, which have no venue.
    pub department: String,
    pub offers: i64,
}

/// One offer whose place in a persona's first page changed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Move {
    pub offer_id: OfferId,
    pub title: String,
    pub category: String,
    pub venue_id: Option<VenueId>,
    /// 1-based rank before and after; `None` when off the page.
    pub before: Option<usize>,
    pub after: Option<usize>,
    /// Whether the draft reaches this offer (the others moved because it did).
    pub boosted: bool,
}

/// A sample user and what the draft does to their first feed page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PersonaPreview {
    pub user_id: UserId,
    pub age: i32,
    pub department: String,
    /// The category the user likes most, if their history says.
    pub top_category: Option<String>,
    pub moves: Vec<Move>,
    /// Offers reached by the draft on the page, before and after.
    pub boosted_before: usize,
    pub boosted_after: usize,
    /// Whether the page keeps the feed's diversity guarantees (categories, new-category
    /// items, items per venue), before and after: a boost that breaks them deserves a warning.
    pub guarantees_before: bool,
    pub guarantees_after: bool,
    /// The guarantees in detail, before and after.
    pub checks_before: PageCheck,
    pub checks_after: PageCheck,
    /// The first page before and after, side by side.
    pub page_before: Vec<PreviewItem>,
    pub page_after: Vec<PreviewItem>,
}

/// How often a category or venue appears over every sample page, before and after.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Exposure {
    pub key: String,
    pub label: String,
    pub before: usize,
    pub after: usize,
    pub delta: i64,
}

/// Diversity of a set of feed pages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PageDiversity {
    /// Distinct categories per page, averaged.
    pub mean_categories: f64,
    /// Share of items shown to discover a category ("discover" reasons).
    pub discover_share: f64,
    /// Distinct venues over all pages.
    pub distinct_venues: usize,
    /// Concentration of exposure over venues (Herfindahl index, 1/n for even, 1 for one venue).
    pub venue_concentration: f64,
}

/// What a draft boost would do, before it is published.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BoostPreview {
    /// Offers the draft reaches (for a phrase, those it matches, up to the cap).
    pub reached_offers: usize,
    pub personas: Vec<PersonaPreview>,
    /// Personas whose first page changed.
    pub changed_feeds: usize,
    /// Personas whose page kept the diversity guarantees before and no longer does after.
    pub broken_guarantees: usize,
    pub by_category: Vec<Exposure>,
    /// The venues whose exposure changed, largest change first (at most 20).
    pub by_venue: Vec<Exposure>,
    pub diversity_before: PageDiversity,
    pub diversity_after: PageDiversity,
}

impl Engine {
    /// Validates a draft against the taxonomy and the store (the offer or venue exists).
    pub async fn check_boost(&self, draft: &BoostDraft) -> Result<(), EngineError> {
        draft.validate(self.taxonomy)?;
        match draft.target {
            BoostTarget::Offer(id) => {
                self.store
                    .offer_record(id)
                    .await?
                    .ok_or(EngineError::NotFound {
                        what: "offer",
                        id: id.0,
                    })?;
            }
            BoostTarget::Venue(id) => {
                self.store.venue(id).await?.ok_or(EngineError::NotFound {
                    what: "venue",
                    id: id.0,
                })?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Stores a new boost; feeds served by this engine apply it at once when active.
    pub async fn create_boost(&self, draft: &BoostDraft) -> Result<Boost, EngineError> {
        self.check_boost(draft).await?;
        let boost = self.store.create_boost(draft, now()).await?;
        self.invalidate_boosts();
        Ok(boost)
    }

    /// Edits a boost that was not expired.
    pub async fn update_boost(
        &self,
        id: BoostId,
        draft: &BoostDraft,
    ) -> Result<Boost, EngineError> {
        self.check_boost(draft).await?;
        let boost = self.store.update_boost(id, draft, now()).await?;
        self.invalidate_boosts();
        Ok(boost)
    }

    /// Stops a boost now.
    pub async fn expire_boost(&self, id: BoostId) -> Result<Boost, EngineError> {
        let boost = self.store.expire_boost(id, now()).await?;
        self.invalidate_boosts();
        Ok(boost)
    }

    /// Forgets the cached boosts: the next feed reads them again.
    pub fn invalidate_boosts(&self) {
        self.boost_cache.lock().expect("boost cache lock").loaded = None;
    }

    /// The boosts in force, from the cache when it is younger than [`BOOST_CACHE_TTL`].
    pub(crate) async fn active_boosts(&self) -> Result<Arc<ActiveBoosts>, EngineError> {
        if let Some((at, active)) = &self.boost_cache.lock().expect("boost cache lock").loaded {
            if at.elapsed() < BOOST_CACHE_TTL {
                return Ok(active.clone());
            }
        }
        let boosts = self
            .store
            .boosts(BoostFilter::ActiveAt(now()), MAX_ACTIVE_BOOSTS, 0)
            .await?;
        let set = self.resolve_boosts(boosts.iter().map(|b| &b.draft))?;
        let active = Arc::new(ActiveBoosts { boosts, set });
        self.boost_cache.lock().expect("boost cache lock").loaded =
            Some((Instant::now(), active.clone()));
        Ok(active)
    }

    /// Turns boosts into weights per offer, venue and subcategory; phrases become the
    /// offers the index matches for them.
    fn resolve_boosts<'a>(
        &self,
        drafts: impl IntoIterator<Item = &'a BoostDraft>,
    ) -> Result<BoostSet, EngineError> {
        let mut set = BoostSet::default();
        for d in drafts {
            match &d.target {
                BoostTarget::Offer(id) => set.add_offer(id.0 as u64, d.weight),
                BoostTarget::Venue(id) => set.add_venue(id.0 as u64, d.weight),
                BoostTarget::Subcategory(s) => set.add_subcategory(s, d.weight),
                BoostTarget::Phrase(p) => {
                    for id in self.phrase_offers(p)? {
                        set.add_offer(id, d.weight);
                    }
                }
            }
        }
        Ok(set)
    }

    fn phrase_offers(&self, phrase: &str) -> Result<Vec<u64>, EngineError> {
        let found = self.index.search(&Query {
            text: Some(phrase.to_owned()),
            limit: MAX_PHRASE_OFFERS,
            ..Query::default()
        })?;
        Ok(found.hits.iter().map(|h| h.id).collect())
    }

    /// What `req.draft` would do to the first feed page of sample users: which offers move,
    /// how exposure per category and venue changes, and the diversity before and after.
    /// Nothing is stored.
    pub async fn preview_boost(&self, req: &PreviewRequest) -> Result<BoostPreview, EngineError> {
        self.check_boost(&req.draft).await?;
        if req.users.len() > MAX_PREVIEW_SAMPLE || !(1..=MAX_PREVIEW_SAMPLE).contains(&req.sample) {
            return Err(EngineError::BadInput(format!(
                "a preview samples 1 to {MAX_PREVIEW_SAMPLE} users"
            )));
        }
        let active = self.active_boosts().await?;
        let after = self.resolve_boosts(
            active
                .boosts
                .iter()
                .filter(|b| Some(b.id) != req.replaces)
                .map(|b| &b.draft)
                .chain([&req.draft]),
        )?;
        let reach = self.resolve_boosts([&req.draft])?;
        let today = chrono::Utc::now().date_naive();
        let reached_offers = match &req.draft.target {
            BoostTarget::Offer(_) => 1,
            BoostTarget::Phrase(p) => self.phrase_offers(p)?.len(),
            BoostTarget::Venue(id) => self.store.venue_offer_count(*id).await? as usize,
            BoostTarget::Subcategory(s) => self.store.subcategory_offer_count(s).await? as usize,
        };
        let personas = if req.users.is_empty() {
            let mut filter = req.personas.clone();
            self.check_persona_filter(&filter)?;
            if filter.department.is_none() {
                filter.department = self.target_department(&req.draft.target).await?;
            }
            let taste = filter
                .taste
                .as_deref()
                .map(|c| self.category_subcategories(c));
            self.store
                .sample_personas(&filter, taste.as_deref(), today, req.sample)
                .await?
        } else {
            let mut users = Vec::new();
            for &id in &req.users {
                users.push(self.store.user(id).await?.ok_or(EngineError::NotFound {
                    what: "user",
                    id: id.0,
                })?);
            }
            users
        };
        let reached = |c: &OfferCard| {
            reach.weight(
                c.offer_id.0 as u64,
                c.venue.as_ref().map(|v| v.id.0 as u64),
                &c.subcategory,
            ) != 0.0
        };
        let (mut pages_before, mut pages_after) = (Vec::new(), Vec::new());
        let mut out = Vec::new();
        for user in &personas {
            let req = FeedRequest {
                user_id: user.id,
                at: None,
                radius_km: None,
                limit: PREVIEW_PAGE,
                cursor: None,
            };
            let timings = &mut FeedTimings::default();
            let (before, taste) = self.feed_with(&req, &active.set, None, timings).await?;
            let (after_page, _) = self.feed_with(&req, &after, None, timings).await?;
            let checks_before = page_check(&before.items, &taste.profile);
            let checks_after = page_check(&after_page.items, &taste.profile);
            let items = |page: &[OfferCard]| -> Vec<PreviewItem> {
                page.iter()
                    .map(|c| PreviewItem {
                        offer_id: c.offer_id,
                        title: c.title.clone(),
                        category: c.category.clone(),
                        category_label: self.taxonomy.category_label(&c.category).to_owned(),
                        venue_id: c.venue.as_ref().map(|v| v.id),
                        venue_name: c.venue.as_ref().map(|v| v.name.clone()),
                        boosted: reached(c),
                    })
                    .collect()
            };
            out.push(PersonaPreview {
                user_id: user.id,
                age: age_on(user, today),
                department: user.department.clone(),
                top_category: taste
                    .profile
                    .category_affinity
                    .iter()
                    .max_by(|a, b| a.1.total_cmp(b.1).then_with(|| b.0.cmp(a.0)))
                    .map(|(c, _)| c.clone()),
                moves: moves(&before.items, &after_page.items, &reached),
                boosted_before: before.items.iter().filter(|c| reached(c)).count(),
                boosted_after: after_page.items.iter().filter(|c| reached(c)).count(),
                guarantees_before: checks_before.keeps_guarantees,
                guarantees_after: checks_after.keeps_guarantees,
                checks_before,
                checks_after,
                page_before: items(&before.items),
                page_after: items(&after_page.items),
            });
            pages_before.push(before.items);
            pages_after.push(after_page.items);
        }
        let by_category = exposure(&pages_before, &pages_after, |c| {
            Some((
                c.category.clone(),
                self.taxonomy.category_label(&c.category).to_owned(),
            ))
        });
        let mut by_venue = exposure(&pages_before, &pages_after, |c| {
            c.venue
                .as_ref()
                .map(|v| (v.id.0.to_string(), v.name.clone()))
        });
        by_venue.retain(|e| e.delta != 0);
        by_venue.sort_by(|a, b| {
            b.delta
                .abs()
                .cmp(&a.delta.abs())
                .then_with(|| a.key.cmp(&b.key))
        });
        by_venue.truncate(20);
        Ok(BoostPreview {
            reached_offers,
            changed_feeds: out.iter().filter(|p| !p.moves.is_empty()).count(),
            broken_guarantees: out
                .iter()
                .filter(|p| p.guarantees_before && !p.guarantees_after)
                .count(),
            personas: out,
            by_category,
            by_venue,
            diversity_before: diversity(&pages_before),
            diversity_after: diversity(&pages_after),
        })
    }

    /// Refuses an age range or taste that cannot select anyone for a good reason.
    fn check_persona_filter(&self, f: &PersonaFilter) -> Result<(), EngineError> {
        let bad = |m: String| Err(EngineError::BadInput(m));
        for age in [f.min_age, f.max_age].into_iter().flatten() {
            if !(0..=120).contains(&age) {
                return bad(format!("an age is within [0, 120], not {age}"));
            }
        }
        if let (Some(lo), Some(hi)) = (f.min_age, f.max_age) {
            if lo > hi {
                return bad("min_age must not exceed max_age".into());
            }
        }
        if let Some(d) = &f.department {
            if d.is_empty() || d.len() > 3 || !d.chars().all(|c| c.is_ascii_alphanumeric()) {
                return bad(format!("{d:?} is not a department code"));
            }
        }
        if let Some(c) = &f.taste {
            if !self.taxonomy.categories().iter().any(|k| &k.id == c) {
                return bad(format!("unknown category {c:?}"));
            }
        }
        Ok(())
    }

    /// The subcategory ids of a category of the taxonomy.
    fn category_subcategories(&self, category: &str) -> Vec<String> {
        self.taxonomy
            .subcategories()
            .iter()
            .filter(|s| s.category == category)
            .map(|s| s.id.clone())
            .collect()
    }

    /// Offers lifted (weight above 0) by the boosts in force, counted per department of
    /// their venue, most first: where editorial pushes land on the map.
    pub async fn boosted_departments(&self) -> Result<Vec<DepartmentCount>, EngineError> {
        let active = self.active_boosts().await?;
        let (mut offers, mut venues, mut subcategories) = (Vec::new(), Vec::new(), Vec::new());
        for b in active.boosts.iter().filter(|b| b.draft.weight > 0.0) {
            match &b.draft.target {
                BoostTarget::Offer(id) => offers.push(id.0),
                BoostTarget::Venue(id) => venues.push(id.0),
                BoostTarget::Subcategory(s) => subcategories.push(s.clone()),
                BoostTarget::Phrase(p) => {
                    offers.extend(self.phrase_offers(p)?.into_iter().map(|id| id as i64))
                }
            }
        }
        let mut counts = self
            .store
            .offers_per_department(&offers, &venues, &subcategories)
            .await?
            .into_iter()
            .map(|(department, offers)| DepartmentCount { department, offers })
            .collect::<Vec<_>>();
        counts.sort_by(|a, b| {
            b.offers
                .cmp(&a.offers)
                .then_with(|| a.department.cmp(&b.department))
        });
        Ok(counts)
    }

    /// The department of the offer or venue a boost targets, to preview it on users nearby.
    async fn target_department(&self, target: &BoostTarget) -> Result<Option<String>, EngineError> {
        Ok(match target {
            BoostTarget::Offer(id) => self
                .store
                .offer_record(*id)
                .await?
                .and_then(|r| r.venue)
                .map(|v| v.department),
            BoostTarget::Venue(id) => self.store.venue(*id).await?.map(|v| v.department),
            _ => None,
        })
    }
}

fn age_on(user: &User, today: chrono::NaiveDate) -> i32 {
    let b = user.birth_date;
    today.year() - b.year() - i32::from((today.month(), today.day()) < (b.month(), b.day()))
}

/// Offers whose rank changed between two pages, in the order of the page after.
fn moves(
    before: &[OfferCard],
    after: &[OfferCard],
    reached: &dyn Fn(&OfferCard) -> bool,
) -> Vec<Move> {
    let pos =
        |page: &[OfferCard], id: OfferId| page.iter().position(|c| c.offer_id == id).map(|p| p + 1);
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in after.iter().chain(before) {
        if !seen.insert(c.offer_id) {
            continue;
        }
        let (b, a) = (pos(before, c.offer_id), pos(after, c.offer_id));
        if a != b {
            out.push(Move {
                offer_id: c.offer_id,
                title: c.title.clone(),
                category: c.category.clone(),
                venue_id: c.venue.as_ref().map(|v| v.id),
                before: b,
                after: a,
                boosted: reached(c),
            });
        }
    }
    out
}

/// How a page stands against the rules the ranking fills pages under (see `ranking::PageRules`).
fn page_check(page: &[OfferCard], profile: &ranking::Profile) -> PageCheck {
    let rules = ranking::PageRules::default();
    let categories = page
        .iter()
        .map(|c| &c.category)
        .collect::<HashSet<_>>()
        .len();
    let new_items = page
        .iter()
        .filter(|c| !profile.has_booked(&c.category))
        .count();
    let mut per_venue: HashMap<i64, usize> = HashMap::new();
    for v in page.iter().filter_map(|c| c.venue.as_ref()) {
        *per_venue.entry(v.id.0).or_default() += 1;
    }
    let max_per_venue = per_venue.values().copied().max().unwrap_or(0);
    PageCheck {
        categories,
        new_to_user: new_items,
        max_per_venue,
        keeps_guarantees: categories >= rules.min_categories.min(page.len())
            && new_items >= rules.min_new_category_items.min(page.len())
            && max_per_venue <= rules.max_per_venue,
    }
}

/// Items per key over every page, before and after, for the keys seen in either.
fn exposure(
    before: &[Vec<OfferCard>],
    after: &[Vec<OfferCard>],
    key: impl Fn(&OfferCard) -> Option<(String, String)>,
) -> Vec<Exposure> {
    let mut counts: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    for (pages, slot) in [(before, 0), (after, 1)] {
        for c in pages.iter().flatten() {
            if let Some((k, label)) = key(c) {
                let e = counts.entry(k).or_insert((label, 0, 0));
                if slot == 0 {
                    e.1 += 1;
                } else {
                    e.2 += 1;
                }
            }
        }
    }
    counts
        .into_iter()
        .map(|(key, (label, before, after))| Exposure {
            key,
            label,
            before,
            after,
            delta: after as i64 - before as i64,
        })
        .collect()
}

/// Diversity of feed pages: categories per page, discovery share, venue spread.
fn diversity(pages: &[Vec<OfferCard>]) -> PageDiversity {
    let items: usize = pages.iter().map(Vec::len).sum();
    let mean_categories = if pages.is_empty() {
        0.0
    } else {
        pages
            .iter()
            .map(|p| p.iter().map(|c| &c.category).collect::<HashSet<_>>().len() as f64)
            .sum::<f64>()
            / pages.len() as f64
    };
    let discover = pages
        .iter()
        .flatten()
        .filter(|c| c.reason.kind == "discover")
        .count();
    let mut venues: HashMap<i64, usize> = HashMap::new();
    for c in pages.iter().flatten() {
        if let Some(v) = &c.venue {
            *venues.entry(v.id.0).or_default() += 1;
        }
    }
    let placed: usize = venues.values().sum();
    let venue_concentration = if placed == 0 {
        0.0
    } else {
        venues
            .values()
            .map(|&n| (n as f64 / placed as f64).powi(2))
            .sum()
    };
    PageDiversity {
        mean_categories,
        discover_share: if items == 0 {
            0.0
        } else {
            discover as f64 / items as f64
        },
        distinct_venues: venues.len(),
        venue_concentration,
    }
}
