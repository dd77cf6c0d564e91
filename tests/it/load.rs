use std::path::{Path, PathBuf};
use std::sync::Arc;

use pgbatch::job::Spec;
use pgbatch::pipeline::{self, LoadOptions, NoProgress, Status, Summary};

use crate::pg::{TestDb, repo, shared};

pub(crate) fn job(name: &str) -> Spec {
    Spec::find(name, &repo().join("jobs")).unwrap()
}

pub(crate) async fn load_files(
    db: &TestDb,
    spec: &Spec,
    files: &[PathBuf],
    options: LoadOptions,
) -> pgbatch::Result<Summary> {
    let mut client = db.client().await;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    pipeline::load(&mut client, spec, &files, options, Arc::new(NoProgress)).await
}

pub(crate) async fn load(db: &TestDb, name: &str, files: &[PathBuf]) -> pgbatch::Result<Summary> {
    load_files(db, &job(name), files, LoadOptions::default()).await
}

fn beijing_files() -> Vec<PathBuf> {
    let dir = shared("air_quality/beijing_multisite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12);
    files
}

/// A job spec written to a temp dir, for tables a test makes itself.
pub(crate) fn temp_job(dir: &Path, name: &str, toml: &str) -> Spec {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    Spec::read(&path).unwrap()
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The shipping rates from the dump's COPY blocks, then the dump's trailing DML as a
/// `replace_covered` batch: the same 53,056 prices `psql -f rates.sql` leaves.
#[tokio::test]
async fn xeneta_dump_loads_to_the_same_prices_as_psql() {
    let db = TestDb::new();
    let dump = shared("xeneta/rates.sql");
    assert_eq!(
        load(&db, "shipping_regions", std::slice::from_ref(&dump))
            .await
            .unwrap()
            .rows_loaded,
        20
    );
    assert_eq!(
        load(&db, "shipping_ports", std::slice::from_ref(&dump))
            .await
            .unwrap()
            .rows_loaded,
        143
    );
    let prices = load(&db, "shipping_prices", std::slice::from_ref(&dump)).await.unwrap();
    assert_eq!((prices.rows_read, prices.rows_loaded), (56_689, 56_689));
    let restate = load(
        &db,
        "shipping_prices_restate",
        &[repo().join("data/samples/xeneta/prices_2016-01-03_2016-01-04.csv")],
    )
    .await
    .unwrap();
    assert_eq!((restate.rows_loaded, restate.rows_deleted), (1, 3_634));
    assert_eq!(db.query("SELECT count(*) FROM prices"), "53056");
    assert_eq!(db.query("SELECT count(*) FROM prices WHERE day = '2016-01-03'"), "0");
    assert_eq!(
        db.query("SELECT orig_code, dest_code, price FROM prices WHERE day = '2016-01-04'"),
        "CNSGH|GBFXT|100500"
    );
    assert_eq!(db.query("SELECT name FROM ports WHERE code = 'NOMAY'"), "Måløy");
    assert_eq!(db.query("SELECT count(*) FROM regions WHERE parent_slug IS NULL"), "2");

    // The reference: psql runs the whole dump, DML included, into an empty database.
    let reference = format!("{}_psql", db.name);
    crate::pg::cluster().psql("postgres", &format!("CREATE DATABASE {reference}"));
    let status = std::process::Command::new("psql")
        .args([
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &crate::pg::cluster().url(&reference),
            "-f",
        ])
        .arg(&dump)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let digest = "SELECT count(*), md5(string_agg(concat_ws(',', orig_code, dest_code, day, price), ';' \
                  ORDER BY orig_code, dest_code, day, price)) FROM prices";
    assert_eq!(db.query(digest), crate::pg::cluster().psql(&reference, digest));
}

/// All 12 Beijing station files as ONE batch: 420,768 wide rows, 11 parameters each, NA
/// values skipped and counted.
#[tokio::test]
async fn beijing_twelve_files_load_as_one_batch() {
    let db = TestDb::new();
    let summary = load(&db, "air_quality_beijing", &beijing_files()).await.unwrap();
    assert_eq!(summary.status, Status::Loaded);
    assert_eq!(summary.files, 12);
    assert_eq!(summary.rows_read, 420_768);
    // 420,768 x 11 = 4,628,448 long rows, less 72,205 NA values (SOURCE.md's counts).
    assert_eq!(summary.rows_skipped, 72_205);
    assert_eq!(summary.rows_loaded, 4_556_243);
    assert_eq!(db.query("SELECT count(*) FROM measurements"), "4556243");
    assert_eq!(db.query("SELECT count(DISTINCT station) FROM measurements"), "12");
    // First row of Aotizhongxin: 2013-03-01 00:00 Beijing time, PM2.5 4, TEMP -0.7.
    assert_eq!(
        db.query(
            "SELECT parameter, value, unit FROM measurements WHERE station = 'Aotizhongxin' \
             AND time = '2013-03-01 00:00+08' AND parameter IN ('pm25', 'temperature') ORDER BY parameter"
        ),
        "pm25|4|µg/m³\ntemperature|-0.7|°C"
    );
    // Last hour of the last file, and a value written as -2.77555756156289e-17.
    assert_eq!(
        db.query("SELECT value FROM measurements WHERE station = 'Wanshouxigong' AND parameter = 'wind_speed' AND time = '2017-02-28 23:00+08'"),
        "1.3"
    );
    assert_eq!(
        db.query("SELECT count(*) FROM measurements WHERE value = -2.77555756156289e-17"),
        "7"
    );
    // A NA is no row at all.
    assert_eq!(db.query("SELECT count(*) FROM measurements WHERE value IS NULL"), "0");
    let sources = db.query("SELECT jsonb_array_length(sources), sources->0->>'rows', rows_read FROM pgbatch.batches");
    assert_eq!(sources, "12|35064|420768");
}

/// A bad value in the last file of a 12-file batch: nothing is committed, every table is
/// exactly as before, and the message names file, line, column, value and expectation.
#[tokio::test]
async fn bad_row_in_last_of_twelve_files_leaves_every_table_unchanged() {
    let db = TestDb::new();
    // The job's own sources (relative to jobs/): the samples in data/samples.
    let before = load(&db, "air_quality_beijing", &[]).await.unwrap();
    assert_eq!(before.rows_loaded, 43_440);
    let snapshot = "SELECT count(*), md5(string_agg(concat_ws(',', station, parameter, time, value), ';' \
                    ORDER BY station, parameter, time)) FROM measurements";
    let measurements = db.query(snapshot);
    let ledger = db.query("SELECT count(*), max(id) FROM pgbatch.batches");

    let dir = tempfile::tempdir().unwrap();
    let mut files = beijing_files();
    let last = files.pop().unwrap();
    let text = std::fs::read_to_string(&last).unwrap();
    // Line 30001 (data row 30000): PM10 becomes "12,5".
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_owned).collect();
    let fields: Vec<&str> = lines[30_000].split(',').collect();
    let mut bad: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
    bad[6] = "\"12,5\"".into();
    lines[30_000] = bad.join(",");
    let broken = write(
        dir.path(),
        "PRSA_Data_Wanshouxigong_20130301-20170228.csv",
        &lines.join("\r\n"),
    );
    files.push(broken.clone());

    let error = load(&db, "air_quality_beijing", &files).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: line 30001, column \"value\": cannot parse \"12,5\" as double precision (expected '.' as the decimal separator)",
            broken.display()
        )
    );
    assert_eq!(error.exit_code(), 65);
    assert_eq!(db.query(snapshot), measurements);
    assert_eq!(db.query("SELECT count(*), max(id) FROM pgbatch.batches"), ledger);
}

