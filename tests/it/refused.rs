//! Rows the database itself refuses (unique, foreign key, check, not-null constraints) are
//! located by file and line, or row group and row, and with `max_rejects` set aside like
//! rows that do not parse. The constraints are the server's; each refused row is put in
//! the file on purpose, so where it is and which constraint refuses it are known before the
//! load; the reasons are the server's own words (its constraint names and key details).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::cli::{code, pgbatch, stderr};
use crate::pg::TestDb;

/// Rows in each file; CSV line n + 1 holds row n.
const ROWS: i64 = 1000;

/// Ports 'P0' .. 'P9' exist; a rate's `port` must be one (foreign key), its `price` at
/// least 0 (check), its `id` unique (primary key) and its `day` given (not null). Row 7 is
/// in the table already.
fn tables(db: &TestDb) {
    db.query(
        "CREATE TABLE port (code text PRIMARY KEY);
         INSERT INTO port SELECT 'P' || n FROM generate_series(0, 9) AS n;
         CREATE TABLE rate (id integer PRIMARY KEY, port text NOT NULL REFERENCES port,
                            day date NOT NULL, price integer CHECK (price >= 0));
         INSERT INTO rate VALUES (7, 'P1', '2020-01-01', 1)",
    );
}

/// What is wrong with a row written in wrong, and the word of the server's reason that names
/// its constraint. Row 7's key is in the table already; row 900 repeats row 300's key (the
/// later row is refused, as one statement would refuse it); row 401's port does not exist;
/// row 650's price is negative. (A missing value of a NOT NULL column is refused before the
/// database sees it: `rejects.rs`.)
const REASONS: [(i64, &str); 4] = [
    (7, "rate_pkey"),
    (401, "rate_port_fkey"),
    (650, "rate_price_check"),
    (900, "rate_pkey"),
];

/// Row n as (id, port, day, price) text, written wrong when it is in `wrong`.
fn row(n: i64, wrong: &[i64]) -> [String; 4] {
    let mut row = [
        n.to_string(),
        format!("P{}", n % 10),
        format!("2020-02-{:02}", 1 + n % 28),
        (n * 10).to_string(),
    ];
    if wrong.contains(&n) {
        match n {
            401 => "Q1".clone_into(&mut row[1]),
            650 => "-5".clone_into(&mut row[3]),
            900 => "300".clone_into(&mut row[0]),
            _ => {}
        }
    }
    row
}

fn csv(dir: &Path, wrong: &[i64]) {
    let mut text = "id,port,day,price\n".to_owned();
    for n in 1..=ROWS {
        text.push_str(&row(n, wrong).join(","));
        text.push('\n');
    }
    std::fs::write(dir.join("rate.csv"), text).unwrap();
}

fn job(dir: &Path, mode: &str, max_rejects: Option<usize>) -> String {
    let limit = max_rejects.map_or_else(String::new, |l| format!("max_rejects = {l}\n"));
    let path = dir.join("rate.toml");
    std::fs::write(
        &path,
        format!("table = \"rate\"\nmode = {mode}\n{limit}[source]\nchunk_rows = 128\n"),
    )
    .unwrap();
    path.display().to_string()
}

fn report(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The report's (line, reason) pairs.
fn lines(report: &[serde_json::Value]) -> Vec<(i64, String)> {
    report
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect()
}

/// Each refused row is at its line, refused for its constraint, in the server's words.
fn assert_located(found: &[(i64, String)], expected: &[i64]) {
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for ((line, reason), row) in found.iter().zip(expected) {
        assert_eq!(*line, row + 1, "{reason}");
        let word = REASONS.iter().find(|(n, _)| n == row).unwrap().1;
        assert!(reason.starts_with("the database refuses the row: "), "{reason}");
        assert!(reason.contains(word), "{reason} should name {word}");
    }
}

#[test]
fn without_max_rejects_the_first_refused_row_is_named_by_file_and_line() {
    let db = TestDb::new();
    tables(&db);
    let dir = tempfile::tempdir().unwrap();
    csv(dir.path(), &[401, 650, 900]);
    // Append: the COPY into the table itself meets the key of row 7.
    let job = job(dir.path(), "\"append\"", None);
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &job, "rate.csv"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("rate.csv: line 8")
            && message.contains("duplicate key value violates unique constraint \"rate_pkey\"")
            && message.contains("Key (id)=(7) already exists"),
        "{message}"
    );
    assert_eq!(db.query("SELECT count(*) FROM rate"), "1");
}

