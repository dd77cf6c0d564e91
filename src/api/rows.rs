//! A response's rows, written out in chunks as the client takes them, and kept whole in
//! the cache when small enough.

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::sync::mpsc;

use super::cache::ENTRY_MAX;
use super::output::{Format, Writer};
use super::route::Value;
use super::{Api, Served};

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

/// Writes the rows into `body` in chunks. An error after the head is sent can only break
/// the response, which the client sees. True when every row was sent; the response is
/// then kept in the cache when it has a key and is at most [`ENTRY_MAX`] bytes.
pub(super) async fn stream(
    api: &Api,
    served: &Served,
    ask: &Ask,
    first: Option<tokio_postgres::Row>,
    mut rows: std::pin::Pin<Box<tokio_postgres::RowStream>>,
    body: &mpsc::Sender<BodyChunk>,
) -> bool {
    let fail = |error: std::io::Error| async move {
        let _ = body.send(Err(error)).await;
        false
    };
    let mut writer = Writer::new(ask.format);
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    let mut kept = ask.cache_key.as_ref().map(|_| Vec::new());
    let mut send = async |out: &mut Vec<u8>| {
        let chunk = Bytes::from(std::mem::take(out));
        if let Some(whole) = &mut kept {
            if whole.len() + chunk.len() <= ENTRY_MAX {
                whole.extend_from_slice(&chunk);
            } else {
                kept = None;
            }
        }
        body.send(Ok(chunk)).await.is_ok()
    };
    let names: Vec<&str> = served.columns.iter().map(|(n, _)| n.as_str()).collect();
    writer.start(&names, &mut out);
    let mut next = first;
    let mut count: u64 = 0;
    let max_rows = served.route.max_rows.unwrap_or(api.options.max_rows);
    while let Some(row) = next {
        count += 1;
        if count > max_rows {
            tracing::warn!(route = %served.route.path, max_rows, "A response was cut off at the row limit.");
            return fail(std::io::Error::other(format!(
                "more than {max_rows} rows; narrow the request"
            )))
            .await;
        }
        if let Err(error) = writer.row(&row, &mut out) {
            return fail(std::io::Error::other(error)).await;
        }
        if out.len() >= CHUNK_BYTES && !send(&mut out).await {
            return false; // the client went away
        }
        next = match rows.next().await.transpose() {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "A streamed query failed.");
                return fail(std::io::Error::other(error)).await;
            }
        };
    }
    writer.finish(&mut out);
    if !send(&mut out).await {
        return false;
    }
    if let (Some(key), Some(whole)) = (ask.cache_key.clone(), kept) {
        api.cache.put(key, Bytes::from(whole));
    }
    true
}
