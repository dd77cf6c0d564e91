//! Rows the database refuses: a unique, foreign key, check or not-null constraint of the
//! target (SQLSTATE class 23). The error names the constraint, not the row; this finds the
//! row, by file and line (or row group and row), so that it is reported, and with
//! `max_rejects` set aside, like a row that does not parse.
//!
//! The batch is copied again into a located stage (`sql/refused/stage.sql`), each row with
//! its position and its order. The mode's statement then runs on ranges of it under
//! savepoints: a range the database takes stays, a range it refuses is rolled back and
//! halved, until each refused row is alone. Rows go in in batch order, so a key twice in
//! the batch refuses its second row, as one statement would. The search is rolled back
//! afterwards; the refused rows leave the stage, and the batch merges as it would have.

use tokio_postgres::Transaction;
use tokio_postgres::error::DbError;

use super::load::Streamed;
use super::merge;
use super::rejects::Rejects;
use super::source::SourceFile;
use crate::error::{Error, Location, Position, Result, RowError};
use crate::job::Job;

// language=PostgreSQL
const STAGE_SQL: &str = include_str!("../../sql/refused/stage.sql");
const INDEX_SQL: &str = include_str!("../../sql/refused/index.sql");
const RANGE_SQL: &str = include_str!("../../sql/refused/range.sql");
const ROW_SQL: &str = include_str!("../../sql/refused/row.sql");
const DELETE_SQL: &str = include_str!("../../sql/refused/delete.sql");

/// Whether the database refused some row of the batch (an integrity constraint).
pub fn is_refusal(error: &Error) -> bool {
    error.sqlstate().is_some_and(|code| code.starts_with("23"))
}

fn refusal(error: &tokio_postgres::Error) -> Option<&DbError> {
    error.as_db_error().filter(|db| db.code().code().starts_with("23"))
}

/// Creates the located stage and the view the mode's statements read it by
/// (`pg_temp.pgbatch_stage`), in place of the staging table.
///
/// # Errors
///
/// The database cannot create them.
pub async fn stage(tx: &Transaction<'_>, job: &Job) -> Result<()> {
    tx.batch_execute(&merge::render(STAGE_SQL, job))
        .await
        .map_err(|error| Error::db("creating the located stage", error))
}

/// What the search needs besides the transaction.
pub struct Search<'a> {
    pub job: &'a Job,
    pub files: &'a [SourceFile],
    /// The cover ranges of a `replace_covered` job's file names.
    pub ranges: &'a [(String, String)],
    /// A validation: every refused row is found, and the job's limit checked after.
    pub dry_run: bool,
}

/// Finds the rows of the located stage the database refuses, sets them aside in `rejects`
/// and takes them out of the stage and of `streamed`'s rows written.
///
/// # Errors
///
/// Bad data: the refused rows put the batch over its limit (or it has none); the first
/// refused row is the error's location. A database error that is not a refusal.
pub async fn find(
    tx: &Transaction<'_>,
    search: &Search<'_>,
    streamed: &mut Streamed,
    rejects: &mut Rejects,
) -> Result<()> {
    let job = search.job;
    let locating = |error| Error::db("locating the rows the database refuses", error);
    let rows = i64::try_from(streamed.rows_written).unwrap_or(i64::MAX);
    tx.batch_execute(INDEX_SQL).await.map_err(locating)?;
    set_range(tx, 1, rows).await?;
    tx.batch_execute("SAVEPOINT pgbatch_locate").await.map_err(locating)?;
    merge::before_insert(tx, job, search.ranges).await?;
    let insert = merge::insert_statement(job);
    let mut refused: Vec<(i64, DbError)> = Vec::new();
    // Ranges still to try, the next on top: in batch order.
    let mut ranges = vec![(1, rows)];
    while let Some((first, last)) = ranges.pop() {
        tx.batch_execute("SAVEPOINT pgbatch_probe").await.map_err(locating)?;
        set_range(tx, first, last).await?;
        let Err(error) = tx.execute(insert.as_str(), &[]).await else {
            tx.batch_execute("RELEASE SAVEPOINT pgbatch_probe")
                .await
                .map_err(locating)?;
            continue;
        };
        let Some(db) = refusal(&error).cloned() else {
            return Err(Error::db(
                format!("merging the batch ({} mode)", job.mode.name()),
                error,
            ));
        };
        tx.batch_execute("ROLLBACK TO SAVEPOINT pgbatch_probe")
            .await
            .map_err(locating)?;
        if first < last {
            let middle = first + (last - first) / 2;
            ranges.push((middle + 1, last));
            ranges.push((first, middle));
            continue;
        }
        refused.push((first, db));
        // Enough to fail the batch: the rest need not be found (a validation finds all).
        if !search.dry_run && rejects.over_with(refused.len() as u64, streamed.rows_read) {
            break;
        }
    }
    tx.batch_execute("ROLLBACK TO SAVEPOINT pgbatch_locate")
        .await
        .map_err(locating)?;
    let mut found = Vec::with_capacity(refused.len());
    for (seq, db) in &refused {
        let (row, nulls) = row_error(tx, search, *seq, db).await?;
        for (count, null) in streamed.nulls.iter_mut().zip(nulls) {
            *count -= u64::from(null);
        }
        found.push(row);
    }
    let seqs: Vec<i64> = refused.iter().map(|(seq, _)| *seq).collect();
    tx.execute(DELETE_SQL, &[&seqs]).await.map_err(locating)?;
    streamed.rows_written -= seqs.len() as u64;
    rejects.add(found)?;
    streamed.rows_rejected = rejects.count();
    rejects.check(streamed.rows_read)?;
    if search.dry_run {
        rejects.check_as(job.max_rejects, streamed.rows_read)?;
    }
    Ok(())
}

/// The located rows the batch's statements see from here: `first ..= last`.
async fn set_range(tx: &Transaction<'_>, first: i64, last: i64) -> Result<()> {
    tx.execute(RANGE_SQL, &[&first.to_string(), &last.to_string()])
        .await
        .map(|_| ())
        .map_err(|error| Error::db("locating the rows the database refuses", error))
}

/// The refused row `seq` as a rejected row: its file and position, its values, and what the
/// database said; and which of its columns are NULL, in COPY order.
async fn row_error(tx: &Transaction<'_>, search: &Search<'_>, seq: i64, db: &DbError) -> Result<(RowError, Vec<bool>)> {
    let nulls: Vec<String> = search
        .job
        .columns
        .iter()
        .map(|c| format!("{} IS NULL", c.ident.as_sql()))
        .collect();
    let sql = merge::render(ROW_SQL, search.job).replace("{nulls}", &nulls.join(", "));
    let row = tx
        .query_one(sql.as_str(), &[&seq])
        .await
        .map_err(|error| Error::db("reading a refused row", error))?;
    let (file, line, group, number, values): (i32, Option<i64>, Option<i32>, Option<i64>, Option<String>) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    let nulls: Vec<bool> = row.get(5);
    let position = Position::from_flat(line, group, number);
    let file = usize::try_from(file)
        .ok()
        .and_then(|index| search.files.get(index))
        .map_or_else(String::new, |f| f.display.clone());
    let problem = match db.detail() {
        Some(detail) => format!("the database refuses the row: {} ({detail})", db.message()),
        None => format!("the database refuses the row: {}", db.message()),
    };
    let row = RowError {
        location: Location { file, position },
        column: db.column().map(str::to_owned),
        value: values,
        problem,
    };
    Ok((row, nulls))
}
