//! The batch ledger, `pgbatch.batches`: one row per committed batch, written in the same
//! transaction as the batch's data. It is what makes a re-run or a retry a no-op.

use tokio_postgres::GenericClient;

use crate::error::{Error, ErrorKind, FlatRow, Result, RowError};

// language=PostgreSQL
const LOCK_TARGET_SQL: &str = include_str!("../../sql/ledger/lock_target.sql");
const TRY_LOCK_TARGET_SQL: &str = include_str!("../../sql/ledger/try_lock_target.sql");
const LOCK_HOLDER_SQL: &str = include_str!("../../sql/ledger/lock_holder.sql");
const FIND_SQL: &str = include_str!("../../sql/ledger/find_batch.sql");
const SAME_SOURCES_SQL: &str = include_str!("../../sql/ledger/same_sources.sql");
const RECORD_SQL: &str = include_str!("../../sql/ledger/record_batch.sql");
const LIST_SQL: &str = include_str!("../../sql/ledger/list_batches.sql");
const PREVIOUS_SQL: &str = include_str!("../../sql/ledger/previous_batch.sql");
const READY_SQL: &str = include_str!("../../sql/ledger/ready.sql");
const FIND_BATCH_KEY_SQL: &str = include_str!("../../sql/ledger/find_batch_key.sql");
const RECORD_REJECTS_SQL: &str = include_str!("../../sql/ledger/record_rejects.sql");
const RECORD_COMMITTING_SQL: &str = include_str!("../../sql/ledger/record_committing.sql");

/// A source as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SourceRecord {
    pub path: String,
    pub bytes: u64,
    /// The content's sha256 (local files and SQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The object's ETag (S3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The object's full-object checksum other than a sha256 (S3), as
    /// `algorithm:base64`, such as `crc64nvme:...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    pub rows: u64,
}

/// What a committed batch wrote, as recorded.
#[derive(Debug, Clone)]
pub struct NewBatch<'a> {
    pub job: &'a str,
    pub target: &'a str,
    pub mode: &'a str,
    pub content_hash: &'a str,
    /// The resolved job's fingerprint (`Job::fingerprint`), or the SQL file's hash.
    pub job_hash: &'a str,
    pub sources: &'a [SourceRecord],
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_skipped: u64,
    pub rows_deleted: u64,
    /// Rows set aside as bad, recorded by [`record_rejects`].
    pub rows_rejected: u64,
    /// Where the batch's time went (`pipeline::Stages`), for `pgbatch report`.
    pub stages: Option<serde_json::Value>,
    pub forced: bool,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: u64,
    /// The array job's batch key, for a batch finalized from shards.
    pub batch_key: Option<&'a str>,
}

/// A ledger row, for `pgbatch batches`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Batch {
    pub id: i64,
    pub job: String,
    pub target: String,
    pub mode: String,
    pub content_hash: String,
    pub sources: serde_json::Value,
    pub rows_read: i64,
    pub rows_loaded: i64,
    pub rows_skipped: i64,
    pub rows_deleted: i64,
    pub forced: bool,
    pub started_at: String,
    pub committed_at: String,
    pub duration_ms: i64,
    pub loaded_by: String,
    pub host: Option<String>,
    pub rows_rejected: i64,
    /// Where the time went, by stage, in milliseconds (loads recorded since migration 0014).
    pub stages: Option<serde_json::Value>,
}

