//! A user's tastes, read from their history: what the ranking calls a profile.

use std::collections::HashMap;

use ranking::Profile;

use crate::domain::Timestamp;
use crate::store::HistoryEntry;
use crate::taxonomy::Taxonomy;

/// Interest halves every 90 days: last spring's concerts count less than last week's.
const HALF_LIFE_S: f64 = 90.0 * 86_400.0;

fn weight(kind: &str) -> f64 {
    match kind {
        "booking" => 1.0,
        "favorite" => 0.6,
        "click" => 0.3,
        _ => 0.1,
    }
}

/// A profile and, per category, the title of the latest offer booked in it (for reasons).
pub struct UserTaste {
    pub profile: Profile,
    pub anchors: HashMap<String, String>,
}

/// Builds the profile from history entries (newest first) at `now`.
pub fn taste(
    history: &[HistoryEntry],
    taxonomy: &Taxonomy,
    now: Timestamp,
    credit: Option<i64>,
) -> UserTaste {
    let mut categories: HashMap<String, f64> = HashMap::new();
    let mut subcategories: HashMap<String, f64> = HashMap::new();
    let mut booked = Vec::new();
    let mut anchors = HashMap::new();
    for entry in history {
        let Some(sub) = taxonomy.subcategory(&entry.subcategory) else {
            continue;
        };
        let decay = 0.5f64.powf((now - entry.at).max(0) as f64 / HALF_LIFE_S);
        let w = weight(&entry.kind) * decay;
        *categories.entry(sub.category.clone()).or_default() += w;
        *subcategories.entry(sub.id.clone()).or_default() += w;
        if entry.kind == "booking" {
            if !booked.contains(&sub.category) {
                booked.push(sub.category.clone());
            }
            anchors
                .entry(sub.category.clone())
                .or_insert_with(|| entry.title.clone());
        }
    }
    normalise(&mut categories);
    normalise(&mut subcategories);
    UserTaste {
        profile: Profile {
            category_affinity: categories,
            subcategory_affinity: subcategories,
            booked_categories: booked,
            remaining_credit_cents: credit.map(|c| c.max(0) as u64),
        },
        anchors,
    }
}

fn normalise(map: &mut HashMap<String, f64>) {
    let max = map.values().copied().fold(0.0, f64::max);
    if max > 0.0 {
        map.values_mut().for_each(|v| *v /= max);
    }
}
