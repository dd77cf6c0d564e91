//! What the terminal sees: the batch summary (text or one JSON line), the exit-code table,
//! and a progress bar on stderr.

use std::io::{IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{HumanBytes, HumanCount, ProgressBar, ProgressStyle};
use pgbatch::error::exit;
use pgbatch::pipeline::{self, Progress, Status, Summary};

/// A progress bar when stderr is a terminal; nothing otherwise.
pub fn progress() -> Arc<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bar::new())
    } else {
        Arc::new(pipeline::NoProgress)
    }
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is no error.
pub fn bytes(bytes: &[u8]) -> pgbatch::Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(pgbatch::ErrorKind::Read {
            path: "standard output (writing)".into(),
            source: error,
        }
        .into()),
        _ => Ok(()),
    }
}

/// The exit codes and the SQLSTATE table (`pgbatch exit-codes`).
pub fn exit_codes(json: bool) {
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

/// The ledger's batches: a JSON line each, or a table row.
pub fn batches(batches: &[pgbatch::db::ledger::Batch], json: bool) {
    for batch in batches {
        if json {
            println!("{}", serde_json::to_string(&batch).unwrap_or_default());
        } else {
            println!(
                "{:>6}  {}  {:<24} {:<16} {:>10} rows  {:>7} ms",
                batch.id, batch.committed_at, batch.job, batch.mode, batch.rows_loaded, batch.duration_ms
            );
        }
    }
}

/// One batch's report: the ledger row, throughput, stages, its first rejects.
pub fn report(report: &pgbatch::db::report::Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string(report).unwrap_or_default());
        return;
    }
    let b = &report.batch;
    println!(
        "batch {}: job {}, table {} ({}), committed {} by {}{}",
        b.id,
        b.job,
        b.target,
        b.mode,
        b.committed_at,
        b.loaded_by,
        b.host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default()
    );
    for source in b.sources.as_array().into_iter().flatten() {
        println!(
            "  source {}: {} rows, {} bytes",
            source["path"].as_str().unwrap_or("?"),
            source["rows"],
            source["bytes"]
        );
    }
    println!(
        "  rows: {} read, {} loaded, {} skipped, {} deleted, {} rejected",
        b.rows_read, b.rows_loaded, b.rows_skipped, b.rows_deleted, b.rows_rejected
    );
    println!(
        "  {} ms: {:.0} rows/s, {:.0} bytes/s",
        b.duration_ms, report.rows_per_second, report.bytes_per_second
    );
    if let Some(stages) = &b.stages {
        let parts: Vec<String> = [
            "reading",
            "encoding",
            "sending",
            "copying",
            "checking",
            "merging",
            "committing",
        ]
        .iter()
        .map(|stage| format!("{stage} {}", stages[format!("{stage}_ms")]))
        .collect();
        println!("  stages (ms, the first four overlapped): {}", parts.join(", "));
    }
    if !report.rejects.is_empty() {
        println!(
            "  rejected rows (the first {} of {}):",
            report.rejects.len(),
            b.rows_rejected
        );
        for reject in &report.rejects {
            println!("    {reject}");
        }
    }
}

/// A completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> pgbatch::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "pgbatch", &mut script);
    bytes(&script)
}

/// The manual page, in roff.
pub fn man(command: clap::Command) -> pgbatch::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut page)
        .map_err(|error| pgbatch::ErrorKind::Internal(format!("writing the manual page: {error}")))?;
    bytes(&page)
}

/// The jobs `pgbatch submit` submitted.
pub fn submitted(jobs: &pgbatch::submit::Submitted, json: bool) {
    if json {
        let mut line = serde_json::to_value(jobs).unwrap_or_default();
        line["status"] = "submitted".into();
        println!("{line}");
    } else {
        println!(
            "{}: {} shards submitted as array job {}; finalize submitted as {}, after them",
            jobs.job, jobs.shards, jobs.array_job_id, jobs.finalize_job_id
        );
    }
}

