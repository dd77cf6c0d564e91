//! One shard of an array job (`pgbatch load --shards N --shard-index I --batch-key K`):
//! its share of the batch's files goes through COPY into a staging table of its own, which
//! is recorded with the shard in one transaction. Nothing is visible in the target until
//! `pgbatch finalize` (`finalize.rs`) merges every shard of the key at once.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::batch::{PlannedLoad, already_loaded, commit_only, roll_back};
use super::identity::{hash_contents_async, source_identity, source_record};
use super::load;
use super::merge;
use super::rejects::Rejects;
use super::share::{self, Part};
use super::source::SourceFile;
use super::summary::{ShardOf, Status, Summary, elapsed_ms};
use super::{LoadOptions, Progress};
use crate::db::ledger;
use crate::db::shards::{self, ShardRecord, ShardSource};
use crate::error::{Error, Result, joined};
use crate::hash::to_hex;

/// Which shard of which array job to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// How many shards the batch is split into.
    pub shards: u32,
    /// This one, from 0.
    pub index: u32,
    /// What every shard of the batch, and its finalize, are given: the array job's id.
    pub batch_key: String,
}

impl Shard {
    /// A shard, checked: the index within the count, a key that is not empty.
    ///
    /// # Errors
    ///
    /// Configuration (exit 78), naming what is wrong.
    pub fn new(shards: u32, index: u32, batch_key: &str) -> Result<Self> {
        if shards == 0 || index >= shards {
            return Err(Error::config(format!(
                "--shard-index {index} is not a shard of --shards {shards} (expected 0 to {})",
                shards.saturating_sub(1)
            )));
        }
        if batch_key.trim().is_empty() {
            return Err(Error::config(
                "--batch-key is empty: give the array job's id (AWS_BATCH_JOB_ID sets it in AWS Batch)",
            ));
        }
        Ok(Shard {
            shards,
            index,
            batch_key: batch_key.to_owned(),
        })
    }
}

/// What every shard of one batch must agree on: the job's fingerprint, the shard count,
/// the whole batch's files (paths and sizes, in order) and how many row groups the split
/// ones have.
pub(crate) fn plan_hash(job_hash: &str, shards: u32, files: &[SourceFile], groups: &[Option<Vec<u64>>]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(job_hash.as_bytes());
    hasher.update(format!("\nshards {shards}").as_bytes());
    for (file, groups) in files.iter().zip(groups) {
        hasher.update(format!("\n{} {}", file.display, file.bytes).as_bytes());
        if let Some(groups) = groups {
            hasher.update(format!(" split into {} row groups", groups.len()).as_bytes());
        }
    }
    to_hex(&hasher.finalize())
}

/// A shard's sources as it records them: place in the batch, the row groups read of a
/// split file, identity, ledger record.
fn sources(parts: &[Part], files: &[SourceFile], rows: &[u64]) -> Vec<ShardSource> {
    parts
        .iter()
        .zip(files)
        .zip(rows)
        .map(|((part, file), &rows)| ShardSource {
            position: part.position,
            identity: source_identity(file),
            row_groups: part.row_groups.clone(),
            record: source_record(file, rows),
        })
        .collect()
}

/// Loads one shard: its files into its staging table, recorded, in one transaction. A
/// shard run again replaces what it left; a shard of a key already finalized does nothing.
/// A shard sets no row aside and runs no batch check: a job's `max_rejects` and `[checks]`
/// are about the whole batch, and no shard sees the whole batch.
fn no_rejects(job: &crate::job::Job) -> Result<Rejects> {
    let what = match (job.max_rejects, job.checks.is_empty()) {
        (Some(limit), _) => format!("max_rejects = {limit}"),
        (None, false) => "[checks]".to_owned(),
        (None, true) => return Ok(Rejects::new(None)),
    };
    Err(Error::config(format!(
        "job {:?} sets {what}, which a sharded load does not support yet: load it without --shards",
        job.name
    )))
}

pub(crate) async fn load_shard(
    client: &mut tokio_postgres::Client,
    planned: PlannedLoad,
    shard: &Shard,
    options: &LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary> {
    let job = planned.job.clone();
    let mut no_rejects = no_rejects(&job)?;
    let groups = share::row_groups(&planned.files, shard.shards).await?;
    let plan = plan_hash(&planned.job_hash, shard.shards, &planned.files, &groups);
    let sizes: Vec<u64> = planned.files.iter().map(|f| f.bytes).collect();
    let parts = share::share(&sizes, &groups, shard.shards, shard.index);
    let mine: Vec<SourceFile> = parts
        .iter()
        .map(|part| SourceFile {
            row_groups: part.row_groups.as_ref().map(|groups| groups.read.clone()),
            ..planned.files[part.position].clone()
        })
        .collect();
    let tx = client
        .transaction()
        .await
        .map_err(|error| Error::db("starting the shard's transaction", error))?;
    shards::wait_at_most(&tx, options.lock_wait).await?;
    shards::lock_shard(&tx, &job.name, &shard.batch_key, shard.index).await?;
    if let Some((earlier, committed_at)) = ledger::find_batch_key(&tx, &job.name, &shard.batch_key).await? {
        roll_back(tx, "a shard of a finalized batch").await?;
        let hash = String::new();
        return Ok(already_loaded(&planned, earlier, &committed_at, &hash));
    }
    let staging = shards::staging_table(&job.name, &shard.batch_key, shard.index);
    shards::create_staging(&tx, &staging, &job.table_ident).await?;
    let hashing = tokio::spawn(hash_contents_async(mine.clone(), job.read.identity));
    let bytes: u64 = mine.iter().map(|f| f.bytes).sum();
    progress.start(mine.len(), bytes);
    let statement = merge::copy_into(&crate::db::Ident::qualified(&staging), &job);
    let (files, watching) = (Arc::new(mine), progress.clone());
    let copied = load::copy(&tx, (&statement, false), job.clone(), files, watching, &mut no_rejects).await;
    progress.finish();
    let streamed = match copied {
        Ok(streamed) => streamed,
        Err(error) => {
            roll_back(tx, "a failed shard").await.ok();
            return Err(error);
        }
    };
    let hashed = hashing.await.map_err(joined)??;
    let sources = sources(&parts, &hashed, &streamed.rows_per_file);
    let record = ShardRecord {
        index: shard.index,
        shards: shard.shards,
        plan_hash: plan,
        job_hash: planned.job_hash.clone(),
        staging_table: staging,
        sources,
        rows_read: streamed.rows_read,
        rows_written: streamed.rows_written,
        rows_skipped: streamed.rows_skipped,
    };
    shards::record(&tx, &job.name, &shard.batch_key, &record).await?;
    let what = format!(
        "shard {} of {} of batch key {:?}",
        shard.index, shard.shards, shard.batch_key
    );
    commit_only(tx, &what).await?;
    tracing::info!(job = %job.name, batch_key = %shard.batch_key, shard = shard.index, rows = streamed.rows_written, "Shard staged.");
    let mut done = planned.summary.clone();
    done.status = Status::Staged;
    done.files = hashed.len();
    done.bytes = bytes;
    done.rows_read = streamed.rows_read;
    done.rows_skipped = streamed.rows_skipped;
    done.shard = Some(ShardOf {
        batch_key: shard.batch_key.clone(),
        index: shard.index,
        shards: shard.shards,
        rows_staged: streamed.rows_written,
    });
    done.duration_ms = elapsed_ms(planned.started.at);
    Ok(done)
}
