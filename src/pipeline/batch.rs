//! The one transaction script of every batch, a load or a SQL job: BEGIN; the target's
//! lock; the ledger's answer (loaded before?); the work; the ledger row; COMMIT. Every way
//! out of a batch's transaction is here or goes through here: each rollback is a call of
//! [`roll_back`], and every COMMIT is in [`commit_only`] (shards and `finalize`, in
//! `shard.rs` and `finalize.rs`, use them too).

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use super::checks;
use super::fault;
use super::identity::{Identity, content_hash, hash_contents_async, source_record};
use super::load::{self, Streamed};
use super::merge;
use super::rejects::Rejects;
use super::source::SourceFile;
use super::summary::{Changes, Stages, Started, Status, Summary, elapsed_ms, ms};
use super::transform::{PlannedSql, counts};
use super::{LoadOptions, Progress};
use crate::db::ledger;
use crate::error::{Error, ErrorKind, Result, RowError, joined};
use crate::job::{Job, RejectLimit};

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

/// Loads a planned batch: every file through one COPY, in one transaction with its ledger
/// row.
///
/// A likely re-run (the ledger has a batch of these paths and sizes) has its files hashed
/// first, so that finding it loaded costs a read, not a load. Any other batch starts
/// loading at once while its files are hashed beside it (the server does not wait for the
/// hash), and is looked up in the ledger before it merges.
pub(crate) async fn load_files(
    client: &mut Client,
    planned: PlannedLoad,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary> {
    let job = planned.job.clone();
    let Some(tx) = begin(client, &job.table, options).await? else {
        return Ok(skipped(&planned.summary, planned.started));
    };
    let rerun = !options.force && {
        let paths: Vec<&str> = planned.files.iter().map(|f| f.display.as_str()).collect();
        let sizes: Vec<u64> = planned.files.iter().map(|f| f.bytes).collect();
        ledger::same_sources(&tx, &job.name, &paths, &sizes).await?
    };
    let identity = if rerun {
        let files = hash_contents_async(planned.files.clone(), job.read.identity).await?;
        let hash = content_hash(&job, &planned.job_hash, &files);
        if let Some((earlier, committed_at)) = ledger::find(&tx, &job.name, &hash).await? {
            roll_back(tx, "a batch loaded before").await?;
            return Ok(already_loaded(&planned, earlier, &committed_at, &hash.current));
        }
        Identity::Known(hash, files)
    } else {
        Identity::Hashing(tokio::spawn(hash_contents_async(
            planned.files.clone(),
            job.read.identity,
        )))
    };
    merge::stage(&tx, &job).await?;
    let (copied, rejects) = copy_checked(&tx, &planned, options, progress).await;
    let streamed = match copied {
        Ok(streamed) => streamed,
        Err(error) => {
            // The rows set aside are reported even when they are why the batch failed.
            if let Some(to) = &options.rejects_out
                && let Err(unwritten) = rejects.write(to, &options.store).await
            {
                tracing::error!(%to, error = %unwritten, "Cannot write the rejects report.");
            }
            // Content loaded before is reported as such even when loading it again failed
            // (its keys are in the table already, say): the ledger is asked before the
            // error is given, outside the aborted transaction.
            let rolled_back = roll_back(tx, "a failed load").await.is_ok();
            if rolled_back
                && !options.force
                && let Identity::Hashing(hashing) = identity
                && let Ok(Ok(hashed)) = hashing.await
            {
                let hash = content_hash(&job, &planned.job_hash, &hashed);
                if let Ok(Some((earlier, committed_at))) = ledger::find(&*client, &job.name, &hash).await {
                    return Ok(already_loaded(&planned, earlier, &committed_at, &hash.current));
                }
            }
            return Err(error);
        }
    };
    fault::point("batch::after_copy");
    let (files, hash) = match identity {
        Identity::Known(hash, files) => (files, hash),
        Identity::Hashing(hashing) => {
            let hashed = hashing.await.map_err(joined)??;
            let hash = content_hash(&job, &planned.job_hash, &hashed);
            if !options.force
                && let Some((earlier, committed_at)) = ledger::find(&tx, &job.name, &hash).await?
            {
                roll_back(tx, "a batch loaded before").await?;
                return Ok(already_loaded(&planned, earlier, &committed_at, &hash.current));
            }
            (hashed, hash)
        }
    };
    finish_load(tx, &planned, &files, &hash, (&streamed, &rejects), options).await
}

/// Streams the batch's files through COPY, setting rows aside as the job allows (a
/// validation sets aside every bad row, to list them all, then says whether a load would
/// take them); the rows set aside either way.
async fn copy_checked(
    tx: &Transaction<'_>,
    planned: &PlannedLoad,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> (Result<Streamed>, Rejects) {
    let job = &planned.job;
    progress.start(planned.files.len(), planned.summary.bytes);
    let files = Arc::new(planned.files.clone());
    let limit = if options.dry_run {
        Some(RejectLimit::Percent(100.0))
    } else {
        job.max_rejects
    };
    let mut rejects = Rejects::new(limit);
    let statement = merge::copy_statement(job);
    let copied = load::copy(tx, &statement, job.clone(), files, progress.clone(), &mut rejects).await;
    progress.finish();
    let copied = copied.and_then(|streamed| {
        rejects.check(streamed.rows_read)?;
        if options.dry_run {
            rejects.check_as(job.max_rejects, streamed.rows_read)?;
        }
        Ok(streamed)
    });
    (copied, rejects)
}

/// Merges the staged rows into the table by the job's mode, then commits with the ledger
/// row, or (validating) rolls back.
async fn finish_load(
    tx: Transaction<'_>,
    planned: &PlannedLoad,
    files: &[SourceFile],
    hash: &ledger::ContentHash,
    (streamed, rejects): (&Streamed, &Rejects),
    options: &LoadOptions,
) -> Result<Summary> {
    let job = &planned.job;
    let names: Vec<String> = files.iter().map(|f| f.file_name().to_owned()).collect();
    // The report first: it is written whatever the checks then say.
    if let Some(to) = &options.rejects_out
        && let Err(error) = rejects.write(to, &options.store).await
    {
        roll_back(tx, "a batch whose rejects cannot be reported").await.ok();
        return Err(error);
    }
    let (merged, passed, mut stages) = check_and_merge(&tx, job, streamed, &names).await?;
    let mut done = planned.summary.clone();
    done.status = if options.dry_run {
        Status::Validated
    } else {
        Status::Loaded
    };
    done.content_hash.clone_from(&hash.current);
    let sources: Vec<ledger::SourceRecord> = files
        .iter()
        .zip(&streamed.rows_per_file)
        .map(|(file, &rows)| source_record(file, rows))
        .collect();
    let paths: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
    done.changes = ledger::previous(&tx, &job.name, &paths)
        .await?
        .map(|previous| Changes::since(&previous, &planned.job_hash, &sources));
    done.rows_read = streamed.rows_read;
    done.rows_loaded = merged.rows_loaded;
    done.rows_skipped = streamed.rows_skipped;
    done.rows_deleted = merged.rows_deleted;
    done.rows_rejected = streamed.rows_rejected;
    done.rejected = rejects.summary_lines();
    done.checks = passed;
    done.stages = Some(stages);
    if options.dry_run {
        roll_back(tx, "the validation").await?;
        done.duration_ms = elapsed_ms(planned.started.at);
        return Ok(done);
    }
    done.duration_ms = elapsed_ms(planned.started.at);
    let committing = Instant::now();
    let batch_id = commit(
        tx,
        &done,
        &planned.job_hash,
        &sources,
        options.force,
        planned.started,
        (None, rejects.rows()),
    )
    .await?;
    stages.committing_ms = ms(committing.elapsed());
    done.stages = Some(stages);
    fault::point("batch::after_commit");
    done.batch_id = Some(batch_id);
    done.duration_ms = elapsed_ms(planned.started.at);
    tracing::info!(
        job = %job.name,
        batch_id,
        rows_loaded = done.rows_loaded,
        duration_ms = done.duration_ms,
        "Batch committed."
    );
    Ok(done)
}

/// The batch checks on what was copied and staged, the merge by the job's mode, then the
/// checks on the merged table; with the time each took.
async fn check_and_merge(
    tx: &Transaction<'_>,
    job: &Job,
    streamed: &Streamed,
    names: &[String],
) -> Result<(merge::Merged, Vec<String>, Stages)> {
    let checking = Instant::now();
    let mut passed = checks::counted(job, streamed)?;
    passed.extend(checks::staged(tx, job).await?);
    let mut checking = checking.elapsed();
    let merging = Instant::now();
    let merged = merge::merge(tx, job, streamed.rows_written, &merge::cover_ranges(job, names)).await?;
    fault::point("batch::after_merge");
    let merging = merging.elapsed();
    let checked = Instant::now();
    passed.extend(checks::merged(tx, job).await?);
    checking += checked.elapsed();
    let stages = Stages {
        reading_ms: ms(streamed.reading),
        encoding_ms: ms(streamed.encoding),
        sending_ms: ms(streamed.sending),
        copying_ms: ms(streamed.copying),
        checking_ms: ms(checking),
        merging_ms: ms(merging),
        committing_ms: 0,
    };
    Ok((merged, passed, stages))
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
