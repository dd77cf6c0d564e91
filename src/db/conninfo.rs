//! libpq connection strings as far as the driver does not read them: the TLS settings
//! (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`) are taken out of a URL's query or a
//! key/value string, and the `PGSSL*` variables fill what the string does not say.

use super::tls::{SslMode, TlsOptions};
use crate::error::Result;

/// The TLS settings libpq reads from the connection string, which the driver does not.
pub(super) const TLS_KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

pub(super) fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The TLS settings from `setting` (a key of [`TLS_KEYS`] to its value).
pub(super) fn tls_options(setting: &dyn Fn(&str) -> Option<String>) -> Result<TlsOptions> {
    Ok(TlsOptions {
        mode: setting("sslmode").map_or(Ok(SslMode::default()), |mode| SslMode::parse(&mode))?,
        root_cert: setting("sslrootcert"),
        cert: setting("sslcert").map(Into::into),
        key: setting("sslkey").map(Into::into),
    })
}

/// Takes the settings of [`TLS_KEYS`] out of a connection string, a URL
/// (`postgres://...?sslmode=verify-full`) or key/value pairs (`host=db sslmode=require`),
/// and returns the rest as it was written.
pub(super) fn split_tls(url: &str) -> (String, Vec<(String, String)>) {
    let mut taken = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return (url.to_owned(), taken);
        };
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let key = decode(key);
                let tls = TLS_KEYS.contains(&key.as_str());
                if tls {
                    taken.push((key, decode(value)));
                }
                !tls
            })
            .collect();
        let rest = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return (rest, taken);
    }
    let mut rest = String::new();
    for (key, value, raw) in key_values(url) {
        if TLS_KEYS.contains(&key.as_str()) {
            taken.push((key, value));
        } else {
            rest.push_str(raw);
            rest.push(' ');
        }
    }
    (rest.trim_end().to_owned(), taken)
}

/// The pairs of a libpq key/value string: key, unquoted value, and the pair as written.
fn key_values(text: &str) -> Vec<(String, String, &str)> {
    let mut pairs = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = text[start..i].to_owned();
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'=') {
            i += 1;
        }
        let mut value = String::new();
        let quoted = bytes.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
        }
        while i < bytes.len() {
            let c = bytes[i];
            if quoted && c == b'\'' || !quoted && c.is_ascii_whitespace() {
                break;
            }
            if c == b'\\' && i + 1 < bytes.len() {
                i += 1;
            }
            let width = text[i..].chars().next().map_or(1, char::len_utf8);
            value.push_str(&text[i..i + width]);
            i += width;
        }
        if quoted {
            i += 1;
        }
        if !key.is_empty() {
            pairs.push((key, value, &text[start..i.min(text.len())]));
        }
    }
    pairs
}
