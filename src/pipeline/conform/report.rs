//! What a bad value's error says: the file, the line (or row group and row), the column,
//! the value as the source wrote it, and the problem.

use arrow_array::Array;
use arrow_cast::display::{ArrayFormatter, FormatOptions};

use crate::error::{Error, Location, RowError};
use crate::job::LoadColumn;

/// Where row `i` of a chunk is in its file.
pub(super) type At<'a> = dyn Fn(usize) -> Option<crate::error::Position> + 'a;

pub(super) fn row_error(
    file: &str,
    at: &At<'_>,
    row: usize,
    target: &LoadColumn,
    value: Option<&str>,
    problem: String,
) -> Error {
    RowError {
        location: Location {
            file: file.to_owned(),
            position: at(row),
        },
        column: Some(target.name.clone()),
        value: value.map(str::to_owned),
        problem,
    }
    .into()
}

/// A value as Arrow displays it, for an error message.
pub(super) fn display(array: &dyn Array, row: usize) -> String {
    ArrayFormatter::try_new(array, &FormatOptions::default())
        .map(|f| f.value(row).to_string())
        .unwrap_or_default()
}
