//! Conform: source chunks become Arrow batches of the target table's columns, in COPY
//! order, each value parsed or cast to the column's catalog type and checked. Wide rows
//! become long rows here (`[unpivot]`). Pure: no IO; errors name the file, the line (or
//! row group and row), the column, the value, and what was expected.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::db::catalog::PgType;
use crate::error::{Error, Location, Result, RowError};
use crate::job::{Job, Segment, Target, ValueRule, days_since_epoch};
use crate::pipeline::bind::Binding;
use crate::pipeline::encode::{EncodeError, Numeric, arrow_type};
use crate::pipeline::source::Chunk;

/// Timestamp formats tried, in order, when a column gives none.
const DEFAULT_TIMESTAMP_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d";

/// Where one target column's values come from, bound to one file's fields.
#[derive(Debug)]
enum Input {
    Field(usize),
    Template(Vec<Part>),
    /// One value (len-1 array), repeated.
    Constant(ArrayRef),
    Unpivoted,
    /// One len-1 array per unpivoted field.
    PerField(Vec<ArrayRef>),
}

#[derive(Debug)]
enum Part {
    Literal(String),
    Field(usize),
}

/// Conforms the chunks of one file.
#[derive(Debug)]
pub struct Conformer {
    file: String,
    targets: Vec<(Target, Input)>,
    unpivot: Option<(Vec<usize>, bool)>,
    schema: SchemaRef,
}

/// The result of conforming one chunk.
#[derive(Debug)]
pub struct Conformed {
    pub batch: RecordBatch,
    /// Source rows read (including skipped ones).
    pub rows_read: u64,
    /// Rows dropped on purpose (blank records, NULL unpivoted values).
    pub rows_skipped: u64,
}

/// The output schema of a job: its columns in COPY order with their Arrow types.
pub fn schema(job: &Job) -> SchemaRef {
    Arc::new(Schema::new(
        job.columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.ty), true))
            .collect::<Vec<_>>(),
    ))
}

impl Conformer {
    /// Binds the job's rules to one file, as `binding` matched its fields; chunks then
    /// hold only the fields the binding projects.
    ///
    /// # Errors
    ///
    /// Bad data when the file name does not match a `path` rule; configuration when a
    /// constant does not parse as its column's type.
    pub fn try_new(job: &Job, file: &str, file_name: &str, binding: &Binding) -> Result<Self> {
        let file_error = |problem: String| -> Error {
            RowError {
                location: Location {
                    file: file.to_owned(),
                    position: None,
                },
                column: None,
                value: None,
                problem,
            }
            .into()
        };
        let constant = |target: &Target, value: &str| -> Result<ArrayRef> {
            let strings = StringArray::from(vec![value]);
            parse_strings(&strings, target, &|_| None, file).map_err(|error| {
                Error::config(format!(
                    "column {:?}: constant {value:?} does not fit: {error}",
                    target.name
                ))
            })
        };
        let mut targets = Vec::with_capacity(job.columns.len());
        for (target, bound) in job.columns.iter().zip(&binding.columns) {
            let mut positions = bound.fields.iter().map(|i| binding.position(*i));
            let mut next = || positions.next().ok_or_else(|| internal("a bound field is missing"));
            let input = match &target.rule {
                ValueRule::Field { .. } if bound.server => {
                    return Err(internal(format!(
                        "column {:?} is left to the server, yet in the COPY",
                        target.name
                    )));
                }
                ValueRule::Field { .. } => Input::Field(next()?),
                ValueRule::Template(segments) => Input::Template(
                    segments
                        .iter()
                        .map(|s| match s {
                            Segment::Literal(text) => Ok(Part::Literal(text.clone())),
                            Segment::Field(_) => next().map(Part::Field),
                        })
                        .collect::<Result<_>>()?,
                ),
                ValueRule::Constant(value) => Input::Constant(constant(target, value)?),
                ValueRule::Path(regex) => {
                    let captured = regex.captures(file_name).and_then(|c| c.get(1)).ok_or_else(|| {
                        file_error(format!(
                            "the file name {file_name:?} does not match {:?} (column {:?} takes its value from it)",
                            regex.as_str(),
                            target.name
                        ))
                    })?;
                    let strings = StringArray::from(vec![captured.as_str()]);
                    Input::Constant(parse_strings(&strings, target, &|_| None, file)?)
                }
                ValueRule::Unpivoted => Input::Unpivoted,
                ValueRule::PerField(values) => {
                    Input::PerField(values.iter().map(|v| constant(target, v)).collect::<Result<_>>()?)
                }
            };
            targets.push((target.clone(), input));
        }
        let unpivot = job.unpivot.as_ref().map(|u| {
            (
                binding.unpivot.iter().map(|i| binding.position(*i)).collect(),
                u.skip_null,
            )
        });
        Ok(Conformer {
            file: file.to_owned(),
            targets,
            unpivot,
            schema: schema(job),
        })
    }

