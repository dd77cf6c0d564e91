//! Never a silent NULL: one column-matching rule for every format. Each real dataset with a
//! CSV file is written as Parquet by pyarrow (the header as it is, mixed case), both forms
//! load with one job spec into tables whose columns are the header in lower case, and the
//! tables must equal each other and, where PostgreSQL can read the CSV itself, `psql \copy`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pgbatch::pipeline::LoadOptions;

use crate::load::{load_files, temp_job};
use crate::pg::{TestDb, cluster, repo, shared};

/// One dataset in two forms.
struct Case {
    name: &'static str,
    /// The table, columns named as the CSV header in lower case, typed after SOURCE.md.
    columns: &'static str,
    files: Vec<PathBuf>,
    /// `[source]` and `[columns.*]` lines of the job (no `from` for case-only differences).
    spec: &'static str,
    /// How pyarrow reads the CSV.
    pyarrow: &'static [&'static str],
    /// `psql \copy` of the CSV into the same table, when PostgreSQL can read it (`{file}`).
    copy: Option<&'static str>,
    rows: u64,
}

fn cases() -> Vec<Case> {
    let files = |dir: &str, take: usize| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(shared(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .collect();
        files.sort();
        files.truncate(take);
        files
    };
    vec![
        Case {
            name: "beijing",
            columns: "no integer, year integer, month integer, day integer, hour integer, \
                      \"pm2.5\" double precision, pm10 double precision, so2 double precision, \
                      no2 double precision, co double precision, o3 double precision, \
                      temp double precision, pres double precision, dewp double precision, \
                      rain double precision, wd text, wspm double precision, station text",
            files: files("air_quality/beijing_multisite", 3),
            spec: "[source]\nnull = [\"NA\", \"\"]\n",
            pyarrow: &["--null", "NA", "--null", ""],
            copy: Some("\\copy {table} FROM '{file}' (FORMAT csv, HEADER, NULL 'NA')"),
            // SOURCE.md: 35,064 rows per station file.
            rows: 3 * 35_064,
        },
        Case {
            name: "uci",
            columns: "date text, time text, \"co(gt)\" double precision, \"pt08.s1(co)\" integer, \
                      \"nmhc(gt)\" integer, \"c6h6(gt)\" double precision, \"pt08.s2(nmhc)\" integer, \
                      \"nox(gt)\" integer, \"pt08.s3(nox)\" integer, \"no2(gt)\" integer, \
                      \"pt08.s4(no2)\" integer, \"pt08.s5(o3)\" integer, t double precision, \
                      rh double precision, ah double precision",
            files: files("air_quality/uci_airquality", 1),
            spec: "[source]\ndelimiter = \";\"\ndecimal = \",\"\nnull = [\"\", \"-200\", \"-200,0\"]\n",
            pyarrow: &[
                "--delimiter",
                ";",
                "--decimal",
                ",",
                "--null",
                "",
                "--null=-200",
                "--null=-200,0",
            ],
            // Decimal commas: PostgreSQL's COPY cannot read them as numbers.
            copy: None,
            // SOURCE.md: 9,357 rows (and 114 empty records, skipped).
            rows: 9_357,
        },
        Case {
            name: "spotify_daily",
            columns: "position integer, \"track name\" text, artist text, streams bigint, url text",
            files: files("spotify/spotifycharts_raw_daily", 12),
            spec: "[source]\nskip_records = 1\n",
            pyarrow: &["--skip-rows", "1"],
            copy: Some("\\copy {table} FROM PROGRAM 'tail -n +2 {file}' (FORMAT csv, HEADER)"),
            // SOURCE.md: 12 x 200 = 2,400 rows.
            rows: 12 * 200,
        },
        Case {
            name: "radio_plays",
            columns: "timestamp bigint, date text, time text, trackname text, artist text, album text, \
                      duration text, seconds integer, program text, day text",
            files: vec![shared("radio/triplej_playout_2012_2014/playlist_20140929.csv")],
            spec: "[source]\nencoding = \"mac_roman\"\n[columns.album]\nnull = [\"\", \"\\r\"]\n",
            pyarrow: &["--encoding", "mac_roman"],
            // Mac Roman is no PostgreSQL encoding: iconv decodes it first. The two records
            // of nothing but commas and the album of a lone CR are taken out after.
            copy: Some(
                "\\copy {table} FROM PROGRAM 'iconv -f MACINTOSH -t UTF-8 {file}' (FORMAT csv, HEADER)\n\
                 DELETE FROM {table} WHERE timestamp IS NULL AND trackname IS NULL;\n\
                 UPDATE {table} SET album = NULL WHERE album = E'\\r';",
            ),
            // SOURCE.md: 134,948 plays (+2 empty records).
            rows: 134_948,
        },
    ]
}

/// The rows of a table as one digest: count and md5 over the sorted rows' text.
fn digest(db: &TestDb, table: &str) -> String {
    db.query(&format!(
        "SELECT count(*) || ' ' || md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM {table} r"
    ))
}

pub(crate) fn to_parquet(csv: &Path, parquet: &Path, options: &[&str]) {
    let out = Command::new("python3")
        .arg(repo().join("tests/it/tools/csv_to_parquet.py"))
        .arg(csv)
        .arg(parquet)
        .args(options)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "writing {} as Parquet failed (needs `pip install pyarrow`): {}",
        csv.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn every_dataset_loads_alike_from_csv_and_from_parquet() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let mut digests = Vec::new();
        for form in ["csv", "parquet"] {
            let table = format!("{}_{form}", case.name);
            db.query(&format!("CREATE TABLE {table} ({})", case.columns));
            let files: Vec<PathBuf> = if form == "csv" {
                case.files.clone()
            } else {
                case.files
                    .iter()
                    .map(|csv| {
                        let parquet = dir.path().join(csv.file_stem().unwrap()).with_extension("parquet");
                        to_parquet(csv, &parquet, case.pyarrow);
                        parquet
                    })
                    .collect()
            };
            let spec = temp_job(
                dir.path(),
                &table,
                &format!(
                    "table = \"{table}\"\n{}",
                    case.spec
                        .replace("[source]\n", &format!("[source]\nformat = \"{form}\"\n"))
                ),
            );
            let summary = load_files(&db, &spec, &files, LoadOptions::default())
                .await
                .unwrap_or_else(|error| panic!("{table}: {error}"));
            assert_eq!(summary.rows_loaded, case.rows, "{table}");
            // No column of these tables may be NULL in every row: each has values in the data.
            for column in db
                .query(&format!(
                    "SELECT attname FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0"
                ))
                .lines()
            {
                assert_eq!(
                    db.query(&format!(
                        "SELECT count(*) > 0 FROM {table} WHERE \"{column}\" IS NOT NULL"
                    )),
                    "t",
                    "{table}.{column} is NULL in every row"
                );
            }
            digests.push(digest(&db, &table));
        }
        assert_eq!(
            digests[0], digests[1],
            "{}: CSV and Parquet load differently",
            case.name
        );
        if let Some(copy) = case.copy {
            let table = format!("{}_psql", case.name);
            db.query(&format!("CREATE TABLE {table} ({})", case.columns));
            let script: String = case
                .files
                .iter()
                .map(|file| {
                    copy.replace("{table}", &table)
                        .replace("{file}", &file.display().to_string())
                        .lines()
                        .next()
                        .unwrap()
                        .to_owned()
                        + "\n"
                })
                .chain(copy.lines().skip(1).map(|l| l.replace("{table}", &table) + "\n"))
                .collect();
            cluster().psql(&db.name, &script);
            assert_eq!(
                digests[0],
                digest(&db, &table),
                "{}: pgbatch and psql \\copy differ",
                case.name
            );
        }
    }
}

