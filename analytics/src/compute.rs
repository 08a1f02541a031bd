//! The tables, computed with polars' lazy API from [`Inputs`].
//!
//! Cancelled bookings are left out of every measure: they are neither practice nor
//! exposure. Entropies are in bits, as in [`ranking::metrics::category_entropy`].

use polars::prelude::*;

use crate::load::{month_index, month_label};
use crate::{AnalyticsError, Inputs};

/// Distance bands of the no-show table: (label, lower bound in km, upper bound in km).
pub const DISTANCE_BANDS: [(&str, f64, f64); 5] = [
    ("0-5 km", 0.0, 5.0),
    ("5-15 km", 5.0, 15.0),
    ("15-30 km", 15.0, 30.0),
    ("30-50 km", 30.0, 50.0),
    ("50+ km", 50.0, f64::INFINITY),
];

/// An event booking still `confirmed`, or marked `used` by the lifecycle job rather than
/// at the door, this long after the start is a no-show: doors validate during the event,
/// the job marks what is left 48 h after it.
const NO_SHOW_AFTER_S: i64 = 48 * 3_600;

/// Months followed in the "months since first booking" table.
const MONTHS_FOLLOWED: i32 = 12;

/// Every table analysts get, by file name.
#[derive(Debug, Clone)]
pub struct Tables {
    pub tables: Vec<(&'static str, DataFrame)>,
}

impl Tables {
    /// The table called `name`.
    pub fn get(&self, name: &str) -> Option<&DataFrame> {
        self.tables.iter().find(|(n, _)| *n == name).map(|(_, t)| t)
    }
}

fn ymd(now: i64) -> i32 {
    let d = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    use chrono::Datelike;
    d.year() * 10_000 + d.month() as i32 * 100 + d.day() as i32
}

/// Summaries of the users table grouped by `key`: users, bookers, bookings, mean distinct
/// categories and entropy among bookers, and the share of bookers with 3+ categories
/// (the real service's KPI).
fn by(users: &LazyFrame, key: &str) -> LazyFrame {
    let booker = col("bookings").gt(lit(0));
    users
        .clone()
        .group_by([col(key)])
        .agg([
            len().alias("users"),
            booker.clone().sum().alias("users_with_bookings"),
            col("bookings").sum().alias("bookings"),
            col("distinct_categories")
                .filter(booker.clone())
                .mean()
                .alias("mean_distinct_categories"),
            col("category_entropy")
                .filter(booker.clone())
                .mean()
                .alias("mean_category_entropy"),
            col("distinct_categories")
                .filter(booker)
                .gt_eq(lit(3))
                .mean()
                .alias("share_3plus_categories"),
        ])
        .sort([key], SortMultipleOptions::default())
}

/// Computes every table as of `now`.
pub fn compute(inputs: &Inputs, now: i64) -> Result<Tables, AnalyticsError> {
    let bookings = inputs
        .bookings
        .clone()
        .lazy()
        .filter(col("status").neq(lit("cancelled")));

    // Per user and category: bookings, first month and first instant.
    let user_category = bookings
        .clone()
        .group_by([col("user_id"), col("category")])
        .agg([
            len().alias("n"),
            col("month").min().alias("first_month"),
            col("created_at").min().alias("first_at"),
        ])
        .collect()?;

    // Per user: volume, breadth and evenness of practice.
    let per_user = user_category
        .clone()
        .lazy()
        .group_by([col("user_id")])
        .agg([
            col("n").sum().cast(DataType::Int64).alias("bookings"),
            len().cast(DataType::Int64).alias("distinct_categories"),
            col("n")
                .cast(DataType::Float64)
                .entropy(2.0, true)
                .alias("category_entropy"),
            col("first_month").min().alias("first_month"),
        ]);
    let users = inputs
        .users
        .clone()
        .lazy()
        .with_column(
            ((lit(ymd(now)) - col("birth_ymd")) / lit(10_000))
                .cast(DataType::Int32)
                .alias("age"),
        )
        .left_join(per_user, col("user_id"), col("user_id"))
        .with_columns([
            col("bookings").fill_null(lit(0i64)),
            col("distinct_categories").fill_null(lit(0i64)),
            col("category_entropy").fill_null(lit(0.0)),
        ])
        .select([
            col("user_id"),
            col("age"),
            col("department"),
            col("region"),
            col("bookings"),
            col("distinct_categories"),
            col("category_entropy"),
            col("first_month"),
        ])
        .sort(["user_id"], SortMultipleOptions::default())
        .collect()?;
    let users_lazy = users.clone().lazy();
    let by_age = by(&users_lazy, "age").collect()?;
    let by_department = by(&users_lazy, "department").collect()?;
    let by_region = by(&users_lazy, "region").collect()?;

    // Growth of breadth: mean distinct categories m months after a user's first booking,
    // over the users whose first booking is at least m months old.
    let now_month = month_index(now);
    // Both frames are read 13 times below: computed once.
    let firsts = users_lazy
        .clone()
        .filter(col("first_month").is_not_null())
        .select([col("user_id"), col("first_month").alias("user_first")])
        .collect()?
        .lazy();
    let reached = user_category
        .clone()
        .lazy()
        .join(
            firsts.clone(),
            [col("user_id")],
            [col("user_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .with_column((col("first_month") - col("user_first")).alias("k"))
        .select([col("user_first"), col("k")])
        .collect()?
        .lazy();
    let mut months = Vec::new();
    let mut followed = Vec::new();
    let mut mean_distinct = Vec::new();
    for m in 0..=MONTHS_FOLLOWED {
        let old_enough = col("user_first").lt_eq(lit(now_month - m));
        let observed = firsts
            .clone()
            .filter(old_enough.clone())
            .collect()?
            .height();
        let reached_by_m = reached
            .clone()
            .filter(old_enough.and(col("k").lt_eq(lit(m))))
            .collect()?
            .height();
        months.push(m);
        followed.push(observed as i64);
        mean_distinct.push((observed > 0).then(|| reached_by_m as f64 / observed as f64));
    }
    let since_first = DataFrame::new(vec![
        Column::new("months_since_first_booking".into(), months),
        Column::new("users".into(), followed),
        Column::new("mean_distinct_categories".into(), mean_distinct),
    ])?;

    // Calendar months: volume, active users, and the share of bookings in a category the
    // user had never booked before (bookings outside their habits).
    let firsts_at =
        user_category
            .clone()
            .lazy()
            .select([col("user_id"), col("category"), col("first_at")]);
    let mut by_month = bookings
        .clone()
        .join(
            firsts_at,
            [col("user_id"), col("category")],
            [col("user_id"), col("category")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(col("created_at").eq(col("first_at")).alias("new_category"))
        .group_by([col("month")])
        .agg([
            len().cast(DataType::Int64).alias("bookings"),
            col("user_id")
                .n_unique()
                .cast(DataType::Int64)
                .alias("active_users"),
            col("new_category")
                .cast(DataType::Float64)
                .mean()
                .alias("share_new_category"),
        ])
        .sort(["month"], SortMultipleOptions::default())
        .collect()?;
    let labels: Vec<String> = by_month
        .column("month")?
        .i32()?
        .into_iter()
        .map(|m| m.map(month_label).unwrap_or_default())
        .collect();
    by_month.with_column(Column::new("month".into(), labels))?;

    // Users' first month as YYYY-MM for the users table.
    let first: Vec<Option<String>> = users
        .column("first_month")?
        .i32()?
        .into_iter()
        .map(|m| m.map(month_label))
        .collect();
    let mut users = users.drop("first_month")?;
    users.with_column(Column::new("first_booking_month".into(), first))?;

    // Concentration and coverage, with the ranking crate's definitions.
    let per_venue = |frame: LazyFrame, value: Expr| -> Result<Vec<f64>, AnalyticsError> {
        let counts = frame
            .filter(col("venue_id").is_not_null())
            .group_by([col("venue_id")])
            .agg([value.cast(DataType::Float64).alias("v")])
            .collect()?;
        let mut values: Vec<f64> = counts.column("v")?.f64()?.into_no_null_iter().collect();
        values.resize(values.len().max(inputs.venue_count), 0.0);
        Ok(values)
    };
    let offers = inputs.offers.clone().lazy();
    let booking_venues = per_venue(bookings.clone(), len())?;
    let view_venues = per_venue(offers.clone(), col("views").sum())?;
    let booked_offers = bookings
        .clone()
        .group_by([col("offer_id")])
        .agg([len().cast(DataType::Int64).alias("bookings")]);
    let per_offer = offers
        .clone()
        .left_join(booked_offers, col("offer_id"), col("offer_id"))
        .with_column(col("bookings").fill_null(lit(0i64)))
        .with_column(
            when(col("views").gt(lit(0)))
                .then(
                    col("bookings").cast(DataType::Float64) / col("views").cast(DataType::Float64),
                )
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("bookings_per_view"),
        )
        .select([
            col("offer_id"),
            col("offerer_id"),
            col("title"),
            col("category"),
            col("is_active"),
            col("views"),
            col("clicks"),
            col("favorites"),
            col("bookings"),
            col("bookings_per_view"),
        ])
        .sort(["offer_id"], SortMultipleOptions::default())
        .collect()?;
    let active = per_offer
        .clone()
        .lazy()
        .filter(col("is_active"))
        .collect()?;
    let ids_where = |c: &str| -> Result<Vec<i64>, AnalyticsError> {
        Ok(active
            .clone()
            .lazy()
            .filter(col(c).gt(lit(0)))
            .collect()?
            .column("offer_id")?
            .i64()?
            .into_no_null_iter()
            .collect())
    };
    let catalogue = active.height();
    let concentration = DataFrame::new(vec![
        Column::new(
            "measure".into(),
            [
                "bookings_gini_venues",
                "exposure_gini_venues",
                "catalogue_coverage_bookings",
                "catalogue_coverage_views",
            ],
        ),
        Column::new(
            "value".into(),
            [
                ranking::metrics::gini(&booking_venues),
                ranking::metrics::gini(&view_venues),
                ranking::metrics::catalogue_coverage(&[ids_where("bookings")?], catalogue),
                ranking::metrics::catalogue_coverage(&[ids_where("views")?], catalogue),
            ],
        ),
    ])?;

    // No-shows by distance band between home and venue, over events long enough past.
    // Nested from the last band so the first bound that holds names the band.
    let mut band_expr = lit(NULL).cast(DataType::String);
    for (label, _, upper) in DISTANCE_BANDS.iter().rev() {
        band_expr = when(col("distance_km").lt(lit(*upper)))
            .then(lit(*label))
            .otherwise(band_expr);
    }
    let cutoff = now - NO_SHOW_AFTER_S;
    let order: Vec<&str> = DISTANCE_BANDS.iter().map(|b| b.0).collect();
    let no_shows = bookings
        .clone()
        .filter(
            col("beginning_at")
                .is_not_null()
                .and(col("beginning_at").lt_eq(lit(cutoff)))
                .and(col("distance_km").is_not_null()),
        )
        .with_columns([
            band_expr.alias("distance_band"),
            col("status")
                .neq(lit("used"))
                .or(col("used_at").gt_eq(col("beginning_at") + lit(NO_SHOW_AFTER_S)))
                .alias("no_show"),
        ])
        .group_by([col("distance_band")])
        .agg([
            len().cast(DataType::Int64).alias("event_bookings"),
            col("no_show").sum().cast(DataType::Int64).alias("no_shows"),
        ])
        .with_column(
            (col("no_shows").cast(DataType::Float64)
                / col("event_bookings").cast(DataType::Float64))
            .alias("no_show_rate"),
        )
        .collect()?;
    // Every band, in order, even those with no event booking.
    let mut no_show_rows = Vec::new();
    for label in &order {
        let row = no_shows
            .clone()
            .lazy()
            .filter(col("distance_band").eq(lit(*label)))
            .collect()?;
        // A band without event bookings has no row: zero bookings, no rate.
        if row.height() == 0 {
            no_show_rows.push((*label, 0, 0, None));
            continue;
        }
        let get_i = |c: &str| -> Result<i64, AnalyticsError> {
            Ok(row.column(c)?.i64()?.get(0).unwrap_or(0))
        };
        let rate = row.column("no_show_rate")?.f64()?.get(0);
        no_show_rows.push((*label, get_i("event_bookings")?, get_i("no_shows")?, rate));
    }
    let no_show_by_distance = DataFrame::new(vec![
        Column::new(
            "distance_band".into(),
            no_show_rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ),
        Column::new(
            "event_bookings".into(),
            no_show_rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ),
        Column::new(
            "no_shows".into(),
            no_show_rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ),
        Column::new(
            "no_show_rate".into(),
            no_show_rows.iter().map(|r| r.3).collect::<Vec<_>>(),
        ),
    ])?;

    let campaigns = inputs
        .campaigns
        .clone()
        .lazy()
        .with_column(
            when(col("sent").gt(lit(0)))
                .then(
                    col("bookings_attributed").cast(DataType::Float64)
                        / col("sent").cast(DataType::Float64),
                )
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("conversion"),
        )
        .collect()?;

    Ok(Tables {
        tables: vec![
            ("users", users),
            ("by_age", by_age),
            ("by_department", by_department),
            ("by_region", by_region),
            ("by_month", by_month),
            ("since_first_booking", since_first),
            ("concentration", concentration),
            ("no_show_by_distance", no_show_by_distance),
            ("offers", per_offer),
            ("campaigns", campaigns),
        ],
    })
}
