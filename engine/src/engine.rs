//! The facade: one [`Engine`] composes the store, the offer index and the ranking.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use indexer::{OfferIndex, Query, Reach, SearchResults};

use crate::booking::BookingRequest;
use crate::domain::{Coordinates, Timestamp};
use crate::error::EngineError;
use crate::ids::{OfferId, UserId};
use crate::index_sync::SyncCursor;
use crate::indexing::offer_doc;
use crate::store::{IdempotencyKey, Store};
use crate::taxonomy::Taxonomy;
use crate::views::{
    rfc3339, BookingView, DepositView, OfferDetail, StockView, VenueView, WalletView,
};

/// How often changed offers are pushed to the index: the bound on search freshness.
const REFRESH_EVERY: Duration = Duration::from_millis(250);

/// A refresh that reads back further than this many seconds, to the start of a long
/// transaction that closed, says so: it may push many offers at once.
const READ_BACK_LOGGED: Timestamp = 60;

/// How often the index is looked at for segments to merge back together. Most times
/// only the small segments refreshes added are merged, a fraction of a second; now and
/// then a large one is rewritten (half the catalogue on two cores: 2 to 4 s of one core
/// on the bench world when idle), so once a minute costs little against what stray
/// segments cost every feed.
const COMPACT_EVERY: Duration = Duration::from_secs(60);

/// The current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    chrono::Utc::now().timestamp()
}

/// Mosaic's use cases over one store and one index.
pub struct Engine {
    pub(crate) store: Store,
    pub(crate) index: Arc<OfferIndex>,
    pub(crate) taxonomy: &'static Taxonomy,
    /// Offers whose index document is stale (a booking changed a stock).
    dirty: Mutex<BTreeSet<OfferId>>,
    index_dir: Option<PathBuf>,
    /// The lock of the on-disk index's folder, held while the engine lives.
    _index_lock: Option<std::fs::File>,
    /// The instant of the last refresh: the index reflects what was committed then.
    synced_at: Mutex<Timestamp>,
    /// Where the refreshes read the store's changes from; held for a whole refresh, so
    /// that refreshes take turns.
    sync: tokio::sync::Mutex<SyncCursor>,
    /// Offer documents written to the index by refreshes since the engine opened.
    reindexed: AtomicU64,
    /// The taste model giving profiles and offers embeddings; `None` until one is loaded.
    model: std::sync::RwLock<Option<Arc<ranking::embedding::TasteModel>>>,
    /// The active editorial boosts, read again after a short while or an edit.
    pub(crate) boost_cache: Mutex<crate::curation::BoostCache>,
    /// Every feed's digital candidates, with the index generation they were searched at.
    pub(crate) digital_cache: Mutex<Option<(u64, Arc<indexer::SearchResults>)>>,
    /// The rankings of recent first pages, for the pages after them.
    pub(crate) ranked_feeds: crate::ranked_feeds::RankedFeeds,
    /// How many feeds and searches are in their CPU stages at once; the others wait in line (see
    /// [`crate::cpu_gate`]).
    pub(crate) cpu_gate: crate::cpu_gate::CpuGate,
    /// What compacting the index has cost so far.
    compactions: Mutex<Compactions>,
}

/// The index compactions an engine has run since it opened ([`Engine::compact_index`]):
/// one that rewrites a large segment is seconds of CPU beside the requests, so an
/// operator sets them against the latency of the same minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Compactions {
    /// Compactions that merged segments.
    pub count: u64,
    /// Their wall time, summed.
    pub time: Duration,
    /// A large segment's rewrite fell due while the index was closed, and the compaction
    /// task, which starts on it as soon as the engine serves, has not done it yet.
    pub rewrite_due: bool,
}

/// Written beside an on-disk index: the instant from which a restart reads the store's
/// changes to catch up (see [`crate::index_sync`]).
const SYNCED_FILE: &str = "mosaic-synced-at";

