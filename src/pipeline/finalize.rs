//! `pgbatch finalize JOB --batch-key K`: every shard of an array job, recorded with one
//! plan, becomes visible in the target in ONE transaction, by the job's mode, with one
//! ledger row carrying the key; the staging goes in the same transaction. A shard missing
//! is a temporary failure (exit 75) naming it, with nothing visible. A key finalized before
//! is a no-op. `pgbatch gc` drops the staging of keys that never finalized.

use std::time::Duration;

use tokio_postgres::Client;

use super::LoadOptions;
use super::batch::{begin, commit, commit_only, roll_back, skipped};
use super::fault;
use super::identity::content_hash_of;
use super::merge;
use super::share;
use super::summary::{Changes, Started, Status, Summary, elapsed_ms};
use crate::db::shards::{self, ShardRecord, StaleKey};
use crate::db::{catalog, ledger};
use crate::error::{Error, ErrorKind, Result};
use crate::job::Spec;

/// Finalizes batch key `batch_key` of the job.
///
/// # Errors
///
/// Exit 75 (to be retried once the shards are there) when a shard is missing, was recorded
/// with another plan, or lost its staging rows; the database's errors otherwise. Nothing is
/// visible in the target on any error.
pub async fn finalize(client: &mut Client, spec: &Spec, batch_key: &str, options: &LoadOptions) -> Result<Summary> {
    ledger::check_ready(&*client).await?;
    let started = Started::now();
    if spec.raw.sql.is_some() {
        return Err(Error::config(format!(
            "{}: a SQL job has no shards to finalize",
            spec.name
        )));
    }
    let catalog = catalog::columns(&*client, &spec.raw.table).await?;
    let job = spec.resolve(&catalog)?;
    let job_hash = job.fingerprint();
    let mut done = Summary::new(Status::Loaded, &job.name, &job.table, job.mode.name(), "");
    done.batch_key = Some(batch_key.to_owned());
    let Some(tx) = begin(client, &job.table, options).await? else {
        return Ok(skipped(&done, started));
    };
    shards::wait_at_most(&tx, options.lock_wait).await?;
    shards::lock_key(&tx, &job.name, batch_key).await?;
    if let Some((earlier, committed_at)) = ledger::find_batch_key(&tx, &job.name, batch_key).await? {
        roll_back(tx, "a batch key finalized before").await?;
        tracing::info!(job = %job.name, batch_id = earlier, %committed_at, "Batch key finalized before.");
        return Ok(already_loaded(done, earlier, started));
    }
    let records = shards::of(&tx, &job.name, batch_key).await?;
    let sources = match sources(&tx, &records, &job_hash).await? {
        Ok(sources) => sources,
        Err(problem) => {
            roll_back(tx, "an incomplete finalize").await?;
            return Err(problem.into_error(format!("finalizing batch key {batch_key:?} of job {}", job.name)));
        }
    };
    let identities: Vec<String> = sources.iter().map(|s| s.identity.clone()).collect();
    let hash = content_hash_of(&job.name, &job_hash, &identities);
    done.content_hash.clone_from(&hash.current);
    done.files = sources.len();
    done.bytes = sources.iter().map(|s| s.record.bytes).sum();
    done.rows_read = records.iter().map(|r| r.rows_read).sum();
    done.rows_skipped = records.iter().map(|r| r.rows_skipped).sum();
    if !options.force
        && let Some((earlier, committed_at)) = ledger::find(&tx, &job.name, &hash).await?
    {
        // The same content is in the table already: the shards were for nothing.
        shards::forget(&tx, &job.name, batch_key).await?;
        commit_only(tx, "dropping the staging of content loaded before").await?;
        tracing::info!(job = %job.name, batch_id = earlier, %committed_at, "Batch already loaded.");
        return Ok(already_loaded(done, earlier, started));
    }
    let tables: Vec<String> = records.iter().map(|r| r.staging_table.clone()).collect();
    merge::stage_shards(&tx, &job, &tables).await?;
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.record.path.rsplit('/').next().unwrap_or(&s.record.path).to_owned())
        .collect();
    let staged = records.iter().map(|r| r.rows_written).sum();
    let merged = merge::merge_staged(&tx, &job, staged, &merge::cover_ranges(&job, &names)).await?;
    fault::point("finalize::after_merge");
    merge::unstage_shards(&tx).await?;
    done.rows_loaded = merged.rows_loaded;
    done.rows_deleted = merged.rows_deleted;
    let records: Vec<ledger::SourceRecord> = sources.into_iter().map(|s| s.record).collect();
    let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
    done.changes = ledger::previous(&tx, &job.name, &paths)
        .await?
        .map(|previous| Changes::since(&previous, &job_hash, &records));
    shards::forget(&tx, &job.name, batch_key).await?;
    done.duration_ms = elapsed_ms(started.at);
    let (force, key) = (options.force, (Some(batch_key), &[][..]));
    let batch_id = commit(tx, &done, &job_hash, &records, force, started, key).await?;
    fault::point("batch::after_commit");
    done.batch_id = Some(batch_id);
    tracing::info!(job = %job.name, batch_id, %batch_key, rows_loaded = done.rows_loaded, "Shards finalized.");
    Ok(done)
}

