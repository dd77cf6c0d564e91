//! S3 (and S3-compatible) objects: listing, HEAD (with the object's full-object checksum),
//! streamed `GetObject` pinned to the ETag, and ranged reads, each with retries, backoff and
//! timeouts.

use std::io::Read;
use std::sync::Arc;

use aws_sdk_s3::config::{StalledStreamProtectionConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{ChecksumMode, ChecksumType};
use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::error::{ErrorKind, Result};

use super::{CONNECT_TIMEOUT, StoreOptions};

/// Attempts per S3 call (the first and the retries), with the SDK's exponential backoff.
const S3_ATTEMPTS: u32 = 5;

/// HEAD requests in flight at once while a listing's checksums are read.
const HEADS_IN_FLIGHT: usize = 16;

/// An S3 location, parsed from `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Url {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// An S3 client and the runtime its blocking reads run on.
#[derive(Debug)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    handle: tokio::runtime::Handle,
}

impl S3Store {
    /// A client from the standard AWS configuration chain. An `s3_endpoint` points it at an
    /// S3-compatible store, addressed by path (`http://host:port/bucket/key`). A response
    /// whose headers take longer than the stall timeout fails (the SDK's read timeout), and
    /// so does a body that sends nothing for that long (its stalled-stream protection).
    pub async fn connect(options: &StoreOptions) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .retry_config(RetryConfig::standard().with_max_attempts(S3_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(options.stall_timeout)
                    .build(),
            )
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled()
                    .grace_period(options.stall_timeout)
                    .build(),
            );
        if let Some(endpoint) = &options.s3_endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        if shared.region().is_none() {
            config = config.region(aws_sdk_s3::config::Region::new("us-east-1"));
        }
        S3Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// The objects whose keys match `pattern` (a glob: `*`, `?`, `[...]`), sorted by key.
    /// Only the keys under the pattern's literal prefix are listed.
    pub async fn list(self: &Arc<Self>, bucket: &str, pattern: &str) -> Result<Vec<S3Object>> {
        let url = format!("s3://{bucket}/{pattern}");
        let glob = glob::Pattern::new(pattern)
            .map_err(|error| crate::Error::config(format!("{url:?} is not a valid glob: {error}")))?;
        let prefix = &pattern[..pattern.find(['*', '?', '[']).unwrap_or(pattern.len())];
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| store_error(&url, "listing", &error))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if glob.matches_with(
                    key,
                    glob::MatchOptions {
                        require_literal_separator: true,
                        ..glob::MatchOptions::new()
                    },
                ) {
                    let listed = S3Object {
                        store: Arc::clone(self),
                        bucket: bucket.to_owned(),
                        key: key.to_owned(),
                        size: u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                        etag: object.e_tag().unwrap_or("").to_owned(),
                        checksum: None,
                    };
                    let composite = object.checksum_type() == Some(&ChecksumType::Composite);
                    objects.push((listed, !object.checksum_algorithm().is_empty() && !composite));
                }
            }
        }
        // A listing names an object's checksum algorithms but not the checksum: those
        // objects are asked for it (a HEAD each, several at a time).
        let mut objects: Vec<S3Object> = futures_util::stream::iter(objects)
            .map(|(listed, has_checksum)| async move {
                if has_checksum {
                    self.head(&listed.bucket, &listed.key).await
                } else {
                    Ok(listed)
                }
            })
            .buffered(HEADS_IN_FLIGHT)
            .try_collect()
            .await?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// Writes `body` as the object `key` of `bucket` (a report, such as a batch's rejects).
    pub async fn put(self: &Arc<Self>, bucket: &str, key: &str, body: Vec<u8>) -> Result<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map_err(|error| store_error(&format!("s3://{bucket}/{key}"), "writing the object", &error))?;
        Ok(())
    }

    /// One object's size, ETag and full-object checksum; input missing (66) when there is
    /// none.
    pub async fn head(self: &Arc<Self>, bucket: &str, key: &str) -> Result<S3Object> {
        let url = format!("s3://{bucket}/{key}");
        let head = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(aws_sdk_s3::operation::head_object::HeadObjectError::is_not_found)
                {
                    ErrorKind::InputMissing {
                        path: url.clone(),
                        message: "no such object".into(),
                    }
                    .into()
                } else {
                    store_error(&url, "reading the object's metadata", &error)
                }
            })?;
        Ok(S3Object {
            store: Arc::clone(self),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: u64::try_from(head.content_length().unwrap_or(0)).unwrap_or(0),
            etag: head.e_tag().unwrap_or("").to_owned(),
            checksum: Checksum::of(&head),
        })
    }
}

/// A checksum S3 keeps of a whole object's bytes (`x-amz-checksum-*` with the
/// `FULL_OBJECT` type): the same bytes have it wherever and however they were uploaded,
/// whatever their ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `sha256` or `crc64nvme`.
    pub algorithm: &'static str,
    /// As S3 gives it: base64.
    pub value: String,
}

