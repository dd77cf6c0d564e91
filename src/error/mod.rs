//! The library's one error type.
//!
//! Every failure of a load ends here: [`Error`] boxes an [`ErrorKind`] and answers the
//! questions the binary and callers ask of it: [`Error::exit_code`] (sysexits, as
//! ARCHITECTURE.md lists them) and [`Error::is_retryable`]. Both are one exhaustive
//! `match`, so a new variant forces a decision.

pub mod codes;
mod flat;

pub use flat::FlatRow;

use std::fmt;
use std::path::PathBuf;

/// Process exit codes, after sysexits(3).
pub mod exit {
    /// Loaded, or already loaded.
    pub const OK: u8 = 0;
    /// The command line was wrong.
    pub const USAGE: u8 = 64;
    /// The input data is bad; retrying cannot help.
    pub const DATA: u8 = 65;
    /// An input file or object does not exist.
    pub const NO_INPUT: u8 = 66;
    /// The database (or a store) cannot be reached.
    pub const UNAVAILABLE: u8 = 69;
    /// An internal error (a bug, a panic); retrying cannot help.
    pub const SOFTWARE: u8 = 70;
    /// A temporary failure; retry later.
    pub const TEMP_FAIL: u8 = 75;
    /// The configuration (job spec, migrations, connection settings) is wrong.
    pub const CONFIG: u8 = 78;
}

/// Where in a source a row came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Position {
    /// A text source (CSV, COPY text): the 1-based line the record starts on.
    Line { line: u64 },
    /// A Parquet source: 0-based row group and 0-based row within it.
    RowGroup { row_group: usize, row: usize },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line { line } => write!(f, "line {line}"),
            Position::RowGroup { row_group, row } => write!(f, "row group {row_group}, row {row}"),
        }
    }
}

/// A file and a position in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    pub file: String,
    pub position: Option<Position>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.position {
            Some(position) => write!(f, "{}: {position}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// One bad value (or record) in a source, with everything needed to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub location: Location,
    /// The target column, when the problem is in one value.
    pub column: Option<String>,
    /// The offending value as read, when there is one.
    pub value: Option<String>,
    /// What went wrong and what was expected, as a lowercase fragment.
    pub problem: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.location)?;
        if let Some(column) = &self.column {
            write!(f, ", column \"{column}\"")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// A value or record in the input cannot be loaded.
    #[error("{0}")]
    BadData(RowError),
    /// The input breaks a rule of the database (a foreign key, a unique key, ...).
    #[error("{context}: {message}")]
    Rejected { context: String, message: String },
    /// An input file does not exist or matched nothing.
    #[error("{path}: {message}")]
    InputMissing { path: String, message: String },
    /// Reading an input failed.
    #[error("reading {}: {}", .path.display(), with_causes(.source))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The job spec, a migration or the connection settings are wrong; one entry per problem.
    #[error("{}", .problems.join("; "))]
    Config { problems: Vec<String> },
    /// The database could not be reached, or went away.
    #[error("{context}: {}", describe(.source))]
    Unavailable {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// An object store (S3) failed to answer, after retries.
    #[error("{context}: {message}")]
    Store { context: String, message: String },
    /// Any other database error, classified by SQLSTATE in [`Error::exit_code`].
    #[error("{context}: {}", describe(.source))]
    Database {
        context: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// Another process holds what this one needs, past the time it may wait.
    #[error("{context}: {message}")]
    Busy { context: String, message: String },
    /// A worker thread failed in a way that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A database error as the server phrased it (message, then detail), or as the client did.
/// A full disk is named as such: the server's message names only a file.
fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let full = if *db.code() == tokio_postgres::error::SqlState::DISK_FULL {
            "the database server's disk is full: "
        } else {
            ""
        };
        match db.detail() {
            Some(detail) => format!("{full}{} ({detail})", db.message()),
            None => format!("{full}{}", db.message()),
        }
    } else {
        // The client's own errors (IO, closed connection) carry their causes in a chain.
        with_causes(error)
    }
}

/// An error's message followed by those of its causes that add something, `: `-separated
/// (an I/O error from a remote store says "streaming error"; its causes say why).
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// What a panic said, for the internal error that reports it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The error of a task that did not finish: it panicked (a bug: exit 70, with the panic's
/// message) or was cancelled.
pub fn joined(error: tokio::task::JoinError) -> Error {
    let what = if error.is_panic() {
        format!("a task panicked: {}", panic_message(&*error.into_panic()))
    } else {
        "a task was cancelled".to_owned()
    };
    ErrorKind::Internal(what).into()
}

/// The error of every fallible function in this crate.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error(Box::new(kind))
    }
}

