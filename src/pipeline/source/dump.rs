//! A `pg_dump` plain-format file: the `COPY table (columns) FROM stdin;` block of one
//! table, read as COPY text format (tab-separated, `\N` for NULL, backslash escapes, ended
//! by `\.`). The rest of the dump is skipped, never run.
//! See <https://www.postgresql.org/docs/current/sql-copy.html> ("Text Format").

use std::io::BufRead;

use crate::error::{Error, ErrorKind, Location, Position, Result, RowError};
use crate::job::SourceOptions;

use super::{Chunk, Kept, Positions, Source, SourceFile, TextColumns, open_text};

/// The end-of-data marker of a COPY text block.
const END_OF_DATA: &[u8] = b"\\.";
/// The NULL marker of COPY text format.
const NULL_MARKER: &[u8] = b"\\N";

/// One table's COPY block in a dump.
pub struct Dump {
    reader: std::io::BufReader<Box<dyn std::io::Read + Send>>,
    fields: Vec<String>,
    /// The fields chunks hold.
    kept: Kept,
    display: String,
    chunk_rows: usize,
    chunk_bytes: usize,
    line: u64,
    buffer: Vec<u8>,
    done: bool,
}

impl Dump {
    /// Opens the dump and reads up to the named table's `COPY` line.
    pub fn open(file: &SourceFile, options: &SourceOptions) -> Result<Self> {
        let table = options.dump_table.clone().unwrap_or_default();
        let mut dump = Dump {
            reader: std::io::BufReader::with_capacity(1 << 20, open_text(file, options.encoding)?),
            fields: Vec::new(),
            kept: Kept::all(&[]),
            display: file.display.clone(),
            chunk_rows: options.chunk_rows,
            chunk_bytes: options.chunk_bytes,
            line: 0,
            buffer: Vec::new(),
            done: false,
        };
        while dump.read_line()? {
            let text = String::from_utf8_lossy(&dump.buffer);
            if let Some(fields) = copy_header(&text, &table) {
                dump.kept = Kept::all(&fields);
                dump.fields = fields;
                return Ok(dump);
            }
        }
        Err(RowError {
            location: Location {
                file: file.display.clone(),
                position: None,
            },
            column: None,
            value: None,
            problem: format!("no `COPY {table} (...) FROM stdin;` block (expected one for dump_table {table:?})"),
        }
        .into())
    }

    /// Reads one line without its line end into `buffer`; false at end of file.
    fn read_line(&mut self) -> Result<bool> {
        self.buffer.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buffer)
            .map_err(|source| ErrorKind::Read {
                path: self.display.clone().into(),
                source,
            })?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
            self.buffer.pop();
        }
        Ok(true)
    }

    fn error(&self, column: Option<String>, problem: String) -> Error {
        RowError {
            location: Location {
                file: self.display.clone(),
                position: Some(Position::Line { line: self.line }),
            },
            column,
            value: None,
            problem,
        }
        .into()
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        if self.done {
            return Ok(None); // past `\.`: the rest of the dump is not this table's
        }
        let width = self.fields.len();
        let mut columns = TextColumns::new(&self.kept.names, self.chunk_rows);
        let mut lines = Vec::with_capacity(self.chunk_rows);
        let mut field = Vec::new();
        let mut taken = 0;
        while lines.len() < self.chunk_rows && taken < self.chunk_bytes {
            if !self.read_line()? {
                return Err(self.error(
                    None,
                    "the COPY block ends without `\\.` (is the dump cut short?)".into(),
                ));
            }
            if self.buffer == END_OF_DATA {
                self.done = true;
                break;
            }
            taken += self.buffer.len();
            let count = self.buffer.split(|b| *b == b'\t').count();
            if count != width {
                return Err(self.error(
                    None,
                    format!("the row has {count} fields, expected {width} (as the COPY line lists)"),
                ));
            }
            let buffer = std::mem::take(&mut self.buffer);
            for (index, raw) in buffer.split(|b| *b == b'\t').enumerate() {
                let Some(slot) = self.kept.slots[index] else {
                    continue;
                };
                if raw == NULL_MARKER {
                    columns.column(slot).append_null();
                    continue;
                }
                unescape(raw, &mut field);
                if let Ok(text) = std::str::from_utf8(&field) {
                    columns.column(slot).append_value(text);
                } else {
                    let column = self.fields[index].clone();
                    return Err(self.error(Some(column), "invalid UTF-8 in the field".into()));
                }
            }
            self.buffer = buffer;
            lines.push(self.line);
        }
        if lines.is_empty() {
            return Ok(None);
        }
        Ok(Some(Chunk {
            batch: columns.finish(),
            positions: Positions::Lines(lines),
            skipped: 0,
        }))
    }
}

/// The column names of `COPY <table> (a, b) FROM stdin;` when the line is that table's.
fn copy_header(line: &str, table: &str) -> Option<Vec<String>> {
    let rest = line.strip_prefix("COPY ")?;
    let (name, rest) = rest.split_once(' ')?;
    let unquote = |s: &str| s.trim().trim_matches('"').to_owned();
    let bare = name.rsplit('.').next().map(unquote)?;
    let wanted = table.rsplit('.').next().map(unquote)?;
    if bare != wanted {
        return None;
    }
    let list = rest.strip_prefix('(')?.split_once(')')?.0;
    Some(list.split(',').map(unquote).collect())
}

/// Decodes COPY text escapes: `\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`, octal `\NNN`, hex `\xHH`.
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        i += 1;
        if b != b'\\' || i == raw.len() {
            out.push(b);
            continue;
        }
        let c = raw[i];
        i += 1;
        match c {
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut value = u32::from(c - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value & 0xff).unwrap_or(0));
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = 0u8;
                for _ in 0..2 {
                    match raw.get(i).and_then(|d| char::from(*d).to_digit(16)) {
                        Some(d) => {
                            value = value * 16 + u8::try_from(d).unwrap_or(0);
                            i += 1;
                        }
                        None => break,
                    }
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
}

impl Source for Dump {
    fn fields(&self) -> &[String] {
        &self.fields
    }

    fn project(&mut self, fields: &[usize]) {
        self.kept = Kept::only(&self.fields, fields);
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        Dump::next_chunk(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_header_matches_the_table_only() {
        assert_eq!(
            copy_header("COPY prices (orig_code, dest_code, day, price) FROM stdin;", "prices").unwrap(),
            ["orig_code", "dest_code", "day", "price"]
        );
        assert_eq!(
            copy_header("COPY tasks.\"ports\" (code) FROM stdin;", "ports").unwrap(),
            ["code"]
        );
        assert!(copy_header("COPY ports (code) FROM stdin;", "prices").is_none());
    }

    #[test]
    fn escapes_decode() {
        let mut out = Vec::new();
        unescape(b"a\\tb\\\\c\\101\\x41\\N", &mut out);
        assert_eq!(out, b"a\tb\\cAAN");
    }
}
