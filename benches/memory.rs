//! Peak memory of a load as the input grows: a 1 GB and a 4 GB generated CSV of long
//! air-quality rows, and a Parquet file of the same rows each, loaded by `pgbatch load` into
//! an unindexed table of a private cluster; peak RSS from `/usr/bin/time`.
//!
//! The budget: under 256 MiB, and the 4 GB load within 20% of the 1 GB one.
//!
//! Then wide rows: a 2 GiB CSV of 100 KB rows (and a Parquet file of the same rows), where
//! a chunk of 8,192 rows would be 800 MB: chunks end at 8 MiB of input instead, and the
//! budget is the same 256 MiB.
//! Run: cargo bench --bench memory   (needs PostgreSQL's server binaries, GNU time, and
//! about 15 GB of free disk for the inputs and the loaded table);
//! cargo bench --bench memory -- wide   (the wide rows only)

mod common;

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use pgbatch::embedded::Cluster;

const GIB: u64 = 1 << 30;
const STATIONS: [&str; 4] = ["Dongsi", "Tiantan", "Guanyuan", "Wanliu"];
const PARAMETERS: [&str; 6] = ["pm25", "pm10", "so2", "no2", "co", "o3"];

/// The n-th generated row's fields.
fn row(n: u64) -> (String, &'static str, String, f64) {
    let station = STATIONS[usize::try_from(n % 4).unwrap_or(0)];
    let parameter = PARAMETERS[usize::try_from((n / 4) % 6).unwrap_or(0)];
    let hour = n / 24;
    let time = format!(
        "{:04}-{:02}-{:02}T{:02}:00:00+08:00",
        2000 + (hour / 8760) % 100,
        1 + (hour / 720) % 12,
        1 + (hour / 24) % 28,
        hour % 24
    );
    let value = f64::from(u32::try_from(n % 100_000).unwrap_or(0)) / 10.0;
    (format!("{station}-{}", n % 97), parameter, time, value)
}

/// Writes rows until the file reaches `bytes`; returns the row count.
fn write_csv(path: &Path, bytes: u64) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut written = 0u64;
    let mut n = 0u64;
    while written < bytes {
        let (station, parameter, time, value) = row(n);
        let line = format!("{station},{parameter},{time},{value},ug/m3,39.9,116.4\n");
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        n += 1;
    }
    out.flush().unwrap();
    n
}

/// The same `rows` rows as Parquet, in row groups of 1M rows.
fn write_parquet(path: &Path, rows: u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("station", DataType::Utf8, false),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("time", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("unit", DataType::Utf8, true),
        Field::new("latitude", DataType::Float64, true),
        Field::new("longitude", DataType::Float64, true),
    ]));
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties)).unwrap();
    let batch_rows = 65_536u64;
    let mut start = 0;
    while start < rows {
        let count = batch_rows.min(rows - start);
        let fields: Vec<_> = (start..start + count).map(row).collect();
        let n = fields.len();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from_iter_values(fields.iter().map(|f| f.0.as_str()))),
                Arc::new(StringArray::from_iter_values(fields.iter().map(|f| f.1))),
                Arc::new(StringArray::from_iter_values(fields.iter().map(|f| f.2.as_str()))),
                Arc::new(Float64Array::from_iter_values(fields.iter().map(|f| f.3))),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n("ug/m3", n))),
                Arc::new(Float64Array::from_iter_values(std::iter::repeat_n(39.9, n))),
                Arc::new(Float64Array::from_iter_values(std::iter::repeat_n(116.4, n))),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
        start += count;
    }
    writer.close().unwrap();
}

fn per_second(rows: u64, seconds: f64) -> f64 {
    f64::from(u32::try_from(rows).unwrap_or(u32::MAX)) / seconds
}

