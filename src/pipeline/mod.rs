//! The data path of one batch: locate the sources, plan (bind the job to every file), then
//! the batch's one transaction (`batch`): COPY (sources -> conform -> encode -> load),
//! merge by mode, ledger row, COMMIT. Either every row of every file is visible after
//! COMMIT, or none is.

mod batch;
pub mod bind;
mod caution;
mod checks;
pub mod conform;
pub mod encode;
mod fault;
pub mod figures;
mod finalize;
mod identity;
pub mod load;
mod loading;
pub mod merge;
pub mod plan;
mod positioned;
mod refused;
pub mod rejects;
mod settle;
mod shard;
mod share;
pub mod source;
mod summary;
pub mod transform;

use std::path::Path;
use std::sync::Arc;

use tokio_postgres::Client;

use crate::db::{catalog, ledger};
use crate::error::{Result, joined};
use crate::job::Spec;
use batch::PlannedLoad;
pub use finalize::{finalize, gc};
pub use shard::Shard;
pub use source::locate::expand;
pub use source::store::StoreOptions;
use summary::Started;
pub use summary::{Changes, ShardOf, Stages, Status, Summary};

/// Hears how a load goes; the binary draws progress bars with it. The library never prints.
pub trait Progress: Send + Sync {
    /// The batch starts: its files and their total size.
    fn start(&self, _files: usize, _bytes: u64) {}
    /// The COPY stream reached file `index` (of the batch's files, in order), `name`.
    fn file(&self, _index: usize, _name: &str) {}
    /// A chunk was written to the COPY stream.
    fn advance(&self, _rows: u64, _copy_bytes: u64) {}
    /// COPY is done; the batch is checking, merging and committing.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// How to run a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Load even if the ledger has this content already.
    pub force: bool,
    /// Do everything but commit (`pgbatch validate`).
    pub dry_run: bool,
    /// How `s3://` and `http(s)://` sources are reached.
    pub store: StoreOptions,
    /// How long to wait for another load of the same target; `None`: as long as it takes.
    pub lock_wait: Option<std::time::Duration>,
    /// When another load of the target runs past `lock_wait`, end with status `skipped`
    /// (exit 0) instead of a temporary failure: a scheduled run that must not overlap
    /// itself.
    pub skip_if_running: bool,
    /// Load only this shard's share of the batch into staging, for `finalize`.
    pub shard: Option<Shard>,
    /// Where to write the rows the batch set aside (a local path or `s3://`), whether it
    /// committed or rolled back over its `max_rejects`.
    pub rejects_out: Option<String>,
}

/// Loads one batch: `locations` if given (from the working directory), else the job's own
/// sources; or runs a SQL job. All files go through one COPY in one transaction with the
/// ledger row.
///
/// # Errors
///
/// See [`crate::Error::exit_code`]: bad data names the file, position, column and value;
/// nothing is committed on any error.
pub async fn load(
    client: &mut Client,
    spec: &Spec,
    locations: &[String],
    options: LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary> {
    ledger::check_ready(&*client).await?;
    let started = Started::now();
    if spec.raw.sql.is_some() {
        if options.shard.is_some() {
            return Err(crate::Error::config(format!(
                "{}: a SQL job runs as one statement and cannot be split into shards",
                spec.name
            )));
        }
        let planned = transform::plan(spec, started)?;
        return batch::run_sql(client, planned, &options).await;
    }
    let catalog = catalog::columns(&*client, &spec.raw.table).await?;
    let job = spec.resolve(&catalog)?;
    let job_hash = job.fingerprint();
    let job = Arc::new(job);
    let wanted = if locations.is_empty() { &job.sources } else { locations };
    let places = expand(wanted, Path::new(""), &options.store).await?;
    let files = {
        let job = job.clone();
        tokio::task::spawn_blocking(move || source::locate::describe(&job, places))
            .await
            .map_err(joined)??
    };
    // Every file's fields, bound before the transaction and before any row is read.
    let planned = {
        let job = job.clone();
        let files = files.clone();
        tokio::task::spawn_blocking(move || plan::plan(&job, &files))
            .await
            .map_err(joined)??
    };
    let job = planned.job.clone();
    let mut summary = Summary::new(Status::Loaded, &job.name, &job.table, job.mode.name(), "");
    summary.files = files.len();
    summary.bytes = files.iter().map(|f| f.bytes).sum();
    summary.fields_ignored = planned.fields_ignored;
    if options.dry_run {
        summary.mapping = planned.mapping;
    }
    let planned = PlannedLoad {
        job,
        job_hash,
        files,
        summary,
        started,
    };
    match &options.shard {
        Some(shard) => shard::load_shard(client, planned, shard, &options, progress).await,
        // Boxed: a batch's future holds the whole COPY's state.
        None => Box::pin(loading::load_files(client, planned, &options, progress)).await,
    }
}
