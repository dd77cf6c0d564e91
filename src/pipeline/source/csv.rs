//! CSV (and any delimited text) through the `csv` crate: records become `Utf8` chunks,
//! each row with the line it starts on.

use crate::error::{Error, ErrorKind, Location, Position, Result, RowError};
use crate::job::SourceOptions;

use super::{Chunk, Kept, Positions, Source, SourceFile, TextColumns, open_text};
use crate::pipeline::bind::{Found, find};

/// Counts line ends as bytes pass to the CSV parser, so that a record's start offset maps
/// to its line. The csv crate's own line count misses CRLF's first byte (a record after a
/// CRLF line end reports the line before it) and ignores bare CR line ends entirely.
#[derive(Default)]
struct LineIndex {
    /// Offsets of line ends (the CR of a CRLF, a bare CR, a bare LF) past `counted`.
    ends: std::collections::VecDeque<u64>,
    /// Line ends before the offsets still in `ends`.
    counted: u64,
    offset: u64,
    last_cr: bool,
}

impl LineIndex {
    fn scan(&mut self, bytes: &[u8]) {
        // Only the line ends are visited (memchr: a CSV line is mostly other bytes).
        for at in memchr::memchr2_iter(b'\r', b'\n', bytes) {
            let after_cr = match at.checked_sub(1) {
                Some(before) => bytes[before] == b'\r',
                None => self.last_cr,
            };
            if bytes[at] == b'\r' || !after_cr {
                self.ends.push_back(self.offset + at as u64);
            }
        }
        if let Some(last) = bytes.last() {
            self.last_cr = *last == b'\r';
        }
        self.offset += bytes.len() as u64;
    }

    /// The 1-based line of a record starting at byte `start`; starts only grow.
    fn line(&mut self, start: u64) -> u64 {
        while self.ends.front().is_some_and(|end| *end < start) {
            self.ends.pop_front();
            self.counted += 1;
        }
        self.counted + 1
    }
}

/// A reader that feeds a [`LineIndex`].
struct Counting<R> {
    inner: R,
    index: std::sync::Arc<std::sync::Mutex<LineIndex>>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.index
            .lock()
            .expect("the line index is never poisoned")
            .scan(&buf[..n]);
        Ok(n)
    }
}

/// An open CSV file.
pub struct Csv {
    reader: csv::Reader<Counting<Box<dyn std::io::Read + Send>>>,
    /// Fields whose all being empty drops a record.
    drop_when_empty: Vec<usize>,
    /// Whether the field names come from the job rather than a header.
    named_fields: bool,
    /// Whether comment lines are skipped (the csv crate then misplaces record starts).
    comments: bool,
    lines: std::sync::Arc<std::sync::Mutex<LineIndex>>,
    fields: Vec<String>,
    /// The fields chunks hold.
    kept: Kept,
    display: String,
    chunk_rows: usize,
    chunk_bytes: usize,
    skip_blank: bool,
    max_record_bytes: usize,
    record: csv::ByteRecord,
}

impl Csv {
    /// Opens the file and reads its header (or takes the job's field names).
    pub fn open(file: &SourceFile, options: &SourceOptions) -> Result<Self> {
        let handle = open_text(file, options.encoding)?;
        let lines = std::sync::Arc::new(std::sync::Mutex::new(LineIndex::default()));
        let reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .quote(options.quote)
            .escape(options.escape)
            .double_quote(options.escape.is_none())
            .comment(options.comment)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(Counting {
                inner: handle,
                index: lines.clone(),
            });
        let mut csv = Csv {
            reader,
            lines,
            drop_when_empty: Vec::new(),
            named_fields: options.fields.is_some(),
            comments: options.comment.is_some(),
            fields: Vec::new(),
            kept: Kept::all(&[]),
            display: file.display.clone(),
            chunk_rows: options.chunk_rows,
            chunk_bytes: options.chunk_bytes,
            skip_blank: options.skip_blank,
            max_record_bytes: options.max_record_bytes,
            record: csv::ByteRecord::new(),
        };
        for _ in 0..options.skip_records {
            if !csv.read_record()? {
                return Err(csv.error(
                    None,
                    format!("the file ends within the {} records to skip", options.skip_records),
                ));
            }
        }
        if options.header {
            if !csv.read_record()? {
                return Err(csv.error(None, "the file is empty (expected a header line)"));
            }
            let mut names = Vec::with_capacity(csv.record.len());
            for (i, field) in csv.record.iter().enumerate() {
                let name =
                    std::str::from_utf8(field).map_err(|_| csv.error(csv.line(), "the header is not valid UTF-8"))?;
                // A UTF-8 byte order mark belongs to the file, not to the first name.
                let name = if i == 0 {
                    name.trim_start_matches('\u{feff}')
                } else {
                    name
                };
                names.push(name.to_owned());
            }
            csv.fields = names;
        }
        if let Some(fields) = &options.fields {
            csv.fields.clone_from(fields);
        }
        for name in &options.drop_when_empty {
            match find(&csv.fields, name) {
                Found::One(index) => csv.drop_when_empty.push(index),
                Found::Nothing | Found::Ambiguous(_) => {
                    return Err(csv.error(
                        None,
                        format!("no one field {name:?} (named in [source] drop_when_empty)"),
                    ));
                }
            }
        }
        csv.kept = Kept::all(&csv.fields);
        Ok(csv)
    }

