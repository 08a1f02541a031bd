//! Analytics over a small hand-made world whose every number is computed by hand below.

use chrono::{Datelike, Months, NaiveDate, TimeZone, Utc};
use engine::booking::Canceller;
use engine::domain::{Coordinates, Interaction, InteractionKind};
use engine::ids::{OfferId, OffererId, UserId};
use engine::money::Cents;
use engine::seed::Batch;
use engine::testing::{book_one, Fixture, OfferSpec, TestStore, UserSpec};
use indicatif::ProgressBar;
use polars::prelude::*;

const DAY: i64 = 86_400;

/// Midnight UTC on the first day of the month `back` months before the current one.
fn month_start(back: u32) -> i64 {
    let today = Utc::now().date_naive();
    let first =
        NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() - Months::new(back);
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap())
        .timestamp()
}

fn f64_at(df: &DataFrame, column: &str, row: usize) -> Option<f64> {
    df.column(column)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .get(row)
}

fn row_where(df: &DataFrame, column: &str, value: &str) -> DataFrame {
    df.clone()
        .lazy()
        .filter(col(column).cast(DataType::String).eq(lit(value)))
        .collect()
        .unwrap()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn tables_match_a_hand_computation() {
    for t in TestStore::each().await {
        let store = &t.store;
        let two_ago = month_start(2) + DAY;
        let one_ago = month_start(1) + DAY;
        let concert_at = month_start(2) + 10 * DAY;
        let mut f = Fixture::new(1);
        let (_, a) = f.offer(OfferSpec {
            subcategory: "CONCERT",
            beginning_at: Some(concert_at),
            booking_limit_at: Some(concert_at - 3 * DAY),
            ..OfferSpec::default()
        });
        let (_, b) = f.offer(OfferSpec::default());
        let (d, _) = f.offer(OfferSpec::default());
        let (_, e) = f.offer(OfferSpec::default());
        let u1 = f.user_with(UserSpec::default());
        let u2 = f.user_with(UserSpec {
            birth: NaiveDate::from_ymd_opt(2008, 1, 15).unwrap(),
            ..UserSpec::default()
        });
        let u3 = f.user_with(UserSpec {
            home: Coordinates::new(45.764, 4.8357).unwrap(),
            department: "69",
            ..UserSpec::default()
        });
        let _u4 = f.user_with(UserSpec::default());
        f.write(store).await;
        let mut g = Fixture::new(1_000);
        let cinema_at = engine::now() + 10 * DAY;
        let (c_offer, c) = g.offer(OfferSpec {
            subcategory: "SEANCE_CINE",
            beginning_at: Some(cinema_at),
            booking_limit_at: Some(cinema_at - DAY),
            ..OfferSpec::default()
        });
        g.write(store).await;
        store
            .write_batch(&Batch::Interactions(
                [(d, 3), (c_offer, 1)]
                    .into_iter()
                    .flat_map(|(offer, n)| {
                        (0..n).map(move |i| Interaction {
                            user_id: UserId(0),
                            offer_id: offer,
                            kind: InteractionKind::View,
                            at: one_ago + i,
                        })
                    })
                    .map(|mut i: Interaction| {
                        i.user_id = u1;
                        i
                    })
                    .collect(),
            ))
            .await
            .unwrap();

        // u1: a concert two months ago (validated at the door), then two books and a film.
        let shown = book_one(store, u1, a, two_ago).await;
        store
            .use_booking(&shown.token, OffererId(1), concert_at + 600)
            .await
            .unwrap();
        book_one(store, u1, b, one_ago).await;
        book_one(store, u1, e, one_ago + DAY).await;
        book_one(store, u1, c, one_ago).await;
        // u2: a book; a film booked then cancelled (left out everywhere).
        book_one(store, u2, b, one_ago).await;
        let cancelled = book_one(store, u2, c, one_ago).await;
        store
            .cancel(cancelled.id, Canceller::User(u2), one_ago + 3_600)
            .await
            .unwrap();
        // u3, in Lyon: the Paris concert, never validated: a no-show ≈ 390 km away.
        book_one(store, u3, a, two_ago).await;

        let dir = tempfile::tempdir().unwrap();
        let now = engine::now();
        let inputs = analytics::load(store, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(inputs.bookings.height(), 7);
        let tables = analytics::compute(&inputs, now).unwrap();

        // Per user. u1: categories MUSIQUE_LIVE 1, LIVRE 2, CINEMA 1 → entropy 1.5 bits.
        let users = tables.get("users").unwrap();
        assert_eq!(users.height(), 4);
        let u = |id: UserId| row_where(users, "user_id", &id.0.to_string());
        let r1 = u(u1);
        assert_eq!(f64_at(&r1, "bookings", 0), Some(4.0));
        assert_eq!(f64_at(&r1, "distinct_categories", 0), Some(3.0));
        assert!(close(f64_at(&r1, "category_entropy", 0), 1.5));
        // The same definition as the offline evaluation's.
        let u1_categories = ["MUSIQUE_LIVE", "LIVRE", "LIVRE", "CINEMA"];
        assert!(close(
            f64_at(&r1, "category_entropy", 0),
            ranking::metrics::category_entropy(&u1_categories)
        ));
        assert_eq!(f64_at(&u(u2), "bookings", 0), Some(1.0));
        assert_eq!(f64_at(&u(u2), "age", 0), Some(age_now(2008, 1, 15) as f64));
        assert!(close(f64_at(&u(u3), "category_entropy", 0), 0.0));
        assert_eq!(f64_at(&u(_u4), "bookings", 0), Some(0.0));

        // By age: u1, u3, u4 share one age; bookers u1 and u3.
        let by_age = tables.get("by_age").unwrap();
        let age = row_where(by_age, "age", &age_now(2009, 6, 1).to_string());
        assert_eq!(f64_at(&age, "users", 0), Some(3.0));
        assert_eq!(f64_at(&age, "users_with_bookings", 0), Some(2.0));
        assert_eq!(f64_at(&age, "bookings", 0), Some(5.0));
        assert!(close(f64_at(&age, "mean_distinct_categories", 0), 2.0));
        assert!(close(f64_at(&age, "mean_category_entropy", 0), 0.75));
        assert!(close(f64_at(&age, "share_3plus_categories", 0), 0.5));
        let region = row_where(
            tables.get("by_region").unwrap(),
            "region",
            "Auvergne-Rhône-Alpes",
        );
        assert_eq!(f64_at(&region, "users", 0), Some(1.0));
        let dep = row_where(tables.get("by_department").unwrap(), "department", "75");
        assert_eq!(f64_at(&dep, "users", 0), Some(3.0));

        // Breadth m months after the first booking: 3 users at m = 0 (1 category each),
        // 3 at m = 1 (u1 reached 3), 2 at m = 2 (u1 and u3), none after.
        let since = tables.get("since_first_booking").unwrap();
        assert_eq!(f64_at(since, "users", 0), Some(3.0));
        assert!(close(f64_at(since, "mean_distinct_categories", 0), 1.0));
        assert!(close(
            f64_at(since, "mean_distinct_categories", 1),
            5.0 / 3.0
        ));
        assert_eq!(f64_at(since, "users", 2), Some(2.0));
        assert!(close(f64_at(since, "mean_distinct_categories", 2), 2.0));
        assert_eq!(f64_at(since, "users", 3), Some(0.0));
        assert_eq!(f64_at(since, "mean_distinct_categories", 3), None);

        // Calendar months: two concerts, then four bookings of which u1's second book is
        // the only one in a category its user had booked before.
        let by_month = tables.get("by_month").unwrap();
        assert_eq!(by_month.height(), 2);
        assert_eq!(f64_at(by_month, "bookings", 0), Some(2.0));
        assert!(close(f64_at(by_month, "share_new_category", 0), 1.0));
        assert_eq!(f64_at(by_month, "bookings", 1), Some(4.0));
        assert_eq!(f64_at(by_month, "active_users", 1), Some(2.0));
        assert!(close(f64_at(by_month, "share_new_category", 1), 0.75));

        // Venues: 5 bookings at the first, 1 at the second → Gini 4 / 12; views 3 and 1
        // → 0.25. Offers: 4 of 5 booked, 2 of 5 viewed.
        let conc = tables.get("concentration").unwrap();
        let measure = |m: &str| f64_at(&row_where(conc, "measure", m), "value", 0);
        assert!(close(measure("bookings_gini_venues"), 1.0 / 3.0));
        assert!(close(measure("exposure_gini_venues"), 0.25));
        assert!(close(measure("catalogue_coverage_bookings"), 0.8));
        assert!(close(measure("catalogue_coverage_views"), 0.4));

        // No-shows: the concert validated 0.4 km from home; the one 390 km away missed.
        let ns = tables.get("no_show_by_distance").unwrap();
        assert_eq!(ns.height(), 5);
        let band = |b: &str| row_where(ns, "distance_band", b);
        assert_eq!(f64_at(&band("0-5 km"), "event_bookings", 0), Some(1.0));
        assert!(close(f64_at(&band("0-5 km"), "no_show_rate", 0), 0.0));
        assert!(close(f64_at(&band("50+ km"), "no_show_rate", 0), 1.0));
        assert_eq!(f64_at(&band("5-15 km"), "no_show_rate", 0), None);

        // Per offer, for partners.
        let offers = tables.get("offers").unwrap();
        let offer = |id: OfferId| row_where(offers, "offer_id", &id.0.to_string());
        assert_eq!(f64_at(&offer(d), "views", 0), Some(3.0));
        assert_eq!(f64_at(&offer(d), "bookings", 0), Some(0.0));
        assert_eq!(f64_at(&offer(c_offer), "bookings", 0), Some(1.0));
        assert!(close(f64_at(&offer(c_offer), "bookings_per_view", 0), 1.0));

        // Files: Parquet, CSV (accents intact) and one workbook.
        let files = analytics::export(&tables, dir.path(), &ProgressBar::hidden()).unwrap();
        assert_eq!(files.len(), 2 * tables.tables.len() + 1);
        let csv = std::fs::read(dir.path().join("by_region.csv")).unwrap();
        assert!(
            csv.starts_with(&[0xEF, 0xBB, 0xBF]),
            "CSV starts with a BOM"
        );
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        assert!(
            text.starts_with("region,users,users_with_bookings,bookings,mean_distinct_categories")
        );
        assert!(text.contains("Auvergne-Rhône-Alpes") && text.contains("Île-de-France"));
        let back =
            ParquetReader::new(std::fs::File::open(dir.path().join("users.parquet")).unwrap())
                .finish()
                .unwrap();
        assert!(back.equals_missing(users));
        // A snapshot of the inputs gives the same tables without the store.
        let snap = tempfile::tempdir().unwrap();
        inputs.write_snapshot(snap.path()).unwrap();
        let again =
            analytics::compute(&analytics::Inputs::read_snapshot(snap.path()).unwrap(), now)
                .unwrap();
        for (name, table) in &tables.tables {
            assert!(
                again.get(name).unwrap().equals_missing(table),
                "{name} differs from the snapshot's"
            );
        }
        let xlsx = std::fs::read(dir.path().join("analytics.xlsx")).unwrap();
        assert!(xlsx.starts_with(b"PK"), "an XLSX is a zip");
        let campaigns = tables.get("campaigns").unwrap();
        assert_eq!(campaigns.height(), 0);
        assert!(campaigns.column("bookings_attributed").is_ok());
        let _ = Cents(0);
    }
}

/// Age today of someone born on that day.
fn age_now(y: i32, m: u32, d: u32) -> i32 {
    let today = Utc::now().date_naive();
    let mut age = today.year() - y;
    if (today.month(), today.day()) < (m, d) {
        age -= 1;
    }
    age
}
