//! A rejected row flat, as the ledger stores it, `--rejects-out` writes it and `pgbatch
//! report` reads it back.

use std::fmt;

use super::{Location, Position, RowError};

impl Position {
    /// A position from its flat form, as the ledger stores it: a line, or a row group and a
    /// row.
    pub fn from_flat(line: Option<i64>, row_group: Option<i32>, row: Option<i64>) -> Option<Position> {
        match (line, row_group, row) {
            (Some(line), ..) => u64::try_from(line).ok().map(|line| Position::Line { line }),
            (None, Some(group), Some(row)) => usize::try_from(group)
                .ok()
                .zip(usize::try_from(row).ok())
                .map(|(row_group, row)| Position::RowGroup { row_group, row }),
            _ => None,
        }
    }
}

/// A [`RowError`] flat, as a rejected row is stored (`pgbatch.rejects`), reported
/// (`--rejects-out`, one JSON object per line) and read back (`pgbatch report`): the
/// position as a line, or a row group and a row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FlatRow {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_group: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<i64>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub reason: String,
}

impl From<&RowError> for FlatRow {
    fn from(error: &RowError) -> Self {
        let (line, row_group, row) = match error.location.position {
            Some(Position::Line { line }) => (Some(i64::try_from(line).unwrap_or(i64::MAX)), None, None),
            Some(Position::RowGroup { row_group, row }) => (
                None,
                Some(i32::try_from(row_group).unwrap_or(i32::MAX)),
                Some(i64::try_from(row).unwrap_or(i64::MAX)),
            ),
            None => (None, None, None),
        };
        FlatRow {
            source: error.location.file.clone(),
            line,
            row_group,
            row,
            column: error.column.clone(),
            value: error.value.clone(),
            reason: error.problem.clone(),
        }
    }
}

/// As its [`RowError`] reads: `file: line 3, column "price": reason`.
impl fmt::Display for FlatRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = Position::from_flat(self.line, self.row_group, self.row);
        RowError {
            location: Location {
                file: self.source.clone(),
                position,
            },
            column: self.column.clone(),
            value: self.value.clone(),
            problem: self.reason.clone(),
        }
        .fmt(f)
    }
}
