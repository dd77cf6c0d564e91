//! The AWS Batch job definitions (`batch/job-definitions/*.json`) against botocore's model of
//! the Batch API (offline), and their retry strategy against `pgbatch exit-codes --json`.

use std::path::Path;
use std::process::{Command, Output};

use crate::cli::{code, pgbatch};
use crate::pg::repo;

/// A change that makes a job definition wrong.
type Mistake = fn(&mut serde_json::Value);

fn check(codes: &Path, definitions: &Path) -> Output {
    Command::new("python3")
        .arg(repo().join("tests/it/tools/check_job_definitions.py"))
        .arg(codes)
        .arg(repo().join("jobs"))
        .arg(definitions)
        .output()
        .expect("python3 is installed")
}

fn text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(
        !text.contains("No module named 'botocore'"),
        "the check needs botocore (pip install botocore): {text}"
    );
    text
}

#[test]
fn job_definitions_are_valid_and_retry_exactly_the_retryable_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(dir.path(), None, &["exit-codes", "--json"]);
    assert_eq!(code(&out), 0);
    let codes = dir.path().join("codes.json");
    std::fs::write(&codes, &out.stdout).unwrap();
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(table["retryable"], serde_json::json!([69, 75]));

    let shipped = check(&codes, &repo().join("batch/job-definitions"));
    assert!(shipped.status.success(), "{}", text(&shipped));
    assert!(
        text(&shipped).contains("23 job definitions checked"),
        "{}",
        text(&shipped)
    );

    // The check must see each kind of mistake.
    let original: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("batch/job-definitions/air_quality_beijing.json")).unwrap(),
    )
    .unwrap();
    let mistakes: [(&str, Mistake, &str); 5] = [
        (
            "bad data retried",
            |d| d["retryStrategy"]["evaluateOnExit"][0]["onExitCode"] = "65".into(),
            "retries exit codes",
        ),
        (
            "an enum value the API does not have",
            |d| d["platformCapabilities"] = serde_json::json!(["FARGATE_SPOT"]),
            "is not one of",
        ),
        (
            "a member the API does not have",
            |d| d["containerProperties"]["cpu"] = 2.into(),
            "Unknown parameter",
        ),
        (
            "not a Fargate size",
            |d| d["containerProperties"]["resourceRequirements"][1]["value"] = "3000".into(),
            "is not a Fargate size",
        ),
        (
            "an image by tag",
            |d| d["containerProperties"]["image"] = "pgbatch:latest".into(),
            "not pinned by digest",
        ),
    ];
    for (what, mistake, expected) in mistakes {
        let wrong = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(repo().join("batch/job-definitions")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, wrong.path().join(path.file_name().unwrap())).unwrap();
        }
        let mut definition = original.clone();
        mistake(&mut definition);
        std::fs::write(
            wrong.path().join("air_quality_beijing.json"),
            serde_json::to_string_pretty(&definition).unwrap(),
        )
        .unwrap();
        let out = check(&codes, wrong.path());
        assert!(!out.status.success(), "{what}: not found");
        assert!(text(&out).contains(expected), "{what}: {}", text(&out));
    }
}
