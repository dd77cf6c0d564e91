//! End-to-end load, side by side with the peers, in one run on one private cluster: the 12
//! Beijing multi-site files (420,768 wide rows, 4,556,243 long rows).
//!
//! 1. `pgbatch load` of the 12 wide files, unpivoted on the way (this also makes the long
//!    rows, written out as CSV and, by pyarrow, as Parquet, untimed).
//! 2. `psql \copy` of the long CSV (peer).
//! 3. pgpq + psycopg 3 of the long Parquet (peer: Arrow to binary COPY, the fastest known
//!    client; timed by the script from connect to commit, so Python's start is not counted).
//! 4. `pgbatch load` of the long CSV, 5. of the long Parquet (timed as whole processes).
//!
//! 6. The floor: the server's own `COPY FROM` a binary file of the same rows; and the same
//!    file sent by psql's `\copy`, the floor through a socket (a client with no work).
//! 7. pgloader of the long CSV (peer; once, outside the rounds: `load/pgloader.rs`).
//! 8. The wide shape (`load/wide.rs`): the 12 files' 18 columns as they are, twelve times
//!    over (5,049,216 rows), by the same peers, the floor, and pgbatch from CSV and Parquet.
//! 9. The narrow shape (`load/narrow.rs`): 20,000,000 rows of 3 columns made from the long
//!    rows, by the same peers.
//!
//! `cargo bench --bench load -- long`, `-- wide` or `-- narrow` runs one shape; `PGBATCH_BENCH_ROUNDS`
//! sets the rounds (5).
//! Each into a fresh unindexed table; reports seconds, rows/s, the ratios, and how busy the
//! server was: the share of `pg_stat_activity` samples, over the whole load, in which the
//! load's backend was active and not waiting for its client (`ClientRead`).
//! Run: cargo bench --bench load   (needs PostgreSQL's server binaries, like the tests, and
//! `pip install pgpq 'psycopg[binary]' pyarrow` and `apt-get install pgloader`)

mod common;
#[path = "load/narrow.rs"]
mod narrow;
#[path = "load/pgloader.rs"]
mod pgloader;
#[path = "load/shape.rs"]
mod shape;
#[path = "load/wide.rs"]
mod wide;

use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Instant;

use common::{beijing_files, pgbatch, psql};
use pgbatch::embedded::Cluster;
use shape::{Load, client_floor_load, floor_file, floor_load, load, once, report, rounds};

const LONG_ROWS: u64 = 4_556_243;
const LONG_FIELDS: [&str; 7] = ["station", "parameter", "time", "value", "unit", "latitude", "longitude"];

