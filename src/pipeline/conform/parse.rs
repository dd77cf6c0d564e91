//! Text and Arrow values become values of the target type: parsing numbers, booleans,
//! dates and timestamps (with formats, separators and zones), and casting Arrow types.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, StringArray};
use arrow_schema::DataType;
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::db::catalog::PgType;
use crate::error::Result;
use crate::job::{LoadColumn, days_since_epoch};
use crate::pipeline::encode::{Numeric, arrow_type};

use super::as_strings;
use super::check::check;
use super::report::{At, display, row_error};

/// Timestamp formats tried, in order, when a column gives none.
const DEFAULT_TIMESTAMP_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d";

/// Parses or casts a source column to the target's type, then checks it.
pub(super) fn convert(array: &ArrayRef, target: &LoadColumn, at: &At<'_>, file: &str) -> Result<ArrayRef> {
    let converted = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = as_strings(array, target, at, file)?;
            return parse_strings(&strings, target, at, file);
        }
        _ if target.ty == PgType::Numeric
            || target.ty.is_textual()
            || target.parse.null.iter().any(|marker| !marker.is_empty()) =>
        {
            // Typed values become text when the target is text, or when null markers
            // (sentinels such as -200) must be compared; numeric text is checked as numeric.
            let strings = as_strings(array, target, at, file)?;
            return parse_strings(&strings, target, at, file);
        }
        _ => {
            let options = arrow_cast::CastOptions {
                safe: true,
                ..Default::default()
            };
            let cast = arrow_cast::cast_with_options(array, &arrow_type(target.ty), &options).map_err(|error| {
                row_error(
                    file,
                    &|_| None,
                    0,
                    target,
                    None,
                    format!(
                        "cannot convert {} values to {}: {error}",
                        array.data_type(),
                        target.ty.name()
                    ),
                )
            })?;
            // A value that was there before the cast and is NULL after it did not fit; a
            // float with a fraction would be cut.
            let lost = (0..array.len())
                .find(|r| array.is_valid(*r) && cast.is_null(*r))
                .map(|row| (row, "does not fit"));
            let cut = || fraction_lost(array, target).map(|row| (row, "is not a whole number, and the column is"));
            if let Some((row, problem)) = lost.or_else(cut) {
                let shown = display(array, row);
                return Err(row_error(
                    file,
                    at,
                    row,
                    target,
                    Some(&shown),
                    format!("{shown} ({}) {problem} {}", array.data_type(), target.ty.name()),
                ));
            }
            cast
        }
    };
    if target.checks.required && converted.null_count() > 0 {
        let row = (0..converted.len()).find(|r| converted.is_null(*r)).unwrap_or(0);
        return Err(row_error(file, at, row, target, None, required_problem(target)));
    }
    check(&converted, target, at, file)?;
    Ok(converted)
}

/// The first row of a float array with a fractional part, when the target is an integer:
/// a cast would cut it off (1.5 becomes 1), so it is refused instead.
fn fraction_lost(array: &ArrayRef, target: &LoadColumn) -> Option<usize> {
    if !matches!(target.ty, PgType::Int2 | PgType::Int4 | PgType::Int8) {
        return None;
    }
    let whole = |v: f64| !v.is_finite() || v.fract() == 0.0;
    match array.data_type() {
        DataType::Float64 => array
            .as_primitive::<Float64Type>()
            .iter()
            .position(|v| v.is_some_and(|v| !whole(v))),
        DataType::Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .position(|v| v.is_some_and(|v| !whole(f64::from(v)))),
        DataType::Float16 => array
            .as_primitive::<arrow_array::types::Float16Type>()
            .iter()
            .position(|v| v.is_some_and(|v| !whole(f64::from(v)))),
        _ => None,
    }
}

pub(super) fn required_problem(target: &LoadColumn) -> String {
    if target.not_null {
        "no value, but the column is NOT NULL".into()
    } else {
        "no value, but the column is required".into()
    }
}

