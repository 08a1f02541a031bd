//! Push campaigns: a partner asks for one of its offers to be pushed; the engine checks
//! the 50-place rule, picks an audience in batch and hands it to a push provider.
//!
//! - [`request`] applies the rules of a request (places left, an upcoming date, no campaign
//!   already running) and records it.
//! - [`audience`] picks who is notified: opted in, of eligible age, with credit for the
//!   price, near the venue (anywhere for digital offers), not holding a booking of it, not
//!   notified in the last days; ranked by interest from their profile, with a share of
//!   the audience kept for users to whom the category is new.
//! - [`delivery`] writes the payload file and sends the audience through a [`PushSink`]
//!   in batches, with retries and idempotency keys; a crash or a re-run resumes from the
//!   deliveries still pending and never notifies anyone twice.
//!
//! [`run`] does all of it for every campaign with work left: what `mosaic campaigns run` calls.

pub mod audience;
pub mod delivery;

use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

use crate::domain::{Stock, Timestamp};
use crate::error::EngineError;
use crate::ids::{CampaignId, OfferId, OffererId, UserId};
use crate::money::Cents;
use crate::store::Store;

pub use audience::{pick_audience, AudienceReport, Target};
pub use delivery::{run, CampaignRun, JsonlSink, PushMessage, PushSink, SinkError, WebhookSink};

/// The rule of the real service: only an offer with at least this many places left may be pushed.
pub const MIN_PLACES: i64 = 50;

/// Every knob of campaigns; defaults are documented per field.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignConfig {
    /// Places an offer must have left to be pushed (default [`MIN_PLACES`]).
    pub min_places: i64,
    /// Users living farther from the venue are not notified (default 30 km, the feed's radius).
    pub radius_km: f64,
    /// Youngest and oldest age notified (default 15 and 20: credit is granted from 15 and
    /// ends at the 21st birthday).
    pub ages: (i32, i32),
    /// A user is notified at most once per this many days, across campaigns (default 3).
    pub frequency_cap_days: i64,
    /// The audience is at most this multiple of the places left (default 3).
    pub audience_multiple: f64,
    /// The audience of an offer with unlimited places is at most this (default 5,000).
    pub max_audience: usize,
    /// Share of the audience kept for users who never booked the offer's category, when
    /// there are enough of them (default 0.3).
    pub new_to_category_share: f64,
    /// No push goes out between these local hours, `[start, end)` wrapping midnight
    /// (default 21 h to 8 h); `None` sends at any hour.
    pub quiet_hours: Option<(u32, u32)>,
    /// Local time is UTC plus this many hours, for quiet hours (default 1, Paris in winter).
    pub utc_offset_hours: i64,
    /// Messages per request to the push provider (default 500).
    pub batch_size: usize,
    /// Tries per batch before the run gives up on it and leaves it for the next run (default 4).
    pub max_attempts: u32,
    /// Wait before the first retry, doubled at each further one (default 500 ms).
    pub backoff_ms: u64,
    /// Bookings of the offer by a notified user within this many days count for the campaign (default 7).
    pub attribution_days: i64,
    /// Where the payload file of each campaign is written (default `data/campaigns`).
    pub out_dir: PathBuf,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            min_places: MIN_PLACES,
            radius_km: 30.0,
            ages: (15, 20),
            frequency_cap_days: 3,
            audience_multiple: 3.0,
            max_audience: 5_000,
            new_to_category_share: 0.3,
            quiet_hours: Some((21, 8)),
            utc_offset_hours: 1,
            batch_size: 500,
            max_attempts: 4,
            backoff_ms: 500,
            attribution_days: 7,
            out_dir: PathBuf::from("data/campaigns"),
        }
    }
}

impl CampaignConfig {
    /// Whether `now` falls in the quiet hours.
    pub fn is_quiet(&self, now: Timestamp) -> bool {
        let Some((start, end)) = self.quiet_hours else {
            return false;
        };
        let hour = ((now + self.utc_offset_hours * 3_600).rem_euclid(86_400) / 3_600) as u32;
        if start <= end {
            (start..end).contains(&hour)
        } else {
            hour >= start || hour < end
        }
    }
}

