//! The checks `[columns.*]` asks of each value: required, min and max, pattern.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use chrono::{DateTime, NaiveDate};

use crate::db::catalog::PgType;
use crate::error::Result;
use crate::job::LoadColumn;

use super::internal;
use super::report::{At, display, row_error};

/// Length, NUL, JSON and pattern checks on text values.
fn check_text(array: &ArrayRef, target: &LoadColumn, at: &At<'_>, file: &str) -> Result<()> {
    let strings = array.as_string::<i32>();
    for row in 0..strings.len() {
        if strings.is_null(row) {
            continue;
        }
        let v = strings.value(row);
        let fail = |problem: String| row_error(file, at, row, target, Some(v), problem);
        if v.contains('\0') {
            return Err(fail(format!(
                "{v:?} contains a NUL byte, which PostgreSQL text cannot hold"
            )));
        }
        if let Some(max) = target.max_chars {
            let chars = v.chars().count();
            if chars > max {
                return Err(fail(format!(
                    "{v:?} has {chars} characters, more than the {max} the column allows"
                )));
            }
        }
        if matches!(target.ty, PgType::Json | PgType::Jsonb)
            && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(v)
        {
            return Err(fail(format!("{v:?} is not JSON ({error})")));
        }
        if let Some(pattern) = &target.checks.pattern
            && !pattern.is_match(v)
        {
            return Err(fail(format!("{v:?} does not match the pattern {:?}", pattern.as_str())));
        }
    }
    Ok(())
}

/// PostgreSQL's own range for dates and timestamps (the server's `datatype/timestamp.h`:
/// from Julian day 0, 4714-11-24 BC, to before 5874898-01-01 for dates and before
/// 294277-01-01 for timestamps), in days and microseconds since 1970-01-01 as Arrow holds
/// them. Outside it the server refuses a value, and the binary encoding's shift to its
/// 2000 epoch could wrap; the upper timestamp bound is beyond what an `i64` of
/// microseconds since 1970 can hold.
const FIRST_DATE: i64 = -2_440_588;
const END_DATE: i64 = 2_147_483_494 - 2_440_588;
const FIRST_TIMESTAMP: i64 = -211_813_488_000_000_000 + 946_684_800_000_000;

/// Dates and timestamps within PostgreSQL's range.
fn check_range(array: &ArrayRef, target: &LoadColumn, at: &At<'_>, file: &str) -> Result<()> {
    let outside: Box<dyn Fn(usize) -> bool + '_> = match array.data_type() {
        DataType::Date32 => {
            let days = array.as_primitive::<arrow_array::types::Date32Type>();
            Box::new(move |row| !(FIRST_DATE..END_DATE).contains(&i64::from(days.value(row))))
        }
        DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, _) => {
            let micros = array.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
            Box::new(move |row| micros.value(row) < FIRST_TIMESTAMP)
        }
        _ => return Ok(()),
    };
    let Some(row) = (0..array.len()).find(|&row| array.is_valid(row) && outside(row)) else {
        return Ok(());
    };
    let shown = display(array.as_ref(), row);
    let (first, end) = match target.ty {
        PgType::Date => ("4714-11-24 BC", "5874898-01-01"),
        _ => ("4714-11-24 00:00 BC (UTC)", "294277-01-01"),
    };
    Err(row_error(
        file,
        at,
        row,
        target,
        Some(&shown),
        format!(
            "{shown} is outside PostgreSQL's range for {} (from {first} to before {end})",
            target.ty.name()
        ),
    ))
}

/// Length, JSON, range and pattern checks on converted values.
pub(super) fn check(array: &ArrayRef, target: &LoadColumn, at: &At<'_>, file: &str) -> Result<()> {
    if target.ty.is_textual() {
        check_text(array, target, at, file)?;
    }
    check_range(array, target, at, file)?;
    if target.checks.min.is_none() && target.checks.max.is_none() {
        return Ok(());
    }
    let numbers: ArrayRef = match array.data_type() {
        DataType::Utf8 => Arc::new(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.and_then(|s| s.parse::<f64>().ok()))
                .collect::<arrow_array::Float64Array>(),
        ),
        DataType::Date32 => arrow_cast::cast(
            &arrow_cast::cast(array, &DataType::Int32).map_err(internal)?,
            &DataType::Float64,
        )
        .map_err(internal)?,
        DataType::Timestamp(..) => arrow_cast::cast(
            &arrow_cast::cast(array, &DataType::Int64).map_err(internal)?,
            &DataType::Float64,
        )
        .map_err(internal)?,
        _ => arrow_cast::cast(array, &DataType::Float64).map_err(internal)?,
    };
    let numbers = numbers.as_primitive::<Float64Type>();
    for row in 0..numbers.len() {
        if numbers.is_null(row) {
            continue;
        }
        let n = numbers.value(row);
        let below = target.checks.min.is_some_and(|min| n < min);
        let above = target.checks.max.is_some_and(|max| n > max);
        if below || above {
            let shown = display(array.as_ref(), row);
            let bound = if below {
                "below the minimum"
            } else {
                "above the maximum"
            };
            let limit = if below { target.checks.min } else { target.checks.max }.unwrap_or_default();
            let limit = display_bound(target.ty, limit);
            return Err(row_error(
                file,
                at,
                row,
                target,
                Some(&shown),
                format!("{shown} is {bound} {limit}"),
            ));
        }
    }
    Ok(())
}

fn display_bound(ty: PgType, bound: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounds of dates and timestamps were whole numbers"
    )]
    match ty {
        PgType::Date => {
            let days = chrono::Duration::days(bound as i64);
            (NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + days).to_string()
        }
        PgType::Timestamp | PgType::Timestamptz => DateTime::from_timestamp_micros(bound as i64)
            .map_or_else(|| bound.to_string(), |t| t.naive_utc().to_string()),
        _ => bound.to_string(),
    }
}
