//! What both shapes of the load bench share: loads run in rounds, the report with ratios.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::{psql, with_server_share};

/// A load: its label, application name and table, and what runs it (given the URL to
/// connect with), returning its seconds.
pub type Load<'a> = (&'a str, &'a str, &'a str, Box<dyn Fn(&str) -> f64 + 'a>);

/// Runs the loads in turn, [`rounds_wanted`] times; each load's median (seconds, busy share).
pub fn rounds<'a>(url: &str, loads: &'a [Load<'_>], rows: u64) -> Vec<(&'a str, (f64, f64))> {
    // Rounds in turn, each load from an empty table after a checkpoint, so that no load
    // pays for the writes of the one before; the median of the rounds is reported.
    let mut results: Vec<Vec<(f64, f64)>> = vec![Vec::new(); loads.len()];
    // Each round starts one load further on, so that no load always follows the same one.
    for round in 0..rounds_wanted() {
        let order = (0..loads.len()).map(|i| (i + round) % loads.len());
        for i in order {
            results[i].push(run(url, &loads[i], rows));
        }
    }
    let medians: Vec<(&str, (f64, f64))> = loads
        .iter()
        .zip(results)
        .map(|((label, ..), mut runs)| {
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            (*label, runs[runs.len() / 2])
        })
        .collect();
    medians
}

/// One load from an empty table after a checkpoint: (seconds, busy share); checks that
/// the table then holds `rows`.
fn run(url: &str, (_, application, table, load): &Load<'_>, rows: u64) -> (f64, f64) {
    psql(url, &format!("TRUNCATE {table}"));
    psql(url, "CHECKPOINT");
    let result = with_server_share(url, application, load);
    let count = Command::new("psql")
        .args(["-X", "-At", "-d", url, "-c", &format!("SELECT count(*) FROM {table}")])
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        rows.to_string(),
        "{table}"
    );
    result
}

/// A load run once, outside the rounds (pgloader: minutes a run): its label and result.
pub fn once<'a>(url: &str, load: &'a Load<'_>, rows: u64) -> (&'a str, (f64, f64)) {
    (load.0, run(url, load, rows))
}

/// Rounds per load: `PGBATCH_BENCH_ROUNDS`, 5 by default.
pub fn rounds_wanted() -> usize {
    std::env::var("PGBATCH_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5)
}

/// Prints the table of results: each load's median (seconds, server busy share), against
/// the server's own binary COPY from a file (the floor), pgpq's, psql's and pgloader's,
/// each found by its label.
pub fn report(title: &str, rows: u64, medians: &[(&str, (f64, f64))]) {
    #[expect(clippy::cast_precision_loss, reason = "row counts for a report")]
    let rate = |seconds: f64| rows as f64 / seconds / 1000.0;
    let peer = |prefix: &str| {
        medians
            .iter()
            .find(|(label, _)| label.starts_with(prefix) || label.ends_with(prefix))
            .map_or(f64::NAN, |(_, (seconds, _))| *seconds)
    };
    let peers = [peer("(floor)"), peer("pgpq"), peer("psql \\copy,"), peer("pgloader")];
    println!(
        "{title}: {rows} rows, median of {} rounds (pgloader: one run)",
        rounds_wanted()
    );
    println!("| load | s | k rows/s | vs floor | vs pgpq | vs psql \\copy | vs pgloader | server busy |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (label, (seconds, busy)) in medians {
        let ratios: Vec<String> = peers.iter().map(|p| format!("{:.2}x", p / seconds)).collect();
        println!(
            "| {label} | {seconds:.2} | {:.0} | {} | {:.0}% |",
            rate(*seconds),
            ratios.join(" | "),
            busy * 100.0
        );
    }
    println!(
        "(vs floor: the server's own COPY FROM a binary file, 1.00x at best; psql \\copy of that file: the floor through a socket, a client with no work; server busy: the share of the load in which its backend was not waiting for the client)"
    );
}

/// The two jobs of a shape, into `work`: `{prefix}csv.toml` loads the CSV into table
/// `{prefix}csv` (with `csv_source`, the lines after `[source]`), `{prefix}pq.toml` the
/// Parquet file into `{prefix}pq`.
pub fn jobs(work: &Path, prefix: &str, csv_source: &str) -> (PathBuf, PathBuf) {
    let (csv_job, pq_job) = (
        work.join(format!("{prefix}csv.toml")),
        work.join(format!("{prefix}pq.toml")),
    );
    let job = |kind: &str| format!("name = \"bench_{prefix}{kind}\"\ntable = \"{prefix}{kind}\"\n");
    std::fs::write(&csv_job, format!("{}[source]\n{csv_source}", job("csv"))).unwrap();
    std::fs::write(&pq_job, job("pq")).unwrap();
    (csv_job, pq_job)
}

/// The floor: the server's own `COPY FROM` a binary file it reads itself, no client work.
/// The file is written from `source` (a query) by psql's `\copy`, readable by the server.
pub fn floor_file(url: &str, source: &str, file: &Path) {
    psql(
        url,
        &format!("\\copy ({source}) TO '{}' (FORMAT binary)", file.display()),
    );
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == Path::new("/") {
            break;
        }
        let _ = Command::new("chmod").arg("a+rx").arg(d).status();
        dir = d.parent();
    }
    let _ = Command::new("chmod").arg("a+r").arg(file).status();
}

/// The floor for a client: psql's `\copy` of the same binary file, sent over the socket by
/// a client with nothing to parse or encode. What a socket costs the server over reading a
/// file itself is the gap between this and [`floor_load`]; no client can do better.
pub fn client_floor_load<'a>(table: &'a str, file: &'a Path) -> Box<dyn Fn(&str) -> f64 + 'a> {
    Box::new(move |url| {
        let started = Instant::now();
        psql(
            url,
            &format!("\\copy {table} FROM '{}' (FORMAT binary)", file.display()),
        );
        started.elapsed().as_secs_f64()
    })
}

/// A load of the floor file into `table`, for [`rounds`].
pub fn floor_load<'a>(table: &'a str, file: &'a Path) -> Box<dyn Fn(&str) -> f64 + 'a> {
    Box::new(move |url| {
        let started = Instant::now();
        psql(url, &format!("COPY {table} FROM '{}' (FORMAT binary)", file.display()));
        started.elapsed().as_secs_f64()
    })
}
