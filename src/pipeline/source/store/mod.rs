//! Where a source's bytes live: a local file, an S3 object (`s3://bucket/key`), or an
//! `http(s)://` URL.
//!
//! S3 goes through aws-sdk-s3 with the standard credential chain (environment, profile,
//! web identity, ECS task role, instance metadata), the region from the environment or
//! profile, retries with backoff, and timeouts, so a store that stops answering fails the
//! batch instead of hanging it. Text is read as one streamed `GetObject` (pinned to the
//! object's ETag, so a changed object cannot be read half old, half new); Parquet by byte
//! ranges: the footer first, then only the column chunks the job reads.

mod http;
mod s3;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parquet::file::reader::{ChunkReader, Length};

pub use http::{HttpObject, redact};
pub use s3::{Checksum, S3Object, S3Store, S3Url};

/// How long a store may take to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How remote stores are reached.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// An S3-compatible endpoint for `s3://` sources (path-style addressing); AWS when
    /// unset.
    pub s3_endpoint: Option<String>,
    /// The longest a store may keep a response waiting (for its headers, or for the next
    /// bytes of its body) before the read fails and the batch with it (exit 69).
    pub stall_timeout: Duration,
    /// Let a manifest fetched from S3 or HTTP list entries outside its own bucket or
    /// server (local paths, other hosts). Off: such an entry fails the batch (78).
    pub allow_manifest_escape: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            s3_endpoint: None,
            stall_timeout: Duration::from_secs(30),
            allow_manifest_escape: false,
        }
    }
}

/// A source's bytes, for readers that seek (Parquet): a local file or an S3 object.
#[derive(Debug, Clone)]
pub enum Blob {
    Local(Arc<std::fs::File>),
    S3(Arc<S3Object>),
    Http(Arc<HttpObject>),
}

impl Length for Blob {
    fn len(&self) -> u64 {
        match self {
            Blob::Local(file) => file.as_ref().len(),
            Blob::S3(object) => object.size,
            Blob::Http(object) => object.size,
        }
    }
}

impl ChunkReader for Blob {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        match self {
            Blob::Local(file) => Ok(Box::new(file.as_ref().get_read(start)?)),
            Blob::S3(object) => object
                .reader(start)
                .map_err(|error| parquet::errors::ParquetError::External(Box::new(error))),
            Blob::Http(object) => object
                .reader(start)
                .map_err(|error| parquet::errors::ParquetError::External(Box::new(error))),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self {
            Blob::Local(file) => file.as_ref().get_bytes(start, length),
            Blob::S3(object) => object
                .range(start, length)
                .map_err(|error| parquet::errors::ParquetError::External(Box::new(error))),
            Blob::Http(object) => object
                .range(start, length)
                .map_err(|error| parquet::errors::ParquetError::External(Box::new(error))),
        }
    }
}
