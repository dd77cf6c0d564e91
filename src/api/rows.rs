//! A response's rows, written out in chunks as the client takes them, and kept whole in
//! the cache when small enough.

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, oneshot};

use super::cache::ENTRY_MAX;
use super::output::{Format, Writer};
use super::problem::Problem;
use super::route::Value;
use super::{Api, Served};

/// What the query task reports before the body: a problem, 304, or 200 with its tag.
pub(super) enum Head {
    Problem(Problem),
    NotModified(String),
    /// 200 with its tag; the body follows in chunks.
    Ok(String),
    /// 200 with its tag and the whole body.
    Whole(String, Bytes),
}

pub(super) type BodyChunk = std::result::Result<Bytes, std::io::Error>;

/// One request, its parameters read: what its queries need.
pub(super) struct Ask {
    pub(super) i: usize,
    pub(super) values: Vec<Value>,
    pub(super) format: Format,
    pub(super) if_none_match: Option<String>,
    /// The tag from the ledger's copy in memory, when that copy is live.
    pub(super) known: Option<String>,
    /// Where the response is kept once sent whole, when it may be.
    pub(super) cache_key: Option<String>,
}

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// Writes the rows out in chunks. A response that ends within its first chunk is sent
/// whole (one write, with its length, no chunked encoding); a longer one gets its head
/// first, then its chunks as the client takes them. An error after the head is sent can only
/// break the response, which the client sees. True when every row was sent; the response is
/// then kept in the cache when it has a key and is at most [`ENTRY_MAX`] bytes.
#[allow(clippy::too_many_arguments)]
pub(super) async fn stream(
    api: &Api,
    served: &Served,
    ask: &Ask,
    tag: String,
    first: Option<tokio_postgres::Row>,
    mut rows: std::pin::Pin<Box<tokio_postgres::RowStream>>,
    head: oneshot::Sender<Head>,
    body: &mpsc::Sender<BodyChunk>,
) -> bool {
    let mut sink = Sink {
        head: Some((head, tag)),
        body,
        kept: ask.cache_key.as_ref().map(|_| Vec::new()),
    };
    let mut writer = Writer::new(ask.format);
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    let names: Vec<&str> = served.columns.iter().map(|(n, _)| n.as_str()).collect();
    writer.start(&names, &mut out);
    let mut next = first;
    let mut count: u64 = 0;
    let max_rows = served.route.max_rows.unwrap_or(api.options.max_rows);
    while let Some(row) = next {
        count += 1;
        if count > max_rows {
            tracing::warn!(route = %served.route.path, max_rows, "A response was cut off at the row limit.");
            return sink
                .fail(std::io::Error::other(format!(
                    "more than {max_rows} rows; narrow the request"
                )))
                .await;
        }
        if let Err(error) = writer.row(&row, &mut out) {
            return sink.fail(std::io::Error::other(error)).await;
        }
        if out.len() >= CHUNK_BYTES && !sink.chunk(&mut out).await {
            return false; // the client went away
        }
        next = match rows.next().await.transpose() {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "A streamed query failed.");
                return sink.fail(std::io::Error::other(error)).await;
            }
        };
    }
    writer.finish(&mut out);
    let whole = if let Some((head, tag)) = sink.head.take() {
        // All of it in the first chunk: sent whole.
        let whole = Bytes::from(out);
        if head.send(Head::Whole(tag, whole.clone())).is_err() {
            return false;
        }
        Some(whole)
    } else {
        if !sink.chunk(&mut out).await {
            return false;
        }
        sink.kept.map(Bytes::from)
    };
    if let (Some(key), Some(whole)) = (ask.cache_key.clone(), whole) {
        api.cache.put(key, whole);
    }
    true
}

/// Where a streamed response goes: its head until sent, its body, and a copy for the cache
/// while it is small enough.
struct Sink<'a> {
    head: Option<(oneshot::Sender<Head>, String)>,
    body: &'a mpsc::Sender<BodyChunk>,
    kept: Option<Vec<u8>>,
}

impl Sink<'_> {
    /// Sends the head (200 and the tag) if it is not sent yet. False when the client went.
    fn open(&mut self) -> bool {
        match self.head.take() {
            Some((head, tag)) => head.send(Head::Ok(tag)).is_ok(),
            None => true,
        }
    }

    /// Sends `out` as one chunk of the body. False when the client went away.
    async fn chunk(&mut self, out: &mut Vec<u8>) -> bool {
        if !self.open() {
            return false;
        }
        let chunk = Bytes::from(std::mem::take(out));
        if let Some(whole) = &mut self.kept {
            if whole.len() + chunk.len() <= ENTRY_MAX {
                whole.extend_from_slice(&chunk);
            } else {
                self.kept = None;
            }
        }
        self.body.send(Ok(chunk)).await.is_ok()
    }

    /// Breaks the response with `error` (after its head, so the client sees a cut body).
    async fn fail(&mut self, error: std::io::Error) -> bool {
        if self.open() {
            let _ = self.body.send(Err(error)).await;
        }
        false
    }
}
