//! A user's tastes, read from their history: what the ranking calls a profile.
//!
//! Category and subcategory affinities sum the user's signals (bookings, favorites,
//! clicks, views), each weighted by its kind and halved every 90 days, then scaled so the
//! strongest is 1. The learned embedding comes from the taste model (see [`crate::taste`]).

use std::collections::HashMap;

use ranking::Profile;

use crate::domain::Timestamp;
use crate::ids::OfferId;
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

/// A profile and the offers its reasons may name.
pub struct UserTaste {
    pub profile: Profile,
    pub anchors: Anchors,
}

/// Per category, a few offers the user booked in it, newest first: what a "because you
/// booked « X »" reason names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Anchors(HashMap<String, Vec<Anchor>>);

/// An offer the user booked, that a "because you booked « X »" reason may name.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub offer_id: OfferId,
    pub title: String,
}

impl Anchors {
    /// The title of the latest offer booked in `category` other than the candidate
    /// (`offer_id`, `title`): "because you booked « X »" must not name the offer it
    /// explains, nor a namesake (the same film at another cinema). `None` when the user
    /// booked nothing else in the category, so the caller says something else.
    pub fn anchor(&self, category: &str, offer_id: OfferId, title: &str) -> Option<&str> {
        self.0
            .get(category)?
            .iter()
            .find(|a| a.offer_id != offer_id && !same_title(&a.title, title))
            .map(|a| a.title.as_str())
    }
}

/// Titles that read the same, whatever the case and surrounding spaces.
fn same_title(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
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
            let booked: &mut Vec<Anchor> = anchors.entry(sub.category.clone()).or_default();
            // Distinct titles, a few: if the first names the candidate, the next does not.
            if booked.len() < 3 && !booked.iter().any(|a| same_title(&a.title, &entry.title)) {
                booked.push(Anchor {
                    offer_id: entry.offer_id,
                    title: entry.title.clone(),
                });
            }
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
    UserTaste {
        profile,
        anchors: Anchors(anchors),
    }
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

    fn booking(offer_id: i64, title: &str, subcategory: &str, at: Timestamp) -> HistoryEntry {
        HistoryEntry {
            offer_id: OfferId(offer_id),
            title: title.into(),
            subcategory: subcategory.into(),
            kind: "booking".into(),
            at,
        }
    }

    #[test]
    fn because_you_booked_never_names_the_offer_it_explains() {
        let now = 1_000 * 86_400;
        // Newest first, as the store returns the history.
        let history = [
            booking(7, "Dune", "SEANCE_CINE", now - 86_400),
            booking(8, "dune ", "SEANCE_CINE", now - 2 * 86_400),
            booking(9, "Paddington", "SEANCE_CINE", now - 3 * 86_400),
            booking(20, "Les Misérables", "LIVRE_PAPIER", now - 86_400),
        ];
        let t = taste(&history, Taxonomy::shipped(), now, None);
        // Another offer: the latest booking in its category.
        assert_eq!(
            t.anchors.anchor("CINEMA", OfferId(99), "Alien"),
            Some("Dune")
        );
        // The latest booking itself, or a namesake (the same film elsewhere): the next
        // booking with another title.
        assert_eq!(
            t.anchors.anchor("CINEMA", OfferId(7), "Dune"),
            Some("Paddington")
        );
        assert_eq!(
            t.anchors.anchor("CINEMA", OfferId(99), "DUNE"),
            Some("Paddington")
        );
        // The only booking of its category: nothing to name, the caller says another thing.
        assert_eq!(
            t.anchors.anchor("LIVRE", OfferId(20), "Les Misérables"),
            None
        );
        assert_eq!(
            t.anchors.anchor("LIVRE", OfferId(21), "Germinal"),
            Some("Les Misérables")
        );
        assert_eq!(t.anchors.anchor("MUSEE", OfferId(1), "Louvre"), None);
    }

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
