//! Encoder throughput, rows per second for each `PostgreSQL` type (one nullable column, one
//! row in ten NULL), and for a Beijing-shaped long row.
//! Run: cargo bench --bench encode

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Field, Schema};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pgbatch::db::catalog::PgType;
use pgbatch::pipeline::encode::Encoder;

const ROWS: usize = 65_536;

fn nth_null<T>(f: impl Fn(usize) -> T) -> impl Iterator<Item = Option<T>> {
    (0..ROWS).map(move |i| if i % 10 == 0 { None } else { Some(f(i)) })
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "synthetic values"
)]
fn columns() -> Vec<(&'static str, PgType, ArrayRef)> {
    let texts: Vec<Option<String>> = nth_null(|i| format!("station-{}", i % 12)).collect();
    let numerics: Vec<Option<String>> = nth_null(|i| format!("{}.{:02}", i, i % 100)).collect();
    vec![
        (
            "bool",
            PgType::Bool,
            Arc::new(nth_null(|i| i % 2 == 0).collect::<BooleanArray>()),
        ),
        (
            "int2",
            PgType::Int2,
            Arc::new(nth_null(|i| i as i16).collect::<Int16Array>()),
        ),
        (
            "int4",
            PgType::Int4,
            Arc::new(nth_null(|i| i as i32).collect::<Int32Array>()),
        ),
        (
            "int8",
            PgType::Int8,
            Arc::new(nth_null(|i| i as i64).collect::<Int64Array>()),
        ),
        (
            "float4",
            PgType::Float4,
            Arc::new(nth_null(|i| i as f32 / 3.0).collect::<Float32Array>()),
        ),
        (
            "float8",
            PgType::Float8,
            Arc::new(nth_null(|i| i as f64 / 3.0).collect::<Float64Array>()),
        ),
        ("numeric", PgType::Numeric, Arc::new(StringArray::from(numerics))),
        ("text", PgType::Text, Arc::new(StringArray::from(texts.clone()))),
        ("jsonb", PgType::Jsonb, Arc::new(StringArray::from(texts))),
        (
            "date",
            PgType::Date,
            Arc::new(nth_null(|i| i as i32).collect::<Date32Array>()),
        ),
        (
            "timestamptz",
            PgType::Timestamptz,
            Arc::new(
                nth_null(|i| i as i64 * 3_600_000_000)
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC"),
            ),
        ),
    ]
}

fn batch(columns: &[(&str, PgType, ArrayRef)]) -> (Encoder, RecordBatch) {
    let schema = Schema::new(
        columns
            .iter()
            .map(|(name, _, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    let arrays = columns.iter().map(|(_, _, a)| a.clone()).collect();
    let encoder = Encoder::new(columns.iter().map(|(_, ty, _)| *ty).collect());
    (encoder, RecordBatch::try_new(Arc::new(schema), arrays).unwrap())
}

fn encode(c: &mut Criterion) {
    let all = columns();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(ROWS as u64));
    for column in &all {
        let (encoder, batch) = batch(std::slice::from_ref(column));
        group.bench_function(column.0, |b| {
            let mut out = BytesMut::with_capacity(ROWS * 16);
            b.iter(|| {
                out.clear();
                encoder.encode(&batch, &mut out).unwrap();
            });
        });
    }
    // measurements: station text, parameter text, time timestamptz, value float8, unit text
    let pick = |name: &str| all.iter().find(|c| c.0 == name).unwrap().clone();
    let row = ["text", "text", "timestamptz", "float8", "text"].map(pick);
    let (encoder, batch) = batch(&row);
    group.bench_function("measurements_row", |b| {
        let mut out = BytesMut::with_capacity(ROWS * 64);
        b.iter(|| {
            out.clear();
            encoder.encode(&batch, &mut out).unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
