//! Where a batch's sources are: locations (paths, `s3://` and `http(s)://` URLs, globs,
//! `-` for standard input, `@manifest` files listing more) expanded into places, then
//! described (format and size) as source files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::store::{Checksum, HttpObject, S3Store, S3Url, StoreOptions, redact};
use super::{Place, SourceFile, open_text};
use crate::error::{Error, ErrorKind, Result, joined};
use crate::job::{FormatKind, Job};

/// Expands the given locations (paths, `s3://` and `http(s)://` URLs, globs of paths and
/// of `s3://` URLs, `-` for standard input, and `@manifest` files listing more) into
/// sources, in order; relative paths are taken from `base`. An S3 client is made only when
/// a location needs one.
///
/// # Errors
///
/// Input missing when a path or object does not exist or a glob matches nothing; the store
/// unavailable when S3 cannot be listed.
pub async fn expand(locations: &[String], base: &Path, options: &StoreOptions) -> Result<Vec<Place>> {
    let mut places = Vec::new();
    let mut store: Option<Arc<S3Store>> = None;
    for location in locations {
        if location == "-" {
            if places.iter().any(|p| matches!(p, Place::Stdin(_))) {
                return Err(Error::config("standard input (-) can be named once per batch"));
            }
            places.push(Place::Stdin(Arc::new(spool_stdin().await?)));
            continue;
        }
        if location.starts_with("http://") || location.starts_with("https://") {
            if is_glob(location) {
                return Err(Error::config(format!(
                    "{:?}: HTTP has no listing, so a URL cannot be a glob (list the URLs in a manifest)",
                    redact(location)
                )));
            }
            places.push(Place::Http(Arc::new(HttpObject::head(location, options).await?)));
            continue;
        }
        if let Some(manifest) = location.strip_prefix('@') {
            let manifest = resolve(manifest, base);
            places.extend(Box::pin(expand_manifest(&manifest, options)).await?);
            continue;
        }
        let glob = is_glob(location);
        if let Some(url) = S3Url::parse(location) {
            let s3 = match &store {
                Some(s3) => Arc::clone(s3),
                None => Arc::clone(store.insert(Arc::new(S3Store::connect(options).await))),
            };
            if glob {
                let objects = s3.list(&url.bucket, &url.key).await?;
                if objects.is_empty() {
                    return Err(ErrorKind::InputMissing {
                        path: location.clone(),
                        message: "the glob matches no object".into(),
                    }
                    .into());
                }
                places.extend(objects.into_iter().map(|o| Place::S3(Arc::new(o))));
            } else {
                places.push(Place::S3(Arc::new(s3.head(&url.bucket, &url.key).await?)));
            }
            continue;
        }
        places.extend(local(location, base, glob)?);
    }
    if places.is_empty() {
        return Err(Error::config(
            "the batch has no sources: give files, or list `sources` in the job",
        ));
    }
    Ok(places)
}

/// A local path, or the files a glob of paths matches (sorted); relative to `base`.
fn local(location: &str, base: &Path, glob: bool) -> Result<Vec<Place>> {
    let path = base.join(location);
    let text = path.to_string_lossy().into_owned();
    if glob {
        let mut matched: Vec<PathBuf> = glob::glob(&text)
            .map_err(|error| Error::config(format!("{location:?} is not a valid glob: {error}")))?
            .filter_map(std::result::Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if matched.is_empty() {
            return Err(ErrorKind::InputMissing {
                path: location.to_owned(),
                message: "the glob matches no file".into(),
            }
            .into());
        }
        matched.sort();
        Ok(matched.into_iter().map(Place::Local).collect())
    } else if path.is_file() {
        Ok(vec![Place::Local(path)])
    } else {
        Err(ErrorKind::InputMissing {
            path: location.to_owned(),
            message: "no such file".into(),
        }
        .into())
    }
}

/// Where a remote location lives: `s3://bucket`, or an URL's scheme, host and port.
/// `None` for a local path.
fn origin(location: &str) -> Option<String> {
    if let Some(url) = S3Url::parse(location) {
        return Some(format!("s3://{}", url.bucket));
    }
    if !(location.starts_with("http://") || location.starts_with("https://")) {
        return None;
    }
    let url = reqwest::Url::parse(location).ok()?;
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default()
    ))
}

