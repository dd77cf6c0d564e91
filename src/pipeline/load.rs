//! Load: one `COPY ... FROM STDIN (FORMAT binary)` stream per batch.
//!
//! A reader thread walks the files in order and hands each chunk to rayon, which conforms
//! and encodes chunks in parallel; the async side awaits the results in order and writes
//! them to the COPY stream. The queue between them is bounded, so memory holds at most a
//! few chunks whatever the input size, and the server never waits on one slow chunk while
//! others are ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::SinkExt;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Transaction;

use crate::error::{Error, ErrorKind, Result, RowError, panic_message};
use crate::job::Job;
use crate::pipeline::Progress;
use crate::pipeline::bind::Binding;
use crate::pipeline::conform::Conformer;
use crate::pipeline::encode::{Encoder, TRAILER, header};
use crate::pipeline::positioned;
use crate::pipeline::rejects::Rejects;
use crate::pipeline::source::{self, SourceFile};

/// One encoded chunk and what it holds.
struct Encoded {
    file: usize,
    bytes: Bytes,
    rows_read: u64,
    rows_written: u64,
    rows_skipped: u64,
    /// Source rows that went on, and blank records dropped: with the rejects, every row read.
    rows_kept: u64,
    rows_blank: u64,
    rejects: Vec<RowError>,
    /// NULLs per column, in COPY order.
    nulls: Vec<u64>,
    /// Time spent conforming and encoding the chunk.
    encoding: Duration,
}

type Pending = oneshot::Receiver<Result<Encoded>>;

/// What the COPY stream carried.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_skipped: u64,
    /// Rows set aside as bad (in the caller's [`Rejects`]).
    pub rows_rejected: u64,
    /// NULLs written per column, in COPY order (`[checks] max_null_ratio`).
    pub nulls: Vec<u64>,
    /// Source rows read per file, in file order.
    pub rows_per_file: Vec<u64>,
    /// Where the time went (`pgbatch report`): the reader thread's time in the sources, the
    /// workers' time conforming and encoding (summed over workers), the time spent handing
    /// bytes to the server (waiting on it), and the whole stream, all of it overlapped.
    pub reading: Duration,
    pub encoding: Duration,
    pub sending: Duration,
    pub copying: Duration,
    /// Source rows that went on, and blank records: with the rejects, every row read.
    rows_kept: u64,
    rows_blank: u64,
}

impl Streamed {
    /// Adds what one chunk carried.
    fn count(&mut self, encoded: &Encoded) {
        self.rows_read += encoded.rows_read;
        self.rows_written += encoded.rows_written;
        self.rows_skipped += encoded.rows_skipped;
        self.rows_per_file[encoded.file] += encoded.rows_read;
        for (sum, nulls) in self.nulls.iter_mut().zip(&encoded.nulls) {
            *sum += nulls;
        }
        self.rows_kept += encoded.rows_kept;
        self.rows_blank += encoded.rows_blank;
        self.encoding += encoded.encoding;
    }
}