/// Runs `pgbatch ARGS` against `db`, with job files in `dir`.
fn run(db: &TestDb, dir: &Path, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = crate::cli::pgbatch(dir, Some(&db.url()), args);
    let json = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (crate::cli::code(&out), json, crate::cli::stderr(&out))
}

/// A job file in `dir`, by its path.
pub(crate) fn job_file(dir: &Path, name: &str, toml: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path.display().to_string()
}

/// A data file in `dir`, by its path.
pub(crate) fn file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn two_fields_alike_but_for_case_are_a_configuration_error_naming_both() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE air (station text, pm10 double precision)");
    let job = job_file(dir.path(), "air", "table = \"air\"\n");
    let csv = file(dir.path(), "a.csv", "station,PM10,Pm10\nx,1,2\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &csv]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(r#"column "pm10" reads field "pm10", which matches "PM10", "Pm10" alike"#),
        "{stderr}"
    );
    // An exact match is not ambiguous; `from` chooses among the others.
    let exact = file(dir.path(), "b.csv", "station,pm10,PM10\nx,1,2\n");
    let (code, json, stderr) = run(&db, dir.path(), &["load", "--json", &job, &exact]);
    assert_eq!(
        (code, &json["fields_ignored"]),
        (0, &serde_json::json!(["PM10"])),
        "{stderr}"
    );
    let chosen = job_file(dir.path(), "air2", "table = \"air\"\n[columns.pm10]\nfrom = \"Pm10\"\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &chosen, &csv]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        db.query("SELECT string_agg(pm10::text, ',' ORDER BY pm10) FROM air"),
        "1,2"
    );
}

