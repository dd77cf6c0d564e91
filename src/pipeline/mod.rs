//! The data path of one batch: sources -> conform -> encode -> load -> commit, in one
//! transaction. Either every row of every file is visible after COMMIT, or none is.

pub mod bind;
pub mod commit;
pub mod conform;
pub mod encode;
pub mod load;
pub mod plan;
pub mod source;
pub mod transform;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::db::{catalog, ledger};
use crate::error::{Error, ErrorKind, Result};
use crate::hash::{sha256_file, to_hex};
use crate::job::{FormatKind, Job, Spec};
pub use source::object::StoreOptions;
use source::object::{HttpObject, S3Store, S3Url};
use source::{Place, SourceFile};

/// Hears how a load goes; the binary draws progress bars with it. The library never prints.
pub trait Progress: Send + Sync {
    /// The batch starts: its files and their total size.
    fn start(&self, _files: usize, _bytes: u64) {}
    /// A chunk was written to the COPY stream.
    fn advance(&self, _rows: u64, _copy_bytes: u64) {}
    /// COPY is done; the batch is merging and committing.
    fn finish(&self) {}
}

/// A [`Progress`] that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {}

/// How to run a load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Load even if the ledger has this content already.
    pub force: bool,
    /// Do everything but commit (`pgbatch validate`).
    pub dry_run: bool,
    /// How `s3://` and `http(s)://` sources are reached.
    pub store: StoreOptions,
    /// How long to wait for another load of the same target; `None`: as long as it takes.
    pub lock_wait: Option<std::time::Duration>,
}

/// What happened to a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Loaded,
    AlreadyLoaded,
    Validated,
    /// A SQL transform job found nothing new since its watermark.
    UpToDate,
}

/// The outcome of one batch: the JSON summary line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub status: Status,
    pub job: String,
    pub target: String,
    pub mode: &'static str,
    /// The new batch's id (loaded) or the earlier batch's (already loaded).
    pub batch_id: Option<i64>,
    pub content_hash: String,
    pub files: usize,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_skipped: u64,
    pub rows_deleted: u64,
    pub duration_ms: u64,
    /// Fields of the files that no column takes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields_ignored: Vec<String>,
    /// How the first file maps to the table (`pgbatch validate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mapping: Vec<plan::Mapping>,
    /// What differs from the last batch of the job that read the same paths, when this one
    /// is not a no-op.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// What changed since the last batch of a job that read the same paths.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Changes {
    pub since_batch: i64,
    /// The resolved job (mapping, formats, parse rules, mode) differs.
    pub job: bool,
    /// The sources whose content differs (size, sha256 or ETag).
    pub files: Vec<String>,
}

impl Changes {
    /// Compares a batch about to load with the previous one of the same paths.
    fn since(previous: &ledger::Previous, job_hash: &str, files: &[SourceFile]) -> Self {
        let changed = files
            .iter()
            .zip(&previous.sources)
            .filter(|(file, before)| {
                before.bytes != file.bytes
                    || before.sha256.as_deref() != file.sha256.as_deref()
                    || before.etag.as_deref() != file.etag()
            })
            .map(|(file, _)| file.display.clone())
            .collect();
        Changes {
            since_batch: previous.id,
            job: previous.job_hash.as_deref() != Some(job_hash),
            files: changed,
        }
    }
}

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
                    "{location:?}: HTTP has no listing, so a URL cannot be a glob (list the URLs in a manifest)"
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
                    path: location.clone(),
                    message: "the glob matches no file".into(),
                }
                .into());
            }
            matched.sort();
            places.extend(matched.into_iter().map(Place::Local));
        } else if path.is_file() {
            places.push(Place::Local(path));
        } else {
            return Err(ErrorKind::InputMissing {
                path: location.clone(),
                message: "no such file".into(),
            }
            .into());
        }
    }
    if places.is_empty() {
        return Err(Error::config(
            "the batch has no sources: give files, or list `sources` in the job",
        ));
    }
    Ok(places)
}

