//! Rows set aside: when a job allows rejects (`max_rejects`), a chunk that fails to conform
//! is split in halves until each bad row stands alone, and the rest is conformed as usual.
//! Nothing here runs for a chunk without a bad row, so the common case costs nothing.

use arrow_array::RecordBatch;

use super::{Conformed, Conformer, Origin, internal};
use crate::error::{Error, ErrorKind, Result, RowError};
use crate::pipeline::source::Chunk;

/// A chunk conformed with its bad rows set aside, in the order they were read.
#[derive(Debug)]
pub struct Sorted {
    pub conformed: Conformed,
    /// Source rows that went on into the batch (before unpivot).
    pub rows_kept: u64,
    pub rejects: Vec<RowError>,
}

/// Whether an error is about one row, so that the row can be set aside: bad data with a
/// position. A whole column that cannot be converted, or a file that cannot be read, has
/// none and still fails the batch.
fn rejectable(error: &Error) -> Option<&RowError> {
    match error.kind() {
        ErrorKind::BadData(row) if row.location.position.is_some() => Some(row),
        _ => None,
    }
}

impl Conformer {
    /// Conforms one chunk; with `allow_rejects`, a bad row is set aside (with the error that
    /// locates it) instead of failing the chunk.
    ///
    /// # Errors
    ///
    /// Bad data (without `allow_rejects`, or an error about no one row), or a bug.
    pub fn conform_or_reject(&self, chunk: &Chunk, allow_rejects: bool) -> Result<Sorted> {
        match self.conform(chunk) {
            Ok(conformed) => Ok(Sorted {
                conformed,
                rows_kept: chunk.batch.num_rows() as u64,
                rejects: Vec::new(),
            }),
            Err(error) if !allow_rejects || rejectable(&error).is_none() => Err(error),
            Err(error) => {
                let rows = chunk.batch.num_rows();
                let mut split = Split::default();
                if rows == 1 {
                    split.rejects.push(rejectable(&error).cloned().expect("checked above"));
                } else {
                    self.split(chunk, 0, rows / 2, &mut split)?;
                    self.split(chunk, rows / 2, rows - rows / 2, &mut split)?;
                }
                let batch = arrow_select::concat::concat_batches(&self.schema, &split.batches).map_err(internal)?;
                Ok(Sorted {
                    conformed: Conformed {
                        batch,
                        rows_read: rows as u64 + chunk.skipped,
                        rows_skipped: chunk.skipped + split.skipped,
                        origin: Origin::Rows(split.origin),
                    },
                    rows_kept: split.kept,
                    rejects: split.rejects,
                })
            }
        }
    }

    /// Conforms rows `start .. start + len`, or halves them until each bad row is alone.
    fn split(&self, chunk: &Chunk, start: usize, len: usize, out: &mut Split) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        match self.conform(&chunk.slice(start, len)) {
            Ok(conformed) => {
                out.kept += len as u64;
                out.skipped += conformed.rows_skipped;
                let first = u32::try_from(start).unwrap_or(u32::MAX);
                out.origin
                    .extend(conformed.origins().into_iter().map(|row| first.saturating_add(row)));
                out.batches.push(conformed.batch);
                Ok(())
            }
            Err(error) => match rejectable(&error) {
                Some(row) if len == 1 => {
                    out.rejects.push(row.clone());
                    Ok(())
                }
                Some(_) => {
                    self.split(chunk, start, len / 2, out)?;
                    self.split(chunk, start + len / 2, len - len / 2, out)
                }
                None => Err(error),
            },
        }
    }
}

/// What splitting a chunk found so far.
#[derive(Default)]
struct Split {
    batches: Vec<RecordBatch>,
    kept: u64,
    skipped: u64,
    rejects: Vec<RowError>,
    /// The chunk's row of each output row kept.
    origin: Vec<u32>,
}
