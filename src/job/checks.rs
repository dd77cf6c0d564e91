//! `[checks]`: what the whole batch must satisfy before it commits (row-count bounds, a key
//! unique within the batch, a largest share of NULLs per column, SQL assertions), resolved
//! against the job's columns. `pipeline::checks` runs them.

use std::path::{Path, PathBuf};

use super::problems::{Problems, did_you_mean};
use super::raw::RawJob;
use super::{LoadColumn, Mode};
use crate::db::Ident;

/// A job's batch checks; the default checks nothing.
#[derive(Debug, Clone, Default)]
pub struct BatchChecks {
    pub min_rows: Option<u64>,
    pub max_rows: Option<u64>,
    /// A key no two rows of the batch share (names, and their quoted identifiers).
    pub unique: Vec<(String, Ident)>,
    /// (index of the column in COPY order, its name, the largest share of NULLs).
    pub max_null_ratio: Vec<(usize, String, f64)>,
    /// SQL assertions: (name, the file).
    pub sql: Vec<(String, PathBuf)>,
}

impl BatchChecks {
    pub fn is_empty(&self) -> bool {
        self.min_rows.is_none()
            && self.max_rows.is_none()
            && self.unique.is_empty()
            && self.max_null_ratio.is_empty()
            && self.sql.is_empty()
    }
}

/// The checks of `raw`, against the loaded `columns` (in COPY order).
pub(super) fn resolve_checks(
    raw: &RawJob,
    base: &Path,
    columns: &[LoadColumn],
    mode: &Mode,
    problems: &mut Problems,
) -> BatchChecks {
    let Some(c) = &raw.checks else {
        return BatchChecks::default();
    };
    let names = || columns.iter().map(|c| c.name.as_str());
    if let (Some(min), Some(max)) = (c.min_rows, c.max_rows)
        && min > max
    {
        problems.at(
            &["checks", "min_rows"],
            format!("[checks] min_rows = {min} is more than max_rows = {max}"),
        );
    }
    let mut unique = Vec::new();
    for name in c.unique.iter().flatten() {
        match columns.iter().find(|column| &column.name == name) {
            Some(column) => unique.push((name.clone(), column.ident.clone())),
            None => problems.at(
                &["checks", "unique"],
                format!(
                    "[checks] unique: {name:?} is not a loaded column{}",
                    did_you_mean(name, names())
                ),
            ),
        }
    }
    if c.unique.as_ref().is_some_and(Vec::is_empty) {
        problems.at(&["checks", "unique"], "[checks] unique lists no column");
    }
    if !unique.is_empty() && matches!(mode, Mode::Append) {
        problems.at(
            &["checks", "unique"],
            "[checks] unique needs a staged mode (upsert, insert_new, replace, replace_covered): an append \
             batch is not kept apart from the table's rows (a unique index on the table does it there)",
        );
    }
    let mut max_null_ratio = Vec::new();
    for (name, ratio) in &c.max_null_ratio {
        if !(0.0..=1.0).contains(ratio) {
            problems.at(
                &["checks", "max_null_ratio", name],
                format!("[checks] max_null_ratio of {name:?} must be from 0 to 1, not {ratio}"),
            );
        }
        match columns.iter().position(|column| &column.name == name) {
            Some(index) => max_null_ratio.push((index, name.clone(), *ratio)),
            None => problems.at(
                &["checks", "max_null_ratio", name],
                format!(
                    "[checks] max_null_ratio: {name:?} is not a loaded column{}",
                    did_you_mean(name, names())
                ),
            ),
        }
    }
    let mut sql = Vec::new();
    for relative in &c.sql {
        let path = base.join(relative);
        if path.is_file() {
            let name = Path::new(relative)
                .file_stem()
                .map_or_else(|| relative.clone(), |stem| stem.to_string_lossy().into_owned());
            sql.push((name, path));
        } else {
            problems.at(
                &["checks", "sql"],
                format!("[checks] sql: {} is not a file", path.display()),
            );
        }
    }
    BatchChecks {
        min_rows: c.min_rows,
        max_rows: c.max_rows,
        unique,
        max_null_ratio,
        sql,
    }
}
