//! `pgbatch submit` against a local AWS Batch: moto in server mode (`pip install
//! 'moto[server]'`), with `use_docker: false`, a queue, and the shipped job definitions
//! registered as `aws batch register-job-definition --cli-input-json` would send them.

use aws_sdk_batch::config::{Credentials, Region};
use aws_sdk_batch::types::{CeState, CeType, ComputeEnvironmentOrder, JqState};

use crate::cli::{code, pgbatch_with, stderr};
use crate::moto::{AWS_ENV, Moto, signed_for};
use crate::pg::repo;

impl Moto {
    /// An IAM role (moto's server routes a request by the service its signature names).
    async fn create_role(&self, name: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/", self.url))
            .header("authorization", signed_for("iam"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "Action=CreateRole&Version=2010-05-08&RoleName={name}&AssumeRolePolicyDocument=%7B%7D"
            ))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{text}");
    }
}

/// The batch's source in every submit here.
const SOURCE: &str = "@s3://pgbatch-landing/air_quality_beijing/2026-11-30.list";

impl Moto {
    /// `pgbatch ARGS` with AWS settings that reach only this server.
    fn pgbatch(&self, args: &[&str]) -> std::process::Output {
        let dir = tempfile::tempdir().unwrap();
        let mut env = AWS_ENV.to_vec();
        env.push(("PGBATCH_BATCH_ENDPOINT", &self.url));
        pgbatch_with(dir.path(), None, args, &env)
    }
}

/// A queue `pgbatch` on an unmanaged compute environment, and the shipped shard and
/// finalize job definitions registered; the client that made them.
async fn queue(moto: &Moto) -> aws_sdk_batch::Client {
    moto.post("/moto-api/config", r#"{"batch": {"use_docker": false}}"#.into())
        .await;
    moto.create_role("pgbatch-batch-service").await;
    let config = aws_sdk_batch::Config::builder()
        .behavior_version(aws_sdk_batch::config::BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    let batch = aws_sdk_batch::Client::from_conf(config);
    let environment = batch
        .create_compute_environment()
        .compute_environment_name("pgbatch")
        .r#type(CeType::Unmanaged)
        .service_role("arn:aws:iam::123456789012:role/pgbatch-batch-service")
        .state(CeState::Enabled)
        .send()
        .await
        .unwrap();
    batch
        .create_job_queue()
        .job_queue_name("pgbatch")
        .state(JqState::Enabled)
        .priority(1)
        .compute_environment_order(
            ComputeEnvironmentOrder::builder()
                .order(1)
                .compute_environment(environment.compute_environment_arn().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();
    for definition in ["load_shard", "finalize"] {
        let json = std::fs::read_to_string(repo().join(format!("batch/job-definitions/{definition}.json"))).unwrap();
        moto.post("/v1/registerjobdefinition", json).await;
    }
    batch
}

#[tokio::test]
async fn submit_makes_an_array_of_shards_and_a_finalize_that_waits_for_all_of_them() {
    let moto = Moto::start();
    let batch = queue(&moto).await;
    let out = moto.pgbatch(&[
        "--json",
        "submit",
        "air_quality_beijing",
        SOURCE,
        "--shards",
        "4",
        "--queue",
        "pgbatch",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["status"], "submitted", "{line}");
    let (array_id, finalize_id) = (
        line["array_job_id"].as_str().unwrap().to_owned(),
        line["finalize_job_id"].as_str().unwrap().to_owned(),
    );

    let jobs = batch
        .describe_jobs()
        .jobs(&array_id)
        .jobs(&finalize_id)
        .send()
        .await
        .unwrap();
    let jobs = jobs.jobs();
    let array = jobs
        .iter()
        .find(|j| j.job_id() == Some(array_id.as_str()))
        .expect("the array job exists");
    let finalize = jobs
        .iter()
        .find(|j| j.job_id() == Some(finalize_id.as_str()))
        .expect("finalize exists");
    assert_eq!(
        array
            .array_properties()
            .and_then(aws_sdk_batch::types::ArrayPropertiesDetail::size),
        Some(4)
    );
    assert!(
        array
            .job_definition()
            .unwrap_or_default()
            .contains("pgbatch-load-shard"),
        "{array:?}"
    );
    let parameters = array.parameters().unwrap();
    assert_eq!(parameters.get("job").map(String::as_str), Some("air_quality_beijing"));
    assert_eq!(parameters.get("source").map(String::as_str), Some(SOURCE));
    assert_eq!(parameters.get("shards").map(String::as_str), Some("4"));
    assert!(
        finalize
            .job_definition()
            .unwrap_or_default()
            .contains("pgbatch-finalize"),
        "{finalize:?}"
    );
    let depends: Vec<&str> = finalize.depends_on().iter().filter_map(|d| d.job_id()).collect();
    assert_eq!(depends, [array_id.as_str()], "finalize waits for the whole array");
    let parameters = finalize.parameters().unwrap();
    assert_eq!(parameters.get("batch_key").map(String::as_str), Some(array_id.as_str()));
    assert_eq!(parameters.get("job").map(String::as_str), Some("air_quality_beijing"));
}

#[tokio::test]
async fn what_aws_batch_can_never_take_is_configuration_not_retried() {
    let moto = Moto::start();
    let _batch = queue(&moto).await;
    // One shard is not an array; a queue AWS Batch does not know.
    let out = moto.pgbatch(&["submit", "air_quality_beijing", SOURCE, "--shards", "1"]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
    let out = moto.pgbatch(&[
        "submit",
        "air_quality_beijing",
        SOURCE,
        "--shards",
        "2",
        "--queue",
        "nowhere",
    ]);
    assert_eq!(code(&out), 78, "{}", stderr(&out));
}
