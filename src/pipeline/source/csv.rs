//! CSV (and any delimited text) through the `csv` crate: records become `Utf8` chunks,
//! each row with the line it starts on.

use crate::error::{Error, ErrorKind, Location, Position, Result, RowError};
use crate::job::SourceOptions;

use super::{Chunk, Positions, Source, SourceFile, TextColumns, open_file};

/// An open CSV file.
pub struct Csv {
    reader: csv::Reader<std::io::BufReader<std::fs::File>>,
    fields: Vec<String>,
    display: String,
    chunk_rows: usize,
    skip_blank: bool,
    record: csv::ByteRecord,
    done: bool,
}

impl Csv {
    /// Opens the file and reads its header (or takes the job's field names).
    pub fn open(file: &SourceFile, options: &SourceOptions) -> Result<Self> {
        let handle = open_file(&file.path)?;
        let reader = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .quote(options.quote)
            .escape(options.escape)
            .double_quote(options.escape.is_none())
            .comment(options.comment)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(std::io::BufReader::with_capacity(1 << 20, handle));
        let mut csv = Csv {
            reader,
            fields: Vec::new(),
            display: file.display.clone(),
            chunk_rows: options.chunk_rows,
            skip_blank: options.skip_blank,
            record: csv::ByteRecord::new(),
            done: false,
        };
        if options.header {
            if !csv.read_record()? {
                return Err(csv.error(None, "the file is empty (expected a header line)"));
            }
            let mut names = Vec::with_capacity(csv.record.len());
            for (i, field) in csv.record.iter().enumerate() {
                let name = std::str::from_utf8(field).map_err(|_| csv.error(csv.line(), "the header is not valid UTF-8"))?;
                // A UTF-8 byte order mark belongs to the file, not to the first name.
                let name = if i == 0 { name.trim_start_matches('\u{feff}') } else { name };
                names.push(name.to_owned());
            }
            csv.fields = names;
        }
        if let Some(fields) = &options.fields {
            csv.fields.clone_from(fields);
        }
        Ok(csv)
    }

    fn line(&self) -> Option<Position> {
        self.record.position().map(|p| Position::Line { line: p.line() })
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
        self.reader.read_byte_record(&mut self.record).map_err(|error| {
            let position = error.position().map(|p| Position::Line { line: p.line() });
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
        let mut columns = TextColumns::new(&self.fields, self.chunk_rows);
        let mut lines = Vec::with_capacity(self.chunk_rows);
        let mut skipped = 0;
        while lines.len() < self.chunk_rows {
            if !self.read_record()? {
                self.done = true;
                break;
            }
            if self.skip_blank && self.record.iter().all(<[u8]>::is_empty) {
                skipped += 1;
                continue;
            }
            if self.record.len() != width {
                return Err(self.error(
                    self.line(),
                    format!(
                        "the record has {} fields, expected {width} (as many as the header)",
                        self.record.len()
                    ),
                ));
            }
            for (index, field) in self.record.iter().enumerate() {
                let text = std::str::from_utf8(field).map_err(|error| {
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
                columns.column(index).append_value(text);
            }
            lines.push(self.record.position().map_or(0, csv::Position::line));
        }
        debug_assert_eq!(columns.width(), width);
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

impl Iterator for Csv {
    type Item = Result<Chunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_chunk();
        if next.is_err() {
            self.done = true;
        }
        next.transpose()
    }
}

impl Source for Csv {
    fn fields(&self) -> &[String] {
        &self.fields
    }
}
