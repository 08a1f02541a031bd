//! The offer index against the store: exact geography on the generated world, reopening
//! after a restart, rebuilding when corrupt, and changes made by another process.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use engine::booking::BookingRequest;
use engine::domain::Coordinates;
use engine::ids::{OfferId, StockId, UserId};
use engine::money::Cents;
use engine::seed::{Profile, SeedConfig};
use engine::testing::{Fixture, OfferSpec, TestStore};
use engine::{seed_store, DigitalMode, Engine, SearchRequest};
use indexer::{haversine_m, BoundingBox, GeoFilter, Query, SortBy};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};

fn near(lat: f64, lon: f64, radius_km: f64) -> SearchRequest {
    SearchRequest {
        at: Some(Coordinates::new(lat, lon).unwrap()),
        radius_km: Some(radius_km),
        digital: DigitalMode::Exclude,
        limit: 100,
        ..SearchRequest::default()
    }
}

/// The `ci` world, its engine, and its searchable physical offers by id: active, with a
/// stock still bookable for one place, at their venue's coordinates.
async fn ci_world() -> (
    TestStore,
    std::sync::Arc<Engine>,
    BTreeMap<u64, Coordinates>,
) {
    let t = TestStore::sqlite().await;
    let today = chrono::Utc::now().date_naive();
    seed_store(
        &t.store,
        SeedConfig {
            profile: Profile::Ci,
            seed: 21,
            today,
        },
        &ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let engine = Engine::open(t.store.clone(), None).await.unwrap();
    let now = engine::now();
    let offers = engine
        .store()
        .offer_records()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.stocks.iter().any(|s| s.is_bookable(now, 1)))
        .filter_map(|r| r.venue.map(|v| (r.offer.id.0 as u64, v.location)))
        .collect();
    (t, engine, offers)
}

/// Query `i`'s centre, in turn: a real place (Paris, Ajaccio, Cayenne, Saint-Denis de La
/// Réunion, Lyon), a point a few metres from a vertex of an offer's H3 cell at an indexed
/// resolution (where a sloppy cover would miss), and a point near a random offer.
fn centre(i: usize, rng: &mut impl Rng, offers: &[Coordinates]) -> Coordinates {
    const PLACES: [(f64, f64); 5] = [
        (48.8566, 2.3522),
        (41.9192, 8.7386),
        (4.9372, -52.3260),
        (-20.8823, 55.4504),
        (45.76, 4.84),
    ];
    let o = offers[rng.gen_range(0..offers.len())];
    let (lat, lon) = match i % 3 {
        0 => PLACES[(i / 3) % PLACES.len()],
        1 => {
            let res = h3o::Resolution::try_from(rng.gen_range(4u8..=9)).unwrap();
            let cell = h3o::LatLng::new(o.lat(), o.lon()).unwrap().to_cell(res);
            let boundary = cell.boundary();
            let v = boundary[rng.gen_range(0..boundary.len())];
            (
                v.lat() + rng.gen_range(-3e-5..3e-5),
                v.lng() + rng.gen_range(-3e-5..3e-5),
            )
        }
        _ => (
            o.lat() + rng.gen_range(-0.05..0.05),
            o.lon() + rng.gen_range(-0.05..0.05),
        ),
    };
    Coordinates::new(lat, lon).unwrap()
}