fn is_glob(location: &str) -> bool {
    if location.starts_with("http://") || location.starts_with("https://") {
        // A URL's `?` starts its query string (a presigned URL's signature), not a glob.
        return location.split('?').next().unwrap_or_default().contains(['*', '[']);
    }
    location.contains(['*', '?', '['])
}

fn is_url(location: &str) -> bool {
    ["s3://", "http://", "https://"]
        .iter()
        .any(|scheme| location.starts_with(scheme))
}

/// A location as given, or a relative path taken from the local folder `base`.
fn resolve(location: &str, base: &Path) -> String {
    if is_url(location) || location == "-" {
        location.to_owned()
    } else {
        base.join(location).to_string_lossy().into_owned()
    }
}

/// A manifest's entry as a full location: URLs and absolute paths as they are; a relative
/// one taken from the manifest's own folder, be it local, an S3 prefix or a URL's path.
fn resolve_entry(entry: &str, manifest: &str) -> String {
    if is_url(entry) || Path::new(entry).is_absolute() {
        return entry.to_owned();
    }
    if manifest.starts_with("s3://") {
        let folder = &manifest[..manifest.rfind('/').map_or(manifest.len(), |slash| slash + 1)];
        return format!("{folder}{entry}");
    }
    if let Some(joined) = is_url(manifest)
        .then(|| reqwest::Url::parse(manifest).and_then(|url| url.join(entry)).ok())
        .flatten()
    {
        return joined.to_string();
    }
    resolve(entry, Path::new(manifest).parent().unwrap_or(Path::new("")))
}

/// Copies standard input to a temporary file, so that it can be hashed before the load
/// (exactly-once) and read with bounded memory, like any file.
async fn spool_stdin() -> Result<tempfile::TempPath> {
    let spooled = tokio::task::spawn_blocking(|| -> std::io::Result<tempfile::TempPath> {
        let mut spool = tempfile::Builder::new().prefix("pgbatch-stdin-").tempfile()?;
        std::io::copy(&mut std::io::stdin().lock(), &mut spool)?;
        Ok(spool.into_temp_path())
    })
    .await
    .map_err(joined)?;
    spooled.map_err(|source| {
        ErrorKind::Read {
            path: "stdin".into(),
            source,
        }
        .into()
    })
}

/// The largest manifest read; a longer one is a mistake (a data file named as a manifest).
const MANIFEST_LIMIT: u64 = 16 << 20;

/// The sources a manifest lists, in order. The manifest is a local file, standard input
/// (`@-`), an S3 object or a URL, compressed or not; it holds one location per line (a
/// path or a URL, relative ones taken from the manifest's folder, or a glob); blank lines
/// and `#` comments are skipped. A missing entry names the manifest and the line.
async fn expand_manifest(manifest: &str, options: &StoreOptions) -> Result<Vec<Place>> {
    let shown = redact(manifest);
    if is_glob(manifest) {
        return Err(Error::config(format!("@{shown}: a manifest is one file, not a glob")));
    }
    let place = expand(&[manifest.to_owned()], Path::new(""), options)
        .await?
        .pop()
        .ok_or_else(|| Error::config(format!("@{shown}: no such manifest")))?;
    let file = SourceFile {
        place,
        display: shown.clone(),
        format: FormatKind::Csv,
        bytes: 0,
        sha256: None,
        row_groups: None,
    };
    let text = tokio::task::spawn_blocking(move || read_manifest(&file))
        .await
        .map_err(joined)??;
    let mut places = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if entry.starts_with('@') || entry == "-" {
            return Err(Error::config(format!(
                "{shown}: line {}: a manifest lists files, not another manifest or standard input",
                number + 1
            )));
        }
        let location = resolve_entry(entry, manifest);
        if !options.allow_manifest_escape
            && let Some(origin) = origin(manifest)
            && self::origin(&location) != Some(origin)
        {
            return Err(Error::config(format!(
                "{shown}: line {}: {} is outside the manifest's {} (a remote manifest lists only its own \
                 bucket's or server's objects; --allow-manifest-escape to allow it)",
                number + 1,
                redact(entry),
                if manifest.starts_with("s3://") {
                    "bucket"
                } else {
                    "server"
                }
            )));
        }
        let found = expand(&[location], Path::new(""), options)
            .await
            .map_err(|error| match error.kind() {
                ErrorKind::InputMissing { message, .. } => ErrorKind::InputMissing {
                    path: format!("{shown}: line {}: {}", number + 1, redact(entry)),
                    message: message.clone(),
                }
                .into(),
                _ => error,
            })?;
        places.extend(found);
    }
    if places.is_empty() {
        return Err(Error::config(format!("{shown}: the manifest lists no sources")));
    }
    Ok(places)
}

