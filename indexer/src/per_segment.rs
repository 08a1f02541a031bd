//! Values computed once per segment and kept while the segment lives.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::index::SegmentId;
use tantivy::Searcher;

/// One `T` per segment. A segment's documents never change (deletes live beside them),
/// so whatever is derived from them holds until the segment is merged away.
pub(crate) struct PerSegment<T>(Mutex<HashMap<SegmentId, Arc<Slot<T>>>>);

/// A segment's value, made by the first search that needs it while the others wait.
type Slot<T> = Mutex<Option<Arc<T>>>;

impl<T> Default for PerSegment<T> {
    fn default() -> Self {
        PerSegment(Mutex::default())
    }
}

/// Locks a mutex whose value stays valid whatever panicked while holding it.
fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> PerSegment<T> {
    /// The value of segment `id`, made by `make` the first time. The map is locked only
    /// to find the segment's slot; the slot stays locked while its value is made, so the
    /// searches that meet a new segment at once wait for one value instead of each
    /// making its own: a large segment's columns are tens of megabytes, and the load
    /// test's sixteen feeds, meeting a freshly merged segment together, built as many
    /// copies.
    pub(crate) fn get_or_make<E>(
        &self,
        id: SegmentId,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let slot = lock(&self.0).entry(id).or_default().clone();
        let mut value = lock(&slot);
        if let Some(value) = &*value {
            return Ok(value.clone());
        }
        let made = Arc::new(make()?);
        *value = Some(made.clone());
        Ok(made)
    }

    /// Like [`PerSegment::get_or_make`], for values whose making cannot fail.
    pub(crate) fn get_or_insert(&self, id: SegmentId, make: impl FnOnce() -> T) -> Arc<T> {
        let Ok(value) = self.get_or_make(id, || Ok::<T, std::convert::Infallible>(make()));
        value
    }

    /// Forgets the segments `searcher` no longer has (merged away): their values may
    /// keep the segment's files mapped.
    pub(crate) fn retain_live(&self, searcher: &Searcher) {
        let readers = searcher.segment_readers();
        let mut map = lock(&self.0);
        // Every search passes here: the set of live ids is built only when something died.
        if map.len() > readers.len() {
            let live: HashSet<SegmentId> = readers.iter().map(|s| s.segment_id()).collect();
            map.retain(|id, _| live.contains(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;
    use std::time::Duration;

    #[test]
    fn searches_meeting_a_new_segment_together_make_its_value_once() {
        let cache: PerSegment<Vec<u8>> = PerSegment::default();
        let (a, b) = (SegmentId::generate_random(), SegmentId::generate_random());
        let made = AtomicUsize::new(0);
        let start = Barrier::new(8);
        let values: Vec<Arc<Vec<u8>>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        cache.get_or_insert(a, || {
                            made.fetch_add(1, Ordering::SeqCst);
                            // Long enough for every thread to arrive meanwhile.
                            std::thread::sleep(Duration::from_millis(100));
                            vec![1; 1000]
                        })
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(values.iter().all(|v| Arc::ptr_eq(v, &values[0])));

        // A failed make leaves nothing behind: the next search tries again.
        let failed: Result<Arc<Vec<u8>>, &str> = cache.get_or_make(b, || Err("no"));
        assert!(failed.is_err());
        assert_eq!(*cache.get_or_insert(b, || vec![2]), vec![2]);
        assert_eq!(*cache.get_or_insert(a, || vec![3]), vec![1; 1000]);
    }
}
