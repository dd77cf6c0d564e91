//! Batch checks (`[checks]`), in the batch's transaction, before its ledger row: the row
//! count and the share of NULLs per column from what the COPY carried, a key unique within
//! the staged batch, then the job's SQL assertions on the merged table. A failed check
//! rolls the batch back (65), naming the check and the figure that failed it; the checks
//! that passed are in the summary with their figures.

use tokio_postgres::Transaction;

use super::load::Streamed;
use crate::error::{Error, ErrorKind, Result};
use crate::job::Job;

// language=PostgreSQL
const UNIQUE_SQL: &str = include_str!("../../sql/checks/unique_in_batch.sql");

fn failed(check: &str, message: impl std::fmt::Display) -> Error {
    ErrorKind::Rejected {
        context: format!("batch check {check}"),
        message: format!("{message}; the batch rolled back"),
    }
    .into()
}

/// The checks on what the COPY carried: rows, and NULLs per column.
///
/// # Errors
///
/// A check failed.
pub(crate) fn counted(job: &Job, streamed: &Streamed) -> Result<Vec<String>> {
    let checks = &job.checks;
    let rows = streamed.rows_written;
    let mut passed = Vec::new();
    if let Some(min) = checks.min_rows {
        if rows < min {
            return Err(failed(
                "min_rows",
                format!("the batch has {rows} rows, fewer than {min}"),
            ));
        }
        passed.push(format!("min_rows: {rows} rows >= {min}"));
    }
    if let Some(max) = checks.max_rows {
        if rows > max {
            return Err(failed(
                "max_rows",
                format!("the batch has {rows} rows, more than {max}"),
            ));
        }
        passed.push(format!("max_rows: {rows} rows <= {max}"));
    }
    for (index, name, most) in &checks.max_null_ratio {
        let nulls = streamed.nulls.get(*index).copied().unwrap_or(0);
        #[expect(clippy::cast_precision_loss, reason = "row counts far below 2^52")]
        let ratio = if rows == 0 { 0.0 } else { nulls as f64 / rows as f64 };
        if ratio > *most {
            return Err(failed(
                "max_null_ratio",
                format!("column {name:?} is NULL in {nulls} of {rows} rows ({ratio:.4}), more than {most}"),
            ));
        }
        passed.push(format!(
            "max_null_ratio {name}: {nulls} of {rows} NULL ({ratio:.4}) <= {most}"
        ));
    }
    Ok(passed)
}

/// The checks on the staged batch: its key unique.
///
/// # Errors
///
/// A check failed, or the database did.
pub(crate) async fn staged(tx: &Transaction<'_>, job: &Job) -> Result<Vec<String>> {
    let key = &job.checks.unique;
    if key.is_empty() {
        return Ok(Vec::new());
    }
    let columns = key
        .iter()
        .map(|(_, ident)| ident.as_sql())
        .collect::<Vec<_>>()
        .join(", ");
    let names = key.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
    let found = tx
        .query_opt(UNIQUE_SQL.replace("{key}", &columns).as_str(), &[])
        .await
        .map_err(|error| Error::db("checking that the batch's key is unique", error))?;
    if let Some(row) = found {
        let (value, times, keys): (String, i64, i64) = (row.get(0), row.get(1), row.get(2));
        return Err(failed(
            "unique",
            format!("{keys} keys ({names}) are held more than once in the batch, ({names}) = {value} {times} times"),
        ));
    }
    Ok(vec![format!("unique ({names}): no key twice")])
}

/// The job's SQL assertions, on the table as the batch would leave it.
///
/// # Errors
///
/// An assertion failed, or its file cannot be read or run.
pub(crate) async fn merged(tx: &Transaction<'_>, job: &Job) -> Result<Vec<String>> {
    let mut passed = Vec::new();
    for (name, path) in &job.checks.sql {
        let statement = std::fs::read_to_string(path).map_err(|source| ErrorKind::Read {
            path: path.clone(),
            source,
        })?;
        let file = path.display();
        let row = tx
            .query_one(statement.as_str(), &[])
            .await
            .map_err(|error| Error::db(format!("running the batch check {file}"), error))?;
        let failing: i64 = row.try_get("failing").map_err(|_| {
            Error::config(format!(
                "{file}: a check must return one row with a bigint column \"failing\""
            ))
        })?;
        if failing != 0 {
            let example: Option<String> = row.try_get("example").ok().flatten();
            let example = example.map(|e| format!(" (for example {e})")).unwrap_or_default();
            return Err(failed(
                name,
                format!("{file} finds {failing} failing{example}, expected 0"),
            ));
        }
        passed.push(format!("{name}: 0 failing"));
    }
    Ok(passed)
}
