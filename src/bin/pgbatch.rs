//! The `pgbatch` command line: parse arguments, set up logging and progress bars, call the
//! library, print the summary, and turn errors into sysexits codes. Nothing else.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use pgbatch::api::{self, Api, ApiOptions};
use pgbatch::db::{ConnectOptions, Session, ledger, migrate};
use pgbatch::embedded;
use pgbatch::error::exit;
use pgbatch::job::Spec;
use pgbatch::pipeline::{self, LoadOptions, Progress, Status, StoreOptions, Summary};

#[derive(Parser)]
#[command(
    name = "pgbatch",
    version,
    about = "Load batches of CSV and Parquet files into PostgreSQL, all or nothing"
)]
struct Cli {
    /// Print one JSON line per batch (and per error) on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Where job names are looked up.
    #[arg(long, global = true, env = "PGBATCH_JOBS", default_value = "jobs")]
    jobs_dir: PathBuf,
    /// An S3-compatible endpoint for s3:// sources (`MinIO`, say), addressed by path; AWS
    /// S3 when unset. Credentials and region come from the standard AWS chain.
    #[arg(long, global = true, env = "PGBATCH_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
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
    store_timeout: u64,
    /// Seconds a load waits for another load of the same table before it gives up with
    /// exit 75 (to be retried), naming the other.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_LOCK_WAIT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    lock_wait: u64,
    /// Seconds any one statement of a load or migration may run (a whole COPY is one);
    /// 0: no limit. Past it the batch rolls back with exit 75.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_STATEMENT_TIMEOUT",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    statement_timeout: u64,
    /// Seconds a load's transaction may sit idle (a stuck process holding its locks) before
    /// the server ends it; 0: no limit.
    #[arg(
        long,
        global = true,
        env = "PGBATCH_IDLE_TIMEOUT",
        default_value_t = 600,
        value_name = "SECONDS"
    )]
    idle_timeout: u64,
    #[command(subcommand)]
    command: Command,
}

impl Cli {
    fn session(&self) -> Session {
        Session {
            statement_timeout: std::time::Duration::from_secs(self.statement_timeout),
            idle_in_transaction_timeout: std::time::Duration::from_secs(self.idle_timeout),
        }
    }

