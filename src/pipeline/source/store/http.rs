//! `http(s)://` objects: HEAD for the version (ETag or Last-Modified), GET pinned to it,
//! ranged reads, retries of connection failures and 5xx with backoff.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;

use crate::error::{ErrorKind, Result};

use super::{CONNECT_TIMEOUT, StoreOptions};

/// Attempts for an HTTP request that fails to connect or gets a 5xx, with backoff.
const HTTP_ATTEMPTS: u32 = 4;

/// An HTTP(S) object at the version (ETag or Last-Modified) seen when the batch was planned.
#[derive(Debug, Clone)]
pub struct HttpObject {
    client: reqwest::Client,
    handle: tokio::runtime::Handle,
    pub url: String,
    /// The URL as messages, logs and the ledger show it: without user-info or query
    /// string, which may hold credentials or a signature ([`redact`]).
    pub shown: String,
    pub size: u64,
    /// The validator the server gave: its ETag, else its Last-Modified date.
    pub etag: Option<String>,
    last_modified: Option<String>,
}

impl HttpObject {
    /// Asks the server (HEAD) for the object's size and validators; 404 is input missing.
    /// Every read of a response (headers or body) waits at most the stall timeout.
    pub async fn head(url: &str, options: &StoreOptions) -> Result<HttpObject> {
        let shown = redact(url);
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(options.stall_timeout)
            .redirect(same_server_redirects())
            .build()
            .map_err(|error| http_error(&shown, "setting up a client for", error))?;
        let response = send_with_retries(&shown, || client.head(url)).await?;
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        Ok(HttpObject {
            client,
            handle: tokio::runtime::Handle::current(),
            url: url.to_owned(),
            shown,
            size: header(reqwest::header::CONTENT_LENGTH)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            etag: etag.or_else(|| last_modified.clone()),
            last_modified,
        })
    }

    fn get(&self) -> reqwest::RequestBuilder {
        let request = self.client.get(&self.url);
        match (&self.last_modified, &self.etag) {
            (Some(date), Some(tag)) if date == tag => request.header(reqwest::header::IF_UNMODIFIED_SINCE, date),
            (_, Some(tag)) => request.header(reqwest::header::IF_MATCH, tag),
            _ => request,
        }
    }

    /// The object from byte `start` on, as a stream read in the calling (non-async) thread.
    pub fn reader(&self, start: u64) -> Result<Box<dyn Read + Send>> {
        let response = self.handle.block_on(send_with_retries(&self.shown, || {
            let request = self.get();
            if start > 0 {
                request.header(reqwest::header::RANGE, format!("bytes={start}-"))
            } else {
                request
            }
        }))?;
        let stream = futures_util::TryStreamExt::map_err(response.bytes_stream(), std::io::Error::other);
        let body = tokio_util::io::StreamReader::new(stream);
        Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(
            body,
            self.handle.clone(),
        )))
    }

    /// Bytes `start .. start + length` of the object (the server must serve ranges).
    pub fn range(&self, start: u64, length: usize) -> Result<Bytes> {
        if length == 0 {
            return Ok(Bytes::new());
        }
        let end = start + length as u64 - 1;
        self.handle.block_on(async {
            let response = send_with_retries(&self.shown, || {
                self.get()
                    .header(reqwest::header::RANGE, format!("bytes={start}-{end}"))
            })
            .await?;
            if response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                return Err(ErrorKind::Store {
                    context: format!("reading a range of {}", self.shown),
                    message: format!(
                        "the server answered {} instead of 206: it does not serve byte ranges, which Parquet needs",
                        response.status()
                    ),
                }
                .into());
            }
            response
                .bytes()
                .await
                .map_err(|error| http_error(&self.shown, "reading a range of", error))
        })
    }
}

/// Sends a request, retrying connection failures and 5xx answers with backoff; a 404 is
/// input missing (66), 412 a changed object, other failures the store unavailable (69).
/// `url` is the URL as messages show it.
async fn send_with_retries(url: &str, request: impl Fn() -> reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let mut wait = Duration::from_millis(200);
    let mut attempt = 1;
    loop {
        let outcome = request().send().await;
        let retry = match &outcome {
            Ok(response) => response.status().is_server_error(),
            Err(error) => error.is_connect() || error.is_timeout(),
        };
        if retry && attempt < HTTP_ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
            continue;
        }
        let response = outcome.map_err(|error| {
            if error.is_redirect() {
                // Where the data comes from is configuration: never retried.
                crate::Error::config(format!(
                    "{url}: the server redirects to another server, which pgbatch does not follow \
                     (name the final URL)"
                ))
            } else {
                http_error(url, "requesting", error)
            }
        })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ErrorKind::InputMissing {
                path: url.to_owned(),
                message: "no such object (HTTP 404)".into(),
            }
            .into());
        }
        if !status.is_success() {
            let why = if status == reqwest::StatusCode::PRECONDITION_FAILED {
                "the object changed since the batch was planned".to_owned()
            } else {
                format!("the server answered {status}")
            };
            return Err(ErrorKind::Store {
                context: format!("requesting {url}"),
                message: why,
            }
            .into());
        }
        return Ok(response);
    }
}

/// Redirects are followed on the same server (scheme, host and port) only, at most 5.
fn same_server_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let origin = |url: &reqwest::Url| {
            (
                url.scheme().to_owned(),
                url.host_str().map(str::to_owned),
                url.port_or_known_default(),
            )
        };
        let first = attempt.previous().first().map(origin);
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if first.is_some_and(|first| first == origin(attempt.url())) {
            attempt.follow()
        } else {
            attempt.error("a redirect to another server")
        }
    })
}

/// A failed request, named by its shown URL; reqwest's own message loses the real one.
fn http_error(url: &str, what: &str, error: reqwest::Error) -> crate::Error {
    ErrorKind::Store {
        context: format!("{what} {url}"),
        message: crate::error::with_causes(&error.without_url()),
    }
    .into()
}

/// A URL without what may be secret in it: the user-info (`user:password@`) is dropped, and
/// a query string (a presigned URL's signature, a token) becomes `?<redacted>`.
pub fn redact(url: &str) -> String {
    if !url.contains("://") {
        return url.to_owned(); // a path: its `?` is part of a name
    }
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            match path {
                Some(path) => format!("{scheme}://{host}/{path}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => base.to_owned(),
    };
    match query {
        Some(_) => format!("{base}?<redacted>"),
        None => base,
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_not_shown() {
        assert_eq!(
            redact("https://user:secret@host:8443/landing/a.csv?X-Amz-Signature=abc&X-Amz-Credential=def"),
            "https://host:8443/landing/a.csv?<redacted>"
        );
        assert_eq!(redact("http://host/a.csv"), "http://host/a.csv");
        assert_eq!(redact("http://token@host"), "http://host");
        assert_eq!(redact("/data/what?.csv"), "/data/what?.csv");
    }
}
