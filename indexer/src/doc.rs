//! The offer as the index sees it, and its mapping to tantivy documents.

use tantivy::schema::Value;
use tantivy::TantivyDocument;

use crate::cover::cells_of;
use crate::schema::Fields;
use crate::{GeoPoint, IndexError};

/// What the index knows of an offer (one tantivy document per offer).
#[derive(Debug, Clone, PartialEq)]
pub struct OfferDoc {
    /// Offer id, unique in the index (upserts replace by id).
    pub id: u64,
    /// Offer title, searched with the highest boost.
    pub title: String,
    /// Free-text description.
    pub description: String,
    /// Name of the venue, searchable.
    pub venue_name: Option<String>,
    /// Performer, author or director, searchable.
    pub artist: Option<String>,
    /// Category code, e.g. `"CINEMA"`; exact-match filter and facet.
    pub category: String,
    /// Subcategory code, e.g. `"SEANCE_CINE"`; exact-match filter.
    pub subcategory: String,
    /// French label of the subcategory, searchable text.
    pub subcategory_label: String,
    /// Venue id, if the offer has a venue.
    pub venue_id: Option<u64>,
    /// Offerer (the structure selling the offer).
    pub offerer_id: u64,
    /// Where the offer takes place; `None` for digital offers, which are
    /// available nationwide.
    pub location: Option<GeoPoint>,
    /// Lowest price among bookable stocks, in euro cents.
    pub price_cents: u64,
    /// Whether a young person can book two places.
    pub is_duo: bool,
    /// Whether the offer is an event (has dates).
    pub is_event: bool,
    /// Unix seconds of the next bookable event date.
    pub next_beginning_at: Option<i64>,
    /// No bookable stock with places left.
    pub sold_out: bool,
    /// Bookings count, for ranking.
    pub popularity: u64,
    /// Places left over the bookable stocks; `None` when one of them is unlimited.
    pub remaining_places: Option<u64>,
}

impl OfferDoc {
    pub(crate) fn to_document(&self, f: &Fields) -> TantivyDocument {
        let mut d = TantivyDocument::new();
        d.add_u64(f.id, self.id);
        d.add_text(f.title, &self.title);
        d.add_text(f.description, &self.description);
        if let Some(v) = &self.venue_name {
            d.add_text(f.venue_name, v);
        }
        if let Some(a) = &self.artist {
            d.add_text(f.artist, a);
        }
        d.add_text(f.category, &self.category);
        d.add_text(f.subcategory, &self.subcategory);
        d.add_text(f.subcategory_label, &self.subcategory_label);
        if let Some(v) = self.venue_id {
            d.add_u64(f.venue_id, v);
        }
        d.add_u64(f.offerer_id, self.offerer_id);
        match self.location {
            Some(p) => {
                d.add_f64(f.lat, p.lat());
                d.add_f64(f.lon, p.lon());
                for cell in cells_of(p) {
                    d.add_u64(f.h3, cell);
                }
                d.add_bool(f.digital, false);
            }
            None => d.add_bool(f.digital, true),
        }
        d.add_u64(f.price, self.price_cents);
        d.add_bool(f.duo, self.is_duo);
        d.add_bool(f.event, self.is_event);
        if let Some(t) = self.next_beginning_at {
            d.add_i64(f.begins, t);
        }
        d.add_bool(f.sold_out, self.sold_out);
        d.add_u64(f.popularity, self.popularity);
        if let Some(n) = self.remaining_places {
            d.add_u64(f.remaining, n);
        }
        d
    }

    pub(crate) fn from_document(d: &TantivyDocument, f: &Fields) -> Result<Self, IndexError> {
        let missing =
            |name: &str| IndexError::CorruptDocument(format!("field {name} missing or mistyped"));
        let text = |field| {
            d.get_first(field)
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let u64_of = |field| d.get_first(field).and_then(|v| v.as_u64());
        let bool_of = |field, name| {
            d.get_first(field)
                .and_then(|v| v.as_bool())
                .ok_or_else(|| missing(name))
        };
        let location = match (
            d.get_first(f.lat).and_then(|v| v.as_f64()),
            d.get_first(f.lon).and_then(|v| v.as_f64()),
        ) {
            (Some(lat), Some(lon)) => Some(
                GeoPoint::new(lat, lon).map_err(|e| IndexError::CorruptDocument(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(OfferDoc {
            id: u64_of(f.id).ok_or_else(|| missing("id"))?,
            title: text(f.title).ok_or_else(|| missing("title"))?,
            description: text(f.description).ok_or_else(|| missing("description"))?,
            venue_name: text(f.venue_name),
            artist: text(f.artist),
            category: text(f.category).ok_or_else(|| missing("category"))?,
            subcategory: text(f.subcategory).ok_or_else(|| missing("subcategory"))?,
            subcategory_label: text(f.subcategory_label)
                .ok_or_else(|| missing("subcategory_label"))?,
            venue_id: u64_of(f.venue_id),
            offerer_id: u64_of(f.offerer_id).ok_or_else(|| missing("offerer_id"))?,
            location,
            price_cents: u64_of(f.price).ok_or_else(|| missing("price_cents"))?,
            is_duo: bool_of(f.duo, "is_duo")?,
            is_event: bool_of(f.event, "is_event")?,
            next_beginning_at: d.get_first(f.begins).and_then(|v| v.as_i64()),
            sold_out: bool_of(f.sold_out, "sold_out")?,
            popularity: u64_of(f.popularity).ok_or_else(|| missing("popularity"))?,
            remaining_places: u64_of(f.remaining),
        })
    }
}
