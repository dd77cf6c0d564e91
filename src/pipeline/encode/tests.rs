//! Byte-for-byte tests of the binary COPY encoding.

use std::sync::Arc;

use arrow_array::{
    BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema};

use super::numeric::{NUMERIC_NAN, NUMERIC_NEG};
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
