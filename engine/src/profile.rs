//! A user's tastes, read from their history: what the ranking calls a profile.
//!
//! Category and subcategory affinities sum the user's signals (bookings, favorites,
//! clicks, views), each weighted by its kind and halved every 90 days, then scaled so the
//! strongest is 1. The learned embedding comes from the taste model (see [`crate::taste`]).

use std::collections::HashMap;

use ranking::Profile;

use crate::domain::Timestamp;
use crate::store::HistoryEntry;
use crate::taxonomy::Taxonomy;

/// Interest halves every 90 days: last spring's concerts count less than last week's.
const HALF_LIFE_S: f64 = 90.0 * 86_400.0;

/// How much a signal of this kind says about taste, before decay.
pub(crate) fn kind_weight(kind: &str) -> f64 {
    match kind {
        "booking" => 1.0,
        "favorite" => 0.6,
        "click" => 0.3,
        _ => 0.1,
    }
}

/// The weight of a signal of `kind` seen at `at`, decayed to `now`.
pub(crate) fn signal_weight(kind: &str, at: Timestamp, now: Timestamp) -> f64 {
    kind_weight(kind) * 0.5f64.powf((now - at).max(0) as f64 / HALF_LIFE_S)
}

/// One signal of taste, whatever its source (the store, an external dataset, a simulation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal<'a> {
    pub category: &'a str,
    pub subcategory: &'a str,
    /// `"booking"` or an interaction kind.
    pub kind: &'a str,
    pub at: Timestamp,
}

/// Affinities and booked categories from `signals` at `now` (the embedding and credit are
/// left for the caller).
pub(crate) fn profile_from<'a>(
    signals: impl IntoIterator<Item = Signal<'a>>,
    now: Timestamp,
) -> Profile {
    let mut categories: HashMap<String, f64> = HashMap::new();
    let mut subcategories: HashMap<String, f64> = HashMap::new();
    let mut booked: Vec<String> = Vec::new();
    for s in signals {
        let w = signal_weight(s.kind, s.at, now);
        *categories.entry(s.category.to_string()).or_default() += w;
        *subcategories.entry(s.subcategory.to_string()).or_default() += w;
        if s.kind == "booking" && !booked.iter().any(|c| c == s.category) {
            booked.push(s.category.to_string());
        }
    }
    normalise(&mut categories);
    normalise(&mut subcategories);
    Profile {
        category_affinity: categories,
        subcategory_affinity: subcategories,
        booked_categories: booked,
        ..Profile::default()
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
    let mut anchors = HashMap::new();
    let mut signals = Vec::with_capacity(history.len());
    for entry in history {
        let Some(sub) = taxonomy.subcategory(&entry.subcategory) else {
            continue;
        };
        if entry.kind == "booking" {
            anchors
                .entry(sub.category.clone())
                .or_insert_with(|| entry.title.clone());
        }
        signals.push(Signal {
            category: &sub.category,
            subcategory: &sub.id,
            kind: &entry.kind,
            at: entry.at,
        });
    }
    let mut profile = profile_from(signals, now);
    profile.remaining_credit_cents = credit.map(|c| c.max(0) as u64);
    UserTaste { profile, anchors }
}

fn normalise(map: &mut HashMap<String, f64>) {
    let max = map.values().copied().fold(0.0, f64::max);
    if max > 0.0 {
        map.values_mut().for_each(|v| *v /= max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_bookings_outweigh_old_ones_and_views() {
        let now = 1_000 * 86_400;
        let signals = [
            Signal {
                category: "CINEMA",
                subcategory: "SEANCE_CINE",
                kind: "booking",
                at: now - 400 * 86_400,
            },
            Signal {
                category: "LIVRE",
                subcategory: "LIVRE_PAPIER",
                kind: "booking",
                at: now - 86_400,
            },
            Signal {
                category: "MUSEE",
                subcategory: "VISITE",
                kind: "view",
                at: now,
            },
        ];
        let p = profile_from(signals, now);
        assert_eq!(p.category_affinity["LIVRE"], 1.0);
        assert!(
            p.category_affinity["CINEMA"] < 0.1,
            "{:?}",
            p.category_affinity
        );
        assert!(p.category_affinity["MUSEE"] < p.category_affinity["LIVRE"]);
        assert!(p.category_affinity["MUSEE"] > p.category_affinity["CINEMA"]);
        assert_eq!(
            p.booked_categories,
            vec!["CINEMA".to_string(), "LIVRE".to_string()]
        );
    }
}