/// Loading the same content again is a no-op naming the earlier batch; --force reloads.
#[tokio::test]
async fn same_content_twice_is_a_no_op_and_force_reloads() {
    let db = TestDb::new();
    let dump = shared("xeneta/rates.sql");
    load(&db, "shipping_regions", std::slice::from_ref(&dump))
        .await
        .unwrap();
    load(&db, "shipping_ports", std::slice::from_ref(&dump)).await.unwrap();
    let first = load(&db, "shipping_prices", std::slice::from_ref(&dump)).await.unwrap();
    let again = load(&db, "shipping_prices", std::slice::from_ref(&dump)).await.unwrap();
    assert_eq!(again.status, Status::AlreadyLoaded);
    assert_eq!(again.batch_id, first.batch_id);
    assert_eq!(again.rows_loaded, 0);
    assert_eq!(
        db.query("SELECT count(*) FROM pgbatch.batches WHERE job = 'shipping_prices'"),
        "1"
    );
    let forced = load_files(
        &db,
        &job("shipping_prices"),
        &[dump],
        LoadOptions {
            force: true,
            dry_run: false,
            ..LoadOptions::default()
        },
    )
    .await
    .unwrap();
    // The same content again: a replace touches only what differs, here nothing.
    assert_eq!(
        (forced.status, forced.rows_deleted, forced.rows_loaded),
        (Status::Loaded, 0, 56_689)
    );
    assert_eq!(
        db.query("SELECT count(*), bool_or(forced) FROM pgbatch.batches WHERE job = 'shipping_prices'"),
        "2|t"
    );
    assert_eq!(db.query("SELECT count(*) FROM prices"), "56689");
}