/// Locked by the engine that uses an on-disk index, for as long as it lives: a second
/// server or a `mosaic index` pointed at the same folder would otherwise empty it under
/// the first one's feet.
const LOCK_FILE: &str = "mosaic.lock";

/// What to do with an index found on disk.
#[derive(Clone, Copy)]
enum OnDisk {
    /// Reopen it if it is complete and readable, else rebuild it.
    Reuse,
    /// Rebuild it whatever its state.
    Rebuild,
}

/// Takes the lock of the index folder `dir`, or says that another process holds it.
fn lock_folder(dir: &Path) -> Result<std::fs::File, EngineError> {
    std::fs::create_dir_all(dir)?;
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(LOCK_FILE))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(EngineError::Conflict(
            "index_in_use",
            format!(
                "the index folder {} is in use by another process (a running `mosaic serve`?)",
                dir.display()
            ),
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Opens the index in `dir`, whose lock the caller holds, with the instant it is in sync
/// as of; or a fresh empty index and `None` when there is none, it was never completed,
/// it cannot be read, or `mode` asks for a rebuild.
fn open_on_disk(dir: &Path, mode: OnDisk) -> Result<(OfferIndex, Option<Timestamp>), EngineError> {
    let synced: Option<Timestamp> = std::fs::read_to_string(dir.join(SYNCED_FILE))
        .ok()
        .and_then(|t| t.trim().parse().ok());
    if let (Some(at), OnDisk::Reuse) = (synced, mode) {
        match OfferIndex::open_or_create(dir) {
            Ok(index) if !index.is_empty() => return Ok((index, Some(at))),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "the on-disk index is unreadable; rebuilding")
            }
        }
    }
    // Whatever is there is not known to be complete: start from nothing but the lock.
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok((OfferIndex::open_or_create(dir)?, None))
}

impl Engine {
    /// Opens the engine on `store` and starts the background tasks that keep the index
    /// fresh and compact. The index lives in RAM, or in `index_dir` when given: an index
    /// found there is reopened, caught up with what changed since it was last in sync and
    /// compacted; one that is missing, never completed or corrupt is rebuilt from the
    /// store, the source of truth.
    pub async fn open(store: Store, index_dir: Option<&Path>) -> Result<Arc<Engine>, EngineError> {
        let index_dir = index_dir.map(|dir| (dir, OnDisk::Reuse));
        Engine::open_inner(store, index_dir, &indicatif::ProgressBar::hidden()).await
    }

    /// Rebuilds the on-disk index in `index_dir` from the store, whatever it holds, showing
    /// the progress on `progress`; then opens the engine on it as [`Engine::open`] does.
    /// Refused while another engine uses the folder.
    pub async fn rebuild_with_progress(
        store: Store,
        index_dir: &Path,
        progress: &indicatif::ProgressBar,
    ) -> Result<Arc<Engine>, EngineError> {
        Engine::open_inner(store, Some((index_dir, OnDisk::Rebuild)), progress).await
    }

