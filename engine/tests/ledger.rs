//! Credit and booking lifecycle on both stores: every cent accounted for at each step.

use chrono::NaiveDate;
use engine::booking::{BookingRequest, Canceller, Refusal};
use engine::ids::StockId;
use engine::money::Cents;
use engine::store::{IdempotencyKey, Store};
use engine::testing::{book_one, Fixture, OfferSpec, TestStore};
use engine::{now, EngineError};
use indicatif::ProgressBar;

const H: i64 = 3_600;
const DAY: i64 = 86_400;

fn refusal<T: std::fmt::Debug>(r: Result<T, EngineError>) -> Refusal {
    match r {
        Err(EngineError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn reconciles(store: &Store) {
    assert_eq!(
        store.ledger_check().await.unwrap(),
        vec![],
        "{:?}",
        store.dialect()
    );
}

#[tokio::test]
async fn user_cancellation_closes_at_the_minute_and_refunds_once() {
    for t in TestStore::each().await {
        let store = &t.store;
        let booked_at = now() - DAY;
        let mut f = Fixture::new(1);
        let far = Some(booked_at + 30 * DAY);
        let soon = Some(booked_at + 72 * H);
        let concert = |beginning_at| OfferSpec {
            subcategory: "CONCERT",
            price: Cents(1000),
            beginning_at,
            booking_limit_at: beginning_at.map(|b| b - 3 * DAY),
            ..OfferSpec::default()
        };
        let stocks: Vec<StockId> = [far, far, soon, soon]
            .into_iter()
            .map(|b| f.offer(concert(b)).1)
            .collect();
        let user = f.user(Some(Cents(10_000)), None);
        let other = f.user(Some(Cents(10_000)), None);
        f.write(store).await;
        let mut bookings = Vec::new();
        for &s in &stocks {
            bookings.push(book_one(store, user, s, booked_at).await);
        }
        let me = Canceller::User(user);
        // 48 h after booking, the event a month away.
        store
            .cancel(bookings[0].id, me, booked_at + 47 * H + 59 * 60)
            .await
            .unwrap();
        assert_eq!(
            refusal(
                store
                    .cancel(bookings[1].id, me, booked_at + 48 * H + 60)
                    .await
            ),
            Refusal::CancellationClosed
        );
        // 48 h before an event three days away comes first: booked_at + 24 h.
        store
            .cancel(bookings[2].id, me, booked_at + 24 * H - 60)
            .await
            .unwrap();
        assert_eq!(
            refusal(
                store
                    .cancel(bookings[3].id, me, booked_at + 24 * H + 60)
                    .await
            ),
            Refusal::CancellationClosed
        );
        // Nobody cancels twice; another user sees nothing; the venue may cancel late.
        assert_eq!(
            refusal(store.cancel(bookings[0].id, me, booked_at + H).await),
            Refusal::AlreadyCancelled
        );
        let hidden = store
            .cancel(bookings[1].id, Canceller::User(other), booked_at + H)
            .await;
        assert!(
            matches!(hidden, Err(EngineError::NotFound { .. })),
            "{hidden:?}"
        );
        store
            .cancel(
                bookings[1].id,
                Canceller::Partner(engine::ids::OffererId(1)),
                booked_at + 20 * DAY,
            )
            .await
            .unwrap();

        let deposit = store.active_deposit(user, now()).await.unwrap().unwrap();
        assert_eq!(
            deposit.remaining(),
            Cents(10_000 - 1000),
            "three refunds of four bookings"
        );
        for s in [stocks[0], stocks[1], stocks[2]] {
            assert_eq!(store.stock(s).await.unwrap().unwrap().booked, 0);
        }
        reconciles(store).await;
    }
}

#[tokio::test]
async fn grants_follow_the_policy_carry_over_and_never_repeat() {
    for t in TestStore::each().await {
        let store = &t.store;
        let mut f = Fixture::new(1);
        let (_, book_stock) = f.offer(OfferSpec {
            price: Cents(500),
            ..OfferSpec::default()
        });
        // Born 2008-06-01: 20 € at 15 and 30 € at 16 (2021 policy), 50 € at 17 and 150 € at 18 (2025).
        let user = f.user_born(NaiveDate::from_ymd_opt(2008, 6, 1).unwrap());
        f.write(store).await;
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let at = |s: &str| day(s).and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp();
        let bar = ProgressBar::hidden();

        let first = store.grant_due(day("2023-06-10"), &bar).await.unwrap();
        assert_eq!(first.granted, 1);
        assert_eq!(
            store
                .grant_due(day("2023-06-10"), &bar)
                .await
                .unwrap()
                .granted,
            0,
            "idempotent"
        );
        book_one(store, user, book_stock, at("2023-07-01")).await;
        reconciles(store).await;

        let second = store.grant_due(day("2024-06-10"), &bar).await.unwrap();
        assert_eq!(
            (second.granted, second.carried_cents),
            (1, 1500),
            "the 15 € left move to the new deposit"
        );
        let d = store
            .active_deposit(user, at("2024-06-10"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (d.policy.as_str(), d.age, d.amount, d.carried_in),
            ("2021", 16, Cents(4500), Cents(1500))
        );
        reconciles(store).await;

        let third = store.grant_due(day("2026-06-10"), &bar).await.unwrap();
        assert_eq!(third.granted, 2, "17 then 18, both under the 2025 policy");
        let d = store
            .active_deposit(user, at("2026-06-10"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((d.policy.as_str(), d.age), ("2025", 18));
        assert_eq!(
            d.amount,
            Cents(15_000 + 9_500),
            "150 € plus 45 € and 50 € carried over twice"
        );
        reconciles(store).await;
    }
}

#[tokio::test]
async fn uncollected_goods_expire_and_past_events_are_used() {
    for t in TestStore::each().await {
        let store = &t.store;
        let mut f = Fixture::new(1);
        let (_, paper) = f.offer(OfferSpec {
            subcategory: "LIVRE_PAPIER",
            price: Cents(1200),
            ..OfferSpec::default()
        });
        let (_, cd) = f.offer(OfferSpec {
            subcategory: "SUPPORT_PHYSIQUE_MUSIQUE_CD",
            price: Cents(1500),
            ..OfferSpec::default()
        });
        let start = now() + 5 * DAY;
        let (_, show) = f.offer(OfferSpec {
            subcategory: "SPECTACLE_REPRESENTATION",
            price: Cents(800),
            beginning_at: Some(start),
            booking_limit_at: Some(start - 3 * DAY),
            ..OfferSpec::default()
        });
        let user = f.user(Some(Cents(10_000)), None);
        f.write(store).await;
        let eleven_days_ago = now() - 11 * DAY;
        let b_paper = book_one(store, user, paper, eleven_days_ago).await;
        let b_cd = book_one(store, user, cd, eleven_days_ago).await;
        let b_show = book_one(store, user, show, now() - DAY).await;

        let today = store.expire_bookings(now(), 10, 30).await.unwrap();
        assert_eq!(
            today.expired.iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![b_paper.id]
        );
        assert_eq!(today.marked_used, 0);
        // Three days after the show.
        let later = store
            .expire_bookings(start + 3 * DAY, 10, 30)
            .await
            .unwrap();
        assert!(later.expired.is_empty());
        assert_eq!(later.marked_used, 1);
        assert_eq!(
            store
                .booking(b_show.id)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "used"
        );
        assert_eq!(
            store
                .booking(b_cd.id)
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "confirmed"
        );
        let d = store.active_deposit(user, now()).await.unwrap().unwrap();
        assert_eq!(d.spent, Cents(1500 + 800), "the paper book was refunded");
        reconciles(store).await;
    }
}

#[tokio::test]
async fn idempotent_retries_book_once_and_doors_validate_once() {
    for t in TestStore::each().await {
        let store = &t.store;
        let mut f = Fixture::new(1);
        let (_, a) = f.offer(OfferSpec::default());
        let (_, b) = f.offer(OfferSpec::default());
        let user = f.user(Some(Cents(10_000)), None);
        f.write(store).await;
        let req = |stock| BookingRequest {
            user_id: user,
            stock_id: stock,
            quantity: 1,
            now: now(),
        };
        let key = |body: &str| IdempotencyKey::new("booking:user:x".into(), "k-1".into(), &body);

        let first = store.book(&req(a), Some(&key("a"))).await.unwrap();
        let again = store.book(&req(a), Some(&key("a"))).await.unwrap();
        assert_eq!(first, again);
        let other = store.book(&req(b), Some(&key("b"))).await;
        assert!(
            matches!(other, Err(EngineError::IdempotencyConflict)),
            "{other:?}"
        );
        assert_eq!(
            store.scalar("SELECT COUNT(*) FROM bookings").await.unwrap(),
            1
        );

        let partner = engine::ids::OffererId(1);
        let used = store
            .use_booking(&first.token, partner, now())
            .await
            .unwrap();
        assert_eq!((used.id, used.status), (first.id, "used"));
        assert_eq!(
            refusal(store.use_booking(&first.token, partner, now()).await),
            Refusal::AlreadyUsed
        );
        let stranger = store
            .use_booking(&first.token, engine::ids::OffererId(999), now())
            .await;
        assert!(matches!(stranger, Err(EngineError::NotFound { .. })));
        assert_eq!(
            refusal(store.cancel(first.id, Canceller::User(user), now()).await),
            Refusal::AlreadyUsed
        );
        reconciles(store).await;
    }
}
