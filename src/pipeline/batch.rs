//! The one transaction script of every batch, a load or a SQL job: BEGIN; the target's
//! lock; the ledger's answer (loaded before?); the work; the ledger row; COMMIT. Every way
//! out of a batch's transaction is here or goes through here: each rollback is a call of
//! [`roll_back`], and every COMMIT is in [`commit_only`] (shards and `finalize`, in
//! `shard.rs` and `finalize.rs`, and a load, in `loading.rs`, use them).

use std::sync::Arc;

use tokio_postgres::{Client, Transaction};

use super::LoadOptions;
use super::fault;
use super::source::SourceFile;
use super::summary::{Started, Status, Summary, elapsed_ms};
use super::transform::{PlannedSql, counts};
use crate::db::ledger;
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::job::Job;

/// A load, planned: the job bound to every file, before its transaction.
pub(crate) struct PlannedLoad {
    pub job: Arc<Job>,
    pub job_hash: String,
    pub files: Vec<SourceFile>,
    /// The summary so far: files, bytes, fields ignored, the mapping.
    pub summary: Summary,
    pub started: Started,
}

/// BEGIN, then the target's advisory lock (waiting at most `lock_wait`). `None`: another
/// run holds the lock, and the options say to skip then.
pub(super) async fn begin<'c>(
    client: &'c mut Client,
    target: &str,
    options: &LoadOptions,
) -> Result<Option<Transaction<'c>>> {
    let tx = client
        .transaction()
        .await
        .map_err(|error| Error::db("starting the batch transaction", error))?;
    match ledger::lock_target(&tx, target, options.lock_wait).await {
        Ok(()) => Ok(Some(tx)),
        Err(error) if options.skip_if_running && matches!(error.kind(), ErrorKind::Busy { .. }) => {
            tracing::info!(%target, "Another run holds the target's lock; skipped.");
            roll_back(tx, "a skipped run").await?;
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

/// The summary of a run that found another run of its target going on.
pub(super) fn skipped(summary: &Summary, started: Started) -> Summary {
    let mut done = summary.clone();
    done.status = Status::Skipped;
    done.duration_ms = elapsed_ms(started.at);
    done
}

/// ROLLBACK, saying why in the error when the server cannot be told.
pub(super) async fn roll_back(tx: Transaction<'_>, why: &str) -> Result<()> {
    tx.rollback()
        .await
        .map_err(|error| Error::db(format!("rolling back {why}"), error))
}

/// The ledger row of the batch (with the array job's key, for a finalized batch of
/// shards) and its rejected rows, then COMMIT: the batch is loaded and recorded, or neither. Returns the batch id.
pub(super) async fn commit(
    tx: Transaction<'_>,
    summary: &Summary,
    job_hash: &str,
    sources: &[ledger::SourceRecord],
    forced: bool,
    started: Started,
    (batch_key, rejects): (Option<&str>, &[RowError]),
) -> Result<i64> {
    let batch_id = ledger::record(
        &tx,
        &ledger::NewBatch {
            job: &summary.job,
            target: &summary.target,
            mode: summary.mode,
            content_hash: &summary.content_hash,
            job_hash,
            sources,
            rows_read: summary.rows_read,
            rows_loaded: summary.rows_loaded,
            rows_skipped: summary.rows_skipped,
            rows_deleted: summary.rows_deleted,
            rows_rejected: summary.rows_rejected,
            stages: summary.stages.and_then(|stages| serde_json::to_value(stages).ok()),
            forced,
            started_at: started.wall,
            duration_ms: summary.duration_ms,
            batch_key,
        },
    )
    .await?;
    ledger::record_rejects(&tx, batch_id, rejects).await?;
    fault::point("batch::after_ledger");
    commit_only(tx, &format!("batch {batch_id}")).await?;
    Ok(batch_id)
}

/// COMMIT of a transaction that writes no batch: a shard's staging and its record, or
/// staging dropped.
pub(super) async fn commit_only(tx: Transaction<'_>, what: &str) -> Result<()> {
    fault::point("batch::before_commit");
    tx.commit()
        .await
        .map_err(|error| Error::db(format!("committing {what}"), error))
}

/// The summary of a batch the ledger has already: nothing was done.
pub(super) fn already_loaded(planned: &PlannedLoad, earlier: i64, committed_at: &str, hash: &str) -> Summary {
    tracing::info!(job = %planned.job.name, batch_id = earlier, %committed_at, "Batch already loaded.");
    let mut done = planned.summary.clone();
    done.status = Status::AlreadyLoaded;
    done.batch_id = Some(earlier);
    hash.clone_into(&mut done.content_hash);
    done.duration_ms = elapsed_ms(planned.started.at);
    done
}

/// Runs a SQL job's statement in the batch transaction: committed with its ledger row when
/// it read anything, rolled back when it found nothing new or only validates.
pub(crate) async fn run_sql(client: &mut Client, planned: PlannedSql, options: &LoadOptions) -> Result<Summary> {
    let mut done = planned.summary;
    let Some(tx) = begin(client, &done.target, options).await? else {
        return Ok(skipped(&done, planned.started));
    };
    let counted = counts(&tx, &planned.statement, &done.job, &planned.file).await;
    let (rows_read, rows_loaded) = match counted {
        Ok(counts) => counts,
        Err(error) => {
            // The statement's error is the one to give; a failed rollback ends with the
            // connection anyway.
            roll_back(tx, "the transform").await.ok();
            return Err(error);
        }
    };
    done.rows_read = rows_read;
    done.rows_loaded = rows_loaded;
    if rows_read == 0 || options.dry_run {
        roll_back(tx, "the transform").await?;
        done.status = if options.dry_run {
            Status::Validated
        } else {
            Status::UpToDate
        };
        done.duration_ms = elapsed_ms(planned.started.at);
        return Ok(done);
    }
    let source = ledger::SourceRecord {
        rows: rows_read,
        ..planned.source
    };
    done.duration_ms = elapsed_ms(planned.started.at);
    let hash = done.content_hash.clone();
    let batch_id = commit(tx, &done, &hash, &[source], options.force, planned.started, (None, &[])).await?;
    done.batch_id = Some(batch_id);
    tracing::info!(job = %done.job, batch_id, rows_read, rows_loaded, "Transform committed.");
    Ok(done)
}
