//! The job spec exactly as `jobs/*.toml` writes it. Nothing here is checked beyond TOML
//! syntax and field names; `Job::resolve` turns it into ready-to-use values.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole job file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    /// Defaults to the file stem.
    pub name: Option<String>,
    /// The target table, optionally schema-qualified.
    pub table: String,
    #[serde(default)]
    pub mode: Option<String>,
    /// Key columns for `upsert` and `insert_new`.
    #[serde(default)]
    pub key: Vec<String>,
    /// The job's own sources (paths relative to the job file, globs allowed).
    #[serde(default)]
    pub sources: Vec<String>,
    #[serde(default)]
    pub source: RawSource,
    pub cover: Option<RawCover>,
    #[serde(default)]
    pub columns: BTreeMap<String, RawColumn>,
    pub unpivot: Option<RawUnpivot>,
    /// Rows a batch may reject (set aside in `pgbatch.rejects`) and still commit: a count,
    /// or a percentage of the rows read such as `"0.1%"`. Unset: the first bad row fails it.
    pub max_rejects: Option<toml::Value>,
    /// Checks of the whole batch, run in its transaction before it commits.
    pub checks: Option<RawChecks>,
    /// A SQL transform job: the file (relative to the job file) whose statement it runs,
    /// instead of loading files.
    pub sql: Option<String>,
}

/// How to read the source files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// `csv`, `parquet` or `pg_dump`; by default from the file suffix.
    pub format: Option<String>,
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    pub comment: Option<String>,
    pub header: Option<bool>,
    /// Field names for files without a header line.
    pub fields: Option<Vec<String>>,
    /// Markers read as NULL in every column; default `[""]`.
    pub null: Option<Vec<String>>,
    /// The decimal separator of every numeric column; default `.`.
    pub decimal: Option<String>,
    /// A thousands separator to ignore in numbers (`.`, `,`, `'`, or a space); default none.
    pub thousands: Option<String>,
    /// Drop (and count) records whose fields are all empty; default true.
    pub skip_blank: Option<bool>,
    /// The text encoding (`utf-8` by default; `latin1`, `windows-1252`, `mac_roman`,
    /// `utf-16`, any WHATWG label). A byte order mark overrides it.
    pub encoding: Option<String>,
    /// Records before the header to skip, such as a preamble line.
    pub skip_records: Option<usize>,
    /// Drop (and count) records in which all of these fields are empty.
    pub drop_when_empty: Option<Vec<String>>,
    /// `pg_dump` only: the table whose `COPY ... FROM stdin` block to read.
    pub dump_table: Option<String>,
    /// Rows per chunk handed to the parallel stages.
    pub chunk_rows: Option<usize>,
    /// The largest record (CSV) a load holds in memory, in bytes.
    pub max_record_bytes: Option<usize>,
    /// The most column data of one Parquet row group a load reads at once, in bytes.
    pub max_row_group_bytes: Option<u64>,
    /// What a NUL character in a text value becomes (e.g. "" or "\uFFFD"), whatever the
    /// format (PostgreSQL text cannot hold one); unset, a NUL fails the batch, naming where
    /// it is.
    pub replace_nul: Option<String>,
    /// What a remote object is known by between batches: `"object"` (its full-object
    /// checksum, else its address, size and ETag) or `"content"` (the sha256 of its bytes,
    /// read beside the load).
    pub identity: Option<String>,
}

/// Checks of the whole batch (`[checks]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChecks {
    /// Bounds on the rows the batch loads.
    pub min_rows: Option<u64>,
    pub max_rows: Option<u64>,
    /// Columns that together hold no value twice within the batch.
    pub unique: Option<Vec<String>>,
    /// The largest share of NULLs (0 to 1) per column.
    #[serde(default)]
    pub max_null_ratio: BTreeMap<String, f64>,
    /// SQL files (relative to the job file), each returning one row whose bigint column
    /// `failing` must be 0, and optionally a text column `example`.
    #[serde(default)]
    pub sql: Vec<String>,
}

/// Which rows a `replace_covered` batch replaces.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCover {
    pub column: String,
    /// A regex on the file name with one capture (a value) or two (a range, inclusive).
    pub from_path: Option<String>,
}

/// How one target column gets its value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    pub from: Option<String>,
    pub template: Option<String>,
    pub value: Option<String>,
    pub path: Option<String>,
    pub format: Option<String>,
    pub timezone: Option<String>,
    pub decimal: Option<String>,
    pub thousands: Option<String>,
    pub null: Option<Vec<String>>,
    /// The batch does not fill this column: the server gives it its default, or NULL.
    /// Without it, a column the files have no field for fails the batch.
    #[serde(default)]
    pub absent: bool,
    #[serde(default)]
    pub required: bool,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    pub pattern: Option<String>,
}

/// Wide rows to long rows: each listed field becomes a row of its own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnpivot {
    /// The target column that receives each field's value.
    pub value: String,
    /// Drop (and count) long rows whose value is NULL; default true.
    pub skip_null: Option<bool>,
    /// How the value column parses (format, decimal, null), as in `[columns.*]`.
    #[serde(default)]
    pub parse: RawColumn,
    pub fields: Vec<RawUnpivotField>,
}

/// One field of a wide row, and the constants its long row carries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnpivotField {
    pub from: String,
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}
