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
//! Parameter types are `text`, `int`, `date`, `timestamptz`, and the comma-separated lists
//! `text[]` and `int[]` (bound as `text[]` and `int8[]`); flags are `required`, `default=V`,
//! `min=N`, `max=N`, `max_length=N` and `pattern=REGEX` (a list's items are checked each).
//! A path segment `{name}` is a declared parameter taken from the path (required, not a
//! list). An `exists:` line names a query (under the queries folder) that must return true
//! for the given parameters when the route's query returns no rows, or the request is
//! answered 404 naming them (so a query must return no rows for what does not exist). `range:` bounds a span by two parameters ([`Range`]);
//! `one_of: a b c` asks for at least one of them. `format:` is the output format when the
//! request names none (JSON otherwise). `max_rows: N` (or `none`, for a route that streams
//! a whole table) replaces the server's cap on the rows of one response. `reads:` lists the tables whose last committed
//! batch makes the route's `ETag` (`*`: any batch).

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use param::parse_param;
pub use param::{Kind, MAX_ITEMS, Param, Value};
pub use range::Range;

mod param;
mod range;

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
    /// The parameters named by the path's `{name}` segments, by index, in path order.
    pub path_params: Vec<usize>,
    /// Groups of parameters of which a request must give at least one (`-- one_of:`).
    pub one_of: Vec<Vec<usize>>,
    /// The output format when the request names none (`-- format:`; JSON otherwise).
    pub format: Option<String>,
    /// The most rows one response holds (`-- max_rows: N`, or `none`: `u64::MAX`), when not
    /// the server's [`ApiOptions::max_rows`](super::ApiOptions::max_rows).
    pub max_rows: Option<u64>,
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

    /// The path with its `{name}` segments unnamed: two routes of one shape collide.
    fn shape(&self) -> String {
        self.path
            .split('/')
            .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Whether `path` is a route path: `/` and segments, each literal or a whole `{name}`.
fn is_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.contains(['?', '#', ' '])
        && path.split('/').skip(1).all(|segment| match segment.strip_prefix('{') {
            Some(rest) => rest
                .strip_suffix('}')
                .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')),
            None => !segment.contains(['{', '}']),
        })
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
        if routes[..i].iter().any(|r| r.shape() == route.shape()) {
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
        path_params: Vec::new(),
        one_of: Vec::new(),
        format: None,
        max_rows: None,
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
        if ["exists", "range", "one_of"].contains(&key) {
            later.push((number, key, rest.to_owned()));
        } else if let Err(problem) = read_line(&mut route, key, rest) {
            problems.push(at(problem));
        }
    }
    read_later(dir, file, &mut route, &later, &mut problems);
    read_path_params(file, &mut route, &mut problems);
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

/// One header line that names nothing declared after it (`exists:`, `range:` and `one_of:`
/// come after the parameters); the error is the problem with it.
fn read_line(route: &mut Route, key: &str, rest: &str) -> std::result::Result<(), String> {
    match key {
        "route" if is_path(rest) => rest.clone_into(&mut route.path),
        "route" => {
            return Err(format!(
                "route {rest:?} must be a path starting with /, each segment a name or a whole {{parameter}}"
            ));
        }
        "summary" => rest.clone_into(&mut route.summary),
        "example" => route.example = Some(rest.to_owned()),
        "format" if ["json", "ndjson", "csv"].contains(&rest) => route.format = Some(rest.to_owned()),
        "format" => return Err(format!("format {rest:?} is not one of json, ndjson, csv")),
        "max_rows" if rest == "none" => route.max_rows = Some(u64::MAX),
        "max_rows" => {
            let n = rest
                .parse()
                .map_err(|_| format!("max_rows {rest:?} is not a count or none"))?;
            route.max_rows = Some(n);
        }
        "reads" if rest == "*" => route.reads = Reads::Any,
        "reads" => route.reads = Reads::Tables(rest.split_whitespace().map(str::to_owned).collect()),
        "param" => route.params.push(parse_param(rest)?),
        _ => {}
    }
    Ok(())
}

/// The lines that name parameters, once every parameter is declared.
fn read_later(dir: &Path, file: &Path, route: &mut Route, later: &[(usize, &str, String)], problems: &mut Vec<String>) {
    let at = |number: usize, problem: String| format!("{}: line {}: {problem}", file.display(), number + 1);
    for (number, _, text) in later.iter().filter(|l| l.1 == "range") {
        match Range::parse(text, &route.params) {
            Ok(range) => route.ranges.push(range),
            Err(problem) => problems.push(at(*number, problem)),
        }
    }
    let exists_lines = later
        .iter()
        .filter(|l| l.1 == "exists")
        .map(|(n, _, t)| (*n, t.clone()))
        .collect();
    read_exists(dir, file, route, exists_lines, problems);
    for (number, _, text) in later.iter().filter(|l| l.1 == "one_of") {
        match names(text, &route.params) {
            Ok(group) if group.len() >= 2 => route.one_of.push(group),
            Ok(_) => problems.push(at(*number, "one_of: needs two or more parameters".into())),
            Err(problem) => problems.push(at(*number, format!("one_of: {problem}"))),
        }
    }
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

/// Indexes of the declared parameters named in `text`, separated by white space.
fn names(text: &str, params: &[Param]) -> std::result::Result<Vec<usize>, String> {
    text.split_whitespace()
        .map(|name| {
            params
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| format!("{name:?} is not a declared parameter"))
        })
        .collect()
}

/// The path's `{name}` segments: each a declared parameter, required, not a list.
fn read_path_params(file: &Path, route: &mut Route, problems: &mut Vec<String>) {
    let named: Vec<String> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}').map(str::to_owned))
        .collect();
    for name in named {
        match route.params.iter().position(|p| p.name == name) {
            Some(i) if matches!(route.params[i].kind, Kind::TextList | Kind::IntList) => {
                problems.push(format!("{}: path parameter {name:?} cannot be a list", file.display()));
            }
            Some(i) if route.path_params.contains(&i) => {
                problems.push(format!("{}: path parameter {name:?} is named twice", file.display()));
            }
            Some(i) => {
                route.params[i].required = true;
                route.path_params.push(i);
            }
            None => problems.push(format!(
                "{}: the path names {{{name}}} but no `-- param: {name} ...` declares it",
                file.display()
            )),
        }
    }
}

/// The query parameter every route takes to choose its output format.
pub const FORMAT_PARAM: &str = "format";

#[cfg(test)]
mod tests;