    /// What the encoder said of a conformed chunk, as the caller should see it: a value too
    /// large for one COPY field is bad data at its file, row and column; anything else is a
    /// bug (conform hands the encoder only what it can encode).
    pub fn encode_error(&self, chunk: &Chunk, error: &EncodeError) -> Error {
        match error {
            EncodeError::FieldTooLarge { row, index, len } => RowError {
                location: Location {
                    file: self.file.clone(),
                    // Long rows (unpivot) are not the file's rows: the file is all we know.
                    position: self.unpivot.is_none().then(|| chunk.position(*row)),
                },
                column: self.targets.get(*index).map(|(target, _)| target.name.clone()),
                value: None,
                problem: format!("a value of {len} bytes is larger than PostgreSQL takes in one field (1 GiB)"),
            }
            .into(),
            other => internal(other),
        }
    }

    /// Conforms one chunk.
    ///
    /// # Errors
    ///
    /// Bad data: the first value that does not parse or fails a check, with its location.
    pub fn conform(&self, chunk: &Chunk) -> Result<Conformed> {
        let rows = chunk.batch.num_rows();
        let at = |row: usize| Some(chunk.position(row));
        let mut columns: Vec<Option<ArrayRef>> = Vec::with_capacity(self.targets.len());
        for (target, input) in &self.targets {
            let array = match input {
                Input::Field(i) => Some(convert(chunk.batch.column(*i), target, &at, &self.file)?),
                Input::Template(parts) => {
                    let strings = template(parts, &chunk.batch, rows)?;
                    Some(parse_strings(&strings, target, &at, &self.file)?)
                }
                Input::Constant(value) => Some(repeat(value, rows)?),
                Input::Unpivoted | Input::PerField(_) => None,
            };
            columns.push(array);
        }
        let rows_read = rows as u64 + chunk.skipped;
        let Some((fields, skip_null)) = &self.unpivot else {
            let columns = columns
                .into_iter()
                .map(|c| c.expect("every input without unpivot gives a column"))
                .collect();
            let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(internal)?;
            return Ok(Conformed {
                batch,
                rows_read,
                rows_skipped: chunk.skipped,
            });
        };

        // Wide to long: the batch repeated once per field, field-major.
        let value_target = &self
            .targets
            .iter()
            .find(|(_, input)| matches!(input, Input::Unpivoted))
            .expect("resolve puts the unpivot value column in the job")
            .0;
        let mut value_target = value_target.clone();
        // NULL values are dropped, not refused, when skip_null is on.
        value_target.checks.required &= !*skip_null;
        let values = fields
            .iter()
            .map(|i| convert(chunk.batch.column(*i), &value_target, &at, &self.file))
            .collect::<Result<Vec<_>>>()?;
        let mut long = Vec::with_capacity(self.targets.len());
        for ((_, input), column) in self.targets.iter().zip(&columns) {
            let parts: Vec<ArrayRef> = match (input, column) {
                (Input::Unpivoted, _) => values.clone(),
                (Input::PerField(constants), _) => constants.iter().map(|c| repeat(c, rows)).collect::<Result<_>>()?,
                (_, Some(array)) => vec![array.clone(); fields.len()],
                (_, None) => unreachable!("only unpivot inputs give no column"),
            };
            let refs: Vec<&dyn Array> = parts.iter().map(AsRef::as_ref).collect();
            long.push(arrow_select::concat::concat(&refs).map_err(internal)?);
        }
        let mut batch = RecordBatch::try_new(self.schema.clone(), long).map_err(internal)?;
        let mut rows_skipped = chunk.skipped;
        if *skip_null {
            let value_index = self
                .targets
                .iter()
                .position(|(_, input)| matches!(input, Input::Unpivoted))
                .expect("checked above");
            let value = batch.column(value_index);
            if value.null_count() > 0 {
                rows_skipped += value.null_count() as u64;
                let keep = arrow_arith::boolean::is_not_null(value).map_err(internal)?;
                batch = arrow_select::filter::filter_record_batch(&batch, &keep).map_err(internal)?;
            }
        }
        Ok(Conformed {
            batch,
            rows_read,
            rows_skipped,
        })
    }
}

