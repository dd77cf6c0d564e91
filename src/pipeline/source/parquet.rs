//! Parquet through the `parquet` crate's Arrow reader, one row group at a time, reading
//! only the columns the job uses. Rows keep their row group and row for messages.

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::errors::ParquetError;

use crate::error::{Error, Location, Position, Result, RowError};
use crate::job::SourceOptions;

use super::store::Blob;
use super::{Chunk, Positions, Source, SourceFile, open_blob};

/// An open Parquet file.
pub struct Parquet {
    file: Blob,
    metadata: ArrowReaderMetadata,
    projection: ProjectionMask,
    /// Every root field of the file.
    fields: Vec<String>,
    /// The fields read (all until [`Source::project`]).
    projected: Vec<String>,
    display: String,
    chunk_rows: usize,
    chunk_bytes: usize,
    max_row_group_bytes: u64,
    /// The row groups read, in order (every one, or a shard's part).
    groups: Vec<usize>,
    /// The next of `groups` to read.
    next_group: usize,
    /// The row group being read, and the row in it.
    row_group: usize,
    row: usize,
    reader: Option<ParquetRecordBatchReader>,
}

impl Parquet {
    /// Opens the file and reads its footer.
    pub fn open(file: &SourceFile, options: &SourceOptions) -> Result<Self> {
        let handle = open_blob(file)?;
        let metadata = match load_metadata(&handle) {
            Ok(metadata) => metadata,
            Err(error) => return Err(not_parquet(&handle, &file.display, &error)),
        };
        let fields: Vec<String> = metadata.schema().fields().iter().map(|f| f.name().clone()).collect();
        let projection = ProjectionMask::all();
        let count = metadata.metadata().num_row_groups();
        let groups = match &file.row_groups {
            None => (0..count).collect(),
            Some(groups) => {
                if let Some(beyond) = groups.iter().find(|&&g| g >= count) {
                    return Err(changed(
                        file,
                        &format!("it has {count} row groups, the shard's plan reads row group {beyond}"),
                    ));
                }
                groups.clone()
            }
        };
        Ok(Parquet {
            file: handle,
            metadata,
            projection,
            projected: fields.clone(),
            fields,
            display: file.display.clone(),
            chunk_rows: options.chunk_rows,
            chunk_bytes: options.chunk_bytes,
            max_row_group_bytes: options.max_row_group_bytes,
            row_group: groups.first().copied().unwrap_or(0),
            next_group: 0,
            groups,
            row: 0,
            reader: None,
        })
    }

    fn error(&self, problem: String) -> Error {
        RowError {
            location: Location {
                file: self.display.clone(),
                position: Some(Position::RowGroup {
                    row_group: self.row_group,
                    row: self.row,
                }),
            },
            column: None,
            value: None,
            problem,
        }
        .into()
    }

    /// Rows per chunk in a row group: `chunk_rows`, fewer when its rows are wide, so that a
    /// chunk decodes to about `chunk_bytes` (from the group's uncompressed size, all columns:
    /// a bound from above).
    fn batch_rows(&self, group: &parquet::file::metadata::RowGroupMetaData) -> usize {
        let rows = usize::try_from(group.num_rows()).unwrap_or(0).max(1);
        let bytes = usize::try_from(group.total_byte_size()).unwrap_or(0);
        let per_row = bytes.div_ceil(rows).max(1);
        (self.chunk_bytes / per_row).clamp(1, self.chunk_rows)
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        loop {
            if self.reader.is_none() {
                let Some(&next) = self.groups.get(self.next_group) else {
                    return Ok(None);
                };
                self.row_group = next;
                let group = self.metadata.metadata().row_group(self.row_group);
                let bytes: i64 = group
                    .columns()
                    .iter()
                    .filter(|c| {
                        c.column_path()
                            .parts()
                            .first()
                            .is_some_and(|root| self.projected.contains(root))
                    })
                    .map(parquet::file::metadata::ColumnChunkMetaData::compressed_size)
                    .sum();
                if u64::try_from(bytes).unwrap_or(0) > self.max_row_group_bytes {
                    self.row = 0;
                    return Err(self.error(format!(
                        "the row group has {bytes} bytes of column data to read, more than the memory budget \
                         for one row group, {} bytes (write smaller row groups, or set [source] max_row_group_bytes)",
                        self.max_row_group_bytes
                    )));
                }
                let handle = self.file.clone();
                let rows = self.batch_rows(group);
                let reader = guarded(
                    || {
                        ParquetRecordBatchReaderBuilder::new_with_metadata(handle, self.metadata.clone())
                            .with_projection(self.projection.clone())
                            .with_row_groups(vec![self.row_group])
                            .with_batch_size(rows)
                            .build()
                    },
                    |damaged| Err(ParquetError::General(damaged)),
                )
                .map_err(|error| self.error(format!("cannot read the row group: {error}")))?;
                self.reader = Some(reader);
                self.row = 0;
            }
            let reader = &mut self.reader;
            let next = guarded(
                || reader.as_mut().and_then(Iterator::next),
                |damaged| Some(Err(arrow_schema::ArrowError::ParquetError(damaged))),
            );
            match next {
                Some(Ok(batch)) => {
                    let chunk = Chunk {
                        positions: Positions::RowGroup {
                            row_group: self.row_group,
                            first_row: self.row,
                        },
                        skipped: 0,
                        batch,
                    };
                    self.row += chunk.batch.num_rows();
                    return Ok(Some(chunk));
                }
                Some(Err(error)) => return Err(self.error(format!("cannot decode: {error}"))),
                None => {
                    self.reader = None;
                    self.next_group += 1;
                }
            }
        }
    }
}

