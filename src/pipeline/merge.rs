//! Commit, first half: merge the staged batch into the target by the job's mode. Every
//! statement runs in the batch's transaction; the caller writes the ledger row and commits.
//!
//! The statements live in `sql/modes/`. Only quoted identifiers (from `db::Ident`) and the
//! cover column's catalog type are put into them; values are bound.

use tokio_postgres::Transaction;

use crate::db::Ident;
use crate::error::{Error, ErrorKind, Result};
use crate::job::{Job, Mode};

// language=PostgreSQL
const STAGE_SQL: &str = include_str!("../../sql/modes/stage.sql");
const INSERT_SQL: &str = include_str!("../../sql/modes/insert.sql");
const UPSERT_SQL: &str = include_str!("../../sql/modes/upsert.sql");
const INSERT_NEW_SQL: &str = include_str!("../../sql/modes/insert_new.sql");
const REPLACE_DELETE_SQL: &str = include_str!("../../sql/modes/replace_delete.sql");
const REPLACE_INSERT_SQL: &str = include_str!("../../sql/modes/replace_insert.sql");
const DELETE_COVERED_SQL: &str = include_str!("../../sql/modes/delete_covered.sql");
const DUPLICATE_KEY_SQL: &str = include_str!("../../sql/modes/duplicate_key.sql");

/// The table COPY writes into for this job: the target itself for `append`, else the stage.
pub fn copy_table(job: &Job) -> String {
    match job.mode {
        Mode::Append => job.table_ident.as_sql().to_owned(),
        _ => "pg_temp.pgbatch_stage".to_owned(),
    }
}

/// The COPY statement of the job.
pub fn copy_statement(job: &Job) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        copy_table(job),
        column_list(job)
    )
}

/// The COPY statement of the job into another table (a shard's staging).
pub fn copy_into(table: &Ident, job: &Job) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.as_sql(),
        column_list(job)
    )
}

fn column_list(job: &Job) -> String {
    job.columns
        .iter()
        .map(|c| c.ident.as_sql())
        .collect::<Vec<_>>()
        .join(", ")
}

fn idents(list: &[Ident]) -> String {
    list.iter().map(Ident::as_sql).collect::<Vec<_>>().join(", ")
}

/// The COPY statement of a located copy: the job's columns, then the positions.
pub fn copy_located(job: &Job) -> String {
    let positions: Vec<&str> = crate::pipeline::positioned::COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    format!(
        "COPY pg_temp.pgbatch_located ({}, {}) FROM STDIN (FORMAT binary)",
        column_list(job),
        positions.join(", ")
    )
}

/// Fills a template's placeholders with identifiers.
pub fn render(template: &str, job: &Job) -> String {
    let mut sql = template
        .replace("{target}", job.table_ident.as_sql())
        .replace("{columns}", &column_list(job));
    match &job.mode {
        Mode::Upsert { key } | Mode::InsertNew { key } => {
            let updates: Vec<String> = job
                .columns
                .iter()
                .filter(|c| !key.contains(&c.ident))
                .map(|c| format!("{0} = EXCLUDED.{0}", c.ident.as_sql()))
                .collect();
            sql = sql.replace("{key}", &idents(key));
            sql = if updates.is_empty() {
                sql.replace("DO UPDATE SET {updates}", "DO NOTHING")
            } else {
                sql.replace("{updates}", &updates.join(", "))
            };
        }
        Mode::ReplaceCovered(cover) => {
            sql = sql
                .replace("{cover}", cover.column.as_sql())
                .replace("{cover_type}", &cover.declared);
        }
        Mode::Append | Mode::Replace => {}
    }
    sql
}

/// Creates the staging table, when the mode needs one.
pub async fn stage(tx: &Transaction<'_>, job: &Job) -> Result<()> {
    if matches!(job.mode, Mode::Append) {
        return Ok(());
    }
    tx.batch_execute(&render(STAGE_SQL, job))
        .await
        .map_err(|error| Error::db("creating the staging table", error))
}

/// Makes the shards' staging tables the stage a finalize merges from: one view over all of
/// them, gone at the end of the transaction's session use ([`unstage_shards`]).
pub async fn stage_shards(tx: &Transaction<'_>, job: &Job, tables: &[String]) -> Result<()> {
    let columns = column_list(job);
    let selects: Vec<String> = tables
        .iter()
        .map(|table| format!("SELECT {columns} FROM {}", Ident::qualified(table).as_sql()))
        .collect();
    let sql = format!("CREATE TEMP VIEW pgbatch_stage AS {}", selects.join(" UNION ALL "));
    tx.batch_execute(&sql)
        .await
        .map_err(|error| Error::db("reading the shards' staging tables", error))
}

/// Drops the view of [`stage_shards`], so that the staging tables can go.
pub async fn unstage_shards(tx: &Transaction<'_>) -> Result<()> {
    tx.batch_execute("DROP VIEW pg_temp.pgbatch_stage")
        .await
        .map_err(|error| Error::db("dropping the view of the shards", error))
}

/// Merges the staged shards into the target by the job's mode: [`merge`], where `append`
/// inserts from the stage too (a plain `append` load COPYs into the target itself).
/// `staged` is the rows the shards wrote.
pub async fn merge_staged(tx: &Transaction<'_>, job: &Job, staged: u64, ranges: &[(String, String)]) -> Result<Merged> {
    if !matches!(job.mode, Mode::Append) {
        return merge(tx, job, staged, ranges).await;
    }
    let rows_loaded = tx
        .execute(render(INSERT_SQL, job).as_str(), &[])
        .await
        .map_err(|error| Error::db("inserting the shards (append mode)", error))?;
    Ok(Merged {
        rows_loaded,
        rows_deleted: 0,
    })
}

