//! Writing the tables: Parquet and CSV per table, and one XLSX workbook.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rust_xlsxwriter::Workbook;

use crate::{AnalyticsError, Tables};

/// Rows a table may have to go into the workbook: the summaries always fit; the per-user
/// and per-offer tables of a national catalogue (a million rows, near a worksheet's
/// limit of 1,048,575, and most of the writing time) stay in Parquet and CSV.
pub const XLSX_MAX_ROWS: usize = 100_000;

/// Writes `NAME.parquet` and `NAME.csv` for every table and `analytics.xlsx` with one
/// sheet per table that fits, into `dir` (created if missing). CSV is UTF-8 with a byte
/// order mark so that spreadsheet programs read accents right.
pub fn export(
    tables: &Tables,
    dir: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<Vec<PathBuf>, AnalyticsError> {
    std::fs::create_dir_all(dir)?;
    progress.set_length(tables.tables.len() as u64 * 3);
    progress.set_position(0);
    let mut files = Vec::new();
    let mut workbook = Workbook::new();
    for (name, table) in &tables.tables {
        let mut table = table.clone();
        let parquet = dir.join(format!("{name}.parquet"));
        ParquetWriter::new(File::create(&parquet)?).finish(&mut table)?;
        files.push(parquet);
        progress.inc(1);
        let csv = dir.join(format!("{name}.csv"));
        CsvWriter::new(File::create(&csv)?)
            .include_bom(true)
            .finish(&mut table)?;
        files.push(csv);
        progress.inc(1);
        if table.height() <= XLSX_MAX_ROWS {
            sheet(&mut workbook, name, &table)?;
        } else {
            tracing::info!(
                table = name,
                rows = table.height(),
                "too many rows for a worksheet: Parquet and CSV only"
            );
        }
        progress.inc(1);
    }
    let xlsx = dir.join("analytics.xlsx");
    workbook.save(&xlsx)?;
    files.push(xlsx);
    Ok(files)
}

/// Adds `table` as a worksheet called `name`: a header row, then numbers as numbers and
/// text as text; nulls stay empty cells.
pub(crate) fn sheet(
    workbook: &mut Workbook,
    name: &str,
    table: &DataFrame,
) -> Result<(), AnalyticsError> {
    let ws = workbook.add_worksheet();
    ws.set_name(name)?;
    for (c, column) in table.get_columns().iter().enumerate() {
        let c = c as u16;
        ws.write_string(0, c, column.name().as_str())?;
        let series = column.as_materialized_series();
        for (r, value) in series.iter().enumerate() {
            let r = r as u32 + 1;
            match value {
                AnyValue::Null => {}
                AnyValue::String(s) => {
                    ws.write_string(r, c, s)?;
                }
                AnyValue::StringOwned(s) => {
                    ws.write_string(r, c, s.as_str())?;
                }
                AnyValue::Boolean(b) => {
                    ws.write_boolean(r, c, b)?;
                }
                other => match other.extract::<f64>() {
                    Some(v) => {
                        ws.write_number(r, c, v)?;
                    }
                    None => {
                        ws.write_string(r, c, other.to_string())?;
                    }
                },
            }
        }
    }
    Ok(())
}
