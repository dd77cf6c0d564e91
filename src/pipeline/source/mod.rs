//! Sources: files become chunks of Arrow rows, each row keeping where it came from.
//!
//! Text sources (CSV, a `pg_dump`'s COPY block) give every field as `Utf8`, exactly as
//! written; conform parses them. Parquet gives its own types; conform casts them. A source
//! never holds more than one chunk (`chunk_rows` rows) of its own.

pub mod csv;
pub mod dump;
pub mod locate;
pub mod parquet;
pub mod store;
#[cfg(test)]
mod tests;

use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;

use crate::error::{Error, ErrorKind, Position, Result};
use crate::job::{FormatKind, SourceOptions};

/// Where the rows of a chunk came from.
#[derive(Debug, Clone)]
pub enum Positions {
    /// The line each row starts on.
    Lines(Vec<u64>),
    /// A run of rows in one Parquet row group.
    RowGroup { row_group: usize, first_row: usize },
}

/// Rows read from one source, with their positions.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub batch: RecordBatch,
    pub positions: Positions,
    /// Records dropped while reading (blank records), counted here.
    pub skipped: u64,
}

impl Chunk {
    /// Rows `offset .. offset + len` of this chunk, with their positions (and none of its
    /// skipped records: the whole chunk counts them).
    #[must_use]
    pub fn slice(&self, offset: usize, len: usize) -> Chunk {
        Chunk {
            batch: self.batch.slice(offset, len),
            positions: match &self.positions {
                Positions::Lines(lines) => Positions::Lines(lines[offset..offset + len].to_vec()),
                Positions::RowGroup { row_group, first_row } => Positions::RowGroup {
                    row_group: *row_group,
                    first_row: first_row + offset,
                },
            },
            skipped: 0,
        }
    }

    /// The position of row `row` of this chunk.
    pub fn position(&self, row: usize) -> Position {
        match &self.positions {
            Positions::Lines(lines) => Position::Line {
                line: lines.get(row).copied().unwrap_or(0),
            },
            Positions::RowGroup { row_group, first_row } => Position::RowGroup {
                row_group: *row_group,
                row: first_row + row,
            },
        }
    }
}

/// An open source (CSV, `pg_dump` COPY block, Parquet): its fields, then its chunks.
pub trait Source: Send {
    /// Every field of the file, in order.
    fn fields(&self) -> &[String];
    /// Each field's type as the file declares it (`text` for text formats).
    fn field_types(&self) -> Vec<String> {
        vec!["text".to_owned(); self.fields().len()]
    }
    /// Reads only these fields (indices into [`Source::fields`], ascending) from the next
    /// chunk on: chunks then hold them, in this order. Until called, chunks hold every
    /// field.
    fn project(&mut self, fields: &[usize]);
    /// The next chunk; `None` at the end. After an error, the source is not read again.
    fn next_chunk(&mut self) -> Result<Option<Chunk>>;
}

/// Where a source's bytes are.
#[derive(Debug, Clone)]
pub enum Place {
    Local(PathBuf),
    /// Standard input, spooled to a temporary file (removed when the batch is done), so it
    /// is hashed and read like a file.
    Stdin(Arc<tempfile::TempPath>),
    S3(Arc<store::S3Object>),
    Http(Arc<store::HttpObject>),
}

impl Place {
    /// The name used in messages and the ledger (an S3 or HTTP address without secrets).
    pub fn display(&self) -> String {
        match self {
            Place::Local(path) => path.display().to_string(),
            Place::Stdin(_) => "stdin".to_owned(),
            Place::S3(object) => object.url(),
            Place::Http(object) => object.shown.clone(),
        }
    }

    /// The local file holding the bytes, if there is one.
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Place::Local(path) => Some(path),
            Place::Stdin(spool) => Some(spool),
            Place::S3(_) | Place::Http(_) => None,
        }
    }
}

