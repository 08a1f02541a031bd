//! The offer index against the store: exact geography on the generated world, reopening
//! after a restart, rebuilding when corrupt, and changes made by another process.

use std::time::{Duration, Instant};

use engine::booking::BookingRequest;
use engine::domain::Coordinates;
use engine::ids::{StockId, UserId};
use engine::money::Cents;
use engine::seed::{Profile, SeedConfig};
use engine::testing::{Fixture, OfferSpec, TestStore};
use engine::{seed_store, DigitalMode, Engine, SearchRequest};
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

/// 1,000 radius queries on the `ci` world, centres on real places including Corsica and
/// overseas: the index's hit counts equal a brute-force haversine count over the store.
#[tokio::test]
async fn radius_searches_match_a_brute_force_scan_of_the_store() {
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
    // Searchable physical offers: active, with a stock still bookable for one place.
    let offers: Vec<(i64, f64, f64)> = engine
        .store()
        .offer_records()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.stocks.iter().any(|s| s.is_bookable(now, 1)))
        .filter_map(|r| {
            r.venue
                .map(|v| (r.offer.id.0, v.location.lat(), v.location.lon()))
        })
        .collect();
    let centres = [
        (48.8566, 2.3522),
        (41.9192, 8.7386),
        (4.9372, -52.3260),
        (-20.8823, 55.4504),
        (45.76, 4.84),
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    for i in 0..1_000 {
        let (lat, lon) = if i % 2 == 0 {
            centres[i % centres.len()]
        } else {
            let o = offers[rng.gen_range(0..offers.len())];
            (
                o.1 + rng.gen_range(-0.05..0.05),
                o.2 + rng.gen_range(-0.05..0.05),
            )
        };
        let radius_km = 0.5 * 200f64.powf(rng.gen::<f64>());
        let centre = Coordinates::new(lat, lon).unwrap();
        let expected = offers
            .iter()
            .filter(|o| {
                indexer::haversine_m(centre, Coordinates::new(o.1, o.2).unwrap())
                    <= radius_km * 1000.0
            })
            .count();
        let found = engine.search(&near(lat, lon, radius_km)).await.unwrap();
        assert_eq!(
            found.total, expected,
            "query {i}: {radius_km:.2} km around ({lat}, {lon})"
        );
    }
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
    drop(engine);

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
    let deadline = Instant::now() + Duration::from_secs(1);
    while engine.search(&paris).await.unwrap().total != 1 {
        assert!(
            Instant::now() < deadline,
            "the sold-out offer is still searchable after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
