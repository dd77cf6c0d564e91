//! How source files are read (`[source]`): format, CSV dialect, encoding, limits.

use std::path::Path;

use super::problems::Problems;
use super::raw::RawJob;

/// The kind of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatKind {
    Csv,
    Parquet,
    PgDump,
}

impl FormatKind {
    pub(super) fn parse(name: &str) -> Option<Self> {
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

/// What a remote source (S3 or HTTP) is known by, to find a batch loaded before. Local
/// files and standard input are always known by the sha256 of their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KnownBy {
    /// The object as its store describes it: S3's full-object checksum where there is one,
    /// else its address, size and ETag (an HTTP object without validators: its sha256).
    #[default]
    Object,
    /// The sha256 of its bytes, read beside the load: a re-upload of the same bytes under a
    /// new ETag is the same source.
    Content,
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
    /// A chunk also ends once it holds this many bytes of input (text sources) or of
    /// decoded column data (Parquet), so wide rows cannot multiply into gigabytes.
    pub chunk_bytes: usize,
    /// A CSV record longer than this fails the batch, naming its line.
    pub max_record_bytes: usize,
    /// A Parquet row group with more column data to read than this fails the batch.
    pub max_row_group_bytes: u64,
    /// What remote sources are known by (`identity`).
    pub identity: KnownBy,
}

/// The memory a load may spend on one record or one row group, unless the job says more.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;

/// The input one chunk holds at most, whatever its row count: 8 MiB.
pub const CHUNK_BYTES: usize = 8 << 20;
pub const DEFAULT_MAX_ROW_GROUP_BYTES: u64 = 128 << 20;

/// Default rows per chunk: large enough to amortise per-chunk work, small enough that the
/// chunks in flight stay a few MiB.
pub const DEFAULT_CHUNK_ROWS: usize = 8192;

/// One ASCII byte, or the default; `key` names the `[source]` setting.
fn single_byte(value: Option<&String>, key: &str, default: u8, problems: &mut Problems) -> u8 {
    match value.map(String::as_str) {
        None => default,
        Some("\\t" | "\t") => b'\t',
        Some(s) if s.len() == 1 => s.as_bytes()[0],
        Some(s) => {
            problems.at(
                &["source", key],
                format!("[source] {key} {s:?} must be one ASCII character"),
            );
            default
        }
    }
}

pub(super) fn resolve_source(raw: &RawJob, problems: &mut Problems) -> SourceOptions {
    let s = &raw.source;
    let format = s.format.as_deref().and_then(|name| {
        let kind = FormatKind::parse(name);
        if kind.is_none() {
            problems.at(
                &["source", "format"],
                format!("[source] format {name:?} is unknown (expected \"csv\", \"parquet\" or \"pg_dump\")"),
            );
        }
        kind
    });
    let optional = |value: Option<&String>, key: &str, problems: &mut Problems| {
        value.map(|v| single_byte(Some(v), key, 0, problems))
    };
    let header = s.header.unwrap_or(s.fields.is_none());
    if !header && s.fields.is_none() && format != Some(FormatKind::Parquet) {
        problems.at(
            &["source", "header"],
            "[source] header = false needs `fields`, the names of the fields in order",
        );
    }
    if format == Some(FormatKind::PgDump) && s.dump_table.is_none() {
        problems.at(
            &["source", "format"],
            "[source] format \"pg_dump\" needs `dump_table`, the table whose COPY block to read",
        );
    }
    let chunk_rows = s.chunk_rows.unwrap_or(DEFAULT_CHUNK_ROWS);
    if chunk_rows == 0 {
        problems.at(&["source", "chunk_rows"], "[source] chunk_rows must be at least 1");
    }
    let identity = match s.identity.as_deref() {
        None | Some("object") => KnownBy::Object,
        Some("content") => KnownBy::Content,
        Some(other) => {
            problems.at(
                &["source", "identity"],
                format!("[source] identity {other:?} is unknown (expected \"object\" or \"content\")"),
            );
            KnownBy::Object
        }
    };
    SourceOptions {
        format,
        delimiter: single_byte(s.delimiter.as_ref(), "delimiter", b',', problems),
        quote: single_byte(s.quote.as_ref(), "quote", b'"', problems),
        escape: optional(s.escape.as_ref(), "escape", problems),
        comment: optional(s.comment.as_ref(), "comment", problems),
        header,
        fields: s.fields.clone(),
        skip_blank: s.skip_blank.unwrap_or(true),
        encoding: s.encoding.as_deref().and_then(|label| {
            let encoding = encoding_for(label);
            if encoding.is_none() {
                problems.at(
                    &["source", "encoding"],
                    format!(
                        "[source] encoding {label:?} is unknown (expected e.g. \"utf-8\", \"latin1\", \"windows-1252\", \"mac_roman\", \"utf-16\")"
                    ),
                );
            }
            encoding.filter(|e| *e != encoding_rs::UTF_8)
        }),
        skip_records: s.skip_records.unwrap_or(0),
        drop_when_empty: s.drop_when_empty.clone().unwrap_or_default(),
        dump_table: s.dump_table.clone(),
        chunk_rows: chunk_rows.max(1),
        chunk_bytes: CHUNK_BYTES,
        max_record_bytes: s.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES),
        max_row_group_bytes: s.max_row_group_bytes.unwrap_or(DEFAULT_MAX_ROW_GROUP_BYTES),
        identity,
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

/// A thousands separator; `at` is the table that sets it (`["source"]`, `["columns", name]`).
pub(super) fn thousands_of(
    value: Option<&String>,
    default: Option<u8>,
    at: &[&str],
    problems: &mut Problems,
) -> Option<u8> {
    match value.map(String::as_str) {
        None => default,
        Some("") => None,
        Some(s @ ("." | "," | "'" | " ")) => Some(s.as_bytes()[0]),
        Some(other) => {
            problems.at(
                &[at, &["thousands"]].concat(),
                format!("thousands {other:?} must be \".\", \",\", \"'\" or a space"),
            );
            default
        }
    }
}

/// A decimal separator; `at` is the table that sets it.
pub(super) fn decimal_of(value: Option<&String>, default: u8, at: &[&str], problems: &mut Problems) -> u8 {
    match value.map(String::as_str) {
        None => default,
        Some(".") => b'.',
        Some(",") => b',',
        Some(other) => {
            problems.at(
                &[at, &["decimal"]].concat(),
                format!("decimal {other:?} must be \".\" or \",\""),
            );
            default
        }
    }
}
