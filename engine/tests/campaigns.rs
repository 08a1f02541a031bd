//! Push campaigns on both stores: the 50-place rule, who is targeted and why, a push
//! provider that fails, and re-runs that never notify anyone twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use chrono::NaiveDate;
use engine::campaign::{
    self, CampaignConfig, CampaignRefusal, CampaignStatus, PushMessage, PushSink, SinkError,
};
use engine::domain::Coordinates;
use engine::ids::{OfferId, StockId, UserId};
use engine::money::Cents;
use engine::store::Store;
use engine::testing::{book_one, Fixture, OfferSpec, TestStore, UserSpec};
use engine::{now, EngineError};
use indicatif::ProgressBar;

const DAY: i64 = 86_400;

/// A push provider that refuses the calls whose numbers (from 0) are in `fail`, and
/// remembers every message it accepted, keyed as a real provider deduplicates them.
#[derive(Default)]
struct FlakySink {
    fail: Vec<usize>,
    calls: AtomicUsize,
    accepted: Mutex<Vec<PushMessage>>,
}

impl FlakySink {
    fn failing(fail: &[usize]) -> FlakySink {
        FlakySink {
            fail: fail.to_vec(),
            ..FlakySink::default()
        }
    }

    /// How many times each user was sent a message that the sink accepted.
    fn per_user(&self) -> HashMap<UserId, usize> {
        let mut out = HashMap::new();
        for m in self.accepted.lock().unwrap().iter() {
            *out.entry(m.user_id).or_default() += 1;
        }
        out
    }
}

impl PushSink for FlakySink {
    async fn send(&self, batch: &[PushMessage]) -> Result<(), SinkError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail.contains(&call) {
            return Err(SinkError(format!("call {call} refused")));
        }
        self.accepted.lock().unwrap().extend_from_slice(batch);
        Ok(())
    }
}

fn config(dir: &std::path::Path) -> CampaignConfig {
    CampaignConfig {
        quiet_hours: None,
        backoff_ms: 1,
        out_dir: dir.to_path_buf(),
        ..CampaignConfig::default()
    }
}

fn refusal<T: std::fmt::Debug>(r: Result<T, EngineError>) -> CampaignRefusal {
    match r {
        Err(EngineError::Campaign(r)) => r,
        other => panic!("expected a campaign refusal, got {other:?}"),
    }
}

fn concert(places: i64, starts_in_days: i64) -> OfferSpec {
    let start = now() + starts_in_days * DAY;
    OfferSpec {
        subcategory: "CONCERT",
        price: Cents(1_000),
        quantity: Some(places),
        beginning_at: Some(start),
        booking_limit_at: Some(start - 3 * DAY),
        ..OfferSpec::default()
    }
}

