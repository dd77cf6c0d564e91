//! The job spec model: `jobs/*.toml` parsed ([`raw`]) and resolved against the target
//! table's catalog into a [`Job`]: quoted identifiers, target types, compiled patterns,
//! and one value rule per loaded column. Every problem in a spec is reported at once.

mod fingerprint;
pub mod raw;

use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use regex::Regex;

use crate::db::catalog::{Column, PgType};
use crate::error::{Error, ErrorKind, Result};
use raw::{RawColumn, RawJob};

/// A quoted SQL identifier (possibly schema-qualified), safe to put into a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident(String);

impl Ident {
    /// Quotes one name: `a"b` becomes `"a""b"`.
    pub fn new(name: &str) -> Self {
        Ident(format!("\"{}\"", name.replace('"', "\"\"")))
    }

    /// Quotes each part of a dotted table name (`schema.table`).
    pub fn qualified(name: &str) -> Self {
        Ident(
            name.split('.')
                .map(|part| Ident::new(part).0)
                .collect::<Vec<_>>()
                .join("."),
        )
    }

    /// The identifier as SQL text.
    pub fn as_sql(&self) -> &str {
        &self.0
    }
}

/// How a batch meets what the table already holds.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Add the rows.
    Append,
    /// Insert, or update the non-key columns of rows whose key exists.
    Upsert { key: Vec<Ident> },
    /// Insert rows whose key does not exist yet; skip the others (and duplicates in the batch).
    InsertNew { key: Vec<Ident> },
    /// The table becomes exactly the batch (DELETE + INSERT under MVCC, never TRUNCATE).
    Replace,
    /// Rows whose cover column takes a value the batch covers are replaced by the batch.
    ReplaceCovered(Cover),
}

impl Mode {
    /// The name used in specs and the ledger.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Upsert { .. } => "upsert",
            Mode::InsertNew { .. } => "insert_new",
            Mode::Replace => "replace",
            Mode::ReplaceCovered(_) => "replace_covered",
        }
    }
}

/// What a `replace_covered` batch covers: the values of `column` it holds, plus the values
/// (or inclusive range) its file names declare.
#[derive(Debug, Clone)]
pub struct Cover {
    pub column: Ident,
    /// The column's declared type, from the catalog (used in a cast).
    pub declared: String,
    pub from_path: Option<Regex>,
}

/// The kind of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    Csv,
    Parquet,
    PgDump,
}

impl FormatKind {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "csv" => Some(FormatKind::Csv),
            "parquet" => Some(FormatKind::Parquet),
            "pg_dump" => Some(FormatKind::PgDump),
            _ => None,
        }
    }

    /// Guesses the kind from a file name's suffix.
    pub fn from_path(path: &str) -> Option<Self> {
        let lower = path.to_ascii_lowercase();
        // Compression is found by magic bytes; the name under it tells the format.
        let name = [".gz", ".bz2", ".zst", ".zstd"]
            .iter()
            .find_map(|suffix| lower.strip_suffix(suffix))
            .unwrap_or(&lower);
        let extension = Path::new(name).extension()?.to_str()?;
        match extension {
            "parquet" | "pq" => Some(FormatKind::Parquet),
            "sql" => Some(FormatKind::PgDump),
            "csv" | "tsv" | "txt" => Some(FormatKind::Csv),
            _ => None,
        }
    }
}

/// How source files are read.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// `None`: from each file's suffix.
    pub format: Option<FormatKind>,
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    pub comment: Option<u8>,
    pub header: bool,
    /// Field names for files without a header.
    pub fields: Option<Vec<String>>,
    pub skip_blank: bool,
    /// `None`: UTF-8 (or what a byte order mark says).
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub skip_records: usize,
    pub drop_when_empty: Vec<String>,
    pub dump_table: Option<String>,
    pub chunk_rows: usize,
    /// A CSV record longer than this fails the batch, naming its line.
    pub max_record_bytes: usize,
    /// A Parquet row group with more column data to read than this fails the batch.
    pub max_row_group_bytes: u64,
}

/// The memory a load may spend on one record or one row group, unless the job says more.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;
pub const DEFAULT_MAX_ROW_GROUP_BYTES: u64 = 128 << 20;

