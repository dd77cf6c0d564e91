//! Rows out: JSON (an array of objects), NDJSON (one object per line) or CSV (a header,
//! then one record per row), written a chunk of rows at a time so a large result streams.

use std::io::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::text;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Ndjson,
    Csv,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Json, Format::Ndjson, Format::Csv];

    /// The `?format=` name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format an `Accept` header asks for: the first listed media type we make, none
    /// when none is (or there is no header).
    pub fn from_accept(accept: &str) -> Option<Self> {
        accept.split(',').find_map(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            match media {
                "text/csv" => Some(Format::Csv),
                "application/x-ndjson" | "application/jsonl" => Some(Format::Ndjson),
                "application/json" => Some(Format::Json),
                _ => None,
            }
        })
    }
}

/// The column types a route may return; anything else is refused when the server starts
/// (cast it in the query, e.g. `numeric` to `float8` or `text`).
pub fn supported(ty: &Type) -> bool {
    [
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::DATE,
        Type::TIMESTAMP,
        Type::TIMESTAMPTZ,
        Type::JSON,
        Type::JSONB,
    ]
    .contains(ty)
}

/// The JSON Schema of a column type, for the OpenAPI document.
pub fn json_schema(ty: &Type) -> serde_json::Value {
    let (kind, format) = match *ty {
        Type::BOOL => ("boolean", None),
        Type::INT2 | Type::INT4 | Type::INT8 => ("integer", None),
        Type::FLOAT4 | Type::FLOAT8 => ("number", None),
        Type::DATE => ("string", Some("date")),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => ("string", Some("date-time")),
        Type::JSON | Type::JSONB => return serde_json::json!({}),
        _ => ("string", None),
    };
    let mut schema = serde_json::json!({ "type": [kind, "null"] });
    if let Some(format) = format {
        schema["format"] = format.into();
    }
    schema
}

/// One value of a row, converted from its column type.
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Json(serde_json::Value),
}

impl Cell {
    /// Writes the value as JSON writes it unquoted (and CSV as it is); false, writing
    /// nothing, for text, dates and times, which JSON quotes.
    fn plain(&self, out: &mut Vec<u8>) -> bool {
        match self {
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Cell::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            // JSON has no NaN or infinity.
            Cell::Float(x) if !x.is_finite() => out.extend_from_slice(b"null"),
            Cell::Float(x) => {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "{x}");
            }
            Cell::Json(v) => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
            Cell::Text(_) | Cell::Date(_) | Cell::Timestamp(_) | Cell::TimestampTz(_) => return false,
        }
        true
    }

    /// Text, dates and times as text (ISO 8601; times in UTC end in `Z`).
    fn text(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Text(s) => out.extend_from_slice(s.as_bytes()),
            Cell::Date(d) => text::date(*d, out),
            Cell::Timestamp(t) => text::timestamp(*t, out),
            Cell::TimestampTz(t) => {
                text::timestamp(t.naive_utc(), out);
                out.push(b'Z');
            }
            _ => {}
        }
    }
}

fn cell(row: &Row, i: usize) -> Result<Cell, tokio_postgres::Error> {
    fn or_null<T>(value: Option<T>, f: impl FnOnce(T) -> Cell) -> Cell {
        value.map_or(Cell::Null, f)
    }
    let ty = row.columns()[i].type_();
    Ok(match *ty {
        Type::BOOL => or_null(row.try_get::<_, Option<bool>>(i)?, Cell::Bool),
        Type::INT2 => or_null(row.try_get::<_, Option<i16>>(i)?, |n| Cell::Int(n.into())),
        Type::INT4 => or_null(row.try_get::<_, Option<i32>>(i)?, |n| Cell::Int(n.into())),
        Type::INT8 => or_null(row.try_get::<_, Option<i64>>(i)?, Cell::Int),
        Type::FLOAT4 => or_null(row.try_get::<_, Option<f32>>(i)?, |n| Cell::Float(n.into())),
        Type::FLOAT8 => or_null(row.try_get::<_, Option<f64>>(i)?, Cell::Float),
        Type::DATE => or_null(row.try_get::<_, Option<NaiveDate>>(i)?, Cell::Date),
        Type::TIMESTAMP => or_null(row.try_get::<_, Option<NaiveDateTime>>(i)?, Cell::Timestamp),
        Type::TIMESTAMPTZ => or_null(row.try_get::<_, Option<DateTime<Utc>>>(i)?, Cell::TimestampTz),
        Type::JSON | Type::JSONB => or_null(row.try_get::<_, Option<serde_json::Value>>(i)?, Cell::Json),
        _ => or_null(row.try_get::<_, Option<String>>(i)?, Cell::Text),
    })
}

