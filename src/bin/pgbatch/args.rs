//! The arguments of the larger commands (`load`, `submit`, `serve`), and what each makes
//! of them for the library.

use std::path::PathBuf;
use std::time::Duration;

use pgbatch::api::{self, ApiOptions};
use pgbatch::pipeline::Shard;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// A job file, or a name under the jobs folder.
    pub job: String,
    /// Files or globs; they replace the job's own sources.
    pub files: Vec<String>,
    /// Load even if this content was loaded before.
    #[arg(long)]
    pub force: bool,
    /// When another load of the same table is going on, do nothing and exit 0 (status
    /// skipped) instead of waiting: for schedules that must not overlap.
    #[arg(long)]
    pub skip_if_running: bool,
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "shards",
        help = "Write the rows the batch set aside (the job's max_rejects) to this file or s3:// object, one \
                JSON object per line, whether the batch committed or rolled back"
    )]
    pub rejects_out: Option<String>,
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..),
        help = "Split the batch into this many shards (an array job's size) and load one of them into \
                staging; pgbatch finalize then makes them all visible at once"
    )]
    pub shards: Option<u32>,
    #[arg(
        long,
        value_name = "I",
        requires = "shards",
        help = "Which shard to load, from 0 [default: AWS_BATCH_JOB_ARRAY_INDEX, or Kubernetes' \
                JOB_COMPLETION_INDEX]"
    )]
    pub shard_index: Option<u32>,
    #[arg(
        long,
        value_name = "K",
        env = "PGBATCH_BATCH_KEY",
        requires = "shards",
        help = "What every shard of the batch and its finalize share [default: the array job's id, \
                AWS_BATCH_JOB_ID before its colon]"
    )]
    pub batch_key: Option<String>,
}

impl LoadArgs {
    /// `base` with what only `load` sets.
    pub fn options(&self, base: pgbatch::pipeline::LoadOptions) -> pgbatch::pipeline::LoadOptions {
        pgbatch::pipeline::LoadOptions {
            rejects_out: self.rejects_out.clone(),
            ..base
        }
    }

    /// The shard to load, if `--shards` was given: its index and key from the flags, or
    /// from the array job's environment.
    pub fn shard(&self) -> pgbatch::Result<Option<Shard>> {
        let Some(shards) = self.shards else { return Ok(None) };
        let index = if let Some(index) = self.shard_index {
            index
        } else {
            let (name, value) = ["AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX"]
                .into_iter()
                .find_map(|name| std::env::var(name).ok().map(|value| (name, value)))
                .ok_or_else(|| {
                    pgbatch::Error::config(
                        "--shards needs --shard-index (or AWS_BATCH_JOB_ARRAY_INDEX, or JOB_COMPLETION_INDEX)",
                    )
                })?;
            value.trim().parse().map_err(|_| {
                pgbatch::Error::config(format!("{name}={value:?} is not a shard index (expected 0, 1, ...)"))
            })?
        };
        let key = match &self.batch_key {
            Some(key) => key.clone(),
            None => std::env::var("AWS_BATCH_JOB_ID")
                .ok()
                .and_then(|id| id.split(':').next().map(str::to_owned))
                .ok_or_else(|| pgbatch::Error::config("--shards needs --batch-key (or AWS_BATCH_JOB_ID)"))?,
        };
        Shard::new(shards, index, &key).map(Some)
    }
}

#[derive(clap::Args)]
pub struct SubmitArgs {
    /// A job name (the name the job definitions run it by).
    pub job: String,
    /// The batch's one source: a glob, an s3:// prefix or an @manifest.
    pub source: String,
    /// How many shards (2 to 10,000).
    #[arg(long, value_name = "N")]
    pub shards: u32,
    /// The AWS Batch job queue.
    #[arg(long, env = "PGBATCH_BATCH_QUEUE", default_value = "pgbatch")]
    pub queue: String,
    /// The job definition of one shard.
    #[arg(long, default_value = "pgbatch-load-shard")]
    pub shard_definition: String,
    /// The job definition of finalize.
    #[arg(long, default_value = "pgbatch-finalize")]
    pub finalize_definition: String,
    /// Another endpoint for the AWS Batch API (an emulator); AWS when unset.
    #[arg(long, env = "PGBATCH_BATCH_ENDPOINT")]
    pub batch_endpoint: Option<String>,
}