    async fn open_inner(
        store: Store,
        index_dir: Option<(&Path, OnDisk)>,
        progress: &indicatif::ProgressBar,
    ) -> Result<Arc<Engine>, EngineError> {
        let (index, synced_at, index_lock) = match index_dir {
            Some((dir, mode)) => {
                let lock = lock_folder(dir)?;
                let (index, synced_at) = open_on_disk(dir, mode)?;
                (index, synced_at, Some(lock))
            }
            None => (OfferIndex::in_ram()?, None, None),
        };
        let engine = Arc::new(Engine {
            store,
            index: Arc::new(index),
            taxonomy: Taxonomy::shipped(),
            dirty: Mutex::new(BTreeSet::new()),
            index_dir: index_dir.map(|(dir, _)| dir.to_path_buf()),
            _index_lock: index_lock,
            synced_at: Mutex::new(0),
            sync: tokio::sync::Mutex::new(SyncCursor::new(synced_at.unwrap_or(0))),
            reindexed: AtomicU64::new(0),
            model: std::sync::RwLock::new(None),
            boost_cache: Mutex::new(Default::default()),
            digital_cache: Mutex::new(None),
            ranked_feeds: Default::default(),
            cpu_gate: crate::cpu_gate::CpuGate::from_env(),
            compactions: Mutex::default(),
        });
        match synced_at {
            Some(_) => {
                let changed = engine.refresh_index().await?;
                tracing::info!(changed, "reopened the on-disk index and caught up");
            }
            None => {
                // The clock, then the open transactions, before the store: what they and
                // later ones commit is read by the next refresh.
                let started = now();
                let open = engine.store.open_transactions().await?;
                engine.rebuild_index_with(progress).await?;
                let mut cursor = engine.sync.lock().await;
                cursor.advance(started, open);
                engine.mark_synced(started, cursor.resume_from())?;
            }
        }
        // The small segments before serving, not beside the first requests: a reopened
        // index holds a segment per refresh its last run committed, which cost every feed
        // a fifth more CPU, and compacting them under load took the load test's first
        // minute. A large segment's rewrite is left to the task, which starts on it at
        // once: seconds of a core (1.9 s for 454,154 offers on an AMD EPYC) by which a
        // restart would otherwise be later to serve.
        engine.compact_or_warn(Reach::Tail).await;
        tokio::spawn(refresh_loop(Arc::downgrade(&engine)));
        tokio::spawn(compaction_loop(Arc::downgrade(&engine)));
        Ok(engine)
    }

    /// Records that the index reflects what the store had committed at `at`, and beside
    /// an on-disk index that a restart must read changes from `resume_from` on.
    fn mark_synced(&self, at: Timestamp, resume_from: Timestamp) -> Result<(), EngineError> {
        *self.synced_at.lock().expect("sync lock") = at;
        if let Some(dir) = &self.index_dir {
            std::fs::write(dir.join(SYNCED_FILE), resume_from.to_string())?;
        }
        Ok(())
    }

    /// Uses `model` for embeddings from now on (e.g. the one `mosaic profiles build` wrote),
    /// its rows laid out in the order of the index's offers, by place: a feed reads the
    /// rows of its candidates, offers near one another (see
    /// [`ranking::embedding::TasteModel::arrange`]).
    pub fn use_model(&self, mut model: ranking::embedding::TasteModel) {
        match self.index.doc_order() {
            Ok(order) => model.arrange(order),
            // The model is the same in any layout; only the feeds' cache misses differ.
            Err(e) => tracing::warn!(error = %e, "the taste model's rows keep the file's order"),
        }
        *self.model.write().expect("model lock") = Some(Arc::new(model));
    }

    /// The taste model in use, if any.
    pub fn model(&self) -> Option<Arc<ranking::embedding::TasteModel>> {
        self.model.read().expect("model lock").clone()
    }

    /// The store under the engine.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The offer index under the engine, for tools and tests that query it directly
    /// (whole hit sets, beyond the pages [`Engine::search`] hands out).
    pub fn index(&self) -> &OfferIndex {
        &self.index
    }

    /// The instant the index reflects the store as of: its freshness.
    pub fn index_synced_at(&self) -> Timestamp {
        *self.synced_at.lock().expect("sync lock")
    }

    /// Offer documents the refreshes have written to the index since the engine opened:
    /// each change read from the store is pushed once (see [`crate::index_sync`]).
    pub fn reindexed_offers(&self) -> u64 {
        self.reindexed.load(Ordering::Relaxed)
    }

    /// Number of offers in the index.
    pub fn indexed_offers(&self) -> u64 {
        self.index.doc_count()
    }

    /// The index compactions run since the engine opened.
    pub fn index_compactions(&self) -> Compactions {
        *self.compactions.lock().expect("compactions lock")
    }

    /// Re-reads every offer from the store into the index.
    pub async fn rebuild_index(&self) -> Result<usize, EngineError> {
        self.rebuild_index_with(&indicatif::ProgressBar::hidden())
            .await
    }

