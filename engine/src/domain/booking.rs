use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::ids::{BookingId, DepositId, OfferId, StockId, UserId};
use crate::money::Cents;

/// Where a booking stands. Confirmed bookings hold places and credit; cancelled ones hold neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    Confirmed,
    Used,
    Cancelled,
}

impl BookingStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Confirmed => "confirmed",
            BookingStatus::Used => "used",
            BookingStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "confirmed" => Some(BookingStatus::Confirmed),
            "used" => Some(BookingStatus::Used),
            "cancelled" => Some(BookingStatus::Cancelled),
            _ => None,
        }
    }
}

/// A booking of one stock by one user, for one or two places (duo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booking {
    pub id: BookingId,
    pub user_id: UserId,
    pub stock_id: StockId,
    pub offer_id: OfferId,
    /// The deposit debited; `None` for free offers.
    pub deposit_id: Option<DepositId>,
    pub quantity: i64,
    pub amount: Cents,
    pub status: BookingStatus,
    /// Short code checked at the door.
    pub token: String,
    pub created_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
    pub used_at: Option<Timestamp>,
}
