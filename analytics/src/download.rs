//! Small tables built by a request (a partner's bookings) written in memory for download,
//! by the same writers as the analytics export: CSV in UTF-8 with a byte order mark, so
//! that Excel reads "Théâtre" and not "ThÃ©Ã¢tre", and an XLSX workbook of one sheet.

use polars::prelude::*;
use rust_xlsxwriter::Workbook;

use crate::export::sheet;
use crate::AnalyticsError;

/// The values of one column of a download.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Whole numbers, written as numbers in the workbook.
    Int(Vec<Option<i64>>),
    /// Text.
    Text(Vec<Option<String>>),
}

/// A column of a download: its header and its values.
pub type DownloadColumn = (String, Values);

fn frame(columns: Vec<DownloadColumn>) -> Result<DataFrame, AnalyticsError> {
    let columns = columns
        .into_iter()
        .map(|(name, values)| match values {
            Values::Int(v) => Column::new(name.into(), v),
            Values::Text(v) => Column::new(name.into(), v),
        })
        .collect();
    Ok(DataFrame::new(columns)?)
}

/// `columns` as CSV: UTF-8 with a byte order mark, a header row, then one row per value.
pub fn csv_bytes(columns: Vec<DownloadColumn>) -> Result<Vec<u8>, AnalyticsError> {
    let mut table = frame(columns)?;
    let mut out = Vec::new();
    CsvWriter::new(&mut out)
        .include_bom(true)
        .finish(&mut table)?;
    Ok(out)
}

/// `columns` as an XLSX workbook with one sheet called `sheet_name` (at most 31
/// characters, none of `[]:*?/\`); at most [`crate::XLSX_MAX_ROWS`] rows.
pub fn xlsx_bytes(
    sheet_name: &str,
    columns: Vec<DownloadColumn>,
) -> Result<Vec<u8>, AnalyticsError> {
    let table = frame(columns)?;
    let mut workbook = Workbook::new();
    sheet(&mut workbook, sheet_name, &table)?;
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<DownloadColumn> {
        vec![
            ("id".into(), Values::Int(vec![Some(1), None])),
            (
                "titre".into(),
                Values::Text(vec![Some("Théâtre, « Cyrano »".into()), None]),
            ),
        ]
    }

    #[test]
    fn csv_starts_with_a_bom_and_keeps_accents() {
        let bytes = csv_bytes(columns()).unwrap();
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert_eq!(text, "id,titre\n1,\"Théâtre, « Cyrano »\"\n,\n");
    }

    #[test]
    fn xlsx_is_a_zip() {
        let bytes = xlsx_bytes("bookings", columns()).unwrap();
        assert!(bytes.starts_with(b"PK"));
    }
}
