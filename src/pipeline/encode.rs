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

/// A `numeric` in `PostgreSQL`'s wire form: base-10000 digits, most significant first.
/// See `numeric_send` and `NumericVar` in `src/backend/utils/adt/numeric.c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numeric {
    /// The power of 10000 of the first digit.
    pub weight: i16,
    /// `NUMERIC_POS`, `NUMERIC_NEG`, `NUMERIC_NAN`, `NUMERIC_PINF` or `NUMERIC_NINF`.
    pub sign: u16,
    /// Digits after the decimal point to display.
    pub dscale: u16,
    pub digits: Vec<i16>,
}

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// The largest display scale `numeric_in` accepts (`NUMERIC_MAX_DISPLAY_SCALE`).
const NUMERIC_MAX_DSCALE: i64 = 1000;
/// Exponents beyond this are rejected by `numeric_in` too.
const NUMERIC_MAX_EXPONENT: i64 = 1000;

impl Numeric {
    /// Parses decimal text as `numeric_in` does: an optional sign, digits with an optional
    /// `.`, an optional exponent; or `NaN`, `Infinity`, `-Infinity` (any case).
    pub fn parse(text: &str) -> Option<Numeric> {
        let text = text.trim();
        let special = |sign| {
            Some(Numeric {
                weight: 0,
                sign,
                dscale: 0,
                digits: Vec::new(),
            })
        };
        match text.to_ascii_lowercase().as_str() {
            "nan" => return special(NUMERIC_NAN),
            "infinity" | "+infinity" | "inf" | "+inf" => return special(NUMERIC_PINF),
            "-infinity" | "-inf" => return special(NUMERIC_NINF),
            _ => {}
        }
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        if exponent.abs() > NUMERIC_MAX_EXPONENT {
            return None;
        }
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        let dscale = u16::try_from((frac_len - exponent).clamp(0, NUMERIC_MAX_DSCALE)).ok()?;
        // Decimal digits, and how many of them stand before the point.
        let all: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
        let leading = all.iter().take_while(|d| **d == 0).count();
        let digits10 = &all[leading..];
        if digits10.is_empty() {
            return Some(Numeric {
                weight: 0,
                sign: NUMERIC_POS,
                dscale,
                digits: Vec::new(),
            });
        }
        let point = i64::try_from(int_part.len()).ok()? + exponent - i64::try_from(leading).ok()?;
        // Decimal digit i has the exponent point - 1 - i; groups of four align on the point.
        let first_group = (point - 1).div_euclid(4);
        let last_group = (point - i64::try_from(digits10.len()).ok()?).div_euclid(4);
        let mut groups = vec![0i16; usize::try_from(first_group - last_group + 1).ok()?];
        for (i, digit) in digits10.iter().enumerate() {
            let exp = point - 1 - i64::try_from(i).ok()?;
            let group = usize::try_from(first_group - exp.div_euclid(4)).ok()?;
            let place = [1i16, 10, 100, 1000][usize::try_from(exp.rem_euclid(4)).ok()?];
            groups[group] += i16::from(*digit) * place;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        Some(Numeric {
            weight: i16::try_from(first_group).ok()?,
            sign: if negative { NUMERIC_NEG } else { NUMERIC_POS },
            dscale,
            digits: groups,
        })
    }

    /// Writes the field: length, then `numeric_send`'s bytes.
    pub fn write(&self, out: &mut BytesMut) {
        // At most ~260 groups (exponent and scale are bounded), so these never truncate.
        let ndigits = i16::try_from(self.digits.len()).unwrap_or(i16::MAX);
        out.put_i32(8 + 2 * i32::from(ndigits));
        out.put_i16(ndigits);
        out.put_i16(self.weight);
        out.put_u16(self.sign);
        out.put_u16(self.dscale);
        for digit in &self.digits {
            out.put_i16(*digit);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::{Field, Schema};

    use super::*;

    /// Encodes one value and its NULL twin (a nullable column) as a two-row batch.
    fn encode_pair(ty: PgType, array: ArrayRef) -> Vec<u8> {
        let schema = Schema::new(vec![Field::new("v", array.data_type().clone(), true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap();
        let mut out = BytesMut::new();
        Encoder::new(vec![ty]).encode(&batch, &mut out).unwrap();
        out.to_vec()
    }

    /// A tuple of one field holding `payload`, then a tuple of one NULL field.
    fn golden(payload: &[u8]) -> Vec<u8> {
        let mut expected = vec![0, 1];
        expected.extend_from_slice(&i32::try_from(payload.len()).unwrap().to_be_bytes());
        expected.extend_from_slice(payload);
        expected.extend_from_slice(&[0, 1, 0xff, 0xff, 0xff, 0xff]);
        expected
    }

    #[test]
    fn header_is_signature_flags_and_extension() {
        assert_eq!(&header(), b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn bool_golden_bytes() {
        let bytes = encode_pair(PgType::Bool, Arc::new(BooleanArray::from(vec![Some(true), None])));
        assert_eq!(bytes, golden(&[1]));
    }

    #[test]
    fn int2_golden_bytes() {
        let bytes = encode_pair(PgType::Int2, Arc::new(Int16Array::from(vec![Some(-2), None])));
        assert_eq!(bytes, golden(&[0xff, 0xfe]));
    }

    #[test]
    fn int4_golden_bytes() {
        let bytes = encode_pair(PgType::Int4, Arc::new(Int32Array::from(vec![Some(100_500), None])));
        assert_eq!(bytes, golden(&[0, 1, 0x88, 0x94]));
    }

    #[test]
    fn int8_golden_bytes() {
        let bytes = encode_pair(PgType::Int8, Arc::new(Int64Array::from(vec![Some(1 << 40), None])));
        assert_eq!(bytes, golden(&[0, 0, 1, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn float4_golden_bytes() {
        let bytes = encode_pair(PgType::Float4, Arc::new(Float32Array::from(vec![Some(1.5), None])));
        assert_eq!(bytes, golden(&[0x3f, 0xc0, 0, 0]));
    }

    #[test]
    fn float8_golden_bytes() {
        let bytes = encode_pair(PgType::Float8, Arc::new(Float64Array::from(vec![Some(-0.7), None])));
        assert_eq!(bytes, golden(&(-0.7f64).to_be_bytes()));
        assert_eq!(bytes[6..14], [0xbf, 0xe6, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66]);
    }

    #[test]
    fn numeric_golden_bytes() {
        let bytes = encode_pair(
            PgType::Numeric,
            Arc::new(StringArray::from(vec![Some("-12345.678"), None])),
        );
        // ndigits 3, weight 1, NEG, dscale 3, digits 1 2345 6780
        assert_eq!(
            bytes,
            golden(&[0, 3, 0, 1, 0x40, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c])
        );
    }

    #[test]
    fn text_golden_bytes() {
        for ty in [PgType::Text, PgType::Varchar, PgType::Bpchar, PgType::Json] {
            let bytes = encode_pair(ty, Arc::new(StringArray::from(vec![Some("Måløy"), None])));
            assert_eq!(bytes, golden("Måløy".as_bytes()), "{ty:?}");
        }
    }

    #[test]
    fn jsonb_golden_bytes() {
        let bytes = encode_pair(
            PgType::Jsonb,
            Arc::new(StringArray::from(vec![Some("{\"a\":1}"), None])),
        );
        assert_eq!(bytes, golden(b"\x01{\"a\":1}"));
    }

    #[test]
    fn date_golden_bytes() {
        // 2016-01-04 is 16_804 days after 1970-01-01, 5_847 after 2000-01-01
        let bytes = encode_pair(PgType::Date, Arc::new(Date32Array::from(vec![Some(16_804), None])));
        assert_eq!(bytes, golden(&5_847i32.to_be_bytes()));
    }

    #[test]
    fn timestamp_golden_bytes() {
        let unix = 1_362_067_200_000_000i64; // 2013-02-28 16:00:00 UTC
        for (ty, array) in [
            (
                PgType::Timestamp,
                TimestampMicrosecondArray::from(vec![Some(unix), None]),
            ),
            (
                PgType::Timestamptz,
                TimestampMicrosecondArray::from(vec![Some(unix), None]).with_timezone("UTC"),
            ),
        ] {
            let bytes = encode_pair(ty, Arc::new(array));
            assert_eq!(bytes, golden(&(unix - PG_EPOCH_MICROS).to_be_bytes()), "{ty:?}");
        }
    }

    #[test]
    fn numeric_parses_as_numeric_in_does() {
        let n = |s| Numeric::parse(s).unwrap();
        assert_eq!(n("0").digits, Vec::<i16>::new());
        assert_eq!(n("0.00").dscale, 2);
        assert_eq!((n("10000").weight, n("10000").digits.clone()), (1, vec![1]));
        assert_eq!((n("0.0001").weight, n("0.0001").digits.clone()), (-1, vec![1]));
        assert_eq!((n("12.50").digits.clone(), n("12.50").dscale), (vec![12, 5000], 2));
        let tiny = n("-2.77555756156289e-17");
        assert_eq!((tiny.weight, tiny.dscale, tiny.sign), (-5, 31, NUMERIC_NEG));
        assert_eq!(n("1.5E1"), n("15"));
        assert_eq!(n("1.50E1"), n("15.0"));
        assert_eq!(n("NaN").sign, NUMERIC_NAN);
        for bad in ["", "-", ".", "1.2.3", "12,5", "1e", "abc", "1e5000"] {
            assert!(Numeric::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn mismatched_batch_is_an_error_not_a_panic() {
        let schema = Schema::new(vec![Field::new("v", DataType::Int64, true)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let error = Encoder::new(vec![PgType::Int4])
            .encode(&batch, &mut BytesMut::new())
            .unwrap_err();
        assert_eq!(error.to_string(), "column 0 is Int64, expected Int32 for integer");
    }
}
