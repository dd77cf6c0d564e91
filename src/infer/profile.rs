//! A profile of sample files, with polars: each column's type, NULLs (and the markers that
//! stand for NULL), distinct values, least and greatest. polars reads the files (CSV in the
//! dialect found, every field as text; Parquet as typed) and counts; the types are decided
//! on each column's distinct values ([`super::types`]).

use std::io::Cursor;

use polars::prelude::{
    BooleanChunked, ChunkFull, CsvParseOptions, CsvReadOptions, DataFrame, DataType, ParquetReader, SerReader, Series,
    TimeUnit,
};

use super::dialect::Dialect;
use super::types::{Kind, Typed, classify};
use crate::error::{Error, ErrorKind, Result};

/// Text that stands for "no value" in a column that otherwise holds numbers or dates.
const TEXT_NULLS: [&str; 8] = ["NA", "N/A", "n/a", "NULL", "null", "NaN", "nan", "-"];

/// Numbers that stand for "no value" when they are a column's least by far (the UCI air
/// quality files' -200).
const NUMBER_NULLS: [f64; 4] = [-200.0, -999.0, -9999.0, -99.0];

/// One column of the profile.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    /// The field's name in the files.
    pub field: String,
    #[serde(flatten)]
    pub typed: Typed,
    /// Values that stand for NULL here, besides an empty field.
    pub null_markers: Vec<String>,
    /// Rows with no value (empty, or a marker).
    pub nulls: u64,
    pub distinct: u64,
}

/// What the files hold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Profile {
    pub rows: u64,
    /// Records with no value at all, which the loader skips.
    pub blank_rows: u64,
    pub columns: Vec<Column>,
}

fn polars_error(what: &str) -> impl Fn(polars::error::PolarsError) -> Error + '_ {
    move |error| ErrorKind::Internal(format!("{what}: {error}")).into()
}

/// Reads CSV text (UTF-8, lines ending in LF or CRLF) in `dialect`, every field as text.
///
/// # Errors
///
/// Bad data: polars cannot split the text into records.
pub fn read_csv(text: String, dialect: &Dialect, display: &str) -> Result<DataFrame> {
    let parse = CsvParseOptions::default()
        .with_separator(dialect.delimiter)
        .with_quote_char(Some(b'"'))
        .with_missing_is_null(true)
        .with_truncate_ragged_lines(true);
    CsvReadOptions::default()
        .with_has_header(dialect.header)
        .with_skip_rows(dialect.skip_records)
        .with_infer_schema_length(Some(0))
        .with_parse_options(parse)
        .into_reader_with_file_handle(Cursor::new(text.into_bytes()))
        .finish()
        .map_err(|error| Error::config(format!("{display}: cannot read it as CSV: {error}")))
}

/// Reads a Parquet file's bytes.
///
/// # Errors
///
/// Bad data: not Parquet polars can read.
pub fn read_parquet(bytes: Vec<u8>, display: &str) -> Result<DataFrame> {
    ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|error| Error::config(format!("{display}: cannot read it as Parquet: {error}")))
}

/// The profile of `frame` (all the files, one after the other): text fields typed by their
/// values, Parquet columns by their type; `decimal_comma`: numbers are written `12,5`.
///
/// # Errors
///
/// A polars failure (a bug).
pub fn profile(frame: &DataFrame, decimal_comma: bool) -> Result<Profile> {
    let rows = frame.height() as u64;
    // Blank records: every field empty. The loader skips them; they are not profiled.
    let mut blank = BooleanChunked::full("blank".into(), true, frame.height());
    for column in frame.columns() {
        blank = &blank & &column.as_materialized_series().is_null();
    }
    let blank_rows = u64::from(blank.sum().unwrap_or(0));
    let frame = frame.filter(&!&blank).map_err(polars_error("dropping blank records"))?;
    let columns = frame
        .columns()
        .iter()
        .map(|column| profile_column(column.as_materialized_series(), decimal_comma))
        .collect::<Result<_>>()?;
    Ok(Profile {
        rows,
        blank_rows,
        columns,
    })
}

fn profile_column(series: &Series, decimal_comma: bool) -> Result<Column> {
    let field = series.name().to_string();
    if series.dtype().is_temporal() {
        return temporal(series);
    }
    let unique = series.unique().map_err(polars_error("counting distinct values"))?;
    let text = unique
        .cast(&DataType::String)
        .map_err(polars_error("reading values as text"))?;
    let strings = text.str().map_err(polars_error("reading values as text"))?;
    let mut values: Vec<&str> = strings.iter().flatten().collect();
    values.sort_unstable();
    let mut markers = null_markers(&values, decimal_comma);
    // An empty text is NULL to the loader (its default marker), here too.
    let empty = series.dtype() == &DataType::String && values.first() == Some(&"");
    values.retain(|v| !v.is_empty() && !markers.iter().any(|m| m == v));
    let marked = if markers.is_empty() && !empty {
        0
    } else {
        let all = series
            .cast(&DataType::String)
            .map_err(polars_error("reading values as text"))?;
        let all = all.str().map_err(polars_error("reading values as text"))?;
        all.iter()
            .flatten()
            .filter(|v| v.is_empty() || markers.iter().any(|m| m == v))
            .count() as u64
    };
    markers.retain(|m| !m.is_empty());
    let typed = match series.dtype() {
        DataType::String => classify(&values, decimal_comma),
        other => Typed {
            kind: kind_of(other),
            ..classify(&values, false)
        },
    };
    Ok(Column {
        field,
        typed,
        null_markers: markers,
        nulls: series.null_count() as u64 + marked,
        distinct: values.len() as u64,
    })
}

