//! What the end-to-end benches share.
#![allow(dead_code, reason = "each bench uses its own part of this module")]

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs the `pgbatch` binary against `url`; panics with its stderr if it fails. Returns
/// the seconds it took.
pub fn pgbatch(url: &str, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("PGBATCH_LOG", "warn")
        .output()
        .expect("pgbatch runs");
    assert!(
        out.status.success(),
        "pgbatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// How much of a load the server spent working rather than waiting for its client:
/// `pg_stat_activity` is sampled every 20 ms from another connection, and a
/// sample counts as busy when the load's backend (found by its `application_name`) is
/// active and not waiting to read from the client (`ClientRead`). Samples before the client
/// has connected count as waiting: the whole load is the denominator.
pub struct Busy {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<(u64, u64)>,
}

// language=PostgreSQL
const BACKEND_STATE: &str = "SELECT state = 'active' AND wait_event IS DISTINCT FROM 'ClientRead' \
     FROM pg_stat_activity WHERE application_name = $1 AND backend_type = 'client backend'";

impl Busy {
    /// Starts sampling the backend of the client that connects as `application`.
    pub fn start(url: &str, application: &str) -> Busy {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let (url, application) = (url.to_owned(), application.to_owned());
        let (ready, started) = std::sync::mpsc::channel();
        let sampler = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("the sampler connects");
                tokio::spawn(connection);
                let statement = client.prepare(BACKEND_STATE).await.unwrap();
                ready.send(()).unwrap();
                let (mut busy, mut total) = (0u64, 0u64);
                while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    let rows = client.query(&statement, &[&application]).await.unwrap();
                    total += 1;
                    if rows
                        .first()
                        .is_some_and(|row| row.get::<_, Option<bool>>(0) == Some(true))
                    {
                        busy += 1;
                    }
                    // Every 20 ms: sampling as fast as it can, the sampler and the backend that
                    // answers it took a share of a core from the load being measured.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                (busy, total)
            })
        });
        started.recv().expect("the sampler starts");
        Busy { stop, sampler }
    }

    /// Stops sampling; the share of samples in which the server was busy.
    pub fn finish(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (busy, total) = self.sampler.join().expect("the sampler ends");
        #[expect(clippy::cast_precision_loss, reason = "sample counts for a report")]
        let share = busy as f64 / total.max(1) as f64;
        share
    }
}

/// `url` (key-value form, as `Cluster::url` gives) with an `application_name`, so the
/// load's backend can be told apart.
pub fn named(url: &str, application: &str) -> String {
    format!("{url} application_name={application}")
}

/// Runs `load` (which connects with `url` named `application`), returning the seconds it
/// reports and the share of the load during which the server was busy.
pub fn with_server_share(url: &str, application: &str, load: impl FnOnce(&str) -> f64) -> (f64, f64) {
    let busy = Busy::start(url, application);
    let seconds = load(&named(url, application));
    (seconds, busy.finish())
}

/// Runs one SQL command with psql; panics if it fails.
pub fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql failed: {sql}");
}

/// One SQL query's rows through psql (unaligned, `|` between fields); panics if it fails.
pub fn psql_rows(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// A psql running `commands` one after the other (each its own `-c`, so each its own
/// statement in autocommit mode).
fn psql_commands(url: &str, commands: &[String]) -> Command {
    let mut psql = Command::new("psql");
    psql.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url]);
    for command in commands {
        psql.args(["-c", command]);
    }
    psql
}

/// Runs `commands` in one psql session; the seconds it took.
pub fn psql_timed(url: &str, commands: &[String]) -> f64 {
    psql_at_once(url, &[commands.to_vec()])
}

/// Runs each script (commands, in one psql session) in a psql of its own, all at once; the
/// seconds until the last is done. Panics if one fails.
pub fn psql_at_once(url: &str, scripts: &[Vec<String>]) -> f64 {
    let started = Instant::now();
    let children: Vec<_> = scripts
        .iter()
        .map(|commands| psql_commands(url, commands).spawn().expect("psql runs"))
        .collect();
    for (child, commands) in children.into_iter().zip(scripts) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "psql failed: {commands:?}");
    }
    started.elapsed().as_secs_f64()
}

/// The 12 Beijing files, in order.
pub fn beijing_files(repo: &Path) -> Vec<String> {
    let beijing = repo.join("../shared/data/air_quality/beijing_multisite");
    let mut files: Vec<String> = std::fs::read_dir(&beijing)
        .expect("../shared/data is beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}
