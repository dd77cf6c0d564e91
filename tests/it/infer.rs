//! `pgbatch infer` on every real dataset set of CSV or Parquet files: the migration and the
//! job it drafts load the files unchanged, with the row count each set's `SOURCE.md` states
//! (its blank records skipped and counted, as `SOURCE.md` counts them). The dialect it
//! finds is the one `SOURCE.md` describes. The xeneta set is a `pg_dump`, which carries its
//! own `CREATE TABLE`: infer reads CSV and Parquet.

use std::path::{Path, PathBuf};

use crate::cli::{code, pgbatch, stderr};
use crate::pg::{TestDb, shared};

/// A set's rows as its `SOURCE.md` summary table gives them: (folder, data rows, blank
/// records). The rows are the last number of the "rows" cell (`12 × 200 = 2,400`), the
/// blank records a `(+N blank)` or `(+N empty)` after it.
fn stated(dataset: &str) -> Vec<(String, u64, u64)> {
    let text = std::fs::read_to_string(shared(dataset).join("SOURCE.md")).unwrap();
    let number = |s: &str| -> Option<u64> {
        let digits: String = s
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    let mut rows_at = None;
    let mut sets = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if let Some(at) = cells.iter().position(|c| c.contains("rows")) {
            rows_at = Some(at);
            continue;
        }
        let (Some(at), Some(set)) = (rows_at, cells.first()) else {
            continue;
        };
        let Some(folder) = set.strip_prefix('`').and_then(|s| s.strip_suffix("/`")) else {
            continue;
        };
        let cell = cells[at];
        let (main, blank) = cell.split_once("(+").unwrap_or((cell, ""));
        let main = main.rsplit('=').next().unwrap();
        sets.push((folder.to_owned(), number(main).unwrap(), number(blank).unwrap_or(0)));
    }
    assert!(!sets.is_empty(), "no sets in {dataset}/SOURCE.md");
    sets
}

/// The data files of a set's folder (not its notes: `.md` files).
fn files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