/// Where a campaign stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Asked by the partner; no audience yet.
    Requested,
    /// The audience is written; nothing sent yet.
    Targeted,
    /// Some batches went out; the rest will follow (or resume after a failure).
    Sending,
    /// Every targeted user was notified.
    Sent,
    /// Stopped before the end: the offer sold out or closed (see the reason).
    Stopped,
}

impl CampaignStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Requested => "requested",
            CampaignStatus::Targeted => "targeted",
            CampaignStatus::Sending => "sending",
            CampaignStatus::Sent => "sent",
            CampaignStatus::Stopped => "stopped",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => CampaignStatus::Requested,
            "targeted" => CampaignStatus::Targeted,
            "sending" => CampaignStatus::Sending,
            "sent" => CampaignStatus::Sent,
            "stopped" => CampaignStatus::Stopped,
            _ => return None,
        })
    }

    /// Whether nothing more will happen to the campaign.
    pub fn is_final(self) -> bool {
        matches!(self, CampaignStatus::Sent | CampaignStatus::Stopped)
    }
}

/// A push campaign for one offer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: CampaignId,
    pub offer_id: OfferId,
    pub offerer_id: OffererId,
    pub status: CampaignStatus,
    /// Why it stopped early (`sold_out`, `closed`).
    pub stop_reason: Option<String>,
    pub requested_at: Timestamp,
    pub targeted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
}

/// A campaign's numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CampaignCounts {
    /// Users in the audience.
    pub targeted: i64,
    /// Users the push provider accepted a message for.
    pub sent: i64,
    /// Users still pending after a failed attempt (the next run retries them).
    pub failed: i64,
    /// Users not notified because the campaign stopped.
    pub skipped: i64,
    /// Users in the audience who never booked the offer's category.
    pub new_to_category: i64,
    /// Bookings of the offer by notified users within the attribution window.
    pub bookings_attributed: i64,
}

/// Why a campaign request was refused. Each has a stable code.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CampaignRefusal {
    /// Fewer places left than the rule asks.
    #[error("a campaign needs at least {min} places left; this offer has {remaining}")]
    NotEnoughPlaces { remaining: i64, min: i64 },
    /// No stock can be booked any more (past dates, closed bookings, deleted stocks).
    #[error("this offer has no date or stock that can still be booked")]
    NotBookable,
    /// The offer is deactivated.
    #[error("this offer is not active")]
    Inactive,
    /// A campaign for this offer is running, or ended less than the attribution window ago.
    #[error("this offer already has a campaign running or just finished")]
    AlreadyActive,
}

impl CampaignRefusal {
    /// The stable machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            CampaignRefusal::NotEnoughPlaces { .. } => "not_enough_places",
            CampaignRefusal::NotBookable => "offer_not_bookable",
            CampaignRefusal::Inactive => "offer_unavailable",
            CampaignRefusal::AlreadyActive => "campaign_already_active",
        }
    }
}

/// What an offer's stocks allow now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// Places left over the stocks that can still be booked; `None` when one is unlimited.
    pub remaining: Option<i64>,
    /// The cheapest price among them; `None` when none can be booked.
    pub cheapest: Option<Cents>,
}

impl Availability {
    /// Reads the stocks at `now`.
    pub fn of(stocks: &[Stock], now: Timestamp) -> Availability {
        let open: Vec<&Stock> = stocks.iter().filter(|s| s.is_bookable(now, 1)).collect();
        Availability {
            remaining: open
                .iter()
                .try_fold(0i64, |sum, s| s.remaining().map(|r| sum + r)),
            cheapest: open.iter().map(|s| s.price).min(),
        }
    }

    /// Whether at least `min` places are left (unlimited counts as enough).
    pub fn has_places(&self, min: i64) -> bool {
        self.cheapest.is_some() && self.remaining.is_none_or(|r| r >= min)
    }
}

/// The key sent with a user's message: the push provider drops a message whose key it
/// has already seen, so a resend after a crash notifies no one twice.
pub fn idempotency_key(campaign: CampaignId, user: UserId) -> String {
    format!("mosaic-campaign-{}-user-{}", campaign.0, user.0)
}