/// What `pgbatch gc` dropped: one JSON line, or a line per batch key.
pub fn collected(keys: &[pgbatch::db::shards::StaleKey], json: bool) {
    if json {
        println!("{}", serde_json::json!({ "status": "collected", "batch_keys": keys }));
        return;
    }
    for key in keys {
        println!(
            "{}: dropped the staging of batch key {} ({} shards, the last recorded at {}), never finalized",
            key.job, key.batch_key, key.shards, key.last_recorded_at
        );
    }
    println!("{} batch key(s) collected", keys.len());
}

/// A batch's summary: one JSON line, or text for a person.
pub fn summary(summary: &Summary, json: bool) {
    if json {
        println!("{}", serde_json::to_string(summary).unwrap_or_default());
        return;
    }
    let id = summary.batch_id.map_or_else(String::new, |id| id.to_string());
    match summary.status {
        Status::UpToDate => println!("{}: nothing new since the last run; nothing changed", summary.job),
        Status::Skipped => println!(
            "{}: skipped: another run of {} is going on; nothing changed",
            summary.job, summary.target
        ),
        Status::Staged => {
            let shard = summary.shard.as_ref();
            println!(
                "{}: shard {} of {} of batch key {} staged: {} files, {} rows, in {} ms; \
                 `pgbatch finalize` makes every shard visible at once",
                summary.job,
                shard.map_or(0, |s| s.index),
                shard.map_or(0, |s| s.shards),
                shard.map_or("", |s| s.batch_key.as_str()),
                summary.files,
                shard.map_or(0, |s| s.rows_staged),
                summary.duration_ms
            );
        }
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
    details(summary, &id);
}

/// The lines under a summary: rejects, checks, the mapping, fields ignored, what changed.
fn details(summary: &Summary, id: &str) {
    if summary.rows_rejected > 0 && summary.status == Status::Loaded {
        println!(
            "  {} rows rejected: set aside in pgbatch.rejects (batch_id {id}), within max_rejects",
            summary.rows_rejected
        );
    }
    for line in &summary.rejected {
        println!("  rejected: {line}");
    }
    for check in &summary.checks {
        println!("  check passed: {check}");
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
struct Bar {
    spinner: ProgressBar,
    files: AtomicUsize,
    bytes: AtomicU64,
    file: Mutex<String>,
    started: Instant,
}

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Bar {
            spinner: bar,
            files: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            file: Mutex::new(String::new()),
            started: Instant::now(),
        }
    }

    /// The line: the stage, the file (of several), rows and bytes so far and per second.
    fn show(&self) {
        let rows = self.spinner.position();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let file = self.file.lock().map(|f| f.clone()).unwrap_or_default();
        #[expect(clippy::cast_precision_loss, reason = "a rate on screen")]
        let (rows_per_second, bytes_per_second) = (rows as f64 / seconds, bytes as f64 / seconds);
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a rate on screen"
        )]
        let (rows_per_second, bytes_per_second) = (rows_per_second as u64, bytes_per_second as u64);
        self.spinner.set_message(format!(
            "copying{file}: {} rows ({}/s), {} sent ({}/s)",
            HumanCount(rows),
            HumanCount(rows_per_second),
            HumanBytes(bytes),
            HumanBytes(bytes_per_second),
        ));
    }
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.spinner
            .set_message(format!("starting: {files} file(s), {}", HumanBytes(bytes)));
        self.spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    }

    fn file(&self, index: usize, name: &str) {
        let files = self.files.load(Ordering::Relaxed);
        if files > 1
            && let Ok(mut file) = self.file.lock()
        {
            let name = name.rsplit('/').next().unwrap_or(name);
            *file = format!(" file {}/{files} {name}", index + 1);
        }
    }

    fn advance(&self, rows: u64, copy_bytes: u64) {
        self.spinner.inc(rows);
        self.bytes.fetch_add(copy_bytes, Ordering::Relaxed);
        self.show();
    }

    fn finish(&self) {
        self.spinner.set_message(format!(
            "checking, merging and committing {} rows",
            HumanCount(self.spinner.position())
        ));
    }
}

/// The bar goes when the load is over, whichever way it ended.
impl Drop for Bar {
    fn drop(&mut self) {
        self.spinner.finish_and_clear();
    }
}