/// Infers a set into `dir`, applies the migration, loads the files with the job: the
/// summary, and the job drafted.
fn infer_and_load(db: &TestDb, dir: &Path, name: &str, files: &[PathBuf]) -> (serde_json::Value, String) {
    let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let mut args = vec!["infer", "--name", name];
    args.extend(paths.iter().map(String::as_str));
    let out = pgbatch(dir, None, &args);
    assert_eq!(code(&out), 0, "{name}: {}", stderr(&out));
    let migration = std::fs::read_dir(dir.join("sql/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(&format!("_{name}.sql")))
        .unwrap_or_else(|| panic!("{name}: no migration drafted"));
    db.query(&std::fs::read_to_string(migration).unwrap());
    let job_path = dir.join(format!("jobs/{name}.toml"));
    let job = std::fs::read_to_string(&job_path).unwrap();
    let mut args = vec!["load".to_owned(), "--json".to_owned(), job_path.display().to_string()];
    args.extend(paths);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pgbatch(dir, Some(&db.url()), &args);
    assert_eq!(code(&out), 0, "{name}: {}\n{job}", stderr(&out));
    (serde_json::from_slice(&out.stdout).unwrap(), job)
}

#[test]
fn every_dataset_set_loads_unchanged_with_the_rows_source_md_states() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for dataset in ["air_quality", "spotify", "radio", "messages"] {
        for (folder, rows, blank) in stated(dataset) {
            let name = format!("inferred_{}", folder.replace('-', "_"));
            let (summary, job) = infer_and_load(&db, dir.path(), &name, &files(&shared(dataset).join(&folder)));
            assert_eq!(
                (
                    &summary["rows_loaded"],
                    &summary["rows_skipped"],
                    &summary["rows_rejected"]
                ),
                (&rows.into(), &blank.into(), &0.into()),
                "{dataset}/{folder}:\n{job}"
            );
            assert_eq!(db.query(&format!("SELECT count(*) FROM {name}")), rows.to_string());
            // The quirks SOURCE.md names, found.
            let expected: &[&str] = match folder.as_str() {
                "uci_airquality" => &[
                    "delimiter = \";\"",
                    "decimal = \",\"",
                    "\"-200\"",
                    "\"-200,0\"",
                    "%d/%m/%Y",
                ],
                "beijing_multisite" => &["null = [\"\", \"NA\"]", "from = \"PM2.5\""],
                "parquet_uci_sparkwriter" => &["\"-200\""],
                "spotifycharts_raw_daily" => &["skip_records = 1"],
                "triplej_playout_2012_2014" => &["encoding = \"mac_roman\"", "%d/%m/%Y"],
                "snap_collegemsg" => &["delimiter = \" \"", "header = false"],
                _ => &[],
            };
            for quirk in expected {
                assert!(job.contains(quirk), "{folder}: {quirk} not in\n{job}");
            }
            checked += 1;
        }
    }
    // 4 air quality sets, 3 chart sets, 2 radio sets, 2 message sets.
    assert_eq!(checked, 11);
}

#[test]
fn the_profile_counts_nulls_distinct_values_and_extremes() {
    let dir = tempfile::tempdir().unwrap();
    let file = shared("air_quality/parquet_cotonou_openmeteo/air_quality.parquet");
    let out = pgbatch(
        dir.path(),
        None,
        &[
            "--json",
            "infer",
            "--print-only",
            "--name",
            "cotonou",
            &file.display().to_string(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let draft: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let column = |name: &str| {
        draft["profile"]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["field"] == name)
            .unwrap_or_else(|| panic!("no {name} in {draft}"))
            .clone()
    };
    // SOURCE.md: 5,472 rows; formaldehyde NULL in 4,224; timestamp[ns, UTC].
    assert_eq!(draft["profile"]["rows"], 5_472);
    assert_eq!(column("formaldehyde")["nulls"], 4_224);
    assert_eq!(column("date")["kind"], "timestamptz");
    assert_eq!(column("date")["distinct"], 5_472);
    // Nothing written with --print-only.
    assert!(!dir.path().join("jobs").exists());
    // The drafted key: the one column distinct in every row.
    assert!(
        draft["migration"].as_str().unwrap().contains("-- A likely key: id"),
        "{draft}"
    );
}

#[test]
fn infer_says_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let dump = shared("xeneta/rates.sql").display().to_string();
    let out = pgbatch(dir.path(), None, &["infer", &dump]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("infer reads CSV and Parquet files"),
        "{}",
        stderr(&out)
    );
    let csv = shared("air_quality/uci_airquality/AirQualityUCI.csv")
        .display()
        .to_string();
    let parquet = shared("air_quality/parquet_uci_sparkwriter/air_quality.parquet")
        .display()
        .to_string();
    let out = pgbatch(dir.path(), None, &["infer", &csv, &parquet]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("different formats"), "{}", stderr(&out));
    let missing = dir.path().join("none.csv").display().to_string();
    let out = pgbatch(dir.path(), None, &["infer", &missing]);
    assert_eq!(code(&out), 66, "{}", stderr(&out));
    // A draft is never written over another.
    let out = pgbatch(dir.path(), None, &["infer", "--name", "uci", &csv]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = pgbatch(dir.path(), None, &["infer", "--name", "uci", &csv]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("uci.toml: cannot write it"), "{}", stderr(&out));
}

#[test]
fn samples_are_read_from_s3_compressed_or_not() {
    use std::io::Write as _;

    let s3 = crate::s3::S3::start();
    let db = TestDb::new();
    let plain = std::fs::read(shared("air_quality/uci_airquality/AirQualityUCI.csv")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    s3.put("landing", "uci/AirQualityUCI.csv", &plain);
    s3.put("landing", "uci/AirQualityUCI.csv.gz", &gz.finish().unwrap());
    for key in ["uci/AirQualityUCI.csv", "uci/AirQualityUCI.csv.gz"] {
        let url = format!("s3://landing/{key}");
        let out = crate::s3::pgbatch(&db, &s3.endpoint(), &["infer", "--print-only", "--name", "uci", &url]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let draft: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // SOURCE.md: 9,357 rows and 114 blank ones; `;`, decimal comma.
        assert_eq!(
            (
                &draft["profile"]["rows"],
                &draft["profile"]["blank_rows"],
                &draft["decimal_comma"]
            ),
            (&9_471.into(), &114.into(), &true.into()),
            "{key}"
        );
        assert_eq!(draft["files"][0], url);
    }
}
