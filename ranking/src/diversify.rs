use std::collections::HashMap;

use crate::{Candidate, Profile, Ranked, Reason};

/// Rules every page of the feed keeps when the candidate pool allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRules {
    /// Items per page (default 20).
    pub page_size: usize,
    /// Distinct categories per page, at least (default 4).
    pub min_categories: usize,
    /// Items from categories the user never booked, at least (default 2).
    pub min_new_category_items: usize,
    /// Items from one venue, at most (default 2).
    pub max_per_venue: usize,
    /// Digital items, at most (default 5): the feed is first an agenda of what is near.
    pub max_digital: usize,
    /// Score taken off for each item of the same category already on the page (default 0.35).
    pub category_repeat_penalty: f64,
}

impl Default for PageRules {
    fn default() -> Self {
        PageRules {
            page_size: 20,
            min_categories: 4,
            min_new_category_items: 2,
            max_per_venue: 2,
            max_digital: 5,
            category_repeat_penalty: 0.35,
        }
    }
}

/// Fills pages greedily: at each slot, the best adjusted score among candidates that keep
/// the page's rules reachable. When the slots left are just enough to meet a minimum
/// (categories, new-category items), only candidates that advance it are eligible.
pub fn diversify(
    candidates: &[Candidate],
    scores: &[f64],
    profile: &Profile,
    rules: &PageRules,
    n: usize,
) -> Vec<Ranked> {
    let mut taken = vec![false; candidates.len()];
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let page_len = (n - out.len()).min(rules.page_size.max(1));
        let page = fill_page(candidates, scores, profile, rules, &mut taken, page_len);
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    out
}

fn fill_page(
    candidates: &[Candidate],
    scores: &[f64],
    profile: &Profile,
    rules: &PageRules,
    taken: &mut [bool],
    page_len: usize,
) -> Vec<Ranked> {
    let mut per_category: HashMap<&str, usize> = HashMap::new();
    let mut per_venue: HashMap<u64, usize> = HashMap::new();
    let mut new_items = 0;
    let mut digital = 0;
    let mut page = Vec::with_capacity(page_len);
    while page.len() < page_len {
        let slots_left = page_len - page.len();
        let need_categories = rules.min_categories.saturating_sub(per_category.len());
        let need_new = rules.min_new_category_items.saturating_sub(new_items);
        // Rules give way one tier at a time when the pool cannot keep them all:
        // the digital cap first, then the diversity minimums.
        let eligible = |i: usize, c: &Candidate, tier: Tier| {
            if taken[i]
                || c.venue_id
                    .is_some_and(|v| per_venue.get(&v).copied().unwrap_or(0) >= rules.max_per_venue)
            {
                return false;
            }
            if tier == Tier::Relaxed {
                return true;
            }
            if tier == Tier::Strict && c.venue_id.is_none() && digital >= rules.max_digital {
                return false;
            }
            let new_category = !per_category.contains_key(c.category.as_str());
            let never_booked = !profile.has_booked(&c.category);
            (need_categories < slots_left || new_category)
                && (need_new < slots_left || never_booked)
        };
        let best = |tier: Tier| {
            candidates
                .iter()
                .enumerate()
                .filter(|&(i, c)| eligible(i, c, tier))
                .map(|(i, c)| {
                    let repeats = per_category.get(c.category.as_str()).copied().unwrap_or(0);
                    (
                        i,
                        scores[i] - rules.category_repeat_penalty * repeats as f64,
                    )
                })
                // Ties broken by index so the same inputs always give the same page.
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        };
        // When the rules cannot be met from the pool, fill with the best left.
        let Some((i, adjusted)) = best(Tier::Strict)
            .or_else(|| best(Tier::AnyDigital))
            .or_else(|| best(Tier::Relaxed))
        else {
            break;
        };
        let c = &candidates[i];
        taken[i] = true;
        *per_category.entry(c.category.as_str()).or_default() += 1;
        if let Some(v) = c.venue_id {
            *per_venue.entry(v).or_default() += 1;
        }
        if !profile.has_booked(&c.category) {
            new_items += 1;
        }
        if c.venue_id.is_none() {
            digital += 1;
        }
        page.push(Ranked {
            index: i,
            score: adjusted,
            reason: reason(c, profile),
        });
    }
    page
}

