//! The batch settles into its table: the batch checks on what was copied and staged, the
//! merge by the job's mode, the checks on the merged table.

use std::time::Instant;

use tokio_postgres::Transaction;

use super::checks;
use super::fault;
use super::load::Streamed;
use super::merge;
use super::summary::{Stages, ms};
use crate::error::Result;
use crate::job::Job;

/// The batch checks on what was copied and staged, the merge by the job's mode, then the
/// checks on the merged table; with the time each took. `located`: the batch is in the
/// located stage ([`super::refused`]), whatever its mode.
pub(super) async fn check_and_merge(
    tx: &Transaction<'_>,
    job: &Job,
    streamed: &Streamed,
    (names, located): (&[String], bool),
) -> Result<(merge::Merged, Vec<String>, Stages)> {
    let checking = Instant::now();
    let mut passed = checks::counted(job, streamed)?;
    passed.extend(checks::staged(tx, job).await?);
    let mut checking = checking.elapsed();
    let merging = Instant::now();
    let ranges = merge::cover_ranges(job, names);
    // A located batch is in a stage whatever its mode.
    let merged = if located {
        merge::merge_staged(tx, job, streamed.rows_written, &ranges).await?
    } else {
        merge::merge(tx, job, streamed.rows_written, &ranges).await?
    };
    fault::point("batch::after_merge");
    let merging = merging.elapsed();
    let checked = Instant::now();
    passed.extend(checks::merged(tx, job).await?);
    checking += checked.elapsed();
    let stages = Stages {
        reading_ms: ms(streamed.reading),
        encoding_ms: ms(streamed.encoding),
        sending_ms: ms(streamed.sending),
        copying_ms: ms(streamed.copying),
        checking_ms: ms(checking),
        merging_ms: ms(merging),
        committing_ms: 0,
    };
    Ok((merged, passed, stages))
}
