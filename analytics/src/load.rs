//! From the store to polars frames.

use std::collections::HashMap;

use chrono::{DateTime, Datelike};
use engine::campaign::{self, CampaignConfig};
use engine::store::Store;
use engine::taxonomy::Taxonomy;
use polars::prelude::*;

use crate::AnalyticsError;

const DEPARTMENTS_CSV: &str = include_str!("../../datasets/departements.csv");

/// The frames [`crate::compute`] reads. Column names are the contract; see each field.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `user_id`, `offer_id`, `venue_id` (null for digital), `category`, `status`,
    /// `created_at`, `used_at`, `beginning_at` (null for things), `distance_km` (null for
    /// digital), `month` (months since year 0: `year * 12 + month - 1`).
    pub bookings: DataFrame,
    /// `user_id`, `birth_ymd` (`yyyymmdd` as an integer), `department`, `region`.
    pub users: DataFrame,
    /// `offer_id`, `offerer_id`, `venue_id`, `title`, `category`, `is_active`, `views`,
    /// `clicks`, `favorites`.
    pub offers: DataFrame,
    /// `campaign_id`, `offer_id`, `offerer_id`, `status`, `targeted`, `sent`, `failed`,
    /// `skipped`, `new_to_category`, `bookings_attributed`.
    pub campaigns: DataFrame,
    /// Venues in the catalogue: those never booked count as zero in concentration measures.
    pub venue_count: usize,
}

/// `year * 12 + month - 1` of an instant: consecutive months are consecutive integers.
pub fn month_index(at: i64) -> i32 {
    let d = DateTime::from_timestamp(at, 0).unwrap_or_default();
    d.year() * 12 + d.month0() as i32
}

/// `YYYY-MM` of a [`month_index`].
pub fn month_label(index: i32) -> String {
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

/// Department code → region name, from the shipped departments.
pub fn regions() -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut reader = csv::Reader::from_reader(DEPARTMENTS_CSV.as_bytes());
    for row in reader.records().flatten() {
        if let (Some(code), Some(region)) = (row.get(0), row.get(3)) {
            out.insert(code.to_owned(), region.to_owned());
        }
    }
    out
}

fn category_of<'a>(taxonomy: &'a Taxonomy, subcategory: &str) -> &'a str {
    taxonomy
        .subcategory(subcategory)
        .map_or("INCONNUE", |s| s.category.as_str())
}