#[test]
fn an_unfilled_nullable_column_fails_before_any_row_is_read() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE air (station text, wd text, pm10 double precision)");
    let job = job_file(dir.path(), "air", "table = \"air\"\n");
    // The second file's rows are bad: had any row been read, the error would be 65.
    let good = file(dir.path(), "a.csv", "station,PM10,wd\nx,1,N\n");
    let lacking = file(dir.path(), "b.csv", "station,PM10\nnot-a-row,not-a-number\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &good, &lacking]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(&format!(
            r#"{lacking}: no field fills column "wd" (a column is never left NULL silently); the file has "station", "PM10""#
        )),
        "{stderr}"
    );
    assert_eq!(db.query("SELECT count(*) FROM air"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");

    // Parquet alike (the case that once loaded NULLs): every unfilled column listed at once.
    db.query("CREATE TABLE wide (no integer, pm10 double precision, so2 double precision, wd text)");
    let parquet = dir.path().join("wide.parquet");
    write_parquet(&parquet);
    let job = job_file(dir.path(), "wide", "table = \"wide\"\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &parquet.display().to_string()]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(
            r#"no field fills columns "so2", "wd" (a column is never left NULL silently); the file has "No", "PM10""#
        ),
        "{stderr}"
    );
}

/// A Parquet file with mixed-case names, as pyarrow writes a CSV header.
fn write_parquet(path: &Path) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
    let batch = RecordBatch::try_from_iter([
        ("No", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
        ("PM10", Arc::new(Float64Array::from(vec![Some(4.5), None]))),
    ])
    .unwrap();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn defaults_and_identities_are_left_to_the_server_and_absent_is_said() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query(
        "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY, seq bigint GENERATED BY DEFAULT AS IDENTITY, \
         k integer NOT NULL, origin text DEFAULT 'server', note text, doubled integer GENERATED ALWAYS AS (k * 2) STORED)",
    );
    let job = job_file(dir.path(), "t", "table = \"t\"\n[columns.note]\nabsent = true\n");
    let csv = file(dir.path(), "a.csv", "K,id\n1,100\n2,200\n");
    let (code, json, stderr) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!(code, 0, "{stderr}");
    // `id` is the database's (GENERATED ALWAYS): the file's field is reported, not loaded.
    assert_eq!(json["fields_ignored"], serde_json::json!(["id"]));
    assert_eq!(
        db.query("SELECT string_agg(concat_ws('|', id, seq, k, origin, coalesce(note, 'null'), doubled), ',' ORDER BY k) FROM t"),
        "1|1|1|server|null|2,2|2|2|server|null|4"
    );
    // A file that has the defaulted field fills it.
    let csv = file(dir.path(), "b.csv", "k,origin\n3,file\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &csv]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(db.query("SELECT origin FROM t WHERE k = 3"), "file");
    // Some files with it and some without cannot share one COPY.
    let other = file(dir.path(), "c.csv", "k\n4\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &csv, &other]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(&format!(
            r#"column "origin" has a default, and a field in some files but not in {other}"#
        )),
        "{stderr}"
    );
    // `absent` on a column the server cannot fill is refused.
    let job = job_file(dir.path(), "t2", "table = \"t\"\n[columns.k]\nabsent = true\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &job, &other]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains("[columns.k] absent = true, but the column is NOT NULL and has no default"),
        "{stderr}"
    );
}