/// How text becomes a value of the target type.
#[derive(Debug, Clone)]
pub struct Parse {
    /// Strings read as NULL.
    pub null: Vec<String>,
    /// The decimal separator, `.` or `,`.
    pub decimal: u8,
    /// A thousands separator to drop from numbers.
    pub thousands: Option<u8>,
    /// A chrono format for dates and timestamps.
    pub format: Option<String>,
    /// The offset of timestamps written without one (timestamptz targets).
    pub timezone: Option<Zone>,
    /// What a NUL character in a text value becomes; `None`: the batch fails at it.
    pub replace_nul: Option<String>,
}

/// Checks on each value of a column.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub required: bool,
    /// Inclusive bounds, as f64 (dates: days since 1970-01-01; timestamps: microseconds).
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub pattern: Option<Regex>,
}

/// A piece of a template: literal text or a source field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Field(String),
}

/// Where a target column's value comes from.
#[derive(Debug, Clone)]
pub enum ValueRule {
    /// A source field, found by the one matching rule (`pipeline::bind::find`). `implicit`:
    /// the spec does not name the column; a column with a default is then left to the
    /// server when no file of the batch has the field.
    Field { name: String, implicit: bool },
    /// Source fields and literal text joined, then parsed.
    Template(Vec<Segment>),
    /// The same value in every row.
    Constant(String),
    /// The first capture of this regex on the file name.
    Path(Regex),
    /// The value of each unpivoted field.
    Unpivoted,
    /// A constant per unpivoted field, in `Unpivot::fields` order.
    PerField(Vec<String>),
}

/// One loaded column of the target table.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub ident: Ident,
    pub ty: PgType,
    pub max_chars: Option<usize>,
    pub not_null: bool,
    /// The table has a default (or an identity) for the column.
    pub has_default: bool,
    pub rule: ValueRule,
    pub parse: Parse,
    pub checks: Checks,
}

/// Wide rows to long rows.
#[derive(Debug, Clone)]
pub struct Unpivot {
    /// The source fields, each becoming one long row.
    pub fields: Vec<String>,
    pub skip_null: bool,
}

/// A resolved job: everything the pipeline needs, checked against the catalog.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// The table as the spec names it.
    pub table: String,
    pub target: Ident,
    pub mode: Mode,
    /// The job's own sources, relative paths made absolute against the job file's folder.
    pub sources: Vec<String>,
    pub source: SourceOptions,
    /// The loaded columns, in COPY order.
    pub columns: Vec<Target>,
    /// Columns the job says the batch does not fill (`absent = true`): the server gives
    /// them their default, or NULL.
    pub absent: Vec<String>,
    pub unpivot: Option<Unpivot>,
}

/// Default rows per chunk: large enough to amortise per-chunk work, small enough that the
/// chunks in flight stay a few MiB.
pub const DEFAULT_CHUNK_ROWS: usize = 8192;

/// A parsed, unresolved job file, with where it came from.
#[derive(Debug, Clone)]
pub struct Spec {
    pub raw: RawJob,
    pub name: String,
    pub path: PathBuf,
}

impl Spec {
    /// Finds a job: a path to a `.toml` file, or a name under `jobs_dir`.
    pub fn find(job: &str, jobs_dir: &Path) -> Result<Self> {
        let direct = PathBuf::from(job);
        let path = if direct.is_file() {
            direct
        } else {
            let named = jobs_dir.join(format!("{job}.toml"));
            if !named.is_file() {
                return Err(Error::config(format!(
                    "no job {job:?}: neither a file nor {}",
                    named.display()
                )));
            }
            named
        };
        Self::read(&path)
    }

    /// Reads and parses one job file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ErrorKind::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let raw: RawJob = toml::from_str(&text)
            .map_err(|error| Error::config(format!("{}: {}", path.display(), error.to_string().trim_end())))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("job");
        let name = raw.name.clone().unwrap_or_else(|| stem.to_owned());
        Ok(Spec {
            raw,
            name,
            path: path.to_path_buf(),
        })
    }

    /// The folder relative sources are read from.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Resolves the spec against the target table's columns. Every problem found is
    /// reported in one configuration error.
    pub fn resolve(&self, catalog: &[Column]) -> Result<Job> {
        let mut problems = Vec::new();
        let job = resolve(self, catalog, &mut problems);
        if problems.is_empty() {
            Ok(job)
        } else {
            let path = self.path.display().to_string();
            Err(ErrorKind::Config {
                problems: problems.into_iter().map(|p| format!("{path}: {p}")).collect(),
            }
            .into())
        }
    }
}

