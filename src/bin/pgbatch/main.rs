//! The `pgbatch` command line: parse arguments ([`cli`]), set up logging, call the
//! library, print what it returns ([`print`]), and turn errors into the exit codes of
//! `pgbatch exit-codes`. Nothing else.

mod args;
mod cli;
#[cfg(feature = "infer")]
mod infer;
mod print;

use std::io::{IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use pgbatch::api::{self, Api};
use pgbatch::db::{ConnectOptions, Session, ledger, migrate, report};
use pgbatch::embedded;
use pgbatch::error::exit;
use pgbatch::job::Spec;
use pgbatch::pipeline::figures::{Figures, emf, textfile::Textfile};
use pgbatch::pipeline::{self, LoadOptions};

use cli::{Cli, Command, MetricsFormat, ServeArgs};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { exit::USAGE } else { exit::OK });
        }
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fix_mmap_threshold();
    init_logging();
    // Fault injection for the tests (`FAILPOINTS`); not in a release build.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
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

/// glibc's malloc raises its mmap threshold each time a large block is freed, up to 32 MiB;
/// the 8 MiB chunks of wide rows then come from its per-thread arenas and stay there after
/// they are freed. With the threshold fixed at 4 MiB, blocks that large go back to the system
/// when freed: a load of 100 KB Parquet rows peaks at 130 MiB instead of 283 MiB (`cargo
/// bench --bench memory -- wide`); smaller blocks, the chunks of ordinary rows, are as before.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn fix_mmap_threshold() {
    // SAFETY: mallopt sets a tunable of glibc's allocator and nothing else; it is called
    // before the runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Logs on stderr: compact for a person, JSON lines for a log collector.
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

/// Where the database is, from the environment.
fn database() -> pgbatch::Result<ConnectOptions> {
    ConnectOptions::from_env()?.ok_or_else(|| {
        pgbatch::Error::config("no database configured: set DATABASE_URL or the PG* variables (PGHOST, PGUSER, ...)")
    })
}

async fn connect(session: &Session) -> pgbatch::Result<tokio_postgres::Client> {
    database()?.with_session(session).connect().await
}

async fn run(cli: Cli) -> pgbatch::Result<()> {
    let session = cli.session();
    let (job, files, options) = match &cli.command {
        Command::Load(args) => (
            &args.job,
            args.files.as_slice(),
            args.options(cli.load_options(args.force, false, args.skip_if_running, args.shard()?)),
        ),
        Command::Run {
            job,
            force,
            skip_if_running,
        } => (
            job,
            [].as_slice(),
            cli.load_options(*force, false, *skip_if_running, None),
        ),
        Command::Validate { job, files } => (job, files.as_slice(), cli.load_options(true, true, false, None)),
        Command::Migrate { .. } | Command::Batches { .. } | Command::Report { .. } => {
            return database_command(&cli, &session).await;
        }
        Command::Demo {
            migrations,
            exit,
            serve,
        } => return demo(&cli.jobs_dir, migrations, *exit, serve, cli.json).await,
        Command::Finalize { job, batch_key, force } => {
            let options = cli.load_options(*force, false, false, None);
            return finalize(&cli, &session, job, batch_key, &options).await;
        }
        Command::Submit(args) => {
            let submitted = pgbatch::submit::submit(&args.job, &args.source, args.shards, &args.options()).await?;
            print::submitted(&submitted, cli.json);
            return Ok(());
        }
        Command::Gc { older_than } => {
            let ttl = std::time::Duration::from_secs(older_than.saturating_mul(3600));
            let collected = pipeline::gc(&mut connect(&session).await?, ttl).await?;
            print::collected(&collected, cli.json);
            return Ok(());
        }
        Command::Serve(args) => return self::serve(&database()?, args, &[]).await,
        Command::Probe { url, timeout_ms } => {
            api::probe(url, std::time::Duration::from_millis(*timeout_ms)).await?;
            return Ok(());
        }
        Command::ExitCodes => {
            print::exit_codes(cli.json);
            return Ok(());
        }
        Command::Completions { shell } => return print::completions(*shell, Cli::command()),
        Command::Man => return print::man(Cli::command()),
        #[cfg(feature = "infer")]
        Command::Infer {
            files,
            name,
            out,
            print_only,
        } => {
            let store = cli.load_options(false, true, false, None).store;
            return infer::run(files, name.as_deref(), out, *print_only, &store, cli.json).await;
        }
    };
    let spec = Spec::find(job, &cli.jobs_dir);
    // A validation loads nothing: it is no run for monitoring (no last success).
    let figures = !options.dry_run;
    batch(
        &cli,
        &job_name(job, &spec),
        figures,
        Box::pin(async {
            let spec = spec?;
            let mut client = connect(&session).await?;
            pipeline::load(&mut client, &spec, files, options, print::progress()).await
        }),
    )
    .await
}

