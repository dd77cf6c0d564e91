//! `max_rejects`: rows that fail to parse or fail a check are set aside in `pgbatch.rejects`
//! (committed with the batch) and in the `--rejects-out` report; over the limit the batch
//! rolls back and the report is still written. Every expected location and value comes
//! from the file the test writes, where each bad row is put on purpose.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::cli::{code, pgbatch, stderr};
use crate::pg::TestDb;

/// Rows in the test's CSV file; its line n + 1 holds row n.
const ROWS: i64 = 1000;

/// The bad rows of the file: (row, field, value written instead, what its reason names).
const BAD: [(i64, &str, &str, &str); 4] = [
    (1, "price", "abc", "integer"),
    (500, "day", "2020-13-01", "date"),
    (501, "price", "-5", "0"),
    (1000, "id", "", "NOT NULL"),
];

fn table(db: &TestDb) {
    db.query("CREATE TABLE t (id integer NOT NULL, day date NOT NULL, price integer)");
}

fn job(dir: &Path, max_rejects: &str) -> String {
    let path = dir.join("t.toml");
    std::fs::write(
        &path,
        format!("table = \"t\"\nmax_rejects = {max_rejects}\n[source]\nchunk_rows = 128\n[columns.price]\nmin = 0\n"),
    )
    .unwrap();
    path.display().to_string()
}

/// The rows as (id, day, price) text, with `bad` of [`BAD`] written in.
fn rows(bad: usize) -> Vec<[String; 3]> {
    (1..=ROWS)
        .map(|n| {
            let mut row = [
                n.to_string(),
                format!("2020-01-{:02}", 1 + n % 28),
                (n * 10).to_string(),
            ];
            for (at, field, value, _) in &BAD[..bad] {
                if *at == n {
                    let index = ["id", "day", "price"].iter().position(|f| f == field).unwrap();
                    (*value).clone_into(&mut row[index]);
                }
            }
            row
        })
        .collect()
}

fn csv(dir: &Path, bad: usize) -> String {
    let mut text = "id,day,price\n".to_owned();
    for row in rows(bad) {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(dir.join("t.csv"), text).unwrap();
    "t.csv".to_owned()
}

/// The sum of the prices of the good rows: what the table must hold.
fn good_price_sum(bad: usize) -> i64 {
    (1..=ROWS)
        .filter(|n| !BAD[..bad].iter().any(|(at, ..)| at == n))
        .map(|n| n * 10)
        .sum()
}

/// A database with the table, a folder with the job (`max_rejects`) and the file (`bad` of
/// [`BAD`] written in).
fn setup(max_rejects: &str, bad: usize) -> (TestDb, tempfile::TempDir, String, String) {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), max_rejects);
    let file = csv(dir.path(), bad);
    (db, dir, job, file)
}

fn report(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn bad_rows_up_to_the_limit_are_set_aside_with_their_lines_and_the_rest_commits() {
    let (db, dir, job, file) = setup("4", 4);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "--json", &job, &file, "--rejects-out", "rejects.jsonl"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            &summary["rows_read"],
            &summary["rows_loaded"],
            &summary["rows_rejected"]
        ),
        (&ROWS.into(), &(ROWS - 4).into(), &4.into())
    );
    assert_eq!(
        db.query("SELECT count(*), sum(price) FROM t"),
        format!("{}|{}", ROWS - 4, good_price_sum(4))
    );
    // The ledger and the rejects table: in the batch's transaction, in file order.
    let batch = summary["batch_id"].as_i64().unwrap();
    assert_eq!(
        db.query(&format!(
            "SELECT rows_read, rows_loaded, rows_rejected FROM pgbatch.batches WHERE id = {batch}"
        )),
        format!("{ROWS}|{}|4", ROWS - 4)
    );
    let stored = db.query(&format!(
        "SELECT ordinal, source, line, column_name, convert_from(value, 'UTF8'), reason \
         FROM pgbatch.rejects WHERE batch_id = {batch} ORDER BY ordinal"
    ));
    let stored: Vec<Vec<&str>> = stored.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(stored.len(), 4, "{stored:?}");
    for (i, ((row, field, value, names), line)) in BAD.iter().zip(&stored).enumerate() {
        let expected = [
            (i + 1).to_string(),
            "t.csv".to_owned(),
            (row + 1).to_string(),
            (*field).to_owned(),
        ];
        assert_eq!(
            line[..4].to_vec(),
            expected.iter().map(String::as_str).collect::<Vec<_>>(),
            "{line:?}"
        );
        // An empty field was no value at all: nothing is stored for it.
        assert_eq!(line[4], *value, "{line:?}");
        assert!(line[5].contains(names), "{line:?} should name {names}");
    }
    // The report says the same.
    let lines = report(&dir.path().join("rejects.jsonl"));
    assert_eq!(lines.len(), 4);
    for ((row, field, _, names), line) in BAD.iter().zip(&lines) {
        assert_eq!(
            (&line["source"], &line["line"], &line["column"]),
            (&"t.csv".into(), &(row + 1).into(), &(*field).into())
        );
        assert!(line["reason"].as_str().unwrap().contains(names), "{line}");
    }
}