/// Reads everything analytics need from the store; `progress` counts bookings read.
pub async fn load(
    store: &Store,
    progress: &indicatif::ProgressBar,
) -> Result<Inputs, AnalyticsError> {
    let taxonomy = Taxonomy::shipped();
    progress.set_message("reading bookings");
    progress.set_length(store.count(engine::store::Table::Bookings).await?.max(0) as u64);
    let b = store.booking_columns(progress).await?;
    let month: Vec<i32> = b.created_at.iter().map(|&t| month_index(t)).collect();
    let category: Vec<&str> = b
        .subcategory
        .iter()
        .map(|s| category_of(taxonomy, s))
        .collect();
    let distance_km: Vec<Option<f64>> = b
        .distance_m
        .iter()
        .map(|d| d.map(|m| m / 1_000.0))
        .collect();
    let bookings = DataFrame::new(vec![
        Column::new("user_id".into(), &b.user_id),
        Column::new("offer_id".into(), &b.offer_id),
        Column::new("venue_id".into(), &b.venue_id),
        Column::new("category".into(), category),
        Column::new("status".into(), &b.status),
        Column::new("created_at".into(), &b.created_at),
        Column::new("used_at".into(), &b.used_at),
        Column::new("beginning_at".into(), &b.beginning_at),
        Column::new("distance_km".into(), distance_km),
        Column::new("month".into(), month),
    ])?;
    drop(b);

    progress.set_message("reading users and offers");
    let u = store.user_columns().await?;
    let regions = regions();
    let birth_ymd: Vec<i32> = u
        .birth_date
        .iter()
        .map(|d| d.replace('-', "").parse().unwrap_or(0))
        .collect();
    let region: Vec<&str> = u
        .department
        .iter()
        .map(|d| regions.get(d).map_or("Inconnue", String::as_str))
        .collect();
    let users = DataFrame::new(vec![
        Column::new("user_id".into(), &u.user_id),
        Column::new("birth_ymd".into(), birth_ymd),
        Column::new("department".into(), &u.department),
        Column::new("region".into(), region),
    ])?;

    let o = store.offer_columns().await?;
    let offer_category: Vec<&str> = o
        .subcategory
        .iter()
        .map(|s| category_of(taxonomy, s))
        .collect();
    let offers = DataFrame::new(vec![
        Column::new("offer_id".into(), &o.offer_id),
        Column::new("offerer_id".into(), &o.offerer_id),
        Column::new("venue_id".into(), &o.venue_id),
        Column::new("title".into(), &o.title),
        Column::new("category".into(), offer_category),
        Column::new("is_active".into(), &o.is_active),
        Column::new("views".into(), &o.views),
        Column::new("clicks".into(), &o.clicks),
        Column::new("favorites".into(), &o.favorites),
    ])?;

    let views = campaign::views(store, None, &CampaignConfig::default()).await?;
    let pick = |f: fn(&campaign::CampaignView) -> i64| views.iter().map(f).collect::<Vec<i64>>();
    let campaigns = DataFrame::new(vec![
        Column::new("campaign_id".into(), pick(|v| v.campaign.id.0)),
        Column::new("offer_id".into(), pick(|v| v.campaign.offer_id.0)),
        Column::new("offerer_id".into(), pick(|v| v.campaign.offerer_id.0)),
        Column::new(
            "status".into(),
            views
                .iter()
                .map(|v| v.campaign.status.as_str())
                .collect::<Vec<_>>(),
        ),
        Column::new("targeted".into(), pick(|v| v.counts.targeted)),
        Column::new("sent".into(), pick(|v| v.counts.sent)),
        Column::new("failed".into(), pick(|v| v.counts.failed)),
        Column::new("skipped".into(), pick(|v| v.counts.skipped)),
        Column::new("new_to_category".into(), pick(|v| v.counts.new_to_category)),
        Column::new(
            "bookings_attributed".into(),
            pick(|v| v.counts.bookings_attributed),
        ),
    ])?;
    let venue_count = store.venue_ids().await?.len();
    Ok(Inputs {
        bookings,
        users,
        offers,
        campaigns,
        venue_count,
    })
}

/// The files of a snapshot, beside the venue count in `venues.txt`.
const SNAPSHOT_FRAMES: [&str; 4] = ["bookings", "users", "offers", "campaigns"];

impl Inputs {
    /// Writes the inputs as Parquet files (`input_bookings.parquet`…) and `input_venues.txt`
    /// into `dir`: a snapshot [`Inputs::read_snapshot`] reads back without the store.
    pub fn write_snapshot(&self, dir: &std::path::Path) -> Result<(), AnalyticsError> {
        std::fs::create_dir_all(dir)?;
        for (name, frame) in SNAPSHOT_FRAMES.iter().zip(self.frames()) {
            let mut frame = frame.clone();
            let file = std::fs::File::create(dir.join(format!("input_{name}.parquet")))?;
            ParquetWriter::new(file).finish(&mut frame)?;
        }
        std::fs::write(dir.join("input_venues.txt"), self.venue_count.to_string())?;
        Ok(())
    }

    /// Reads a snapshot written by [`Inputs::write_snapshot`].
    pub fn read_snapshot(dir: &std::path::Path) -> Result<Inputs, AnalyticsError> {
        let read = |name: &str| -> Result<DataFrame, AnalyticsError> {
            let file = std::fs::File::open(dir.join(format!("input_{name}.parquet")))?;
            Ok(ParquetReader::new(file).finish()?)
        };
        let venues = std::fs::read_to_string(dir.join("input_venues.txt"))?;
        Ok(Inputs {
            bookings: read("bookings")?,
            users: read("users")?,
            offers: read("offers")?,
            campaigns: read("campaigns")?,
            venue_count: venues.trim().parse().map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("input_venues.txt: {e}"),
                )
            })?,
        })
    }

    fn frames(&self) -> [&DataFrame; 4] {
        [&self.bookings, &self.users, &self.offers, &self.campaigns]
    }
}
