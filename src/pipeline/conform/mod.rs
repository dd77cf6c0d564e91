//! Conform: source chunks become Arrow batches of the target table's columns, in COPY
//! order, each value parsed or cast to the column's catalog type and checked. Wide rows
//! become long rows here (`[unpivot]`). Pure: no IO; errors name the file, the line (or
//! row group and row), the column, the value, and what was expected.

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Location, Result, RowError};
use crate::job::{Job, LoadColumn, Segment, ValueRule};
use crate::pipeline::bind::Binding;
use crate::pipeline::encode::{EncodeError, arrow_type};
use crate::pipeline::source::Chunk;
use parse::{convert, parse_strings};
pub use reject::Sorted;

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
    targets: Vec<(LoadColumn, Input)>,
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
    /// The chunk's row each output row came from: where a row the database refuses is in
    /// its file. Described, not listed: the list is made only when asked for.
    pub origin: Origin,
}

/// Which chunk row each output row of a [`Conformed`] came from.
#[derive(Debug)]
pub enum Origin {
    /// Row i is the chunk's row i.
    Same,
    /// An unpivot, field-major: long row j is the chunk's row j mod `rows`; `kept`, when
    /// rows with a NULL value were dropped, says which long rows stayed.
    Unpivot { rows: usize, kept: Option<BooleanArray> },
    /// Rows set aside: the chunk's row of each row that went on.
    Rows(Vec<u32>),
}

impl Conformed {
    /// The chunk's row of each output row, in order.
    pub fn origins(&self) -> Vec<u32> {
        let narrow = |row: usize| u32::try_from(row).unwrap_or(u32::MAX);
        match &self.origin {
            Origin::Same => (0..self.batch.num_rows()).map(narrow).collect(),
            Origin::Rows(rows) => rows.clone(),
            Origin::Unpivot { rows, kept: None } => (0..self.batch.num_rows()).map(|j| narrow(j % rows)).collect(),
            Origin::Unpivot { rows, kept: Some(kept) } => {
                kept.values().set_indices().map(|j| narrow(j % rows)).collect()
            }
        }
    }
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
        let constant = |target: &LoadColumn, value: &str| -> Result<ArrayRef> {
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
                    let strings = template(parts, &chunk.batch, rows, target, &at, &self.file)?;
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
                origin: Origin::Same,
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
        let mut kept = None;
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
                kept = Some(keep);
            }
        }
        Ok(Conformed {
            batch,
            rows_read,
            rows_skipped,
            origin: Origin::Unpivot { rows, kept },
        })
    }
}

pub(super) fn internal(error: impl std::fmt::Display) -> Error {
    crate::error::ErrorKind::Internal(error.to_string()).into()
}

fn repeat(value: &ArrayRef, rows: usize) -> Result<ArrayRef> {
    let indices = UInt32Array::from(vec![0u32; rows]);
    arrow_select::take::take(value.as_ref(), &indices, None).map_err(internal)
}

fn template(
    parts: &[Part],
    batch: &RecordBatch,
    rows: usize,
    target: &LoadColumn,
    at: &report::At<'_>,
    file: &str,
) -> Result<StringArray> {
    let fields: Vec<Cow<'_, StringArray>> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Field(i) => Some(*i),
            Part::Literal(_) => None,
        })
        .map(|i| as_strings(batch.column(i), target, at, file))
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

/// Any array as `Utf8` text (Arrow's display of each value). A value Arrow cannot show
/// (a date or time beyond what it can represent) is bad data at its row, for `target`.
pub(super) fn as_strings<'a>(
    array: &'a ArrayRef,
    target: &LoadColumn,
    at: &report::At<'_>,
    file: &str,
) -> Result<Cow<'a, StringArray>> {
    if array.data_type() == &DataType::Utf8 {
        return Ok(Cow::Borrowed(array.as_string::<i32>()));
    }
    match arrow_cast::cast(array, &DataType::Utf8) {
        Ok(cast) => Ok(Cow::Owned(cast.as_string::<i32>().clone())),
        Err(error) => {
            let row = (0..array.len())
                .find(|&row| arrow_cast::cast(&array.slice(row, 1), &DataType::Utf8).is_err())
                .unwrap_or(0);
            let ty = array.data_type();
            Err(report::row_error(
                file,
                at,
                row,
                target,
                None,
                format!("a {ty} value that cannot be read as a date or number ({error}); is it out of range?"),
            ))
        }
    }
}

mod check;
mod parse;
mod reject;
mod report;
#[cfg(test)]
mod tests;
