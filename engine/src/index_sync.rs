//! Where each index refresh reads the store's changes from, so that none is missed and
//! none is pushed twice.
//!
//! A writer stamps a change with its clock, then commits: until the commit nobody else
//! sees the change. A reader that moved past the stamp meanwhile would never read it, and
//! a batch job's long transaction, or another replica's booking committed across a
//! refresh, left offers stale until they changed again. So each read looks back a little
//! ([`STAMP_SLACK`]), and further back, once, when a transaction it saw open has closed:
//! as far as that transaction began. Reading back means reading again: a booking, a
//! cancellation, a stock closing happen once each, and are pushed once; an offer's row
//! written again within its second cannot be told from the first write, and is pushed at
//! each read that finds it.
//!
//! A transaction left open for long (a console session inside `BEGIN`) is read back to its
//! start when it ends, once: the offers of events older than [`REMEMBER`] are pushed again
//! then, and a restart meanwhile catches up from its start.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::Timestamp;
use crate::ids::OfferId;
use crate::store::{Change, ChangeKind, Event, OpenTransaction};

/// How long before its transaction began a writer may have stamped a change (it takes
/// the clock, then waits for a connection), plus the skew between replicas' clocks, in
/// seconds. Stamps are whole seconds: this looks back one to two seconds.
const STAMP_SLACK: Timestamp = 1;

/// How long, in seconds, pushed events are remembered. A transaction open longer than
/// that is read back to its start when it closes, and the offers of the events forgotten
/// meanwhile are pushed again: more work once, never a wrong answer.
const REMEMBER: Timestamp = 300;

/// What the refreshes have read so far.
#[derive(Debug)]
pub(crate) struct SyncCursor {
    /// Changes stamped from this instant on are read again.
    since: Timestamp,
    /// The transactions open when the store was last read.
    open: HashSet<OpenTransaction>,
    /// The events pushed, with their stamps.
    pushed: HashMap<Event, Timestamp>,
}

impl SyncCursor {
    /// A cursor that reads changes stamped from `since` on.
    pub(crate) fn new(since: Timestamp) -> SyncCursor {
        SyncCursor {
            since,
            open: HashSet::new(),
            pushed: HashMap::new(),
        }
    }

    /// Where the next read starts, given the transactions open now: back to the start of
    /// each transaction open at the last read and closed since, whose changes a reader
    /// can see from now on, whatever their stamps.
    pub(crate) fn read_from(&self, open_now: &HashSet<OpenTransaction>) -> Timestamp {
        self.open
            .difference(open_now)
            .map(|t| t.began() - STAMP_SLACK)
            .fold(self.since, Timestamp::min)
    }

    /// The offers of `changes` that are not known to be pushed already; their events
    /// count as pushed from now on (a refresh that fails keeps its offers to retry).
    pub(crate) fn fresh(&mut self, changes: &[Change]) -> BTreeSet<OfferId> {
        let mut offers = BTreeSet::new();
        for change in changes {
            let new = match change.kind {
                ChangeKind::Written => true,
                ChangeKind::Event(event) => self.pushed.insert(event, change.at).is_none(),
            };
            if new {
                offers.insert(change.offer);
            }
        }
        offers
    }

    /// Records a read of the store whose clock was `read_at` before it asked which
    /// transactions were open (`open_now`): a transaction that begins later stamps its
    /// changes no earlier than [`STAMP_SLACK`] before that.
    pub(crate) fn advance(&mut self, read_at: Timestamp, open_now: HashSet<OpenTransaction>) {
        self.since = read_at - STAMP_SLACK;
        self.open = open_now;
        let keep_from = self.resume_from().max(read_at - REMEMBER);
        self.pushed.retain(|_, at| *at >= keep_from);
    }