/// A file to read, as named on the command line or in the job.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub place: Place,
    /// The name used in messages and the ledger.
    pub display: String,
    pub format: FormatKind,
    pub bytes: u64,
    /// The content's sha256: local files, S3 objects whose store keeps it, and remote
    /// objects hashed by content; other remote objects are known by checksum or ETag.
    pub sha256: Option<String>,
    /// Only these row groups of a Parquet file, in this order: a shard's part of a file
    /// split across the shards of an array job. Every row group when `None`.
    pub row_groups: Option<Vec<usize>>,
}

impl SourceFile {
    /// The last part of the name (after the last `/`), which `path` captures match.
    pub fn file_name(&self) -> &str {
        self.display.rsplit('/').next().unwrap_or(&self.display)
    }

    /// The S3 object's ETag, if this is one.
    pub fn etag(&self) -> Option<&str> {
        match &self.place {
            Place::S3(object) => Some(&object.etag),
            Place::Http(object) => object.etag.as_deref(),
            Place::Local(_) | Place::Stdin(_) => None,
        }
    }
}

/// Opens a source for reading: its fields are known (a header, a footer, a COPY line);
/// no row is read yet.
pub fn open(file: &SourceFile, options: &SourceOptions) -> Result<Box<dyn Source>> {
    Ok(match file.format {
        FormatKind::Csv => Box::new(csv::Csv::open(file, options)?),
        FormatKind::PgDump => Box::new(dump::Dump::open(file, options)?),
        FormatKind::Parquet => Box::new(parquet::Parquet::open(file, options)?),
    })
}

/// The source's bytes as a stream, from the start.
pub fn open_bytes(file: &SourceFile) -> Result<Box<dyn Read + Send>> {
    Ok(match &file.place {
        Place::S3(object) => object.reader(0)?,
        Place::Http(object) => object.reader(0)?,
        local => Box::new(open_file(local.local_path().unwrap_or(Path::new("")))?),
    })
}

/// The source's bytes for a reader that seeks (Parquet).
pub fn open_blob(file: &SourceFile) -> Result<store::Blob> {
    Ok(match &file.place {
        Place::S3(object) => store::Blob::S3(Arc::clone(object)),
        Place::Http(object) => store::Blob::Http(Arc::clone(object)),
        local => store::Blob::Local(Arc::new(open_file(local.local_path().unwrap_or(Path::new("")))?)),
    })
}

/// Opens a file, naming it in the error.
pub fn open_file(path: &Path) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::InputMissing {
                path: path.display().to_string(),
                message: "no such file".into(),
            }
            .into()
        } else {
            ErrorKind::Read {
                path: path.to_path_buf(),
                source,
            }
            .into()
        }
    })
}

/// Magic bytes of the compressed formats read as a stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BZIP2_MAGIC: [u8; 3] = *b"BZh";
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Opens a text file as a stream of UTF-8 bytes: decompressed when its first bytes say
/// gzip, bzip2 or zstd; decoded from the declared encoding, or from UTF-16 when a byte
/// order mark says so. UTF-8 passes through untouched (and is checked later).
pub fn open_text(
    source: &SourceFile,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<Box<dyn Read + Send>> {
    let read_error = |error| ErrorKind::Read {
        path: PathBuf::from(&source.display),
        source: error,
    };
    let mut file = BufReader::with_capacity(1 << 16, open_bytes(source)?);
    let magic = file.fill_buf().map_err(read_error)?;
    let mut stream: BufReader<Box<dyn Read + Send>> = if magic.starts_with(&GZIP_MAGIC) {
        let decoder = flate2::read::MultiGzDecoder::new(Compressed(file));
        BufReader::with_capacity(1 << 16, Box::new(Decoded { decoder, codec: "gzip" }))
    } else if magic.starts_with(&BZIP2_MAGIC) {
        let decoder = bzip2::read::MultiBzDecoder::new(Compressed(file));
        BufReader::with_capacity(
            1 << 16,
            Box::new(Decoded {
                decoder,
                codec: "bzip2",
            }),
        )
    } else if magic.starts_with(&ZSTD_MAGIC) {
        let decoder = zstd::stream::read::Decoder::new(Compressed(file)).map_err(read_error)?;
        BufReader::with_capacity(1 << 16, Box::new(Decoded { decoder, codec: "zstd" }))
    } else {
        BufReader::with_capacity(1 << 16, Box::new(file))
    };
    let start = stream.fill_buf().map_err(read_error)?;
    if start.starts_with(&PARQUET_MAGIC) {
        return Err(Error::config(format!(
            "{}: the file is Parquet (it starts with \"PAR1\"), not text: read it as Parquet \
             ([source] format = \"parquet\", or a .parquet name)",
            source.display
        )));
    }
    let utf16_bom = start.starts_with(&[0xFF, 0xFE]) || start.starts_with(&[0xFE, 0xFF]);
    if encoding.is_none() && !utf16_bom {
        return Ok(Box::new(stream));
    }
    Ok(Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(encoding)
            .bom_override(true)
            .strip_bom(true)
            .build(stream),
    ))
}