#[test]
fn every_kind_of_refusal_is_set_aside_at_its_line_in_every_mode() {
    // The mode; the rows written wrong; the rows refused; the rows the table then holds.
    // Upsert updates row 7 and fails a key twice in a batch as a whole (not row 900);
    // insert_new skips row 7 and row 900, as keys it holds already; replace replaces row 7.
    let cases: [(&str, &[i64], &[i64], i64); 4] = [
        ("\"append\"", &[401, 650, 900], &[7, 401, 650, 900], 1 + ROWS - 4),
        ("\"upsert\"\nkey = [\"id\"]", &[401, 650], &[401, 650], ROWS - 2),
        (
            "\"insert_new\"\nkey = [\"id\"]",
            &[401, 650, 900],
            &[401, 650],
            1 + ROWS - 4,
        ),
        ("\"replace\"", &[401, 650, 900], &[401, 650, 900], ROWS - 3),
    ];
    for (mode, wrong, refused, held) in cases {
        let db = TestDb::new();
        tables(&db);
        let dir = tempfile::tempdir().unwrap();
        csv(dir.path(), wrong);
        // Exactly as many as the limit allows: just under it.
        let job = job(dir.path(), mode, Some(refused.len()));
        let out = pgbatch(
            dir.path(),
            Some(&db.url()),
            &["load", "--json", &job, "rate.csv", "--rejects-out", "rejects.jsonl"],
        );
        assert_eq!(code(&out), 0, "{mode}: {}", stderr(&out));
        let found = lines(&report(&dir.path().join("rejects.jsonl")));
        assert_located(&found, refused);
        // Reconciled: every row read is loaded or rejected.
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["rows_rejected"], refused.len(), "{mode}");
        assert_eq!(summary["rows_read"], ROWS, "{mode}");
        // The table holds every other row: the server counts them.
        assert_eq!(db.query("SELECT count(*) FROM rate"), held.to_string(), "{mode}");
        // In the ledger, with the batch.
        assert_eq!(
            db.query("SELECT count(*), min(line), max(line) FROM pgbatch.rejects"),
            format!(
                "{}|{}|{}",
                refused.len(),
                refused[0] + 1,
                refused[refused.len() - 1] + 1
            ),
            "{mode}"
        );
    }
}

#[test]
fn one_refused_row_over_the_limit_rolls_back_and_the_report_says_why() {
    let db = TestDb::new();
    tables(&db);
    let dir = tempfile::tempdir().unwrap();
    csv(dir.path(), &[401, 650]);
    // Just under (as many refused as allowed) commits: the test above. Just over:
    let job = job(dir.path(), "\"upsert\"\nkey = [\"id\"]", Some(1));
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &job, "rate.csv", "--rejects-out", "rejects.jsonl"],
    );
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("more than max_rejects = 1 allows"), "{message}");
    assert!(message.contains("rate.csv: line 402"), "{message}");
    assert_located(&lines(&report(&dir.path().join("rejects.jsonl"))), &[401, 650]);
    assert_eq!(db.query("SELECT count(*), max(price) FROM rate"), "1|1");
}

#[test]
fn validate_lists_every_refused_row() {
    let db = TestDb::new();
    tables(&db);
    let dir = tempfile::tempdir().unwrap();
    csv(dir.path(), &[401, 650, 900]);
    let job = job(dir.path(), "\"append\"", None);
    let out = pgbatch(dir.path(), Some(&db.url()), &["validate", &job, "rate.csv"]);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("a load would fail: 4 of 1000 rows are bad and max_rejects is not set"),
        "{message}"
    );
    assert_eq!(db.query("SELECT count(*) FROM rate"), "1");
}

#[test]
fn parquet_refusals_name_their_row_group_and_row() {
    let db = TestDb::new();
    tables(&db);
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<[String; 4]> = (1..=ROWS).map(|n| row(n, &[401, 650, 900])).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("port", DataType::Utf8, false),
        Field::new("day", DataType::Utf8, false),
        Field::new("price", DataType::Int32, false),
    ]));
    let text = |i: usize| StringArray::from_iter_values(rows.iter().map(|r| r[i].clone()));
    let number = |i: usize| Int32Array::from_iter_values(rows.iter().map(|r| r[i].parse::<i32>().unwrap()));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(number(0)),
            Arc::new(text(1)),
            Arc::new(text(2)),
            Arc::new(number(3)),
        ],
    )
    .unwrap();
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(300))
        .build();
    let file = std::fs::File::create(dir.path().join("rate.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let job = job(dir.path(), "\"append\"", Some(4));
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &job, "rate.parquet", "--rejects-out", "rejects.jsonl"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let places: Vec<(i64, i64)> = report(&dir.path().join("rejects.jsonl"))
        .iter()
        .map(|r| (r["row_group"].as_i64().unwrap(), r["row"].as_i64().unwrap()))
        .collect();
    // Row n (1-based) is row (n - 1) % 300 of row group (n - 1) / 300.
    let expected: Vec<(i64, i64)> = [7, 401, 650, 900]
        .iter()
        .map(|n| ((n - 1) / 300, (n - 1) % 300))
        .collect();
    assert_eq!(places, expected);
    assert_eq!(db.query("SELECT count(*) FROM rate"), (1 + ROWS - 4).to_string());
}

#[test]
fn a_refused_row_leaves_the_batch_null_counts_too() {
    let db = TestDb::new();
    tables(&db);
    let dir = tempfile::tempdir().unwrap();
    // Row 401's port does not exist and its price is empty: the only NULL price of the file.
    csv(dir.path(), &[401]);
    let text = std::fs::read_to_string(dir.path().join("rate.csv")).unwrap();
    std::fs::write(
        dir.path().join("rate.csv"),
        text.replace("401,Q1,2020-02-10,4010", "401,Q1,2020-02-10,"),
    )
    .unwrap();
    let path = dir.path().join("rate.toml");
    std::fs::write(
        &path,
        "table = \"rate\"\nmode = \"append\"\nmax_rejects = 2\n[checks]\nmax_null_ratio = { price = 0.0 }\n",
    )
    .unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &path.display().to_string(), "rate.csv"],
    );
    // The batch holds no NULL price once row 401 is out of it (row 7 is refused too).
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.query("SELECT count(*), count(price) FROM rate"), "999|999");
}