const KV_TABLE: &str = "CREATE TABLE kv (k integer PRIMARY KEY, v text NOT NULL, day date NOT NULL)";

/// A replace touches only what differs, as multisets over the loaded columns (duplicates
/// and NULLs included): unchanged rows keep the transaction that wrote them (`xmin`), and
/// the table equals the file, as psql's own `\copy` of it reads it.
#[tokio::test]
async fn a_replace_touches_only_what_differs() {
    let db = TestDb::new();
    db.query("CREATE TABLE kv2 (k integer, v text, n numeric)");
    db.query("INSERT INTO kv2 VALUES (1, 'a', NULL), (1, 'a', NULL), (2, 'b', 1.5), (3, 'c', 2), (4, NULL, 3)");
    let old_xmin = db.query("SELECT DISTINCT xmin FROM kv2");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "kv2.csv", "k,v,n\n1,a,\n2,b,1.5\n3,c,2.5\n5,e,5\n5,e,5\n");
    let spec = temp_job(dir.path(), "kv2_replace", "table = \"kv2\"\nmode = \"replace\"\n");
    let s = load_files(&db, &spec, std::slice::from_ref(&file), LoadOptions::default())
        .await
        .unwrap();
    // Gone: one of the two (1, a, NULL), (3, c, 2) and (4, NULL, 3). Kept: the other
    // (1, a, NULL) and (2, b, 1.5), untouched.
    assert_eq!((s.rows_deleted, s.rows_loaded), (3, 5));
    assert_eq!(
        db.query(&format!(
            "SELECT string_agg(concat_ws(':', k, v, n), ' ' ORDER BY k, n) FROM kv2 WHERE xmin = '{old_xmin}'"
        )),
        "1:a 2:b:1.5"
    );
    db.query("CREATE TABLE kv2_file (LIKE kv2)");
    db.query(&format!(
        "\\copy kv2_file FROM '{}' (FORMAT csv, HEADER)",
        file.display()
    ));
    assert_eq!(
        db.query(
            "SELECT count(*) FROM ((TABLE kv2 EXCEPT ALL TABLE kv2_file) UNION ALL \
             (TABLE kv2_file EXCEPT ALL TABLE kv2)) AS d"
        ),
        "0"
    );
    assert_eq!(db.query("SELECT count(*) FROM kv2"), "5");
}

fn kv_job(dir: &Path, mode: &str, extra: &str) -> Spec {
    temp_job(
        dir,
        &format!("kv_{mode}"),
        &format!("table = \"kv\"\nmode = \"{mode}\"\n{extra}"),
    )
}