/// The commands that only talk to the database: `migrate`, `batches`, `report`.
async fn database_command(cli: &Cli, session: &Session) -> pgbatch::Result<()> {
    let client = connect(session).await?;
    match &cli.command {
        Command::Migrate { dir } => {
            let migrations = migrate::read_dir(dir)?;
            let mut client = client;
            let applied = migrate::run(&mut client, &migrations).await?;
            if cli.json {
                println!("{}", serde_json::json!({ "status": "migrated", "applied": applied }));
            } else {
                println!("applied {} migration(s) of {}", applied.len(), migrations.len());
            }
        }
        Command::Batches { limit } => print::batches(&ledger::list(&client, *limit, None).await?, cli.json),
        Command::Report { batch, rejects } => {
            print::report(&report::report(&client, *batch, *rejects).await?, cli.json);
        }
        _ => unreachable!("only the database's own commands come here"),
    }
    Ok(())
}

/// `pgbatch finalize`: the shards of one array job made one batch.
async fn finalize(
    cli: &Cli,
    session: &Session,
    job: &str,
    batch_key: &str,
    options: &LoadOptions,
) -> pgbatch::Result<()> {
    let spec = Spec::find(job, &cli.jobs_dir);
    batch(
        cli,
        &job_name(job, &spec),
        true,
        Box::pin(async { pipeline::finalize(&mut connect(session).await?, &spec?, batch_key, options).await }),
    )
    .await
}

/// The job as its spec names it, or (no spec found) as the command line does.
fn job_name(job: &str, spec: &pgbatch::Result<Spec>) -> String {
    match spec {
        Ok(spec) => spec.name.clone(),
        Err(_) => Path::new(job)
            .file_stem()
            .map_or(job.to_owned(), |stem| stem.to_string_lossy().into_owned()),
    }
}

/// Runs one batch, prints its summary, and (with `figures`) emits its figures as
/// `--metrics` and `--metrics-file` ask, whatever its outcome. A metrics file that cannot
/// be written is a warning: the batch's own outcome stands.
async fn batch(
    cli: &Cli,
    job: &str,
    figures: bool,
    run: impl Future<Output = pgbatch::Result<pipeline::Summary>>,
) -> pgbatch::Result<()> {
    if !figures {
        print::summary(&run.await?, cli.json);
        return Ok(());
    }
    let textfile = cli.metrics_file.as_deref().map(Textfile::open).transpose()?;
    let started = std::time::Instant::now();
    let outcome = run.await;
    let ended = std::time::SystemTime::now();
    let figures = match &outcome {
        Ok(summary) => Figures::of(summary, ended),
        Err(error) => {
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Figures::of_failure(job, error, ms, ended)
        }
    };
    if cli.metrics == Some(MetricsFormat::Emf) {
        println!("{}", emf::line(&figures));
    }
    if let Some(Err(error)) = textfile.map(|file| file.write(&figures)) {
        eprintln!("pgbatch: warning: {error}");
    }
    print::summary(&outcome?, cli.json);
    Ok(())
}

/// `pgbatch demo`: a private cluster, migrated and loaded with the demo's jobs, then the
/// API until Ctrl-C (or, with `--exit`, stopped at once).
async fn demo(jobs_dir: &Path, migrations: &Path, exit: bool, args: &ServeArgs, json: bool) -> pgbatch::Result<()> {
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

async fn demo_load(cluster: &embedded::Cluster, jobs_dir: &Path, migrations: &Path, json: bool) -> pgbatch::Result<()> {
    cluster.ensure_database(embedded::DATABASE).await?;
    let mut client = cluster.options(embedded::DATABASE).connect().await?;
    migrate::run(&mut client, &migrate::read_dir(migrations)?).await?;
    for spec in Spec::list(&jobs_dir.join("demo.list"), jobs_dir)? {
        let summary = pipeline::load(&mut client, &spec, &[], LoadOptions::default(), print::progress()).await?;
        print::summary(&summary, json);
    }
    Ok(())
}

/// Serves the API until Ctrl-C or SIGTERM, then drains the requests in flight.
async fn serve(options: &ConnectOptions, args: &ServeArgs, notes: &[String]) -> pgbatch::Result<()> {
    let api = Api::new(options, args.options()).await?;
    let examples = api.examples();
    let (listener, address) = listen(&args.listen).await?;
    let metrics = match &args.metrics_listen {
        Some(at) => Some(listen(at).await?),
        None => None,
    };
    for note in notes {
        println!("{note}");
    }
    println!("The API is up: http://{address}/ (the routes and what they take). Try:");
    for example in examples {
        println!("  curl 'http://{address}{example}'");
    }
    let (router, metrics_router) = api.routers();
    let stop = tokio_util::sync::CancellationToken::new();
    if let (Some((listener, address)), Some(router)) = (metrics, metrics_router) {
        println!("Metrics: http://{address}/metrics");
        tokio::spawn(api::serve(
            router,
            listener,
            args.limits(),
            stop.clone().cancelled_owned(),
        ));
    }
    println!("Press Ctrl-C to stop.");
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stopping.cancel();
    });
    api::serve(router, listener, args.limits(), stop.cancelled_owned()).await
}

/// A listener on `at`, and the address it got.
async fn listen(at: &str) -> pgbatch::Result<(tokio::net::TcpListener, std::net::SocketAddr)> {
    let error = |error: std::io::Error| pgbatch::Error::config(format!("cannot listen on {at}: {error}"));
    let listener = tokio::net::TcpListener::bind(at).await.map_err(error)?;
    let address = listener.local_addr().map_err(error)?;
    Ok((listener, address))
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