    fn store(&self) -> StoreOptions {
        StoreOptions {
            s3_endpoint: self.s3_endpoint.clone(),
            stall_timeout: std::time::Duration::from_secs(self.store_timeout),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Apply the migrations in sql/migrations that are not applied yet.
    Migrate {
        #[arg(long, env = "PGBATCH_MIGRATIONS", default_value = "sql/migrations")]
        dir: PathBuf,
    },
    /// Load the given files (or the job's own sources) as one batch.
    Load(LoadArgs),
    /// Load the job's own sources as one batch.
    Run {
        /// A job file, or a name under the jobs folder.
        job: String,
        /// Load even if this content was loaded before.
        #[arg(long)]
        force: bool,
    },
    /// Do everything a load does, then roll back: reports what would be loaded.
    Validate { job: String, files: Vec<String> },
    /// Start a private `PostgreSQL`, migrate, load the samples of `jobs/demo.list`, and serve
    /// the API until Ctrl-C.
    Demo {
        #[arg(long, env = "PGBATCH_MIGRATIONS", default_value = "sql/migrations")]
        migrations: PathBuf,
        /// Stop the database and exit after loading, instead of serving the API.
        #[arg(long)]
        exit: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve the read-only HTTP API: one route per query file.
    Serve(ServeArgs),
    /// List the batches in the ledger, newest first.
    Batches {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Print the exit codes, which of them are worth a retry, and how every SQLSTATE class
    /// maps to one (`--json`: one object, for job definitions and alerts).
    ExitCodes,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// A job file, or a name under the jobs folder.
    job: String,
    /// Files or globs; they replace the job's own sources.
    files: Vec<String>,
    /// Load even if this content was loaded before.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on (port 0: any free port).
    #[arg(long, env = "PGBATCH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The folder of query files, one route each.
    #[arg(long, env = "PGBATCH_QUERIES", default_value = "sql/queries")]
    queries: PathBuf,
    /// Cancel any query that runs longer than this many milliseconds.
    #[arg(long, default_value_t = 5_000)]
    statement_timeout_ms: u64,
    /// The most rows one response may hold.
    #[arg(long, default_value_t = 100_000)]
    max_rows: u64,
    /// Database connections at most [default: twice this machine's cores]. Size it to the
    /// database's cores: more connections than it can run only queue in its scheduler and
    /// stretch the slowest responses.
    #[arg(long)]
    pool_size: Option<usize>,
    /// The role queries run as; empty to run as the connecting (read-only) user.
    #[arg(long, env = "PGBATCH_API_ROLE", default_value = "pgbatch_reader")]
    role: String,
}

impl ServeArgs {
    fn options(&self) -> ApiOptions {
        ApiOptions {
            queries: self.queries.clone(),
            statement_timeout: std::time::Duration::from_millis(self.statement_timeout_ms),
            max_rows: self.max_rows,
            pool_size: self.pool_size.unwrap_or_else(api::default_pool_size),
            role: Some(self.role.clone()).filter(|r| !r.is_empty()),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("pgbatch: cannot start the runtime: {error}");
            return ExitCode::from(exit::TEMP_FAIL);
        }
    };
    let json = cli.json;
    // A panic is a bug: it exits 70 with its message (printed by the panic hook above it),
    // never with a signal, and never as a code AWS Batch would retry.
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli)))).unwrap_or_else(|panic| {
            Err(pgbatch::ErrorKind::Internal(format!("panicked: {}", pgbatch::error::panic_message(&*panic))).into())
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if json {
                let line = serde_json::json!({
                    "status": "failed",
                    "error": error.to_string(),
                    "location": error.location(),
                    "exit_code": error.exit_code(),
                    "retryable": error.is_retryable(),
                });
                // Not println!: stdout may be a pipe that closed (the panic that brought us here).
                let _ = writeln!(std::io::stdout(), "{line}");
            }
            eprintln!("pgbatch: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PGBATCH_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(if std::io::stderr().is_terminal() {
            "warn"
        } else {
            "info"
        })
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.compact().init();
    } else {
        builder.json().init();
    }
}

async fn connect(session: &Session) -> pgbatch::Result<tokio_postgres::Client> {
    let options = ConnectOptions::from_env()?.ok_or_else(|| {
        pgbatch::Error::config("no database configured: set DATABASE_URL or the PG* variables (PGHOST, PGUSER, ...)")
    })?;
    options.with_session(session).connect().await
}

