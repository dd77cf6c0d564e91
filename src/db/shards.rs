//! Shard records, `pgbatch.shards`, and the staging tables they name: what the shards of an
//! array job leave for `pgbatch finalize` (or `pgbatch gc`). A shard's staging table and its
//! record are written in one transaction, so a recorded shard is a complete one.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use super::Ident;
use super::ledger::SourceRecord;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::to_hex;

// language=PostgreSQL
const LOCK_SHARD_SQL: &str = include_str!("../../sql/shards/lock_shard.sql");
const LOCK_KEY_SQL: &str = include_str!("../../sql/shards/lock_key.sql");
const TRY_LOCK_KEY_SQL: &str = include_str!("../../sql/shards/try_lock_key.sql");
const RECORD_SQL: &str = include_str!("../../sql/shards/record_shard.sql");
const SHARDS_OF_SQL: &str = include_str!("../../sql/shards/shards_of.sql");
const FORGET_SQL: &str = include_str!("../../sql/shards/forget.sql");
const STALE_SQL: &str = include_str!("../../sql/shards/stale.sql");
const CREATE_STAGING_SQL: &str = include_str!("../../sql/shards/create_staging.sql");
const LOCK_TIMEOUT_SQL: &str = include_str!("../../sql/ledger/migration_lock_timeout.sql");

/// The schema staging tables live in (made by migration 0011).
const STAGING_SCHEMA: &str = "pgbatch_staging";

/// One source of a shard: its ledger record, its place in the whole batch, and its
/// identity (what the batch's content hash takes from it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardSource {
    pub position: usize,
    pub identity: String,
    /// The row groups read, when the file was split by row groups across the shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_groups: Option<RowGroups>,
    #[serde(flatten)]
    pub record: SourceRecord,
}

/// The row groups of a Parquet file one shard read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RowGroups {
    /// Their indices, ascending.
    pub read: Vec<usize>,
    /// How many the file has.
    pub of: usize,
}

/// A recorded shard.
#[derive(Debug, Clone)]
pub struct ShardRecord {
    pub index: u32,
    pub shards: u32,
    pub plan_hash: String,
    pub job_hash: String,
    /// `schema.table`, unquoted.
    pub staging_table: String,
    pub sources: Vec<ShardSource>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_skipped: u64,
}

/// A batch key that never finalized, as `pgbatch gc` finds it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StaleKey {
    pub job: String,
    pub batch_key: String,
    pub shards: i64,
    pub last_recorded_at: String,
}

/// The staging table of shard `index` of `batch_key` of `job`: a name within PostgreSQL's
/// 63 bytes whatever the key, unquoted (`schema.table`).
pub fn staging_table(job: &str, batch_key: &str, index: u32) -> String {
    let mut hasher = Sha256::new();
    hasher.update(job.as_bytes());
    hasher.update([0]);
    hasher.update(batch_key.as_bytes());
    let digest = to_hex(&hasher.finalize());
    format!("{STAGING_SCHEMA}.s{index}_{}", &digest[..32])
}

fn db(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |error| Error::db(context, error)
}

/// Bounds how long this transaction waits for a lock (`None`: as long as it takes).
pub async fn wait_at_most(client: &impl GenericClient, wait: Option<Duration>) -> Result<()> {
    let Some(wait) = wait else { return Ok(()) };
    // 0 would mean no limit to the server: a try is a millisecond.
    let limit = format!("{}ms", wait.as_millis().max(1));
    client
        .execute(LOCK_TIMEOUT_SQL, &[&limit])
        .await
        .map_err(db("bounding the wait for locks"))?;
    Ok(())
}

/// Takes shard `index`'s own lock, and its key's lock shared, until the transaction ends.
pub async fn lock_shard(client: &impl GenericClient, job: &str, batch_key: &str, index: u32) -> Result<()> {
    client
        .execute(
            LOCK_SHARD_SQL,
            &[&job, &batch_key, &i32::try_from(index).unwrap_or(i32::MAX)],
        )
        .await
        .map_err(db(
            "locking the shard (another run of it, or a finalize of its batch key, goes on)",
        ))?;
    Ok(())
}

