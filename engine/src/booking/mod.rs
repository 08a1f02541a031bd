//! Booking rules: why a booking is refused, and the token checked at the door.
//!
//! The transaction that applies them lives in the store (`store/bookings.rs`), where
//! guarded `UPDATE`s make overselling and overspending impossible under concurrency.

mod cancellation;
mod token;

use thiserror::Error;

pub use cancellation::{user_cancellation_limit, user_may_cancel, CANCELLATION_DELAY_S};
pub use token::token_for;

use crate::domain::Timestamp;
use crate::ids::{StockId, UserId};

/// A request to book `quantity` places of a stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingRequest {
    pub user_id: UserId,
    pub stock_id: StockId,
    /// 1, or 2 for a duo.
    pub quantity: i64,
    pub now: Timestamp,
}

/// Why a booking was refused. Each has a stable code the app can switch on.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No places left for the quantity asked.
    #[error("no places left for this stock")]
    SoldOut,
    /// The price exceeds the credit left (or there is no credit).
    #[error("the price exceeds the credit left")]
    InsufficientCredit,
    /// The price would exceed the deposit's cap on digital offers or physical goods.
    #[error("the price exceeds the cap on this kind of offer")]
    CapExceeded,
    /// The booking limit date has passed or the event has started.
    #[error("bookings for this stock are closed")]
    BookingClosed,
    /// The user already has a booking of this offer that is not cancelled.
    #[error("you already booked this offer")]
    DuplicateBooking,
    /// Two places were asked of an offer that does not allow duo.
    #[error("this offer cannot be booked for two")]
    DuoNotAllowed,
    /// The quantity is neither 1 nor 2.
    #[error("quantity must be 1 or 2")]
    InvalidQuantity,
    /// The offer is deactivated or the stock deleted.
    #[error("this offer is not available")]
    OfferUnavailable,
    /// The user's cancellation window (48 h after booking, 48 h before the event) has closed.
    #[error("this booking can no longer be cancelled by you")]
    CancellationClosed,
    /// The booking was already cancelled.
    #[error("this booking is already cancelled")]
    AlreadyCancelled,
    /// The booking was already validated at the venue.
    #[error("this booking was already used")]
    AlreadyUsed,
}

impl Refusal {
    /// Every refusal, for looking codes up.
    pub const ALL: [Refusal; 11] = [
        Refusal::SoldOut,
        Refusal::InsufficientCredit,
        Refusal::CapExceeded,
        Refusal::BookingClosed,
        Refusal::DuplicateBooking,
        Refusal::DuoNotAllowed,
        Refusal::InvalidQuantity,
        Refusal::OfferUnavailable,
        Refusal::CancellationClosed,
        Refusal::AlreadyCancelled,
        Refusal::AlreadyUsed,
    ];

    /// The refusal with this code.
    pub fn from_code(code: &str) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The stable, machine-readable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::SoldOut => "sold_out",
            Refusal::InsufficientCredit => "insufficient_credit",
            Refusal::CapExceeded => "cap_exceeded",
            Refusal::BookingClosed => "booking_closed",
            Refusal::DuplicateBooking => "duplicate_booking",
            Refusal::DuoNotAllowed => "duo_not_allowed",
            Refusal::InvalidQuantity => "invalid_quantity",
            Refusal::OfferUnavailable => "offer_unavailable",
            Refusal::CancellationClosed => "cancellation_closed",
            Refusal::AlreadyCancelled => "already_cancelled",
            Refusal::AlreadyUsed => "already_used",
        }
    }
}

/// Who cancels a booking, which decides what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canceller {
    /// The young person, within the cancellation window, on their own booking.
    User(crate::ids::UserId),
    /// The partner, at any time, on a booking of one of its offers.
    Partner(crate::ids::OffererId),
    /// Mosaic itself (expiry of uncollected goods), with the stored reason.
    System(&'static str),
}

impl Canceller {
    /// The stored `cancel_reason`.
    pub fn reason(self) -> &'static str {
        match self {
            Canceller::User(_) => "beneficiary",
            Canceller::Partner(_) => "offerer",
            Canceller::System(reason) => reason,
        }
    }
}

/// How much of a price counts toward the digital and the physical caps of a deposit.
pub(crate) fn cap_shares(
    subcategory: &str,
    is_digital: bool,
    amount: crate::money::Cents,
) -> (crate::money::Cents, crate::money::Cents) {
    use crate::money::Cents;
    let flags = crate::taxonomy::Taxonomy::shipped().subcategory(subcategory);
    let digital = if is_digital && flags.is_some_and(|f| f.digital_capped) {
        amount
    } else {
        Cents::ZERO
    };
    let physical = if flags.is_some_and(|f| f.physical_good) {
        amount
    } else {
        Cents::ZERO
    };
    (digital, physical)
}

/// A good collected in person, which the booking lifecycle cancels and refunds when
/// nobody comes for it in time. Stored with the booking (its `collect` column) so that
/// the lifecycle reads, through a partial index, only the confirmed bookings of goods,
/// never the whole history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collect {
    /// A paper book: the shorter delay.
    PaperBook,
    /// Any other good (records, instruments, art supplies…).
    Good,
}

impl Collect {
    /// What a booking of a stock of this subcategory, starting at `beginning_at` for an
    /// event, must be collected as: `None` for events, digital offers and passes.
    pub fn of(subcategory: &str, beginning_at: Option<Timestamp>) -> Option<Collect> {
        if beginning_at.is_some() {
            None
        } else if subcategory == "LIVRE_PAPIER" {
            Some(Collect::PaperBook)
        } else {
            crate::taxonomy::Taxonomy::shipped()
                .subcategory(subcategory)
                .is_some_and(|s| s.physical_good)
                .then_some(Collect::Good)
        }
    }

    /// The `collect` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Collect::PaperBook => "paper_book",
            Collect::Good => "good",
        }
    }
}

/// Checks what can be decided from the stock and offer alone, before touching credit.
pub(crate) fn check_stock(
    req: &BookingRequest,
    stock: &crate::domain::Stock,
    offer_is_duo: bool,
    offer_is_active: bool,
) -> Result<(), Refusal> {
    if !(1..=2).contains(&req.quantity) {
        return Err(Refusal::InvalidQuantity);
    }
    if !offer_is_active {
        return Err(Refusal::OfferUnavailable);
    }
    if req.quantity == 2 && !offer_is_duo {
        return Err(Refusal::DuoNotAllowed);
    }
    let closed = stock.booking_limit_at.is_some_and(|limit| req.now > limit)
        || stock.beginning_at.is_some_and(|start| req.now >= start);
    if closed {
        return Err(Refusal::BookingClosed);
    }
    if stock.remaining().is_some_and(|left| left < req.quantity) {
        return Err(Refusal::SoldOut);
    }
    Ok(())
}