#[test]
fn one_row_over_the_limit_rolls_back_and_still_writes_the_report() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "3");
    let file = csv(dir.path(), 4);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &job, &file, "--rejects-out", "rejects.jsonl"],
    );
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.starts_with("pgbatch: error: t.csv: line 2, column \"price\": cannot parse \"abc\" as integer")
            && message.contains("4 rows rejected")
            && message.contains("max_rejects = 3"),
        "{message}"
    );
    assert_eq!(db.query("SELECT count(*) FROM t"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.rejects"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    let lines = report(&dir.path().join("rejects.jsonl"));
    assert_eq!(
        lines.iter().map(|l| l["line"].as_i64().unwrap()).collect::<Vec<_>>(),
        BAD.iter().map(|(row, ..)| row + 1).collect::<Vec<_>>()
    );
}

#[test]
fn a_percentage_is_of_the_rows_read() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    // 0.1% of 1000 rows: one row may be rejected, two may not.
    let job = job(dir.path(), "\"0.1%\"");
    let file = csv(dir.path(), 2);
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &job, &file]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than max_rejects = \"0.1%\" allows"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.query("SELECT count(*) FROM t"), "0");
    let file = csv(dir.path(), 1);
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &job, &file]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        db.query("SELECT count(*), sum(price) FROM t"),
        format!("{}|{}", ROWS - 1, good_price_sum(1))
    );
    assert_eq!(db.query("SELECT line, column_name FROM pgbatch.rejects"), "2|price");
}

#[test]
fn without_max_rejects_the_first_bad_row_still_fails_the_batch() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, "table = \"t\"\n").unwrap();
    let file = csv(dir.path(), 1);
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", path.to_str().unwrap(), &file]);
    assert_eq!(code(&out), 65);
    assert_eq!(
        stderr(&out),
        "pgbatch: error: t.csv: line 2, column \"price\": cannot parse \"abc\" as integer"
    );
}

#[test]
fn parquet_rejects_name_their_row_group_and_row() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "4");
    // The same rows as Parquet text columns, in row groups of 300 rows.
    let rows = rows(4);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("day", DataType::Utf8, false),
        Field::new("price", DataType::Int32, true),
    ]));
    let price: Int32Array = rows.iter().map(|r| r[2].parse::<i32>().ok()).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[0].clone()))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[1].clone()))),
            Arc::new(price),
        ],
    )
    .unwrap();
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(300))
        .build();
    let file = std::fs::File::create(dir.path().join("t.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &job, "t.parquet", "--rejects-out", "rejects.jsonl"],
    );
    // "abc" is no Int32: a NULL price there, which the table takes. Three rows are bad.
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = report(&dir.path().join("rejects.jsonl"));
    let places: Vec<(i64, i64, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["row_group"].as_i64().unwrap(),
                l["row"].as_i64().unwrap(),
                l["column"].as_str().unwrap(),
            )
        })
        .collect();
    // Row n (1-based) is row (n - 1) % 300 of row group (n - 1) / 300.
    let expected: Vec<(i64, i64, &str)> = BAD[1..]
        .iter()
        .map(|(n, field, ..)| ((n - 1) / 300, (n - 1) % 300, *field))
        .collect();
    assert_eq!(places, expected);
    assert_eq!(
        db.query("SELECT count(*), count(price) FROM t"),
        format!("{}|{}", ROWS - 3, ROWS - 4)
    );
}