#[expect(clippy::too_many_lines, reason = "one arm per PostgreSQL type")]
pub(super) fn parse_strings(strings: &StringArray, target: &LoadColumn, at: &At<'_>, file: &str) -> Result<ArrayRef> {
    let parse = &target.parse;
    let replaced: StringArray;
    let strings = match &parse.replace_nul {
        Some(with) if strings.value_data().contains(&0) => {
            replaced = strings.iter().map(|v| v.map(|v| v.replace('\0', with))).collect();
            &replaced
        }
        _ => strings,
    };
    let fail = |row: usize, value: &str, problem: String| row_error(file, at, row, target, Some(value), problem);
    // The empty marker is told by length alone: most files' NULL is an empty field, and a
    // memcmp call per empty field was a third of the client's time on a long load.
    let empty_is_null = parse.null.iter().any(String::is_empty);
    let markers: Vec<&str> = parse
        .null
        .iter()
        .map(String::as_str)
        .filter(|m| !m.is_empty())
        .collect();
    let is_marker = |v: &str| {
        if v.is_empty() {
            empty_is_null
        } else {
            markers.contains(&v)
        }
    };
    // Yields each row's text, or None for NULL (a NULL, or a null marker).
    let values = (0..strings.len()).map(|row| {
        let value = strings.is_valid(row).then(|| strings.value(row));
        match value {
            Some(v) if !is_marker(v) => Ok((row, Some(v))),
            Some(v) if target.checks.required => Err(fail(
                row,
                v,
                format!(
                    "{v:?} is a null marker, but the column is {}",
                    if target.not_null { "NOT NULL" } else { "required" }
                ),
            )),
            None if target.checks.required => Err(row_error(file, at, row, target, None, required_problem(target))),
            _ => Ok((row, None)),
        }
    });
    let numeric_hint = |v: &str| -> &'static str {
        match parse.decimal {
            b'.' if v.contains(',') => " (expected '.' as the decimal separator)",
            b',' if v.contains('.') => " (expected ',' as the decimal separator)",
            _ => "",
        }
    };
    let decimal_comma = parse.decimal == b',';

    let cannot = |v: &str, what: &str, hint: &str| format!("cannot parse {v:?} as {what}{hint}");

    macro_rules! primitive {
        ($type:ty, $parse:expr) => {{
            let mut builder = PrimitiveBuilder::<$type>::with_capacity(strings.len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => builder.append_value($parse(v).map_err(|p| fail(row, v, p))?),
                }
            }
            let array: ArrayRef = Arc::new(builder.finish());
            array
        }};
    }
    let integer = |v: &str, what: &str| -> Result<i64, String> {
        let n = number_text(v, decimal_comma, parse.thousands);
        // Writers such as pandas print whole numbers as `253019.0`; the fraction must be zero.
        let whole = match n.split_once('.') {
            Some((int, frac)) if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
            _ => &n,
        };
        whole.parse::<i64>().map_err(|_| cannot(v, what, numeric_hint(v)))
    };
    let array: ArrayRef = match target.ty {
        PgType::Bool => {
            let mut builder = BooleanBuilder::with_capacity(strings.len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => builder.append_value(parse_bool(v).ok_or_else(|| {
                        fail(
                            row,
                            v,
                            cannot(v, "boolean", " (expected true/false, t/f, yes/no, y/n, on/off or 1/0)"),
                        )
                    })?),
                }
            }
            Arc::new(builder.finish())
        }
        PgType::Int2 => primitive!(Int16Type, |v: &str| integer(v, "smallint")
            .and_then(|n| i16::try_from(n).map_err(|_| format!("{v:?} is out of range for smallint")))),
        PgType::Int4 => primitive!(Int32Type, |v: &str| integer(v, "integer")
            .and_then(|n| i32::try_from(n).map_err(|_| format!("{v:?} is out of range for integer")))),
        PgType::Int8 => primitive!(Int64Type, |v: &str| integer(v, "bigint")),
        PgType::Float4 => primitive!(Float32Type, |v: &str| number_text(v, decimal_comma, parse.thousands)
            .parse::<f32>()
            .map_err(|_| cannot(v, "real", numeric_hint(v)))),
        PgType::Float8 => primitive!(Float64Type, |v: &str| number_text(v, decimal_comma, parse.thousands)
            .parse::<f64>()
            .map_err(|_| cannot(v, "double precision", numeric_hint(v)))),
        PgType::Date => {
            let format = parse.format.as_deref().unwrap_or(DEFAULT_DATE_FORMAT);
            primitive!(Date32Type, |v: &str| NaiveDate::parse_from_str(v.trim(), format)
                .map(days_since_epoch)
                .map_err(|_| cannot(v, "date", &format!(" (expected format {format:?})"))))
        }
        PgType::Timestamp => primitive!(TimestampMicrosecondType, |v: &str| parse_naive(
            v,
            parse.format.as_deref()
        )
        .map(|t| t.and_utc().timestamp_micros())
        .ok_or_else(|| cannot(v, "timestamp", &expected_formats(parse.format.as_deref())))),
        PgType::Timestamptz => {
            let array = primitive!(TimestampMicrosecondType, |v: &str| parse_timestamptz(v, target)
                .ok_or_else(|| cannot(v, "timestamptz", &expected_zoned(target))));
            Arc::new(
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .clone()
                    .with_timezone("UTC"),
            )
        }
        PgType::Numeric => {
            let mut builder = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => {
                        let n = number_text(v, decimal_comma, parse.thousands);
                        if Numeric::parse(&n).is_none() {
                            return Err(fail(row, v, cannot(v, "numeric", numeric_hint(v))));
                        }
                        builder.append_value(&*n);
                    }
                }
            }
            Arc::new(builder.finish())
        }
        PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Json | PgType::Jsonb => {
            let mut builder = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (_, Some(v)) => builder.append_value(v),
                }
            }
            Arc::new(builder.finish())
        }
    };
    check(&array, target, at, file)?;
    Ok(array)
}

