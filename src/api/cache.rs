//! Whole responses kept between two batches: keyed by route, parameters, format and `ETag`,
//! so a batch that commits to a table a route reads makes a new key and the old entries
//! are never answered again (they age out). Bounded in bytes; a response larger than
//! [`ENTRY_MAX`] is streamed and not kept.

use std::time::Duration;

use bytes::Bytes;

use super::output::Format;
use super::route::Value;

/// The largest response kept, in bytes.
pub(super) const ENTRY_MAX: usize = 1024 * 1024;

/// How long an entry is kept at most. Batches make new keys at once; this bounds how long
/// a write that bypasses pgbatch (which no `ETag` sees) stays unseen.
const TIME_TO_LIVE: Duration = Duration::from_mins(5);

pub(super) struct ResponseCache {
    cache: Option<moka::sync::Cache<String, Bytes>>,
}

impl ResponseCache {
    /// A cache of at most `bytes` (keys and bodies); none at 0.
    pub(super) fn new(bytes: u64) -> Self {
        let cache = (bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|key: &String, body: &Bytes| u32::try_from(key.len() + body.len()).unwrap_or(u32::MAX))
                .time_to_live(TIME_TO_LIVE)
                .build()
        });
        ResponseCache { cache }
    }

    /// The key of one response, or `None` when nothing is cached.
    pub(super) fn key(&self, route: usize, values: &[Value], format: Format, tag: &str) -> Option<String> {
        self.cache.as_ref()?;
        Some(format!("{route}\u{0}{}\u{0}{tag}\u{0}{values:?}", format.name()))
    }

    pub(super) fn get(&self, key: &str) -> Option<Bytes> {
        self.cache.as_ref()?.get(key)
    }

    pub(super) fn put(&self, key: String, body: Bytes) {
        if let Some(cache) = &self.cache
            && body.len() <= ENTRY_MAX
        {
            cache.insert(key, body);
        }
    }
}