/// Records a partner's request for a campaign on `offer` if the rules allow it: the offer
/// is the partner's (else 404, as for an unknown offer), active, has a date or stock that
/// can still be booked and at least `config.min_places` places left, and has no campaign
/// running or finished within the attribution window.
pub async fn request(
    store: &Store,
    offerer: Option<OffererId>,
    offer: OfferId,
    config: &CampaignConfig,
    now: Timestamp,
) -> Result<Campaign, EngineError> {
    let not_found = EngineError::NotFound {
        what: "offer",
        id: offer.0,
    };
    let record = store.offer_record(offer).await?.ok_or(not_found)?;
    if offerer.is_some_and(|o| o != record.offer.offerer_id) {
        return Err(EngineError::NotFound {
            what: "offer",
            id: offer.0,
        });
    }
    if !record.offer.is_active {
        return Err(CampaignRefusal::Inactive.into());
    }
    let availability = Availability::of(&record.stocks, now);
    if availability.cheapest.is_none() {
        return Err(CampaignRefusal::NotBookable.into());
    }
    if let Some(remaining) = availability.remaining.filter(|r| *r < config.min_places) {
        return Err(CampaignRefusal::NotEnoughPlaces {
            remaining,
            min: config.min_places,
        }
        .into());
    }
    let id = store
        .insert_campaign(
            offer,
            record.offer.offerer_id,
            now,
            now - config.attribution_days * 86_400,
        )
        .await?;
    store.campaign(id).await?.ok_or(EngineError::NotFound {
        what: "campaign",
        id: id.0,
    })
}

/// A campaign with its numbers, as partners and `mosaic campaigns status` see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: Campaign,
    #[serde(flatten)]
    pub counts: CampaignCounts,
}

/// The campaigns of `offerer` (all when `None`) with their numbers.
pub async fn views(
    store: &Store,
    offerer: Option<OffererId>,
    config: &CampaignConfig,
) -> Result<Vec<CampaignView>, EngineError> {
    let mut out = Vec::new();
    for campaign in store.campaigns(offerer).await? {
        let counts = store
            .campaign_counts(campaign.id, config.attribution_days * 86_400)
            .await?;
        out.push(CampaignView { campaign, counts });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_wrap_midnight_in_local_time() {
        let c = CampaignConfig::default();
        // 2026-12-01 19:30 UTC is 20:30 in Paris: not quiet; 20:30 UTC is 21:30: quiet.
        let day = 1_796_083_200; // 2026-12-01T00:00:00Z
        assert!(!c.is_quiet(day + 19 * 3_600 + 1_800));
        assert!(c.is_quiet(day + 20 * 3_600 + 1_800));
        // 06:30 UTC is 07:30 local: quiet; 07:00 UTC is 08:00: not.
        assert!(c.is_quiet(day + 6 * 3_600 + 1_800));
        assert!(!c.is_quiet(day + 7 * 3_600));
        let always = CampaignConfig {
            quiet_hours: None,
            ..CampaignConfig::default()
        };
        assert!(!always.is_quiet(day + 23 * 3_600));
    }

    #[test]
    fn availability_sums_open_stocks_and_unlimited_wins() {
        let stock = |id, quantity, booked, limit| Stock {
            id: crate::ids::StockId(id),
            offer_id: OfferId(1),
            price: Cents(1_000 + id),
            quantity,
            booked,
            beginning_at: None,
            booking_limit_at: limit,
        };
        let now = 1_000;
        let a = Availability::of(
            &[
                stock(1, Some(40), 10, None),
                stock(2, Some(30), 0, None),
                stock(3, Some(100), 0, Some(now - 1)),
            ],
            now,
        );
        assert_eq!(a.remaining, Some(60));
        assert_eq!(a.cheapest, Some(Cents(1_001)));
        assert!(a.has_places(50) && !a.has_places(61));
        let unlimited = Availability::of(&[stock(1, None, 5, None)], now);
        assert_eq!(unlimited.remaining, None);
        assert!(unlimited.has_places(50));
        let closed = Availability::of(&[stock(3, Some(100), 0, Some(now - 1))], now);
        assert!(!closed.has_places(1));
    }
}