/// Number text with `.` as the decimal separator and no thousands separators, trimmed;
/// borrowed unless rewritten.
pub(super) fn number_text(v: &str, decimal_comma: bool, thousands: Option<u8>) -> Cow<'_, str> {
    let v = v.trim();
    let mut text = Cow::Borrowed(v);
    if let Some(sep) = thousands.map(char::from)
        && text.contains(sep)
    {
        text = Cow::Owned(text.replace(sep, ""));
    }
    if decimal_comma && text.contains(',') {
        text = Cow::Owned(text.replace(',', "."));
    }
    text
}

pub(super) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_naive(v: &str, format: Option<&str>) -> Option<NaiveDateTime> {
    let v = v.trim();
    match format {
        Some(format) => NaiveDateTime::parse_from_str(v, format).ok().or_else(|| {
            // A format with no time of day gives midnight.
            NaiveDate::parse_from_str(v, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        }),
        None => DEFAULT_TIMESTAMP_FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(v, DEFAULT_DATE_FORMAT)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            }),
    }
}

pub(super) fn parse_timestamptz(v: &str, target: &LoadColumn) -> Option<i64> {
    let parse = &target.parse;
    if let Some(zone) = parse.timezone {
        return zone.utc_micros(parse_naive(v, parse.format.as_deref())?);
    }
    let v = v.trim();
    match &parse.format {
        Some(format) => DateTime::parse_from_str(v, format).ok(),
        None => DateTime::parse_from_rfc3339(v)
            .ok()
            .or_else(|| DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f%#z").ok()),
    }
    .map(|t| t.timestamp_micros())
}

fn expected_formats(format: Option<&str>) -> String {
    match format {
        Some(format) => format!(" (expected format {format:?})"),
        None => " (expected an ISO 8601 timestamp such as \"2016-01-31 23:00:00\")".into(),
    }
}

fn expected_zoned(target: &LoadColumn) -> String {
    match (&target.parse.format, target.parse.timezone) {
        (Some(format), _) => format!(" (expected format {format:?})"),
        (None, Some(_)) => expected_formats(None),
        (None, None) => {
            " (expected an ISO 8601 timestamp with an offset such as \"2016-01-31T23:00:00+01:00\", or set `timezone`)"
                .into()
        }
    }
}
