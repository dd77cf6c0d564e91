//! Where each target column's value comes from: value rules, templates, parsing options and
//! checks, made from one `[columns.*]` table and the column's catalog entry.

use regex::Regex;

use super::problems::Problems;
use super::raw::RawColumn;
use super::source::{decimal_of, thousands_of};
use super::time::{Zone, days_since_epoch};
use super::{Checks, LoadColumn, Parse, Segment, ValueRule};
use crate::db::Ident;
use crate::db::catalog::{Column, PgType};

pub(super) fn value_rule(name: &str, column: &RawColumn, problems: &mut Problems) -> Option<ValueRule> {
    let given = [
        column.from.is_some(),
        column.template.is_some(),
        column.value.is_some(),
        column.path.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given > 1 {
        problems.at(
            &["columns", name],
            format!("[columns.{name}] gives more than one of `from`, `template`, `value`, `path`"),
        );
        return None;
    }
    if let Some(template) = &column.template {
        return match parse_template(template) {
            Ok(segments) => Some(ValueRule::Template(segments)),
            Err(problem) => {
                problems.at(
                    &["columns", name, "template"],
                    format!("[columns.{name}] template {template:?}: {problem}"),
                );
                None
            }
        };
    }
    if let Some(value) = &column.value {
        return Some(ValueRule::Constant(value.clone()));
    }
    if let Some(pattern) = &column.path {
        return match Regex::new(pattern) {
            Ok(regex) if regex.captures_len() >= 2 => Some(ValueRule::Path(regex)),
            Ok(_) => {
                problems.at(
                    &["columns", name, "path"],
                    format!("[columns.{name}] path {pattern:?} has no capture group"),
                );
                None
            }
            Err(error) => {
                problems.at(
                    &["columns", name, "path"],
                    format!("[columns.{name}] path {pattern:?} is not a regex: {error}"),
                );
                None
            }
        };
    }
    Some(ValueRule::Field {
        name: column.from.clone().unwrap_or_else(|| name.to_owned()),
        implicit: false,
    })
}

/// Splits `{year}-{month} x` into fields and literals. `{{` and `}}` are literal braces.
pub(super) fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err("a `{` is not closed".into()),
                    }
                }
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Field(name));
            }
            '}' => return Err("a `}` has no `{`".into()),
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    if !segments.iter().any(|s| matches!(s, Segment::Field(_))) {
        return Err("names no field (write fields as {name})".into());
    }
    Ok(segments)
}

/// The loaded column `column`, its value by `rule`, parsed and checked as `spec` says; `at`
/// is the table of the spec that makes it (`["columns", name]`, `["unpivot", "parse"]`).
pub(super) fn make_target(
    column: &Column,
    rule: ValueRule,
    spec: &RawColumn,
    defaults: &Parse,
    at: &[&str],
    problems: &mut Problems,
) -> Option<LoadColumn> {
    let key = |name: &'static str| [at, &[name]].concat();
    let name = &column.name;
    let Some(ty) = column.ty else {
        problems.at(at, format!(
            "column {name:?} has type {}, which pgbatch cannot load (supported: boolean, smallint, integer, bigint, real, double precision, numeric, text, varchar, char, date, timestamp, timestamptz, json, jsonb)",
            column.declared
        ));
        return None;
    };
    let parse = Parse {
        null: spec.null.clone().unwrap_or_else(|| defaults.null.clone()),
        decimal: decimal_of(spec.decimal.as_ref(), defaults.decimal, at, problems),
        thousands: thousands_of(spec.thousands.as_ref(), defaults.thousands, at, problems),
        format: spec.format.clone(),
        timezone: spec.timezone.as_deref().and_then(|tz| {
            let zone = Zone::parse(tz);
            if zone.is_none() {
                problems.at(&key("timezone"), format!(
                    "[columns.{name}] timezone {tz:?} is unknown (expected \"UTC\", an offset such as \"+08:00\", or an IANA name such as \"Australia/Sydney\")"
                ));
            }
            zone
        }),
        replace_nul: defaults.replace_nul.clone(),
    };
    if let Some(format) = &parse.format {
        if !matches!(ty, PgType::Date | PgType::Timestamp | PgType::Timestamptz) {
            problems.at(
                &key("format"),
                format!("[columns.{name}] has a `format`, but {} values take none", ty.name()),
            );
        } else if chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error)) {
            problems.at(
                &key("format"),
                format!("[columns.{name}] format {format:?} is not a valid chrono format"),
            );
        }
    }
    if parse.timezone.is_some() && ty != PgType::Timestamptz {
        problems.at(
            &key("timezone"),
            format!("[columns.{name}] has a `timezone`, but only timestamptz columns take one"),
        );
    }
    let checks = checks(column, ty, spec, at, problems);
    Some(LoadColumn {
        name: name.clone(),
        ident: Ident::new(name),
        ty,
        max_chars: column.max_chars(),
        not_null: column.not_null,
        has_default: column.has_default,
        rule,
        parse,
        checks,
    })
}

/// The checks `[columns.*]` asks of each value of a column of type `ty`.
fn checks(column: &Column, ty: PgType, spec: &RawColumn, at: &[&str], problems: &mut Problems) -> Checks {
    let name = &column.name;
    let key = |name: &'static str| [at, &[name]].concat();
    let bound = |value: Option<&toml::Value>, which: &'static str, problems: &mut Problems| {
        value.and_then(|v| {
            let parsed = bound_value(ty, v);
            if parsed.is_none() {
                problems.at(
                    &key(which),
                    format!(
                        "[columns.{name}] {which} = {v} does not fit the column's type ({})",
                        ty.name()
                    ),
                );
            }
            parsed
        })
    };
    Checks {
        required: spec.required || column.not_null,
        min: bound(spec.min.as_ref(), "min", problems),
        max: bound(spec.max.as_ref(), "max", problems),
        pattern: spec.pattern.as_deref().and_then(|p| match Regex::new(p) {
            Ok(regex) if ty.is_textual() => Some(regex),
            Ok(_) => {
                problems.at(
                    &key("pattern"),
                    format!(
                        "[columns.{name}] has a `pattern`, but {} values are not text",
                        ty.name()
                    ),
                );
                None
            }
            Err(error) => {
                problems.at(
                    &key("pattern"),
                    format!("[columns.{name}] pattern {p:?} is not a regex: {error}"),
                );
                None
            }
        }),
    }
}

/// A `min` or `max` bound as f64, if it fits the column's type.
fn bound_value(ty: PgType, value: &toml::Value) -> Option<f64> {
    use toml::Value as V;
    match (ty, value) {
        (
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Float4 | PgType::Float8 | PgType::Numeric,
            V::Integer(i),
        ) =>
        {
            #[expect(clippy::cast_precision_loss, reason = "bounds beyond 2^53 are not meaningful checks")]
            Some(*i as f64)
        }
        (PgType::Float4 | PgType::Float8 | PgType::Numeric, V::Float(f)) => Some(*f),
        (PgType::Date, V::String(s)) => {
            let day = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(f64::from(days_since_epoch(day)))
        }
        (PgType::Timestamp | PgType::Timestamptz, V::String(s)) => {
            let micros = chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| t.timestamp_micros())
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                        .map(|t| t.and_utc().timestamp_micros())
                })
                .ok()?;
            #[expect(
                clippy::cast_precision_loss,
                reason = "microsecond bounds fit f64 exactly until year 287396"
            )]
            Some(micros as f64)
        }
        _ => None,
    }
}
