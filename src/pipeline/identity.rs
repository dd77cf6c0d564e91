//! A batch's identity: the content of its sources (sha256, or the ETag an object is known
//! by) and the job's fingerprint, hashed into the content hash the ledger keys batches by.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::source::{Place, SourceFile, open_bytes};
use crate::db::ledger;
use crate::error::{ErrorKind, Result, joined};
use crate::hash::{sha256_file, to_hex};
use crate::job::{Job, KnownBy};

/// The sha256 of every source not known otherwise: local files, standard input, objects
/// from an HTTP server without validators, and (`by` content) every remote object whose
/// store did not give its sha256. In order, on one thread: it runs beside a load, and must
/// not take rayon's threads from it.
fn hash_contents(mut files: Vec<SourceFile>, by: KnownBy) -> Result<Vec<SourceFile>> {
    for file in &mut files {
        fail::fail_point!("identity::hash");
        if file.sha256.is_some() || (by == KnownBy::Object && file.etag().is_some()) {
            continue;
        }
        let read_error = |source| ErrorKind::Read {
            path: file.display.clone().into(),
            source,
        };
        let (sha256, bytes) = match &file.place {
            Place::Http(_) | Place::S3(_) => crate::hash::sha256_reader(&mut open_bytes(file)?).map_err(read_error)?,
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

/// [`hash_contents`] on a blocking thread.
pub(crate) async fn hash_contents_async(files: Vec<SourceFile>, by: KnownBy) -> Result<Vec<SourceFile>> {
    tokio::task::spawn_blocking(move || hash_contents(files, by))
        .await
        .map_err(joined)?
}

/// A batch's content hash, known before the load (with the hashed sources), or its
/// sources still being hashed beside it.
pub(crate) enum Identity {
    Known(ledger::ContentHash, Vec<SourceFile>),
    Hashing(tokio::task::JoinHandle<Result<Vec<SourceFile>>>),
}

/// The batch's identity: the job's name and fingerprint, and the content of each source in
/// order; and the identity a batch recorded before fingerprints were kept would have had
/// (the name and the sources only), so that such a batch is still found once loaded.
pub(crate) fn content_hash(job: &Job, job_hash: &str, files: &[SourceFile]) -> ledger::ContentHash {
    let identities: Vec<String> = files.iter().map(source_identity).collect();
    content_hash_of(&job.name, job_hash, &identities)
}

/// [`content_hash`] from each source's [`source_identity`]: how `finalize` finds the
/// identity of a batch its shards loaded.
pub(crate) fn content_hash_of(job: &str, job_hash: &str, identities: &[String]) -> ledger::ContentHash {
    let mut sources: Vec<u8> = Vec::new();
    for identity in identities {
        sources.extend(b"\n");
        sources.extend(identity.as_bytes());
    }
    let mut legacy = Sha256::new();
    legacy.update(job.as_bytes());
    legacy.update(&sources);
    let mut current = Sha256::new();
    current.update(job.as_bytes());
    current.update(b"\njob ");
    current.update(job_hash.as_bytes());
    current.update(&sources);
    ledger::ContentHash {
        current: to_hex(&current.finalize()),
        legacy: to_hex(&legacy.finalize()),
    }
}

/// What the content hash takes from one source: its sha256; for an S3 object, its
/// full-object checksum and size; for any other object known by its ETag, its address,
/// size and ETag.
pub(crate) fn source_identity(file: &SourceFile) -> String {
    match (&file.sha256, &file.place) {
        (Some(sha256), _) => sha256.clone(),
        (None, Place::S3(object)) => match &object.checksum {
            // The same bytes have the same full-object checksum, whatever the key or ETag.
            Some(checksum) => format!("{checksum} {}", object.size),
            // An object is itself at one ETag: the same key, size and ETag is the same content.
            None => format!("{} {} {}", object.url(), object.size, object.etag),
        },
        (None, Place::Http(object)) => {
            let tag = object.etag.as_deref().unwrap_or("");
            // The shown URL: a presigned URL signed anew is the same object.
            format!("{} {} {tag}", object.shown, object.size)
        }
        // Files always have a sha256; this is only for completeness.
        (None, _) => file.display.clone(),
    }
}

/// A source as the ledger records it, with the rows read from it.
pub(crate) fn source_record(file: &SourceFile, rows: u64) -> ledger::SourceRecord {
    ledger::SourceRecord {
        path: file.display.clone(),
        bytes: file.bytes,
        sha256: file.sha256.clone(),
        etag: file.etag().map(str::to_owned),
        checksum: match &file.place {
            Place::S3(object) => object
                .checksum
                .as_ref()
                .filter(|c| c.sha256_hex().is_none())
                .map(ToString::to_string),
            _ => None,
        },
        rows,
    }
}