fn internal(error: impl std::fmt::Display) -> Error {
    crate::error::ErrorKind::Internal(error.to_string()).into()
}

fn repeat(value: &ArrayRef, rows: usize) -> Result<ArrayRef> {
    let indices = UInt32Array::from(vec![0u32; rows]);
    arrow_select::take::take(value.as_ref(), &indices, None).map_err(internal)
}

fn template(parts: &[Part], batch: &RecordBatch, rows: usize) -> Result<StringArray> {
    let fields: Vec<Cow<'_, StringArray>> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Field(i) => Some(*i),
            Part::Literal(_) => None,
        })
        .map(|i| as_strings(batch.column(i)))
        .collect::<Result<_>>()?;
    let mut out = StringBuilder::with_capacity(rows, rows * 16);
    let mut text = String::new();
    'rows: for row in 0..rows {
        text.clear();
        let mut field = fields.iter();
        for part in parts {
            match part {
                Part::Literal(literal) => text.push_str(literal),
                Part::Field(_) => {
                    let array = field.next().expect("one array per field part");
                    if array.is_null(row) {
                        out.append_null();
                        continue 'rows;
                    }
                    text.push_str(array.value(row));
                }
            }
        }
        out.append_value(&text);
    }
    Ok(out.finish())
}

/// Any array as `Utf8` text (Arrow's display of each value).
fn as_strings(array: &ArrayRef) -> Result<Cow<'_, StringArray>> {
    if array.data_type() == &DataType::Utf8 {
        Ok(Cow::Borrowed(array.as_string::<i32>()))
    } else {
        let cast = arrow_cast::cast(array, &DataType::Utf8).map_err(internal)?;
        Ok(Cow::Owned(cast.as_string::<i32>().clone()))
    }
}

type At<'a> = dyn Fn(usize) -> Option<crate::error::Position> + 'a;

fn row_error(file: &str, at: &At<'_>, row: usize, target: &Target, value: Option<&str>, problem: String) -> Error {
    RowError {
        location: Location {
            file: file.to_owned(),
            position: at(row),
        },
        column: Some(target.name.clone()),
        value: value.map(str::to_owned),
        problem,
    }
    .into()
}

/// Parses or casts a source column to the target's type, then checks it.
fn convert(array: &ArrayRef, target: &Target, at: &At<'_>, file: &str) -> Result<ArrayRef> {
    let converted = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let strings = as_strings(array)?;
            return parse_strings(&strings, target, at, file);
        }
        _ if target.ty == PgType::Numeric
            || target.ty.is_textual()
            || target.parse.null.iter().any(|marker| !marker.is_empty()) =>
        {
            // Typed values become text when the target is text, or when null markers
            // (sentinels such as -200) must be compared; numeric text is checked as numeric.
            let strings = as_strings(array)?;
            return parse_strings(&strings, target, at, file);
        }
        _ => {
            let options = arrow_cast::CastOptions {
                safe: true,
                ..Default::default()
            };
            let cast = arrow_cast::cast_with_options(array, &arrow_type(target.ty), &options).map_err(|error| {
                row_error(
                    file,
                    &|_| None,
                    0,
                    target,
                    None,
                    format!(
                        "cannot convert {} values to {}: {error}",
                        array.data_type(),
                        target.ty.name()
                    ),
                )
            })?;
            // A value that was there before the cast and is NULL after it did not fit.
            if cast.null_count() > array.null_count() {
                let row = (0..array.len())
                    .find(|r| array.is_valid(*r) && cast.is_null(*r))
                    .unwrap_or(0);
                let shown = display(array, row);
                return Err(row_error(
                    file,
                    at,
                    row,
                    target,
                    Some(&shown),
                    format!("{shown} ({}) does not fit {}", array.data_type(), target.ty.name()),
                ));
            }
            cast
        }
    };
    if target.checks.required && converted.null_count() > 0 {
        let row = (0..converted.len()).find(|r| converted.is_null(*r)).unwrap_or(0);
        return Err(row_error(file, at, row, target, None, required_problem(target)));
    }
    check(&converted, target, at, file)?;
    Ok(converted)
}

