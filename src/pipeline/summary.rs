//! What a batch reports: its status and counts (the JSON summary line), and what changed
//! since the last batch of the same paths.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::plan;
use crate::db::ledger;

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Loaded,
    AlreadyLoaded,
    Validated,
    /// A SQL transform job found nothing new since its watermark.
    UpToDate,
    /// Another run of the same target held its lock; nothing was done (`--skip-if-running`).
    Skipped,
    /// A shard's rows are in its staging table, recorded for `pgbatch finalize`; nothing is
    /// visible in the target yet.
    Staged,
}

/// Which shard of which array job a run was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShardOf {
    pub batch_key: String,
    pub index: u32,
    pub shards: u32,
    /// Rows written to the staging table.
    pub rows_staged: u64,
}

/// The outcome of one batch: the JSON summary line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub status: Status,
    pub job: String,
    pub target: String,
    pub mode: &'static str,
    /// The new batch's id (loaded) or the earlier batch's (already loaded).
    pub batch_id: Option<i64>,
    pub content_hash: String,
    pub files: usize,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_skipped: u64,
    pub rows_deleted: u64,
    /// Rows set aside as bad (the job's `max_rejects`): read, not loaded, in
    /// `pgbatch.rejects`. `rows_read` = rows that went on + `rows_rejected` + blank records.
    pub rows_rejected: u64,
    pub duration_ms: u64,
    /// Fields of the files that no column takes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields_ignored: Vec<String>,
    /// How the first file maps to the table (`pgbatch validate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<plan::Mapping>,
    /// What differs from the last batch of the job that read the same paths, when this one
    /// is not a no-op.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// The shard this run was (`load --shards`), or the batch key it finalized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardOf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_key: Option<String>,
    /// The rows set aside, a line per column with the first of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
    /// Where the batch's time went, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Stages>,
    /// The batch checks that passed, each with its figure (`[checks]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
}

/// What changed since the last batch of a job that read the same paths.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub since_batch: i64,
    /// The resolved job (mapping, formats, parse rules, mode) differs.
    pub job: bool,
    /// The sources whose content differs (size, sha256 or ETag).
    pub files: Vec<String>,
}

impl Changes {
    /// Compares a batch about to commit (its sources as the ledger will record them) with
    /// the previous one of the same paths.
    pub(crate) fn since(previous: &ledger::Previous, job_hash: &str, sources: &[ledger::SourceRecord]) -> Self {
        let changed = sources
            .iter()
            .zip(&previous.sources)
            .filter(|(now, before)| (now.bytes, &now.sha256, &now.etag) != (before.bytes, &before.sha256, &before.etag))
            .map(|(now, _)| now.path.clone())
            .collect();
        Changes {
            since_batch: previous.id,
            job: previous.job_hash.as_deref() != Some(job_hash),
            files: changed,
        }
    }
}

impl Summary {
    /// A summary with nothing counted yet.
    pub(crate) fn new(status: Status, job: &str, target: &str, mode: &'static str, content_hash: &str) -> Self {
        Summary {
            status,
            job: job.to_owned(),
            target: target.to_owned(),
            mode,
            batch_id: None,
            content_hash: content_hash.to_owned(),
            files: 0,
            bytes: 0,
            rows_read: 0,
            rows_loaded: 0,
            rows_skipped: 0,
            rows_deleted: 0,
            rows_rejected: 0,
            duration_ms: 0,
            fields_ignored: Vec::new(),
            mapping: Vec::new(),
            changes: None,
            shard: None,
            batch_key: None,
            checks: Vec::new(),
            rejected: Vec::new(),
            stages: None,
        }
    }
}

/// Where a load's time went, in milliseconds. Reading, encoding and sending overlap within
/// copying (the whole COPY stream); encoding is summed over the workers, so on several
/// cores it may exceed copying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stages {
    pub reading_ms: u64,
    pub encoding_ms: u64,
    pub sending_ms: u64,
    pub copying_ms: u64,
    pub checking_ms: u64,
    pub merging_ms: u64,
    /// The ledger row, the rejects and COMMIT (written into the ledger row once committed).
    pub committing_ms: u64,
}

pub(crate) fn ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds since `started`.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// When a batch started, for its duration and its ledger row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Started {
    pub at: Instant,
    pub wall: DateTime<Utc>,
}

impl Started {
    pub(crate) fn now() -> Self {
        Started {
            at: Instant::now(),
            wall: Utc::now(),
        }
    }
}
