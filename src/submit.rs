//! `pgbatch submit JOB --shards N SOURCE`: one AWS Batch array job of N shards (job
//! definition `pgbatch-load-shard`), and a finalize job (`pgbatch-finalize`) that depends
//! on the whole array and is given the array job's id as its batch key. Each child finds its
//! index in `AWS_BATCH_JOB_ARRAY_INDEX` and the key in `AWS_BATCH_JOB_ID`.

use aws_sdk_batch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_batch::types::{ArrayProperties, JobDependency};

use crate::error::{Error, ErrorKind, Result};

/// AWS Batch's bounds on an array job's size.
const ARRAY_SIZES: std::ops::RangeInclusive<u32> = 2..=10_000;

/// Where and how to submit.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// The job queue.
    pub queue: String,
    /// The job definition of one shard (name, name:revision or ARN).
    pub shard_definition: String,
    /// The job definition of finalize.
    pub finalize_definition: String,
    /// Another endpoint for the Batch API (a local emulator); AWS when `None`.
    pub endpoint: Option<String>,
}

/// The two jobs submitted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Submitted {
    pub job: String,
    pub shards: u32,
    /// The array job's id: the batch key of its shards and of finalize.
    pub array_job_id: String,
    pub finalize_job_id: String,
}

/// Submits the shards of one batch of `job` and its finalize.
///
/// # Errors
///
/// Configuration (78) for a size AWS Batch does not take or a queue or definition it does
/// not know; unavailable (69) when the API cannot be reached.
pub async fn submit(job: &str, source: &str, shards: u32, options: &SubmitOptions) -> Result<Submitted> {
    if !ARRAY_SIZES.contains(&shards) {
        return Err(Error::config(format!(
            "--shards {shards}: an AWS Batch array job has 2 to 10,000 children (for one, submit the job's own \
             definition)"
        )));
    }
    let client = client(options).await;
    let name = job_name(job);
    let array = client
        .submit_job()
        .job_name(format!("{name}-shards"))
        .job_queue(&options.queue)
        .job_definition(&options.shard_definition)
        .array_properties(
            ArrayProperties::builder()
                .size(i32::try_from(shards).unwrap_or(i32::MAX))
                .build(),
        )
        .parameters("job", job)
        .parameters("source", source)
        .parameters("shards", shards.to_string())
        .tags("pgbatch-job", job)
        .send()
        .await
        .map_err(|error| api_error("submitting the shards", &error))?;
    let array_job_id = array.job_id().unwrap_or_default().to_owned();
    let finalize = client
        .submit_job()
        .job_name(format!("{name}-finalize"))
        .job_queue(&options.queue)
        .job_definition(&options.finalize_definition)
        .depends_on(JobDependency::builder().job_id(&array_job_id).build())
        .parameters("job", job)
        .parameters("batch_key", &array_job_id)
        .tags("pgbatch-job", job)
        .send()
        .await
        .map_err(|error| {
            api_error(
                &format!("submitting finalize (the shards are submitted as {array_job_id}; cancel them)"),
                &error,
            )
        })?;
    Ok(Submitted {
        job: job.to_owned(),
        shards,
        array_job_id,
        finalize_job_id: finalize.job_id().unwrap_or_default().to_owned(),
    })
}

async fn client(options: &SubmitOptions) -> aws_sdk_batch::Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let mut config = aws_sdk_batch::config::Builder::from(&shared);
    if let Some(endpoint) = &options.endpoint {
        config = config.endpoint_url(endpoint);
    }
    if shared.region().is_none() {
        config = config.region(aws_sdk_batch::config::Region::new("us-east-1"));
    }
    aws_sdk_batch::Client::from_conf(config.build())
}

/// A job name AWS Batch takes: letters, digits, `-` and `_`, at most 128 characters (with
/// the suffix this adds).
fn job_name(job: &str) -> String {
    let cleaned: String = job
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    format!("pgbatch-{cleaned}")
}

/// What the API said: the caller's mistake (a queue or definition it does not know, a
/// parameter it refuses) is configuration; no answer at all is unavailable.
fn api_error<E, R>(what: &str, error: &SdkError<E, R>) -> Error
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let message = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(service) if service.err().code() == Some("ClientException") => {
            Error::config(format!("{what}: {message}"))
        }
        _ => ErrorKind::Store {
            context: format!("{what} (AWS Batch)"),
            message,
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::job_name;

    #[test]
    fn job_names_keep_to_what_aws_batch_takes() {
        assert_eq!(job_name("air_quality_beijing"), "pgbatch-air_quality_beijing");
        assert_eq!(job_name("jobs/x.toml"), "pgbatch-jobs-x-toml");
        assert!(job_name(&"a".repeat(300)).len() <= 128 - "-finalize".len());
    }
}