/// Takes the advisory lock that serialises loads of `target` until the transaction ends.
pub async fn lock_target(client: &impl GenericClient, target: &str, wait: Option<std::time::Duration>) -> Result<()> {
    let Some(wait) = wait else {
        client
            .execute(LOCK_TARGET_SQL, &[&target])
            .await
            .map_err(|error| Error::db(format!("locking target {target:?}"), error))?;
        return Ok(());
    };
    // Polled rather than waited on under lock_timeout, so that a load that gives up can
    // still ask who holds the lock: a timed-out wait would abort the transaction.
    let deadline = std::time::Instant::now() + wait;
    loop {
        let row = client
            .query_one(TRY_LOCK_TARGET_SQL, &[&target])
            .await
            .map_err(|error| Error::db(format!("locking target {target:?}"), error))?;
        if row.get::<_, bool>(0) {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            let holder = client
                .query_opt(LOCK_HOLDER_SQL, &[&target])
                .await
                .map_err(|error| Error::db("asking who holds the load lock", error))?
                .map_or_else(
                    || "another load (gone by now)".to_owned(),
                    |row| {
                        format!(
                            "backend {} ({:?} from {}, in a transaction since {})",
                            row.get::<_, i32>(0),
                            row.get::<_, String>(1),
                            row.get::<_, String>(2),
                            row.get::<_, String>(3)
                        )
                    },
                );
            return Err(ErrorKind::Busy {
                context: format!("locking target {target:?}"),
                message: format!(
                    "another load of it still runs after {} s (--lock-wait): {holder}",
                    wait.as_secs()
                ),
            }
            .into());
        }
        tokio::time::sleep(LOCK_POLL.min(deadline.saturating_duration_since(std::time::Instant::now()))).await;
    }
}

/// How often a load waiting for another load of its target asks again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The id and commit time of an earlier batch of `job` with the same content.
pub async fn find(client: &impl GenericClient, job: &str, content_hash: &ContentHash) -> Result<Option<(i64, String)>> {
    let row = client
        .query_opt(FIND_SQL, &[&job, &content_hash.current, &content_hash.legacy])
        .await
        .map_err(|error| Error::db("reading the ledger", error))?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// The id and commit time of the batch that finalized `batch_key` of `job`.
pub async fn find_batch_key(client: &impl GenericClient, job: &str, batch_key: &str) -> Result<Option<(i64, String)>> {
    let row = client
        .query_opt(FIND_BATCH_KEY_SQL, &[&job, &batch_key])
        .await
        .map_err(|error| Error::db("reading the ledger", error))?;
    Ok(row.map(|row| (row.get(0), row.get(1))))
}

/// A batch's content hash, and the one a batch recorded before job fingerprints were kept
/// would have for the same sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHash {
    pub current: String,
    pub legacy: String,
}

/// The latest batch of a job that read the same paths.
#[derive(Debug, Clone)]
pub struct Previous {
    pub id: i64,
    pub job_hash: Option<String>,
    pub sources: Vec<SourceRecord>,
}

/// The latest committed batch of `job` that read `paths`, in order.
pub async fn previous(client: &impl GenericClient, job: &str, paths: &[&str]) -> Result<Option<Previous>> {
    let paths = serde_json::json!(paths).to_string();
    let row = client
        .query_opt(PREVIOUS_SQL, &[&job, &paths])
        .await
        .map_err(|error| Error::db("reading the ledger", error))?;
    Ok(row.map(|row| Previous {
        id: row.get(0),
        job_hash: row.get(1),
        sources: serde_json::from_value(row.get(2)).unwrap_or_default(),
    }))
}

/// Whether the database has the ledger as the current migrations make it.
///
/// # Errors
///
/// Configuration ("run pgbatch migrate") when it does not; the database's error otherwise.
pub async fn check_ready(client: &impl GenericClient) -> Result<()> {
    let row = client
        .query_one(READY_SQL, &[])
        .await
        .map_err(|error| Error::db("looking for the ledger", error))?;
    if row.get::<_, bool>(0) {
        Ok(())
    } else {
        Err(Error::config(
            "the database has no pgbatch ledger, or an older one (without batch keys and shards): \
             run `pgbatch migrate` first",
        ))
    }
}

/// Whether a committed batch of `job` read the same sources (paths and sizes, in order):
/// a likely re-run.
pub async fn same_sources(client: &impl GenericClient, job: &str, paths: &[&str], sizes: &[u64]) -> Result<bool> {
    let paths = serde_json::json!(paths).to_string();
    let sizes = serde_json::json!(sizes).to_string();
    let row = client
        .query_one(SAME_SOURCES_SQL, &[&job, &paths, &sizes])
        .await
        .map_err(|error| Error::db("reading the ledger", error))?;
    Ok(row.get(0))
}