fn single_byte(value: Option<&String>, what: &str, default: u8, problems: &mut Vec<String>) -> u8 {
    match value.map(String::as_str) {
        None => default,
        Some("\\t" | "\t") => b'\t',
        Some(s) if s.len() == 1 => s.as_bytes()[0],
        Some(s) => {
            problems.push(format!("{what} {s:?} must be one ASCII character"));
            default
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one pass over the spec, in the order a reader checks it"
)]
fn resolve(spec: &Spec, catalog: &[Column], problems: &mut Vec<String>) -> Job {
    let raw = &spec.raw;
    let source = resolve_source(raw, problems);
    let default_parse = Parse {
        null: raw.source.null.clone().unwrap_or_else(|| vec![String::new()]),
        decimal: decimal_of(raw.source.decimal.as_ref(), b'.', problems),
        thousands: thousands_of(raw.source.thousands.as_ref(), None, problems),
        format: None,
        timezone: None,
        replace_nul: raw.source.replace_nul.clone(),
    };

    let find = |name: &str| catalog.iter().find(|c| c.name == name);
    let mut columns: Vec<Target> = Vec::new();
    let mut unpivot = None;

    if let Some(u) = &raw.unpivot {
        if u.fields.is_empty() {
            problems.push("[unpivot] lists no fields".into());
        }
        let set_columns: std::collections::BTreeSet<&String> = u.fields.iter().flat_map(|f| f.set.keys()).collect();
        for field in &u.fields {
            for name in &set_columns {
                if !field.set.contains_key(*name) {
                    problems.push(format!(
                        "[unpivot] field {:?} does not set column {name:?}, which other fields set",
                        field.from
                    ));
                }
            }
        }
        if let Some(column) = catalog_column(find(&u.value), &u.value, problems)
            && let Some(target) = make_target(column, ValueRule::Unpivoted, &u.parse, &default_parse, problems)
        {
            columns.push(target);
        }
        for name in set_columns {
            let values = u
                .fields
                .iter()
                .map(|f| f.set.get(name).cloned().unwrap_or_default())
                .collect();
            if let Some(column) = catalog_column(find(name), name, problems)
                && let Some(target) = make_target(
                    column,
                    ValueRule::PerField(values),
                    &RawColumn::default(),
                    &default_parse,
                    problems,
                )
            {
                columns.push(target);
            }
        }
        unpivot = Some(Unpivot {
            fields: u.fields.iter().map(|f| f.from.clone()).collect(),
            skip_null: u.skip_null.unwrap_or(true),
        });
    }

    let mut absent = Vec::new();
    for (name, spec_column) in &raw.columns {
        if spec_column.absent {
            if let Some(column) = catalog_column(find(name), name, problems) {
                absent_column(name, column, spec_column, problems);
                absent.push(name.clone());
            }
            continue;
        }
        if columns.iter().any(|c| &c.name == name) {
            problems.push(format!(
                "column {name:?} is set both by [unpivot] and by [columns.{name}]"
            ));
            continue;
        }
        let Some(column) = catalog_column(find(name), name, problems) else {
            continue;
        };
        let Some(rule) = value_rule(name, spec_column, problems) else {
            continue;
        };
        if let Some(target) = make_target(column, rule, spec_column, &default_parse, problems) {
            columns.push(target);
        }
    }

    // Columns the spec leaves out load from the field of the same name (by the one matching
    // rule, per file). Generated columns are never loaded; a column with a default is left
    // to the server when no file of the batch has its field (`pipeline::bind`).
    for column in catalog {
        if column.generated || absent.contains(&column.name) || columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        let rule = ValueRule::Field {
            name: column.name.clone(),
            implicit: true,
        };
        if let Some(target) = make_target(column, rule, &RawColumn::default(), &default_parse, problems) {
            columns.push(target);
        }
    }
    // COPY order: the table's own order.
    columns.sort_by_key(|c| catalog.iter().position(|k| k.name == c.name));
    if columns.is_empty() {
        problems.push(format!("no column of table {:?} is loaded", raw.table));
    }

    let mode = resolve_mode(raw, catalog, &columns, problems);
    let base = spec.base_dir();
    let sources = raw
        .sources
        .iter()
        .map(|s| {
            if s.contains("://") || s == "-" || Path::new(s).is_absolute() {
                s.clone()
            } else if let Some(manifest) = s.strip_prefix('@') {
                format!("@{}", base.join(manifest).display())
            } else {
                base.join(s).display().to_string()
            }
        })
        .collect();

    Job {
        name: spec.name.clone(),
        table: raw.table.clone(),
        target: Ident::qualified(&raw.table),
        mode,
        sources,
        source,
        columns,
        absent,
        unpivot,
    }
}

/// Checks a column the job declares `absent`: it sets nothing else, and the server can
/// fill it (a default, or NULL allowed).
fn absent_column(name: &str, column: &Column, spec: &RawColumn, problems: &mut Vec<String>) {
    if spec.from.is_some() || spec.template.is_some() || spec.value.is_some() || spec.path.is_some() {
        problems.push(format!(
            "[columns.{name}] absent = true, but it also says where the value comes from (`from`, `template`, `value` or `path`)"
        ));
    }
    if column.not_null && !column.has_default {
        problems.push(format!(
            "[columns.{name}] absent = true, but the column is NOT NULL and has no default: every row would fail"
        ));
    }
}

fn resolve_source(raw: &RawJob, problems: &mut Vec<String>) -> SourceOptions {
    let s = &raw.source;
    let format = s.format.as_deref().and_then(|name| {
        let kind = FormatKind::parse(name);
        if kind.is_none() {
            problems.push(format!(
                "[source] format {name:?} is unknown (expected \"csv\", \"parquet\" or \"pg_dump\")"
            ));
        }
        kind
    });
    let optional = |value: Option<&String>, what: &str, problems: &mut Vec<String>| {
        value.map(|v| single_byte(Some(v), what, 0, problems))
    };
    let header = s.header.unwrap_or(s.fields.is_none());
    if !header && s.fields.is_none() && format != Some(FormatKind::Parquet) {
        problems.push("[source] header = false needs `fields`, the names of the fields in order".into());
    }
    if format == Some(FormatKind::PgDump) && s.dump_table.is_none() {
        problems.push("[source] format \"pg_dump\" needs `dump_table`, the table whose COPY block to read".into());
    }
    let chunk_rows = s.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS);
    if chunk_rows == 0 {
        problems.push("[source] chunk_rows must be at least 1".into());
    }
    SourceOptions {
        format,
        delimiter: single_byte(s.delimiter.as_ref(), "[source] delimiter", b',', problems),
        quote: single_byte(s.quote.as_ref(), "[source] quote", b'"', problems),
        escape: optional(s.escape.as_ref(), "[source] escape", problems),
        comment: optional(s.comment.as_ref(), "[source] comment", problems),
        header,
        fields: s.fields.clone(),
        skip_blank: s.skip_blank.unwrap_or(true),
        encoding: s.encoding.as_deref().and_then(|label| {
            let encoding = encoding_for(label);
            if encoding.is_none() {
                problems.push(format!(
                    "[source] encoding {label:?} is unknown (expected e.g. \"utf-8\", \"latin1\", \"windows-1252\", \"mac_roman\", \"utf-16\")"
                ));
            }
            encoding.filter(|e| *e != encoding_rs::UTF_8)
        }),
        skip_records: s.skip_records.unwrap_or(0),
        drop_when_empty: s.drop_when_empty.clone().unwrap_or_default(),
        dump_table: s.dump_table.clone(),
        chunk_rows: chunk_rows.max(1),
        max_record_bytes: s.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES),
        max_row_group_bytes: s.max_row_group_bytes.unwrap_or(DEFAULT_MAX_ROW_GROUP_BYTES),
    }
}