    /// [`Engine::rebuild_index`], counting indexed offers on `progress`.
    pub async fn rebuild_index_with(
        &self,
        progress: &indicatif::ProgressBar,
    ) -> Result<usize, EngineError> {
        let mut records = self.store.offer_records().await?;
        // Each cell's offers side by side: a large disk reads runs of neighbours.
        records.sort_by_cached_key(|r| indexer::spatial_key(r.venue.as_ref().map(|v| v.location)));
        let now = now();
        progress.set_length(records.len() as u64);
        for chunk in records.chunks(10_000) {
            self.index.upsert(
                chunk
                    .iter()
                    .map(|r| offer_doc(r, self.taxonomy, now))
                    .collect::<Vec<_>>(),
            )?;
            progress.inc(chunk.len() as u64);
        }
        self.index.commit()?;
        // A full build leaves a dozen segments, and every search pays per segment.
        if let Err(e) = self.index.compact(segments_wanted(), Reach::Full) {
            tracing::warn!(error = %e, "the rebuilt index could not be compacted; searching it as it is");
        }
        progress.finish();
        Ok(records.len())
    }

    /// Pushes to the index every offer marked stale here, and every offer whose changes
    /// the store shows for the first time (another process, or time closing a stock), in
    /// one commit; returns how many.
    pub async fn refresh_index(&self) -> Result<usize, EngineError> {
        let mut cursor = self.sync.lock().await;
        // The clock before the store: a transaction that begins after this stamps no
        // earlier than the cursor looks back.
        let read_at = now();
        let mut ids: BTreeSet<OfferId> =
            std::mem::take(&mut *self.dirty.lock().expect("dirty set lock"));
        let result = async {
            let open = self.store.open_transactions().await?;
            let from = cursor.read_from(&open);
            if read_at - from > READ_BACK_LOGGED {
                tracing::info!(
                    seconds = read_at - from,
                    "reading back to the start of a transaction that closed"
                );
            }
            let changes = self.store.index_changes(from, read_at).await?;
            ids.extend(cursor.fresh(&changes));
            let ids: Vec<OfferId> = ids.iter().copied().collect();
            if !ids.is_empty() {
                self.reindex(&ids).await?;
            }
            cursor.advance(read_at, open);
            self.mark_synced(read_at, cursor.resume_from())?;
            Ok::<usize, EngineError>(ids.len())
        }
        .await;
        if result.is_err() {
            // Nothing is lost: the offers stay stale until the next refresh succeeds.
            self.dirty.lock().expect("dirty set lock").extend(ids);
        }
        result
    }

    /// Merges the index's segments back into one per core and at most one small one, and
    /// returns how many are left. Each refresh that changed offers commits a segment of
    /// its own: after a load test's bookings, the bench world's index had 5 to 11
    /// segments, and its feeds cost a fifth more CPU than on the two segments of a fresh
    /// build. Merging the small ones together takes a fraction of a second; a large one is
    /// rewritten (seconds) only when the changes come to an eighth of it (see
    /// [`indexer::OfferIndex::compact`]). The task [`Engine::open`] starts calls this
    /// every [`COMPACT_EVERY`], and at once when a rewrite is due
    /// ([`Compactions::rewrite_due`]).
    pub async fn compact_index(&self) -> Result<usize, EngineError> {
        self.compact(Reach::Full).await
    }

    async fn compact(&self, reach: Reach) -> Result<usize, EngineError> {
        let index = self.index.clone();
        let started = std::time::Instant::now();
        let segments = index.segment_count();
        let done = tokio::task::spawn_blocking(move || index.compact(segments_wanted(), reach))
            .await
            .map_err(|e| EngineError::Data(format!("the index compaction task failed: {e}")))??;
        let mut total = self.compactions.lock().expect("compactions lock");
        // Only a full compaction does the rewrite, and it does it whenever it is due.
        total.rewrite_due = done.deferred || (total.rewrite_due && reach == Reach::Tail);
        if done.rewritten == 0 {
            return Ok(done.segments);
        }
        total.count += 1;
        total.time += started.elapsed();
        drop(total);
        tracing::info!(
            segments,
            left = done.segments,
            rewritten = done.rewritten,
            ms = started.elapsed().as_millis() as u64,
            "compacted the index"
        );
        Ok(done.segments)
    }

