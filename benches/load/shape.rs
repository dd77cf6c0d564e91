//! What both shapes of the load bench share: loads run in rounds, the report with ratios.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::common::{pgbatch, psql, psql_rows, with_server_share};
use crate::{path, pgloader, python};

/// A load: its label, application name and table, and what runs it (given the URL to
/// connect with), returning its seconds.
pub type Load<'a> = (String, String, String, Box<dyn Fn(&str) -> f64 + 'a>);

/// A [`Load`] of those names.
pub fn load<'a>(label: &str, application: &str, table: &str, run: Box<dyn Fn(&str) -> f64 + 'a>) -> Load<'a> {
    (label.to_owned(), application.to_owned(), table.to_owned(), run)
}

/// A shape whose CSV and Parquet files are written, and how to read them: the job's
/// `[source]` lines for pgbatch, the COPY options for psql, the fields and NULL for pgloader.
pub struct Shape<'a> {
    pub title: &'a str,
    /// `CREATE TABLE {t} ...`: each load's table is made from it.
    pub table: &'a str,
    /// Its tables' prefix.
    pub prefix: &'a str,
    pub rows: u64,
    pub csv: &'a Path,
    pub parquet: &'a Path,
    pub csv_source: &'a str,
    pub csv_options: &'a str,
    pub fields: &'a [&'a str],
    pub header: bool,
    pub null: Option<&'a str>,
}

/// Runs a shape: writes its jobs, loads the CSV once to write the floor's binary file from,
/// runs the [`standard`] loads in rounds and pgloader once, and prints the report.
pub fn run_shape(repo: &Path, work: &Path, url: &str, shape: &Shape<'_>) {
    let prefix = shape.prefix;
    let create = |table: &str| psql(url, &shape.table.replace("{t}", table));
    let (csv_job, pq_job) = jobs(work, prefix, shape.csv_source);
    create(&format!("{prefix}csv"));
    pgbatch(url, &["load", path(&csv_job), path(shape.csv)]);
    let floor = work.join(format!("{prefix}floor.bin"));
    floor_file(url, &format!("SELECT * FROM {prefix}csv"), &floor);
    let pgpq_script = repo.join("benches/peers/pgpq_load.py");
    let files = Files {
        csv: shape.csv,
        csv_options: shape.csv_options,
        parquet: shape.parquet,
        floor: &floor,
        csv_job: &csv_job,
        pq_job: &pq_job,
        pgpq_script: &pgpq_script,
    };
    let loads = standard(prefix, &files);
    for (_, _, table, _) in loads.iter().filter(|load| load.2 != format!("{prefix}csv")) {
        create(table);
    }
    let mut medians = rounds(url, &loads, shape.rows);
    let csv = pgloader::Csv {
        file: shape.csv,
        fields: shape.fields,
        header: shape.header,
        null: shape.null,
    };
    let (application, table) = (format!("bench_{prefix}pgloader"), format!("{prefix}pgloader"));
    create(&table);
    let by_pgloader = pgloader::peer(work, "pgloader, CSV", &application, &table, csv);
    medians.push(once(url, &by_pgloader, shape.rows));
    report(shape.title, shape.rows, &medians);
}

/// What a shape's standard loads read: its CSV (and psql's COPY options for it), its
/// Parquet file, the floor's binary file, pgbatch's two jobs ([`jobs`]) and pgpq's script.
pub struct Files<'a> {
    pub csv: &'a Path,
    pub csv_options: &'a str,
    pub parquet: &'a Path,
    pub floor: &'a Path,
    pub csv_job: &'a Path,
    pub pq_job: &'a Path,
    pub pgpq_script: &'a Path,
}

/// The loads every shape runs, each into its own table (`{prefix}copy`, `{prefix}pgpq`,
/// `{prefix}floor`, `{prefix}cfloor`, `{prefix}csv`, `{prefix}pq`): psql's `\copy` of the CSV,
/// pgpq + psycopg of the Parquet file, both floors, and pgbatch of each file.
pub fn standard<'a>(prefix: &str, files: &'a Files<'a>) -> Vec<Load<'a>> {
    let name = |what: &str| (format!("bench_{prefix}{what}"), format!("{prefix}{what}"));
    let (copy_app, copy_into) = (format!("bench_{prefix}psql"), format!("{prefix}copy"));
    let (pgpq_app, pgpq_table) = name("pgpq");
    let pgpq_into = pgpq_table.clone();
    let pgbatch_run = |job: &'a Path, file: &'a Path| -> Box<dyn Fn(&str) -> f64 + 'a> {
        Box::new(move |url| pgbatch(url, &["load", "--force", path(job), path(file)]))
    };
    vec![
        (
            "psql \\copy, CSV".to_owned(),
            copy_app,
            copy_into.clone(),
            Box::new(move |url| {
                let started = Instant::now();
                psql(
                    url,
                    &format!(
                        "\\copy {copy_into} FROM '{}' ({})",
                        files.csv.display(),
                        files.csv_options
                    ),
                );
                started.elapsed().as_secs_f64()
            }),
        ),
        (
            "pgpq + psycopg, Parquet".to_owned(),
            pgpq_app,
            pgpq_table,
            Box::new(move |url| {
                python(&[path(files.pgpq_script), url, &pgpq_into, path(files.parquet)])
                    .trim()
                    .parse()
                    .expect("the pgpq script prints its seconds")
            }),
        ),
        {
            let (app, table) = name("floor");
            (
                "server COPY FROM binary file (floor)".to_owned(),
                app,
                table.clone(),
                floor_load(&table, files.floor),
            )
        },
        {
            let (app, table) = name("cfloor");
            (
                "psql \\copy of that binary file (no client work)".to_owned(),
                app,
                table.clone(),
                client_floor_load(&table, files.floor),
            )
        },
        {
            let (app, table) = name("csv");
            (
                "pgbatch, CSV".to_owned(),
                app,
                table,
                pgbatch_run(files.csv_job, files.csv),
            )
        },
        {
            let (app, table) = name("pq");
            (
                "pgbatch, Parquet".to_owned(),
                app,
                table,
                pgbatch_run(files.pq_job, files.parquet),
            )
        },
    ]
}

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
            (label.as_str(), runs[runs.len() / 2])
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
    let count = psql_rows(url, &format!("SELECT count(*) FROM {table}"));
    assert_eq!(count, rows.to_string(), "{table}");
    result
}

/// A load run once, outside the rounds (pgloader: minutes a run): its label and result.
pub fn once<'a>(url: &str, load: &'a Load<'_>, rows: u64) -> (&'a str, (f64, f64)) {
    (load.0.as_str(), run(url, load, rows))
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
pub fn client_floor_load<'a>(table: &str, file: &'a Path) -> Box<dyn Fn(&str) -> f64 + 'a> {
    let table = table.to_owned();
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
pub fn floor_load<'a>(table: &str, file: &'a Path) -> Box<dyn Fn(&str) -> f64 + 'a> {
    let table = table.to_owned();
    Box::new(move |url| {
        let started = Instant::now();
        psql(url, &format!("COPY {table} FROM '{}' (FORMAT binary)", file.display()));
        started.elapsed().as_secs_f64()
    })
}