/// An error of the compressed bytes' own reader (the disk, the store), marked so that it
/// can be told apart from what the decoder says about the stream.
#[derive(Debug)]
struct FromBelow(std::io::Error);

impl std::fmt::Display for FromBelow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for FromBelow {}

/// The compressed bytes, as read by a decoder; their errors come out marked.
struct Compressed<R>(R);

impl<R: Read> Read for Compressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|error| std::io::Error::new(error.kind(), FromBelow(error)))
    }
}

/// A decoder whose own errors (a corrupt or truncated stream) are bad data, while the
/// errors of the bytes under it pass through as they were (a store that went away stays
/// worth a retry).
struct Decoded<D> {
    decoder: D,
    codec: &'static str,
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.decoder
            .read(buf)
            .map_err(|error| match error.downcast::<FromBelow>() {
                Ok(below) => below.0,
                Err(error) => std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the {} stream is corrupt or cut short ({error})", self.codec),
                ),
            })
    }
}

/// Which fields of a text source are kept: for each field, its column in the chunk.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub(crate) names: Vec<String>,
    pub(crate) slots: Vec<Option<usize>>,
}

impl Kept {
    /// Every field kept.
    pub(crate) fn all(fields: &[String]) -> Self {
        Kept {
            names: fields.to_vec(),
            slots: (0..fields.len()).map(Some).collect(),
        }
    }

    /// Only `project` (indices into `fields`, ascending) kept.
    pub(crate) fn only(fields: &[String], project: &[usize]) -> Self {
        let mut slots = vec![None; fields.len()];
        for (column, index) in project.iter().enumerate() {
            slots[*index] = Some(column);
        }
        Kept {
            names: project.iter().map(|i| fields[*i].clone()).collect(),
            slots,
        }
    }
}

/// Magic bytes at both ends of a Parquet file.
pub(crate) const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

/// Builds `Utf8` columns row by row, then a batch whose fields are named.
pub(crate) struct TextColumns {
    builders: Vec<arrow_array::builder::StringBuilder>,
    schema: arrow_schema::SchemaRef,
}

impl TextColumns {
    pub(crate) fn new(names: &[String], rows: usize) -> Self {
        let schema = arrow_schema::Schema::new(
            names
                .iter()
                .map(|n| arrow_schema::Field::new(n, arrow_schema::DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        TextColumns {
            builders: names
                .iter()
                .map(|_| arrow_array::builder::StringBuilder::with_capacity(rows, rows * 8))
                .collect(),
            schema: std::sync::Arc::new(schema),
        }
    }

    pub(crate) fn column(&mut self, index: usize) -> &mut arrow_array::builder::StringBuilder {
        &mut self.builders[index]
    }

    pub(crate) fn width(&self) -> usize {
        self.builders.len()
    }

    pub(crate) fn finish(&mut self) -> RecordBatch {
        let columns = self
            .builders
            .iter_mut()
            .map(|b| std::sync::Arc::new(b.finish()) as arrow_array::ArrayRef)
            .collect();
        RecordBatch::try_new(self.schema.clone(), columns).expect("builders match the schema")
    }
}