async fn run(cli: Cli) -> pgbatch::Result<()> {
    let store = cli.store();
    let session = cli.session();
    match cli.command {
        Command::Migrate { dir } => {
            let migrations = migrate::read_dir(&dir)?;
            let mut client = connect(&session).await?;
            let applied = migrate::run(&mut client, &migrations).await?;
            if cli.json {
                println!("{}", serde_json::json!({ "status": "migrated", "applied": applied }));
            } else {
                println!("applied {} migration(s) of {}", applied.len(), migrations.len());
            }
            Ok(())
        }
        Command::Load(args) => {
            load(
                &cli.jobs_dir,
                &args.job,
                &args.files,
                LoadOptions {
                    force: args.force,
                    dry_run: false,
                    store: store.clone(),
                    lock_wait: Some(std::time::Duration::from_secs(cli.lock_wait)),
                },
                &session,
                cli.json,
            )
            .await
        }
        Command::Run { job, force } => {
            load(
                &cli.jobs_dir,
                &job,
                &[],
                LoadOptions {
                    force,
                    dry_run: false,
                    store: store.clone(),
                    lock_wait: Some(std::time::Duration::from_secs(cli.lock_wait)),
                },
                &session,
                cli.json,
            )
            .await
        }
        Command::Validate { job, files } => {
            load(
                &cli.jobs_dir,
                &job,
                &files,
                LoadOptions {
                    force: true,
                    dry_run: true,
                    store: store.clone(),
                    lock_wait: Some(std::time::Duration::from_secs(cli.lock_wait)),
                },
                &session,
                cli.json,
            )
            .await
        }
        Command::Demo {
            migrations,
            exit,
            serve,
        } => demo(&cli.jobs_dir, &migrations, exit, &serve, cli.json).await,
        Command::Serve(args) => {
            let options = ConnectOptions::from_env()?.ok_or_else(|| {
                pgbatch::Error::config(
                    "no database configured: set DATABASE_URL or the PG* variables (PGHOST, PGUSER, ...)",
                )
            })?;
            serve(&options, &args, &[]).await
        }
        Command::ExitCodes => {
            print_exit_codes(cli.json);
            Ok(())
        }
        Command::Batches { limit } => {
            let client = connect(&session).await?;
            let batches = ledger::list(&client, limit).await?;
            for batch in &batches {
                if cli.json {
                    println!("{}", serde_json::to_string(batch).unwrap_or_default());
                } else {
                    println!(
                        "{:>6}  {}  {:<24} {:<16} {:>10} rows  {:>7} ms",
                        batch.id, batch.committed_at, batch.job, batch.mode, batch.rows_loaded, batch.duration_ms
                    );
                }
            }
            Ok(())
        }
    }
}

async fn demo(
    jobs_dir: &std::path::Path,
    migrations: &std::path::Path,
    exit: bool,
    args: &ServeArgs,
    json: bool,
) -> pgbatch::Result<()> {
    let dir = embedded::default_dir();
    let cluster = embedded::Cluster::start(&dir)?;
    let mut result = demo_load(&cluster, jobs_dir, migrations, json).await;
    if result.is_ok() {
        let psql = format!(
            "PostgreSQL (embedded) is up: psql '{}'",
            cluster.url(embedded::DATABASE)
        );
        if exit {
            println!("{psql}");
        } else {
            result = serve(&cluster.options(embedded::DATABASE), args, &[psql]).await;
        }
    }
    cluster.stop()?;
    result
}

/// Serves the API until Ctrl-C or SIGTERM, then drains the requests in flight.
async fn serve(options: &ConnectOptions, args: &ServeArgs, notes: &[String]) -> pgbatch::Result<()> {
    let api = Api::new(options, args.options()).await?;
    let examples = api.examples();
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|error| pgbatch::Error::config(format!("cannot listen on {}: {error}", args.listen)))?;
    let address = listener
        .local_addr()
        .map_err(|error| pgbatch::Error::config(format!("cannot listen on {}: {error}", args.listen)))?;
    for note in notes {
        println!("{note}");
    }
    println!("The API is up: http://{address}/ (the routes and what they take). Try:");
    for example in examples {
        println!("  curl 'http://{address}{example}'");
    }
    println!("Press Ctrl-C to stop.");
    api::serve(api.router(), listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(term) => { term.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}

async fn demo_load(
    cluster: &embedded::Cluster,
    jobs_dir: &std::path::Path,
    migrations: &std::path::Path,
    json: bool,
) -> pgbatch::Result<()> {
    cluster.ensure_database(embedded::DATABASE).await?;
    let mut client = cluster.options(embedded::DATABASE).connect().await?;
    migrate::run(&mut client, &migrate::read_dir(migrations)?).await?;
    let list = jobs_dir.join("demo.list");
    let text = std::fs::read_to_string(&list)
        .map_err(|error| pgbatch::Error::config(format!("{}: {error}", list.display())))?;
    for job in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let spec = Spec::find(job, jobs_dir)?;
        let summary = pipeline::load(&mut client, &spec, &[], LoadOptions::default(), progress()).await?;
        print_summary(&summary, json);
    }
    Ok(())
}