#[test]
fn validate_prints_the_mapping_and_the_fields_no_column_takes() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE air (station text, at date, pm10 double precision, note text)");
    let job = job_file(
        dir.path(),
        "air",
        "table = \"air\"\n[columns.at]\ntemplate = \"{Year}-{Month}-01\"\n[columns.note]\nabsent = true\n",
    );
    let csv = file(dir.path(), "a.csv", "Station,Year,Month,PM10,wd,No\nx,2016,1,4.5,N,1\n");
    let out = crate::cli::pgbatch(dir.path(), Some(&db.url()), &["validate", &job, &csv]);
    assert_eq!(crate::cli::code(&out), 0, "{}", crate::cli::stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        r#"  station <- "Station" (text -> text)"#,
        r#"  at <- template "{Year}-{Month}-01" (text -> date)"#,
        r#"  pm10 <- "PM10" (text -> double precision)"#,
        "  note <- nothing: absent, so the table's default or NULL",
        r#"  fields no column takes: "wd", "No""#,
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    // Parquet names its own types.
    db.query("CREATE TABLE wide (no integer, pm10 double precision)");
    let parquet = dir.path().join("wide.parquet");
    write_parquet(&parquet);
    let job = job_file(dir.path(), "wide", "table = \"wide\"\n");
    let out = crate::cli::pgbatch(
        dir.path(),
        Some(&db.url()),
        &["validate", &job, &parquet.display().to_string()],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"  no <- "No" (Int64 -> integer)"#), "{text}");
    assert!(
        text.contains(r#"  pm10 <- "PM10" (Float64 -> double precision)"#),
        "{text}"
    );
    assert_eq!(db.query("SELECT count(*) FROM wide"), "0");
}

#[test]
fn a_corrected_spec_is_a_new_batch_and_the_summary_says_what_changed() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer, v text)");
    let job = job_file(dir.path(), "kv", "table = \"kv\"\n");
    let csv = file(dir.path(), "a.csv", "k,v\n1,-\n2,x\n");
    let (code, first, _) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!((code, first["status"].as_str()), (0, Some("loaded")));
    assert!(first.get("changes").is_none(), "{first}");
    let (code, again, _) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!((code, again["status"].as_str()), (0, Some("already_loaded")));
    // The same file under a corrected spec: a new batch, and it says the job changed.
    std::fs::write(&job, "table = \"kv\"\n[columns.v]\nnull = [\"-\"]\n").unwrap();
    let (code, fixed, stderr) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!((code, fixed["status"].as_str()), (0, Some("loaded")), "{stderr}");
    assert_ne!(fixed["content_hash"], first["content_hash"]);
    assert_eq!(
        fixed["changes"],
        serde_json::json!({ "since_batch": first["batch_id"], "job": true, "files": [] })
    );
    assert_eq!(db.query("SELECT count(*) FROM kv WHERE v IS NULL"), "1");
    // New content under the same spec: the file is named.
    std::fs::write(&csv, "k,v\n3,y\n").unwrap();
    let (code, changed, _) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!(code, 0);
    assert_eq!(
        changed["changes"],
        serde_json::json!({ "since_batch": fixed["batch_id"], "job": false, "files": [csv] })
    );
}

#[test]
fn batches_recorded_before_job_fingerprints_are_still_found() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer, v text)");
    let job = job_file(dir.path(), "kv", "table = \"kv\"\n");
    let csv = file(dir.path(), "a.csv", "k,v\n1,a\n");
    let (code, _, _) = run(&db, dir.path(), &["load", &job, &csv]);
    assert_eq!(code, 0);
    // As an older pgbatch recorded it: no job_hash, and the content hash over the job name
    // and each file's sha256 only (computed here by the server, from the ledger's sources).
    db.query(
        "UPDATE pgbatch.batches SET job_hash = NULL, \
         content_hash = encode(sha256(convert_to(job || E'\\n' || (sources -> 0 ->> 'sha256'), 'UTF8')), 'hex')",
    );
    let (code, json, _) = run(&db, dir.path(), &["load", "--json", &job, &csv]);
    assert_eq!((code, json["status"].as_str()), (0, Some("already_loaded")));
    assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
}

#[test]
fn a_file_of_the_other_format_says_what_it_looks_like() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE wide (no integer, pm10 double precision)");
    let parquet = dir.path().join("wide.csv");
    write_parquet(&parquet);
    let csv_job = job_file(dir.path(), "wide", "table = \"wide\"\n[source]\nformat = \"csv\"\n");
    let (code, _, stderr) = run(&db, dir.path(), &["load", &csv_job, &parquet.display().to_string()]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(&format!(
            r#"{}: the file is Parquet (it starts with "PAR1"), not text"#,
            parquet.display()
        )),
        "{stderr}"
    );
    let text = file(dir.path(), "wide.parquet", "No,PM10\n1,4.5\n");
    let parquet_job = job_file(
        dir.path(),
        "wide_pq",
        "table = \"wide\"\n[source]\nformat = \"parquet\"\n",
    );
    let (code, _, stderr) = run(&db, dir.path(), &["load", &parquet_job, &text]);
    assert_eq!(code, 78, "{stderr}");
    assert!(
        stderr.contains(&format!(
            r#"{text}: not a Parquet file: it looks like text, starting "No,PM10" (CSV?)"#
        )),
        "{stderr}"
    );
}

#[test]
fn a_load_before_migrate_fails_before_reading_anything() {
    let db = TestDb::new();
    let bare = format!("{}_bare", db.name);
    cluster().psql("postgres", &format!("CREATE DATABASE {bare}"));
    cluster().psql(&bare, "CREATE TABLE kv (k integer, v text)");
    let dir = tempfile::tempdir().unwrap();
    let job = job_file(dir.path(), "kv", "table = \"kv\"\n");
    // The file does not exist: had the load looked at it, the exit would be 66.
    let missing = dir.path().join("nowhere.csv").display().to_string();
    let out = crate::cli::pgbatch(dir.path(), Some(&cluster().url(&bare)), &["load", &job, &missing]);
    let stderr = crate::cli::stderr(&out);
    assert_eq!(crate::cli::code(&out), 78, "{stderr}");
    assert!(stderr.contains("run `pgbatch migrate` first"), "{stderr}");
}