/// An encoding by WHATWG label, plus the names data engineers use for Mac Roman.
fn encoding_for(label: &str) -> Option<&'static encoding_rs::Encoding> {
    let label = match label.to_ascii_lowercase().as_str() {
        "mac_roman" | "macroman" | "mac-roman" => "macintosh".to_owned(),
        other => other.to_owned(),
    };
    encoding_rs::Encoding::for_label(label.as_bytes())
}

fn thousands_of(value: Option<&String>, default: Option<u8>, problems: &mut Vec<String>) -> Option<u8> {
    match value.map(String::as_str) {
        None => default,
        Some("") => None,
        Some(s @ ("." | "," | "'" | " ")) => Some(s.as_bytes()[0]),
        Some(other) => {
            problems.push(format!("thousands {other:?} must be \".\", \",\", \"'\" or a space"));
            default
        }
    }
}

fn decimal_of(value: Option<&String>, default: u8, problems: &mut Vec<String>) -> u8 {
    match value.map(String::as_str) {
        None => default,
        Some(".") => b'.',
        Some(",") => b',',
        Some(other) => {
            problems.push(format!("decimal {other:?} must be \".\" or \",\""));
            default
        }
    }
}

fn catalog_column<'c>(column: Option<&'c Column>, name: &str, problems: &mut Vec<String>) -> Option<&'c Column> {
    match column {
        None => {
            problems.push(format!("column {name:?} is not in the target table"));
            None
        }
        Some(c) if c.generated => {
            problems.push(format!(
                "column {name:?} is generated by the database and cannot be loaded"
            ));
            None
        }
        Some(c) => Some(c),
    }
}