fn display(array: &dyn Array, row: usize) -> String {
    ArrayFormatter::try_new(array, &FormatOptions::default())
        .map(|f| f.value(row).to_string())
        .unwrap_or_default()
}

fn required_problem(target: &Target) -> String {
    if target.not_null {
        "no value, but the column is NOT NULL".into()
    } else {
        "no value, but the column is required".into()
    }
}

#[expect(clippy::too_many_lines, reason = "one arm per PostgreSQL type")]
fn parse_strings(strings: &StringArray, target: &Target, at: &At<'_>, file: &str) -> Result<ArrayRef> {
    let parse = &target.parse;
    let replaced: StringArray;
    let strings = match &parse.replace_nul {
        Some(with) if strings.value_data().contains(&0) => {
            replaced = strings.iter().map(|v| v.map(|v| v.replace('\0', with))).collect();
            &replaced
        }
        _ => strings,
    };
    let fail = |row: usize, value: &str, problem: String| row_error(file, at, row, target, Some(value), problem);
    // Yields each row's text, or None for NULL (a NULL, or a null marker).
    let values = (0..strings.len()).map(|row| {
        let value = strings.is_valid(row).then(|| strings.value(row));
        match value {
            Some(v) if !parse.null.iter().any(|m| m == v) => Ok((row, Some(v))),
            Some(v) if target.checks.required => Err(fail(
                row,
                v,
                format!(
                    "{v:?} is a null marker, but the column is {}",
                    if target.not_null { "NOT NULL" } else { "required" }
                ),
            )),
            None if target.checks.required => Err(row_error(file, at, row, target, None, required_problem(target))),
            _ => Ok((row, None)),
        }
    });
    let numeric_hint = |v: &str| -> &'static str {
        match parse.decimal {
            b'.' if v.contains(',') => " (expected '.' as the decimal separator)",
            b',' if v.contains('.') => " (expected ',' as the decimal separator)",
            _ => "",
        }
    };
    let decimal_comma = parse.decimal == b',';

    let cannot = |v: &str, what: &str, hint: &str| format!("cannot parse {v:?} as {what}{hint}");

    macro_rules! primitive {
        ($type:ty, $parse:expr) => {{
            let mut builder = PrimitiveBuilder::<$type>::with_capacity(strings.len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => builder.append_value($parse(v).map_err(|p| fail(row, v, p))?),
                }
            }
            let array: ArrayRef = Arc::new(builder.finish());
            array
        }};
    }
    let integer = |v: &str, what: &str| -> Result<i64, String> {
        let n = number_text(v, decimal_comma, parse.thousands);
        // Writers such as pandas print whole numbers as `253019.0`; the fraction must be zero.
        let whole = match n.split_once('.') {
            Some((int, frac)) if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') => int,
            _ => &n,
        };
        whole.parse::<i64>().map_err(|_| cannot(v, what, numeric_hint(v)))
    };
    let array: ArrayRef = match target.ty {
        PgType::Bool => {
            let mut builder = BooleanBuilder::with_capacity(strings.len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => builder.append_value(parse_bool(v).ok_or_else(|| {
                        fail(
                            row,
                            v,
                            cannot(v, "boolean", " (expected true/false, t/f, yes/no, y/n, on/off or 1/0)"),
                        )
                    })?),
                }
            }
            Arc::new(builder.finish())
        }
        PgType::Int2 => primitive!(Int16Type, |v: &str| integer(v, "smallint")
            .and_then(|n| i16::try_from(n).map_err(|_| format!("{v:?} is out of range for smallint")))),
        PgType::Int4 => primitive!(Int32Type, |v: &str| integer(v, "integer")
            .and_then(|n| i32::try_from(n).map_err(|_| format!("{v:?} is out of range for integer")))),
        PgType::Int8 => primitive!(Int64Type, |v: &str| integer(v, "bigint")),
        PgType::Float4 => primitive!(Float32Type, |v: &str| number_text(v, decimal_comma, parse.thousands)
            .parse::<f32>()
            .map_err(|_| cannot(v, "real", numeric_hint(v)))),
        PgType::Float8 => primitive!(Float64Type, |v: &str| number_text(v, decimal_comma, parse.thousands)
            .parse::<f64>()
            .map_err(|_| cannot(v, "double precision", numeric_hint(v)))),
        PgType::Date => {
            let format = parse.format.as_deref().unwrap_or(DEFAULT_DATE_FORMAT);
            primitive!(Date32Type, |v: &str| NaiveDate::parse_from_str(v.trim(), format)
                .map(days_since_epoch)
                .map_err(|_| cannot(v, "date", &format!(" (expected format {format:?})"))))
        }
        PgType::Timestamp => primitive!(TimestampMicrosecondType, |v: &str| parse_naive(
            v,
            parse.format.as_deref()
        )
        .map(|t| t.and_utc().timestamp_micros())
        .ok_or_else(|| cannot(v, "timestamp", &expected_formats(parse.format.as_deref())))),
        PgType::Timestamptz => {
            let array = primitive!(TimestampMicrosecondType, |v: &str| parse_timestamptz(v, target)
                .ok_or_else(|| cannot(v, "timestamptz", &expected_zoned(target))));
            Arc::new(
                array
                    .as_primitive::<TimestampMicrosecondType>()
                    .clone()
                    .with_timezone("UTC"),
            )
        }
        PgType::Numeric => {
            let mut builder = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (row, Some(v)) => {
                        let n = number_text(v, decimal_comma, parse.thousands);
                        if Numeric::parse(&n).is_none() {
                            return Err(fail(row, v, cannot(v, "numeric", numeric_hint(v))));
                        }
                        builder.append_value(&*n);
                    }
                }
            }
            Arc::new(builder.finish())
        }
        PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Json | PgType::Jsonb => {
            let mut builder = StringBuilder::with_capacity(strings.len(), strings.value_data().len());
            for item in values {
                match item? {
                    (_, None) => builder.append_null(),
                    (_, Some(v)) => builder.append_value(v),
                }
            }
            Arc::new(builder.finish())
        }
    };
    check(&array, target, at, file)?;
    Ok(array)
}