/// Streams every file of the batch through one COPY statement; `positioned`, each row
/// followed by its position (the located stage's columns, `positioned.rs`).
///
/// # Errors
///
/// The first error in file order: a bad value (with its location; when the job allows
/// rejects, more rejects than it allows), a missing file, or the database failing the COPY.
/// The COPY is then aborted; the caller rolls back. The rows set aside so far are in
/// `rejects` either way.
pub async fn copy(
    tx: &Transaction<'_>,
    (statement, positioned): (&str, bool),
    job: Arc<Job>,
    files: Arc<Vec<SourceFile>>,
    progress: Arc<dyn Progress>,
    rejects: &mut Rejects,
) -> Result<Streamed> {
    let sink = tx
        .copy_in::<_, Bytes>(statement)
        .await
        .map_err(|error| Error::db("starting COPY", error))?;
    futures_util::pin_mut!(sink);
    let copying = Instant::now();
    // Enough chunks in flight to keep every core busy, few enough to bound memory.
    let depth = rayon::current_num_threads() * 2 + 2;
    let (queue, mut pending) = mpsc::channel::<Pending>(depth);
    let producer = spawn_reader(job.clone(), files.clone(), queue, (rejects.allowed(), positioned))?;

    let result = async {
        let mut streamed = Streamed {
            rows_per_file: vec![0; files.len()],
            nulls: vec![0; job.columns.len()],
            ..Streamed::default()
        };
        let mut file = None;
        sink.send(Bytes::copy_from_slice(&header()))
            .await
            .map_err(|error| Error::db("writing COPY data", error))?;
        while let Some(next) = pending.recv().await {
            let encoded = next
                .await
                .map_err(|_| Error::from(ErrorKind::Internal("an encoding worker stopped".into())))??;
            streamed.count(&encoded);
            rejects.add(encoded.rejects)?;
            if file != Some(encoded.file) {
                file = Some(encoded.file);
                progress.file(encoded.file, &files[encoded.file].display);
            }
            progress.advance(encoded.rows_read, encoded.bytes.len() as u64);
            let sent = Instant::now();
            sink.send(encoded.bytes)
                .await
                .map_err(|error| Error::db("writing COPY data", error))?;
            streamed.sending += sent.elapsed();
        }
        sink.send(Bytes::from_static(&TRAILER))
            .await
            .map_err(|error| Error::db("writing COPY data", error))?;
        let copied = sink
            .as_mut()
            .finish()
            .await
            .map_err(|error| Error::db("finishing COPY", error))?;
        if copied != streamed.rows_written {
            return Err(ErrorKind::Internal(format!(
                "COPY wrote {copied} rows, the pipeline sent {}",
                streamed.rows_written
            ))
            .into());
        }
        // Every row read went on, was set aside, or was a blank record: checked, not assumed.
        streamed.rows_rejected = rejects.count();
        let (kept, blank) = (streamed.rows_kept, streamed.rows_blank);
        if streamed.rows_read != kept + streamed.rows_rejected + blank {
            return Err(ErrorKind::Internal(format!(
                "the counts do not reconcile: {} rows read, {kept} went on, {} rejected, {blank} blank",
                streamed.rows_read, streamed.rows_rejected
            ))
            .into());
        }
        Ok(streamed)
    }
    .await;
    // On error, dropping the receiver stops the reader at its next chunk.
    drop(pending);
    let reading = join_reader(producer).await?;
    result.map(|streamed| Streamed {
        reading,
        copying: copying.elapsed(),
        ..streamed
    })
}

/// Starts the reader thread; it returns the time it spent reading.
fn spawn_reader(
    job: Arc<Job>,
    files: Arc<Vec<SourceFile>>,
    queue: mpsc::Sender<Pending>,
    how: (bool, bool),
) -> Result<std::thread::JoinHandle<Duration>> {
    std::thread::Builder::new()
        .name("pgbatch-read".into())
        .spawn(move || {
            let started = Instant::now();
            let waiting = produce(&job, &files, &queue, how);
            started.elapsed().saturating_sub(waiting)
        })
        .map_err(|error| Error::from(ErrorKind::Internal(format!("cannot start the reader thread: {error}"))))
}

/// Waits for the reader thread to end (it stops at its next chunk once the queue's receiver
/// is dropped); its time reading, or its panic as an internal error.
async fn join_reader(reader: std::thread::JoinHandle<Duration>) -> Result<Duration> {
    match tokio::task::spawn_blocking(move || reader.join()).await {
        Ok(Ok(reading)) => Ok(reading),
        Ok(Err(panic)) => {
            Err(ErrorKind::Internal(format!("the reader thread panicked: {}", panic_message(&*panic))).into())
        }
        Err(error) => Err(ErrorKind::Internal(format!("the reader thread panicked: {error}")).into()),
    }
}

