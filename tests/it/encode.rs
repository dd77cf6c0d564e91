use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema};
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, TryStreamExt};
use pgbatch::db::catalog::PgType;
use pgbatch::pipeline::encode::{Encoder, TRAILER, header};

use crate::pg::TestDb;

/// A type, values as SQL literals (each followed by a NULL twin), and the same values in Arrow.
#[expect(clippy::too_many_lines, reason = "one case per type, as a table")]
fn cases() -> Vec<(&'static str, PgType, Vec<&'static str>, ArrayRef)> {
    let s = |v: &[&'static str]| -> ArrayRef {
        Arc::new(StringArray::from(
            v.iter().map(|x| Some(*x)).chain([None]).collect::<Vec<_>>(),
        ))
    };
    vec![
        (
            "boolean",
            PgType::Bool,
            vec!["true", "false"],
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "smallint",
            PgType::Int2,
            vec!["-2", "32767"],
            Arc::new(Int16Array::from(vec![Some(-2), Some(32767), None])),
        ),
        (
            "integer",
            PgType::Int4,
            vec!["100500", "-1"],
            Arc::new(Int32Array::from(vec![Some(100_500), Some(-1), None])),
        ),
        (
            "bigint",
            PgType::Int8,
            vec!["1099511627776"],
            Arc::new(Int64Array::from(vec![Some(1 << 40), None])),
        ),
        (
            "real",
            PgType::Float4,
            vec!["1.5", "-0.25"],
            Arc::new(Float32Array::from(vec![Some(1.5), Some(-0.25), None])),
        ),
        (
            "double precision",
            PgType::Float8,
            vec!["-0.7", "-2.77555756156289e-17"],
            Arc::new(Float64Array::from(vec![
                Some(-0.7),
                Some(-2.775_557_561_562_89e-17),
                None,
            ])),
        ),
        (
            "numeric",
            PgType::Numeric,
            vec![
                "'-12345.678'",
                "'0'",
                "'0.00'",
                "'10000'",
                "'-2.77555756156289e-17'",
                "'NaN'",
                "'1e-5'",
                "'123456789.000000001'",
                "'2.6'",
            ],
            s(&[
                "-12345.678",
                "0",
                "0.00",
                "10000",
                "-2.77555756156289e-17",
                "NaN",
                "1e-5",
                "123456789.000000001",
                "2.6",
            ]),
        ),
        ("text", PgType::Text, vec!["'Måløy'", "''"], s(&["Måløy", ""])),
        (
            "varchar(20)",
            PgType::Varchar,
            vec!["'Helsingfors (Hels'"],
            s(&["Helsingfors (Hels"]),
        ),
        ("char(5)", PgType::Bpchar, vec!["'CNSGH'"], s(&["CNSGH"])),
        ("json", PgType::Json, vec!["'{\"a\":1}'"], s(&["{\"a\":1}"])),
        (
            "jsonb",
            PgType::Jsonb,
            vec!["'{\"a\": 1, \"b\": [true, null]}'"],
            s(&["{\"a\": 1, \"b\": [true, null]}"]),
        ),
        (
            "date",
            PgType::Date,
            vec!["'2016-01-04'", "'1999-12-31'"],
            Arc::new(Date32Array::from(vec![Some(16_804), Some(10_956), None])),
        ),
        (
            "timestamp",
            PgType::Timestamp,
            vec!["'2013-02-28 16:00:00'", "'1970-01-01 00:00:00.000001'"],
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(1_362_067_200_000_000),
                Some(1),
                None,
            ])),
        ),
        (
            "timestamptz",
            PgType::Timestamptz,
            vec!["'2013-03-01 00:00:00+08'"],
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1_362_067_200_000_000), None]).with_timezone("UTC")),
        ),
    ]
}

fn encode(ty: PgType, array: ArrayRef) -> Vec<u8> {
    let schema = Schema::new(vec![Field::new("v", array.data_type().clone(), true)]);
    let batch = RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap();
    let mut out = BytesMut::new();
    out.extend_from_slice(&header());
    Encoder::new(vec![ty]).encode(&batch, &mut out).unwrap();
    out.extend_from_slice(&TRAILER);
    out.to_vec()
}

/// Our bytes for each type (and its NULL twin) equal what `COPY ... TO STDOUT (FORMAT
/// binary)` writes for the same values, and loading them back gives the same values.
#[tokio::test]
async fn encoder_bytes_equal_the_servers_own_copy_output() {
    let db = TestDb::new();
    let client = db.client().await;
    for (i, (sql_type, ty, literals, array)) in cases().into_iter().enumerate() {
        let values: Vec<String> = literals
            .iter()
            .map(|l| format!("({l})"))
            .chain(["(NULL)".into()])
            .collect();
        client
            .batch_execute(&format!(
                "CREATE TABLE g{i} (id serial, v {sql_type}); INSERT INTO g{i} (v) VALUES {}; \
                 CREATE TABLE r{i} (id serial, v {sql_type});",
                values.join(", ")
            ))
            .await
            .unwrap();
        let server: Vec<u8> = client
            .copy_out(&format!(
                "COPY (SELECT v FROM g{i} ORDER BY id) TO STDOUT (FORMAT binary)"
            ))
            .await
            .unwrap()
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .unwrap();
        let ours = encode(ty, array);
        assert_eq!(ours, server, "{sql_type}: our bytes differ from the server's");

        let sink = client
            .copy_in::<_, Bytes>(&format!("COPY r{i} (v) FROM STDIN (FORMAT binary)"))
            .await
            .unwrap();
        futures_util::pin_mut!(sink);
        sink.send(Bytes::from(ours)).await.unwrap();
        let rows = sink.finish().await.unwrap();
        assert_eq!(rows, values.len() as u64);
        let same = db.query(&format!(
            "SELECT count(*) FROM g{i} g JOIN r{i} r USING (id) WHERE g.v::text IS NOT DISTINCT FROM r.v::text"
        ));
        assert_eq!(same, values.len().to_string(), "{sql_type}: round trip changed a value");
    }
}
