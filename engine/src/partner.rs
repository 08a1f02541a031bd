//! What partners do to their catalogue, with the rules checked before the store writes:
//! create an offer with several stock lines, duplicate one, change a stock's quantity.
//!
//! The store's partner queries scope every read to the offerer; here the writes are
//! checked too (the venue must be the offerer's, the subcategory must exist, a dated
//! subcategory needs dated stocks), so that a bad body is a 400, never a half-made offer.

use crate::domain::Timestamp;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{OfferId, OffererId, StockId};
use crate::store::{NewOffer, NewStock};
use crate::taxonomy::OfferKind;

/// Stock lines one offer may have: a festival's slots fit, a runaway script does not.
pub const MAX_STOCKS: usize = 100;
/// Highest price of a stock line, in cents (the largest deposit is 500 €).
pub const MAX_PRICE_CENTS: i64 = 50_000;
/// Most places a stock line may have (a stadium), `None` being unlimited.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 140;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;

fn bad(detail: impl Into<String>) -> EngineError {
    EngineError::BadInput(detail.into())
}

/// Checks a stock quantity: `None` (unlimited) or 0 to [`MAX_QUANTITY`].
pub fn check_quantity(quantity: Option<i64>) -> Result<(), EngineError> {
    match quantity {
        Some(q) if !(0..=MAX_QUANTITY).contains(&q) => Err(bad(format!(
            "quantity must be within [0, {MAX_QUANTITY}] or null for unlimited"
        ))),
        _ => Ok(()),
    }
}

fn check_stock(i: usize, s: &NewStock, kind: OfferKind) -> Result<(), EngineError> {
    if !(0..=MAX_PRICE_CENTS).contains(&s.price_cents) {
        return Err(bad(format!(
            "stocks[{i}].price_cents must be within [0, {MAX_PRICE_CENTS}]"
        )));
    }
    check_quantity(s.quantity).map_err(|e| bad(format!("stocks[{i}].{e}")))?;
    match (kind, s.beginning_at) {
        (OfferKind::Event, None) => {
            return Err(bad(format!(
                "stocks[{i}].beginning_at is required: this subcategory is an event"
            )))
        }
        (OfferKind::Thing, Some(_)) => {
            return Err(bad(format!(
                "stocks[{i}].beginning_at must be absent: this subcategory is not an event"
            )))
        }
        _ => {}
    }
    if let (Some(limit), Some(start)) = (s.booking_limit_at, s.beginning_at) {
        if limit > start {
            return Err(bad(format!(
                "stocks[{i}].booking_limit_at must not be after beginning_at"
            )));
        }
    }
    for (name, at) in [
        ("beginning_at", s.beginning_at),
        ("booking_limit_at", s.booking_limit_at),
    ] {
        // Unix seconds between 2000 and 2100: anything else is a unit mistake (ms).
        if at.is_some_and(|t| !(946_684_800..=4_102_444_800).contains(&t)) {
            return Err(bad(format!(
                "stocks[{i}].{name} must be unix seconds between 2000 and 2100"
            )));
        }
    }
    Ok(())
}