/// Opens `file` for `job`: its fields bound to the job's columns (a configuration error
/// naming the file when they cannot be), the source reading only the fields bound, and the
/// conformer of its chunks.
pub fn open_bound(job: &Job, file: &SourceFile) -> Result<(Box<dyn source::Source>, Conformer)> {
    let mut source = source::open(file, &job.read)?;
    let binding = Binding::new(job, source.fields()).map_err(|problems| {
        Error::from(ErrorKind::Config {
            problems: problems.into_iter().map(|p| format!("{}: {p}", file.display)).collect(),
        })
    })?;
    source.project(&binding.project);
    let conformer = Conformer::try_new(job, &file.display, file.file_name(), &binding)?;
    Ok((source, conformer))
}

/// Reads the files in order; queues one pending result per chunk. An error is queued like
/// a result, so the consumer meets it in file order. `how`: whether rows may be set aside,
/// and whether each row carries its position. Returns the time it waited for room in the
/// queue (the rest of its time is reading).
fn produce(job: &Job, files: &[SourceFile], queue: &mpsc::Sender<Pending>, how: (bool, bool)) -> Duration {
    let (allow_rejects, positioned) = how;
    let mut waiting = Duration::ZERO;
    let encoder = Arc::new(Encoder::new(if positioned {
        positioned::types(job)
    } else {
        job.columns.iter().map(|c| c.ty).collect()
    }));
    let with_positions = positioned.then(|| positioned::schema(job));
    let fail = |error: Error| {
        let (sender, receiver) = oneshot::channel();
        let _ = sender.send(Err(error));
        let _ = queue.blocking_send(receiver);
    };
    for (index, file) in files.iter().enumerate() {
        // Planned before the transaction (`plan`); bound again here, in case the file
        // changed since.
        let (mut source, conformer) = match open_bound(job, file) {
            Ok((source, conformer)) => (source, Arc::new(conformer)),
            Err(error) => {
                fail(error);
                return waiting;
            }
        };
        loop {
            // Fault injection (tests only, the `failpoints` feature): a panic in the reader.
            fail::fail_point!("source::next_chunk");
            let chunk = match source.next_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(error) => {
                    fail(error);
                    return waiting;
                }
            };
            let (sender, receiver) = oneshot::channel();
            let queued = Instant::now();
            if queue.blocking_send(receiver).is_err() {
                return waiting; // the consumer stopped: an error, reported there
            }
            waiting += queued.elapsed();
            let conformer = conformer.clone();
            let encoder = encoder.clone();
            let with_positions = with_positions.clone();
            rayon::spawn(move || {
                // A panic here would abort the process from rayon's thread: it becomes the
                // batch's error instead (exit 70), and the batch rolls back.
                let work = std::panic::AssertUnwindSafe(|| {
                    let started = Instant::now();
                    fail::fail_point!("conform::chunk");
                    conformer.conform_or_reject(&chunk, allow_rejects).and_then(|sorted| {
                        let ready = sorted.conformed;
                        let mut out = BytesMut::with_capacity(ready.batch.get_array_memory_size());
                        let batch = match &with_positions {
                            Some(schema) => &positioned::attach(schema, &ready, &chunk, index)?,
                            None => &ready.batch,
                        };
                        encoder
                            .encode(batch, &mut out)
                            .map_err(|error| conformer.encode_error(&chunk, &error))?;
                        Ok(Encoded {
                            file: index,
                            bytes: out.freeze(),
                            rows_read: ready.rows_read,
                            rows_written: ready.batch.num_rows() as u64,
                            rows_skipped: ready.rows_skipped,
                            rows_kept: sorted.rows_kept,
                            rows_blank: chunk.skipped,
                            rejects: sorted.rejects,
                            nulls: ready.batch.columns().iter().map(|c| c.null_count() as u64).collect(),
                            encoding: started.elapsed(),
                        })
                    })
                });
                let result = std::panic::catch_unwind(work).unwrap_or_else(|panic| {
                    Err(ErrorKind::Internal(format!("a conform worker panicked: {}", panic_message(&*panic))).into())
                });
                let _ = sender.send(result);
            });
        }
    }
    waiting
}