/// How many of the page rules a pick must keep.
#[derive(Clone, Copy, PartialEq)]
enum Tier {
    Strict,
    AnyDigital,
    Relaxed,
}

fn reason(c: &Candidate, profile: &Profile) -> Reason {
    if !profile.booked_categories.is_empty() && !profile.has_booked(&c.category) {
        return Reason::Discover {
            category: c.category.clone(),
        };
    }
    if profile
        .category_affinity
        .get(&c.category)
        .copied()
        .unwrap_or(0.0)
        >= 0.3
    {
        return Reason::BecauseYouBooked {
            category: c.category.clone(),
        };
    }
    match c.distance_m {
        Some(d) if d <= 5_000.0 => Reason::NearYou { distance_m: d },
        _ if c.popularity >= 5 => Reason::Popular,
        Some(d) => Reason::NearYou { distance_m: d },
        None => Reason::Popular,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{rank, RankConfig};

    fn pool() -> Vec<Candidate> {
        // 60 cinema offers at ten venues, close and popular, plus a few of other categories far away.
        let mut v: Vec<Candidate> = (0..60)
            .map(|i| Candidate {
                id: i,
                category: "CINEMA".into(),
                subcategory: "SEANCE_CINE".into(),
                venue_id: Some(i % 10),
                distance_m: Some(200.0),
                popularity: 100,
                price_cents: 600,
                ..Candidate::default()
            })
            .collect();
        for (k, cat) in ["LIVRE", "MUSEE", "SPECTACLE", "MUSIQUE_LIVE", "JEU"]
            .iter()
            .enumerate()
        {
            for j in 0..4 {
                v.push(Candidate {
                    id: 100 + (k * 10 + j) as u64,
                    category: (*cat).into(),
                    subcategory: "X".into(),
                    venue_id: Some(10 + (k * 10 + j) as u64),
                    distance_m: Some(40_000.0),
                    popularity: 0,
                    price_cents: 1000,
                    ..Candidate::default()
                });
            }
        }
        v
    }

    #[test]
    fn pages_keep_the_guarantees_even_for_a_narrow_profile() {
        let candidates = pool();
        let mut profile = Profile::default();
        profile.category_affinity.insert("CINEMA".into(), 1.0);
        profile.booked_categories.push("CINEMA".into());
        let ranked = rank(&candidates, &profile, &RankConfig::default(), 40);
        for page in ranked.chunks(20) {
            let cats: std::collections::HashSet<_> =
                page.iter().map(|r| &candidates[r.index].category).collect();
            assert!(cats.len() >= 4, "{cats:?}");
            let new = page
                .iter()
                .filter(|r| candidates[r.index].category != "CINEMA")
                .count();
            assert!(new >= 2);
            let mut venues: HashMap<u64, usize> = HashMap::new();
            for r in page {
                *venues
                    .entry(candidates[r.index].venue_id.unwrap())
                    .or_default() += 1;
            }
            assert!(venues.values().all(|&n| n <= 2), "{venues:?}");
        }
        let ids: std::collections::HashSet<_> = ranked.iter().map(|r| r.index).collect();
        assert_eq!(ids.len(), ranked.len(), "no repeats across pages");
    }

    #[test]
    fn digital_offers_do_not_crowd_out_what_is_near() {
        let mut candidates = pool();
        for i in 0..40 {
            candidates.push(Candidate {
                id: 1_000 + i,
                category: "MEDIA".into(),
                subcategory: "PODCAST".into(),
                venue_id: None,
                distance_m: None,
                popularity: 1_000,
                price_cents: 0,
                ..Candidate::default()
            });
        }
        let mut profile = Profile::default();
        profile.category_affinity.insert("MEDIA".into(), 1.0);
        let page = rank(&candidates, &profile, &RankConfig::default(), 20);
        let digital = page
            .iter()
            .filter(|r| candidates[r.index].venue_id.is_none())
            .count();
        assert_eq!(digital, PageRules::default().max_digital);
    }

    #[test]
    fn same_inputs_same_feed() {
        let candidates = pool();
        let a = rank(&candidates, &Profile::default(), &RankConfig::default(), 20);
        let b = rank(&candidates, &Profile::default(), &RankConfig::default(), 20);
        assert_eq!(a, b);
    }
}
