//! How a batch meets what the table holds: the five modes, resolved from `mode`, `key` and
//! `[cover]`.

use regex::Regex;

use super::LoadColumn;
use super::problems::{Problems, did_you_mean};
use super::raw::RawJob;
use crate::db::Ident;
use crate::db::catalog::Column;

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

pub(super) fn resolve_mode(raw: &RawJob, catalog: &[Column], columns: &[LoadColumn], problems: &mut Problems) -> Mode {
    let name = raw.mode.as_deref().unwrap_or("append");
    let mut key = || -> Vec<Ident> {
        if raw.key.is_empty() {
            problems.at(
                &["mode"],
                format!("mode {name:?} needs `key`, the columns of a unique index"),
            );
        }
        for k in &raw.key {
            if !catalog.iter().any(|c| &c.name == k) {
                let hint = did_you_mean(k, catalog.iter().map(|c| c.name.as_str()));
                problems.at(&["key"], format!("key column {k:?} is not in the target table{hint}"));
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
                problems.at(
                    &["mode"],
                    "mode \"replace_covered\" needs [cover] with the `column` the batch covers",
                );
                return Mode::Replace;
            };
            let declared = catalog
                .iter()
                .find(|c| c.name == cover.column)
                .map(|c| c.declared.clone())
                .unwrap_or_default();
            if !columns.iter().any(|c| c.name == cover.column) {
                let hint = did_you_mean(&cover.column, columns.iter().map(|c| c.name.as_str()));
                problems.at(
                    &["cover", "column"],
                    format!("[cover] column {:?} is not a loaded column{hint}", cover.column),
                );
            }
            let from_path = cover.from_path.as_deref().and_then(|p| match Regex::new(p) {
                Ok(regex) if (2..=3).contains(&regex.captures_len()) => Some(regex),
                Ok(_) => {
                    problems.at(
                        &["cover", "from_path"],
                        format!("[cover] from_path {p:?} must have one or two capture groups"),
                    );
                    None
                }
                Err(error) => {
                    problems.at(
                        &["cover", "from_path"],
                        format!("[cover] from_path {p:?} is not a regex: {error}"),
                    );
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
            problems.at(
                &["mode"],
                format!("mode {other:?} is unknown (expected append, upsert, insert_new, replace or replace_covered)"),
            );
            Mode::Append
        }
    }
}
