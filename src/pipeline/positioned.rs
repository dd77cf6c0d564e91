//! The rows of a located copy: each conformed row with where it came from, so that a row the
//! database refuses can be named by file and line (or row group and row). Four columns
//! follow the job's: the file's index in the batch, the line (CSV, `pg_dump`), the row
//! group and the row within it (Parquet).

use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};

use crate::db::catalog::PgType;
use crate::error::{ErrorKind, Result};
use crate::job::Job;
use crate::pipeline::conform::{self, Conformed};
use crate::pipeline::encode::arrow_type;
use crate::pipeline::source::{Chunk, Positions};

/// The position columns, after the job's, as the located stage names them.
pub const COLUMNS: [(&str, PgType); 4] = [
    ("pgbatch_file", PgType::Int4),
    ("pgbatch_line", PgType::Int8),
    ("pgbatch_group", PgType::Int4),
    ("pgbatch_row", PgType::Int8),
];

/// The job's column types, then the position columns'.
pub fn types(job: &Job) -> Vec<PgType> {
    job.columns
        .iter()
        .map(|c| c.ty)
        .chain(COLUMNS.iter().map(|(_, ty)| *ty))
        .collect()
}

/// The job's schema, then the position columns.
pub fn schema(job: &Job) -> SchemaRef {
    let base = conform::schema(job);
    let fields: Vec<Field> = base
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .chain(
            COLUMNS
                .iter()
                .map(|(name, ty)| Field::new(*name, arrow_type(*ty), true)),
        )
        .collect();
    Arc::new(Schema::new(fields))
}

/// `conformed`'s rows with their positions in `chunk`, which is file `file` of the batch.
///
/// # Errors
///
/// None in practice: the columns are built to the schema.
pub fn attach(schema: &SchemaRef, conformed: &Conformed, chunk: &Chunk, file: usize) -> Result<RecordBatch> {
    let rows = conformed.batch.num_rows();
    let origins = conformed.origins();
    let file = i32::try_from(file).unwrap_or(i32::MAX);
    let wide = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let (lines, groups, numbers): (ArrayRef, ArrayRef, ArrayRef) = match &chunk.positions {
        Positions::Lines(lines) => (
            Arc::new(
                origins
                    .iter()
                    .map(|&row| lines.get(row as usize).map(|&l| i64::try_from(l).unwrap_or(i64::MAX)))
                    .collect::<Int64Array>(),
            ),
            Arc::new(Int32Array::new_null(rows)),
            Arc::new(Int64Array::new_null(rows)),
        ),
        Positions::RowGroup { row_group, first_row } => (
            Arc::new(Int64Array::new_null(rows)),
            Arc::new(Int32Array::from(vec![
                i32::try_from(*row_group).unwrap_or(i32::MAX);
                rows
            ])),
            Arc::new(Int64Array::from_iter_values(
                origins.iter().map(|&row| wide(first_row + row as usize)),
            )),
        ),
    };
    let mut columns = conformed.batch.columns().to_vec();
    columns.push(Arc::new(Int32Array::from(vec![file; rows])));
    columns.extend([lines, groups, numbers]);
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|error| ErrorKind::Internal(format!("positioning a chunk: {error}")).into())
}