    fn line(&self) -> Option<Position> {
        let mut index = self.lines.lock().expect("the line index is never poisoned");
        if !self.comments {
            let start = self.record.position()?.byte();
            return Some(Position::Line {
                line: index.line(start),
            });
        }
        // With comments, the csv crate's record start is where the comment lines before it
        // start. Count back from the record's end instead: its last line, less the line
        // ends inside its fields.
        let end = self.reader.position().byte();
        let inside: u64 = self
            .record
            .iter()
            .map(|field| {
                let crlf = field.windows(2).filter(|w| w == b"\r\n").count();
                (field.iter().filter(|b| matches!(b, b'\r' | b'\n')).count() - crlf) as u64
            })
            .sum();
        Some(Position::Line {
            line: index.line(end).saturating_sub(1 + inside).max(1),
        })
    }

    fn error(&self, position: Option<Position>, problem: impl Into<String>) -> Error {
        RowError {
            location: Location {
                file: self.display.clone(),
                position,
            },
            column: None,
            value: None,
            problem: problem.into(),
        }
        .into()
    }

    fn read_record(&mut self) -> Result<bool> {
        let read = self.read_any_record()?;
        let bytes = self.record.as_slice().len();
        if bytes > self.max_record_bytes {
            return Err(self.error(
                self.line(),
                format!(
                    "a record of {bytes} bytes is larger than the memory budget for one record, {} bytes \
                     (set [source] max_record_bytes to allow it)",
                    self.max_record_bytes
                ),
            ));
        }
        Ok(read)
    }

