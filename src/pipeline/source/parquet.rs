//! Parquet through the `parquet` crate's Arrow reader, one row group at a time, reading
//! only the columns the job uses. Rows keep their row group and row for messages.

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};

use crate::error::{Error, Location, Position, Result, RowError};
use crate::job::SourceOptions;

use super::object::Blob;
use super::{Chunk, ChunkReader, Positions, SourceFile, open_blob};

/// An open Parquet file.
pub struct Parquet {
    file: Blob,
    metadata: ArrowReaderMetadata,
    projection: ProjectionMask,
    fields: Vec<String>,
    display: String,
    chunk_rows: usize,
    max_row_group_bytes: u64,
    row_group: usize,
    row: usize,
    reader: Option<ParquetRecordBatchReader>,
}

impl Parquet {
    /// Opens the file and reads its footer.
    pub fn open(file: &SourceFile, options: &SourceOptions, needed: &[String]) -> Result<Self> {
        let handle = open_blob(file)?;
        let bad = |problem: String| -> Error {
            RowError {
                location: Location {
                    file: file.display.clone(),
                    position: None,
                },
                column: None,
                value: None,
                problem,
            }
            .into()
        };
        let metadata = ArrowReaderMetadata::load(&handle, ArrowReaderOptions::new())
            .map_err(|error| bad(format!("not a readable Parquet file: {error}")))?;
        let schema = metadata.schema().clone();
        let indices: Vec<usize> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| needed.iter().any(|n| n == f.name()))
            .map(|(i, _)| i)
            .collect();
        let fields = indices.iter().map(|i| schema.field(*i).name().clone()).collect();
        let projection = ProjectionMask::roots(metadata.parquet_schema(), indices);
        Ok(Parquet {
            file: handle,
            metadata,
            projection,
            fields,
            display: file.display.clone(),
            chunk_rows: options.chunk_rows,
            max_row_group_bytes: options.max_row_group_bytes,
            row_group: 0,
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

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        loop {
            if self.reader.is_none() {
                if self.row_group >= self.metadata.metadata().num_row_groups() {
                    return Ok(None);
                }
                let group = self.metadata.metadata().row_group(self.row_group);
                let bytes: i64 = group
                    .columns()
                    .iter()
                    .filter(|c| {
                        c.column_path()
                            .parts()
                            .first()
                            .is_some_and(|root| self.fields.contains(root))
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
                let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, self.metadata.clone())
                    .with_projection(self.projection.clone())
                    .with_row_groups(vec![self.row_group])
                    .with_batch_size(self.chunk_rows)
                    .build()
                    .map_err(|error| self.error(format!("cannot read the row group: {error}")))?;
                self.reader = Some(reader);
                self.row = 0;
            }
            match self.reader.as_mut().and_then(Iterator::next) {
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
                    self.row_group += 1;
                }
            }
        }
    }
}

impl ChunkReader for Parquet {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        Parquet::next_chunk(self)
    }
}
