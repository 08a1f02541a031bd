//! Who a campaign notifies, picked in batch.
//!
//! The store applies what SQL can (opt-in, a box around the venue, credit for the price,
//! no booking of the offer, the frequency cap); here the age is checked and the distance
//! through the H3 cells around the venue ([`indexer::Disk`]: the search's own cover, then
//! the exact distance for homes in a covered cell), each user is scored for the offer with the ranking crate over their profile,
//! and the audience is filled under a quota of users new to the offer's category.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate};
use serde::Serialize;

use super::{Availability, CampaignConfig};
use crate::domain::{Coordinates, Timestamp};
use crate::error::EngineError;
use crate::ids::UserId;
use crate::profile::taste;
use crate::store::{AudienceFilter, OfferRecord, Store};
use crate::taxonomy::Taxonomy;

/// One user of an audience.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub user_id: UserId,
    /// Predicted interest in the offer (the ranking's score for this user).
    pub score: f64,
    /// The user never booked the offer's category.
    pub new_to_category: bool,
    pub age: i32,
    pub department: String,
}

/// An audience's size and make-up: what a dry run prints.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AudienceReport {
    /// Users passing every filter, before the size bound.
    pub eligible: usize,
    /// The bound on the audience: `audience_multiple` × places left (or `max_audience`).
    pub bound: usize,
    /// Users picked.
    pub size: usize,
    /// Users picked who never booked the offer's category.
    pub new_to_category: usize,
    /// `new_to_category / size` (0 for an empty audience).
    pub new_to_category_share: f64,
    /// Users picked per age.
    pub by_age: BTreeMap<i32, usize>,
    /// Users picked per home department.
    pub by_department: BTreeMap<String, usize>,
}

impl AudienceReport {
    /// The make-up of `targets` out of `eligible` users under `bound`.
    pub fn of(targets: &[Target], eligible: usize, bound: usize) -> AudienceReport {
        let mut report = AudienceReport {
            eligible,
            bound,
            size: targets.len(),
            ..AudienceReport::default()
        };
        for t in targets {
            report.new_to_category += usize::from(t.new_to_category);
            *report.by_age.entry(t.age).or_default() += 1;
            *report
                .by_department
                .entry(t.department.clone())
                .or_default() += 1;
        }
        report.new_to_category_share = if targets.is_empty() {
            0.0
        } else {
            report.new_to_category as f64 / targets.len() as f64
        };
        report
    }
}

/// Full years between `birth` and `day`.
fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let mut age = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// A box holding every point within `radius_m` of `centre` (wider near the poles).
fn bbox_around(centre: Coordinates, radius_m: f64) -> (f64, f64, f64, f64) {
    let dlat = (radius_m / indexer::EARTH_RADIUS_M).to_degrees();
    let cos = centre.lat().to_radians().cos().max(0.01);
    let dlon = (dlat / cos).min(180.0);
    (
        (centre.lat() - dlat).max(-90.0),
        (centre.lat() + dlat).min(90.0),
        (centre.lon() - dlon).max(-180.0),
        (centre.lon() + dlon).min(180.0),
    )
}

/// Fills an audience of at most `bound` users from `scored` (any order): first the best
/// `share × bound` of the users new to the category, then the best of everyone left;
/// returned best first.
pub fn fill(mut scored: Vec<Target>, bound: usize, share: f64) -> Vec<Target> {
    let best_first =
        |a: &Target, b: &Target| b.score.total_cmp(&a.score).then(a.user_id.cmp(&b.user_id));
    scored.sort_by(best_first);
    let quota = ((share.clamp(0.0, 1.0) * bound as f64).ceil() as usize).min(bound);
    let mut picked = vec![false; scored.len()];
    let mut taken = 0;
    for (i, t) in scored.iter().enumerate() {
        if taken == quota {
            break;
        }
        if t.new_to_category {
            picked[i] = true;
            taken += 1;
        }
    }
    for p in picked.iter_mut() {
        if taken == bound {
            break;
        }
        if !*p {
            *p = true;
            taken += 1;
        }
    }
    let mut out: Vec<Target> = scored
        .into_iter()
        .zip(picked)
        .filter_map(|(t, p)| p.then_some(t))
        .collect();
    out.sort_by(best_first);
    out
}