    /// A compaction within `reach` where a failure is not the caller's: logged, and the
    /// index searched as it is.
    async fn compact_or_warn(&self, reach: Reach) {
        if let Err(e) = self.compact(reach).await {
            tracing::warn!(error = %e, "index compaction failed; searching the index as it is");
        }
    }

    async fn reindex(&self, ids: &[OfferId]) -> Result<(), EngineError> {
        let now = now();
        let records = self.store.offer_records_by_id(ids).await?;
        let live: std::collections::HashSet<OfferId> = records
            .iter()
            .filter(|r| r.offer.is_active)
            .map(|r| r.offer.id)
            .collect();
        let gone: Vec<u64> = ids
            .iter()
            .filter(|id| !live.contains(id))
            .map(|id| id.0 as u64)
            .collect();
        let docs: Vec<_> = records
            .iter()
            .filter(|r| r.offer.is_active)
            .map(|r| offer_doc(r, self.taxonomy, now))
            .collect();
        // A commit is milliseconds of blocking work (tens under load): on a runtime worker
        // it held up every request queued behind it, four times a second during bookings.
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || {
            for id in gone {
                index.delete(id)?;
            }
            index.upsert(docs)?;
            index.commit()
        })
        .await
        .map_err(|e| EngineError::Data(format!("the index update task failed: {e}")))??;
        self.reindexed
            .fetch_add(ids.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn mark_dirty(&self, id: OfferId) {
        self.dirty.lock().expect("dirty set lock").insert(id);
    }

    /// The offer page; `from` adds the distance to the venue.
    pub async fn offer(
        &self,
        id: OfferId,
        from: Option<Coordinates>,
    ) -> Result<OfferDetail, EngineError> {
        let record = self
            .store
            .offer_record(id)
            .await?
            .filter(|r| r.offer.is_active)
            .ok_or(EngineError::NotFound {
                what: "offer",
                id: id.0,
            })?;
        let now = now();
        let sub = self.taxonomy.subcategory(&record.offer.subcategory);
        let venue = record.venue.as_ref();
        Ok(OfferDetail {
            id,
            title: record.offer.title.clone(),
            description: record.offer.description.clone(),
            category: sub.map_or_else(String::new, |s| s.category.clone()),
            subcategory: record.offer.subcategory.clone(),
            subcategory_label: sub.map_or_else(String::new, |s| s.label.clone()),
            artist: record.offer.artist.clone(),
            url: record.offer.url.clone(),
            offerer_id: record.offer.offerer_id,
            venue: venue.map(|v| VenueView {
                id: v.id,
                name: v.name.clone(),
                lat: v.location.lat(),
                lon: v.location.lon(),
                offerer_id: v.offerer_id,
            }),
            distance_m: venue
                .zip(from)
                .map(|(v, p)| indexer::haversine_m(v.location, p).round()),
            is_duo: record.offer.is_duo,
            is_digital: record.offer.is_digital(),
            stocks: record
                .stocks
                .iter()
                .map(|s| StockView {
                    id: s.id,
                    price_cents: s.price.0,
                    remaining: s.remaining(),
                    beginning_at: s.beginning_at.map(rfc3339),
                    booking_limit_at: s.booking_limit_at.map(rfc3339),
                    bookable: s.is_bookable(now, 1),
                })
                .collect(),
        })
    }

    /// What a user can spend now.
    pub async fn wallet(&self, user: UserId) -> Result<WalletView, EngineError> {
        self.store.user(user).await?.ok_or(EngineError::NotFound {
            what: "user",
            id: user.0,
        })?;
        let deposit = self.store.active_deposit(user, now()).await?;
        Ok(WalletView {
            user_id: user,
            balance_cents: deposit.as_ref().map_or(0, |d| d.remaining().0),
            deposit: deposit.map(|d| DepositView {
                policy: d.policy.clone(),
                amount_cents: d.amount.0,
                spent_cents: d.spent.0,
                expires_at: rfc3339(d.expires_at),
                digital_cap_cents: d.digital_cap.map(|c| c.0),
                digital_remaining_cents: d
                    .digital_cap
                    .map(|c| (c.0 - d.digital_spent.0).min(d.remaining().0)),
            }),
        })
    }

    /// Books a stock now; the offer's index document follows within [`REFRESH_EVERY`].
    pub async fn book(
        &self,
        user: UserId,
        stock: crate::ids::StockId,
        quantity: i64,
        key: Option<IdempotencyKey>,
    ) -> Result<BookingView, EngineError> {
        let booking = self
            .store
            .book(
                &BookingRequest {
                    user_id: user,
                    stock_id: stock,
                    quantity,
                    now: now(),
                },
                key.as_ref(),
            )
            .await?;
        self.mark_dirty(booking.offer_id);
        // Less credit and one more booking: the pages after this are ranked for them.
        self.ranked_feeds.forget(user);
        Ok(BookingView::from(&booking))
    }
}

impl Engine {
    /// Expires uncollected physical goods (10 days for paper books, 30 otherwise) and
    /// marks past events used; the offers whose places came back are re-indexed.
    pub async fn expire_bookings(&self) -> Result<crate::store::LifecycleSummary, EngineError> {
        let summary = self.store.expire_bookings(now(), 10, 30).await?;
        for (_, offer) in &summary.expired {
            self.mark_dirty(*offer);
        }
        Ok(summary)
    }

