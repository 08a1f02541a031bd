//! How many feeds and searches take the cores at once.
//!
//! A feed's first page reads its user from the store, then spends a millisecond or two of
//! CPU on candidates, ranking and cards. With every request let in, a burst shares the
//! cores among all of them: each takes as long as the burst, and which finishes first is
//! the scheduler's choice, so some are overtaken many times. Behind a gate of a few turns,
//! given in the order they were asked for, the feeds in flight keep the cores busy (on the
//! 2-core benchmark machine 4 connections served as many feeds per second as 8 or 16) and
//! the others wait in line, each about as long as the line ahead of it.
//!
//! Searches, all CPU (the index and the page's stored documents), wait in the same line:
//! 16 connections of searches on their own halved their p99 behind it (medians 26.5 against
//! 47.6 ms in `benches/ab.sh --family search`, lower in 10 rounds of 10), for 8 % fewer
//! searches a second (1,174 against 1,275). 8 turns instead of 4 gave most of the p99 back
//! (42.9 against 29.8 ms, higher in 8 rounds of 8) for 2 % more searches a second.
//!
//! The line is for the CPU stages only: the store's read comes before it (its own pool
//! bounds it), as a turn held through a read would leave a core idle; a page cut from a
//! kept ranking waits in the same line, cheap as it is, or the first pages behind it
//! would wait all the longer.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Feeds and searches in their CPU stages at once per core unless `MOSAIC_CPU_CONCURRENCY`
/// says otherwise.
pub const DEFAULT_TURNS_PER_CORE: usize = 2;

/// The turns feeds and searches take, first come first served; no gate at all when built
/// with 0 turns.
#[derive(Debug)]
pub struct CpuGate(Option<Semaphore>);

impl CpuGate {
    /// A gate letting `turns` requests through at once (at most [`Semaphore::MAX_PERMITS`]), or
    /// every one when `turns` is 0.
    pub fn new(turns: usize) -> CpuGate {
        CpuGate((turns > 0).then(|| Semaphore::new(turns.min(Semaphore::MAX_PERMITS))))
    }

    /// The gate of `MOSAIC_CPU_CONCURRENCY` turns (0: no gate), by default
    /// [`DEFAULT_TURNS_PER_CORE`] per core, with a warning when the variable is not a
    /// number.
    pub fn from_env() -> CpuGate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let turns = crate::settings::number(
            "MOSAIC_CPU_CONCURRENCY",
            DEFAULT_TURNS_PER_CORE * cores,
            "a number of requests",
            |_| true,
        );
        CpuGate::new(turns)
    }

    /// Waits for a turn, which lasts until the returned permit is dropped.
    pub async fn turn(&self) -> Option<SemaphorePermit<'_>> {
        match &self.0 {
            // The semaphore is never closed, so acquiring cannot fail.
            Some(gate) => gate.acquire().await.ok(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test]
    async fn turns_are_given_in_the_order_they_were_asked_for() {
        let gate = CpuGate::new(2);
        let first = gate.turn().await;
        let second = gate.turn().await;
        assert!(first.is_some() && second.is_some());

        // Both turns taken: the next two wait, in line.
        let mut third = Box::pin(gate.turn());
        let mut fourth = Box::pin(gate.turn());
        assert!((&mut third).now_or_never().is_none());
        assert!((&mut fourth).now_or_never().is_none());

        drop(second);
        let third = (&mut third)
            .now_or_never()
            .expect("the first in line goes next");
        assert!(
            (&mut fourth).now_or_never().is_none(),
            "one turn came free, not two"
        );
        drop(first);
        let fourth = (&mut fourth).now_or_never().expect("then the second");
        assert!(third.is_some() && fourth.is_some());
    }

    #[tokio::test]
    async fn more_turns_than_a_semaphore_holds_are_capped_not_a_panic() {
        let gate = CpuGate::new(usize::MAX);
        assert!(gate
            .turn()
            .now_or_never()
            .expect("a turn at once")
            .is_some());
    }

    #[tokio::test]
    async fn no_gate_lets_everyone_through() {
        let gate = CpuGate::new(0);
        let turns: Vec<_> = (0..100).map(|_| gate.turn().now_or_never()).collect();
        assert!(turns.iter().all(|t| matches!(t, Some(None))));
    }
}