fn progress() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bar::new())
    } else {
        Arc::new(pipeline::NoProgress)
    }
}

async fn load(
    jobs_dir: &std::path::Path,
    job: &str,
    files: &[String],
    options: LoadOptions,
    session: &Session,
    json: bool,
) -> pgbatch::Result<()> {
    let spec = Spec::find(job, jobs_dir)?;
    let mut client = connect(session).await?;
    let summary = pipeline::load(&mut client, &spec, files, options, progress()).await?;
    print_summary(&summary, json);
    Ok(())
}

fn print_exit_codes(json: bool) {
    use pgbatch::error::codes::{EXIT_CODES, SQLSTATES};
    // A reader that stops early (`| head`) is no error.
    let mut out = std::io::stdout().lock();
    if json {
        let retryable: Vec<u8> = EXIT_CODES.iter().filter(|e| e.retryable).map(|e| e.code).collect();
        let table = serde_json::json!({
            "exit_codes": EXIT_CODES.as_slice(),
            "retryable": retryable,
            "sqlstates": SQLSTATES.as_slice(),
            "sqlstate_default": exit::SOFTWARE,
        });
        let _ = writeln!(out, "{table}");
        return;
    }
    for code in EXIT_CODES {
        let retry = if code.retryable { "retry" } else { "no retry" };
        let _ = writeln!(out, "{:>3}  {:<12} {:<9} {}", code.code, code.name, retry, code.meaning);
    }
    let _ = writeln!(
        out,
        "\nSQLSTATE (a code, else its class; any other: {}):",
        exit::SOFTWARE
    );
    for state in SQLSTATES {
        let _ = writeln!(out, "  {:<6} {:>3}  {}", state.sqlstate, state.exit_code, state.meaning);
    }
}

fn print_summary(summary: &Summary, json: bool) {
    if json {
        println!("{}", serde_json::to_string(summary).unwrap_or_default());
        return;
    }
    let id = summary.batch_id.map_or_else(String::new, |id| id.to_string());
    match summary.status {
        Status::UpToDate => println!("{}: nothing new since the last run; nothing changed", summary.job),
        Status::AlreadyLoaded => println!(
            "{}: already loaded as batch {id}; nothing changed (use --force to load it again)",
            summary.job
        ),
        Status::Loaded | Status::Validated => println!(
            "{}: {} batch {id}: {} files, {} rows read, {} loaded into {} ({}), {} skipped, {} deleted, in {} ms",
            summary.job,
            if summary.status == Status::Loaded {
                "loaded"
            } else {
                "validated (rolled back)"
            },
            summary.files,
            summary.rows_read,
            summary.rows_loaded,
            summary.target,
            summary.mode,
            summary.rows_skipped,
            summary.rows_deleted,
            summary.duration_ms
        ),
    }
    for line in &summary.mapping {
        println!("  {line}");
    }
    if !summary.fields_ignored.is_empty() {
        let names: Vec<String> = summary.fields_ignored.iter().map(|f| format!("{f:?}")).collect();
        println!("  fields no column takes: {}", names.join(", "));
    }
    if let Some(changes) = &summary.changes {
        let mut parts = Vec::new();
        if changes.job {
            parts.push("the job spec (mapping, formats or mode)".to_owned());
        }
        if !changes.files.is_empty() {
            parts.push(format!("the content of {}", changes.files.join(", ")));
        }
        if !parts.is_empty() {
            println!(
                "  not a re-run of batch {}: changed since: {}",
                changes.since_batch,
                parts.join("; ")
            );
        }
    }
}

/// A progress bar on stderr, counting source rows.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec}) {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.0
            .set_message(format!("loading {files} file(s), {}", indicatif::HumanBytes(bytes)));
        self.0.enable_steady_tick(std::time::Duration::from_millis(120));
    }

    fn advance(&self, rows: u64, _copy_bytes: u64) {
        self.0.inc(rows);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
