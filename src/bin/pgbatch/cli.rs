//! The command line, as clap reads it: every flag, its environment variable, its help
//! text, and one example per command.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use pgbatch::db::Session;
use pgbatch::pipeline::{LoadOptions, Shard, StoreOptions};

pub use crate::args::{LoadArgs, ServeArgs, SubmitArgs};

#[derive(Parser)]
#[command(
    name = "pgbatch",
    version,
    about = "Load batches of CSV and Parquet files into PostgreSQL, all or nothing",
    after_help = "Exit codes: see pgbatch exit-codes. Environment: DATABASE_URL or the libpq PG* variables."
)]
pub struct Cli {
    /// Print one JSON line per batch (and per error) on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The folder job names are looked up in.
    #[arg(long, global = true, env = "PGBATCH_JOBS", default_value = "jobs")]
    pub jobs_dir: PathBuf,
    /// An S3-compatible endpoint for s3:// sources (MinIO, say), addressed by path; AWS S3
    /// when unset. Credentials and region come from the standard AWS chain.
    #[arg(long, global = true, env = "PGBATCH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Seconds an S3 or HTTP store may keep a read waiting (headers, or the next bytes of a
    /// body) before the batch fails with exit 69, to be retried.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_STORE_TIMEOUT",
        default_value_t = 30,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub store_timeout: u64,
    /// Let a manifest fetched from S3 or HTTP list entries outside its own bucket or server
    /// (local paths, other hosts); without it such an entry fails the batch with exit 78.
    #[arg(long, global = true, env = "PGBATCH_ALLOW_MANIFEST_ESCAPE")]
    pub allow_manifest_escape: bool,
    /// Seconds a load waits for another load of the same table before it gives up with
    /// exit 75 (to be retried), naming the other.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_LOCK_WAIT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    pub lock_wait: u64,
    /// Seconds any one statement of a load or migration may run (a whole COPY is one);
    /// 0 means no limit. Past it the batch rolls back with exit 75.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_STATEMENT_TIMEOUT",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub statement_timeout: u64,
    /// Seconds a load's transaction may sit idle (a stuck process holding its locks) before
    /// the server ends it; 0 means no limit.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_IDLE_TIMEOUT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    pub idle_timeout: u64,
    /// Emit each batch's figures (status, rows, bytes, duration) as metrics on stdout:
    /// emf, one CloudWatch Embedded Metric Format line (AWS Batch's logs become metrics).
    #[arg(long, global = true, env = "PGBATCH_METRICS", value_name = "FORMAT")]
    pub metrics: Option<MetricsFormat>,
    /// Write each batch's figures to this Prometheus textfile-collector file (read by the
    /// node exporter on a cron host), the job's last success kept across failures.
    #[arg(long, global = true, env = "PGBATCH_METRICS_FILE", value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// How `--metrics` emits a batch's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricsFormat {
    /// CloudWatch Embedded Metric Format: one JSON line on stdout.
    Emf,
}

impl Cli {
    /// The settings of every database session.
    pub fn session(&self) -> Session {
        Session {
            statement_timeout: Duration::from_secs(self.statement_timeout),
            idle_in_transaction_timeout: Duration::from_secs(self.idle_timeout),
        }
    }