/// Loads `file` with `job` under GNU time; returns (seconds, peak RSS in MiB).
fn measure(url: &str, jobs: &Path, job: &str, file: &Path) -> (f64, f64) {
    let started = std::time::Instant::now();
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_pgbatch"))
        .args(["--jobs-dir"])
        .arg(jobs)
        .args(["load", "--force", job])
        .arg(file)
        .env("DATABASE_URL", url)
        .env("PGBATCH_LOG", "warn")
        .output()
        .expect("GNU time runs (apt-get install time)");
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pgbatch failed: {stderr}");
    let kib: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time prints the peak RSS in KiB");
    (seconds, kib / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for a listing
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&work.path().join("cluster")).expect("a private cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cluster.ensure_database("bench")).unwrap();
    let url = cluster.url("bench");
    common::pgbatch(
        &url,
        &["migrate", "--dir", &repo.join("sql/migrations").display().to_string()],
    );
    let psql = |sql: &str| {
        let status = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &url, "-c", sql])
            .status()
            .expect("psql runs");
        assert!(status.success(), "psql failed: {sql}");
    };
    psql(
        "CREATE UNLOGGED TABLE mem_in (station text NOT NULL, parameter text NOT NULL, \
         time timestamptz NOT NULL, value double precision, unit text, latitude double precision, \
         longitude double precision)",
    );
    let jobs = work.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(
        jobs.join("mem_csv.toml"),
        "table = \"mem_in\"\n[source]\nformat = \"csv\"\nheader = false\n\
         fields = [\"station\", \"parameter\", \"time\", \"value\", \"unit\", \"latitude\", \"longitude\"]\n",
    )
    .unwrap();
    std::fs::write(jobs.join("mem_parquet.toml"), "table = \"mem_in\"\n").unwrap();

    println!("| input | rows | load s | rows/s | peak RSS MiB |");
    println!("| --- | --- | --- | --- | --- |");
    let mut peaks = Vec::new();
    let wide_only = std::env::args().any(|a| a == "wide");
    for gib in if wide_only { vec![] } else { vec![1, 4] } {
        let csv = work.path().join(format!("rows_{gib}g.csv"));
        let rows = write_csv(&csv, gib * GIB);
        let (seconds, rss) = measure(&url, &jobs, "mem_csv", &csv);
        psql("TRUNCATE mem_in");
        println!(
            "| CSV, {gib} GiB | {rows} | {seconds:.1} | {:.0} | {rss:.0} |",
            per_second(rows, seconds)
        );
        std::fs::remove_file(&csv).unwrap();
        let parquet = work.path().join(format!("rows_{gib}g.parquet"));
        write_parquet(&parquet, rows);
        let size = std::fs::metadata(&parquet).unwrap().len();
        let (p_seconds, p_rss) = measure(&url, &jobs, "mem_parquet", &parquet);
        psql("TRUNCATE mem_in");
        println!(
            "| Parquet of the same rows ({} MiB) | {rows} | {p_seconds:.1} | {:.0} | {p_rss:.0} |",
            size >> 20,
            per_second(rows, p_seconds)
        );
        std::fs::remove_file(&parquet).unwrap();
        peaks.push((rss, p_rss));
    }
    if !wide_only {
        println!(
            "peak RSS, 4 GiB / 1 GiB: CSV {:.2}x, Parquet {:.2}x (budget: under 1.20x and under 256 MiB)",
            peaks[1].0 / peaks[0].0,
            peaks[1].1 / peaks[0].1
        );
    }
    wide(&url, &jobs, work.path(), &psql);
    cluster.stop().expect("the cluster stops");
}

/// Bytes of one wide row's payload.
const WIDE: usize = 100_000;

/// Row `n`'s payload: `WIDE` bytes of digits, different per row.
fn payload(n: u64) -> String {
    let digits = format!("{n:012}");
    digits.repeat(WIDE / digits.len())
}

/// 2 GiB of 100 KB rows, as CSV and as Parquet, each loaded under GNU time.
fn wide(url: &str, jobs: &Path, work: &Path, psql: &dyn Fn(&str)) {
    psql("CREATE UNLOGGED TABLE mem_wide (id bigint NOT NULL, payload text NOT NULL)");
    std::fs::write(jobs.join("mem_wide.toml"), "table = \"mem_wide\"\n").unwrap();
    let csv = work.join("wide.csv");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&csv).unwrap());
    out.write_all(b"id,payload\n").unwrap();
    let rows = 2 * GIB / (WIDE as u64 + 8);
    for n in 0..rows {
        writeln!(out, "{n},{}", payload(n)).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let (seconds, rss) = measure(url, jobs, "mem_wide", &csv);
    psql("TRUNCATE mem_wide");
    println!(
        "| CSV, 2 GiB of 100 KB rows | {rows} | {seconds:.1} | {:.0} | {rss:.0} |",
        per_second(rows, seconds)
    );
    std::fs::remove_file(&csv).unwrap();
    let parquet = work.join("wide.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("payload", DataType::Utf8, false),
    ]));
    // Row groups of 512 rows (50 MB of payload), under the 128 MiB a row group may have.
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(512))
        .build();
    let file = std::fs::File::create(&parquet).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(properties)).unwrap();
    for start in (0..rows).step_by(64) {
        let ids: Vec<i64> = (start..rows.min(start + 64))
            .map(|n| i64::try_from(n).unwrap_or(0))
            .collect();
        let payloads: Vec<String> = (start..rows.min(start + 64)).map(payload).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(arrow_array::Int64Array::from(ids)),
                Arc::new(StringArray::from(payloads)),
            ],
        )
        .unwrap();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    let size = std::fs::metadata(&parquet).unwrap().len();
    let (seconds, p_rss) = measure(url, jobs, "mem_wide", &parquet);
    psql("TRUNCATE mem_wide");
    println!(
        "| Parquet of the same rows ({} MiB) | {rows} | {seconds:.1} | {:.0} | {p_rss:.0} |",
        size >> 20,
        per_second(rows, seconds)
    );
    std::fs::remove_file(&parquet).unwrap();
    println!("wide rows, peak RSS: CSV {rss:.0} MiB, Parquet {p_rss:.0} MiB (budget: under 256 MiB)");
}