/// A manifest's text: decompressed and decoded like any text source, at most
/// [`MANIFEST_LIMIT`] bytes.
fn read_manifest(file: &SourceFile) -> Result<String> {
    let read_error = |source| ErrorKind::Read {
        path: PathBuf::from(&file.display),
        source,
    };
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(open_text(file, None)?, MANIFEST_LIMIT + 1),
        &mut text,
    )
    .map_err(read_error)?;
    if text.len() as u64 > MANIFEST_LIMIT {
        return Err(Error::config(format!(
            "{}: a manifest is at most {} MiB; is this a data file?",
            file.display,
            MANIFEST_LIMIT >> 20
        )));
    }
    Ok(text)
}
/// Decides each source's format and size. Nothing is read here: remote objects are known
/// by their checksum or ETag, and the rest are hashed (`pipeline::identity`) before or
/// while the batch loads.
pub fn describe(job: &Job, places: Vec<Place>) -> Result<Vec<SourceFile>> {
    places
        .into_par_iter()
        .map(|place| {
            let display = place.display();
            let format = job.read.format.or_else(|| FormatKind::from_path(&display)).ok_or_else(|| {
                Error::config(format!(
                    "{display}: cannot tell the format from the name (set [source] format = \"csv\", \"parquet\" or \"pg_dump\")"
                ))
            })?;
            let bytes = match (&place, place.local_path()) {
                (Place::S3(object), _) => object.size,
                (Place::Http(object), _) => object.size,
                (_, path) => {
                    std::fs::metadata(path.unwrap_or(Path::new("")))
                        .map_err(|source| ErrorKind::Read {
                            path: display.clone().into(),
                            source,
                        })?
                        .len()
                }
            };
            // S3 keeps the sha256 of some objects: they need not be read to be known.
            let sha256 = match &place {
                Place::S3(object) => object.checksum.as_ref().and_then(Checksum::sha256_hex),
                _ => None,
            };
            Ok(SourceFile {
                place,
                display,
                format,
                bytes,
                sha256,
                row_groups: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::resolve_entry;

    #[test]
    fn manifest_entries_resolve_from_the_manifests_folder() {
        let cases = [
            (
                "s3://landing/air/batch.list",
                "Dongsi.csv",
                "s3://landing/air/Dongsi.csv",
            ),
            ("s3://landing/batch.list", "air/*.csv", "s3://landing/air/*.csv"),
            ("s3://landing/air/batch.list", "/data/x.csv", "/data/x.csv"),
            ("s3://landing/air/batch.list", "s3://other/y.csv", "s3://other/y.csv"),
            ("https://host/files/batch.list?v=2", "a.csv", "https://host/files/a.csv"),
            ("http://host/files/batch.list", "../b.csv", "http://host/b.csv"),
            ("/srv/in/batch.list", "c.csv", "/srv/in/c.csv"),
            ("batch.list", "c.csv", "c.csv"),
            ("-", "d.csv", "d.csv"),
            ("/srv/in/batch.list", "https://host/e.csv", "https://host/e.csv"),
        ];
        for (manifest, entry, expected) in cases {
            assert_eq!(resolve_entry(entry, manifest), expected, "{entry} in {manifest}");
        }
    }
}
