//! `pgbatch report BATCH`: one committed batch as the ledger recorded it (sources, counts,
//! where the time went, throughput) and the first of the rows it set aside.

use tokio_postgres::GenericClient;

use super::ledger::{self, Batch};
use crate::error::{Error, ErrorKind, FlatRow, Result};

// language=PostgreSQL
const REJECTS_SQL: &str = include_str!("../../sql/ledger/batch_rejects.sql");

/// One batch, reported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub batch: Batch,
    /// Bytes of all its sources.
    pub bytes: u64,
    /// Source rows read per second of the batch's duration, and source bytes.
    pub rows_per_second: f64,
    pub bytes_per_second: f64,
    /// The first rows it set aside, in the order found.
    pub rejects: Vec<FlatRow>,
}

/// Batch `id` with its first `rejects` rejected rows.
///
/// # Errors
///
/// Input missing (66) when the ledger has no such batch; the database failing.
pub async fn report(client: &impl GenericClient, id: i64, rejects: i64) -> Result<Report> {
    let batch = ledger::list(client, 1, Some(id))
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::from(ErrorKind::InputMissing {
                path: format!("batch {id}"),
                message: "the ledger has no such batch (pgbatch batches lists them)".into(),
            })
        })?;
    let rows = client
        .query(REJECTS_SQL, &[&id, &rejects])
        .await
        .map_err(|error| Error::db("reading the batch's rejected rows", error))?;
    let bytes: u64 = batch
        .sources
        .as_array()
        .map_or(0, |sources| sources.iter().filter_map(|s| s["bytes"].as_u64()).sum());
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_second = |n: f64| {
        if batch.duration_ms > 0 {
            n * 1000.0 / batch.duration_ms as f64
        } else {
            0.0
        }
    };
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let (rows_per_second, bytes_per_second) = (per_second(batch.rows_read as f64), per_second(bytes as f64));
    Ok(Report {
        bytes,
        rows_per_second,
        bytes_per_second,
        rejects: rows
            .iter()
            .map(|row| FlatRow {
                source: row.get(0),
                line: row.get(1),
                row_group: row.get(2),
                row: row.get(3),
                column: row.get(4),
                value: row.get(5),
                reason: row.get(6),
            })
            .collect(),
        batch,
    })
}