/// The world of the targeting test: who must be in the audience, and who must not.
struct World {
    offer: OfferId,
    offer_stock: StockId,
    small: OfferId,
    closed: OfferId,
    /// Eligible users who booked a concert before (the category is theirs).
    habitual: Vec<UserId>,
    /// Eligible users who never booked a concert.
    newcomers: Vec<UserId>,
    /// Users that a filter must leave out, with the filter's name.
    excluded: Vec<(UserId, &'static str)>,
}

async fn world(store: &Store) -> World {
    let mut f = Fixture::new(1);
    let (offer, offer_stock) = f.offer(concert(60, 20));
    let (small, _) = f.offer(concert(20, 20));
    let (closed, _) = f.offer(concert(100, 2));
    // A concert that took place, which habitual users booked before it did.
    let (_, past_stock) = f.offer(concert(100, -10));
    let (_, book_stock) = f.offer(OfferSpec::default());
    let paris = UserSpec::default();
    let habitual: Vec<UserId> = (0..4).map(|_| f.user_with(paris.clone())).collect();
    let newcomers: Vec<UserId> = (0..6).map(|_| f.user_with(paris.clone())).collect();
    let opted_out = f.user_with(UserSpec {
        opt_in: false,
        ..paris.clone()
    });
    let far = f.user_with(UserSpec {
        home: Coordinates::new(45.764, 4.8357).unwrap(),
        department: "69",
        ..paris.clone()
    });
    let poor = f.user_with(UserSpec {
        credit: Some(Cents(999)),
        ..paris.clone()
    });
    let no_deposit = f.user_with(UserSpec {
        credit: None,
        ..paris.clone()
    });
    let too_old = f.user_with(UserSpec {
        birth: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        ..paris.clone()
    });
    let booked = f.user_with(paris.clone());
    // Inside the box around the 30 km disk, but ≈ 31 km away: only the exact distance leaves it out.
    let corner = f.user_with(UserSpec {
        home: Coordinates::new(49.0566, 2.6522).unwrap(),
        department: "95",
        ..paris.clone()
    });
    f.write(store).await;
    for &u in &habitual {
        book_one(store, u, past_stock, now() - 20 * DAY).await;
    }
    // Newcomers read books: history, but not in the offer's category.
    for &u in &newcomers {
        book_one(store, u, book_stock, now() - 5 * DAY).await;
    }
    book_one(store, booked, offer_stock, now()).await;
    World {
        offer,
        offer_stock,
        small,
        closed,
        habitual,
        newcomers,
        excluded: vec![
            (opted_out, "opted out"),
            (far, "far"),
            (poor, "poor"),
            (no_deposit, "no deposit"),
            (too_old, "too old"),
            (booked, "already booked"),
            (corner, "31 km away"),
        ],
    }
}

#[tokio::test]
async fn requests_follow_the_fifty_place_rule_and_one_campaign_at_a_time() {
    for t in TestStore::each().await {
        let store = &t.store;
        let dir = tempfile::tempdir().unwrap();
        let c = config(dir.path());
        let w = world(store).await;
        let at = now();
        let refused = refusal(campaign::request(store, None, w.small, &c, at).await);
        assert_eq!(
            refused,
            CampaignRefusal::NotEnoughPlaces {
                remaining: 20,
                min: 50
            }
        );
        assert_eq!(refused.code(), "not_enough_places");
        // Bookings closed three days before a concert in two days.
        assert_eq!(
            refusal(campaign::request(store, None, w.closed, &c, at).await),
            CampaignRefusal::NotBookable
        );
        // Another offerer's partner sees the offer as unknown.
        assert!(matches!(
            campaign::request(store, Some(engine::ids::OffererId(999)), w.offer, &c, at).await,
            Err(EngineError::NotFound { .. })
        ));
        let first = campaign::request(store, Some(engine::ids::OffererId(1)), w.offer, &c, at)
            .await
            .unwrap();
        assert_eq!(first.status, CampaignStatus::Requested);
        assert_eq!(
            refusal(campaign::request(store, None, w.offer, &c, at).await),
            CampaignRefusal::AlreadyActive
        );
        // Still refused once sent, within the attribution window; accepted after it.
        let sink = FlakySink::default();
        let runs = campaign::run(store, &sink, &c, None, false, at, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(runs[0].status, CampaignStatus::Sent);
        assert_eq!(
            refusal(campaign::request(store, None, w.offer, &c, at + DAY).await),
            CampaignRefusal::AlreadyActive
        );
        let second = campaign::request(store, None, w.offer, &c, at + 8 * DAY)
            .await
            .unwrap();
        assert_ne!(second.id, first.id);
    }
}

#[tokio::test]
async fn the_audience_is_eligible_near_and_keeps_a_share_for_newcomers() {
    for t in TestStore::each().await {
        let store = &t.store;
        let dir = tempfile::tempdir().unwrap();
        let w = world(store).await;
        let at = now();
        let mut c = config(dir.path());
        campaign::request(store, None, w.offer, &c, at)
            .await
            .unwrap();

        // With room for everyone: exactly the ten eligible users.
        let runs = campaign::run(
            store,
            &FlakySink::default(),
            &c,
            None,
            true,
            at,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        let report = runs[0].audience.clone().unwrap();
        assert_eq!(
            (report.eligible, report.size),
            (10, 10),
            "{:?}",
            store.dialect()
        );
        assert_eq!(report.new_to_category, 6);
        assert_eq!(report.by_age.get(&17), Some(&10));
        assert_eq!(report.by_department.get("75"), Some(&10));
        // A dry run writes nothing.
        let view = &campaign::views(store, None, &c).await.unwrap()[0];
        assert_eq!(
            (view.campaign.status, view.counts.targeted),
            (CampaignStatus::Requested, 0)
        );

        // Room for 6 (0.1 × 60 places), half kept for newcomers: habitual users score
        // higher (they like concerts), so without the quota all four would be in.
        c.audience_multiple = 0.1;
        c.new_to_category_share = 0.5;
        let sink = FlakySink::default();
        let runs = campaign::run(store, &sink, &c, None, false, at, &ProgressBar::hidden())
            .await
            .unwrap();
        let report = runs[0].audience.clone().unwrap();
        assert_eq!(
            (report.bound, report.size, report.new_to_category),
            (6, 6, 3)
        );
        let got = sink.per_user();
        assert_eq!(got.len(), 6);
        assert!(w.habitual.iter().filter(|u| got.contains_key(u)).count() == 3);
        assert!(w.newcomers.iter().filter(|u| got.contains_key(u)).count() == 3);
        for (u, why) in &w.excluded {
            assert!(!got.contains_key(u), "user {u} ({why}) was targeted");
        }
        // The payload file holds one line per targeted user.
        let payload = std::fs::read_to_string(
            dir.path()
                .join(format!("campaign-{}.jsonl", runs[0].campaign)),
        )
        .unwrap();
        assert_eq!(payload.lines().count(), 6);
        assert!(payload.contains("mosaic-campaign-"));
    }
}

#[tokio::test]
async fn a_failing_sink_loses_nothing_and_reruns_send_nothing_twice() {
    for t in TestStore::each().await {
        let store = &t.store;
        let dir = tempfile::tempdir().unwrap();
        let w = world(store).await;
        let at = now();
        let c = CampaignConfig {
            batch_size: 3,
            max_attempts: 2,
            ..config(dir.path())
        };
        let id = campaign::request(store, None, w.offer, &c, at)
            .await
            .unwrap()
            .id;
        // Call 0 (batch 1) passes; calls 1 and 2 (batch 2, twice) fail: the run gives up.
        let sink = FlakySink::failing(&[1, 2]);
        let runs = campaign::run(store, &sink, &c, None, false, at, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!((runs[0].sent, runs[0].failed), (3, 3));
        assert_eq!(runs[0].status, CampaignStatus::Sending);
        let counts = campaign::views(store, None, &c).await.unwrap()[0].counts;
        assert_eq!((counts.targeted, counts.sent, counts.failed), (10, 3, 3));

        // The next run resumes with the pending ones: each user gets exactly one message.
        let runs = campaign::run(
            store,
            &sink,
            &c,
            Some(id),
            false,
            at,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert_eq!(
            (runs[0].sent, runs[0].failed, runs[0].status),
            (7, 0, CampaignStatus::Sent)
        );
        let per_user = sink.per_user();
        assert_eq!(per_user.len(), 10);
        assert!(per_user.values().all(|&n| n == 1), "{per_user:?}");
        let counts = campaign::views(store, None, &c).await.unwrap()[0].counts;
        assert_eq!((counts.targeted, counts.sent, counts.failed), (10, 10, 0));

        // A re-run finds nothing to do and sends nothing.
        let calls = sink.calls.load(Ordering::SeqCst);
        let runs = campaign::run(store, &sink, &c, None, false, at, &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(runs.is_empty());
        assert_eq!(sink.calls.load(Ordering::SeqCst), calls);

        // The frequency cap: a second offer's campaign the next day skips the ten just
        // notified (only the user who had booked the first offer is left); three days
        // later they may be notified again.
        let mut f = Fixture::new(10_000);
        let (other, _) = f.offer(concert(80, 20));
        f.write(store).await;
        campaign::request(store, None, other, &c, at + DAY)
            .await
            .unwrap();
        let runs = campaign::run(
            store,
            &sink,
            &c,
            None,
            true,
            at + DAY,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert_eq!(runs[0].audience.as_ref().unwrap().size, 1);
        let runs = campaign::run(
            store,
            &sink,
            &c,
            None,
            true,
            at + 3 * DAY + 60,
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert_eq!(runs[0].audience.as_ref().unwrap().size, 11);

        // A booking by a notified user within 7 days is attributed to the campaign.
        let notified = *per_user.keys().next().unwrap();
        book_one(store, notified, w.offer_stock, now() + 60).await;
        let counts = campaign::views(store, None, &c).await.unwrap()[0].counts;
        assert_eq!(counts.bookings_attributed, 1);
    }
}

#[tokio::test]
async fn a_campaign_stops_when_its_offer_sells_out_before_sending() {
    for t in TestStore::each().await {
        let store = &t.store;
        let dir = tempfile::tempdir().unwrap();
        let mut f = Fixture::new(1);
        let (offer, stock) = f.offer(concert(50, 20));
        let buyers: Vec<UserId> = (0..50).map(|_| f.user_with(UserSpec::default())).collect();
        let waiting = f.user_with(UserSpec::default());
        f.write(store).await;
        let c = config(dir.path());
        let at = now();
        let id = campaign::request(store, None, offer, &c, at)
            .await
            .unwrap()
            .id;
        for &u in &buyers {
            book_one(store, u, stock, at).await;
        }
        let sink = FlakySink::default();
        let runs = campaign::run(store, &sink, &c, None, false, at, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(runs[0].status, CampaignStatus::Stopped);
        assert!(sink.per_user().is_empty());
        let view = campaign::views(store, None, &c).await.unwrap().remove(0);
        assert_eq!(view.campaign.id, id);
        assert_eq!(view.campaign.stop_reason.as_deref(), Some("sold_out"));
        let _ = waiting;
    }
}

#[tokio::test]
async fn a_dry_run_keeps_the_frequency_cap_across_campaigns_as_a_real_run_does() {
    for t in TestStore::each().await {
        let store = &t.store;
        let dir = tempfile::tempdir().unwrap();
        let w = world(store).await;
        // A second concert near the same users, from another venue.
        let mut other = Fixture::new(10_000);
        let (second, _) = other.offer(concert(80, 25));
        other.write(store).await;
        let at = now();
        let c = config(dir.path());
        campaign::request(store, None, w.offer, &c, at)
            .await
            .unwrap();
        campaign::request(store, None, second, &c, at)
            .await
            .unwrap();
        let sizes = |runs: &[campaign::CampaignRun]| -> Vec<usize> {
            runs.iter()
                .map(|r| r.audience.as_ref().map_or(0, |a| a.size))
                .collect()
        };
        let hidden = ProgressBar::hidden();
        let sink = FlakySink::default();
        // Users can be pushed once in three days: the first campaign takes its ten
        // eligible users, the second only the one who was left out of the first for
        // holding a booking of it — in the dry run as in the real one.
        let dry = campaign::run(store, &sink, &c, None, true, at, &hidden)
            .await
            .unwrap();
        assert_eq!(sizes(&dry), vec![10, 1], "{:?}", store.dialect());
        let real = campaign::run(store, &sink, &c, None, false, at, &hidden)
            .await
            .unwrap();
        assert_eq!(sizes(&real), sizes(&dry));
        assert_eq!(sink.per_user().len(), 11);
    }
}
