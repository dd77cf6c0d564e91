//! Encode: Arrow record batches into `PostgreSQL`'s binary COPY format. Pure: batches in,
//! bytes out, no IO, so it is tested byte for byte and benchmarked on its own.
//!
//! The format is described in <https://www.postgresql.org/docs/current/sql-copy.html>
//! ("Binary Format"); each type's bytes are what its `*_send` function in the server
//! writes. We keep our own encoder rather than the `pgpq` crate because pgpq 0.12 is built
//! on arrow 59 while we are on arrow 60, and it has no `numeric` from text, which the
//! datasets need (see ARCHITECTURE.md, "Encode").

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, ArrayRef, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use bytes::{BufMut, BytesMut};

use crate::db::catalog::PgType;
pub use numeric::Numeric;

mod numeric;
#[cfg(test)]
mod tests;

/// The 11-byte signature that opens every binary COPY stream.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags field (i32, bit 16 = OIDs: never), header extension length (i32).
pub const HEADER_LEN: usize = 19;
/// The field count -1 that ends the stream.
pub const TRAILER: [u8; 2] = [0xff, 0xff];

/// Days from 1970-01-01 (Arrow, Unix) to 2000-01-01 (`PostgreSQL`'s epoch).
pub const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The `jsonb` binary format version byte (see `jsonb_send`).
const JSONB_VERSION: u8 = 1;

/// The header of a binary COPY stream: signature, flags 0, no header extension.
pub fn header() -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    out[..SIGNATURE.len()].copy_from_slice(SIGNATURE);
    out
}