fn is_glob(location: &str) -> bool {
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
    .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))?;
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
    if is_glob(manifest) {
        return Err(Error::config(format!(
            "@{manifest}: a manifest is one file, not a glob"
        )));
    }
    let place = expand(&[manifest.to_owned()], Path::new(""), options)
        .await?
        .pop()
        .ok_or_else(|| Error::config(format!("@{manifest}: no such manifest")))?;
    let file = SourceFile {
        place,
        display: manifest.to_owned(),
        format: FormatKind::Csv,
        bytes: 0,
        sha256: None,
    };
    let text = tokio::task::spawn_blocking(move || read_manifest(&file))
        .await
        .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))??;
    let mut places = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if entry.starts_with('@') || entry == "-" {
            return Err(Error::config(format!(
                "{manifest}: line {}: a manifest lists files, not another manifest or standard input",
                number + 1
            )));
        }
        let found = expand(&[resolve_entry(entry, manifest)], Path::new(""), options)
            .await
            .map_err(|error| match error.kind() {
                ErrorKind::InputMissing { message, .. } => ErrorKind::InputMissing {
                    path: format!("{manifest}: line {}: {entry}", number + 1),
                    message: message.clone(),
                }
                .into(),
                _ => error,
            })?;
        places.extend(found);
    }
    if places.is_empty() {
        return Err(Error::config(format!("{manifest}: the manifest lists no sources")));
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
        &mut std::io::Read::take(source::open_text(file, None)?, MANIFEST_LIMIT + 1),
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
/// by their ETag, and the rest are hashed by [`hash_contents`], before or while the batch
/// loads.
fn describe(job: &Job, places: Vec<Place>) -> Result<Vec<SourceFile>> {
    places
        .into_par_iter()
        .map(|place| {
            let display = match &place {
                Place::Local(path) => path.display().to_string(),
                Place::Stdin(_) => "stdin".to_owned(),
                Place::S3(object) => object.url(),
                Place::Http(object) => object.url.clone(),
            };
            let format = job.source.format.or_else(|| FormatKind::from_path(&display)).ok_or_else(|| {
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
            Ok(SourceFile {
                place,
                display,
                format,
                bytes,
                sha256: None,
            })
        })
        .collect()
}

/// The sha256 of every source that has no ETag to be known by: local files, standard
/// input, and objects from an HTTP server without validators. In order, on one thread: it
/// runs beside a load, and must not take rayon's threads from it.
fn hash_contents(mut files: Vec<SourceFile>) -> Result<Vec<SourceFile>> {
    for file in &mut files {
        if file.etag().is_some() {
            continue;
        }
        let read_error = |source| ErrorKind::Read {
            path: file.display.clone().into(),
            source,
        };
        let (sha256, bytes) = match &file.place {
            Place::Http(object) => crate::hash::sha256_reader(&mut object.reader(0)?).map_err(read_error)?,
            place => sha256_file(place.local_path().unwrap_or(Path::new(""))).map_err(read_error)?,
        };
        // A server may not say how long an object is; a file must not change under the load.
        if file.place.local_path().is_some() && bytes != file.bytes {
            return Err(ErrorKind::Read {
                path: file.display.clone().into(),
                source: std::io::Error::other(format!(
                    "the file changed during the load ({} bytes, then {bytes})",
                    file.bytes
                )),
            }
            .into());
        }
        file.sha256 = Some(sha256);
        file.bytes = bytes;
    }
    Ok(files)
}

async fn hash_contents_async(files: Vec<SourceFile>) -> Result<Vec<SourceFile>> {
    tokio::task::spawn_blocking(move || hash_contents(files))
        .await
        .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))?
}

/// A batch's content hash, known before the load, or its sources still being hashed
/// beside it.
enum Identity {
    Known(ledger::ContentHash),
    Hashing(tokio::task::JoinHandle<Result<Vec<SourceFile>>>),
}

/// The batch's identity: the job's name and fingerprint, and the content of each source in
/// order; and the identity a batch recorded before fingerprints were kept would have had
/// (the name and the sources only), so that such a batch is still found once loaded.
fn content_hash(job: &Job, job_hash: &str, files: &[SourceFile]) -> ledger::ContentHash {
    let sources = sources_hash(files);
    let mut legacy = Sha256::new();
    legacy.update(job.name.as_bytes());
    legacy.update(&sources);
    let mut current = Sha256::new();
    current.update(job.name.as_bytes());
    current.update(b"\njob ");
    current.update(job_hash.as_bytes());
    current.update(&sources);
    ledger::ContentHash {
        current: to_hex(&current.finalize()),
        legacy: to_hex(&legacy.finalize()),
    }
}

/// The bytes the content hash takes from the sources: each one's identity, in order.
fn sources_hash(files: &[SourceFile]) -> Vec<u8> {
    let mut hasher: Vec<u8> = Vec::new();
    for file in files {
        hasher.extend(b"\n");
        match (&file.sha256, &file.place) {
            (Some(sha256), _) => hasher.extend(sha256.as_bytes()),
            // An object is itself at one ETag: the same key, size and ETag is the same content.
            (None, Place::S3(object)) => {
                hasher.extend(format!("{} {} {}", object.url(), object.size, object.etag).as_bytes());
            }
            (None, Place::Http(object)) => {
                let tag = object.etag.as_deref().unwrap_or("");
                hasher.extend(format!("{} {} {tag}", object.url, object.size).as_bytes());
            }
            // Files always have a sha256; this is only for completeness.
            (None, _) => hasher.extend(file.display.as_bytes()),
        }
    }
    hasher
}

/// Loads one batch: `locations` if given (from the working directory), else the job's own
/// sources. All files go through one COPY in one transaction with the ledger row.
///
/// # Errors
///
/// See [`crate::Error::exit_code`]: bad data names the file, position, column and value;
/// nothing is committed on any error.
#[expect(
    clippy::too_many_lines,
    reason = "the batch's transaction, start to commit, in one place"
)]
pub async fn load(
    client: &mut Client,
    spec: &Spec,
    locations: &[String],
    options: LoadOptions,
    progress: Arc<dyn Progress>,
) -> Result<Summary> {
    ledger::check_ready(&*client).await?;
    if spec.raw.sql.is_some() {
        return transform::run(client, spec, options).await;
    }
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let catalog = catalog::columns(&*client, &spec.raw.table).await?;
    let job = spec.resolve(&catalog)?;
    let job_hash = job.fingerprint();
    let job = Arc::new(job);
    let paths = if locations.is_empty() {
        expand(&job.sources, Path::new(""), &options.store).await?
    } else {
        expand(locations, Path::new(""), &options.store).await?
    };
    let files = {
        let job = job.clone();
        tokio::task::spawn_blocking(move || describe(&job, paths))
            .await
            .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))??
    };
    // Every file's fields, bound before the transaction and before any row is read.
    let planned = {
        let job = job.clone();
        let files = files.clone();
        tokio::task::spawn_blocking(move || plan::plan(&job, &files))
            .await
            .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))??
    };
    let job = planned.job.clone();
    let bytes = files.iter().map(|f| f.bytes).sum();
    let file_count = files.len();
    let summary = |status, batch_id, hash: &str| Summary {
        status,
        job: job.name.clone(),
        target: job.table.clone(),
        mode: job.mode.name(),
        batch_id,
        content_hash: hash.to_owned(),
        files: file_count,
        bytes,
        rows_read: 0,
        rows_loaded: 0,
        rows_skipped: 0,
        rows_deleted: 0,
        duration_ms: 0,
        fields_ignored: planned.fields_ignored.clone(),
        mapping: if options.dry_run {
            planned.mapping.clone()
        } else {
            Vec::new()
        },
        changes: None,
    };

    let tx = client
        .transaction()
        .await
        .map_err(|error| Error::db("starting the batch transaction", error))?;
    ledger::lock_target(&tx, &job.table, options.lock_wait).await?;
    let already_loaded = |earlier: i64, committed_at: &str, hash: &str| {
        tracing::info!(job = %job.name, batch_id = earlier, %committed_at, "Batch already loaded.");
        let mut done = summary(Status::AlreadyLoaded, Some(earlier), hash);
        done.duration_ms = elapsed_ms(started);
        done
    };
    // A likely re-run (the ledger has a batch of these paths and sizes) has its files
    // hashed first, so that finding it loaded costs a read, not a load. Any other batch
    // starts loading at once while its files are hashed beside it (the server does not
    // wait for the hash), and is looked up in the ledger before it merges.
    let rerun = !options.force && {
        let paths: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
        let sizes: Vec<u64> = files.iter().map(|f| f.bytes).collect();
        ledger::same_sources(&tx, &job.name, &paths, &sizes).await?
    };
    let (files, identity) = if rerun {
        let files = hash_contents_async(files).await?;
        let hash = content_hash(&job, &job_hash, &files);
        if let Some((earlier, committed_at)) = ledger::find(&tx, &job.name, &hash).await? {
            return Ok(already_loaded(earlier, &committed_at, &hash.current));
        }
        (files, Identity::Known(hash))
    } else {
        let hashing = tokio::spawn(hash_contents_async(files.clone()));
        (files, Identity::Hashing(hashing))
    };
    commit::stage(&tx, &job).await?;
    progress.start(files.len(), bytes);
    let files = Arc::new(files);
    let copied = load::copy(
        &tx,
        &commit::copy_statement(&job),
        job.clone(),
        files.clone(),
        progress.clone(),
    )
    .await;
    progress.finish();
    let streamed = match copied {
        Ok(streamed) => streamed,
        Err(error) => {
            // Content loaded before is reported as such even when loading it again failed
            // (its keys are in the table already, say): the ledger is asked before the
            // error is given, outside the aborted transaction.
            let rolled_back = tx.rollback().await.is_ok();
            if rolled_back
                && !options.force
                && let Identity::Hashing(hashing) = identity
                && let Ok(Ok(hashed)) = hashing.await
            {
                let hash = content_hash(&job, &job_hash, &hashed);
                if let Ok(Some((earlier, committed_at))) = ledger::find(&*client, &job.name, &hash).await {
                    return Ok(already_loaded(earlier, &committed_at, &hash.current));
                }
            }
            return Err(error);
        }
    };
    let (files, hash) = match identity {
        Identity::Known(hash) => (files, hash),
        Identity::Hashing(hashing) => {
            let hashed = hashing
                .await
                .map_err(|error| Error::from(ErrorKind::Internal(error.to_string())))??;
            let hash = content_hash(&job, &job_hash, &hashed);
            if !options.force
                && let Some((earlier, committed_at)) = ledger::find(&tx, &job.name, &hash).await?
            {
                tx.rollback()
                    .await
                    .map_err(|error| Error::db("rolling back a batch loaded before", error))?;
                return Ok(already_loaded(earlier, &committed_at, &hash.current));
            }
            (Arc::new(hashed), hash)
        }
    };
    let names: Vec<String> = files.iter().map(|f| f.file_name().to_owned()).collect();
    let merged = commit::merge(&tx, &job, streamed.rows_written, &commit::cover_ranges(&job, &names)).await?;

    let mut done = summary(
        if options.dry_run {
            Status::Validated
        } else {
            Status::Loaded
        },
        None,
        &hash.current,
    );
    let paths: Vec<&str> = files.iter().map(|f| f.display.as_str()).collect();
    done.changes = ledger::previous(&tx, &job.name, &paths)
        .await?
        .map(|previous| Changes::since(&previous, &job_hash, &files));
    done.rows_read = streamed.rows_read;
    done.rows_loaded = merged.rows_loaded;
    done.rows_skipped = streamed.rows_skipped;
    done.rows_deleted = merged.rows_deleted;
    if options.dry_run {
        tx.rollback()
            .await
            .map_err(|error| Error::db("rolling back the validation", error))?;
        done.duration_ms = elapsed_ms(started);
        return Ok(done);
    }
    let sources: Vec<ledger::SourceRecord> = files
        .iter()
        .zip(&streamed.rows_per_file)
        .map(|(file, rows)| ledger::SourceRecord {
            path: file.display.clone(),
            bytes: file.bytes,
            sha256: file.sha256.clone(),
            etag: file.etag().map(str::to_owned),
            rows: *rows,
        })
        .collect();
    done.duration_ms = elapsed_ms(started);
    let batch_id = commit_batch(tx, &done, &job_hash, &sources, options.force, started_at).await?;
    done.batch_id = Some(batch_id);
    done.duration_ms = elapsed_ms(started);
    tracing::info!(
        job = %job.name,
        batch_id,
        rows_loaded = done.rows_loaded,
        duration_ms = done.duration_ms,
        "Batch committed."
    );
    Ok(done)
}

/// Writes the ledger row of a batch from its summary, then commits the transaction: the
/// batch is loaded and recorded, or neither. Returns the batch id.
pub(crate) async fn commit_batch(
    tx: tokio_postgres::Transaction<'_>,
    summary: &Summary,
    job_hash: &str,
    sources: &[ledger::SourceRecord],
    forced: bool,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<i64> {
    let batch_id = ledger::record(
        &tx,
        &ledger::NewBatch {
            job: &summary.job,
            target: &summary.target,
            mode: summary.mode,
            content_hash: &summary.content_hash,
            job_hash,
            sources,
            rows_read: summary.rows_read,
            rows_loaded: summary.rows_loaded,
            rows_skipped: summary.rows_skipped,
            rows_deleted: summary.rows_deleted,
            forced,
            started_at,
            duration_ms: summary.duration_ms,
        },
    )
    .await?;
    tx.commit()
        .await
        .map_err(|error| Error::db(format!("committing batch {batch_id}"), error))?;
    Ok(batch_id)
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
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
