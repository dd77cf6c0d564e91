//! What a load tells its [`Progress`] (the binary's bar draws it): the batch's files and
//! bytes, each file as the COPY stream reaches it, every row read, and the end of the COPY.

use std::sync::{Arc, Mutex};

use pgbatch::pipeline::{self, LoadOptions, Progress};

use crate::load::job;
use crate::pg::{TestDb, repo};

#[derive(Debug, Default)]
struct Recorded {
    started: Option<(usize, u64)>,
    files: Vec<(usize, String)>,
    rows: u64,
    copy_bytes: u64,
    finished_after_rows: Option<u64>,
}

#[derive(Default)]
struct Recorder(Mutex<Recorded>);

impl Progress for Recorder {
    fn start(&self, files: usize, bytes: u64) {
        self.0.lock().unwrap().started = Some((files, bytes));
    }

    fn file(&self, index: usize, name: &str) {
        self.0.lock().unwrap().files.push((index, name.to_owned()));
    }

    fn advance(&self, rows: u64, copy_bytes: u64) {
        let mut recorded = self.0.lock().unwrap();
        recorded.rows += rows;
        recorded.copy_bytes += copy_bytes;
    }

    fn finish(&self) {
        let mut recorded = self.0.lock().unwrap();
        recorded.finished_after_rows = Some(recorded.rows);
    }
}

/// The two Beijing sample files: 2,000 rows each (`data/samples/air_quality/beijing/SOURCE.md`).
#[tokio::test]
async fn a_load_reports_each_file_in_order_and_every_row() {
    let db = TestDb::new();
    let dir = repo().join("data/samples/air_quality/beijing");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    // Small chunks, so that each file is several chunks.
    let mut spec = job("air_quality_beijing");
    spec.raw.source.chunk_rows = Some(300);
    let listener = Arc::new(Recorder::default());
    let mut client = db.client().await;
    let summary = pipeline::load(&mut client, &spec, &files, LoadOptions::default(), listener.clone())
        .await
        .unwrap();
    let recorded = listener.0.lock().unwrap();
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    assert_eq!(recorded.started, Some((2, bytes)));
    assert_eq!(
        recorded.files,
        files
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(recorded.rows, 4_000);
    assert_eq!(recorded.finished_after_rows, Some(4_000));
    assert_eq!(summary.rows_read, 4_000);
    assert!(recorded.copy_bytes > 0);
}
