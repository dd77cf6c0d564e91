//! Array-job shards and one finalize, through the binary: N shard processes in parallel
//! plus `finalize` give the table one plain load of the same files gives; a shard killed
//! mid-load leaves nothing, and finalize names it until it is run again; `gc`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, command, pgbatch, pgbatch_with, stderr};
use crate::mapping::{file, job_file, to_parquet};
use crate::pg::{TestDb, shared};

fn json(out: &Output) -> serde_json::Value {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// One digest of a whole table: md5 over its rows as text, sorted.
fn digest(db: &TestDb, table: &str) -> String {
    db.query(&format!(
        "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} t"
    ))
}

/// The first `n` Beijing files (35,064 rows each, SOURCE.md).
fn beijing(n: usize) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(shared("air_quality/beijing_multisite"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.to_ascii_lowercase().ends_with(".csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "SOURCE.md: 12 Beijing files");
    files.truncate(n);
    files
}

/// One batch of a job's files, to be loaded in shards under one key.
struct Batch<'a> {
    dir: &'a Path,
    db: &'a TestDb,
    job: &'a str,
    files: &'a [String],
    key: &'a str,
}

impl Batch<'_> {
    /// Starts shard `index` of `shards`.
    fn start(&self, shards: u32, index: u32, env: &[(&str, &str)]) -> Child {
        let (shards, index) = (shards.to_string(), index.to_string());
        let mut args = vec!["--json", "load", self.job];
        args.extend(self.files.iter().map(String::as_str));
        args.extend(["--shards", &shards, "--shard-index", &index, "--batch-key", self.key]);
        command(self.dir, Some(&self.db.url()), &args, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Runs every shard of a batch at once; each must end staged. Their summaries.
fn run_shards(dir: &Path, db: &TestDb, job: &str, files: &[String], shards: u32, key: &str) -> Vec<serde_json::Value> {
    let batch = Batch {
        dir,
        db,
        job,
        files,
        key,
    };
    let children: Vec<Child> = (0..shards).map(|i| batch.start(shards, i, &[])).collect();
    let mut summaries = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "shard {i}: {}", stderr(&out));
        let summary = json(&out);
        assert_eq!(summary["status"], "staged", "shard {i}: {summary}");
        assert_eq!(summary["shard"]["index"], i, "{summary}");
        summaries.push(summary);
    }
    summaries
}

fn finalize(dir: &Path, db: &TestDb, job: &str, key: &str) -> Output {
    pgbatch(dir, Some(&db.url()), &["--json", "finalize", job, "--batch-key", key])
}

/// Shards plus finalize against one plain load of the same files, in a second database.
fn same_as_plain_load(
    dir: &Path,
    job: &str,
    table: &str,
    files: &[String],
    setup: &str,
    shards: u32,
) -> (String, serde_json::Value) {
    let (plain, sharded) = (TestDb::new(), TestDb::new());
    for db in [&plain, &sharded] {
        if !setup.is_empty() {
            db.query(setup);
        }
    }
    let mut args = vec!["--json", "load", job];
    args.extend(files.iter().map(String::as_str));
    let out = pgbatch(dir, Some(&plain.url()), &args);
    assert_eq!(code(&out), 0, "plain load: {}", stderr(&out));
    let before = digest(&sharded, table);
    run_shards(dir, &sharded, job, files, shards, "array-1");
    assert_eq!(
        digest(&sharded, table),
        before,
        "nothing of the shards is visible before finalize"
    );
    let out = finalize(dir, &sharded, job, "array-1");
    assert_eq!(code(&out), 0, "finalize: {}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["status"], "loaded", "{summary}");
    assert_eq!(
        digest(&sharded, table),
        digest(&plain, table),
        "{job}: shards + finalize = one load"
    );
    // One ledger row, with the content hash a plain load of the same files has, and no
    // staging left.
    assert_eq!(
        sharded.query("SELECT count(*), max(batch_key), max(content_hash) FROM pgbatch.batches"),
        format!("1|array-1|{}", plain.query("SELECT content_hash FROM pgbatch.batches"))
    );
    assert_eq!(
        sharded.query("SELECT (SELECT count(*) FROM pgbatch.shards) + (SELECT count(*) FROM pg_tables WHERE schemaname = 'pgbatch_staging')"),
        "0"
    );
    (digest(&sharded, table), summary)
}

#[test]
fn beijing_files_in_three_shards_append_like_one_load() {
    let dir = tempfile::tempdir().unwrap();
    let (digest, summary) = same_as_plain_load(dir.path(), "air_quality_beijing", "measurements", &beijing(4), "", 3);
    // SOURCE.md: 35,064 rows per station file, 11 parameters each, NA values not loaded.
    assert!(
        digest.starts_with(&format!("{} ", summary["rows_loaded"])),
        "{digest} {summary}"
    );
    assert_eq!(summary["rows_read"], 4 * 35_064, "{summary}");
    assert_eq!(summary["files"], 4, "{summary}");
}

/// Rows in `files` files of `rows` keys each; keys 0.. across files, each key once.
fn kv_files(dir: &Path, files: usize, rows: usize, tag: &str) -> Vec<String> {
    (0..files)
        .map(|f| {
            let mut text = String::from("k,v\n");
            for r in 0..rows {
                let k = f * rows + r;
                writeln!(text, "{k},{tag}-{k}-{}", k * 7 % 13).unwrap();
            }
            file(dir, &format!("part-{f}.csv"), &text)
        })
        .collect()
}

#[test]
fn shards_upsert_and_replace_like_one_load() {
    let dir = tempfile::tempdir().unwrap();
    let setup = "CREATE TABLE kv (k integer PRIMARY KEY, v text);
                 INSERT INTO kv SELECT k, 'old-' || k FROM generate_series(5000, 12000) k;";
    let files = kv_files(dir.path(), 5, 2000, "new");
    for mode in ["upsert", "replace"] {
        let key = if mode == "upsert" { "key = [\"k\"]\n" } else { "" };
        let job = job_file(
            dir.path(),
            &format!("kv_{mode}"),
            &format!("table = \"kv\"\nmode = \"{mode}\"\n{key}"),
        );
        let (digest, summary) = same_as_plain_load(dir.path(), &job, "kv", &files, setup, 4);
        let expected = if mode == "upsert" { "12001 " } else { "10000 " };
        assert!(digest.starts_with(expected), "{mode}: {digest}");
        assert_eq!(summary["rows_loaded"], 10_000, "{mode}: {summary}");
    }
}

#[test]
fn one_large_parquet_file_is_split_by_row_groups_across_the_shards() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 rows in one Parquet file of 10 row groups (pyarrow's writer, 2,000 rows each).
    let csv = kv_files(dir.path(), 1, 20_000, "big").remove(0);
    let parquet = dir.path().join("big.parquet");
    to_parquet(Path::new(&csv), &parquet, &["--row-group-rows", "2000"]);
    let setup = "CREATE TABLE kv (k integer PRIMARY KEY, v text);
                 INSERT INTO kv SELECT k, 'old-' || k FROM generate_series(15000, 25000) k;";
    let (by_hand, sharded) = (TestDb::new(), TestDb::new());
    for db in [&by_hand, &sharded] {
        db.query(setup);
    }
    // The expected table: the CSV the Parquet file was written from, upserted through psql.
    by_hand.query(&format!(
        "CREATE TEMP TABLE s (LIKE kv);\n\\copy s FROM '{csv}' (FORMAT csv, HEADER)\n\
         INSERT INTO kv SELECT * FROM s ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
    ));
    let job = job_file(dir.path(), "kv", "table = \"kv\"\nmode = \"upsert\"\nkey = [\"k\"]\n");
    let files = [parquet.display().to_string()];
    let summaries = run_shards(dir.path(), &sharded, &job, &files, 3, "one-file");
    for summary in &summaries {
        // Every shard read part of the one file.
        assert_eq!(summary["files"], 1, "{summary}");
        let staged = summary["shard"]["rows_staged"].as_u64().unwrap_or(0);
        assert!(staged > 0 && staged < 20_000, "{summary}");
        assert_eq!(staged % 2000, 0, "whole row groups: {summary}");
    }
    let out = finalize(dir.path(), &sharded, &job, "one-file");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(
        (summary["files"].clone(), summary["rows_read"].clone()),
        (1.into(), 20_000.into()),
        "{summary}"
    );
    assert_eq!(digest(&sharded, "kv"), digest(&by_hand, "kv"));
    assert!(digest(&sharded, "kv").starts_with("25001 "));
    // The ledger knows the file once, with all its rows.
    assert_eq!(
        sharded.query("SELECT jsonb_array_length(sources), sources->0->>'rows' FROM pgbatch.batches"),
        "1|20000"
    );
}

/// Waits until the database shows a COPY into a staging table going on.
fn wait_for_copy(db: &TestDb) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while db
        .query("SELECT count(*) FROM pg_stat_progress_copy WHERE datname = current_database() AND tuples_processed > 0")
        == "0"
    {
        assert!(Instant::now() < deadline, "the shard's COPY never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_shard_killed_mid_load_leaves_nothing_and_finalize_names_it_until_it_is_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let files = beijing(6);
    let job = "air_quality_beijing";
    // Shard 1 stops after its first chunk, its COPY open, and is killed there.
    let batch = Batch {
        dir: dir.path(),
        db: &db,
        job,
        files: &files,
        key: "array-7",
    };
    let mut stuck = batch.start(3, 1, &[("FAILPOINTS", "source::next_chunk=1*off->sleep(60000)")]);
    wait_for_copy(&db);
    stuck.kill().unwrap();
    stuck.wait().unwrap();
    for i in [0, 2] {
        let out = batch.start(3, i, &[]).wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "shard {i}: {}", stderr(&out));
    }
    // The killed shard's transaction is rolled back once the server sees it gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY%'")
        != "0"
    {
        assert!(Instant::now() < deadline, "the killed shard's backend stays");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(db.query("SELECT count(*) FROM measurements"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    assert_eq!(
        db.query("SELECT string_agg(shard_index::text, ',' ORDER BY shard_index) FROM pgbatch.shards"),
        "0,2"
    );
    let out = finalize(dir.path(), &db, job, "array-7");
    let message = stderr(&out);
    assert_eq!(code(&out), 75, "{message}");
    assert!(message.contains("shard 1 of 3 is not recorded"), "{message}");
    assert_eq!(db.query("SELECT count(*) FROM measurements"), "0");
    // The retry, through the array job's environment this time.
    let out = pgbatch_with(
        dir.path(),
        Some(&db.url()),
        &[
            &["--json", "load", job],
            files.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            &["--shards", "3"],
        ]
        .concat(),
        &[("AWS_BATCH_JOB_ARRAY_INDEX", "1"), ("AWS_BATCH_JOB_ID", "array-7:1")],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["shard"]["batch_key"], "array-7");
    let out = finalize(dir.path(), &db, job, "array-7");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = json(&out);
    assert_eq!(first["status"], "loaded", "{first}");
    assert_eq!(first["rows_read"], 6 * 35_064, "SOURCE.md's row count: {first}");
    // Finalize again, and a shard run late: no-ops naming the batch.
    let out = finalize(dir.path(), &db, job, "array-7");
    assert_eq!((code(&out), json(&out)["status"].clone()), (0, "already_loaded".into()));
    assert_eq!(json(&out)["batch_id"], first["batch_id"]);
    let late = batch.start(3, 2, &[]).wait_with_output().unwrap();
    assert_eq!(json(&late)["status"], "already_loaded", "{}", stderr(&late));
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "1");
    assert_eq!(
        db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgbatch_staging'"),
        "0"
    );
}

#[test]
fn gc_drops_the_staging_of_keys_never_finalized_and_finalize_without_shards_is_75() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    db.query("CREATE TABLE kv (k integer PRIMARY KEY, v text)");
    let job = job_file(dir.path(), "kv", "table = \"kv\"\nmode = \"upsert\"\nkey = [\"k\"]\n");
    let files = kv_files(dir.path(), 2, 10, "x");
    run_shards(dir.path(), &db, &job, &files, 2, "abandoned");
    assert_eq!(
        db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgbatch_staging'"),
        "2"
    );
    // Younger than the TTL: kept.
    let out = pgbatch(dir.path(), Some(&db.url()), &["--json", "gc"]);
    assert_eq!(
        (code(&out), json(&out)["batch_keys"].as_array().map(Vec::len)),
        (0, Some(0)),
        "{}",
        stderr(&out)
    );
    let out = pgbatch(dir.path(), Some(&db.url()), &["--json", "gc", "--older-than", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(json(&out)["batch_keys"][0]["batch_key"], "abandoned");
    assert_eq!(
        db.query("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgbatch_staging'"),
        "0"
    );
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.shards"), "0");
    let out = finalize(dir.path(), &db, &job, "abandoned");
    let message = stderr(&out);
    assert_eq!(code(&out), 75, "{message}");
    assert!(message.contains("no shard of it is recorded"), "{message}");
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    // A shard index outside the count is a usage of the wrong kind: configuration.
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &[
            "load",
            &job,
            &files[0],
            "--shards",
            "2",
            "--shard-index",
            "2",
            "--batch-key",
            "k",
        ],
    );
    assert_eq!(code(&out), 78, "{}", stderr(&out));
}
