//! When a young person may still cancel a booking.
//!
//! Domain rule: "the offer is no longer cancellable by the young person 48 h after
//! booking and 48 h before the event". For an event the limit is the earlier of the
//! two instants (but never before the booking itself, so a last-minute booking is not
//! born uncancellable by arithmetic); a thing stays cancellable until it is collected.
//! The venue may cancel at any time.

use crate::domain::Timestamp;

/// 48 hours, in seconds.
pub const CANCELLATION_DELAY_S: i64 = 48 * 3_600;

/// The last instant at which the user may cancel, or `None` when there is none
/// (things, until used).
pub fn user_cancellation_limit(
    booked_at: Timestamp,
    event_start: Option<Timestamp>,
) -> Option<Timestamp> {
    event_start.map(|start| {
        let earliest = (booked_at + CANCELLATION_DELAY_S).min(start - CANCELLATION_DELAY_S);
        earliest.max(booked_at)
    })
}

/// Whether the user may cancel at `now`.
pub fn user_may_cancel(
    booked_at: Timestamp,
    event_start: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    user_cancellation_limit(booked_at, event_start).is_none_or(|limit| now <= limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600;
    const M: i64 = 60;

    #[test]
    fn forty_eight_hours_after_booking_at_the_minute() {
        let booked = 1_000_000;
        let start = booked + 30 * 24 * H;
        assert!(user_may_cancel(
            booked,
            Some(start),
            booked + 47 * H + 59 * M
        ));
        assert!(user_may_cancel(booked, Some(start), booked + 48 * H));
        assert!(!user_may_cancel(booked, Some(start), booked + 48 * H + M));
    }

    #[test]
    fn forty_eight_hours_before_the_event_at_the_minute() {
        let booked = 1_000_000;
        let start = booked + 72 * H;
        // The event limit (start - 48 h = booked + 24 h) comes first.
        assert!(user_may_cancel(booked, Some(start), start - 48 * H - M));
        assert!(!user_may_cancel(
            booked,
            Some(start),
            start - 47 * H - 59 * M
        ));
    }

    #[test]
    fn late_bookings_and_things() {
        let booked = 1_000_000;
        // Booked 10 h before the event: cancellable only at the moment of booking.
        assert_eq!(
            user_cancellation_limit(booked, Some(booked + 10 * H)),
            Some(booked)
        );
        assert!(!user_may_cancel(booked, Some(booked + 10 * H), booked + 1));
        // A book can be cancelled until collected.
        assert!(user_may_cancel(booked, None, booked + 365 * 24 * H));
    }
}
