//! Shards and one finalize against one plain load, on one private cluster: the 12 Beijing
//! files (420,768 wide rows, 4,556,243 rows of `measurements`, with its primary key, as
//! the shipped job loads them), loaded
//!
//! 1. by one `pgbatch load`;
//! 2. by 2 shard processes at once, then `pgbatch finalize`;
//! 3. by 4 shard processes at once, then `pgbatch finalize`.
//!
//! Each round starts from an empty table; the median of the rounds is reported, with the
//! finalize's share of the sharded total.
//!
//! Then, once, the ways finalize could make 4 staged shards visible, on the same staged
//! rows: what pgbatch does (one `INSERT ... SELECT` from the staging tables); prepared
//! transactions (each shard inserts into the target itself and prepares, finalize runs the
//! `COMMIT PREPARED`s); and attaching partitions (each shard adds the batch column, its
//! CHECK and the key's index to its table, finalize attaches the tables to a target
//! partitioned by batch). For each: the work the shards would take on, all at once, and
//! finalize's own time. Shards copy into unindexed staging tables;
//! finalize is one `INSERT ... SELECT` into the target (it does the index and WAL work a
//! plain load does, in one backend), so on a server with few cores sharding buys little:
//! what it buys is the files' parsing spread over machines, and that grows with their
//! number.
//! Run: cargo bench --bench shards   (needs PostgreSQL's server binaries, like the tests)

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{beijing_files, pgbatch, psql, psql_at_once, psql_rows, psql_timed};
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
    // Prepared transactions, for the alternatives (the server must be restarted for it).
    psql(&url, "ALTER SYSTEM SET max_prepared_transactions = 8");
    cluster.stop().unwrap();
    let cluster = Cluster::start(&work.path().join("cluster")).expect("the private cluster again");
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
    let ways = alternatives(&url, &job, &files);
    cluster.stop().unwrap();
    report(&plain, &sharded);
    println!("How finalize could make 4 staged shards visible (one round, the same staged rows):");
    for way in ways {
        println!(
            "  {:<44} shards +{:>6.2} s   finalize {:>6.2} s   {}",
            way.name, way.shards, way.finalize, way.but
        );
    }
}

/// One way of making staged shards visible, timed.
struct Way {
    name: &'static str,
    /// What the shards would do more, all at once.
    shards: f64,
    finalize: f64,
    /// What it gives up.
    but: &'static str,
}

// language=PostgreSQL
const PRIMARY_KEY_SQL: &str = "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n) \
     FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, n), pg_attribute a \
     WHERE i.indrelid = 'measurements'::regclass AND i.indisprimary \
       AND a.attrelid = i.indrelid AND a.attnum = k.attnum";

/// The three ways, on 4 shards staged once.
fn alternatives(url: &str, job: &str, files: &[String]) -> Vec<Way> {
    empty(url);
    run_shards(url, job, files, 4, "alternatives");
    let staging: Vec<String> = psql_rows(url, "SELECT staging_table FROM pgbatch.shards ORDER BY shard_index")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(staging.len(), 4, "4 shards staged");
    let key = psql_rows(url, PRIMARY_KEY_SQL);
    let union: Vec<String> = staging.iter().map(|t| format!("SELECT * FROM {t}")).collect();
    let insert = psql_timed(
        url,
        &[format!("INSERT INTO measurements {}", union.join(" UNION ALL "))],
    );
    let mut ways = vec![Way {
        name: "INSERT ... SELECT (pgbatch finalize)",
        shards: 0.0,
        finalize: insert,
        but: "one atomic step, every mode",
    }];
    empty(url);
    let prepare: Vec<Vec<String>> = staging
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                "BEGIN".to_owned(),
                format!("INSERT INTO measurements SELECT * FROM {t}"),
                format!("PREPARE TRANSACTION 'bench_{i}'"),
            ]
        })
        .collect();
    let shards = psql_at_once(url, &prepare);
    let commits: Vec<String> = (0..staging.len())
        .map(|i| format!("COMMIT PREPARED 'bench_{i}'"))
        .collect();
    ways.push(Way {
        name: "prepared transactions (COMMIT PREPARED)",
        shards,
        finalize: psql_timed(url, &commits),
        but: "4 commits, not one atomic step; locks and vacuum held until finalize",
    });
    empty(url);
    psql(
        url,
        "CREATE TABLE measurements_by_batch (LIKE measurements INCLUDING DEFAULTS, batch text NOT NULL) \
         PARTITION BY LIST (batch)",
    );
    psql(
        url,
        &format!("CREATE UNIQUE INDEX ON measurements_by_batch ({key}, batch)"),
    );
    let prepare: Vec<Vec<String>> = staging
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                format!("ALTER TABLE {t} ADD COLUMN batch text NOT NULL DEFAULT 'bench_{i}'"),
                format!("ALTER TABLE {t} ADD CHECK (batch = 'bench_{i}')"),
                format!("CREATE UNIQUE INDEX ON {t} ({key}, batch)"),
            ]
        })
        .collect();
    let shards = psql_at_once(url, &prepare);
    let attach: Vec<String> = std::iter::once("BEGIN".to_owned())
        .chain(staging.iter().enumerate().map(|(i, t)| {
            format!("ALTER TABLE measurements_by_batch ATTACH PARTITION {t} FOR VALUES IN ('bench_{i}')")
        }))
        .chain(std::iter::once("COMMIT".to_owned()))
        .collect();
    ways.push(Way {
        name: "attach partitions",
        shards,
        finalize: psql_timed(url, &attach),
        but: "append only; the key must hold the batch: no upsert, no replace",
    });
    psql(url, "DROP TABLE measurements_by_batch; DELETE FROM pgbatch.shards");
    ways
}

/// An empty target and ledger.
fn empty(url: &str) {
    psql(
        url,
        "TRUNCATE measurements; TRUNCATE pgbatch.batches CASCADE; CHECKPOINT",
    );
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
