//! SQL transform jobs: no files, one statement from `sql/transforms/` run in a transaction
//! under the target's advisory lock, and recorded in the ledger like a load. The statement
//! keeps its own watermark (see `playlist_tally.sql`), takes the job name as `$1`, and
//! returns one row with `rows_read` and `rows_loaded`.

use std::time::Instant;

use tokio_postgres::Client;

use crate::db::ledger;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::sha256_hex;
use crate::job::Spec;
use crate::pipeline::{LoadOptions, Status, Summary, commit_batch, elapsed_ms};

/// Runs a SQL transform job.
///
/// # Errors
///
/// Configuration when the SQL file is missing or its statement fails to plan; database
/// errors as for loads. Nothing is committed on error.
pub async fn run(client: &mut Client, spec: &Spec, options: LoadOptions) -> Result<Summary> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let relative = spec.raw.sql.clone().unwrap_or_default();
    if !spec.raw.sources.is_empty() || !spec.raw.columns.is_empty() {
        return Err(Error::config(format!(
            "{}: a SQL job (`sql`) has no `sources` or [columns]",
            spec.path.display()
        )));
    }
    let path = spec.base_dir().join(&relative);
    let text = std::fs::read_to_string(&path).map_err(|source| ErrorKind::Read {
        path: path.clone(),
        source,
    })?;
    let hash = sha256_hex(text.as_bytes());
    let tx = client
        .transaction()
        .await
        .map_err(|error| Error::db("starting the transform transaction", error))?;
    ledger::lock_target(&tx, &spec.raw.table, options.lock_wait).await?;
    let row = tx
        .query_one(text.as_str(), &[&spec.name])
        .await
        .map_err(|error| Error::db(format!("running {}", path.display()), error))?;
    let count = |name: &str| -> Result<u64> {
        let n: i64 = row.try_get(name).map_err(|_| {
            Error::config(format!(
                "{}: the statement must return a bigint column {name:?}",
                path.display()
            ))
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let rows_read = count("rows_read")?;
    let rows_loaded = count("rows_loaded")?;
    let mut summary = Summary {
        status: Status::Loaded,
        job: spec.name.clone(),
        target: spec.raw.table.clone(),
        mode: "sql",
        batch_id: None,
        content_hash: hash.clone(),
        files: 0,
        bytes: 0,
        rows_read,
        rows_loaded,
        rows_skipped: 0,
        rows_deleted: 0,
        duration_ms: 0,
        fields_ignored: Vec::new(),
        mapping: Vec::new(),
        changes: None,
    };
    if rows_read == 0 || options.dry_run {
        tx.rollback()
            .await
            .map_err(|error| Error::db("rolling back the transform", error))?;
        summary.status = if options.dry_run {
            Status::Validated
        } else {
            Status::UpToDate
        };
        summary.duration_ms = elapsed_ms(started);
        return Ok(summary);
    }
    let sources = [ledger::SourceRecord {
        path: relative,
        bytes: text.len() as u64,
        sha256: Some(hash.clone()),
        etag: None,
        rows: rows_read,
    }];
    summary.duration_ms = elapsed_ms(started);
    let batch_id = commit_batch(tx, &summary, &hash, &sources, options.force, started_at).await?;
    summary.batch_id = Some(batch_id);
    tracing::info!(job = %spec.name, batch_id, rows_read, rows_loaded, "Transform committed.");
    Ok(summary)
}