#[tokio::test]
async fn each_load_mode_merges_as_documented() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let base = write(
        dir.path(),
        "base.csv",
        "k,v,day\n1,a,2016-01-01\n2,b,2016-01-02\n3,c,2016-01-03\n",
    );
    let next = write(
        dir.path(),
        "next.csv",
        "k,v,day\n3,C,2016-01-03\n4,D,2016-01-04\n4,E,2016-01-04\n",
    );
    let rows = || db.query("SELECT string_agg(concat_ws(':', k, v, day), ' ' ORDER BY k) FROM kv");
    let opts = LoadOptions::default();

    load_files(
        &db,
        &kv_job(dir.path(), "append", ""),
        std::slice::from_ref(&base),
        opts.clone(),
    )
    .await
    .unwrap();
    assert_eq!(rows(), "1:a:2016-01-01 2:b:2016-01-02 3:c:2016-01-03");

    // insert_new: 3 exists, 4 is new (its duplicate in the batch is skipped too).
    let s = load_files(
        &db,
        &kv_job(dir.path(), "insert_new", "key = [\"k\"]"),
        std::slice::from_ref(&next),
        opts.clone(),
    )
    .await
    .unwrap();
    assert_eq!(s.rows_loaded, 1);
    assert_eq!(rows(), "1:a:2016-01-01 2:b:2016-01-02 3:c:2016-01-03 4:D:2016-01-04");

    // upsert: 3 and 5 change or arrive.
    let up = write(dir.path(), "up.csv", "k,v,day\n3,C,2016-01-03\n5,F,2016-01-05\n");
    let s = load_files(&db, &kv_job(dir.path(), "upsert", "key = [\"k\"]"), &[up], opts.clone())
        .await
        .unwrap();
    assert_eq!(s.rows_loaded, 2);
    assert_eq!(
        rows(),
        "1:a:2016-01-01 2:b:2016-01-02 3:C:2016-01-03 4:D:2016-01-04 5:F:2016-01-05"
    );

    // replace_covered: the file's days (and the range in its name) are replaced.
    let covered = write(dir.path(), "kv_2016-01-01_2016-01-02.csv", "k,v,day\n7,G,2016-01-03\n");
    let cover = "[cover]\ncolumn = \"day\"\nfrom_path = 'kv_(\\d{4}-\\d{2}-\\d{2})_(\\d{4}-\\d{2}-\\d{2})'\n";
    let s = load_files(
        &db,
        &kv_job(dir.path(), "replace_covered", cover),
        &[covered],
        opts.clone(),
    )
    .await
    .unwrap();
    assert_eq!((s.rows_deleted, s.rows_loaded), (3, 1));
    assert_eq!(rows(), "4:D:2016-01-04 5:F:2016-01-05 7:G:2016-01-03");

    // replace: the table becomes exactly the batch.
    let s = load_files(&db, &kv_job(dir.path(), "replace", ""), &[base], opts.clone())
        .await
        .unwrap();
    assert_eq!((s.rows_deleted, s.rows_loaded), (3, 3));
    assert_eq!(rows(), "1:a:2016-01-01 2:b:2016-01-02 3:c:2016-01-03");

    // append of an existing key: the database refuses the row, named by its line (the
    // file's first row, line 2); nothing changes.
    let error = load_files(&db, &kv_job(dir.path(), "append", ""), &[next], opts.clone())
        .await
        .unwrap_err();
    assert_eq!(error.exit_code(), 65);
    assert_eq!(
        error.location().and_then(|l| l.position.clone()),
        Some(pgbatch::error::Position::Line { line: 2 })
    );
    assert!(
        error.to_string().contains(
            "line 2: the database refuses the row: duplicate key value violates unique constraint \"kv_pkey\" \
             (Key (k)=(3) already exists.)"
        ),
        "{error}"
    );
    assert_eq!(rows(), "1:a:2016-01-01 2:b:2016-01-02 3:c:2016-01-03");
    assert_eq!(
        db.query("SELECT string_agg(mode, ',' ORDER BY id) FROM pgbatch.batches"),
        "append,insert_new,upsert,replace_covered,replace"
    );
}

