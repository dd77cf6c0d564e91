//! SQL transform jobs: no files, one statement from `sql/transforms/` run in a batch
//! transaction under the target's advisory lock, and recorded in the ledger like a load
//! (the script is `batch::run_sql`). The statement keeps its own watermark (see
//! `playlist_tally.sql`), takes the job name as `$1`, and returns one row with `rows_read`
//! and `rows_loaded`.

use tokio_postgres::Transaction;

use super::summary::{Started, Status, Summary};
use crate::db::ledger;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::sha256_hex;
use crate::job::Spec;

/// A SQL job, read and checked: its statement and what it is recorded as.
pub(crate) struct PlannedSql {
    /// The summary so far (job, target, mode `sql`, the statement's hash).
    pub summary: Summary,
    /// The statement's text; it takes the job's name as `$1` and returns one row with
    /// bigint `rows_read` and `rows_loaded`.
    pub statement: String,
    /// The statement's file, as errors name it.
    pub file: String,
    /// The ledger's record of the statement's file.
    pub source: ledger::SourceRecord,
    pub started: Started,
}

/// Reads and checks a SQL job: its statement file, relative to the job file.
///
/// # Errors
///
/// Configuration when the job also lists sources or columns; reading when the SQL file is
/// missing.
pub(crate) fn plan(spec: &Spec, started: Started) -> Result<PlannedSql> {
    let relative = spec.raw.sql.clone().unwrap_or_default();
    if !spec.raw.sources.is_empty() || !spec.raw.columns.is_empty() {
        return Err(Error::config(format!(
            "{}: a SQL job (`sql`) has no `sources` or [columns]",
            spec.path.display()
        )));
    }
    let path = spec.base_dir().join(&relative);
    let statement = std::fs::read_to_string(&path).map_err(|source| ErrorKind::Read {
        path: path.clone(),
        source,
    })?;
    let hash = sha256_hex(statement.as_bytes());
    let summary = Summary::new(Status::Loaded, &spec.name, &spec.raw.table, "sql", &hash);
    let source = ledger::SourceRecord {
        path: relative,
        bytes: statement.len() as u64,
        sha256: Some(hash),
        etag: None,
        checksum: None,
        rows: 0,
    };
    Ok(PlannedSql {
        summary,
        statement,
        file: path.display().to_string(),
        source,
        started,
    })
}

/// Runs the statement; returns its `rows_read` and `rows_loaded`.
pub(crate) async fn counts(tx: &Transaction<'_>, statement: &str, job: &str, file: &str) -> Result<(u64, u64)> {
    let row = tx
        .query_one(statement, &[&job])
        .await
        .map_err(|error| Error::db(format!("running {file}"), error))?;
    let count = |name: &str| -> Result<u64> {
        let n: i64 = row
            .try_get(name)
            .map_err(|_| Error::config(format!("{file}: the statement must return a bigint column {name:?}")))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok((count("rows_read")?, count("rows_loaded")?))
}