#[expect(
    clippy::too_many_lines,
    reason = "the benchmark as one script: set up, each peer in turn, the table of ratios"
)]
fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for a listing
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = beijing_files(&repo);
    let work = tempfile::tempdir().unwrap();
    let cluster_dir = work.path().join("cluster");
    let cluster = Cluster::start(&cluster_dir).expect("a private cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cluster.ensure_database("bench")).unwrap();
    let url = cluster.url("bench");
    let migrations = repo.join("sql/migrations");
    pgbatch(&url, &["migrate", "--dir", path(&migrations)]);
    let table = "CREATE TABLE {t} (station text NOT NULL, parameter text NOT NULL, time timestamptz NOT NULL, \
                 value double precision, unit text, latitude double precision, longitude double precision) \
                 WITH (autovacuum_enabled = false)";
    for t in [
        "wide_in",
        "peer_copy",
        "peer_pgpq",
        "floor_in",
        "long_in",
        "long_pq",
        "peer_pgloader",
        "cfloor_in",
    ] {
        psql(&url, &table.replace("{t}", t));
    }
    let jobs = work.path();
    write_jobs(&repo, jobs);

    let (wide_path, long_job, pq_job) = (
        jobs.join("wide.toml"),
        jobs.join("long.toml"),
        jobs.join("long_pq.toml"),
    );
    let wide_args: Vec<&str> = ["load", path(&wide_path)]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    pgbatch(&url, &wide_args);
    let csv = work.path().join("long.csv");
    psql(
        &url,
        &format!(
            "\\copy (SELECT station, parameter, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
             value, unit, latitude, longitude FROM wide_in) TO '{}' (FORMAT csv)",
            csv.display()
        ),
    );
    let parquet = work.path().join("long.parquet");
    python(&[
        path(&repo.join("benches/peers/to_parquet.py")),
        path(&csv),
        path(&parquet),
    ]);

    let floor = work.path().join("long.bin");
    floor_file(&url, "SELECT * FROM wide_in", &floor);
    let pgpq_script = repo.join("benches/peers/pgpq_load.py");
    let wide_forced: Vec<&str> = ["load", "--force", path(&wide_path)]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    let shapes: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |shape: &str| shapes.is_empty() || shapes.iter().any(|s| s == shape);
    let loads: [Load<'_>; 7] = [
        load(
            "psql \\copy, long CSV",
            "bench_psql",
            "peer_copy",
            Box::new(|url| {
                let started = Instant::now();
                psql(url, &format!("\\copy peer_copy FROM '{}' (FORMAT csv)", csv.display()));
                started.elapsed().as_secs_f64()
            }),
        ),
        load(
            "pgpq + psycopg, long Parquet",
            "bench_pgpq",
            "peer_pgpq",
            Box::new(|url| {
                python(&[path(&pgpq_script), url, "peer_pgpq", path(&parquet)])
                    .trim()
                    .parse()
                    .expect("the pgpq script prints its seconds")
            }),
        ),
        load(
            "server COPY FROM binary file (floor)",
            "bench_floor",
            "floor_in",
            floor_load("floor_in", &floor),
        ),
        load(
            "psql \\copy of that binary file (no client work)",
            "bench_cfloor",
            "cfloor_in",
            client_floor_load("cfloor_in", &floor),
        ),
        load(
            "pgbatch, long CSV",
            "bench_long",
            "long_in",
            Box::new(|url| pgbatch(url, &["load", "--force", path(&long_job), path(&csv)])),
        ),
        load(
            "pgbatch, long Parquet",
            "bench_long_pq",
            "long_pq",
            Box::new(|url| pgbatch(url, &["load", "--force", path(&pq_job), path(&parquet)])),
        ),
        load(
            "pgbatch, 12 wide CSV files",
            "bench_wide",
            "wide_in",
            Box::new(|url| pgbatch(url, &wide_forced)),
        ),
    ];
    if wanted("long") {
        let mut medians = rounds(&url, &loads, LONG_ROWS);
        let csv_file = pgloader::Csv {
            file: &csv,
            fields: &LONG_FIELDS,
            header: false,
            null: None,
        };
        let by_pgloader = pgloader::peer(
            work.path(),
            "pgloader, long CSV",
            "bench_pgloader",
            "peer_pgloader",
            csv_file,
        );
        medians.push(once(&url, &by_pgloader, LONG_ROWS));
        report("load/beijing long (7 columns)", LONG_ROWS, &medians);
    }
    if wanted("wide") {
        wide::run(&repo, work.path(), &url, &files);
    }
    if wanted("narrow") {
        narrow::run(&repo, work.path(), &url, "wide_in");
    }
    cluster.stop().unwrap();
}

/// Jobs for the wide files (the shipped job, into `wide_in`), the long CSV and the long
/// Parquet.
fn write_jobs(repo: &Path, jobs: &Path) {
    let wide_job = std::fs::read_to_string(repo.join("jobs/air_quality_beijing.toml"))
        .unwrap()
        .replace("table = \"measurements\"", "table = \"wide_in\"")
        .replace("name = ", "# name = ");
    std::fs::write(jobs.join("wide.toml"), format!("name = \"bench_wide\"\n{wide_job}")).unwrap();
    std::fs::write(
        jobs.join("long.toml"),
        "name = \"bench_long\"\ntable = \"long_in\"\n[source]\nheader = false\n\
         fields = [\"station\", \"parameter\", \"time\", \"value\", \"unit\", \"latitude\", \"longitude\"]\n",
    )
    .unwrap();
    std::fs::write(
        jobs.join("long_pq.toml"),
        "name = \"bench_long_pq\"\ntable = \"long_pq\"\n",
    )
    .unwrap();
}

/// Runs a Python script of `benches/peers`; returns what it printed.
fn python(args: &[&str]) -> String {
    let out = Command::new("python3").args(args).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 {args:?} failed (pip install pgpq 'psycopg[binary]' pyarrow): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
