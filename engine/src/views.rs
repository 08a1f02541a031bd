//! What the engine answers, shaped as the API serialises it (see the README's contracts).

use serde::Serialize;

use crate::ids::{BookingId, OfferId, OffererId, StockId, UserId, VenueId};

/// A venue as shown next to an offer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VenueView {
    pub id: VenueId,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub offerer_id: OffererId,
}

/// Why an item is shown: a stable kind and a short French label.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    /// `near_you`, `because_you_booked`, `discover`, `curated`, `popular` or `search_match`.
    pub kind: &'static str,
    pub label: String,
}

/// One feed item or search hit (the same shape).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OfferCard {
    pub offer_id: OfferId,
    pub title: String,
    pub category: String,
    pub subcategory: String,
    /// `None` for digital offers.
    pub venue: Option<VenueView>,
    pub distance_m: Option<f64>,
    pub price_cents: i64,
    pub reason: ReasonView,
}

/// A page of a list, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Matches per category for a search.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Facet {
    pub category: String,
    pub label: String,
    pub count: u64,
}

/// A page of search hits with facets.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchPage {
    pub items: Vec<OfferCard>,
    pub next_cursor: Option<String>,
    pub total: usize,
    pub facets: Vec<Facet>,
}

/// A stock line as shown on the offer page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StockView {
    pub id: StockId,
    pub price_cents: i64,
    /// `None` means unlimited.
    pub remaining: Option<i64>,
    /// RFC 3339; `None` for things.
    pub beginning_at: Option<String>,
    pub booking_limit_at: Option<String>,
    pub bookable: bool,
}

/// The offer page.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OfferDetail {
    pub id: OfferId,
    pub title: String,
    pub description: String,
    pub category: String,
    pub subcategory: String,
    pub subcategory_label: String,
    pub artist: Option<String>,
    pub url: Option<String>,
    pub offerer_id: OffererId,
    pub venue: Option<VenueView>,
    pub distance_m: Option<f64>,
    pub is_duo: bool,
    pub is_digital: bool,
    pub stocks: Vec<StockView>,
}

/// The deposit a wallet spends from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DepositView {
    pub policy: String,
    pub amount_cents: i64,
    pub spent_cents: i64,
    pub expires_at: String,
    pub digital_cap_cents: Option<i64>,
    pub digital_remaining_cents: Option<i64>,
}

/// A user's spendable credit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WalletView {
    pub user_id: UserId,
    pub balance_cents: i64,
    pub deposit: Option<DepositView>,
}

/// A booking as answered to the app.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BookingView {
    pub id: BookingId,
    pub token: String,
    /// What the app encodes as a QR code for the door: the token, versioned.
    pub qr_payload: String,
    pub status: &'static str,
    pub amount_cents: i64,
    pub offer_id: OfferId,
    pub stock_id: StockId,
    pub quantity: i64,
    /// RFC 3339.
    pub created_at: String,
    pub cancelled_at: Option<String>,
    /// When it was validated at the door.
    pub used_at: Option<String>,
}

impl From<&crate::domain::Booking> for BookingView {
    fn from(b: &crate::domain::Booking) -> BookingView {
        BookingView {
            id: b.id,
            token: b.token.clone(),
            qr_payload: format!("MOSAIC:v1:{}", b.token),
            status: b.status.as_str(),
            amount_cents: b.amount.0,
            offer_id: b.offer_id,
            stock_id: b.stock_id,
            quantity: b.quantity,
            created_at: rfc3339(b.created_at),
            cancelled_at: b.cancelled_at.map(rfc3339),
            used_at: b.used_at.map(rfc3339),
        }
    }
}

/// Formats a unix timestamp as RFC 3339 UTC.
pub fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