/// Takes the key's lock, waiting for its running shards, until the transaction ends.
pub async fn lock_key(client: &impl GenericClient, job: &str, batch_key: &str) -> Result<()> {
    client
        .execute(LOCK_KEY_SQL, &[&job, &batch_key])
        .await
        .map_err(db("locking the batch key (a shard of it still runs)"))?;
    Ok(())
}

/// Takes the key's lock if no shard of it runs.
pub async fn try_lock_key(client: &impl GenericClient, job: &str, batch_key: &str) -> Result<bool> {
    let row = client
        .query_one(TRY_LOCK_KEY_SQL, &[&job, &batch_key])
        .await
        .map_err(db("locking the batch key"))?;
    Ok(row.get(0))
}

/// (Re)creates a shard's staging table, like `target`.
pub async fn create_staging(client: &impl GenericClient, staging: &str, target: &Ident) -> Result<()> {
    let sql = CREATE_STAGING_SQL
        .replace("{staging}", Ident::qualified(staging).as_sql())
        .replace("{target}", target.as_sql());
    client
        .batch_execute(&sql)
        .await
        .map_err(db("creating the shard's staging table"))
}

/// Records a shard whose staging table is filled.
pub async fn record(client: &impl GenericClient, job: &str, batch_key: &str, shard: &ShardRecord) -> Result<()> {
    let sources =
        serde_json::to_value(&shard.sources).map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))?;
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    client
        .execute(
            RECORD_SQL,
            &[
                &job,
                &batch_key,
                &i32::try_from(shard.index).unwrap_or(i32::MAX),
                &i32::try_from(shard.shards).unwrap_or(i32::MAX),
                &shard.plan_hash,
                &shard.job_hash,
                &shard.staging_table,
                &sources,
                &count(shard.rows_read),
                &count(shard.rows_written),
                &count(shard.rows_skipped),
            ],
        )
        .await
        .map_err(db("recording the shard"))?;
    Ok(())
}

/// Every recorded shard of a batch key, in shard order.
pub async fn of(client: &impl GenericClient, job: &str, batch_key: &str) -> Result<Vec<ShardRecord>> {
    let rows = client
        .query(SHARDS_OF_SQL, &[&job, &batch_key])
        .await
        .map_err(db("reading the shards of the batch key"))?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    rows.iter()
        .map(|row| {
            let sources = serde_json::from_value(row.get(5))
                .map_err(|error| Error::from(ErrorKind::Internal(format!("a shard's recorded sources: {error}"))))?;
            Ok(ShardRecord {
                index: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
                shards: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
                plan_hash: row.get(2),
                job_hash: row.get(3),
                staging_table: row.get(4),
                sources,
                rows_read: count(row.get(6)),
                rows_written: count(row.get(7)),
                rows_skipped: count(row.get(8)),
            })
        })
        .collect()
}

/// How many rows a staging table holds.
pub async fn count_rows(client: &impl GenericClient, staging: &str) -> Result<Option<u64>> {
    let sql = format!("SELECT count(*) FROM {}", Ident::qualified(staging).as_sql());
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&staging])
        .await
        .map_err(db("looking for a staging table"))?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_one(sql.as_str(), &[])
        .await
        .map_err(db("counting a staging table"))?;
    Ok(Some(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)))
}

/// Deletes the records of a batch key and drops their staging tables.
pub async fn forget(client: &impl GenericClient, job: &str, batch_key: &str) -> Result<usize> {
    let rows = client
        .query(FORGET_SQL, &[&job, &batch_key])
        .await
        .map_err(db("forgetting the shards"))?;
    for row in &rows {
        let staging: String = row.get(0);
        let sql = format!("DROP TABLE IF EXISTS {}", Ident::qualified(&staging).as_sql());
        client
            .batch_execute(&sql)
            .await
            .map_err(db("dropping a staging table"))?;
    }
    Ok(rows.len())
}

/// Batch keys whose newest shard is older than `ttl` and that never finalized.
pub async fn stale(client: &impl GenericClient, ttl: Duration) -> Result<Vec<StaleKey>> {
    let rows = client
        .query(STALE_SQL, &[&(ttl.as_secs_f64())])
        .await
        .map_err(db("looking for stale shards"))?;
    Ok(rows
        .iter()
        .map(|row| StaleKey {
            job: row.get(0),
            batch_key: row.get(1),
            shards: row.get(2),
            last_recorded_at: row.get(3),
        })
        .collect())
}
