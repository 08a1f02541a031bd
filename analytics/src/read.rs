//! Reading exported tables back, for the analysts' HTTP endpoint.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;
use serde_json::{Map, Value};

use crate::AnalyticsError;

/// The tables small enough to serve whole over HTTP (one row per group, not per user or offer).
pub const SERVED_TABLES: [&str; 8] = [
    "by_age",
    "by_department",
    "by_region",
    "by_month",
    "since_first_booking",
    "concentration",
    "no_show_by_distance",
    "campaigns",
];

/// `dir/NAME.parquet` as `{"table", "columns", "rows": [{column: value}…]}`, or `None`
/// when `name` is not served or was never exported.
pub fn read_table(dir: &Path, name: &str) -> Result<Option<Value>, AnalyticsError> {
    if !SERVED_TABLES.contains(&name) {
        return Ok(None);
    }
    let path = dir.join(format!("{name}.parquet"));
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let table = ParquetReader::new(file).finish()?;
    let columns: Vec<String> = table
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut rows = vec![Map::new(); table.height()];
    for column in table.get_columns() {
        for (row, value) in column.as_materialized_series().iter().enumerate() {
            rows[row].insert(column.name().to_string(), json(value));
        }
    }
    Ok(Some(serde_json::json!({
        "table": name,
        "columns": columns,
        "rows": rows,
    })))
}

fn json(value: AnyValue) -> Value {
    match value {
        AnyValue::Null => Value::Null,
        AnyValue::Boolean(b) => Value::Bool(b),
        AnyValue::String(s) => Value::String(s.to_owned()),
        AnyValue::StringOwned(s) => Value::String(s.to_string()),
        AnyValue::Float32(_) | AnyValue::Float64(_) => value
            .extract::<f64>()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        other => match other.extract::<i64>() {
            Some(i) => Value::from(i),
            None => Value::String(other.to_string()),
        },
    }
}
