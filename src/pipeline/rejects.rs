//! A batch's rejected rows: held while it loads (bounded in bytes), checked against the
//! job's `max_rejects`, recorded in `pgbatch.rejects` with the ledger row, and written as a
//! report (`--rejects-out`, a local path or `s3://`) whether the batch committed or not.

use std::sync::Arc;

use crate::error::{Error, ErrorKind, FlatRow, Result, RowError};
use crate::job::RejectLimit;

use super::source::store::{S3Store, S3Url, StoreOptions};

/// The most rejected rows a batch holds, in bytes of their locations, values and reasons:
/// a batch that rejects more fails as over its limit, whatever the limit says.
pub const MAX_HELD_BYTES: usize = 64 << 20;

/// The rows a batch set aside so far.
#[derive(Debug)]
pub struct Rejects {
    limit: Option<RejectLimit>,
    rows: Vec<RowError>,
    bytes: usize,
}

impl Rejects {
    pub fn new(limit: Option<RejectLimit>) -> Self {
        Rejects {
            limit,
            rows: Vec::new(),
            bytes: 0,
        }
    }

    /// Whether the job sets rows aside at all (else the first bad row fails the batch).
    pub fn allowed(&self) -> bool {
        self.limit.is_some()
    }

    /// Whether `more` rows set aside would put the batch over its limit: a count passed, or
    /// a share of `rows_read` rows.
    pub fn over_with(&self, more: u64, rows_read: u64) -> bool {
        !self
            .limit
            .unwrap_or(RejectLimit::Count(0))
            .allows(self.count() + more, rows_read)
    }

    pub fn rows(&self) -> &[RowError] {
        &self.rows
    }

    pub fn count(&self) -> u64 {
        self.rows.len() as u64
    }

    /// Adds the rows one chunk set aside.
    ///
    /// # Errors
    ///
    /// Bad data, the batch over its limit: a count passed, or more rejects than a batch
    /// holds ([`MAX_HELD_BYTES`]).
    pub fn add(&mut self, rows: Vec<RowError>) -> Result<()> {
        for row in rows {
            self.bytes += row.location.file.len()
                + row.column.as_ref().map_or(0, String::len)
                + row.value.as_ref().map_or(0, String::len)
                + row.problem.len()
                + std::mem::size_of::<RowError>();
            self.rows.push(row);
        }
        let limit = self.limit.unwrap_or(RejectLimit::Count(0));
        if limit.exceeded_early(self.count()) {
            return Err(self.over(None));
        }
        if self.bytes > MAX_HELD_BYTES {
            return Err(self.over(Some(format!(
                "more rejected rows than a batch holds ({} MiB of them)",
                MAX_HELD_BYTES >> 20
            ))));
        }
        Ok(())
    }

    /// Checks the rows set aside against the limit, once every row is read.
    ///
    /// # Errors
    ///
    /// Bad data: more rejects than the limit allows of `rows_read` rows.
    pub fn check(&self, rows_read: u64) -> Result<()> {
        match self.limit {
            Some(limit) if !limit.allows(self.count(), rows_read) => Err(self.over(None)),
            _ => Ok(()),
        }
    }

    /// The rows set aside, by column (in the order each column first failed): the column
    /// (`None`: a problem with no one column), how many rows, and the first of them.
    pub fn by_column(&self) -> Vec<(Option<&str>, u64, &RowError)> {
        let mut groups: Vec<(Option<&str>, u64, &RowError)> = Vec::new();
        for row in &self.rows {
            let column = row.column.as_deref();
            match groups.iter_mut().find(|(c, ..)| *c == column) {
                Some(group) => group.1 += 1,
                None => groups.push((column, 1, row)),
            }
        }
        groups
    }

    /// Each column's rejected rows, as a line: `column "price": 2 rows, the first at
    /// t.csv: line 2: cannot parse "abc" as integer`.
    pub fn summary_lines(&self) -> Vec<String> {
        self.by_column()
            .into_iter()
            .map(|(column, count, first)| {
                let column = column.map_or_else(|| "no one column".to_owned(), |c| format!("column {c:?}"));
                let rows = if count == 1 { "1 row" } else { &format!("{count} rows") };
                format!("{column}: {rows}, the first at {}: {}", first.location, first.problem)
            })
            .collect()
    }

    /// Whether a load of the job (`limit`, its `max_rejects`) would take the rows set aside
    /// by a validation, which sets aside every bad row.
    ///
    /// # Errors
    ///
    /// Bad data: a load would fail; every column's bad rows are listed.
    pub fn check_as(&self, limit: Option<RejectLimit>, rows_read: u64) -> Result<()> {
        if self.rows.is_empty() || limit.is_some_and(|l| l.allows(self.count(), rows_read)) {
            return Ok(());
        }
        let allowed = limit.map_or_else(|| "max_rejects is not set".to_owned(), |l| format!("max_rejects = {l}"));
        let first = self.rows[0].clone();
        Err(ErrorKind::BadData(RowError {
            problem: format!(
                "{} (a load would fail: {} of {rows_read} rows are bad and {allowed}; {})",
                first.problem,
                self.count(),
                self.summary_lines().join("; ")
            ),
            ..first
        })
        .into())
    }

    /// The error of a batch over its limit: at the first row set aside, saying how many.
    fn over(&self, why: Option<String>) -> Error {
        let limit = self.limit.map_or_else(|| "0".to_owned(), |l| l.to_string());
        let first = self.rows.first().cloned().unwrap_or_else(|| RowError {
            location: crate::error::Location {
                file: String::new(),
                position: None,
            },
            column: None,
            value: None,
            problem: String::new(),
        });
        let why = why.unwrap_or_else(|| format!("more than max_rejects = {limit} allows"));
        ErrorKind::BadData(RowError {
            problem: format!(
                "{} (the first of {} rows rejected so far: {why}; the batch rolled back)",
                first.problem,
                self.count()
            ),
            ..first
        })
        .into()
    }

    /// The report: one JSON object per row set aside, one per line, in the order found
    /// (`source`, `line` or `row_group` and `row`, `column`, `value`, `reason`).
    pub fn report(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            out.push_str(&serde_json::to_string(&FlatRow::from(row)).unwrap_or_default());
            out.push('\n');
        }
        out
    }

    /// Writes the report to `to`: a local path, or `s3://bucket/key`.
    ///
    /// # Errors
    ///
    /// The file or object cannot be written.
    pub async fn write(&self, to: &str, store: &StoreOptions) -> Result<()> {
        let report = self.report();
        if let Some(url) = S3Url::parse(to) {
            let s3 = Arc::new(S3Store::connect(store).await);
            return s3.put(&url.bucket, &url.key, report.into_bytes()).await;
        }
        // Not a read error (its message would say "reading", and a missing folder would be
        // input missing): the place the operator named cannot take the report.
        tokio::fs::write(to, report)
            .await
            .map_err(|error| Error::config(format!("--rejects-out {to}: cannot write the report: {error}")))
    }
}