/// Every hit of a search, paged through at once.
fn hit_set(engine: &Engine, geo: GeoFilter) -> BTreeMap<u64, Option<f64>> {
    let results = engine
        .index()
        .search(&Query {
            geo: Some(geo),
            digital: DigitalMode::Exclude,
            sort: Some(SortBy::Distance),
            limit: 10_000,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        results.total,
        results.hits.len(),
        "one page holds every hit"
    );
    results.hits.iter().map(|h| (h.id, h.distance_m)).collect()
}

/// Offers in `expected` and not in `found`, and the other way round.
fn differences<V>(expected: &BTreeSet<u64>, found: &BTreeMap<u64, V>) -> (Vec<u64>, Vec<u64>) {
    let missing = expected
        .iter()
        .filter(|id| !found.contains_key(id))
        .copied()
        .collect();
    let extra = found
        .keys()
        .filter(|id| !expected.contains(id))
        .copied()
        .collect();
    (missing, extra)
}

/// 1,000 radius queries (0.5–100 km) on the `ci` world: the index's hit set equals a
/// brute-force haversine scan of the store, 0 missing and 0 extra, with exact distances.
#[tokio::test]
async fn radius_searches_match_a_brute_force_scan_of_the_store() {
    let (_t, engine, offers) = ci_world().await;
    let points: Vec<Coordinates> = offers.values().copied().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut hits = 0;
    for i in 0..1_000 {
        let centre = centre(i, &mut rng, &points);
        let radius_m = 500.0 * 200f64.powf(rng.gen::<f64>());
        let expected: BTreeSet<u64> = offers
            .iter()
            .filter(|(_, &p)| haversine_m(centre, p) <= radius_m)
            .map(|(&id, _)| id)
            .collect();
        let found = hit_set(
            &engine,
            GeoFilter::Radius {
                center: centre,
                radius_m,
            },
        );
        let (missing, extra) = differences(&expected, &found);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "query {i}: {radius_m:.0} m around {centre:?}: missing {missing:?}, extra {extra:?}"
        );
        for (id, distance) in &found {
            let exact = haversine_m(centre, offers[id]);
            assert!(
                distance.is_some_and(|d| (d - exact).abs() < 1e-6),
                "query {i}: offer {id} at {distance:?} m, {exact} m by haversine"
            );
        }
        hits += found.len();
    }
    assert!(hits > 10_000, "the queries found offers: {hits}");
}

/// 1,000 bounding boxes (0.5–100 km across, same centres) on the `ci` world: the index's
/// hit set equals a scan of the store, 0 missing and 0 extra.
#[tokio::test]
async fn bounding_boxes_match_a_brute_force_scan_of_the_store() {
    let (_t, engine, offers) = ci_world().await;
    let points: Vec<Coordinates> = offers.values().copied().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut hits = 0;
    for i in 0..1_000 {
        let c = centre(i, &mut rng, &points);
        let half_km = 0.25 * 200f64.powf(rng.gen::<f64>());
        let dlat = half_km / 111.2;
        let dlon = dlat / c.lat().to_radians().cos();
        let bbox = BoundingBox::new(
            c.lat() - dlat,
            c.lon() - dlon,
            c.lat() + dlat,
            c.lon() + dlon,
        )
        .unwrap();
        let expected: BTreeSet<u64> = offers
            .iter()
            .filter(|(_, &p)| bbox.contains(p))
            .map(|(&id, _)| id)
            .collect();
        let found = hit_set(&engine, GeoFilter::BoundingBox(bbox));
        let (missing, extra) = differences(&expected, &found);
        assert!(
            missing.is_empty() && extra.is_empty(),
            "box {i}: {bbox:?}: missing {missing:?}, extra {extra:?}"
        );
        hits += found.len();
    }
    assert!(hits > 10_000, "the boxes found offers: {hits}");
}

async fn one_offer_world() -> (TestStore, StockId, UserId) {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let (_, stock) = f.offer(OfferSpec {
        price: Cents(500),
        quantity: Some(1),
        ..OfferSpec::default()
    });
    f.offer(OfferSpec {
        price: Cents(500),
        ..OfferSpec::default()
    });
    let user = f.user(Some(Cents(5_000)), None);
    f.write(&t.store).await;
    (t, stock, user)
}

/// Drops `engine` and waits until it is gone, as a stopped server's would be: its
/// background refresh may hold it to the end of a refresh (an index commit), and a new
/// engine opened on the same folder meanwhile would find the old one still writing there.
async fn close(engine: std::sync::Arc<Engine>) {
    let gone = std::sync::Arc::downgrade(&engine);
    drop(engine);
    let deadline = Instant::now() + Duration::from_secs(30);
    while gone.strong_count() > 0 {
        assert!(Instant::now() < deadline, "the engine was never released");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_on_disk_index_reopens_catches_up_and_is_rebuilt_when_corrupt() {
    let (t, stock, user) = one_offer_world().await;
    let dir = tempfile::tempdir().unwrap();
    let paris = near(48.8566, 2.3522, 5.0);
    {
        let engine = Engine::open(t.store.clone(), Some(dir.path()))
            .await
            .unwrap();
        assert_eq!(engine.search(&paris).await.unwrap().total, 2);
        close(engine).await;
    }
    // While no server runs, another process sells the last place.
    let req = BookingRequest {
        user_id: user,
        stock_id: stock,
        quantity: 1,
        now: engine::now(),
    };
    t.store.book(&req, None).await.unwrap();
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    assert_eq!(
        engine.search(&paris).await.unwrap().total,
        1,
        "the reopened index caught up"
    );
    close(engine).await;

    // A damaged index is rebuilt from the store, not trusted.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::write(&path, b"{ broken").unwrap();
        }
    }
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    assert_eq!(engine.indexed_offers(), 2);
    assert_eq!(engine.search(&paris).await.unwrap().total, 1);
}