impl Engine {
    /// Checks `offer` against the taxonomy and the offerer's venues, then creates it with
    /// its stock lines; the index picks it up at its next refresh.
    pub async fn create_offer(
        &self,
        offerer: OffererId,
        offer: &NewOffer,
        now: Timestamp,
    ) -> Result<OfferId, EngineError> {
        let title = offer.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(bad(format!(
                "title must have 1 to {MAX_TITLE_CHARS} characters"
            )));
        }
        if offer.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(bad(format!(
                "description must have at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        let sub = self
            .taxonomy
            .subcategory(&offer.subcategory)
            .filter(|s| !s.internal)
            .ok_or_else(|| bad(format!("unknown subcategory {:?}", offer.subcategory)))?;
        match (offer.venue_id, &offer.url) {
            (Some(_), Some(_)) => return Err(bad("give a venue_id or a url, not both")),
            (None, None) => {
                return Err(bad(
                    "a physical offer needs a venue_id, a digital one a url",
                ))
            }
            (None, Some(url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return Err(bad("url must be an http(s) URL"))
            }
            _ => {}
        }
        if sub.online != offer.url.is_some() {
            return Err(bad(format!(
                "subcategory {} is {}: it needs {}",
                sub.id,
                if sub.online { "digital" } else { "physical" },
                if sub.online { "a url" } else { "a venue_id" }
            )));
        }
        if let Some(v) = offer.venue_id {
            // Another offerer's venue reads as absent, like every partner read.
            self.store
                .venue(v)
                .await?
                .filter(|venue| venue.offerer_id == offerer)
                .ok_or(EngineError::NotFound {
                    what: "venue",
                    id: v.0,
                })?;
        }
        if offer.is_duo && sub.kind != OfferKind::Event {
            return Err(bad("only events may be duo"));
        }
        if offer.stocks.is_empty() || offer.stocks.len() > MAX_STOCKS {
            return Err(bad(format!("an offer needs 1 to {MAX_STOCKS} stock lines")));
        }
        for (i, s) in offer.stocks.iter().enumerate() {
            check_stock(i, s, sub.kind)?;
        }
        let offer = NewOffer {
            title: title.to_owned(),
            ..offer.clone()
        };
        self.store.create_offer(offerer, &offer, now).await
    }

    /// Copies one of the offerer's offers and its live stock lines (prices, quantities,
    /// dates; none of their bookings) into a new offer.
    pub async fn duplicate_offer(
        &self,
        offerer: OffererId,
        id: OfferId,
        now: Timestamp,
    ) -> Result<OfferId, EngineError> {
        let record = self
            .store
            .partner_offer(offerer, id)
            .await?
            .ok_or(EngineError::NotFound {
                what: "offer",
                id: id.0,
            })?;
        let o = record.offer;
        let copy = NewOffer {
            venue_id: o.venue_id,
            title: o.title,
            description: o.description,
            subcategory: o.subcategory,
            artist: o.artist,
            url: o.url,
            is_duo: o.is_duo,
            stocks: record
                .stocks
                .iter()
                .map(|s| NewStock {
                    price_cents: s.price.0,
                    quantity: s.quantity,
                    beginning_at: s.beginning_at,
                    booking_limit_at: s.booking_limit_at,
                })
                .collect(),
        };
        // Written as is, without create_offer's checks: a copy of a valid offer is valid,
        // and a seeded offer whose dates have passed may still be copied and re-dated.
        self.store.create_offer(offerer, &copy, now).await
    }

    /// Sets a stock line's places (`None`: unlimited); the next booking attempt sees it.
    pub async fn set_stock_quantity(
        &self,
        offerer: OffererId,
        stock: StockId,
        quantity: Option<i64>,
        now: Timestamp,
    ) -> Result<OfferId, EngineError> {
        check_quantity(quantity)?;
        self.store
            .set_stock_quantity(offerer, stock, quantity, now)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stock(beginning_at: Option<Timestamp>) -> NewStock {
        NewStock {
            price_cents: 1_000,
            quantity: Some(10),
            beginning_at,
            booking_limit_at: None,
        }
    }

    #[test]
    fn stock_lines_are_checked_against_the_kind_of_offer() {
        let start = 1_900_000_000;
        assert!(check_stock(0, &stock(Some(start)), OfferKind::Event).is_ok());
        assert!(check_stock(0, &stock(None), OfferKind::Event).is_err());
        assert!(check_stock(0, &stock(Some(start)), OfferKind::Thing).is_err());
        let ms = NewStock {
            beginning_at: Some(start * 1000),
            ..stock(None)
        };
        assert!(check_stock(0, &ms, OfferKind::Event).is_err());
        let late = NewStock {
            booking_limit_at: Some(start + 1),
            ..stock(Some(start))
        };
        assert!(check_stock(0, &late, OfferKind::Event).is_err());
        let dear = NewStock {
            price_cents: MAX_PRICE_CENTS + 1,
            ..stock(None)
        };
        assert!(check_stock(0, &dear, OfferKind::Thing).is_err());
        assert!(check_quantity(Some(-1)).is_err());
        assert!(check_quantity(None).is_ok());
    }
}