/// The summary of a finalize that found its batch committed before: nothing was done.
fn already_loaded(mut done: Summary, earlier: i64, started: Started) -> Summary {
    done.status = Status::AlreadyLoaded;
    done.batch_id = Some(earlier);
    done.duration_ms = elapsed_ms(started.at);
    done
}

/// Why a batch key cannot be finalized yet.
#[derive(Debug, PartialEq, Eq)]
enum Incomplete {
    /// Worth a retry once the shards are run (again): exit 75.
    Shards(String),
    /// The job spec changed since the shards ran: exit 78.
    JobChanged(String),
}

impl Incomplete {
    fn into_error(self, context: String) -> Error {
        match self {
            Incomplete::Shards(message) => ErrorKind::Busy { context, message }.into(),
            Incomplete::JobChanged(message) => Error::config(format!("{context}: {message}")),
        }
    }
}

/// Whether the records are every shard of one plan, loaded with this job.
fn complete(records: &[ShardRecord], job_hash: &str) -> std::result::Result<(), Incomplete> {
    let Some(first) = records.first() else {
        return Err(Incomplete::Shards(
            "no shard of it is recorded (not run yet, or every one failed): run the shards first".into(),
        ));
    };
    let counts: Vec<u32> = records.iter().map(|r| r.shards).collect();
    if counts.iter().any(|&n| n != first.shards) {
        return Err(Incomplete::Shards(format!(
            "its shards were run with different --shards counts ({counts:?}): run them again with one"
        )));
    }
    let other_plan: Vec<u32> = records
        .iter()
        .filter(|r| r.plan_hash != first.plan_hash)
        .map(|r| r.index)
        .collect();
    if !other_plan.is_empty() {
        return Err(Incomplete::Shards(format!(
            "shards {} saw other sources than shard {} (the listing changed between them): run every shard again",
            list(&other_plan),
            first.index
        )));
    }
    if first.job_hash != job_hash {
        return Err(Incomplete::JobChanged(
            "the job spec (or the table) changed since the shards ran: finalize with the spec they ran with, \
             or run the shards again"
                .into(),
        ));
    }
    let missing: Vec<u32> = (0..first.shards)
        .filter(|i| !records.iter().any(|r| r.index == *i))
        .collect();
    if !missing.is_empty() {
        return Err(Incomplete::Shards(format!(
            "shard{} {} of {} {} not recorded (still running, or failed: run {} again); nothing was made visible",
            if missing.len() == 1 { "" } else { "s" },
            list(&missing),
            first.shards,
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" },
        )));
    }
    Ok(())
}

