//! Values computed once per segment and kept while the segment lives.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tantivy::index::SegmentId;
use tantivy::Searcher;

/// One `T` per segment. A segment's documents never change (deletes live beside them),
/// so whatever is derived from them holds until the segment is merged away.
pub(crate) struct PerSegment<T>(Mutex<HashMap<SegmentId, Arc<T>>>);

impl<T> Default for PerSegment<T> {
    fn default() -> Self {
        PerSegment(Mutex::default())
    }
}

impl<T> PerSegment<T> {
    fn map(&self) -> MutexGuard<'_, HashMap<SegmentId, Arc<T>>> {
        // The map is valid whatever panicked while holding it.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of segment `id`, made by `make` the first time (outside the lock:
    /// two searches may both make it, one is kept).
    pub(crate) fn get_or_make<E>(
        &self,
        id: SegmentId,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        if let Some(value) = self.map().get(&id) {
            return Ok(value.clone());
        }
        let value = Arc::new(make()?);
        Ok(self.map().entry(id).or_insert(value).clone())
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
        let mut map = self.map();
        // Every search passes here: the set of live ids is built only when something died.
        if map.len() > readers.len() {
            let live: HashSet<SegmentId> = readers.iter().map(|s| s.segment_id()).collect();
            map.retain(|id, _| live.contains(id));
        }
    }
}
