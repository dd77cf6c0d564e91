//! Dates and timestamps at PostgreSQL's own limits, from Parquet (pyarrow's writer): the
//! server says where its range ends; the first value inside loads, the first outside is bad
//! data (65) naming its row group, row and column, never a value wrapped into another.

use std::process::Command;

use crate::cli::{code, pgbatch, stderr};
use crate::mapping::job_file;
use crate::pg::TestDb;

/// Writes one column of `values` (a pyarrow type expression) as a Parquet file.
fn parquet(path: &std::path::Path, column: &str, ty: &str, values: &[i64]) {
    let values: Vec<String> = values.iter().map(i64::to_string).collect();
    let script = format!(
        "import pyarrow as pa, pyarrow.parquet as pq\n\
         pq.write_table(pa.table({{'{column}': pa.array([{}], {ty})}}), '{}')\n",
        values.join(", "),
        path.display()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "pyarrow (pip install pyarrow): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dates_and_timestamps_at_postgresql_limits() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE limits_ts (at timestamptz); CREATE TABLE limits_d (day date)");
    // The server's own first timestamp and its first and last dates, as Arrow counts them.
    let first_ts: i64 = db
        .query("SELECT (extract(epoch FROM '4714-11-24 00:00:00+00 BC'::timestamptz) * 1000000)::bigint")
        .parse()
        .unwrap();
    let (first_day, last_day): (i64, i64) = {
        let row =
            db.query("SELECT '4714-11-24 BC'::date - '1970-01-01'::date, '5874897-12-31'::date - '1970-01-01'::date");
        let (a, b) = row.split_once('|').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let ts_job = job_file(dir.path(), "limits_ts", "table = \"limits_ts\"\n");
    let d_job = job_file(dir.path(), "limits_d", "table = \"limits_d\"\n");
    let timestamp = "pa.timestamp('us', tz='UTC')";
    let inside = dir.path().join("inside.parquet");
    parquet(&inside, "at", timestamp, &[first_ts, 0]);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &ts_job, &inside.display().to_string()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        db.query("SELECT min(at) AT TIME ZONE 'UTC' FROM limits_ts"),
        "4714-11-24 00:00:00 BC"
    );
    let outside = dir.path().join("outside.parquet");
    parquet(&outside, "at", timestamp, &[0, first_ts - 1, i64::MIN]);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &ts_job, &outside.display().to_string()],
    );
    let message = stderr(&out);
    assert_eq!(code(&out), 65, "{message}");
    assert!(
        message.contains("outside.parquet: row group 0, row 1, column \"at\"")
            && message.contains("outside PostgreSQL's range for timestamptz"),
        "{message}"
    );
    let days = dir.path().join("days.parquet");
    parquet(&days, "day", "pa.date32()", &[first_day, last_day]);
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", &d_job, &days.display().to_string()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        db.query("SELECT min(day) || ' ' || max(day) FROM limits_d"),
        "4714-11-24 BC 5874897-12-31"
    );
    for (name, day) in [("before.parquet", first_day - 1), ("after.parquet", last_day + 1)] {
        let file = dir.path().join(name);
        parquet(&file, "day", "pa.date32()", &[day]);
        let out = pgbatch(
            dir.path(),
            Some(&db.url()),
            &["load", &d_job, &file.display().to_string()],
        );
        let message = stderr(&out);
        assert_eq!(code(&out), 65, "{name}: {message}");
        assert!(message.contains("column \"day\""), "{message}");
    }
    assert_eq!(
        db.query("SELECT count(*) FROM limits_d"),
        "2",
        "nothing of the refused files"
    );
}