/// The batch's sources, one per file, from every shard's parts; or why the recorded shards
/// cannot be finalized.
async fn sources(
    tx: &tokio_postgres::Transaction<'_>,
    records: &[ShardRecord],
    job_hash: &str,
) -> Result<std::result::Result<Vec<shards::ShardSource>, Incomplete>> {
    if let Err(problem) = complete(records, job_hash) {
        return Ok(Err(problem));
    }
    if let Some(problem) = staging_intact(tx, records).await? {
        return Ok(Err(problem));
    }
    Ok(share::join(records.iter().flat_map(|r| r.sources.clone()).collect())
        .map_err(|problem| Incomplete::Shards(format!("{problem}: run every shard again"))))
}

/// Whether every staging table holds the rows its shard wrote (a table dropped by hand, or
/// emptied, would otherwise finalize as fewer rows).
async fn staging_intact(tx: &tokio_postgres::Transaction<'_>, records: &[ShardRecord]) -> Result<Option<Incomplete>> {
    for record in records {
        let rows = shards::count_rows(tx, &record.staging_table).await?;
        if rows != Some(record.rows_written) {
            let found = rows.map_or_else(|| "is gone".to_owned(), |rows| format!("holds {rows} rows"));
            return Ok(Some(Incomplete::Shards(format!(
                "the staging table of shard {} ({}) {found}, and the shard wrote {}: run shard {} again",
                record.index, record.staging_table, record.rows_written, record.index
            ))));
        }
    }
    Ok(None)
}

fn list(indexes: &[u32]) -> String {
    indexes.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// Drops the staging and records of batch keys whose newest shard is older than `ttl` and
/// that never finalized; a key one of whose shards runs right now is left for next time.
/// Returns the keys collected.
///
/// # Errors
///
/// The database's errors.
pub async fn gc(client: &mut Client, ttl: Duration) -> Result<Vec<StaleKey>> {
    ledger::check_ready(&*client).await?;
    let mut collected = Vec::new();
    for key in shards::stale(&*client, ttl).await? {
        let tx = client
            .transaction()
            .await
            .map_err(|error| Error::db("starting gc", error))?;
        if !shards::try_lock_key(&tx, &key.job, &key.batch_key).await? {
            roll_back(tx, "gc of a key in use").await?;
            continue;
        }
        shards::forget(&tx, &key.job, &key.batch_key).await?;
        commit_only(tx, &format!("gc of batch key {:?}", key.batch_key)).await?;
        tracing::info!(job = %key.job, batch_key = %key.batch_key, "Stale shards dropped.");
        collected.push(key);
    }
    Ok(collected)
}

#[cfg(test)]
mod tests {
    use super::{Incomplete, complete};
    use crate::db::shards::ShardRecord;

    fn shard(index: u32, shards: u32, plan: &str) -> ShardRecord {
        ShardRecord {
            index,
            shards,
            plan_hash: plan.into(),
            job_hash: "job".into(),
            staging_table: format!("pgbatch_staging.s{index}"),
            sources: Vec::new(),
            rows_read: 0,
            rows_written: 0,
            rows_skipped: 0,
        }
    }

    #[test]
    fn a_missing_shard_is_named_and_worth_a_retry() {
        let records = [shard(0, 4, "p"), shard(2, 4, "p")];
        let Err(Incomplete::Shards(message)) = complete(&records, "job") else {
            panic!("complete")
        };
        assert!(message.starts_with("shards 1, 3 of 4 are not recorded"), "{message}");
        assert_eq!(complete(&[shard(0, 1, "p")], "job"), Ok(()));
        assert!(matches!(complete(&[], "job"), Err(Incomplete::Shards(_))));
        assert!(matches!(
            complete(&[shard(0, 1, "p")], "other"),
            Err(Incomplete::JobChanged(_))
        ));
        let Err(Incomplete::Shards(message)) = complete(&[shard(0, 2, "p"), shard(1, 2, "q")], "job") else {
            panic!("plans")
        };
        assert!(message.starts_with("shards 1 saw other sources"), "{message}");
    }
}