    /// Cancels a booking on behalf of `by`, refunding it; the offer's index document
    /// follows within [`REFRESH_EVERY`].
    pub async fn cancel(
        &self,
        id: crate::ids::BookingId,
        by: crate::booking::Canceller,
    ) -> Result<(), EngineError> {
        let booking = self.store.booking(id).await?.ok_or(EngineError::NotFound {
            what: "booking",
            id: id.0,
        })?;
        self.store.cancel(id, by, now()).await?;
        self.mark_dirty(booking.offer_id);
        self.ranked_feeds.forget(booking.user_id);
        Ok(())
    }
}

async fn refresh_loop(engine: Weak<Engine>) {
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if let Err(e) = engine.refresh_index().await {
            if engine.store().is_closed() {
                // The service is stopping: the next start catches the index up.
                return;
            }
            tracing::warn!(error = %e, "index refresh failed; will retry");
        }
    }
}

/// How many segments the index is compacted into: one per core, so that a search alone
/// on the machine spreads over every core.
fn segments_wanted() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

async fn compaction_loop(engine: Weak<Engine>) {
    // The first a period after the one `Engine::open` ran, unless that one left a rewrite.
    let due = engine
        .upgrade()
        .is_some_and(|e| e.index_compactions().rewrite_due);
    let first = tokio::time::Instant::now() + if due { Duration::ZERO } else { COMPACT_EVERY };
    let mut tick = tokio::time::interval_at(first, COMPACT_EVERY);
    // A compaction that outlasts the period is followed by a full period, not a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(engine) = engine.upgrade() else {
            return;
        };
        engine.compact_or_warn(Reach::Full).await;
    }
}

impl Engine {
    /// Runs an index search on tokio's blocking pool. A large search is milliseconds of
    /// CPU during which a runtime worker answers nothing else: in the load test, bookings
    /// and store reads queued behind the feeds' searches on the two workers.
    pub(crate) async fn search_index(&self, query: Query) -> Result<SearchResults, EngineError> {
        let index = self.index.clone();
        tokio::task::spawn_blocking(move || index.search(&query))
            .await
            .map_err(|e| EngineError::Data(format!("the search task failed: {e}")))?
            .map_err(EngineError::from)
    }
}