impl Source for Parquet {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn field_types(&self) -> Vec<String> {
        self.metadata
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().to_string())
            .collect()
    }

    fn project(&mut self, fields: &[usize]) {
        self.projection = ProjectionMask::roots(self.metadata.parquet_schema(), fields.iter().copied());
        self.projected = fields.iter().map(|i| self.fields[*i].clone()).collect();
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        Parquet::next_chunk(self)
    }
}

/// The compressed bytes of each row group of a Parquet file, from its footer: how a shard
/// splits one large file by row groups.
///
/// # Errors
///
/// The file cannot be read, or is not Parquet.
pub(crate) fn row_group_bytes(file: &SourceFile) -> Result<Vec<u64>> {
    let handle = open_blob(file)?;
    let metadata = load_metadata(&handle).map_err(|error| not_parquet(&handle, &file.display, &error))?;
    Ok(metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|group| u64::try_from(group.compressed_size()).unwrap_or(0))
        .collect())
}

/// The file's footer, read and checked.
fn load_metadata(handle: &Blob) -> std::result::Result<ArrowReaderMetadata, ParquetError> {
    guarded(
        || ArrowReaderMetadata::load(handle, ArrowReaderOptions::new()),
        |damaged| Err(ParquetError::General(damaged)),
    )
}

/// Runs a call into the parquet crate, whose decoder asserts on some damaged files rather
/// than returning an error (found by fuzzing: a page's lengths past its buffer, a column
/// chunk's negative start, a dictionary missing): such a panic becomes the error `damaged`
/// makes of what it said, bad data like any other damaged file. Every call that reads the
/// file's bytes goes through here: its footer, a row group's reader, each step of it.
fn guarded<T>(call: impl FnOnce() -> T, damaged: impl FnOnce(String) -> T) -> T {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_or_else(|panic| {
        damaged(format!(
            "the decoder failed on it ({}): the file is damaged or not written as Parquet says",
            crate::error::panic_message(&*panic)
        ))
    })
}

/// A file that is not what it was when the batch was planned (a read error: worth a retry,
/// which plans again).
fn changed(file: &SourceFile, what: &str) -> Error {
    crate::error::ErrorKind::Read {
        path: file.display.clone().into(),
        source: std::io::Error::other(format!("the file changed during the load: {what}")),
    }
    .into()
}

/// The error for a file that is not readable Parquet, saying what it looks like when its
/// first bytes tell: text (a CSV file?) or a compressed stream is a configuration error
/// (the job reads it with the wrong format); anything else is a damaged file (bad data).
fn not_parquet(handle: &Blob, display: &str, error: &ParquetError) -> Error {
    use parquet::file::reader::{ChunkReader as _, Length as _};
    let head = handle
        .get_bytes(0, usize::try_from(handle.len().min(256)).unwrap_or(256))
        .unwrap_or_default();
    let looks = if head.starts_with(&[0x1f, 0x8b]) {
        Some("a gzip stream".to_owned())
    } else if head.starts_with(b"BZh") {
        Some("a bzip2 stream".to_owned())
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("a zstd stream".to_owned())
    } else {
        let text = String::from_utf8_lossy(&head);
        let line = text.lines().next().unwrap_or_default();
        let printable =
            !head.is_empty() && !text.contains('\u{fffd}') && line.chars().all(|c| !c.is_control() || c == '\t');
        printable.then(|| {
            let line: String = line.chars().take(60).collect();
            format!("text, starting {line:?} (CSV?)")
        })
    };
    match looks {
        Some(looks) => Error::config(format!(
            "{display}: not a Parquet file: it looks like {looks}; read it as text \
             ([source] format = \"csv\", or a .csv name)"
        )),
        None => RowError {
            location: Location {
                file: display.to_owned(),
                position: None,
            },
            column: None,
            value: None,
            problem: format!("not a readable Parquet file: {error}"),
        }
        .into(),
    }
}