/// `replace` never blocks readers: a reader during the load sees the old rows at once.
#[tokio::test]
async fn replace_does_not_block_readers() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    db.query("INSERT INTO kv SELECT g, 'old', '2016-01-01' FROM generate_series(1, 1000) g");
    let dir = tempfile::tempdir().unwrap();
    let spec = kv_job(dir.path(), "replace", "");
    let file = write(dir.path(), "new.csv", "k,v,day\n1,new,2016-01-02\n");
    // What a replace batch does, held open: a reader does not wait for it.
    let writer = db.client().await;
    writer
        .batch_execute("BEGIN; DELETE FROM kv; INSERT INTO kv VALUES (1, 'new', '2016-01-02');")
        .await
        .unwrap();
    let reader = db.client().await;
    reader.batch_execute("SET statement_timeout = '2s'").await.unwrap();
    let seen: i64 = reader.query_one("SELECT count(*) FROM kv", &[]).await.unwrap().get(0);
    assert_eq!(
        seen, 1000,
        "a reader during a replace sees the old rows, without waiting"
    );
    writer.batch_execute("ROLLBACK").await.unwrap();
    // And the real load, with a reader polling throughout, never sees a mix.
    let counts = tokio::spawn({
        let reader = db.client().await;
        async move {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..50 {
                let n: i64 = reader.query_one("SELECT count(*) FROM kv", &[]).await.unwrap().get(0);
                seen.insert(n);
            }
            seen
        }
    });
    load_files(&db, &spec, &[file], LoadOptions::default()).await.unwrap();
    let seen = counts.await.unwrap();
    assert!(seen.iter().all(|n| *n == 1000 || *n == 1), "{seen:?}");
}