/// Number text with `.` as the decimal separator and no thousands separators, trimmed;
/// borrowed unless rewritten.
fn number_text(v: &str, decimal_comma: bool, thousands: Option<u8>) -> Cow<'_, str> {
    let v = v.trim();
    let mut text = Cow::Borrowed(v);
    if let Some(sep) = thousands.map(char::from)
        && text.contains(sep)
    {
        text = Cow::Owned(text.replace(sep, ""));
    }
    if decimal_comma && text.contains(',') {
        text = Cow::Owned(text.replace(',', "."));
    }
    text
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "on" | "1" => Some(true),
        "false" | "f" | "no" | "n" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_naive(v: &str, format: Option<&str>) -> Option<NaiveDateTime> {
    let v = v.trim();
    match format {
        Some(format) => NaiveDateTime::parse_from_str(v, format).ok().or_else(|| {
            // A format with no time of day gives midnight.
            NaiveDate::parse_from_str(v, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        }),
        None => DEFAULT_TIMESTAMP_FORMATS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
            .or_else(|| {
                NaiveDate::parse_from_str(v, DEFAULT_DATE_FORMAT)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            }),
    }
}

fn parse_timestamptz(v: &str, target: &Target) -> Option<i64> {
    let parse = &target.parse;
    if let Some(zone) = parse.timezone {
        return zone.utc_micros(parse_naive(v, parse.format.as_deref())?);
    }
    let v = v.trim();
    match &parse.format {
        Some(format) => DateTime::parse_from_str(v, format).ok(),
        None => DateTime::parse_from_rfc3339(v)
            .ok()
            .or_else(|| DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f%#z").ok()),
    }
    .map(|t| t.timestamp_micros())
}

fn expected_formats(format: Option<&str>) -> String {
    match format {
        Some(format) => format!(" (expected format {format:?})"),
        None => " (expected an ISO 8601 timestamp such as \"2016-01-31 23:00:00\")".into(),
    }
}

fn expected_zoned(target: &Target) -> String {
    match (&target.parse.format, target.parse.timezone) {
        (Some(format), _) => format!(" (expected format {format:?})"),
        (None, Some(_)) => expected_formats(None),
        (None, None) => {
            " (expected an ISO 8601 timestamp with an offset such as \"2016-01-31T23:00:00+01:00\", or set `timezone`)"
                .into()
        }
    }
}

/// Length, JSON, range and pattern checks on converted values.
fn check(array: &ArrayRef, target: &Target, at: &At<'_>, file: &str) -> Result<()> {
    if target.ty.is_textual() {
        let strings = array.as_string::<i32>();
        for row in 0..strings.len() {
            if strings.is_null(row) {
                continue;
            }
            let v = strings.value(row);
            let fail = |problem: String| row_error(file, at, row, target, Some(v), problem);
            if v.contains('\0') {
                return Err(fail(format!(
                    "{v:?} contains a NUL byte, which PostgreSQL text cannot hold"
                )));
            }
            if let Some(max) = target.max_chars {
                let chars = v.chars().count();
                if chars > max {
                    return Err(fail(format!(
                        "{v:?} has {chars} characters, more than the {max} the column allows"
                    )));
                }
            }
            if matches!(target.ty, PgType::Json | PgType::Jsonb)
                && let Err(error) = serde_json::from_str::<serde::de::IgnoredAny>(v)
            {
                return Err(fail(format!("{v:?} is not JSON ({error})")));
            }
            if let Some(pattern) = &target.checks.pattern
                && !pattern.is_match(v)
            {
                return Err(fail(format!("{v:?} does not match the pattern {:?}", pattern.as_str())));
            }
        }
    }
    if target.checks.min.is_none() && target.checks.max.is_none() {
        return Ok(());
    }
    let numbers: ArrayRef = match array.data_type() {
        DataType::Utf8 => Arc::new(
            array
                .as_string::<i32>()
                .iter()
                .map(|v| v.and_then(|s| s.parse::<f64>().ok()))
                .collect::<arrow_array::Float64Array>(),
        ),
        DataType::Date32 => arrow_cast::cast(
            &arrow_cast::cast(array, &DataType::Int32).map_err(internal)?,
            &DataType::Float64,
        )
        .map_err(internal)?,
        DataType::Timestamp(..) => arrow_cast::cast(
            &arrow_cast::cast(array, &DataType::Int64).map_err(internal)?,
            &DataType::Float64,
        )
        .map_err(internal)?,
        _ => arrow_cast::cast(array, &DataType::Float64).map_err(internal)?,
    };
    let numbers = numbers.as_primitive::<Float64Type>();
    for row in 0..numbers.len() {
        if numbers.is_null(row) {
            continue;
        }
        let n = numbers.value(row);
        let below = target.checks.min.is_some_and(|min| n < min);
        let above = target.checks.max.is_some_and(|max| n > max);
        if below || above {
            let shown = display(array.as_ref(), row);
            let bound = if below {
                "below the minimum"
            } else {
                "above the maximum"
            };
            let limit = if below { target.checks.min } else { target.checks.max }.unwrap_or_default();
            let limit = display_bound(target.ty, limit);
            return Err(row_error(
                file,
                at,
                row,
                target,
                Some(&shown),
                format!("{shown} is {bound} {limit}"),
            ));
        }
    }
    Ok(())
}

fn display_bound(ty: PgType, bound: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounds of dates and timestamps were whole numbers"
    )]
    match ty {
        PgType::Date => {
            let days = chrono::Duration::days(bound as i64);
            (NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date") + days).to_string()
        }
        PgType::Timestamp | PgType::Timestamptz => DateTime::from_timestamp_micros(bound as i64)
            .map_or_else(|| bound.to_string(), |t| t.naive_utc().to_string()),
        _ => bound.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Ident;
    use crate::error::Position;
    use crate::job::{Checks, Parse};

    #[test]
    fn a_value_too_large_to_encode_is_bad_data_at_its_row_and_column() {
        let catalog = [crate::db::catalog::Column {
            name: "v".into(),
            ty: Some(PgType::Text),
            declared: "text".into(),
            typmod: -1,
            not_null: false,
            generated: false,
            has_default: false,
        }];
        let job = crate::job::Spec::parse("table = \"t\"".into(), std::path::Path::new("jobs/t.toml"))
            .unwrap()
            .resolve(&catalog)
            .unwrap();
        let fields = vec!["V".to_owned()];
        let binding = Binding::new(&job, &fields).unwrap();
        let conformer = Conformer::try_new(&job, "f.csv", "f.csv", &binding).unwrap();
        let chunk = Chunk {
            batch: RecordBatch::try_from_iter([("V", Arc::new(StringArray::from(vec!["x"])) as ArrayRef)]).unwrap(),
            positions: crate::pipeline::source::Positions::Lines(vec![7]),
            skipped: 0,
        };
        let too_large = EncodeError::FieldTooLarge {
            row: 0,
            index: 0,
            len: 1 << 31,
        };
        let error = conformer.encode_error(&chunk, &too_large);
        assert_eq!(
            error.to_string(),
            "f.csv: line 7, column \"v\": a value of 2147483648 bytes is larger than PostgreSQL takes in one field (1 GiB)"
        );
        assert_eq!(error.exit_code(), crate::error::exit::DATA);
        let bug = EncodeError::ColumnCount { found: 2, expected: 1 };
        assert_eq!(
            conformer.encode_error(&chunk, &bug).exit_code(),
            crate::error::exit::SOFTWARE
        );
    }

    fn target(ty: PgType) -> Target {
        Target {
            name: "c".into(),
            ident: Ident::new("c"),
            ty,
            max_chars: None,
            not_null: false,
            has_default: false,
            rule: ValueRule::Unpivoted,
            parse: Parse {
                null: vec![String::new(), "NA".into()],
                decimal: b'.',
                thousands: None,
                format: None,
                timezone: None,
                replace_nul: None,
            },
            checks: Checks::default(),
        }
    }

    fn parse(values: &[&str], target: &Target) -> Result<ArrayRef> {
        let strings = StringArray::from(values.to_vec());
        let at = |row: usize| Some(Position::Line { line: row as u64 + 2 });
        parse_strings(&strings, target, &at, "f.csv")
    }

    #[test]
    fn integers_accept_whole_floats_and_null_markers() {
        let array = parse(&["253019.0", "NA", "-7"], &target(PgType::Int8)).unwrap();
        let ints = array.as_primitive::<Int64Type>();
        assert_eq!((ints.value(0), ints.is_null(1), ints.value(2)), (253_019, true, -7));
    }

    #[test]
    fn decimal_comma_error_names_the_separator() {
        let error = parse(&["1", "12,5"], &target(PgType::Int4)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.csv: line 3, column \"c\": cannot parse \"12,5\" as integer (expected '.' as the decimal separator)"
        );
    }

    #[test]
    fn decimal_comma_parses_when_declared() {
        let mut t = target(PgType::Float8);
        t.parse.decimal = b',';
        let array = parse(&["-0,1", "2,6"], &t).unwrap();
        assert_eq!(array.as_primitive::<Float64Type>().values(), &[-0.1, 2.6]);
    }

    #[test]
    fn timestamptz_with_offset_and_timezone() {
        let mut t = target(PgType::Timestamptz);
        t.parse.timezone = crate::job::Zone::parse("+08:00");
        t.parse.format = Some("%Y-%m-%d %H:%M".into());
        let array = parse(&["2013-3-1 0:00"], &t).unwrap();
        // 2013-03-01 00:00 +08:00 is 2013-02-28 16:00 UTC
        assert_eq!(
            array.as_primitive::<TimestampMicrosecondType>().value(0),
            1_362_067_200_000_000
        );
    }

    #[test]
    fn required_null_marker_is_named() {
        let mut t = target(PgType::Text);
        t.checks.required = true;
        t.not_null = true;
        let error = parse(&["x", "NA"], &t).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.csv: line 3, column \"c\": \"NA\" is a null marker, but the column is NOT NULL"
        );
    }

    #[test]
    fn range_and_pattern_checks() {
        let mut t = target(PgType::Int4);
        t.checks.min = Some(0.0);
        let error = parse(&["5", "-1"], &t).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.csv: line 3, column \"c\": -1 is below the minimum 0"
        );
        let mut t = target(PgType::Text);
        t.checks.pattern = Some(regex::Regex::new("^[A-Z]{5}$").unwrap());
        let error = parse(&["CNSGH", "cnsgh"], &t).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.csv: line 3, column \"c\": \"cnsgh\" does not match the pattern \"^[A-Z]{5}$\""
        );
    }

    #[test]
    fn dates_use_the_declared_format() {
        let mut t = target(PgType::Date);
        t.parse.format = Some("%d/%m/%Y".into());
        let array = parse(&["10/03/2004"], &t).unwrap();
        assert_eq!(display(array.as_ref(), 0), "2004-03-10");
        let error = parse(&["2004-03-10"], &t).unwrap_err();
        assert_eq!(
            error.to_string(),
            "f.csv: line 2, column \"c\": cannot parse \"2004-03-10\" as date (expected format \"%d/%m/%Y\")"
        );
    }
}