#[test]
fn a_bad_max_rejects_is_a_configuration_error_at_its_line() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "\"ten\"");
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &job, &csv(dir.path(), 0)]);
    assert_eq!(code(&out), 78);
    assert!(stderr(&out).contains("t.toml:2:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_rejects must be a count"), "{}", stderr(&out));
}

#[test]
fn the_report_goes_to_s3_too() {
    let s3 = crate::s3::S3::start();
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), "4");
    csv(dir.path(), 4);
    s3.put("landing", "t.csv", &std::fs::read(dir.path().join("t.csv")).unwrap());
    s3.put("reports", ".keep", b"");
    let out = crate::s3::pgbatch(
        &db,
        &s3.endpoint(),
        &[
            "load",
            &job,
            "s3://landing/t.csv",
            "--rejects-out",
            "s3://reports/t/rejects.jsonl",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(s3.get("reports", "t/rejects.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l["source"].as_str().unwrap(), l["line"].as_i64().unwrap()))
            .collect::<Vec<_>>(),
        BAD.iter()
            .map(|(row, ..)| ("s3://landing/t.csv", row + 1))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_shard_refuses_a_limit_that_is_about_the_whole_batch() {
    let (db, dir, job, file) = setup("4", 4);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &[
            "load",
            &job,
            &file,
            "--shards",
            "2",
            "--shard-index",
            "0",
            "--batch-key",
            "k",
        ],
    );
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sets max_rejects = 4, which a sharded load does not support yet"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.shards"), "0");
}

#[test]
fn report_shows_a_batch_with_its_first_rejects_and_where_its_time_went() {
    let (db, dir, job, file) = setup("4", 4);
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "--json", &job, &file]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = summary["batch_id"].to_string();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["report", &id, "--rejects", "2", "--json"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let batch = &report["batch"];
    assert_eq!(
        (&batch["rows_read"], &batch["rows_loaded"], &batch["rows_rejected"]),
        (&ROWS.into(), &(ROWS - 4).into(), &4.into())
    );
    // The file's size, as the file system says.
    let bytes = std::fs::metadata(dir.path().join("t.csv")).unwrap().len();
    assert_eq!(report["bytes"], bytes);
    let lines: Vec<i64> = report["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [BAD[0].0 + 1, BAD[1].0 + 1]);
    for stage in [
        "reading_ms",
        "encoding_ms",
        "sending_ms",
        "copying_ms",
        "checking_ms",
        "merging_ms",
        "committing_ms",
    ] {
        assert!(batch["stages"][stage].is_u64(), "{stage} in {batch}");
    }
    // The commit's time, known only after COMMIT, is the ledger's too.
    assert_eq!(
        batch["stages"]["committing_ms"], summary["stages"]["committing_ms"],
        "{batch}"
    );
    // The same as text, and a batch that does not exist is input missing.
    let out = pgbatch(dir.path(), Some(&db.url()), &["report", &id]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rows: 1000 read, 996 loaded, 0 skipped, 0 deleted, 4 rejected"),
        "{text}"
    );
    // Each rejected row as the ledger holds it.
    let reason = db.query("SELECT reason FROM pgbatch.rejects WHERE line = 1001");
    assert!(
        text.contains(&format!("t.csv: line 1001, column \"id\": {reason}\n")),
        "{text}"
    );
    let out = pgbatch(dir.path(), Some(&db.url()), &["report", "999"]);
    assert_eq!(code(&out), 66, "{}", stderr(&out));
}

#[test]
fn validate_lists_every_bad_column_at_once_and_says_whether_a_load_would_take_them() {
    let db = TestDb::new();
    table(&db);
    let dir = tempfile::tempdir().unwrap();
    let file = csv(dir.path(), 4);
    // Without max_rejects a load would fail at the first bad row; validate names them all.
    let strict = dir.path().join("strict.toml");
    std::fs::write(&strict, "table = \"t\"\n[columns.price]\nmin = 0\n").unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["validate", strict.to_str().unwrap(), &file],
    );
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    for expected in [
        "a load would fail: 4 of 1000 rows are bad and max_rejects is not set",
        "column \"price\": 2 rows, the first at t.csv: line 2: cannot parse \"abc\" as integer",
        "column \"day\": 1 row, the first at t.csv: line 501:",
        "column \"id\": 1 row, the first at t.csv: line 1001:",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
    // Within the job's limit: what a load would do, and the bad rows by column.
    let job = job(dir.path(), "4");
    let out = pgbatch(dir.path(), Some(&db.url()), &["validate", "--json", &job, &file]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&summary["status"], &summary["rows_loaded"], &summary["rows_rejected"]),
        (&"validated".into(), &(ROWS - 4).into(), &4.into())
    );
    let columns: Vec<&str> = summary["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap().split(':').next().unwrap())
        .collect();
    assert_eq!(columns, ["column \"price\"", "column \"day\"", "column \"id\""]);
    // Nothing is left behind by either.
    assert_eq!(db.query("SELECT count(*) FROM t"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
}

/// A Parquet file whose types the table does not match: smallint for Int64 values, integer
/// for Float64 prices, timestamp without time zone for zoned times, varchar(3) for text.
fn mismatched(dir: &Path) {
    use arrow_array::{Float64Array, Int64Array, TimestampMicrosecondArray};
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("price", DataType::Float64, false),
        Field::new(
            "seen",
            DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("code", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 40_000, 3, 4])),
            Arc::new(Float64Array::from(vec![1.0, 2.0, 2.5, 4.0])),
            Arc::new(TimestampMicrosecondArray::from(vec![0, 1, 2, 3]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec!["abc", "de", "f", "ghij"])),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.join("m.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn validate_lists_every_type_mismatch_of_a_parquet_file_at_once() {
    let db = TestDb::new();
    db.query("CREATE TABLE m (id smallint, price integer, seen timestamp, code varchar(3))");
    let dir = tempfile::tempdir().unwrap();
    mismatched(dir.path());
    // Strict (no max_rejects): a load would fail; every bad column is named, row by row.
    std::fs::write(dir.path().join("m.toml"), "table = \"m\"\n").unwrap();
    let out = pgbatch(dir.path(), Some(&db.url()), &["validate", "./m.toml", "m.parquet"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    for expected in [
        "a load would fail: 3 of 4 rows are bad",
        "column \"id\": 1 row, the first at m.parquet: row group 0, row 1: 40000 (Int64) does not fit smallint",
        "column \"price\": 1 row, the first at m.parquet: row group 0, row 2: 2.5 (Float64) is not a whole number",
        "column \"code\": 1 row, the first at m.parquet: row group 0, row 3:",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
    // Allowing them: the mapping with a caution for each of the four columns.
    std::fs::write(dir.path().join("m.toml"), "table = \"m\"\nmax_rejects = \"100%\"\n").unwrap();
    let out = pgbatch(dir.path(), Some(&db.url()), &["validate", "./m.toml", "m.parquet"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "id <- \"id\" (Int64 -> smallint): Int64 values outside smallint's range will not load",
        "price <- \"price\" (Float64 -> integer): Float64 values with a fractional part will not load into integer",
        "seen <- \"seen\" (Timestamp(µs, \"UTC\") -> timestamp): ",
        "code <- \"code\" (Utf8 -> character varying): values longer than 3 characters will not load",
        "validated (rolled back) batch : 1 files, 4 rows read, 1 loaded",
    ] {
        assert!(text.contains(expected), "{expected:?} in {text}");
    }
    assert_eq!(db.query("SELECT count(*) FROM m"), "0");
}