impl From<RowError> for Error {
    fn from(row: RowError) -> Self {
        ErrorKind::BadData(row).into()
    }
}

/// Whether the driver raised `error` on this side of the connection: a parameter or column
/// of a type it cannot convert, a column or count it did not expect. tokio-postgres shows
/// no kind, only its message, whose start names it.
fn client_side(error: &tokio_postgres::Error) -> bool {
    let message = error.to_string();
    [
        "error serializing parameter",
        "error deserializing column",
        "invalid column",
        "query returned an unexpected number of",
    ]
    .iter()
    .any(|start| message.starts_with(start))
        || message.starts_with("expected ") && message.contains(" parameters but got ")
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// A configuration error with one problem.
    pub fn config(problem: impl Into<String>) -> Self {
        ErrorKind::Config {
            problems: vec![problem.into()],
        }
        .into()
    }

    /// A database error, classified as unavailable when the connection is the problem, and
    /// as ours (internal, never retried) when the driver refused something on this side.
    pub fn db(context: impl Into<String>, source: tokio_postgres::Error) -> Self {
        let context = context.into();
        let from_server = source.as_db_error().is_some() || source.code().is_some();
        if !from_server && !source.is_closed() && client_side(&source) {
            return ErrorKind::Internal(format!("{context}: {source}")).into();
        }
        if !from_server {
            // No SQLSTATE: the error came from the socket, not from the server.
            return ErrorKind::Unavailable { context, source }.into();
        }
        ErrorKind::Database { context, source }.into()
    }

    /// Where in the input the problem is, if it is in the input.
    pub fn location(&self) -> Option<&Location> {
        match self.kind() {
            ErrorKind::BadData(row) => Some(&row.location),
            _ => None,
        }
    }

    /// The SQLSTATE of a database error.
    pub fn sqlstate(&self) -> Option<&str> {
        match self.kind() {
            ErrorKind::Database { source, .. } | ErrorKind::Unavailable { source, .. } => {
                source.code().map(tokio_postgres::error::SqlState::code)
            }
            _ => None,
        }
    }

    /// The process exit code for this error (sysexits; see ARCHITECTURE.md).
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            ErrorKind::BadData(_) | ErrorKind::Rejected { .. } => exit::DATA,
            ErrorKind::InputMissing { .. } => exit::NO_INPUT,
            ErrorKind::Read { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => exit::NO_INPUT,
                std::io::ErrorKind::InvalidData => exit::DATA,
                _ => exit::TEMP_FAIL,
            },
            ErrorKind::Config { .. } => exit::CONFIG,
            ErrorKind::Unavailable { .. } | ErrorKind::Store { .. } => exit::UNAVAILABLE,
            ErrorKind::Database { .. } => codes::for_sqlstate(self.sqlstate().unwrap_or("")),
            ErrorKind::Busy { .. } => exit::TEMP_FAIL,
            ErrorKind::Internal(_) => exit::SOFTWARE,
        }
    }

    /// Whether running the same command again may succeed.
    pub fn is_retryable(&self) -> bool {
        codes::is_retryable(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_error_reads_where_then_what() {
        let error = Error::from(RowError {
            location: Location {
                file: "prices.csv".into(),
                position: Some(Position::Line { line: 1042 }),
            },
            column: Some("price".into()),
            value: Some("12,5".into()),
            problem: "cannot parse \"12,5\" as integer".into(),
        });
        assert_eq!(
            error.to_string(),
            "prices.csv: line 1042, column \"price\": cannot parse \"12,5\" as integer"
        );
        assert_eq!(error.exit_code(), exit::DATA);
        assert!(!error.is_retryable());
    }
}
