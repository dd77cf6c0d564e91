//! End-to-end load, side by side with `psql \copy`, in one run on one private cluster:
//! the 12 Beijing multi-site files (420,768 wide rows, 4,556,243 long rows).
//!
//! 1. `psql \copy` of the long rows as CSV (the peer; the CSV is made first, untimed).
//! 2. `pgbatch load` of the same long CSV.
//! 3. `pgbatch load` of the 12 wide files, unpivoted on the way.
//!
//! Each into a fresh unindexed table; reports seconds, rows/s and the ratios.
//! Run: cargo bench --bench load   (needs PostgreSQL's server binaries, like the tests)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use std::time::Instant;

use common::pgbatch;
use pgbatch::embedded::Cluster;

const LONG_ROWS: u64 = 4_556_243;

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "psql failed: {sql}");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for a listing
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let beijing = repo.join("../shared/data/air_quality/beijing_multisite");
    let mut files: Vec<String> = std::fs::read_dir(&beijing)
        .expect("../shared/data is beside the repository")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    let work = tempfile::tempdir().unwrap();
    let cluster_dir = work.path().join("cluster");
    let cluster = Cluster::start(&cluster_dir).expect("a private cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cluster.ensure_database("bench")).unwrap();
    let url = cluster.url("bench");
    let migrations = repo.join("sql/migrations");
    pgbatch(&url, &["migrate", "--dir", path(&migrations)]);
    let table = "CREATE TABLE {t} (station text NOT NULL, parameter text NOT NULL, time timestamptz NOT NULL, \
                 value double precision, unit text, latitude double precision, longitude double precision)";
    for t in ["wide_in", "peer_copy", "long_in"] {
        psql(&url, &table.replace("{t}", t));
    }
    let jobs = work.path();
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

    // 3 first: it also makes the long rows that 1 and 2 load.
    let (wide_path, long_job) = (jobs.join("wide.toml"), jobs.join("long.toml"));
    let wide_args: Vec<&str> = ["load", path(&wide_path)]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    let wide = pgbatch(&url, &wide_args);
    let csv = work.path().join("long.csv");
    psql(&url, &format!("\\copy wide_in TO '{}' (FORMAT csv)", csv.display()));

    let started = Instant::now();
    psql(&url, &format!("\\copy peer_copy FROM '{}' (FORMAT csv)", csv.display()));
    let peer = started.elapsed().as_secs_f64();
    let long = pgbatch(&url, &["load", path(&long_job), path(&csv)]);
    cluster.stop().unwrap();

    #[expect(clippy::cast_precision_loss, reason = "row counts for a report")]
    let rate = |seconds: f64| LONG_ROWS as f64 / seconds / 1000.0;
    println!("load/beijing  rows {LONG_ROWS}");
    println!(
        "  psql \\copy, long CSV        {peer:>7.2} s  {:>6.0}k rows/s",
        rate(peer)
    );
    println!(
        "  pgbatch, long CSV           {long:>7.2} s  {:>6.0}k rows/s  {:.2}x psql \\copy",
        rate(long),
        peer / long
    );
    println!(
        "  pgbatch, 12 wide files      {wide:>7.2} s  {:>6.0}k rows/s  {:.2}x psql \\copy",
        rate(wide),
        peer / wide
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