    /// How a load runs: `force` loads content loaded before; `dry_run` rolls back;
    /// `skip_if_running` ends at once with status skipped when another load of the table
    /// runs.
    pub fn load_options(&self, force: bool, dry_run: bool, skip_if_running: bool, shard: Option<Shard>) -> LoadOptions {
        let lock_wait = if skip_if_running { 0 } else { self.lock_wait };
        LoadOptions {
            force,
            dry_run,
            store: StoreOptions {
                s3_endpoint: self.s3_endpoint.clone(),
                stall_timeout: Duration::from_secs(self.store_timeout),
                allow_manifest_escape: self.allow_manifest_escape,
            },
            lock_wait: Some(Duration::from_secs(lock_wait)),
            skip_if_running,
            shard,
            rejects_out: None,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Apply the migrations in sql/migrations that are not applied yet.
    #[command(after_help = "Example:\n  DATABASE_URL=postgres://loader@db/warehouse pgbatch migrate")]
    Migrate {
        /// The folder of numbered migration files.
        #[arg(long, env = "PGBATCH_MIGRATIONS", default_value = "sql/migrations")]
        dir: PathBuf,
    },
    /// Load the given files (or the job's own sources) as one batch.
    #[command(after_help = "Example:\n  pgbatch load air_quality_beijing 'data/beijing/*.csv'")]
    Load(LoadArgs),
    /// Load the job's own sources as one batch.
    #[command(after_help = "Example:\n  pgbatch run price_stats --skip-if-running")]
    Run {
        /// A job file, or a name under the jobs folder.
        job: String,
        /// Load even if this content was loaded before.
        #[arg(long)]
        force: bool,
        /// When another load of the same table is going on, do nothing and exit 0 (status
        /// skipped) instead of waiting: for schedules that must not overlap.
        #[arg(long)]
        skip_if_running: bool,
    },
    /// Make every shard of an array job's batch visible in the target in one transaction,
    /// with one ledger row; exit 75 naming the shards that are missing.
    #[command(
        after_help = "Example:\n  pgbatch finalize air_quality_beijing --batch-key 6f1c2d3e-0000-4000-8000-000000000000"
    )]
    Finalize {
        /// A job file, or a name under the jobs folder.
        job: String,
        /// The key every shard was given: the array job's id.
        #[arg(long, env = "PGBATCH_BATCH_KEY")]
        batch_key: String,
        /// Load even if this content was loaded before.
        #[arg(long)]
        force: bool,
    },
    /// Submit an AWS Batch array job of N shards of one batch, and a finalize job that runs
    /// when they all succeeded; prints both job ids.
    #[command(
        after_help = "Example:\n  pgbatch submit air_quality_beijing @s3://landing/beijing/batch.list --shards 4 --queue pgbatch"
    )]
    Submit(SubmitArgs),
    /// Drop the staging of shards whose batch key never finalized.
    #[command(after_help = "Example:\n  pgbatch gc --older-than 48")]
    Gc {
        /// Hours since a batch key's newest shard was recorded.
        #[arg(long, default_value_t = 168, value_name = "HOURS")]
        older_than: u64,
    },
    /// Do everything a load does, then roll back: reports what would be loaded and how each
    /// column maps.
    #[command(after_help = "Example:\n  pgbatch validate charts_kaggle charts.csv")]
    Validate {
        /// A job file, or a name under the jobs folder.
        job: String,
        /// Files or globs; they replace the job's own sources.
        files: Vec<String>,
    },
    /// Start a private PostgreSQL, migrate, load the samples of jobs/demo.list, and serve
    /// the API until Ctrl-C.
    #[command(after_help = "Example:\n  pgbatch demo --exit")]
    Demo {
        /// The folder of numbered migration files.
        #[arg(long, env = "PGBATCH_MIGRATIONS", default_value = "sql/migrations")]
        migrations: PathBuf,
        /// Stop the database and exit after loading, instead of serving the API.
        #[arg(long)]
        exit: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve the read-only HTTP API: one route per query file.
    #[command(after_help = "Example:\n  pgbatch serve --listen 0.0.0.0:8080 --pool-size 16")]
    Serve(ServeArgs),
    /// List the batches in the ledger, newest first.
    #[command(after_help = "Example:\n  pgbatch batches --limit 5 --json")]
    Batches {
        /// How many batches to list.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// One batch as the ledger recorded it: its sources, counts, where the time went,
    /// throughput, and the first rows it set aside.
    #[command(after_help = "Example:\n  pgbatch report 42 --rejects 20")]
    Report {
        /// The batch id (pgbatch batches lists them).
        batch: i64,
        /// How many of its rejected rows to show.
        #[arg(long, default_value_t = 10, value_name = "N")]
        rejects: i64,
    },
    /// Ask a URL once and exit 0 if it answers 2xx, else 69: the image's health check
    /// (it has no shell and no curl).
    #[command(after_help = "Example:\n  pgbatch probe http://127.0.0.1:8080/readyz")]
    Probe {
        /// The URL to ask.
        url: String,
        /// Milliseconds to wait for the answer.
        #[arg(long, default_value_t = 3_000)]
        timeout_ms: u64,
    },
    /// Print the exit codes, which of them are worth a retry, and how every SQLSTATE class
    /// maps to one (with --json: one object, for job definitions and alerts).
    #[command(after_help = "Example:\n  pgbatch exit-codes --json")]
    ExitCodes,
    /// Print a completion script for a shell.
    #[command(after_help = "Example:\n  pgbatch completions bash > /etc/bash_completion.d/pgbatch")]
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  pgbatch man > /usr/local/share/man/man1/pgbatch.1")]
    Man,
    /// Profile sample files (CSV or Parquet, local or remote) and draft a migration and a job
    /// that load them unchanged.
    #[cfg(feature = "infer")]
    #[command(after_help = "Example:\n  pgbatch infer --name plays 'samples/plays-*.csv'")]
    Infer {
        /// Sample files or globs, all of one shape (s3:// and https:// too).
        #[arg(required = true)]
        files: Vec<String>,
        /// The table and job name (default: from the first file's name).
        #[arg(long)]
        name: Option<String>,
        #[arg(
            long,
            default_value = ".",
            help = "Where sql/migrations/NNNN_name.sql and jobs/name.toml go"
        )]
        out: PathBuf,
        /// Print the profile and the draft; write nothing.
        #[arg(long)]
        print_only: bool,
    },
}
