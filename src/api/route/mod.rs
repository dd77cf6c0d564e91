//! Route files: each `sql/queries/*.sql` is one `GET` route. Its header comments declare the
//! route, its parameters and what it reads; the rest is the query, with parameters bound as
//! `$1`, `$2`, ... in the order they are declared:
//!
//! ```sql
//! -- route: /rates
//! -- summary: Average price per day between two ports or regions.
//! -- reads: prices ports regions
//! -- param: date_from date required | First day, YYYY-MM-DD.
//! -- param: limit int default=100 min=1 max=1000 | Rows per page.
//! -- exists: checks/place.sql origin
//! -- example: /rates?date_from=2016-01-01&...
//! SELECT ...
//! ```
//!
//! Parameter types are `text`, `int`, `date` and `timestamptz`; flags are `required`,
//! `default=V`, `min=N`, `max=N`, `max_length=N` and `pattern=REGEX`. An `exists:` line names
//! a query (under the queries folder) that must return true for the given parameters, or
//! the request is answered 404 naming them. `range:` bounds a span by two parameters
//! ([`Range`]). `reads:` lists the tables whose last committed batch makes the route's
//! `ETag` (`*`: any batch).

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use regex::Regex;

use crate::error::{Error, ErrorKind, Result};
pub use range::Range;

mod range;

/// The type of a route parameter, as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Date,
    Timestamptz,
}

impl Kind {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "text" => Kind::Text,
            "int" => Kind::Int,
            "date" => Kind::Date,
            "timestamptz" => Kind::Timestamptz,
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
        }
    }
}

/// A parameter value, parsed and checked, ready to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Timestamptz(DateTime<FixedOffset>),
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
            Kind::Text => {
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
                Ok(Value::Text(text.to_owned()))
            }
            Kind::Int => {
                let n: i64 = text
                    .parse()
                    .map_err(|_| format!("{text:?} is not {}", self.kind.expected()))?;
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
                Ok(Value::Int(n))
            }
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
        }
    }
}

/// Which batches make a route's `ETag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    Tables(Vec<String>),
    Any,
}

/// A query that must return true, or the request gets 404.
#[derive(Debug, Clone)]
pub struct Exists {
    pub file: PathBuf,
    pub sql: String,
    /// Indexes into the route's parameters, in the order the query binds them.
    pub params: Vec<usize>,
}

/// One route, read from one query file.
#[derive(Debug, Clone)]
pub struct Route {
    pub file: PathBuf,
    pub path: String,
    pub summary: String,
    pub reads: Reads,
    pub params: Vec<Param>,
    pub exists: Vec<Exists>,
    /// Spans bounded by two parameters (`-- range:`).
    pub ranges: Vec<Range>,
    pub example: Option<String>,
    pub sql: String,
}

