//! The PostgreSQL type a text column's values fit, the narrowest first, with the format
//! its dates or timestamps are in and its least and greatest values.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// What a column is loaded as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Boolean,
    Integer,
    Bigint,
    DoublePrecision,
    Date,
    Timestamp,
    Timestamptz,
    Text,
}

impl Kind {
    /// Its name in SQL.
    pub fn sql(&self) -> &'static str {
        match self {
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Bigint => "bigint",
            Kind::DoublePrecision => "double precision",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Timestamptz => "timestamptz",
            Kind::Text => "text",
        }
    }
}

/// A column's values, typed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Typed {
    pub kind: Kind,
    /// The chrono format of its dates or timestamps, when the loader's default (ISO 8601)
    /// does not read them.
    pub format: Option<String>,
    pub min: Option<String>,
    pub max: Option<String>,
}

/// Date formats tried, the loader's default first.
const DATE_FORMATS: [&str; 6] = ["%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d", "%d-%m-%Y"];

/// Timestamp formats tried after the loader's defaults (ISO 8601 with a space or a `T`).
const TIMESTAMP_FORMATS: [&str; 6] = [
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
];

/// The loader's own timestamp formats (when a column gives none).
const DEFAULT_TIMESTAMP_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

/// Integers as the loader reads them: digits, or a float with no fraction (`253019.0`).
fn integer(value: &str, decimal_comma: bool) -> Option<i64> {
    if let Ok(n) = value.parse::<i64>() {
        return Some(n);
    }
    let float = float(value, decimal_comma)?;
    #[expect(clippy::cast_possible_truncation, reason = "checked to be a whole number in range")]
    (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
}

fn float(value: &str, decimal_comma: bool) -> Option<f64> {
    let value = if decimal_comma {
        std::borrow::Cow::Owned(value.replace(',', "."))
    } else {
        std::borrow::Cow::Borrowed(value)
    };
    // Rust reads "inf" and "NaN" too; a sentinel such as NaN is a null marker, not a number.
    value
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && value.bytes().any(|b| b.is_ascii_digit()))
}

fn extremes<T: PartialOrd + Copy>(values: impl Iterator<Item = (T, usize)>) -> Option<(usize, usize)> {
    let mut best: Option<(T, usize, T, usize)> = None;
    for (value, at) in values {
        best = Some(match best {
            None => (value, at, value, at),
            Some((lo, lo_at, hi, hi_at)) => {
                let (lo, lo_at) = if value < lo { (value, at) } else { (lo, lo_at) };
                let (hi, hi_at) = if value > hi { (value, at) } else { (hi, hi_at) };
                (lo, lo_at, hi, hi_at)
            }
        });
    }
    best.map(|(_, lo, _, hi)| (lo, hi))
}

/// All `values` parsed by `parse`, or none: with the positions of the least and greatest.
fn all<T: PartialOrd + Copy>(values: &[&str], parse: impl Fn(&str) -> Option<T>) -> Option<(usize, usize)> {
    let parsed: Option<Vec<T>> = values.iter().map(|v| parse(v)).collect();
    extremes(parsed?.into_iter().enumerate().map(|(i, v)| (v, i)))
}

/// The narrowest type every one of `values` (distinct, not null, at least one) fits.
pub fn classify(values: &[&str], decimal_comma: bool) -> Typed {
    let typed = |kind: Kind, format: Option<&str>, (lo, hi): (usize, usize)| Typed {
        kind,
        format: format.map(str::to_owned),
        min: Some(values[lo].to_owned()),
        max: Some(values[hi].to_owned()),
    };
    if values.is_empty() {
        return Typed {
            kind: Kind::Text,
            format: None,
            min: None,
            max: None,
        };
    }
    let boolean = |v: &str| match v.to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" => Some(true),
        "false" | "f" | "no" => Some(false),
        _ => None,
    };
    if let Some(at) = all(values, boolean) {
        return typed(Kind::Boolean, None, at);
    }
    if let Some((lo, hi)) = all(values, |v| integer(v, decimal_comma)) {
        let fits = |at: usize| integer(values[at], decimal_comma).is_some_and(|n| i32::try_from(n).is_ok());
        let kind = if fits(lo) && fits(hi) {
            Kind::Integer
        } else {
            Kind::Bigint
        };
        return typed(kind, None, (lo, hi));
    }
    if let Some(at) = all(values, |v| float(v, decimal_comma)) {
        return typed(Kind::DoublePrecision, None, at);
    }
    for format in DATE_FORMATS {
        if let Some(at) = all(values, |v| NaiveDate::parse_from_str(v, format).ok()) {
            return typed(Kind::Date, (format != DATE_FORMATS[0]).then_some(format), at);
        }
    }
    let default = |v: &str| {
        DEFAULT_TIMESTAMP_FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    };
    if let Some(at) = all(values, default) {
        return typed(Kind::Timestamp, None, at);
    }
    let zoned = |v: &str| {
        DateTime::parse_from_rfc3339(v)
            .ok()
            .or_else(|| DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f%#z").ok())
    };
    if let Some(at) = all(values, zoned) {
        return typed(Kind::Timestamptz, None, at);
    }
    for format in TIMESTAMP_FORMATS {
        if let Some(at) = all(values, |v| NaiveDateTime::parse_from_str(v, format).ok()) {
            return typed(Kind::Timestamp, Some(format), at);
        }
    }
    let at = extremes(values.iter().enumerate().map(|(i, v)| (*v, i))).unwrap_or((0, 0));
    typed(Kind::Text, None, at)
}
