//! `pgbatch probe URL`: the container's health check, for an image with no shell and no
//! curl. A 2xx answer within the timeout is healthy; anything else is unavailable (69).

use std::time::Duration;

use crate::error::{ErrorKind, Result};

/// Asks `url` once; returns its status when it is a success.
///
/// # Errors
///
/// Unavailable (69): no answer within `timeout`, or an answer that is not a 2xx.
pub async fn probe(url: &str, timeout: Duration) -> Result<u16> {
    let unavailable = |message: String| ErrorKind::Store {
        context: format!("probing {url}"),
        message,
    };
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|error| unavailable(error.to_string()))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|error| unavailable(crate::error::with_causes(&error)))?;
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(unavailable(format!("answered {status}")).into())
    }
}