/// The Arrow type that carries values of a `PostgreSQL` type through the pipeline.
pub fn arrow_type(ty: PgType) -> DataType {
    match ty {
        PgType::Bool => DataType::Boolean,
        PgType::Int2 => DataType::Int16,
        PgType::Int4 => DataType::Int32,
        PgType::Int8 => DataType::Int64,
        PgType::Float4 => DataType::Float32,
        PgType::Float8 => DataType::Float64,
        // numeric travels as canonical decimal text: exact, and free of any fixed scale
        PgType::Numeric | PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Json | PgType::Jsonb => {
            DataType::Utf8
        }
        PgType::Date => DataType::Date32,
        PgType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        PgType::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// Why a batch could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The batch's columns do not match the encoder's types (a bug upstream).
    #[error("column {index} is {found}, expected {expected} for {ty}")]
    TypeMismatch {
        index: usize,
        found: DataType,
        expected: DataType,
        ty: &'static str,
    },
    /// A batch with a different number of columns.
    #[error("batch has {found} columns, expected {expected}")]
    ColumnCount { found: usize, expected: usize },
    /// A value larger than a COPY field can hold (1 GiB).
    #[error("row {row}, column {index}: value of {len} bytes is larger than PostgreSQL accepts")]
    FieldTooLarge { row: usize, index: usize, len: usize },
    /// A numeric value that is not decimal text (conform should have rejected it).
    #[error("row {row}, column {index}: {value:?} is not a numeric value")]
    InvalidNumeric { row: usize, index: usize, value: String },
}

/// Encodes batches whose columns carry the given `PostgreSQL` types, in order.
#[derive(Debug, Clone)]
pub struct Encoder {
    types: Vec<PgType>,
}

/// One column, downcast once per batch.
enum Column<'a> {
    Bool(&'a BooleanArray),
    Int2(&'a PrimitiveArray<Int16Type>),
    Int4(&'a PrimitiveArray<Int32Type>),
    Int8(&'a PrimitiveArray<Int64Type>),
    Float4(&'a PrimitiveArray<Float32Type>),
    Float8(&'a PrimitiveArray<Float64Type>),
    Numeric(&'a StringArray),
    Text(&'a StringArray),
    Jsonb(&'a StringArray),
    Date(&'a PrimitiveArray<Date32Type>),
    Timestamp(&'a PrimitiveArray<TimestampMicrosecondType>),
}

/// `PostgreSQL` limits a field to 1 GiB.
const MAX_FIELD: usize = (1 << 30) - 1;

impl Encoder {
    /// An encoder for columns of these types.
    pub fn new(types: Vec<PgType>) -> Self {
        Encoder { types }
    }

    fn columns<'a>(&self, batch: &'a RecordBatch) -> Result<Vec<Column<'a>>, EncodeError> {
        if batch.num_columns() != self.types.len() {
            return Err(EncodeError::ColumnCount {
                found: batch.num_columns(),
                expected: self.types.len(),
            });
        }
        self.types
            .iter()
            .zip(batch.columns())
            .enumerate()
            .map(|(index, (ty, array))| {
                let expected = arrow_type(*ty);
                if array.data_type() != &expected
                    && !matches!(
                        (array.data_type(), &expected),
                        (
                            DataType::Timestamp(TimeUnit::Microsecond, Some(_)),
                            DataType::Timestamp(TimeUnit::Microsecond, Some(_))
                        )
                    )
                {
                    return Err(EncodeError::TypeMismatch {
                        index,
                        found: array.data_type().clone(),
                        expected,
                        ty: ty.name(),
                    });
                }
                Ok(column(*ty, array))
            })
            .collect()
    }

    /// Appends the tuples of `batch` to `out` (no header, no trailer).
    ///
    /// # Errors
    ///
    /// When the batch does not match the encoder's types, or a value cannot be a COPY field.
    pub fn encode(&self, batch: &RecordBatch, out: &mut BytesMut) -> Result<(), EncodeError> {
        let columns = self.columns(batch)?;
        let field_count = i16::try_from(columns.len()).map_err(|_| EncodeError::ColumnCount {
            found: columns.len(),
            expected: i16::MAX as usize,
        })?;
        out.reserve(batch.num_rows() * (2 + columns.len() * 12));
        for row in 0..batch.num_rows() {
            out.put_i16(field_count);
            for (index, column) in columns.iter().enumerate() {
                write_field(column, row, index, out)?;
            }
        }
        Ok(())
    }
}

fn column(ty: PgType, array: &ArrayRef) -> Column<'_> {
    match ty {
        PgType::Bool => Column::Bool(array.as_boolean()),
        PgType::Int2 => Column::Int2(array.as_primitive()),
        PgType::Int4 => Column::Int4(array.as_primitive()),
        PgType::Int8 => Column::Int8(array.as_primitive()),
        PgType::Float4 => Column::Float4(array.as_primitive()),
        PgType::Float8 => Column::Float8(array.as_primitive()),
        PgType::Numeric => Column::Numeric(array.as_string()),
        PgType::Text | PgType::Varchar | PgType::Bpchar | PgType::Json => Column::Text(array.as_string()),
        PgType::Jsonb => Column::Jsonb(array.as_string()),
        PgType::Date => Column::Date(array.as_primitive()),
        PgType::Timestamp | PgType::Timestamptz => Column::Timestamp(array.as_primitive()),
    }
}

#[inline]
fn write_field(column: &Column<'_>, row: usize, index: usize, out: &mut BytesMut) -> Result<(), EncodeError> {
    macro_rules! fixed {
        ($array:expr, $len:expr, $put:ident, $value:expr) => {{
            if $array.is_null(row) {
                out.put_i32(-1);
            } else {
                out.put_i32($len);
                out.$put($value);
            }
        }};
    }
    match column {
        Column::Bool(a) => fixed!(a, 1, put_u8, u8::from(a.value(row))),
        Column::Int2(a) => fixed!(a, 2, put_i16, a.value(row)),
        Column::Int4(a) => fixed!(a, 4, put_i32, a.value(row)),
        Column::Int8(a) => fixed!(a, 8, put_i64, a.value(row)),
        Column::Float4(a) => fixed!(a, 4, put_f32, a.value(row)),
        Column::Float8(a) => fixed!(a, 8, put_f64, a.value(row)),
        Column::Date(a) => fixed!(a, 4, put_i32, a.value(row) - PG_EPOCH_DAYS),
        Column::Timestamp(a) => fixed!(a, 8, put_i64, a.value(row) - PG_EPOCH_MICROS),
        Column::Text(a) => {
            if a.is_null(row) {
                out.put_i32(-1);
            } else {
                let bytes = a.value(row).as_bytes();
                out.put_i32(field_len(bytes.len(), row, index)?);
                out.put_slice(bytes);
            }
        }
        Column::Jsonb(a) => {
            if a.is_null(row) {
                out.put_i32(-1);
            } else {
                let bytes = a.value(row).as_bytes();
                out.put_i32(field_len(bytes.len() + 1, row, index)?);
                out.put_u8(JSONB_VERSION);
                out.put_slice(bytes);
            }
        }
        Column::Numeric(a) => {
            if a.is_null(row) {
                out.put_i32(-1);
            } else {
                let text = a.value(row);
                let value = Numeric::parse(text).ok_or_else(|| EncodeError::InvalidNumeric {
                    row,
                    index,
                    value: text.to_owned(),
                })?;
                value.write(out);
            }
        }
    }
    Ok(())
}

fn field_len(len: usize, row: usize, index: usize) -> Result<i32, EncodeError> {
    if len > MAX_FIELD {
        return Err(EncodeError::FieldTooLarge { row, index, len });
    }
    i32::try_from(len).map_err(|_| EncodeError::FieldTooLarge { row, index, len })
}
