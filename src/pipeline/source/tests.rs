//! Chunks are bounded in bytes as well as rows: wide rows make short chunks.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};

use super::{Place, SourceFile, open};
use crate::job::{CHUNK_BYTES, FormatKind, one_text_column_job};

fn file(path: &std::path::Path, format: FormatKind) -> SourceFile {
    SourceFile {
        place: Place::Local(path.to_path_buf()),
        display: path.display().to_string(),
        format,
        bytes: std::fs::metadata(path).unwrap().len(),
        sha256: None,
        row_groups: None,
    }
}

/// Every chunk's row count, to the end.
fn chunk_rows(file: &SourceFile) -> Vec<usize> {
    let mut source = open(file, &one_text_column_job().read).unwrap();
    let mut rows = Vec::new();
    while let Some(chunk) = source.next_chunk().unwrap() {
        rows.push(chunk.batch.num_rows());
    }
    rows
}

/// 100 rows of 200,000 bytes each.
const ROWS: usize = 100;
const WIDTH: usize = 200_000;

/// Row `i`'s value: `WIDTH` bytes.
fn wide(i: usize) -> String {
    format!("{}{i:06}", "x".repeat(WIDTH - 6))
}

#[test]
fn wide_csv_records_end_a_chunk_at_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.csv");
    let mut text = String::from("v\n");
    for i in 0..ROWS {
        text.push_str(&wide(i));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let rows = chunk_rows(&file(&path, FormatKind::Csv));
    // A chunk takes records until it holds 8 MiB: 42 of 200,000 bytes (41 hold less).
    let per_chunk = CHUNK_BYTES.div_ceil(WIDTH);
    assert_eq!(per_chunk, 42);
    assert_eq!(rows, vec![42, 42, 16]);
    assert_eq!(rows.iter().sum::<usize>(), ROWS);
}

#[test]
fn wide_parquet_rows_end_a_chunk_at_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.parquet");
    let values: Vec<String> = (0..ROWS).map(wide).collect();
    let batch = RecordBatch::try_from_iter([("v", Arc::new(StringArray::from(values)) as ArrayRef)]).unwrap();
    // Uncompressed, in one row group: its size is the rows' bytes and a little more.
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .build();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), Some(properties))
            .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let rows = chunk_rows(&file(&path, FormatKind::Parquet));
    assert_eq!(rows.iter().sum::<usize>(), ROWS);
    // No chunk decodes to more than the budget: 8 MiB / 200,000 bytes is 41 whole rows.
    assert!(rows.iter().all(|&n| n <= CHUNK_BYTES / WIDTH), "{rows:?}");
    assert!(rows.len() >= 3, "{rows:?}");
}
