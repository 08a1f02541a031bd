//! Diversification analytics for Mosaic's analysts: `mosaic analytics --out DIR`.
//!
//! [`load`] streams bookings, users, offers and campaigns out of the store into polars
//! frames; [`compute`] turns them into the tables analysts read (per user, by age,
//! department, region and month, concentration, no-shows by distance, per offer, per
//! campaign) with the lazy API; [`export`] writes each table as Parquet and CSV (UTF-8
//! with a BOM, so spreadsheets keep accents) and the small ones into one XLSX workbook.
//!
//! Scalar measures (Gini, coverage) come from [`ranking::metrics`], the same functions
//! the offline evaluation uses, so a Gini here and a Gini there mean the same thing.

mod compute;
pub mod download;
mod export;
mod load;
mod read;

pub use compute::{compute, Tables, DISTANCE_BANDS};
pub use export::{export, XLSX_MAX_ROWS};
pub use load::{load, Inputs};
pub use read::{read_table, SERVED_TABLES};

use std::path::{Path, PathBuf};

use engine::store::Store;
use thiserror::Error;

/// What can go wrong in analytics.
#[derive(Debug, Error)]
pub enum AnalyticsError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Engine(#[from] engine::EngineError),
    /// A polars computation or writer failed.
    #[error("polars: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// The XLSX writer failed.
    #[error("xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    /// A file could not be written.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// What [`run`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Bookings read (cancelled ones included; they are left out of every measure).
    pub bookings: usize,
    pub users: usize,
    /// Every file written.
    pub files: Vec<PathBuf>,
}

/// Loads the store, computes every table as of `now` and writes them into `out`.
/// `progress` counts steps (its length is set here).
pub async fn run(
    store: &Store,
    out: &Path,
    now: engine::domain::Timestamp,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, AnalyticsError> {
    let inputs = load(store, progress).await?;
    run_on(&inputs, out, now, progress)
}

/// Computes every table of `inputs` (read from the store or a snapshot) as of `now` and
/// writes them into `out`.
pub fn run_on(
    inputs: &Inputs,
    out: &Path,
    now: engine::domain::Timestamp,
    progress: &indicatif::ProgressBar,
) -> Result<Summary, AnalyticsError> {
    progress.set_message("computing");
    let tables = compute(inputs, now)?;
    progress.set_message("writing");
    let files = export(&tables, out, progress)?;
    Ok(Summary {
        bookings: inputs.bookings.height(),
        users: inputs.users.height(),
        files,
    })
}