    /// Where a reader that knows none of this must start so as to miss nothing: the
    /// earliest of the next read and the starts of the transactions still open.
    pub(crate) fn resume_from(&self) -> Timestamp {
        self.open
            .iter()
            .map(|t| t.began() - STAMP_SLACK)
            .fold(self.since, Timestamp::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{BookingId, StockId};

    fn booked(booking: i64, offer: i64, at: Timestamp) -> Change {
        Change {
            offer: OfferId(offer),
            at,
            kind: ChangeKind::Event(Event::Booked(BookingId(booking))),
        }
    }

    fn written(offer: i64, at: Timestamp) -> Change {
        Change {
            offer: OfferId(offer),
            at,
            kind: ChangeKind::Written,
        }
    }

    fn open(backend: i64, began: Timestamp) -> OpenTransaction {
        OpenTransaction {
            backend,
            began_us: began * 1_000_000 + 250_000,
        }
    }

    fn ids(offers: &[i64]) -> BTreeSet<OfferId> {
        offers.iter().map(|&o| OfferId(o)).collect()
    }

    #[test]
    fn events_are_pushed_once_and_written_offers_at_each_read() {
        let mut cursor = SyncCursor::new(100);
        let first = [booked(1, 10, 100), written(20, 100)];
        assert_eq!(cursor.fresh(&first), ids(&[10, 20]));
        cursor.advance(101, HashSet::new());
        assert_eq!(cursor.read_from(&HashSet::new()), 100);
        // The next read looks back over the same second and finds one more booking.
        let second = [booked(1, 10, 100), written(20, 100), booked(2, 30, 101)];
        assert_eq!(cursor.fresh(&second), ids(&[20, 30]));
    }

    #[test]
    fn a_stock_bound_moved_by_an_edit_is_a_new_event() {
        let limit = |at| Change {
            offer: OfferId(5),
            at,
            kind: ChangeKind::Event(Event::LimitPassed(StockId(7), at)),
        };
        let mut cursor = SyncCursor::new(100);
        assert_eq!(cursor.fresh(&[limit(100)]), ids(&[5]));
        assert!(cursor.fresh(&[limit(100)]).is_empty());
        assert_eq!(cursor.fresh(&[limit(101)]), ids(&[5]));
    }

    #[test]
    fn a_transaction_seen_open_is_read_back_to_its_start_once_it_closes() {
        let mut cursor = SyncCursor::new(100);
        let batch = open(42, 90);
        let short = open(43, 100);
        cursor.advance(101, HashSet::from([batch, short]));
        // Still open: its changes are invisible, no need to read back for them yet, but a
        // restart must.
        let still = HashSet::from([batch]);
        assert_eq!(
            cursor.read_from(&still),
            99,
            "the short one closed: back to its start"
        );
        assert_eq!(cursor.resume_from(), 89);
        cursor.advance(103, still);
        assert_eq!(cursor.read_from(&HashSet::from([batch])), 102);
        // Closed: read back to where it began, once.
        assert_eq!(cursor.read_from(&HashSet::new()), 89);
        cursor.advance(104, HashSet::new());
        assert_eq!(cursor.read_from(&HashSet::new()), 103);
        assert_eq!(cursor.resume_from(), 103);
    }

    #[test]
    fn a_connection_s_next_transaction_is_another_one() {
        let mut cursor = SyncCursor::new(100);
        cursor.advance(101, HashSet::from([open(42, 90)]));
        assert_eq!(cursor.read_from(&HashSet::from([open(42, 101)])), 89);
    }

    #[test]
    fn events_are_remembered_while_a_transaction_that_may_read_back_is_open() {
        let mut cursor = SyncCursor::new(100);
        assert_eq!(cursor.fresh(&[booked(1, 10, 100)]), ids(&[10]));
        cursor.advance(160, HashSet::from([open(42, 95)]));
        assert!(
            cursor.fresh(&[booked(1, 10, 100)]).is_empty(),
            "kept for the read back"
        );
        cursor.advance(161, HashSet::new());
        assert_eq!(cursor.fresh(&[booked(1, 10, 100)]), ids(&[10]), "forgotten");
        // However long a transaction stays open, memory is bounded.
        cursor.fresh(&[booked(2, 11, 200)]);
        cursor.advance(200 + REMEMBER + 1, HashSet::from([open(42, 95)]));
        assert!(cursor.pushed.is_empty());
    }
}