impl Route {
    /// The operation id: the file's stem.
    pub fn name(&self) -> String {
        self.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Reads every `*.sql` directly in `dir` (sub-folders hold `exists:` queries), sorted by
/// path. Every problem in every file is reported at once.
pub fn read_dir(dir: &Path) -> Result<Vec<Route>> {
    let entries =
        std::fs::read_dir(dir).map_err(|error| Error::config(format!("query folder {}: {error}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut routes = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match parse(dir, &file, &text) {
                Ok(route) => routes.push(route),
                Err(mut more) => problems.append(&mut more),
            },
            Err(error) => problems.push(format!("{}: {error}", file.display())),
        }
    }
    for (i, route) in routes.iter().enumerate() {
        if routes[..i].iter().any(|r| r.path == route.path) {
            problems.push(format!(
                "{}: route {} is declared twice",
                route.file.display(),
                route.path
            ));
        }
    }
    if routes.is_empty() && problems.is_empty() {
        problems.push(format!("{}: no query files (*.sql)", dir.display()));
    }
    if problems.is_empty() {
        Ok(routes)
    } else {
        Err(ErrorKind::Config { problems }.into())
    }
}

/// Parses one query file's header and body.
pub fn parse(dir: &Path, file: &Path, text: &str) -> std::result::Result<Route, Vec<String>> {
    let mut problems = Vec::new();
    let mut route = Route {
        file: file.to_path_buf(),
        path: String::new(),
        summary: String::new(),
        reads: Reads::Tables(Vec::new()),
        params: Vec::new(),
        exists: Vec::new(),
        ranges: Vec::new(),
        example: None,
        sql: text.to_owned(),
    };
    let mut later = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let Some(comment) = line.strip_prefix("--") else {
            continue;
        };
        let at = |problem: String| format!("{}: line {}: {problem}", file.display(), number + 1);
        let Some((key, rest)) = comment.trim().split_once(':') else {
            continue;
        };
        let rest = rest.trim();
        match key {
            "route" => {
                if rest.starts_with('/') && !rest.contains(['?', '{', ' ']) {
                    rest.clone_into(&mut route.path);
                } else {
                    problems.push(at(format!("route {rest:?} must be a path starting with /")));
                }
            }
            "summary" => rest.clone_into(&mut route.summary),
            "example" => route.example = Some(rest.to_owned()),
            "reads" => {
                route.reads = if rest == "*" {
                    Reads::Any
                } else {
                    Reads::Tables(rest.split_whitespace().map(str::to_owned).collect())
                };
            }
            "param" => match parse_param(rest) {
                Ok(param) => route.params.push(param),
                Err(problem) => problems.push(at(problem)),
            },
            "exists" | "range" => later.push((number, key, rest.to_owned())),
            _ => {}
        }
    }
    // After the parameters, which they name.
    let exists_lines = later
        .iter()
        .filter(|l| l.1 == "exists")
        .map(|(n, _, t)| (*n, t.clone()))
        .collect();
    for (number, _, text) in later.iter().filter(|l| l.1 == "range") {
        match Range::parse(text, &route.params) {
            Ok(range) => route.ranges.push(range),
            Err(problem) => problems.push(format!("{}: line {}: {problem}", file.display(), number + 1)),
        }
    }
    read_exists(dir, file, &mut route, exists_lines, &mut problems);
    if route.path.is_empty() {
        problems.push(format!("{}: no `-- route: /path` line", file.display()));
    }
    if route.reads == Reads::Tables(Vec::new()) {
        problems.push(format!(
            "{}: no `-- reads: table ...` line (the tables that make its ETag)",
            file.display()
        ));
    }
    for (i, param) in route.params.iter().enumerate() {
        if route.params[..i].iter().any(|p| p.name == param.name) || param.name == FORMAT_PARAM {
            problems.push(format!(
                "{}: parameter {:?} is declared twice or is reserved",
                file.display(),
                param.name
            ));
        }
    }
    if problems.is_empty() { Ok(route) } else { Err(problems) }
}

/// The `exists:` lines of a route: each a query file (relative to `dir`) and the names of
/// the declared parameters it takes.
fn read_exists(dir: &Path, file: &Path, route: &mut Route, lines: Vec<(usize, String)>, problems: &mut Vec<String>) {
    for (number, line) in lines {
        let at = |problem: String| format!("{}: line {}: {problem}", file.display(), number + 1);
        let mut words = line.split_whitespace();
        let Some(query) = words.next() else {
            problems.push(at("exists: needs a query file and parameter names".into()));
            continue;
        };
        let mut params = Vec::new();
        for name in words {
            match route.params.iter().position(|p| p.name == name) {
                Some(i) => params.push(i),
                None => problems.push(at(format!("exists: {name:?} is not a declared parameter"))),
            }
        }
        let path = dir.join(query);
        match std::fs::read_to_string(&path) {
            Ok(sql) => route.exists.push(Exists {
                file: path,
                sql,
                params,
            }),
            Err(error) => problems.push(at(format!("exists: {}: {error}", path.display()))),
        }
    }
}

/// The query parameter every route takes to choose its output format.
pub const FORMAT_PARAM: &str = "format";

/// `NAME KIND [FLAG ...] [ | description]`
fn parse_param(text: &str) -> std::result::Result<Param, String> {
    let (spec, description) = text.split_once(" | ").unwrap_or((text, ""));
    let mut words = spec.split_whitespace();
    let (Some(name), Some(kind)) = (words.next(), words.next()) else {
        return Err(format!("param: {text:?} needs a name and a type"));
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("param: {name:?} is not a parameter name (letters, digits, _)"));
    }
    let kind = Kind::parse(kind)
        .ok_or_else(|| format!("param {name}: type {kind:?} is not one of text, int, date, timestamptz"))?;
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

#[cfg(test)]
mod tests;