/// A date or timestamp column of a Parquet file: typed by the file, counted by polars,
/// its least and greatest shown in ISO 8601 (from the stored integers: polars shows a
/// zoned timestamp only with its time zone database, which is not built in).
fn temporal(series: &Series) -> Result<Column> {
    let physical = series.to_physical_repr();
    let integer = |scalar: polars::prelude::Scalar| scalar.value().extract::<i64>();
    let least = integer(physical.min_reduce().map_err(polars_error("finding the least value"))?);
    let greatest = integer(
        physical
            .max_reduce()
            .map_err(polars_error("finding the greatest value"))?,
    );
    let shown = |value: Option<i64>| -> Option<String> {
        let value = value?;
        match series.dtype() {
            DataType::Date => {
                let days = i32::try_from(value).ok()?;
                Some(
                    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
                        .checked_add_signed(chrono::TimeDelta::days(days.into()))?
                        .to_string(),
                )
            }
            DataType::Datetime(unit, zone) => {
                let micros = match unit {
                    TimeUnit::Nanoseconds => value / 1000,
                    TimeUnit::Microseconds => value,
                    TimeUnit::Milliseconds => value.checked_mul(1000)?,
                };
                let time = chrono::DateTime::from_timestamp_micros(micros)?.naive_utc();
                Some(match zone {
                    Some(zone) => format!("{time} {zone}"),
                    None => time.to_string(),
                })
            }
            _ => Some(value.to_string()),
        }
    };
    let nulls = series.null_count() as u64;
    let distinct = series.n_unique().map_err(polars_error("counting distinct values"))? as u64 - u64::from(nulls > 0);
    Ok(Column {
        field: series.name().to_string(),
        typed: Typed {
            kind: kind_of(series.dtype()),
            format: None,
            min: shown(least),
            max: shown(greatest),
        },
        null_markers: Vec::new(),
        nulls,
        distinct,
    })
}

/// The PostgreSQL type a Parquet column's type loads as.
fn kind_of(dtype: &DataType) -> Kind {
    match dtype {
        DataType::Boolean => Kind::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => Kind::Integer,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => Kind::Bigint,
        DataType::Float32 | DataType::Float64 => Kind::DoublePrecision,
        DataType::Date => Kind::Date,
        DataType::Datetime(TimeUnit::Nanoseconds | TimeUnit::Microseconds | TimeUnit::Milliseconds, Some(_)) => {
            Kind::Timestamptz
        }
        DataType::Datetime(..) => Kind::Timestamp,
        _ => Kind::Text,
    }
}

/// The values of a column (distinct, sorted) that stand for NULL: a text marker in a column
/// whose other values are all numbers or dates, and a sentinel number that is the column's
/// least by far (the next is above half of it).
fn null_markers(values: &[&str], decimal_comma: bool) -> Vec<String> {
    let texts: Vec<&str> = values.iter().copied().filter(|v| TEXT_NULLS.contains(v)).collect();
    let rest: Vec<&str> = values.iter().copied().filter(|v| !TEXT_NULLS.contains(v)).collect();
    let mut markers: Vec<String> = Vec::new();
    let kind = classify(&rest, decimal_comma).kind;
    if !rest.is_empty() && kind != Kind::Text {
        markers.extend(texts.iter().map(|v| (*v).to_owned()));
    }
    if matches!(kind, Kind::Integer | Kind::Bigint | Kind::DoublePrecision) {
        let number = |v: &str| {
            let v = if decimal_comma {
                v.replace(',', ".")
            } else {
                v.to_owned()
            };
            v.parse::<f64>().ok()
        };
        let mut numbers: Vec<(f64, &str)> = rest.iter().filter_map(|v| Some((number(v)?, *v))).collect();
        numbers.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(&(least, _)) = numbers.first()
            && NUMBER_NULLS.contains(&least)
        {
            let next = numbers
                .iter()
                .find(|(n, _)| n.total_cmp(&least).is_ne())
                .map(|(n, _)| *n);
            if next.is_none_or(|next| next > least / 2.0) {
                markers.extend(
                    numbers
                        .iter()
                        .filter(|(n, _)| n.total_cmp(&least).is_eq())
                        .map(|(_, v)| (*v).to_owned()),
                );
            }
        }
    }
    markers
}
