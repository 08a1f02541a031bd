//! Turning store records into index documents.

use indexer::OfferDoc;

use crate::domain::Timestamp;
use crate::store::OfferRecord;
use crate::taxonomy::{OfferKind, Taxonomy};

/// The index document of an offer as it stands at `now`: price, date and sold-out
/// state come from the stocks still bookable then.
pub fn offer_doc(record: &OfferRecord, taxonomy: &Taxonomy, now: Timestamp) -> OfferDoc {
    let offer = &record.offer;
    let sub = taxonomy.subcategory(&offer.subcategory);
    let bookable: Vec<_> = record
        .stocks
        .iter()
        .filter(|s| s.is_bookable(now, 1))
        .collect();
    let priced = if bookable.is_empty() {
        record.stocks.iter().collect()
    } else {
        bookable.clone()
    };
    OfferDoc {
        id: offer.id.0 as u64,
        title: offer.title.clone(),
        description: offer.description.clone(),
        venue_name: record.venue.as_ref().map(|v| v.name.clone()),
        artist: offer.artist.clone(),
        category: sub.map_or_else(String::new, |s| s.category.clone()),
        subcategory: offer.subcategory.clone(),
        subcategory_label: sub.map_or_else(String::new, |s| s.label.clone()),
        venue_id: record.venue.as_ref().map(|v| v.id.0 as u64),
        offerer_id: offer.offerer_id.0 as u64,
        location: record.venue.as_ref().map(|v| v.location),
        price_cents: priced
            .iter()
            .map(|s| s.price.0.max(0) as u64)
            .min()
            .unwrap_or(0),
        is_duo: offer.is_duo,
        is_event: sub.is_some_and(|s| s.kind == OfferKind::Event),
        next_beginning_at: bookable.iter().filter_map(|s| s.beginning_at).min(),
        sold_out: bookable.is_empty(),
        popularity: record.bookings.max(0) as u64,
        remaining_places: bookable
            .iter()
            .map(|s| s.remaining().map(|n| n as u64))
            .sum(),
    }
}
