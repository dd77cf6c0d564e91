//! The script of a load's batch, in its transaction ([`super::batch`]): the stage, the
//! COPY of every file, the ledger's answer (loaded before?), the checks and the merge, the
//! rejects report, the ledger row and COMMIT. A row the database refuses sends the batch
//! back to its savepoint, to be located ([`super::refused`]).

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::{Client, Transaction};

use super::batch::{PlannedLoad, already_loaded, begin, commit, roll_back, skipped};
use super::fault;
use super::identity::{Identity, content_hash, hash_contents_async, source_record};
use super::load::{self, Streamed};
use super::merge;
use super::refused::{self, Search};
use super::rejects::Rejects;
use super::settle::check_and_merge;
use super::source::SourceFile;
use super::summary::{Changes, Status, Summary, elapsed_ms, ms};
use super::{LoadOptions, Progress};
use crate::db::ledger;
use crate::error::{Error, Result, joined};
use crate::job::RejectLimit;

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
    let (copied, rejects, located) = stage_and_copy(&tx, &planned, options, progress.clone()).await;
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
    let batch = Copied {
        streamed,
        rejects,
        located,
    };
    let done = finish_load(tx, &planned, &files, &hash, batch, (options, progress)).await?;
    // The batch is in; its commit time goes into its ledger row after (a failure to say it
    // is logged, not the batch's).
    if let (Some(id), Some(stages)) = (done.batch_id, done.stages)
        && let Err(error) = ledger::record_committing(&*client, id, stages.committing_ms).await
    {
        tracing::warn!(batch_id = id, %error, "Cannot record the batch's commit time.");
    }
    Ok(done)
}

/// The stage, under the savepoint a refused row brings the batch back to, and the COPY of
/// every file into it. A row the database refuses during the COPY (append mode: its COPY
/// writes into the target) has the batch located at once. With the rows set aside, and
/// whether the batch is in the located stage.
async fn stage_and_copy(
    tx: &Transaction<'_>,
    planned: &PlannedLoad,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> (Result<Streamed>, Rejects, bool) {
    let staged = async {
        tx.batch_execute("SAVEPOINT pgbatch_load")
            .await
            .map_err(|error| Error::db("starting the batch", error))?;
        merge::stage(tx, &planned.job).await
    }
    .await;
    if let Err(error) = staged {
        return (Err(error), Rejects::new(planned.job.max_rejects), false);
    }
    let (copied, rejects) = copy_checked(tx, planned, options, progress.clone(), false).await;
    match copied {
        Err(error) if refused::is_refusal(&error) => {
            let (copied, rejects) = relocate(tx, planned, options, progress).await;
            (copied, rejects, true)
        }
        copied => (copied, rejects, false),
    }
}

/// The checks and the merge, the batch located and merged again when the database refuses
/// a row of it; then the rejects report, whatever they said (a report that cannot be
/// written fails the batch). With what the COPY carried and the rows set aside, as
/// located.
async fn settle(
    tx: &Transaction<'_>,
    planned: &PlannedLoad,
    copied: Copied,
    (options, progress): (&LoadOptions, Arc<dyn Progress>),
) -> (Result<Settled>, Streamed, Rejects) {
    let job = &planned.job;
    let names: Vec<String> = planned.files.iter().map(|f| f.file_name().to_owned()).collect();
    let Copied {
        mut streamed,
        mut rejects,
        located,
    } = copied;
    let mut settled = check_and_merge(tx, job, &streamed, (&names, located)).await;
    if !located && settled.as_ref().is_err_and(refused::is_refusal) {
        let (again, found) = relocate(tx, planned, options, progress).await;
        rejects = found;
        settled = match again {
            Ok(again) => {
                streamed = again;
                check_and_merge(tx, job, &streamed, (&names, true)).await
            }
            Err(error) => Err(error),
        };
    }
    let reported = match &options.rejects_out {
        Some(to) => rejects.write(to, &options.store).await,
        None => Ok(()),
    };
    let settled = match (settled, reported) {
        (Ok(settled), Ok(())) => Ok(settled),
        (Err(error), Err(unwritten)) => {
            let to = options.rejects_out.as_deref().unwrap_or_default();
            tracing::error!(%to, error = %unwritten, "Cannot write the rejects report.");
            Err(error)
        }
        (Err(error), Ok(())) | (Ok(_), Err(error)) => Err(error),
    };
    (settled, streamed, rejects)
}

/// What the checks and the merge did: the merge's counts, the checks passed, the stage
/// times.
type Settled = (merge::Merged, Vec<String>, super::summary::Stages);

/// A batch's rows in the stage (or the target): what the COPY carried, the rows set aside,
/// and whether the stage is the located one.
struct Copied {
    streamed: Streamed,
    rejects: Rejects,
    located: bool,
}

/// After the database refused a row of the batch: back to before the stage, the batch
/// copied again into the located stage, and the rows the database refuses found there and
/// set aside (or the batch's error, at the first of them, over its limit).
async fn relocate(
    tx: &Transaction<'_>,
    planned: &PlannedLoad,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> (Result<Streamed>, Rejects) {
    let restaged = async {
        tx.batch_execute("ROLLBACK TO SAVEPOINT pgbatch_load")
            .await
            .map_err(|error| Error::db("rolling back the batch to locate a refused row", error))?;
        refused::stage(tx, &planned.job).await
    }
    .await;
    if let Err(error) = restaged {
        return (Err(error), Rejects::new(planned.job.max_rejects));
    }
    tracing::info!(job = %planned.job.name, "The database refused a row of the batch; locating it.");
    let (copied, mut rejects) = copy_checked(tx, planned, options, progress, true).await;
    let names: Vec<String> = planned.files.iter().map(|f| f.file_name().to_owned()).collect();
    let search = Search {
        job: &planned.job,
        files: &planned.files,
        ranges: &merge::cover_ranges(&planned.job, &names),
        dry_run: options.dry_run,
    };
    let found = match copied {
        Ok(mut streamed) => refused::find(tx, &search, &mut streamed, &mut rejects)
            .await
            .map(|()| streamed),
        Err(error) => Err(error),
    };
    (found, rejects)
}

/// Streams the batch's files through COPY, setting rows aside as the job allows (a
/// validation sets aside every bad row, to list them all, then says whether a load would
/// take them); the rows set aside either way. `located`: into the located stage, each row
/// with its position.
async fn copy_checked(
    tx: &Transaction<'_>,
    planned: &PlannedLoad,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
    located: bool,
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
    let statement = if located {
        merge::copy_located(job)
    } else {
        merge::copy_statement(job)
    };
    let copied = load::copy(
        tx,
        (&statement, located),
        job.clone(),
        files,
        progress.clone(),
        &mut rejects,
    )
    .await;
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
/// row, or (validating) rolls back. A row the database refuses in the merge is located
/// ([`relocate`]) and the batch merged again without it, as the job allows.
async fn finish_load(
    tx: Transaction<'_>,
    planned: &PlannedLoad,
    files: &[SourceFile],
    hash: &ledger::ContentHash,
    copied: Copied,
    (options, progress): (&LoadOptions, Arc<dyn Progress>),
) -> Result<Summary> {
    let job = &planned.job;
    let (settled, streamed, rejects) = settle(&tx, planned, copied, (options, progress)).await;
    let (merged, passed, mut stages) = match settled {
        Ok(settled) => settled,
        Err(error) => {
            roll_back(tx, "a failed load").await.ok();
            return Err(error);
        }
    };
    let streamed = &streamed;
    let streamed = &streamed;
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
