//! What the offline evaluation and the simulation run on: items with a category (and,
//! for the generated world, a place and a price) and timestamped events, read from the
//! store or from external CSV files.

use std::collections::HashMap;
use std::path::Path;

use crate::domain::{Coordinates, Timestamp};
use crate::error::EngineError;
use crate::store::Store;
use crate::taste::cohort_keys;
use crate::taxonomy::Taxonomy;

/// An item that can be recommended.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: u64,
    /// The main category (the first one of an external item).
    pub category: String,
    /// The subcategory; for an external item, all its categories joined by `|`.
    pub subcategory: String,
    pub venue_id: Option<u64>,
    /// `None` for digital offers and for external items.
    pub location: Option<Coordinates>,
    pub price_cents: u64,
}

/// One timestamped signal of a user on an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub user: u64,
    pub item: u64,
    pub at: Timestamp,
    /// `"booking"` (every row of an external dataset) or an interaction kind.
    pub kind: String,
    /// Multiplies the kind's weight: an external rating over the highest rating, else 1.
    pub weight: f32,
}

/// Items, events oldest first, and what is known of the users.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub items: Vec<Item>,
    pub events: Vec<Event>,
    /// Where users live (the generated world only).
    pub homes: HashMap<u64, Coordinates>,
    /// Cohort keys of users (age and department), for cold-start priors.
    pub cohorts: HashMap<u64, Vec<String>>,
}

impl Dataset {
    /// The world in the store: active offers (category from the taxonomy, lowest
    /// price), every booking kept and every interaction, and the users' homes and cohorts.
    pub async fn from_store(
        store: &Store,
        taxonomy: &Taxonomy,
        progress: &indicatif::ProgressBar,
    ) -> Result<Dataset, EngineError> {
        let items: Vec<Item> = store
            .offer_records()
            .await?
            .into_iter()
            .filter_map(|r| {
                let sub = taxonomy.subcategory(&r.offer.subcategory)?;
                Some(Item {
                    id: r.offer.id.0 as u64,
                    category: sub.category.clone(),
                    subcategory: sub.id.clone(),
                    venue_id: r.venue.as_ref().map(|v| v.id.0 as u64),
                    location: r.venue.as_ref().map(|v| v.location),
                    price_cents: r
                        .stocks
                        .iter()
                        .map(|s| s.price.0.max(0) as u64)
                        .min()
                        .unwrap_or(0),
                })
            })
            .collect();
        let known: std::collections::HashSet<u64> = items.iter().map(|i| i.id).collect();
        let events = store
            .activity_log(progress)
            .await?
            .into_iter()
            .filter(|a| known.contains(&(a.offer_id.0 as u64)))
            .map(|a| Event {
                user: a.user_id.0 as u64,
                item: a.offer_id.0 as u64,
                at: a.at,
                kind: a.kind,
                weight: 1.0,
            })
            .collect::<Vec<_>>();
        let today = events
            .last()
            .and_then(|e| chrono::DateTime::from_timestamp(e.at, 0))
            .map(|d| d.date_naive())
            .unwrap_or_else(|| chrono::Utc::now().date_naive());
        let mut homes = HashMap::new();
        let mut cohorts = HashMap::new();
        for c in store.cohorts().await? {
            if let Ok(home) = Coordinates::new(c.lat, c.lon) {
                homes.insert(c.user_id.0 as u64, home);
            }
            cohorts.insert(
                c.user_id.0 as u64,
                cohort_keys(&c.birth_date, &c.department, today),
            );
        }
        Ok(Dataset {
            items,
            events,
            homes,
            cohorts,
        })
    }

    /// An external dataset: `interactions` is a CSV of `user_id,item_id,timestamp[,rating]`
    /// (timestamps in unix seconds or as `YYYY-MM-DD[THH:MM:SSZ]`), `items` a CSV of
    /// `item_id,categories` with categories separated by `|`. Both have a header row.
    /// Interactions on items missing from `items` are left out.
    pub fn from_csv(interactions: &Path, items: &Path) -> Result<Dataset, EngineError> {
        let bad = |what: &Path, line: u64, e: String| {
            EngineError::BadInput(format!("{}: line {line}: {e}", what.display()))
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(items)
            .map_err(|e| EngineError::BadInput(format!("{}: {e}", items.display())))?;
        let mut out_items = Vec::new();
        for (n, row) in reader.records().enumerate() {
            let line = n as u64 + 2;
            let row = row.map_err(|e| bad(items, line, e.to_string()))?;
            let id: u64 = row
                .get(0)
                .unwrap_or("")
                .parse()
                .map_err(|e| bad(items, line, format!("item_id: {e}")))?;
            let categories = row.get(1).unwrap_or("").trim();
            let first = categories.split('|').next().unwrap_or("").trim();
            if first.is_empty() {
                return Err(bad(items, line, "no category".into()));
            }
            out_items.push(Item {
                id,
                category: first.to_string(),
                subcategory: categories.to_string(),
                venue_id: None,
                location: None,
                price_cents: 0,
            });
        }
        let known: std::collections::HashSet<u64> = out_items.iter().map(|i| i.id).collect();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(interactions)
            .map_err(|e| EngineError::BadInput(format!("{}: {e}", interactions.display())))?;
        let mut rows = Vec::new();
        for (n, row) in reader.records().enumerate() {
            let line = n as u64 + 2;
            let row = row.map_err(|e| bad(interactions, line, e.to_string()))?;
            let field = |i: usize, name: &str| {
                row.get(i)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| bad(interactions, line, format!("missing {name}")))
            };
            let user: u64 = field(0, "user_id")?
                .parse()
                .map_err(|e| bad(interactions, line, format!("user_id: {e}")))?;
            let item: u64 = field(1, "item_id")?
                .parse()
                .map_err(|e| bad(interactions, line, format!("item_id: {e}")))?;
            let at = parse_timestamp(field(2, "timestamp")?).ok_or_else(|| {
                bad(
                    interactions,
                    line,
                    "timestamp: not unix seconds nor a date".into(),
                )
            })?;
            let rating = match row.get(3).filter(|s| !s.is_empty()) {
                Some(r) => Some(
                    r.parse::<f32>()
                        .map_err(|e| bad(interactions, line, format!("rating: {e}")))?,
                ),
                None => None,
            };
            if known.contains(&item) {
                rows.push((user, item, at, rating));
            }
        }
        let top = rows
            .iter()
            .filter_map(|r| r.3)
            .fold(0f32, f32::max)
            .max(f32::EPSILON);
        let mut events: Vec<Event> = rows
            .into_iter()
            .map(|(user, item, at, rating)| Event {
                user,
                item,
                at,
                kind: "booking".into(),
                weight: rating.map_or(1.0, |r| (r / top).max(0.0)),
            })
            .collect();
        events.sort_by_key(|e| (e.at, e.user, e.item));
        Ok(Dataset {
            items: out_items,
            events,
            ..Dataset::default()
        })
    }
}

/// Unix seconds, an RFC 3339 instant, or a day (`YYYY-MM-DD`, at midnight UTC).
fn parse_timestamp(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<i64>() {
        return Some(t);
    }
    if let Ok(t) = s.parse::<f64>() {
        return Some(t as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp());
    }
    s.parse::<chrono::NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn timestamps_in_three_spellings() {
        assert_eq!(parse_timestamp("86400"), Some(86_400));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400));
        assert_eq!(parse_timestamp("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
