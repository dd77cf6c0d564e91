//! A route's parameters: `-- param: NAME KIND [FLAG ...] [ | description]`, and how a value
//! given in a request is read and checked against its declaration.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use regex::Regex;

/// The type of a route parameter, as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Date,
    Timestamptz,
    /// `text[]`: a comma-separated list, bound as a `text[]`.
    TextList,
    /// `int[]`: a comma-separated list of integers, bound as an `int8[]`.
    IntList,
}

impl Kind {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "text" => Kind::Text,
            "int" => Kind::Int,
            "date" => Kind::Date,
            "timestamptz" => Kind::Timestamptz,
            "text[]" => Kind::TextList,
            "int[]" => Kind::IntList,
            _ => return None,
        })
    }

    /// What a value of this kind looks like, for messages and the OpenAPI document.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int => "an integer",
            Kind::Date => "a date, YYYY-MM-DD",
            Kind::Timestamptz => "a timestamp, RFC 3339 (2016-01-01T00:00:00Z) or YYYY-MM-DD (midnight UTC)",
            Kind::TextList => "a comma-separated list of text",
            Kind::IntList => "a comma-separated list of integers",
        }
    }

    /// The SQL type a query binds a parameter of this kind as.
    pub fn sql(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Int => "int8",
            Kind::Date => "date",
            Kind::Timestamptz => "timestamptz",
            Kind::TextList => "text[]",
            Kind::IntList => "int8[]",
        }
    }
}

/// A list parameter takes at most this many items (a query string is short anyway: see
/// [`ApiOptions::max_query_bytes`](crate::api::ApiOptions::max_query_bytes)).
pub const MAX_ITEMS: usize = 100;

/// A parameter value, parsed and checked, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Timestamptz(DateTime<FixedOffset>),
    TextList(Vec<String>),
    IntList(Vec<i64>),
}

/// One declared parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: Kind,
    pub required: bool,
    pub default: Option<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub max_length: Option<usize>,
    pub pattern: Option<Regex>,
    pub description: String,
}

impl Param {
    /// Parses and checks a value given in a request (`None`: not given). The error is the
    /// reason, to be reported under the parameter's name.
    pub fn value(&self, given: Option<&str>) -> std::result::Result<Value, String> {
        let Some(text) = given.or(self.default.as_deref()) else {
            return if self.required {
                Err(format!("is required: {}", self.kind.expected()))
            } else {
                Ok(Value::Null)
            };
        };
        match self.kind {
            Kind::Text => self.text(text).map(Value::Text),
            Kind::Int => self.int(text).map(Value::Int),
            Kind::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| format!("{text:?} is not {}", self.kind.expected())),
            Kind::Timestamptz => DateTime::parse_from_rfc3339(text)
                .or_else(|_| {
                    NaiveDate::parse_from_str(text, "%Y-%m-%d")
                        .map(|day| day.and_time(NaiveTime::MIN).and_utc().fixed_offset())
                })
                .map(Value::Timestamptz)
                .map_err(|_| format!("{text:?} is not {}", self.kind.expected())),
            Kind::TextList => items(text)?
                .map(|item| self.text(item))
                .collect::<Result<_, _>>()
                .map(Value::TextList),
            Kind::IntList => items(text)?
                .map(|item| self.int(item))
                .collect::<Result<_, _>>()
                .map(Value::IntList),
        }
    }

    /// A text value (or a list's item) checked against `max_length` and `pattern`.
    fn text(&self, text: &str) -> std::result::Result<String, String> {
        if let Some(max) = self.max_length
            && text.chars().count() > max
        {
            return Err(format!("must be at most {max} characters long"));
        }
        if let Some(pattern) = &self.pattern
            && !pattern.is_match(text)
        {
            return Err(format!("{text:?} does not match the pattern {}", pattern.as_str()));
        }
        Ok(text.to_owned())
    }

    /// An integer (or a list's item) checked against `min` and `max`.
    fn int(&self, text: &str) -> std::result::Result<i64, String> {
        let n: i64 = text.parse().map_err(|_| format!("{text:?} is not an integer"))?;
        if let Some(min) = self.min
            && n < min
        {
            return Err(format!("{n} is less than the minimum, {min}"));
        }
        if let Some(max) = self.max
            && n > max
        {
            return Err(format!("{n} is more than the maximum, {max}"));
        }
        Ok(n)
    }
}

/// A list's items: split at commas, none empty, at most [`MAX_ITEMS`].
fn items(text: &str) -> std::result::Result<std::str::Split<'_, char>, String> {
    let count = text.split(',').count();
    if count > MAX_ITEMS {
        return Err(format!("has {count} items; at most {MAX_ITEMS} are taken"));
    }
    if let Some(at) = text.split(',').position(str::is_empty) {
        return Err(format!("item {} of {text:?} is empty", at + 1));
    }
    Ok(text.split(','))
}

/// `NAME KIND [FLAG ...] [ | description]`
pub(super) fn parse_param(text: &str) -> std::result::Result<Param, String> {
    let (spec, description) = text.split_once(" | ").unwrap_or((text, ""));
    let mut words = spec.split_whitespace();
    let (Some(name), Some(kind)) = (words.next(), words.next()) else {
        return Err(format!("param: {text:?} needs a name and a type"));
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("param: {name:?} is not a parameter name (letters, digits, _)"));
    }
    let kind = Kind::parse(kind).ok_or_else(|| {
        format!("param {name}: type {kind:?} is not one of text, int, date, timestamptz, text[], int[]")
    })?;
    let mut param = Param {
        name: name.to_owned(),
        kind,
        required: false,
        default: None,
        min: None,
        max: None,
        max_length: None,
        pattern: None,
        description: description.trim().to_owned(),
    };
    let number = |flag: &str, value: &str| -> std::result::Result<i64, String> {
        value
            .parse()
            .map_err(|_| format!("param {name}: {flag}={value:?} is not an integer"))
    };
    for word in words {
        let (flag, value) = word.split_once('=').unwrap_or((word, ""));
        match flag {
            "required" => param.required = true,
            "default" => param.default = Some(value.to_owned()),
            "min" => param.min = Some(number(flag, value)?),
            "max" => param.max = Some(number(flag, value)?),
            "max_length" => {
                param.max_length = Some(
                    value
                        .parse()
                        .map_err(|_| format!("param {name}: max_length={value:?} is not a length"))?,
                );
            }
            "pattern" => {
                param.pattern =
                    Some(Regex::new(value).map_err(|error| format!("param {name}: pattern {value:?}: {error}"))?);
            }
            _ => return Err(format!("param {name}: unknown flag {word:?}")),
        }
    }
    if let Some(default) = &param.default {
        param
            .value(Some(default))
            .map_err(|reason| format!("param {name}: default {reason}"))?;
    }
    Ok(param)
}
