//! `[checks]`: each kind passes at its bound and fails just past it, naming the check and
//! its figure, and a failed check leaves the table as it was. The figures come from the
//! rows the test writes (or, for the SQL assertion, from the xeneta dump's `SOURCE.md`).

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{code, pgbatch, stderr};
use crate::pg::{TestDb, repo, shared};

/// Rows in the test's file.
const ROWS: i64 = 1000;

/// Ids 7 (three times), 8 and 9 (twice each) repeat: three keys held more than once.
fn id(n: i64) -> i64 {
    match n {
        100 | 200 => 7,
        300 => 8,
        400 => 9,
        n => n,
    }
}

/// A CSV of `ROWS` rows (id, price), every hundredth price empty (NULL): 10 NULLs.
fn csv(dir: &Path) -> String {
    let mut text = "id,price\n".to_owned();
    for n in 1..=ROWS {
        let price = if n % 100 == 50 {
            String::new()
        } else {
            (n * 10).to_string()
        };
        writeln!(text, "{},{price}", id(n)).unwrap();
    }
    std::fs::write(dir.join("t.csv"), text).unwrap();
    "t.csv".to_owned()
}

fn load(db: &TestDb, dir: &Path, checks: &str) -> std::process::Output {
    let job = dir.join("t.toml");
    std::fs::write(
        &job,
        format!("table = \"t\"\nmode = \"replace\"\n\n[checks]\n{checks}\n"),
    )
    .unwrap();
    let file = csv(dir);
    pgbatch(dir, Some(&db.url()), &["load", "--json", job.to_str().unwrap(), &file])
}

fn setup() -> (TestDb, tempfile::TempDir) {
    let db = TestDb::new();
    db.query("CREATE TABLE t (id integer NOT NULL, price integer)");
    db.query("INSERT INTO t VALUES (-1, -1)");
    (db, tempfile::tempdir().unwrap())
}

fn passed(out: &std::process::Output) -> Vec<String> {
    assert_eq!(code(out), 0, "{}", stderr(out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect()
}

fn failed(db: &TestDb, out: &std::process::Output, message: &str) {
    assert_eq!(code(out), 65, "{}", stderr(out));
    assert_eq!(stderr(out), format!("pgbatch: error: {message}; the batch rolled back"));
    // The table as it was: a failed check commits nothing.
    assert_eq!(db.query("SELECT count(*), min(id) FROM t"), "1|-1");
}

#[test]
fn row_counts_pass_at_their_bounds_and_fail_past_them() {
    let (db, dir) = setup();
    failed(
        &db,
        &load(&db, dir.path(), "min_rows = 1001"),
        "batch check min_rows: the batch has 1000 rows, fewer than 1001",
    );
    failed(
        &db,
        &load(&db, dir.path(), "max_rows = 999"),
        "batch check max_rows: the batch has 1000 rows, more than 999",
    );
    assert_eq!(
        passed(&load(&db, dir.path(), "min_rows = 1000\nmax_rows = 1000")),
        ["min_rows: 1000 rows >= 1000", "max_rows: 1000 rows <= 1000"]
    );
    assert_eq!(db.query("SELECT count(*) FROM t"), ROWS.to_string());
}

#[test]
fn a_key_held_twice_in_the_batch_is_named_with_how_often() {
    let (db, dir) = setup();
    failed(
        &db,
        &load(&db, dir.path(), "unique = [\"id\"]"),
        "batch check unique: 3 keys (id) are held more than once in the batch, (id) = (7) 3 times",
    );
    // (id, price) is unique: every price differs.
    assert_eq!(
        passed(&load(&db, dir.path(), "unique = [\"id\", \"price\"]")),
        ["unique (id, price): no key twice"]
    );
}

#[test]
fn the_share_of_nulls_is_checked_per_column() {
    let (db, dir) = setup();
    failed(
        &db,
        &load(&db, dir.path(), "max_null_ratio = { price = 0.009 }"),
        "batch check max_null_ratio: column \"price\" is NULL in 10 of 1000 rows (0.0100), more than 0.009",
    );
    assert_eq!(
        passed(&load(&db, dir.path(), "max_null_ratio = { price = 0.01, id = 0 }")),
        [
            "max_null_ratio id: 0 of 1000 NULL (0.0000) <= 0",
            "max_null_ratio price: 10 of 1000 NULL (0.0100) <= 0.01"
        ]
    );
}

#[test]
fn checks_that_cannot_hold_are_configuration_errors_at_their_line() {
    let db = TestDb::new();
    db.query("CREATE TABLE t (id integer NOT NULL, price integer)");
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("t.toml");
    std::fs::write(
        &job,
        "table = \"t\"\n\n[checks]\nunique = [\"id\"]\nmax_null_ratio = { prize = 0.5 }\nsql = [\"missing.sql\"]\n",
    )
    .unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", job.to_str().unwrap(), &csv(dir.path())],
    );
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let message = stderr(&out);
    for expected in [
        "t.toml:4:1: [checks] unique needs a staged mode",
        "t.toml:5:",
        "\"prize\" is not a loaded column (did you mean \"price\"?)",
        "t.toml:6:1: [checks] sql:",
    ] {
        assert!(message.contains(expected), "{expected:?} in {message}");
    }
}

/// The xeneta dump's prices cover every day of January 2016; its trailing DML (the restate
/// job) leaves 2016-01-03 without prices (`../shared/data/xeneta/SOURCE.md`).
#[test]
fn a_sql_assertion_on_a_real_dataset_names_what_fails_it() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dump = shared("xeneta/rates.sql").display().to_string();
    for job in ["shipping_regions", "shipping_ports"] {
        let out = pgbatch(dir.path(), Some(&db.url()), &["load", job, &dump]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    std::fs::write(
        dir.path().join("every_day_priced.sql"),
        "SELECT count(*) AS failing, min(d)::date::text AS example\n\
         FROM generate_series(date '2016-01-01', date '2016-01-31', interval '1 day') AS d\n\
         WHERE NOT EXISTS (SELECT 1 FROM prices WHERE day = d)\n",
    )
    .unwrap();
    let checks = "\n[checks]\nsql = [\"every_day_priced.sql\"]\n";
    for name in ["shipping_prices", "shipping_prices_restate"] {
        let spec = std::fs::read_to_string(repo().join("jobs").join(format!("{name}.toml"))).unwrap();
        let spec = spec.replace("[source]", &format!("{checks}\n[source]"));
        let spec = if spec.contains("[checks]") {
            spec
        } else {
            spec.replace("[cover]", &format!("{checks}\n[cover]"))
        };
        std::fs::write(dir.path().join(format!("{name}.toml")), spec).unwrap();
    }
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "--json", "./shipping_prices.toml", &dump],
    );
    assert_eq!(passed(&out), ["every_day_priced: 0 failing"]);
    let restated = repo().join("data/samples/xeneta/prices_2016-01-03_2016-01-04.csv");
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "./shipping_prices_restate.toml", restated.to_str().unwrap()],
    );
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    // The file as the job names it, from the job's folder.
    assert_eq!(
        stderr(&out),
        "pgbatch: error: batch check every_day_priced: ./every_day_priced.sql finds 1 failing (for example \
         2016-01-03), expected 0; the batch rolled back"
    );
    // SOURCE.md: 56,689 prices in the COPY block, left as they were.
    assert_eq!(db.query("SELECT count(*) FROM prices"), "56689");
}
