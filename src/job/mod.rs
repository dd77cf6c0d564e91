//! The job spec model: `jobs/*.toml` parsed ([`raw`]) and resolved against the target
//! table's catalog into a [`Job`]: quoted identifiers, target types, compiled patterns,
//! and one value rule per loaded column. Every problem in a spec is reported at once.

mod checks;
mod column;
mod fingerprint;
mod mode;
mod problems;
pub mod raw;
mod rejects;
mod resolve;
mod source;
mod spec;
mod time;

use regex::Regex;

use crate::db::Ident;
use crate::db::catalog::PgType;
pub use checks::BatchChecks;
pub use mode::{Cover, Mode};
pub use problems::{closest, did_you_mean};
pub use rejects::RejectLimit;
pub use source::{
    CHUNK_BYTES, DEFAULT_CHUNK_ROWS, DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_ROW_GROUP_BYTES, FormatKind, KnownBy,
    SourceOptions,
};
pub use spec::Spec;

/// The job `table = "t"` over a table of one nullable `text` column `v`, for unit tests.
#[cfg(test)]
pub(crate) fn one_text_column_job() -> Job {
    let catalog = [crate::db::catalog::Column {
        name: "v".into(),
        ty: Some(PgType::Text),
        declared: "text".into(),
        typmod: -1,
        not_null: false,
        generated: false,
        has_default: false,
    }];
    Spec::parse("table = \"t\"".into(), std::path::Path::new("jobs/t.toml"))
        .expect("a job spec")
        .resolve(&catalog)
        .expect("a job")
}
pub use time::{Zone, days_since_epoch, parse_offset};

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
pub struct LoadColumn {
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
    /// The table's name quoted for SQL.
    pub table_ident: Ident,
    pub mode: Mode,
    /// The job's own sources, relative paths made absolute against the job file's folder.
    pub sources: Vec<String>,
    /// How the sources are read (`[source]`: format, CSV dialect, encoding, limits).
    pub read: SourceOptions,
    /// The loaded columns, in COPY order.
    pub columns: Vec<LoadColumn>,
    /// Columns the job says the batch does not fill (`absent = true`): the server gives
    /// them their default, or NULL.
    pub absent: Vec<String>,
    pub unpivot: Option<Unpivot>,
    /// Rows the batch may reject and still commit; `None`: the first bad row fails it.
    pub max_rejects: Option<RejectLimit>,
    /// What the whole batch must satisfy before it commits (`[checks]`).
    pub checks: BatchChecks,
}

#[cfg(test)]
mod tests;