impl SubmitArgs {
    /// Where and how to submit.
    pub fn options(&self) -> pgbatch::submit::SubmitOptions {
        pgbatch::submit::SubmitOptions {
            queue: self.queue.clone(),
            shard_definition: self.shard_definition.clone(),
            finalize_definition: self.finalize_definition.clone(),
            endpoint: self.batch_endpoint.clone(),
        }
    }
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, env = "PGBATCH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The folder of query files, one route each.
    #[arg(long, env = "PGBATCH_QUERIES", default_value = "sql/queries")]
    pub queries: PathBuf,
    /// Cancel any query that runs longer than this many milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub statement_timeout_ms: u64,
    /// The most rows one response may hold.
    #[arg(long, default_value_t = 100_000)]
    pub max_rows: u64,
    /// Database connections at most [default: twice this machine's cores]. Size it to the
    /// database's cores: more connections than it can run only queue in its scheduler and
    /// stretch the slowest responses.
    #[arg(long)]
    pub pool_size: Option<usize>,
    /// The role queries run as; empty to run as the connecting (read-only) user.
    #[arg(long, env = "PGBATCH_API_ROLE", default_value = "pgbatch_reader")]
    pub role: String,
    /// Requests to the routes in flight at most [default: 8 per pooled connection]; one
    /// more is answered 503 with Retry-After at once, never queued.
    #[arg(long)]
    pub max_in_flight: Option<usize>,
    /// The longest query string taken, in bytes; a longer one is answered 414.
    #[arg(long, default_value_t = 4096)]
    pub max_query_bytes: usize,
    /// Close a connection whose request head has not arrived this many seconds after the
    /// server began waiting for it (slow clients, idle keep-alive connections).
    #[arg(long, default_value_t = 20)]
    pub header_timeout_secs: u64,
    /// Cut off a client that has not taken any of its response for this many seconds; its
    /// database connection is released.
    #[arg(long, default_value_t = 30)]
    pub write_timeout_secs: u64,
    /// Serve /metrics on this address only (a port Prometheus reaches, not the public one);
    /// by default it is served beside the routes.
    #[arg(long, env = "PGBATCH_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Mebibytes of whole responses kept between two batches, answered without the
    /// database (0: none). A batch that commits to a table a route reads is seen at once;
    /// a write that bypasses pgbatch within 5 minutes.
    #[arg(long, env = "PGBATCH_CACHE_MB", default_value_t = 64)]
    pub cache_mb: u64,
}

impl ServeArgs {
    /// How the API runs.
    pub fn options(&self) -> ApiOptions {
        let pool_size = self.pool_size.unwrap_or_else(api::default_pool_size);
        ApiOptions {
            queries: self.queries.clone(),
            statement_timeout: Duration::from_millis(self.statement_timeout_ms),
            max_rows: self.max_rows,
            pool_size,
            role: Some(self.role.clone()).filter(|r| !r.is_empty()),
            max_in_flight: self
                .max_in_flight
                .unwrap_or_else(|| api::default_max_in_flight(pool_size)),
            max_query_bytes: self.max_query_bytes,
            separate_metrics: self.metrics_listen.is_some(),
            cache_bytes: self.cache_mb.saturating_mul(1024 * 1024),
        }
    }

    /// How long the server waits on a client.
    pub fn limits(&self) -> api::ServerLimits {
        api::ServerLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            write_timeout: Duration::from_secs(self.write_timeout_secs),
        }
    }
}