fn value_rule(name: &str, column: &RawColumn, problems: &mut Vec<String>) -> Option<ValueRule> {
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
        problems.push(format!(
            "[columns.{name}] gives more than one of `from`, `template`, `value`, `path`"
        ));
        return None;
    }
    if let Some(template) = &column.template {
        return match parse_template(template) {
            Ok(segments) => Some(ValueRule::Template(segments)),
            Err(problem) => {
                problems.push(format!("[columns.{name}] template {template:?}: {problem}"));
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
                problems.push(format!("[columns.{name}] path {pattern:?} has no capture group"));
                None
            }
            Err(error) => {
                problems.push(format!("[columns.{name}] path {pattern:?} is not a regex: {error}"));
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
fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
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

fn make_target(
    column: &Column,
    rule: ValueRule,
    spec: &RawColumn,
    defaults: &Parse,
    problems: &mut Vec<String>,
) -> Option<Target> {
    let name = &column.name;
    let Some(ty) = column.ty else {
        problems.push(format!(
            "column {name:?} has type {}, which pgbatch cannot load (supported: boolean, smallint, integer, bigint, real, double precision, numeric, text, varchar, char, date, timestamp, timestamptz, json, jsonb)",
            column.declared
        ));
        return None;
    };
    let parse = Parse {
        null: spec.null.clone().unwrap_or_else(|| defaults.null.clone()),
        decimal: decimal_of(spec.decimal.as_ref(), defaults.decimal, problems),
        thousands: thousands_of(spec.thousands.as_ref(), defaults.thousands, problems),
        format: spec.format.clone(),
        timezone: spec.timezone.as_deref().and_then(|tz| {
            let zone = Zone::parse(tz);
            if zone.is_none() {
                problems.push(format!(
                    "[columns.{name}] timezone {tz:?} is unknown (expected \"UTC\", an offset such as \"+08:00\", or an IANA name such as \"Australia/Sydney\")"
                ));
            }
            zone
        }),
        replace_nul: defaults.replace_nul.clone(),
    };
    if let Some(format) = &parse.format {
        if !matches!(ty, PgType::Date | PgType::Timestamp | PgType::Timestamptz) {
            problems.push(format!(
                "[columns.{name}] has a `format`, but {} values take none",
                ty.name()
            ));
        } else if chrono::format::StrftimeItems::new(format).any(|i| matches!(i, chrono::format::Item::Error)) {
            problems.push(format!(
                "[columns.{name}] format {format:?} is not a valid chrono format"
            ));
        }
    }
    if parse.timezone.is_some() && ty != PgType::Timestamptz {
        problems.push(format!(
            "[columns.{name}] has a `timezone`, but only timestamptz columns take one"
        ));
    }
    let bound = |value: Option<&toml::Value>, which: &str, problems: &mut Vec<String>| {
        value.and_then(|v| {
            let parsed = bound_value(ty, v);
            if parsed.is_none() {
                problems.push(format!(
                    "[columns.{name}] {which} = {v} does not fit the column's type ({})",
                    ty.name()
                ));
            }
            parsed
        })
    };
    let checks = Checks {
        required: spec.required || column.not_null,
        min: bound(spec.min.as_ref(), "min", problems),
        max: bound(spec.max.as_ref(), "max", problems),
        pattern: spec.pattern.as_deref().and_then(|p| match Regex::new(p) {
            Ok(regex) if ty.is_textual() => Some(regex),
            Ok(_) => {
                problems.push(format!(
                    "[columns.{name}] has a `pattern`, but {} values are not text",
                    ty.name()
                ));
                None
            }
            Err(error) => {
                problems.push(format!("[columns.{name}] pattern {p:?} is not a regex: {error}"));
                None
            }
        }),
    };
    Some(Target {
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

/// The time zone of local timestamps: a fixed offset, or an IANA zone with its
/// daylight-saving rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `UTC`, `+08:00`, or an IANA name such as `Australia/Sydney`.
    pub fn parse(text: &str) -> Option<Zone> {
        parse_offset(text)
            .map(Zone::Fixed)
            .or_else(|| text.parse::<chrono_tz::Tz>().ok().map(Zone::Named))
    }

    /// Microseconds since 1970 (UTC) of a local time. As PostgreSQL does, a local time that
    /// occurs twice (clocks going back) is the earlier instant, and one that does not exist
    /// (a daylight-saving gap) is read with the offset in force before the gap.
    pub fn utc_micros(self, local: chrono::NaiveDateTime) -> Option<i64> {
        use chrono::{Offset as _, TimeZone as _};
        match self {
            Zone::Fixed(offset) => offset
                .from_local_datetime(&local)
                .single()
                .map(|t| t.timestamp_micros()),
            Zone::Named(zone) => {
                if let Some(t) = zone.from_local_datetime(&local).earliest() {
                    Some(t.timestamp_micros())
                } else {
                    // Gaps last at most a few hours; the offset three hours before is the old one.
                    let before = zone
                        .from_local_datetime(&(local - chrono::Duration::hours(3)))
                        .earliest()?;
                    let offset = before.offset().fix().local_minus_utc();
                    Some(
                        (local - chrono::Duration::seconds(i64::from(offset)))
                            .and_utc()
                            .timestamp_micros(),
                    )
                }
            }
        }
    }
}

/// Days from 1970-01-01, as Arrow's `Date32` counts.
pub fn days_since_epoch(day: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");
    i32::try_from((day - epoch).num_days()).unwrap_or(i32::MAX)
}

/// `UTC`, `Z`, or `+HH:MM` / `-HH:MM`.
pub fn parse_offset(tz: &str) -> Option<FixedOffset> {
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match tz.as_bytes().first()? {
        b'+' => (1, &tz[1..]),
        b'-' => (-1, &tz[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let seconds = hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * seconds)
}

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

fn resolve_mode(raw: &RawJob, catalog: &[Column], columns: &[Target], problems: &mut Vec<String>) -> Mode {
    let name = raw.mode.as_deref().unwrap_or("append");
    let mut key = || -> Vec<Ident> {
        if raw.key.is_empty() {
            problems.push(format!("mode {name:?} needs `key`, the columns of a unique index"));
        }
        for k in &raw.key {
            if !catalog.iter().any(|c| &c.name == k) {
                problems.push(format!("key column {k:?} is not in the target table"));
            }
        }
        raw.key.iter().map(|k| Ident::new(k)).collect()
    };
    match name {
        "append" => Mode::Append,
        "replace" => Mode::Replace,
        "upsert" => Mode::Upsert { key: key() },
        "insert_new" => Mode::InsertNew { key: key() },
        "replace_covered" => {
            let Some(cover) = &raw.cover else {
                problems.push("mode \"replace_covered\" needs [cover] with the `column` the batch covers".into());
                return Mode::Replace;
            };
            let declared = catalog
                .iter()
                .find(|c| c.name == cover.column)
                .map(|c| c.declared.clone())
                .unwrap_or_default();
            if !columns.iter().any(|c| c.name == cover.column) {
                problems.push(format!("[cover] column {:?} is not a loaded column", cover.column));
            }
            let from_path = cover.from_path.as_deref().and_then(|p| match Regex::new(p) {
                Ok(regex) if (2..=3).contains(&regex.captures_len()) => Some(regex),
                Ok(_) => {
                    problems.push(format!("[cover] from_path {p:?} must have one or two capture groups"));
                    None
                }
                Err(error) => {
                    problems.push(format!("[cover] from_path {p:?} is not a regex: {error}"));
                    None
                }
            });
            Mode::ReplaceCovered(Cover {
                column: Ident::new(&cover.column),
                declared,
                from_path,
            })
        }
        other => {
            problems.push(format!(
                "mode {other:?} is unknown (expected append, upsert, insert_new, replace or replace_covered)"
            ));
            Mode::Append
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, ty: PgType, not_null: bool) -> Column {
        Column {
            name: name.into(),
            ty: Some(ty),
            declared: ty.name().into(),
            typmod: -1,
            not_null,
            generated: false,
            has_default: false,
        }
    }

    fn spec(toml: &str) -> Spec {
        Spec {
            raw: toml::from_str(toml).unwrap(),
            name: "t".into(),
            path: PathBuf::from("jobs/t.toml"),
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(Ident::new("a\"b").as_sql(), "\"a\"\"b\"");
        assert_eq!(Ident::qualified("s.t").as_sql(), "\"s\".\"t\"");
    }

    #[test]
    fn templates_split_into_fields_and_literals() {
        assert_eq!(
            parse_template("{y}-{m} {{x}}").unwrap(),
            vec![
                Segment::Field("y".into()),
                Segment::Literal("-".into()),
                Segment::Field("m".into()),
                Segment::Literal(" {x}".into()),
            ]
        );
        assert_eq!(parse_template("{y").unwrap_err(), "a `{` is not closed");
    }

    #[test]
    fn every_problem_in_a_spec_is_reported() {
        let catalog = [column("day", PgType::Date, true), column("price", PgType::Int4, true)];
        let error = spec(
            r#"
            table = "prices"
            mode = "upsert"
            [columns.day]
            format = "%Q"
            [columns.nope]
            from = "x"
            [columns.price]
            pattern = "[0-9]+"
            "#,
        )
        .resolve(&catalog)
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "jobs/t.toml: [columns.day] format \"%Q\" is not a valid chrono format; \
             jobs/t.toml: column \"nope\" is not in the target table; \
             jobs/t.toml: [columns.price] has a `pattern`, but integer values are not text; \
             jobs/t.toml: mode \"upsert\" needs `key`, the columns of a unique index"
        );
        assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
    }

    #[test]
    fn unlisted_columns_map_by_name_in_table_order() {
        let catalog = [column("a", PgType::Text, false), column("b", PgType::Int8, false)];
        let job = spec("table = \"t\"\n[columns.b]\nfrom = \"B\"")
            .resolve(&catalog)
            .unwrap();
        let names: Vec<_> = job.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(matches!(&job.columns[0].rule, ValueRule::Field { name, implicit: true } if name == "a"));
    }

    #[test]
    fn zones_parse() {
        assert_eq!(parse_offset("+08:00").unwrap().local_minus_utc(), 8 * 3600);
        assert_eq!(parse_offset("UTC").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("Asia/Shanghai").is_none());
        assert_eq!(
            Zone::parse("Asia/Shanghai"),
            Some(Zone::Named(chrono_tz::Asia::Shanghai))
        );
        assert!(Zone::parse("Mars/Olympus").is_none());
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let sydney = Zone::parse("Australia/Sydney").unwrap();
        let at = |s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // AEDT (+11) in February, AEST (+10) in June.
        assert_eq!(sydney.utc_micros(at("2012-02-07 08:41")), Some(1_328_564_460_000_000));
        assert_eq!(sydney.utc_micros(at("2012-06-28 08:41")), Some(1_340_836_860_000_000));
        // 2012-10-07 02:30 does not exist in Sydney (clocks go from 02:00 to 03:00): it is
        // read at +10:00, the offset before the gap, as PostgreSQL reads it.
        assert_eq!(
            sydney.utc_micros(at("2012-10-07 02:30")),
            sydney.utc_micros(at("2012-10-07 03:30"))
        );
        assert_eq!(sydney.utc_micros(at("2012-10-07 02:30")), Some(1_349_541_000_000_000));
    }
}