/// Writes rows of one result in one format.
pub struct Writer {
    format: Format,
    rows: u64,
}

impl Writer {
    pub fn new(format: Format) -> Self {
        Writer { format, rows: 0 }
    }

    /// What comes before the first row: `[` for JSON, the header record for CSV.
    pub fn start(&self, columns: &[&str], out: &mut Vec<u8>) {
        match self.format {
            Format::Json => out.push(b'['),
            Format::Ndjson => {}
            Format::Csv => csv_record(columns.iter().map(|c| Some((*c).to_owned())), out),
        }
    }

    pub fn row(&mut self, row: &Row, out: &mut Vec<u8>) -> Result<(), tokio_postgres::Error> {
        let first = self.rows == 0;
        self.rows += 1;
        match self.format {
            Format::Json | Format::Ndjson => {
                if self.format == Format::Json && !first {
                    out.push(b',');
                }
                out.push(b'{');
                for (i, column) in row.columns().iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_string(column.name(), out);
                    out.push(b':');
                    match cell(row, i)? {
                        Cell::Text(s) => json_string(&s, out),
                        cell => {
                            if !cell.plain(out) {
                                // Dates and times need no escaping, only quotes.
                                out.push(b'"');
                                cell.text(out);
                                out.push(b'"');
                            }
                        }
                    }
                }
                out.push(b'}');
                if self.format == Format::Ndjson {
                    out.push(b'\n');
                }
            }
            Format::Csv => {
                for i in 0..row.len() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match cell(row, i)? {
                        Cell::Null if row.len() == 1 => out.extend_from_slice(b"\"\""),
                        Cell::Null => {}
                        Cell::Float(x) => {
                            let _ = write!(out, "{x}");
                        }
                        Cell::Text(s) => text::csv_field(&s, row.len() == 1, out),
                        Cell::Json(v) => text::csv_field(&v.to_string(), false, out),
                        cell => {
                            if !cell.plain(out) {
                                cell.text(out);
                            }
                        }
                    }
                }
                out.push(b'\n');
            }
        }
        Ok(())
    }

    /// What comes after the last row.
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(b"]\n");
        }
    }
}

fn json_string(s: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// One CSV record (quotes doubled, `\n` line ends), via the csv crate.
pub(super) fn csv_record(fields: impl Iterator<Item = Option<String>>, out: &mut Vec<u8>) {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    let fields: Vec<String> = fields.map(Option::unwrap_or_default).collect();
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(&fields);
    if let Ok(bytes) = writer.into_inner() {
        out.extend_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_first_format_we_make() {
        assert_eq!(Format::from_accept("text/html, text/csv;q=0.9"), Some(Format::Csv));
        assert_eq!(Format::from_accept("application/x-ndjson"), Some(Format::Ndjson));
        assert_eq!(Format::from_accept("*/*"), None);
        assert_eq!(Format::from_accept(""), None);
    }

    #[test]
    fn csv_records_quote_what_needs_quoting() {
        let mut out = Vec::new();
        csv_record(
            [Some("a,b".to_owned()), None, Some("say \"hi\"".to_owned())].into_iter(),
            &mut out,
        );
        assert_eq!(String::from_utf8(out).unwrap(), "\"a,b\",,\"say \"\"hi\"\"\"\n");
    }
}
