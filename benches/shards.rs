//! Shards and one finalize against one plain load, on one private cluster: the 12 Beijing
//! files (420,768 wide rows, 4,556,243 rows of `measurements`, with its primary key, as
//! the shipped job loads them), loaded
//!
//! 1. by one `pgbatch load`;
//! 2. by 2 shard processes at once, then `pgbatch finalize`;
//! 3. by 4 shard processes at once, then `pgbatch finalize`.
//!
//! Each round starts from an empty table; the median of the rounds is reported, with the
//! finalize's share of the sharded total. Shards copy into unindexed staging tables;
//! finalize is one `INSERT ... SELECT` into the target (it does the index and WAL work a
//! plain load does, in one backend), so on a server with few cores sharding buys little:
//! what it buys is the files' parsing spread over machines, and that grows with their
//! number.
//! Run: cargo bench --bench shards   (needs PostgreSQL's server binaries, like the tests)

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{beijing_files, pgbatch, psql};
use pgbatch::embedded::Cluster;

const ROUNDS: usize = 3;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for a listing
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = beijing_files(&repo);
    let work = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&work.path().join("cluster")).expect("a private cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cluster.ensure_database("bench")).unwrap();
    let url = cluster.url("bench");
    let migrations = repo.join("sql/migrations");
    pgbatch(&url, &["migrate", "--dir", &migrations.display().to_string()]);
    let job = repo.join("jobs/air_quality_beijing.toml").display().to_string();

    let mut plain = Vec::new();
    let mut sharded: [(u32, Vec<(f64, f64)>); 2] = [(2, Vec::new()), (4, Vec::new())];
    for round in 0..ROUNDS {
        empty(&url);
        let args: Vec<&str> = ["load", "--force", &job]
            .into_iter()
            .chain(files.iter().map(String::as_str))
            .collect();
        plain.push(pgbatch(&url, &args));
        for (shards, times) in &mut sharded {
            empty(&url);
            let key = format!("bench-{round}-{shards}");
            let staged = run_shards(&url, &job, &files, *shards, &key);
            let finalized = pgbatch(&url, &["finalize", "--force", &job, "--batch-key", &key]);
            times.push((staged, finalized));
        }
    }
    cluster.stop().unwrap();
    report(&plain, &sharded);
}

/// An empty target and ledger.
fn empty(url: &str) {
    psql(url, "TRUNCATE measurements; TRUNCATE pgbatch.batches; CHECKPOINT");
}

/// Every shard at once; the seconds until the last one is done.
fn run_shards(url: &str, job: &str, files: &[String], shards: u32, key: &str) -> f64 {
    let started = Instant::now();
    let children: Vec<_> = (0..shards)
        .map(|index| {
            Command::new(env!("CARGO_BIN_EXE_pgbatch"))
                .args(["load", job])
                .args(files)
                .args(["--shards", &shards.to_string(), "--shard-index", &index.to_string()])
                .args(["--batch-key", key])
                .env("DATABASE_URL", url)
                .env("PGBATCH_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .expect("pgbatch runs")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a shard failed");
    }
    started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report(plain: &[f64], sharded: &[(u32, Vec<(f64, f64)>)]) {
    let plain = median(plain.to_vec());
    println!("12 Beijing files into measurements (primary key), median of {ROUNDS} rounds:");
    println!("  one load                          {plain:>7.2} s   1.00x");
    for (shards, times) in sharded {
        let staged = median(times.iter().map(|t| t.0).collect());
        let finalized = median(times.iter().map(|t| t.1).collect());
        let total = staged + finalized;
        println!(
            "  {shards} shards {staged:>6.2} s + finalize {finalized:>6.2} s = {total:>7.2} s   {:.2}x   (finalize {:.0}% of it)",
            plain / total,
            100.0 * finalized / total
        );
    }
}