/// The statement of the job's mode that puts the staged rows into the target, once
/// [`before_insert`] ran: one row at a time, it takes the row or the database refuses it.
pub fn insert_statement(job: &Job) -> String {
    render(
        match job.mode {
            Mode::Append | Mode::ReplaceCovered(_) => INSERT_SQL,
            Mode::Upsert { .. } => UPSERT_SQL,
            Mode::InsertNew { .. } => INSERT_NEW_SQL,
            Mode::Replace => REPLACE_INSERT_SQL,
        },
        job,
    )
}

/// What the job's mode does to the target before its rows go in: the old rows go
/// (`replace`: those the batch does not hold; `replace_covered`: those it covers). Returns
/// how many went.
pub async fn before_insert(tx: &Transaction<'_>, job: &Job, ranges: &[(String, String)]) -> Result<u64> {
    let lows: Vec<&str> = ranges.iter().map(|(lo, _)| lo.as_str()).collect();
    let highs: Vec<&str> = ranges.iter().map(|(_, hi)| hi.as_str()).collect();
    let done = match job.mode {
        Mode::Replace => tx.execute(render(REPLACE_DELETE_SQL, job).as_str(), &[]).await,
        Mode::ReplaceCovered(_) => {
            tx.execute(render(DELETE_COVERED_SQL, job).as_str(), &[&lows, &highs])
                .await
        }
        Mode::Append | Mode::Upsert { .. } | Mode::InsertNew { .. } => return Ok(0),
    };
    done.map_err(|error| Error::db(format!("deleting the old rows ({} mode)", job.mode.name()), error))
}

/// What merging did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Merged {
    /// Rows inserted or updated in the target.
    pub rows_loaded: u64,
    /// Old rows deleted (replace, `replace_covered`).
    pub rows_deleted: u64,
}

/// Merges the stage into the target. `copied` is the rows in the stage (what COPY wrote);
/// `ranges` are the inclusive cover ranges the file names declare.
pub async fn merge(tx: &Transaction<'_>, job: &Job, copied: u64, ranges: &[(String, String)]) -> Result<Merged> {
    match &job.mode {
        Mode::Append => {
            return Ok(Merged {
                rows_loaded: copied,
                rows_deleted: 0,
            });
        }
        Mode::Upsert { key } => {
            return Ok(Merged {
                rows_loaded: upsert(tx, job, key).await?,
                rows_deleted: 0,
            });
        }
        Mode::InsertNew { .. } | Mode::Replace | Mode::ReplaceCovered(_) => {}
    }
    let rows_deleted = before_insert(tx, job, ranges).await?;
    let inserted = tx
        .execute(insert_statement(job).as_str(), &[])
        .await
        .map_err(|error| Error::db(format!("inserting the batch ({} mode)", job.mode.name()), error))?;
    // A replace inserts only the rows the table lacks (touching only what differs); then
    // the table holds the whole batch.
    let rows_loaded = if matches!(job.mode, Mode::Replace) {
        copied
    } else {
        inserted
    };
    tracing::debug!(rows_deleted, inserted, copied, "Merged.");
    Ok(Merged {
        rows_loaded,
        rows_deleted,
    })
}

/// Upserts the staged batch. A key the batch holds twice fails the statement (SQLSTATE
/// 21000, which names no key); the merge runs under a savepoint so that the batch can then
/// be asked which key it was.
async fn upsert(tx: &Transaction<'_>, job: &Job, key: &[Ident]) -> Result<u64> {
    tx.batch_execute("SAVEPOINT pgbatch_merge")
        .await
        .map_err(|error| Error::db("upserting the batch (upsert mode)", error))?;
    let error = match tx.execute(render(UPSERT_SQL, job).as_str(), &[]).await {
        Ok(rows) => return Ok(rows),
        Err(error) => error,
    };
    if error.code() != Some(&tokio_postgres::error::SqlState::CARDINALITY_VIOLATION) {
        return Err(Error::db("upserting the batch (upsert mode)", error));
    }
    let found = async {
        tx.batch_execute("ROLLBACK TO SAVEPOINT pgbatch_merge").await?;
        tx.query_opt(render(DUPLICATE_KEY_SQL, job).as_str(), &[]).await
    }
    .await
    .map_err(|error| Error::db("finding the key the batch holds twice", error))?;
    let Some(row) = found else {
        return Err(Error::db("upserting the batch (upsert mode)", error));
    };
    let (value, times): (String, i64) = (row.get(0), row.get(1));
    Err(ErrorKind::Rejected {
        context: "upserting the batch (upsert mode)".into(),
        message: format!(
            "the batch holds key ({}) = {value} {times} times, and an upsert takes each key once \
             (remove the duplicates, or use mode \"insert_new\", which keeps the first)",
            idents(key)
        ),
    }
    .into())
}

/// The inclusive ranges the file names declare for a `replace_covered` job.
pub fn cover_ranges(job: &Job, file_names: &[String]) -> Vec<(String, String)> {
    let Mode::ReplaceCovered(cover) = &job.mode else {
        return Vec::new();
    };
    let Some(regex) = &cover.from_path else {
        return Vec::new();
    };
    file_names
        .iter()
        .filter_map(|name| {
            let captures = regex.captures(name)?;
            let lo = captures.get(1)?.as_str().to_owned();
            let hi = captures.get(2).map_or_else(|| lo.clone(), |m| m.as_str().to_owned());
            Some((lo, hi))
        })
        .collect()
}