/// Picks the audience of a campaign for the offer in `record` at `now`, leaving out the
/// users in `exclude` (those a dry run already gave to an earlier campaign: the frequency
/// cap holds across campaigns), counting the users scored on `progress`.
pub async fn pick_audience(
    store: &Store,
    record: &OfferRecord,
    config: &CampaignConfig,
    exclude: &HashSet<UserId>,
    now: Timestamp,
    progress: &indicatif::ProgressBar,
) -> Result<(Vec<Target>, AudienceReport), EngineError> {
    let taxonomy = Taxonomy::shipped();
    let availability = Availability::of(&record.stocks, now);
    let Some(price) = availability.cheapest else {
        return Ok((Vec::new(), AudienceReport::default()));
    };
    let sub = taxonomy.subcategory(&record.offer.subcategory);
    let category = sub.map_or_else(String::new, |s| s.category.clone());
    let radius_m = config.radius_km * 1_000.0;
    // Digital offers reach the whole country; physical ones the users near the venue.
    let disk = record
        .venue
        .as_ref()
        .filter(|_| !record.offer.is_digital())
        .map(|v| indexer::Disk::new(v.location, radius_m));
    let bbox = match &record.venue {
        Some(v) if disk.is_some() => bbox_around(v.location, radius_m),
        _ => (-90.0, 90.0, -180.0, 180.0),
    };
    let candidates = store
        .audience_candidates(&AudienceFilter {
            offer_id: record.offer.id,
            bbox,
            price,
            digital_capped: record.offer.is_digital() && sub.is_some_and(|s| s.digital_capped),
            pushed_since: now - config.frequency_cap_days * 86_400,
            now,
        })
        .await?;
    let today = DateTime::from_timestamp(now, 0)
        .map(|t| t.date_naive())
        .ok_or_else(|| EngineError::BadInput(format!("instant {now} out of range")))?;
    // Exact distance and age: what the box and SQL could not say.
    let mut kept = Vec::with_capacity(candidates.len());
    for c in candidates {
        if exclude.contains(&c.user_id) {
            continue;
        }
        let birth: NaiveDate = c
            .birth_date
            .parse()
            .map_err(|e| EngineError::Data(format!("user {}: birth date: {e}", c.user_id)))?;
        let age = age_on(birth, today);
        if age < config.ages.0 || age > config.ages.1 {
            continue;
        }
        let home = Coordinates::new(c.lat, c.lon)?;
        let distance = match &disk {
            Some(disk) => match disk.distance_if_inside(home) {
                Some(d) => Some(d),
                None => continue,
            },
            None => None,
        };
        kept.push((c, age, distance));
    }
    progress.set_length(kept.len() as u64);
    let users: Vec<UserId> = kept.iter().map(|(c, _, _)| c.user_id).collect();
    let histories = store.histories(&users).await?;
    let candidate = |distance_m| ranking::Candidate {
        id: record.offer.id.0 as u64,
        category: &category,
        subcategory: &record.offer.subcategory,
        venue_id: record.offer.venue_id.map(|v| v.0 as u64),
        distance_m,
        popularity: record.bookings.max(0) as u64,
        price_cents: price.0.max(0) as u64,
        ..ranking::Candidate::default()
    };
    let rank_config = ranking::RankConfig::default();
    let mut scored = Vec::with_capacity(kept.len());
    for (c, age, distance) in kept {
        let history = histories.get(&c.user_id).map_or(&[][..], Vec::as_slice);
        let profile = taste(history, taxonomy, now, Some(c.credit.0)).profile;
        let ctx = ranking::RankContext {
            now,
            ..ranking::RankContext::default()
        };
        let score = ranking::score(&[candidate(distance)], &profile, &rank_config, &ctx)[0];
        scored.push(Target {
            user_id: c.user_id,
            score,
            new_to_category: !profile.has_booked(&category),
            age,
            department: c.department,
        });
        progress.inc(1);
    }
    let eligible = scored.len();
    let bound = match availability.remaining {
        Some(r) => ((r as f64 * config.audience_multiple).ceil() as usize).min(config.max_audience),
        None => config.max_audience,
    };
    let targets = fill(scored, bound, config.new_to_category_share);
    let report = AudienceReport::of(&targets, eligible, bound);
    Ok((targets, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(id: i64, score: f64, new: bool) -> Target {
        Target {
            user_id: UserId(id),
            score,
            new_to_category: new,
            age: 17,
            department: "75".into(),
        }
    }

    #[test]
    fn the_quota_keeps_room_for_users_new_to_the_category() {
        // Habitual users score higher; without the quota all 4 places would go to them.
        let mut users: Vec<Target> = (1..=6).map(|i| target(i, 10.0 - i as f64, false)).collect();
        users.extend((7..=10).map(|i| target(i, 1.0 - i as f64 / 100.0, true)));
        let audience = fill(users, 4, 0.5);
        let ids: Vec<i64> = audience.iter().map(|t| t.user_id.0).collect();
        // Best two habitual users, then the best two new ones, best first.
        assert_eq!(ids, vec![1, 2, 7, 8]);
    }

    #[test]
    fn a_short_supply_of_new_users_is_topped_up_by_the_best_others() {
        let users = vec![
            target(1, 5.0, false),
            target(2, 4.0, false),
            target(3, 3.0, false),
            target(4, 0.5, true),
        ];
        let audience = fill(users, 3, 0.9);
        let ids: Vec<i64> = audience.iter().map(|t| t.user_id.0).collect();
        assert_eq!(ids, vec![1, 2, 4]);
        assert_eq!(fill(Vec::new(), 3, 0.3).len(), 0);
    }

    #[test]
    fn ages_turn_on_the_birthday() {
        let birth = NaiveDate::from_ymd_opt(2009, 6, 1).unwrap();
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 5, 31).unwrap()),
            16
        );
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()),
            17
        );
    }

    #[test]
    fn the_box_holds_the_disk() {
        let paris = Coordinates::new(48.8566, 2.3522).unwrap();
        let (s, n, w, e) = bbox_around(paris, 30_000.0);
        for (lat, lon) in [
            (s, paris.lon()),
            (n, paris.lon()),
            (paris.lat(), w),
            (paris.lat(), e),
        ] {
            let d = indexer::haversine_m(paris, Coordinates::new(lat, lon).unwrap());
            assert!(d >= 29_900.0, "edge at {d} m");
        }
    }
}