impl Checksum {
    /// The full-object sha256 or CRC64NVME of a HEAD's answer. A composite checksum (a
    /// multipart upload's checksum of its parts' checksums, written `...-N`) depends on
    /// how the object was cut into parts, so it is none. A CRC32 or CRC32C is none either:
    /// 32 bits is too few to tell every batch of a job apart (two different files of one
    /// size would match once in some 4 billion pairs, and the second would be skipped as
    /// loaded); SHA-1 is not offered by S3 as a default and is left out with them.
    fn of(head: &HeadObjectOutput) -> Option<Checksum> {
        if head.checksum_type() == Some(&ChecksumType::Composite) {
            return None;
        }
        [
            ("sha256", head.checksum_sha256()),
            ("crc64nvme", head.checksum_crc64_nvme()),
        ]
        .into_iter()
        .find_map(|(algorithm, value)| {
            let value = value.filter(|v| !v.is_empty() && !v.contains('-'))?;
            Some(Checksum {
                algorithm,
                value: value.to_owned(),
            })
        })
    }

    /// The object's sha256 in hex, as a local file's is written, when this is a sha256.
    pub fn sha256_hex(&self) -> Option<String> {
        use base64::Engine as _;
        if self.algorithm != "sha256" {
            return None;
        }
        let digest = base64::engine::general_purpose::STANDARD.decode(&self.value).ok()?;
        (digest.len() == 32).then(|| crate::hash::to_hex(&digest))
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.value)
    }
}

/// An S3 failure after the SDK's retries: the store is unavailable (69, worth a retry).
fn store_error<E, R>(url: &str, what: &str, error: &aws_sdk_s3::error::SdkError<E, R>) -> crate::Error
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    ErrorKind::Store {
        context: format!("{what} {url}"),
        message: aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
    }
    .into()
}

/// One S3 object at the version (ETag) seen when the batch was planned.
#[derive(Debug, Clone)]
pub struct S3Object {
    store: Arc<S3Store>,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// The full-object checksum, when S3 keeps one: the object's identity.
    pub checksum: Option<Checksum>,
}

impl S3Object {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// A `GetObject` of this object at the ETag the batch was planned with.
    fn get(&self) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
        self.store
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_match(&self.etag)
    }

    /// The object from byte `start` on, as a stream read in the calling (non-async) thread.
    pub fn reader(&self, start: u64) -> Result<Box<dyn Read + Send>> {
        let mut request = self.get();
        if start > 0 {
            request = request.range(format!("bytes={start}-"));
        }
        let url = self.url();
        let output = self.store.handle.block_on(request.send()).map_err(|error| {
            if error
                .as_service_error()
                .is_some_and(aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key)
            {
                ErrorKind::InputMissing {
                    path: url.clone(),
                    message: "no such object".into(),
                }
                .into()
            } else {
                store_error(&url, "reading", &error)
            }
        })?;
        let body = output.body.into_async_read();
        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
            body,
            self.store.handle.clone(),
        )))
    }

    /// Bytes `start .. start + length` of the object.
    pub fn range(&self, start: u64, length: usize) -> Result<Bytes> {
        if length == 0 {
            return Ok(Bytes::new());
        }
        let end = start + length as u64 - 1;
        let url = self.url();
        let request = self.get().range(format!("bytes={start}-{end}"));
        self.store.handle.block_on(async {
            let output = request
                .send()
                .await
                .map_err(|error| store_error(&url, "reading a range of", &error))?;
            let bytes = output.body.collect().await.map_err(|error| ErrorKind::Store {
                context: format!("reading a range of {url}"),
                message: error.to_string(),
            })?;
            Ok(bytes.into_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_split_into_bucket_and_key() {
        assert_eq!(
            S3Url::parse("s3://landing/prices/2016-01-*.csv.gz"),
            Some(S3Url {
                bucket: "landing".into(),
                key: "prices/2016-01-*.csv.gz".into()
            })
        );
        assert_eq!(S3Url::parse("s3://"), None);
        assert_eq!(S3Url::parse("/data/x.csv"), None);
    }

    #[test]
    fn only_a_full_object_checksum_is_an_identity() {
        // sha256 of "abc" (FIPS 180-2's first example), as S3 writes it: base64.
        let abc = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";
        let head = HeadObjectOutput::builder()
            .checksum_sha256(abc)
            .checksum_crc64_nvme("bcq9DQ+JcUE=")
            .checksum_type(ChecksumType::FullObject)
            .build();
        let checksum = Checksum::of(&head).unwrap();
        assert_eq!(checksum.to_string(), format!("sha256:{abc}"));
        assert_eq!(
            checksum.sha256_hex().unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let crc = HeadObjectOutput::builder().checksum_crc64_nvme("bcq9DQ+JcUE=").build();
        assert_eq!(Checksum::of(&crc).unwrap().to_string(), "crc64nvme:bcq9DQ+JcUE=");
        assert_eq!(Checksum::of(&crc).unwrap().sha256_hex(), None);
        // A multipart upload's checksum of its parts' checksums is no identity.
        let composite = HeadObjectOutput::builder()
            .checksum_sha256("m5zMBR9xMyMbjhfYd8JdrKEwkdLKo1k0E+ODXsxnW6c=-2")
            .checksum_type(ChecksumType::Composite)
            .build();
        assert_eq!(Checksum::of(&composite), None);
        let suffixed = HeadObjectOutput::builder()
            .checksum_crc64_nvme("AAAAAAAAAAA=-3")
            .build();
        assert_eq!(Checksum::of(&suffixed), None);
        // 32 bits cannot keep a job's batches apart.
        let crc32 = HeadObjectOutput::builder()
            .checksum_crc32("uBiSZA==")
            .checksum_crc32_c("yZRlqg==")
            .checksum_type(ChecksumType::FullObject)
            .build();
        assert_eq!(Checksum::of(&crc32), None);
        assert_eq!(Checksum::of(&HeadObjectOutput::builder().build()), None);
    }
}