/// Records a batch; returns its id.
pub async fn record(client: &impl GenericClient, batch: &NewBatch<'_>) -> Result<i64> {
    let sources = serde_json::to_value(batch.sources)
        .map_err(|error| Error::from(crate::error::ErrorKind::Internal(error.to_string())))?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let host = std::env::var("HOSTNAME").ok();
    let row = client
        .query_one(
            RECORD_SQL,
            &[
                &batch.job,
                &batch.target,
                &batch.mode,
                &batch.content_hash,
                &sources,
                &count(batch.rows_read),
                &count(batch.rows_loaded),
                &count(batch.rows_skipped),
                &count(batch.rows_deleted),
                &batch.forced,
                &batch.started_at,
                &count(batch.duration_ms),
                &host,
                &batch.job_hash,
                &batch.batch_key,
                &count(batch.rows_rejected),
                &batch.stages,
            ],
        )
        .await
        .map_err(|error| Error::db("recording the batch in the ledger", error))?;
    Ok(row.get(0))
}

/// The most recent `limit` batches, newest first; with `id`, only that batch.
pub async fn list(client: &impl GenericClient, limit: i64, id: Option<i64>) -> Result<Vec<Batch>> {
    let rows = client
        .query(LIST_SQL, &[&limit, &id])
        .await
        .map_err(|error| Error::db("reading the ledger", error))?;
    Ok(rows
        .iter()
        .map(|row| Batch {
            id: row.get(0),
            job: row.get(1),
            target: row.get(2),
            mode: row.get(3),
            content_hash: row.get(4),
            sources: row.get(5),
            rows_read: row.get(6),
            rows_loaded: row.get(7),
            rows_skipped: row.get(8),
            rows_deleted: row.get(9),
            forced: row.get(10),
            started_at: row.get(11),
            committed_at: row.get(12),
            duration_ms: row.get(13),
            loaded_by: row.get(14),
            host: row.get(15),
            rows_rejected: row.get(16),
            stages: row.get(17),
        })
        .collect())
}

/// Records how long batch `batch_id`'s ledger row, rejects and COMMIT took, once it is
/// committed (its stages, written before, hold 0 for it).
///
/// # Errors
///
/// The database cannot take the update.
pub async fn record_committing(client: &impl GenericClient, batch_id: i64, committing_ms: u64) -> Result<()> {
    let ms = i64::try_from(committing_ms).unwrap_or(i64::MAX);
    client
        .execute(RECORD_COMMITTING_SQL, &[&batch_id, &ms])
        .await
        .map(|_| ())
        .map_err(|error| Error::db("recording the batch's commit time", error))
}

/// Records the rows batch `batch_id` set aside, in its transaction, in the order found.
pub async fn record_rejects(client: &impl GenericClient, batch_id: i64, rejects: &[RowError]) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let flat: Vec<FlatRow> = rejects.iter().map(FlatRow::from).collect();
    let ordinals: Vec<i32> = (1..=flat.len()).map(|n| i32::try_from(n).unwrap_or(i32::MAX)).collect();
    let sources: Vec<&str> = flat.iter().map(|r| r.source.as_str()).collect();
    let lines: Vec<Option<i64>> = flat.iter().map(|r| r.line).collect();
    let groups: Vec<Option<i32>> = flat.iter().map(|r| r.row_group).collect();
    let rows: Vec<Option<i64>> = flat.iter().map(|r| r.row).collect();
    let columns: Vec<Option<&str>> = flat.iter().map(|r| r.column.as_deref()).collect();
    let values: Vec<Option<&[u8]>> = flat.iter().map(|r| r.value.as_deref().map(str::as_bytes)).collect();
    let reasons: Vec<&str> = flat.iter().map(|r| r.reason.as_str()).collect();
    client
        .execute(
            RECORD_REJECTS_SQL,
            &[
                &batch_id, &ordinals, &sources, &lines, &groups, &rows, &columns, &values, &reasons,
            ],
        )
        .await
        .map_err(|error| Error::db("recording the batch's rejected rows", error))?;
    Ok(())
}
