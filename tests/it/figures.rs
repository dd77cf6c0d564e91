//! Each batch's figures through the binary: `--metrics emf` (one CloudWatch EMF line on
//! stdout) and `--metrics-file` (a Prometheus textfile that `promtool check metrics`
//! accepts, the last success kept across a failure); and `serve`'s `/metrics` through the
//! same validator.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::{code, pgbatch, stderr};
use crate::mapping::file;
use crate::pg::{TestDb, repo, shared};

/// Every metric name (`pgbatch_...`) the alerts and the dashboard of deploy/monitoring use,
/// those starting with `prefix`.
pub(crate) fn monitored_names(prefix: &str) -> Vec<String> {
    let names = regex::Regex::new(r"\bpgbatch_[a-z0-9_]+").unwrap();
    let mut found: Vec<String> = ["alerts.yml", "grafana-dashboard.json"]
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(repo().join("deploy/monitoring").join(file)).unwrap();
            names
                .find_iter(&text)
                .map(|m| m.as_str().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|name| name.starts_with(prefix))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `promtool check metrics` (Debian's `prometheus` package) on `text`: its complaints, or
/// none.
pub(crate) fn promtool_check_metrics(text: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs: apt-get install -y prometheus");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// One Beijing station: SOURCE.md gives 35,064 rows for each.
fn station() -> String {
    shared("air_quality/beijing_multisite/PRSA_Data_Dongsi_20130301-20170228.csv")
        .display()
        .to_string()
}

/// The lines of stdout that are JSON objects.
fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A sample's value in a textfile, by its whole series (`name{labels}`).
fn sample(text: &str, series: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

#[test]
fn a_batch_emits_one_emf_line_with_its_figures_and_a_failure_too() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["--json", "--metrics", "emf", "load", "air_quality_beijing", &station()],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 2, "an EMF line, then the summary: {lines:?}");
    let (emf, summary) = (&lines[0], &lines[1]);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "pgbatch");
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["job"]])
    );
    assert_eq!(
        (emf["job"].as_str(), emf["status"].as_str()),
        (Some("air_quality_beijing"), Some("loaded"))
    );
    assert_eq!(
        (emf["Batches"].as_u64(), emf["FailedBatches"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(emf["RowsRead"], 35_064);
    let loaded = db.query("SELECT count(*) FROM measurements");
    assert_eq!(emf["RowsLoaded"].to_string(), loaded);
    assert_eq!(emf["Bytes"], std::fs::metadata(station()).unwrap().len());
    assert_eq!(emf["batch_id"], summary["batch_id"]);
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let at = emf["_aws"]["Timestamp"].as_u64().unwrap();
    assert!(at <= now_ms && now_ms - at < 600_000, "{at} vs {now_ms}");

    // A failed batch (a job that does not exist) has its line too, with its exit code.
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["--json", "--metrics", "emf", "load", "no_such_job", &station()],
    );
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let lines = json_lines(&out.stdout);
    assert_eq!(
        (
            lines[0]["job"].as_str(),
            lines[0]["status"].as_str(),
            lines[0]["FailedBatches"].as_u64(),
            lines[0]["ExitCode"].as_u64()
        ),
        (Some("no_such_job"), Some("failed"), Some(1), Some(78))
    );
    assert_eq!(lines[1]["status"], "failed");
}

#[test]
fn the_metrics_file_keeps_the_last_success_across_a_failure_and_promtool_accepts_it() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer PRIMARY KEY, v text)");
    let spec = crate::mapping::job_file(dir.path(), "kv", "table = \"kv\"\nmode = \"upsert\"\nkey = [\"k\"]\n");
    let metrics = dir.path().join("pgbatch.prom");
    let run = |csv: &str| {
        let metrics = metrics.display().to_string();
        pgbatch(
            dir.path(),
            Some(&db.url()),
            &["--metrics-file", &metrics, "load", &spec, csv],
        )
    };
    let good = file(dir.path(), "good.csv", "k,v\n1,a\n2,b\n3,c\n");
    let out = run(&good);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let first = std::fs::read_to_string(&metrics).unwrap();
    promtool_check_metrics(&first).unwrap_or_else(|e| panic!("promtool: {e}\n{first}"));
    let succeeded = sample(&first, "pgbatch_last_success_timestamp_seconds{job=\"kv\"}").unwrap();
    assert_eq!(
        sample(&first, "pgbatch_last_rows_read{job=\"kv\"}").as_deref(),
        Some("3")
    );
    assert_eq!(
        sample(&first, "pgbatch_last_run_success{job=\"kv\"}").as_deref(),
        Some("1")
    );

    let bad = file(dir.path(), "bad.csv", "k,v\n4,d\nfive,e\n");
    let out = run(&bad);
    assert_eq!(code(&out), 65, "{}", stderr(&out));
    let second = std::fs::read_to_string(&metrics).unwrap();
    promtool_check_metrics(&second).unwrap_or_else(|e| panic!("promtool: {e}\n{second}"));
    for (series, value) in [
        ("pgbatch_last_success_timestamp_seconds{job=\"kv\"}", succeeded.as_str()),
        ("pgbatch_last_run_success{job=\"kv\"}", "0"),
        ("pgbatch_last_exit_code{job=\"kv\"}", "65"),
        ("pgbatch_runs_total{job=\"kv\",outcome=\"success\"}", "1"),
        ("pgbatch_runs_total{job=\"kv\",outcome=\"failure\"}", "1"),
    ] {
        assert_eq!(sample(&second, series).as_deref(), Some(value), "{series} in\n{second}");
    }
    let ran: f64 = sample(&second, "pgbatch_last_run_timestamp_seconds{job=\"kv\"}")
        .unwrap()
        .parse()
        .unwrap();
    assert!(ran >= succeeded.parse::<f64>().unwrap());
    assert_eq!(
        db.query("SELECT count(*) FROM kv"),
        "3",
        "the failed batch left nothing"
    );
    // A validation loads nothing: the file is left as it was.
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &[
            "--metrics-file",
            &metrics.display().to_string(),
            "validate",
            &spec,
            &good,
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&metrics).unwrap(), second);
    // The alerts and the dashboard ask for no load metric the file lacks.
    let wanted: Vec<String> = monitored_names("pgbatch_")
        .into_iter()
        .filter(|name| !name.starts_with("pgbatch_http_"))
        .collect();
    assert!(wanted.len() >= 6, "{wanted:?}");
    for name in wanted {
        assert!(second.contains(&format!("\n{name}{{")), "{name} is not in\n{second}");
    }
}

#[test]
fn a_metrics_file_in_a_folder_that_does_not_exist_is_a_configuration_error_before_loading() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/folder/pgbatch.prom");
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &[
            "--metrics-file",
            &missing.display().to_string(),
            "load",
            "air_quality_beijing",
            &station(),
        ],
    );
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    assert!(stderr(&out).contains("--metrics-file"), "{}", stderr(&out));
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    assert!(!Path::new(&missing).exists());
}