    fn read_any_record(&mut self) -> Result<bool> {
        self.reader.read_byte_record(&mut self.record).map_err(|error| {
            let position = error.position().map(|p| Position::Line {
                line: self
                    .lines
                    .lock()
                    .expect("the line index is never poisoned")
                    .line(p.byte()),
            });
            if !error.is_io_error() {
                return self.error(position, error.to_string());
            }
            match error.into_kind() {
                csv::ErrorKind::Io(source) => ErrorKind::Read {
                    path: self.display.clone().into(),
                    source,
                }
                .into(),
                other => ErrorKind::Internal(format!("{other:?}")).into(),
            }
        })
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let width = self.fields.len();
        let mut columns = TextColumns::new(&self.kept.names, self.chunk_rows);
        let mut lines = Vec::with_capacity(self.chunk_rows);
        let mut skipped = 0;
        let mut taken = 0;
        while lines.len() < self.chunk_rows && taken < self.chunk_bytes {
            if !self.read_record()? {
                break;
            }
            taken += self.record.as_slice().len();
            let blank = self.skip_blank && self.record.iter().all(<[u8]>::is_empty);
            let dropped = !self.drop_when_empty.is_empty()
                && self
                    .drop_when_empty
                    .iter()
                    .all(|i| self.record.get(*i).is_none_or(<[u8]>::is_empty));
            if blank || dropped {
                skipped += 1;
                continue;
            }
            if self.record.len() != width {
                return Err(self.error(
                    self.line(),
                    format!(
                        "the record has {} field{}, expected {width} (as many as the {})",
                        self.record.len(),
                        if self.record.len() == 1 { "" } else { "s" },
                        if self.named_fields { "`fields` names" } else { "header" }
                    ),
                ));
            }
            // The record's bytes checked as UTF-8 at once; a field is then its slice of them
            // when it starts and ends between characters (else it is checked alone, to
            // say where it is invalid).
            let whole = std::str::from_utf8(self.record.as_slice()).ok();
            for (index, field) in self.record.iter().enumerate() {
                let Some(slot) = self.kept.slots[index] else {
                    continue;
                };
                let checked = whole
                    .zip(self.record.range(index))
                    .and_then(|(whole, range)| whole.get(range));
                let text = checked
                    .map_or_else(|| std::str::from_utf8(field), Ok)
                    .map_err(|error| {
                        let column = self.fields[index].clone();
                        let mut row = RowError {
                            location: Location {
                                file: self.display.clone(),
                                position: self.line(),
                            },
                            column: Some(column),
                            value: None,
                            problem: format!(
                                "invalid UTF-8 at byte {} of the field (declare the file's encoding in the job)",
                                error.valid_up_to()
                            ),
                        };
                        row.value = Some(String::from_utf8_lossy(field).into_owned());
                        Error::from(row)
                    })?;
                columns.column(slot).append_value(text);
            }
            lines.push(match self.line() {
                Some(Position::Line { line }) => line,
                _ => 0,
            });
        }
        debug_assert_eq!(columns.width(), self.kept.names.len());
        if lines.is_empty() && skipped == 0 {
            return Ok(None);
        }
        Ok(Some(Chunk {
            batch: columns.finish(),
            positions: Positions::Lines(lines),
            skipped,
        }))
    }
}

impl Source for Csv {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn project(&mut self, fields: &[usize]) {
        self.kept = Kept::only(&self.fields, fields);
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        Csv::next_chunk(self)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn record_lines(data: &str) -> Vec<u64> {
        let index = std::sync::Arc::new(std::sync::Mutex::new(LineIndex::default()));
        let counting = Counting {
            inner: data.as_bytes(),
            index: index.clone(),
        };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(counting);
        let mut record = csv::ByteRecord::new();
        let mut lines = Vec::new();
        while reader.read_byte_record(&mut record).unwrap() {
            lines.push(index.lock().unwrap().line(record.position().unwrap().byte()));
        }
        lines
    }

    #[test]
    fn lines_count_crlf_lf_bare_cr_and_quoted_line_ends() {
        assert_eq!(record_lines("h\r\na\r\nb\r\n"), [1, 2, 3]);
        assert_eq!(record_lines("h\na\nb\n"), [1, 2, 3]);
        assert_eq!(record_lines("h\ra\rb\r"), [1, 2, 3]);
        assert_eq!(record_lines("h\n\"x\ry\"\nb\n"), [1, 2, 4]);
        let mut sink = Vec::new();
        Counting {
            inner: &b"ab"[..],
            index: std::sync::Arc::default(),
        }
        .read_to_end(&mut sink)
        .unwrap();
        assert_eq!(sink, b"ab");
    }

    /// Line ends found the same whatever pieces the bytes come in (a CRLF split between two
    /// reads included): every CR, and every LF that does not follow a CR.
    #[test]
    fn line_ends_do_not_depend_on_how_the_bytes_are_read() {
        for data in ["a\r\nb\r\n", "\r\n\r\n", "a\rb\nc\r\r\nd\n\n", "\n\r", "no end", "x\r"] {
            let bytes = data.as_bytes();
            let expected: Vec<u64> = (0..bytes.len())
                .filter(|&i| bytes[i] == b'\r' || (bytes[i] == b'\n' && (i == 0 || bytes[i - 1] != b'\r')))
                .map(|i| i as u64)
                .collect();
            for piece in 1..=bytes.len().max(1) {
                let mut index = LineIndex::default();
                for part in bytes.chunks(piece) {
                    index.scan(part);
                }
                assert_eq!(Vec::from(index.ends.clone()), expected, "{data:?} in pieces of {piece}");
                assert_eq!(index.offset, bytes.len() as u64);
            }
        }
    }
}