/// Loads of one target wait for each other (advisory lock).
#[tokio::test]
async fn loads_of_one_target_are_serialised() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let spec = kv_job(dir.path(), "append", "");
    let file = write(dir.path(), "a.csv", "k,v,day\n1,a,2016-01-01\n");
    let holder = db.client().await;
    holder
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('pgbatch:load:kv', 0));")
        .await
        .unwrap();
    let task = tokio::spawn({
        let url = db.url();
        async move {
            let mut client = pgbatch::db::ConnectOptions::parse(&url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            pipeline::load(
                &mut client,
                &spec,
                &[file.display().to_string()],
                LoadOptions::default(),
                Arc::new(NoProgress),
            )
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        !task.is_finished(),
        "the load went ahead while another held the target's lock"
    );
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    holder.batch_execute("COMMIT").await.unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
}

/// `validate` runs everything and commits nothing.
#[tokio::test]
async fn validate_rolls_back() {
    let db = TestDb::new();
    let s = load_files(
        &db,
        &job("air_quality_beijing"),
        &[],
        LoadOptions {
            force: true,
            dry_run: true,
            ..LoadOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!((s.status, s.rows_loaded), (Status::Validated, 43_440));
    assert_eq!(
        db.query("SELECT (SELECT count(*) FROM measurements) + (SELECT count(*) FROM pgbatch.batches)"),
        "0"
    );
}

/// A Parquet file (pyarrow writer, timestamp[ns, UTC], NULLs) into measurements.
#[tokio::test]
async fn parquet_cotonou_loads_with_row_group_positions() {
    let db = TestDb::new();
    let file = shared("air_quality/parquet_cotonou_openmeteo/air_quality.parquet");
    let s = load(&db, "air_quality_cotonou", std::slice::from_ref(&file))
        .await
        .unwrap();
    assert_eq!(s.rows_read, 5_472);
    assert_eq!(s.rows_loaded + s.rows_skipped, 5_472 * 3);
    assert_eq!(
        db.query("SELECT min(time), max(time), count(DISTINCT time) FROM measurements"),
        "2025-09-30 00:00:00+00|2026-05-15 23:00:00+00|5472"
    );

    // A range check fails at a row group and row.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("jobs/air_quality_cotonou.toml")).unwrap();
    let spec = temp_job(
        dir.path(),
        "cotonou_checked",
        &format!("{text}\n[unpivot.parse]\nmax = 40\n"),
    );
    let error = load_files(&db, &spec, std::slice::from_ref(&file), LoadOptions::default())
        .await
        .unwrap_err();
    let message = error.to_string();
    let prefix = format!("{}: row group 0, row ", file.display());
    assert!(message.starts_with(&prefix), "{message}");
    assert!(
        message.contains(", column \"value\": ") && message.contains(" is above the maximum 40"),
        "{message}"
    );
    assert_eq!(error.exit_code(), 65);
}

/// A manifest (`@file`) is one batch of the sources it lists, relative to its folder; a
/// missing entry names the manifest and its line.
#[tokio::test]
async fn a_manifest_is_one_batch_of_what_it_lists() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let files = beijing_files();
    std::fs::copy(&files[1], dir.path().join("second.csv")).unwrap();
    let manifest = write(
        dir.path(),
        "batch.manifest",
        &format!("# two stations\n{}\n\nsecond.csv\n", files[0].display()),
    );
    let at = PathBuf::from(format!("@{}", manifest.display()));
    let s = load_files(
        &db,
        &job("air_quality_beijing"),
        std::slice::from_ref(&at),
        LoadOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!((s.files, s.rows_read), (2, 2 * 35_064));
    assert_eq!(db.query("SELECT jsonb_array_length(sources) FROM pgbatch.batches"), "2");
    let broken = write(dir.path(), "broken.manifest", "second.csv\nthird.csv\n");
    let error = load_files(
        &db,
        &job("air_quality_beijing"),
        &[PathBuf::from(format!("@{}", broken.display()))],
        LoadOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("{}: line 2: third.csv: no such file", broken.display())
    );
    assert_eq!(error.exit_code(), 66);
}

/// A record or a row group larger than the job's memory budget fails the batch, naming it.
#[tokio::test]
async fn records_and_row_groups_over_the_budget_are_named() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let spec = kv_job(dir.path(), "append", "[source]\nmax_record_bytes = 100\n");
    let long = "x".repeat(200);
    let file = write(
        dir.path(),
        "kv.csv",
        &format!("k,v,day\n1,a,2016-01-01\n2,{long},2016-01-02\n"),
    );
    let error = load_files(&db, &spec, std::slice::from_ref(&file), LoadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: line 3: a record of 211 bytes is larger than the memory budget for one record, 100 bytes \
             (set [source] max_record_bytes to allow it)",
            file.display()
        )
    );
    assert_eq!(error.exit_code(), 65);
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    let parquet = shared("air_quality/parquet_cotonou_openmeteo/air_quality.parquet");
    let spec = temp_job(
        dir.path(),
        "cotonou_small",
        &(std::fs::read_to_string(repo().join("jobs/air_quality_cotonou.toml")).unwrap()
            + "\n[source]\nmax_row_group_bytes = 1000\n"),
    );
    let error = load_files(&db, &spec, std::slice::from_ref(&parquet), LoadOptions::default())
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "{}: row group 0, row 0: the row group has ",
            parquet.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with(
            "bytes of column data to read, more than the memory budget for one row group, 1000 bytes \
             (write smaller row groups, or set [source] max_row_group_bytes)"
        ),
        "{message}"
    );
}

/// A NUL character in a Parquet string fails the batch at its row group, row and column;
/// with `replace_nul` it is replaced, as in a CSV field (conform does it for every format).
#[tokio::test]
async fn nul_in_parquet_strings_is_named_or_replaced() {
    use arrow_array::{Int32Array, RecordBatch, StringArray};
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kv.parquet");
    let batch = RecordBatch::try_from_iter([
        ("k", Arc::new(Int32Array::from(vec![1, 2])) as arrow_array::ArrayRef),
        ("v", Arc::new(StringArray::from(vec!["plain", "a\0b"]))),
        ("day", Arc::new(StringArray::from(vec!["2016-01-01", "2016-01-02"]))),
    ])
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&file).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let strict = kv_job(dir.path(), "append", "");
    let error = load_files(&db, &strict, std::slice::from_ref(&file), LoadOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}: row group 0, row 1, column \"v\": \"a\\0b\" contains a NUL byte, which PostgreSQL text cannot hold",
            file.display()
        )
    );
    assert_eq!(error.exit_code(), 65);
    let replacing = kv_job(dir.path(), "replace", "[source]\nreplace_nul = \"\"\n");
    let s = load_files(&db, &replacing, std::slice::from_ref(&file), LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(s.rows_loaded, 2);
    assert_eq!(db.query("SELECT string_agg(v, ',' ORDER BY k) FROM kv"), "plain,ab");
}