#[tokio::test]
async fn an_index_folder_in_use_is_neither_reopened_nor_emptied() {
    let (t, _, _) = one_offer_world().await;
    let dir = tempfile::tempdir().unwrap();
    let paris = near(48.8566, 2.3522, 5.0);
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    let files = |dir: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = files(dir.path());
    // A second server, and a rebuild, on the folder the first one serves from.
    let second = Engine::open(t.store.clone(), Some(dir.path())).await;
    let rebuild =
        Engine::rebuild_with_progress(t.store.clone(), dir.path(), &ProgressBar::hidden()).await;
    for refused in [second, rebuild] {
        let Err(e) = refused else {
            panic!("a second engine opened a folder in use")
        };
        assert!(e.to_string().contains("in use by another process"), "{e}");
    }
    assert_eq!(files(dir.path()), before, "the folder was touched");
    assert_eq!(engine.search(&paris).await.unwrap().total, 2);
    close(engine).await;

    // Once the first is gone, a rebuild may take the folder.
    let engine = Engine::rebuild_with_progress(t.store.clone(), dir.path(), &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(engine.indexed_offers(), 2);
    assert_eq!(engine.search(&paris).await.unwrap().total, 2);
}

#[tokio::test]
async fn changes_made_by_another_process_reach_the_index_within_a_second() {
    let (t, stock, user) = one_offer_world().await;
    let engine = Engine::open(t.store.clone(), None).await.unwrap();
    let paris = near(48.8566, 2.3522, 5.0);
    assert_eq!(engine.search(&paris).await.unwrap().total, 2);
    // Booked straight in the store, as a batch job or another replica would.
    let req = BookingRequest {
        user_id: user,
        stock_id: stock,
        quantity: 1,
        now: engine::now(),
    };
    t.store.book(&req, None).await.unwrap();
    until_found(&engine, &paris, 1, Duration::from_secs(1)).await;
}

/// Waits until `search` finds `expected` offers, or panics after `within`.
async fn until_found(engine: &Engine, search: &SearchRequest, expected: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let found = engine.search(search).await.unwrap().total;
        if found == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{found} offers found after {within:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Withdraws `offer` in a transaction opened on `url` and left open, as a batch job would,
/// stamping the change when it makes it; then waits until `engine`'s refreshes have read
/// seconds past the stamp. The caller commits.
async fn withdraw_and_hold(url: &str, offer: OfferId, engine: &Engine) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut job = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut job).await.unwrap();
    sqlx::query("UPDATE offers SET is_active = FALSE, updated_at = $1 WHERE id = $2")
        .bind(engine::now())
        .bind(offer.0)
        .execute(&mut job)
        .await
        .unwrap();
    until_refreshed(engine, engine::now() + 3).await;
    job
}

/// Waits until `engine` has refreshed its index at or after the instant `at`.
async fn until_refreshed(engine: &Engine, at: engine::domain::Timestamp) {
    while engine.index_synced_at() < at {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Only PostgreSQL tells which transactions are open; an SQLite writer holds the whole file,
// and is this process's own.
#[tokio::test]
async fn a_change_committed_long_after_its_stamp_reaches_the_index() {
    let Some(t) = TestStore::postgres().await else {
        return;
    };
    let mut f = Fixture::new(1);
    f.offer(OfferSpec::default());
    let (withdrawn, _) = f.offer(OfferSpec::default());
    f.write(&t.store).await;
    let engine = Engine::open(t.store.clone(), None).await.unwrap();
    let paris = near(48.8566, 2.3522, 5.0);
    assert_eq!(engine.search(&paris).await.unwrap().total, 2);

    // Meanwhile, refreshes read past the stamp and saw nothing.
    let mut job = withdraw_and_hold(&t.url, withdrawn, &engine).await;
    assert_eq!(
        engine.search(&paris).await.unwrap().total,
        2,
        "not committed yet"
    );
    sqlx::query("COMMIT").execute(&mut job).await.unwrap();
    until_found(&engine, &paris, 1, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_restart_catches_up_with_a_transaction_open_when_the_server_stopped() {
    let Some(t) = TestStore::postgres().await else {
        return;
    };
    let (withdrawn, _) = {
        let mut f = Fixture::new(1);
        let offer = f.offer(OfferSpec::default());
        f.offer(OfferSpec::default());
        f.write(&t.store).await;
        offer
    };
    let dir = tempfile::tempdir().unwrap();
    let paris = near(48.8566, 2.3522, 5.0);
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    let mut job = withdraw_and_hold(&t.url, withdrawn, &engine).await;
    close(engine).await;
    sqlx::query("COMMIT").execute(&mut job).await.unwrap();
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    assert_eq!(
        engine.search(&paris).await.unwrap().total,
        1,
        "the reopened index read back to the transaction's start"
    );
}

#[tokio::test]
async fn each_booking_made_elsewhere_is_pushed_to_the_index_once() {
    for t in TestStore::each().await {
        let mut f = Fixture::new(1);
        let stocks: Vec<StockId> = (0..3).map(|_| f.offer(OfferSpec::default()).1).collect();
        let user = f.user(Some(Cents(5_000)), None);
        f.write(&t.store).await;
        let engine = Engine::open(t.store.clone(), None).await.unwrap();
        assert_eq!(engine.reindexed_offers(), 0, "a build is not a refresh");
        for stock in stocks {
            engine::testing::book_one(&t.store, user, stock, engine::now()).await;
        }
        // Every refresh looks back over a second or two: long enough for each to read the
        // bookings again, several times.
        until_refreshed(&engine, engine::now() + 4).await;
        assert_eq!(engine.reindexed_offers(), 3, "{}", t.url);
    }
}

#[tokio::test]
async fn the_store_reports_each_change_in_the_window_once() {
    use engine::store::{ChangeKind, Event};
    for t in TestStore::each().await {
        let now = engine::now();
        let mut f = Fixture::new(1);
        let (closing, closing_stock) = f.offer(OfferSpec {
            booking_limit_at: Some(now - 2),
            ..OfferSpec::default()
        });
        let (booked, stock) = f.offer(OfferSpec::default());
        let user = f.user(Some(Cents(5_000)), None);
        f.write(&t.store).await;
        let booking = engine::testing::book_one(&t.store, user, stock, now).await;
        t.store
            .cancel(booking.id, engine::booking::Canceller::User(user), now + 1)
            .await
            .unwrap();
        let events = |since, until| {
            let store = t.store.clone();
            async move {
                let mut events: Vec<(OfferId, Event)> = store
                    .index_changes(since, until)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter_map(|c| match c.kind {
                        ChangeKind::Event(e) => Some((c.offer, e)),
                        ChangeKind::Written => None,
                    })
                    .collect();
                events.sort_by_key(|(offer, e)| (*offer, format!("{e:?}")));
                events
            }
        };
        assert_eq!(
            events(now - 5, now + 1).await,
            vec![
                (closing, Event::LimitPassed(closing_stock, now - 2)),
                (booked, Event::Booked(booking.id)),
                (booked, Event::Cancelled(booking.id)),
            ],
            "{}",
            t.url
        );
        // A window after the booking was made still holds its cancellation; a stock's
        // limit is a change only once time has reached it.
        assert_eq!(
            events(now + 1, now + 1).await,
            vec![(booked, Event::Cancelled(booking.id))]
        );
        let early = events(now - 5, now - 3).await;
        assert!(
            !early
                .iter()
                .any(|(_, e)| matches!(e, Event::LimitPassed(..))),
            "the limit had not passed yet: {early:?}"
        );
    }
}

/// Re-adds each of `offers` in a segment of its own, as refreshes a second apart leave
/// them (the refreshes of one second all re-add every offer changed in it, and the
/// earlier segments, holding only deleted documents then, are dropped).
fn one_segment_each(index: &indexer::OfferIndex, offers: &[(OfferId, StockId)]) {
    for &(offer, _) in offers {
        let doc = index.get(offer.0 as u64).unwrap().expect("indexed");
        index.upsert([doc]).unwrap();
        index.commit().unwrap();
    }
}

/// What a restart does with the segments its last run left: the small ones merged before
/// it serves, and the rewrite of a large one, seconds on the bench world, right after.
#[tokio::test]
async fn a_reopened_index_merges_its_small_segments_before_serving_and_rewrites_after() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let parts = std::thread::available_parallelism().map_or(1, usize::from);
    let offers: Vec<(OfferId, StockId)> = (0..4 * parts)
        .map(|_| f.offer(OfferSpec::default()))
        .collect();
    f.write(&t.store).await;
    let dir = tempfile::tempdir().unwrap();
    {
        let engine = Engine::open(t.store.clone(), Some(dir.path()))
            .await
            .unwrap();
        one_segment_each(engine.index(), &offers[..parts + 2]);
        assert!(engine.index().segment_count() > parts);
        close(engine).await;
    }
    let engine = Engine::open(t.store.clone(), Some(dir.path()))
        .await
        .unwrap();
    // Checked before anything else runs on this thread, so not by the background task.
    assert!(
        engine.index().segment_count() <= parts + 1,
        "{} segments for {parts} cores",
        engine.index().segment_count()
    );
    let opened = engine.index_compactions();
    assert_eq!(opened.count, 1, "the small segments were merged");
    // Half the offers in segments of one: far more than an eighth of the build's segment.
    assert!(opened.rewrite_due, "{opened:?}");
    assert_eq!(engine.indexed_offers(), offers.len() as u64);
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.index_compactions().rewrite_due {
        assert!(
            Instant::now() < deadline,
            "the compaction task did not rewrite"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(engine.index_compactions().count, 2);
    assert!(
        engine.index().segment_count() <= parts,
        "{} segments for {parts} cores after the rewrite",
        engine.index().segment_count()
    );
    assert_eq!(engine.indexed_offers(), offers.len() as u64);
}

#[tokio::test]
async fn segments_left_by_refreshes_are_merged_back_without_changing_answers() {
    let t = TestStore::sqlite().await;
    let mut f = Fixture::new(1);
    let parts = std::thread::available_parallelism().map_or(1, usize::from);
    let offers: Vec<(OfferId, StockId)> = (0..10 * parts)
        .map(|_| {
            f.offer(OfferSpec {
                price: Cents(500),
                quantity: Some(10),
                ..OfferSpec::default()
            })
        })
        .collect();
    let user = f.user(Some(Cents(50_000)), None);
    f.write(&t.store).await;
    let engine = Engine::open(t.store.clone(), None).await.unwrap();
    let places = |engine: &Engine| -> BTreeMap<u64, Option<u64>> {
        let results = engine
            .index()
            .search(&Query {
                geo: Some(GeoFilter::Radius {
                    center: Coordinates::new(48.8566, 2.3522).unwrap(),
                    radius_m: 5_000.0,
                }),
                digital: DigitalMode::Exclude,
                limit: 100,
                ..Query::default()
            })
            .unwrap();
        results
            .hits
            .iter()
            .map(|h| (h.id, h.remaining_places))
            .collect()
    };
    assert!(
        engine.index().segment_count() <= parts,
        "a fresh build is compact"
    );
    let booked = &offers[..parts + 2];
    for &(_, stock) in booked {
        engine.book(user, stock, 1, None).await.unwrap();
    }
    engine.refresh_index().await.unwrap();
    let index = engine.index();
    one_segment_each(index, booked);
    let segments = index.segment_count();
    assert!(segments > parts, "{segments} segments for {parts} cores");
    let before = places(&engine);
    assert_eq!(before.len(), offers.len());
    let left_of = |offer: OfferId| before[&(offer.0 as u64)];
    assert!(
        booked.iter().all(|&(o, _)| left_of(o) == Some(9)),
        "{before:?}"
    );
    assert!(offers[parts + 2..]
        .iter()
        .all(|&(o, _)| left_of(o) == Some(10)));

    let compacted = engine.index_compactions();
    let left = engine.compact_index().await.unwrap();
    assert!(left <= parts, "{left} segments left for {parts} cores");
    let after = engine.index_compactions();
    assert_eq!(after.count, compacted.count + 1, "counted for the metrics");
    assert!(after.time > compacted.time);
    assert_eq!(index.segment_count(), left, "searches see them");
    assert_eq!(places(&engine), before, "the same offers, places and all");
    assert_eq!(engine.indexed_offers(), offers.len() as u64);
    assert_eq!(
        engine.compact_index().await.unwrap(),
        left,
        "nothing more to merge"
    );
    assert_eq!(
        engine.index_compactions(),
        after,
        "nothing merged, nothing counted"
    );
}
