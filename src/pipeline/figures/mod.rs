//! A batch's figures for monitoring, whatever its outcome: one CloudWatch Embedded Metric
//! Format line ([`emf`]; AWS Batch sends a job's stdout to CloudWatch Logs, which makes
//! metrics of it with no agent), and a Prometheus textfile-collector file ([`textfile`])
//! for cron hosts.

pub mod emf;
pub mod textfile;

use std::time::{SystemTime, UNIX_EPOCH};

use super::Summary;
use crate::Error;

/// What one run of a batch command did, as monitoring sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub job: String,
    /// The summary's status (`loaded`, `already_loaded`, ...), or `failed`.
    pub status: String,
    /// The run succeeded (exit 0).
    pub ok: bool,
    pub exit_code: u8,
    pub batch_id: Option<i64>,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_skipped: u64,
    pub rows_deleted: u64,
    /// Rows set aside as bad. Always 0 today: a bad row fails its batch.
    pub rows_rejected: u64,
    pub bytes: u64,
    pub duration_ms: u64,
    /// When the run ended, in milliseconds since the Unix epoch.
    pub ended_at_ms: u64,
    /// The error of a failed run.
    pub error: Option<String>,
}

impl Figures {
    /// The figures of a batch that ended as `summary` says, at `ended`.
    pub fn of(summary: &Summary, ended: SystemTime) -> Figures {
        let status = serde_json::to_value(summary.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Figures {
            job: summary.job.clone(),
            status,
            ok: true,
            exit_code: 0,
            batch_id: summary.batch_id,
            rows_read: summary.rows_read,
            rows_loaded: summary.rows_loaded,
            rows_skipped: summary.rows_skipped,
            rows_deleted: summary.rows_deleted,
            rows_rejected: summary.rows_rejected,
            bytes: summary.bytes,
            duration_ms: summary.duration_ms,
            ended_at_ms: millis(ended),
            error: None,
        }
    }

    /// The figures of a run of `job` that failed with `error` after `duration_ms`.
    pub fn of_failure(job: &str, error: &Error, duration_ms: u64, ended: SystemTime) -> Figures {
        Figures {
            job: job.to_owned(),
            status: "failed".to_owned(),
            ok: false,
            exit_code: error.exit_code(),
            batch_id: None,
            rows_read: 0,
            rows_loaded: 0,
            rows_skipped: 0,
            rows_deleted: 0,
            rows_rejected: 0,
            bytes: 0,
            duration_ms,
            ended_at_ms: millis(ended),
            error: Some(error.to_string()),
        }
    }

    /// Rows read per second of the run (0 for a run of no measurable length).
    #[allow(clippy::cast_precision_loss)]
    pub fn rows_per_second(&self) -> f64 {
        if self.duration_ms == 0 {
            0.0
        } else {
            self.rows_read as f64 * 1000.0 / self.duration_ms as f64
        }
    }
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
pub(crate) fn example(ok: bool) -> Figures {
    Figures {
        job: "shipping_rates".into(),
        status: if ok { "loaded" } else { "failed" }.into(),
        ok,
        exit_code: if ok { 0 } else { 65 },
        batch_id: ok.then_some(7),
        rows_read: if ok { 1_500 } else { 0 },
        rows_loaded: if ok { 1_400 } else { 0 },
        rows_skipped: if ok { 100 } else { 0 },
        rows_deleted: 0,
        rows_rejected: 0,
        bytes: if ok { 65_536 } else { 0 },
        duration_ms: 1_250,
        ended_at_ms: 1_796_025_600_000,
        error: (!ok).then(|| "prices.csv:3: column \"price\": \"x\" is not a number".into()),
    }
}