/// Single-byte encodings as the job declares them: Windows-1252 (the euro sign and curly
/// quotes live in 0x80..0x9F, where Latin-1 has control codes) and Mac Roman (é is 0x8E).
#[tokio::test]
async fn declared_single_byte_encodings_decode() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let cp1252 = dir.path().join("cp1252.csv");
    let mut bytes = b"k,v,day\n1,".to_vec();
    bytes.extend([0x80, b' ', 0x93, b'x', 0x94]);
    bytes.extend(b",2016-01-01\n");
    std::fs::write(&cp1252, bytes).unwrap();
    let mac = dir.path().join("mac.csv");
    let mut bytes = b"k,v,day\n2,caf".to_vec();
    bytes.extend([0x8E]);
    bytes.extend(b",2016-01-02\n");
    std::fs::write(&mac, bytes).unwrap();
    for (file, encoding) in [(&cp1252, "windows-1252"), (&mac, "mac_roman")] {
        let spec = kv_job(dir.path(), "append", &format!("[source]\nencoding = \"{encoding}\"\n"));
        let s = load_files(&db, &spec, std::slice::from_ref(file), LoadOptions::default())
            .await
            .unwrap();
        assert_eq!(s.rows_loaded, 1, "{encoding}");
    }
    assert_eq!(
        db.query("SELECT string_agg(v, '|' ORDER BY k) FROM kv"),
        "€ \u{201c}x\u{201d}|café"
    );
}

/// The same content under another path is not a re-run by its name, so it loads at once
/// while it is hashed; the ledger then finds it, and the batch rolls back as already
/// loaded: no row twice. The same path and size with other bytes is a new batch.
#[tokio::test]
async fn content_loaded_before_under_another_name_rolls_back() {
    let db = TestDb::new();
    db.query(KV_TABLE);
    let dir = tempfile::tempdir().unwrap();
    let spec = kv_job(dir.path(), "append", "");
    let first = write(dir.path(), "first.csv", "k,v,day\n1,a,2016-01-01\n2,b,2016-01-02\n");
    let loaded = load_files(&db, &spec, std::slice::from_ref(&first), LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(loaded.status, Status::Loaded);
    let copy = write(dir.path(), "copy.csv", "k,v,day\n1,a,2016-01-01\n2,b,2016-01-02\n");
    let again = load_files(&db, &spec, std::slice::from_ref(&copy), LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.batch_id, &again.content_hash),
        (Status::AlreadyLoaded, loaded.batch_id, &loaded.content_hash)
    );
    assert_eq!(db.query("SELECT count(*) FROM kv"), "2");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "1");
    // Same name, same size, other bytes: hashed first (a likely re-run), found new, loaded.
    write(dir.path(), "first.csv", "k,v,day\n3,c,2016-01-03\n4,d,2016-01-04\n");
    let changed = load_files(&db, &spec, std::slice::from_ref(&first), LoadOptions::default())
        .await
        .unwrap();
    assert_eq!(changed.status, Status::Loaded);
    assert_eq!(
        db.query("SELECT string_agg(k::text, ',' ORDER BY k) FROM kv"),
        "1,2,3,4"
    );
}
