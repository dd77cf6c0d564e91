//! Remote sources through the real binary: `s3://` against a real S3-protocol server
//! (s3s-fs) and `http://` against an HTTP server, both run by this test process on
//! loopback; compressed copies of a real file.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::pg::{TestDb, repo, shared};

const ACCESS_KEY: &str = "pgbatch-test";
const SECRET_KEY: &str = "pgbatch-test-secret";

/// An S3 server on loopback, storing buckets as folders of a temp dir, counting the
/// requests that ask for a byte range, and answering `503 Slow Down` to the next `failing`
/// requests.
pub(crate) struct S3 {
    root: tempfile::TempDir,
    address: SocketAddr,
    ranged: Arc<AtomicUsize>,
    failing: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl S3 {
    pub(crate) fn start() -> S3 {
        use hyper_util::rt::{TokioExecutor, TokioIo};
        use s3s::service::S3ServiceBuilder;

        let root = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let ranged = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ranged);
        let failing = Arc::new(AtomicUsize::new(0));
        let to_fail = Arc::clone(&failing);
        runtime.spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                let counter = Arc::clone(&counter);
                let to_fail = Arc::clone(&to_fail);
                let counting = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    if request.headers().contains_key("range") {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                    let fail = to_fail
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let service = service.clone();
                    async move {
                        if fail {
                            let busy = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                                        <Error><Code>SlowDown</Code><Message>busy</Message></Error>";
                            return Ok(hyper::Response::builder()
                                .status(503)
                                .header("content-type", "application/xml")
                                .body(s3s::Body::from(busy.to_owned()))
                                .unwrap());
                        }
                        hyper::service::Service::call(&service, request).await
                    }
                });
                let connection = http.serve_connection(TokioIo::new(socket), counting).into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        S3 {
            root,
            address,
            ranged,
            failing,
            _runtime: runtime,
        }
    }

    /// Puts `file` at `bucket/key` (the store's folders are its buckets).
    pub(crate) fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let path = self.root.path().join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The bytes of `bucket/key`, as the store keeps them.
    pub(crate) fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        std::fs::read(self.root.path().join(bucket).join(key)).unwrap()
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Runs `pgbatch` with S3 credentials for the test server and the test database.
pub(crate) fn pgbatch(db: &TestDb, endpoint: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgbatch"));
    command
        .current_dir(repo())
        .args(["--json", "--s3-endpoint", endpoint])
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("PGBATCH_LOG", "warn");
    command.output().unwrap()
}

pub(crate) fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rfind(|l| l.starts_with('{')).unwrap_or_else(|| {
        panic!(
            "no JSON line; exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(line).unwrap()
}

/// Asserts that `out` is input missing (66) with this message.
fn assert_missing(out: &Output, error: &str) {
    assert_eq!(out.status.code(), Some(66), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(summary(out)["error"], error);
}

fn station(name: &str) -> PathBuf {
    shared(&format!(
        "air_quality/beijing_multisite/PRSA_Data_{name}_20130301-20170228.csv"
    ))
}

/// A glob over a bucket loads every match as one batch; the ledger keeps each object's
/// ETag; the same objects again are a no-op; a changed object is a new batch.
#[test]
fn s3_glob_is_one_batch_and_etags_make_it_exactly_once() {
    let s3 = S3::start();
    let db = TestDb::new();
    for name in ["Dongsi", "Tiantan"] {
        s3.put(
            "landing",
            &format!("air/{name}.csv"),
            &std::fs::read(station(name)).unwrap(),
        );
    }
    s3.put("landing", "air/notes.txt", b"not a station");
    s3.put(
        "landing",
        "other/Guanyuan.csv",
        &std::fs::read(station("Guanyuan")).unwrap(),
    );
    let glob = "s3://landing/air/*.csv";
    let first = pgbatch(&db, &s3.endpoint(), &["load", "air_quality_beijing", glob]);
    let loaded = summary(&first);
    assert_eq!(first.status.code(), Some(0), "{loaded}");
    assert_eq!(
        (loaded["status"].as_str(), loaded["files"].as_u64()),
        (Some("loaded"), Some(2))
    );
    assert_eq!(loaded["rows_read"], 2 * 35_064);
    // The same rows as the local files give.
    let local = TestDb::new();
    let plain = pgbatch(
        &local,
        &s3.endpoint(),
        &[
            "load",
            "air_quality_beijing",
            &station("Dongsi").display().to_string(),
            &station("Tiantan").display().to_string(),
        ],
    );
    assert_eq!(summary(&plain)["rows_loaded"], loaded["rows_loaded"]);
    let digest = "SELECT md5(string_agg(concat_ws(',', station, parameter, time, value), ';' \
                  ORDER BY station, parameter, time)) FROM measurements";
    assert_eq!(db.query(digest), local.query(digest));
    let sources = db.query(
        "SELECT jsonb_path_query_array(sources, '$[*].path')::text, \
                            jsonb_path_query_array(sources, '$[*].etag')::text FROM pgbatch.batches",
    );
    let (paths, etags) = sources.split_once('|').unwrap();
    assert_eq!(
        paths,
        "[\"s3://landing/air/Dongsi.csv\", \"s3://landing/air/Tiantan.csv\"]"
    );
    assert_eq!(etags.matches('"').count(), 4, "two ETags: {etags}");
    // The same objects: nothing to do.
    let again = summary(&pgbatch(&db, &s3.endpoint(), &["load", "air_quality_beijing", glob]));
    assert_eq!(again["status"], "already_loaded");
    // One object changes (a day less): a new batch.
    let text = std::fs::read_to_string(station("Tiantan")).unwrap();
    let shorter: Vec<&str> = text.lines().take(35_064 - 24 + 1).collect();
    s3.put("landing", "air/Tiantan.csv", (shorter.join("\n") + "\n").as_bytes());
    // (The job appends: clear the table so the new batch does not collide with the old.)
    db.query("DELETE FROM measurements");
    let changed = summary(&pgbatch(&db, &s3.endpoint(), &["load", "air_quality_beijing", glob]));
    assert_eq!(changed["status"], "loaded", "{changed}");
    assert_eq!(
        changed["rows_read"],
        2 * 35_064 - 24,
        "the changed object is read as it is now"
    );
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "2");
}

/// Parquet from S3 reads the footer and the column chunks by byte range.
#[test]
fn s3_parquet_is_read_by_ranges() {
    let s3 = S3::start();
    let db = TestDb::new();
    let file = shared("air_quality/parquet_cotonou_openmeteo/air_quality.parquet");
    s3.put("landing", "cotonou/air_quality.parquet", &std::fs::read(&file).unwrap());
    let out = pgbatch(
        &db,
        &s3.endpoint(),
        &[
            "load",
            "air_quality_cotonou",
            "s3://landing/cotonou/air_quality.parquet",
        ],
    );
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        (s["rows_read"].as_u64(), s["rows_loaded"].as_u64()),
        (Some(5_472), Some(16_416))
    );
    assert!(
        s3.ranged.load(Ordering::SeqCst) >= 2,
        "footer and column chunks by range"
    );
}

/// A missing object or an empty glob is input missing (66), naming it.
#[test]
fn missing_objects_exit_66() {
    let s3 = S3::start();
    let db = TestDb::new();
    s3.put("landing", "air/x.csv", b"a\n1\n");
    for (source, error) in [
        ("s3://landing/air/nope.csv", "s3://landing/air/nope.csv: no such object"),
        (
            "s3://landing/none/*.csv",
            "s3://landing/none/*.csv: the glob matches no object",
        ),
    ] {
        assert_missing(
            &pgbatch(&db, &s3.endpoint(), &["load", "air_quality_beijing", source]),
            error,
        );
    }
}

/// A raw HTTP server that answers every request for `body` with its headers, then sends a
/// third of it and either closes the connection (`stall` false) or holds it open, silent,
/// for a minute (`stall` true).
fn broken_store(body: Vec<u8>, stall: bool) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let body = Arc::clone(&body);
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    request.push(byte[0]);
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"abc\"\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                if request.starts_with(b"GET") {
                    let _ = stream.write_all(&body[..body.len() / 3]);
                    if stall {
                        std::thread::sleep(std::time::Duration::from_mins(1));
                    }
                }
            });
        }
    });
    address
}

/// A store that is busy for a moment (`503 Slow Down` to the listing, the metadata and the
/// first reads) is retried with backoff, and the batch loads.
#[test]
fn transient_store_errors_are_retried() {
    let s3 = S3::start();
    let db = TestDb::new();
    s3.put("landing", "air/Dongsi.csv", &std::fs::read(station("Dongsi")).unwrap());
    let cotonou = "air_quality/parquet_cotonou_openmeteo/air_quality.parquet";
    s3.put(
        "landing",
        "air/cotonou.parquet",
        &std::fs::read(shared(cotonou)).unwrap(),
    );
    for (job, source) in [
        ("air_quality_beijing", "s3://landing/air/*.csv"),
        ("air_quality_cotonou", "s3://landing/air/cotonou.parquet"),
    ] {
        s3.failing.store(3, Ordering::SeqCst);
        let out = pgbatch(&db, &s3.endpoint(), &["load", job, source]);
        let s = summary(&out);
        assert_eq!(out.status.code(), Some(0), "{source}: {s}");
        assert_eq!(s["status"], "loaded", "{source}: {s}");
        assert_eq!(s3.failing.load(Ordering::SeqCst), 0, "the store refused three requests");
    }
    // Busier than the retries allow: the store is unavailable (69), nothing is loaded.
    s3.failing.store(100, Ordering::SeqCst);
    db.query("DELETE FROM measurements");
    let out = pgbatch(
        &db,
        &s3.endpoint(),
        &["load", "--force", "air_quality_beijing", "s3://landing/air/*.csv"],
    );
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(69), "{s}");
    assert!(s["error"].as_str().unwrap().contains("SlowDown"), "{s}");
    assert_eq!(db.query("SELECT count(*) FROM measurements"), "0");
}

/// A store that stops in the middle of an object, plain or gzip: the batch rolls back,
/// and the exit code says retry (69 or 75); the store's failure is not taken for a corrupt
/// gzip stream.
#[test]
fn a_store_that_stops_mid_stream_rolls_the_batch_back() {
    let db = TestDb::new();
    let plain = std::fs::read(station("Dongsi")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    for (body, key) in [(plain, "air/Dongsi.csv"), (gz.finish().unwrap(), "air/Dongsi.csv.gz")] {
        let address = broken_store(body, false);
        let out = pgbatch(
            &db,
            &format!("http://{address}"),
            &["load", "air_quality_beijing", &format!("s3://landing/{key}")],
        );
        let code = out.status.code();
        assert!(
            matches!(code, Some(69 | 75)),
            "{key}: exit {code:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(summary(&out)["retryable"], true);
        assert_eq!(db.query("SELECT count(*) FROM measurements"), "0");
        assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    }
}

/// A store that goes silent mid-object but keeps the connection open: after
/// `--store-timeout` seconds without a byte the batch fails (69, retryable) and rolls back,
/// for S3 (the SDK's stalled-stream protection) and for HTTP (reqwest's read timeout)
/// alike, instead of waiting as long as the server holds on.
#[test]
fn a_store_that_stalls_fails_the_batch_instead_of_hanging() {
    let db = TestDb::new();
    let address = broken_store(std::fs::read(station("Dongsi")).unwrap(), true);
    let s3 = "s3://landing/air/Dongsi.csv".to_owned();
    let http = format!("http://{address}/Dongsi.csv");
    for (source, why) in [(s3, "throughput of 0 B/s"), (http, "timed out")] {
        let started = std::time::Instant::now();
        let out = pgbatch(
            &db,
            &format!("http://{address}"),
            &["--store-timeout", "2", "load", "air_quality_beijing", &source],
        );
        let waited = started.elapsed();
        let s = summary(&out);
        assert!(matches!(out.status.code(), Some(69 | 75)), "{source}: {s}");
        assert_eq!(s["retryable"], true, "{source}: {s}");
        let error = s["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("reading {source}: ")) && error.contains(why),
            "the error names the object and the stall: {error}"
        );
        assert!(
            waited < std::time::Duration::from_secs(40),
            "{source}: the load waited {waited:?}, as long as the server held the connection"
        );
        assert_eq!(db.query("SELECT count(*) FROM measurements"), "0");
        assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    }
}

/// A manifest kept in the bucket: its relative entries are keys under its own prefix,
/// absolute ones (a local path here, allowed by `--allow-manifest-escape`) are taken as
/// they are; it may be compressed; a missing entry names the manifest, the line and the
/// entry.
#[test]
fn s3_manifests_list_keys_relative_to_their_prefix() {
    let s3 = S3::start();
    let db = TestDb::new();
    s3.put("landing", "air/Dongsi.csv", &std::fs::read(station("Dongsi")).unwrap());
    s3.put(
        "landing",
        "air/more/Tiantan.csv",
        &std::fs::read(station("Tiantan")).unwrap(),
    );
    let list = format!(
        "# one batch\nDongsi.csv\nmore/Tiantan.csv\n\n{}\n",
        station("Guanyuan").display()
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(list.as_bytes()).unwrap();
    s3.put("landing", "air/batch.list.gz", &gz.finish().unwrap());
    let out = pgbatch(
        &db,
        &s3.endpoint(),
        &[
            "--allow-manifest-escape",
            "load",
            "air_quality_beijing",
            "@s3://landing/air/batch.list.gz",
        ],
    );
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        (s["files"].as_u64(), s["rows_read"].as_u64()),
        (Some(3), Some(3 * 35_064))
    );
    assert_eq!(
        db.query("SELECT jsonb_path_query_array(sources, '$[*].path')::text FROM pgbatch.batches"),
        format!(
            "[\"s3://landing/air/Dongsi.csv\", \"s3://landing/air/more/Tiantan.csv\", \"{}\"]",
            station("Guanyuan").display()
        )
    );
    s3.put("landing", "air/broken.list", b"Dongsi.csv\nWanliu.csv\n");
    let out = pgbatch(
        &db,
        &s3.endpoint(),
        &["load", "air_quality_beijing", "@s3://landing/air/broken.list"],
    );
    assert_missing(&out, "s3://landing/air/broken.list: line 2: Wanliu.csv: no such object");
}

/// A gzip and a zstd copy of a real file load the same rows as the file itself.
#[test]
fn compressed_copies_load_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(station("Dongsi")).unwrap();
    let gz = dir.path().join("Dongsi.csv.gz");
    let mut encoder = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    encoder.write_all(&plain).unwrap();
    encoder.finish().unwrap();
    let zst = dir.path().join("Dongsi.csv.zst");
    std::fs::write(&zst, zstd::encode_all(plain.as_slice(), 3).unwrap()).unwrap();
    let digest = "SELECT count(*), md5(string_agg(concat_ws(',', station, parameter, time, value), ';' \
                  ORDER BY station, parameter, time)) FROM measurements";
    let mut digests = Vec::new();
    for file in [station("Dongsi"), gz, zst] {
        let db = TestDb::new();
        let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_beijing", path(&file)]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        digests.push(db.query(digest));
    }
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0], digests[2]);
    // Broken copies: cut short, corrupted in the middle, named for a codec they are not in.
    let gz_bytes = std::fs::read(dir.path().join("Dongsi.csv.gz")).unwrap();
    let cut = dir.path().join("cut.csv.gz");
    std::fs::write(&cut, &gz_bytes[..gz_bytes.len() / 2]).unwrap();
    let mut zst_bytes = std::fs::read(dir.path().join("Dongsi.csv.zst")).unwrap();
    let middle = zst_bytes.len() / 2;
    zst_bytes[middle..middle + 64].fill(0xAA);
    let corrupt = dir.path().join("corrupt.csv.zst");
    std::fs::write(&corrupt, zst_bytes).unwrap();
    let misnamed = dir.path().join("plain.csv.gz");
    std::fs::write(&misnamed, &plain).unwrap();
    let db = TestDb::new();
    let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_beijing", path(&cut)]);
    assert_eq!(out.status.code(), Some(65), "a cut file is bad data, not worth a retry");
    assert_eq!(
        summary(&out)["error"],
        format!(
            "reading {}: the gzip stream is corrupt or cut short (incomplete deflate stream)",
            cut.display()
        )
    );
    // zstd frames written without a checksum: the garbage shows up as bad CSV, by line.
    let out = pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", path(&corrupt)],
    );
    assert_eq!(out.status.code(), Some(65));
    assert!(summary(&out)["location"]["position"]["line"].is_u64());
    // The suffix says gzip, the magic bytes plain text: read as what it is.
    let out = pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", path(&misnamed)],
    );
    assert_eq!(summary(&out)["rows_read"], 35_064);
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "1");
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A loopback HTTP server for the files of a folder, with `ETag`s (unless `etags` is
/// false), byte ranges and `If-Match`; counts the ranged requests.
struct Http {
    dir: tempfile::TempDir,
    address: SocketAddr,
    ranged: Arc<AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl Http {
    fn start(etags: bool) -> Http {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::{HeaderMap, StatusCode, header};
        use axum::response::IntoResponse;

        type Served = (PathBuf, bool, Arc<AtomicUsize>);
        async fn file(
            State((dir, etags, ranged)): State<Served>,
            UrlPath(name): UrlPath<String>,
            headers: HeaderMap,
        ) -> axum::response::Response {
            let Ok(bytes) = std::fs::read(dir.join(&name)) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let tag = format!("\"{}\"", &pgbatch::hash::sha256_hex(&bytes)[..16]);
            if let Some(wanted) = headers.get(header::IF_MATCH)
                && wanted.to_str().unwrap() != tag
            {
                return StatusCode::PRECONDITION_FAILED.into_response();
            }
            let mut status = StatusCode::OK;
            let mut body = bytes.clone();
            let mut extra = Vec::new();
            if let Some(range) = headers.get(header::RANGE) {
                ranged.fetch_add(1, Ordering::SeqCst);
                let spec = range.to_str().unwrap().trim_start_matches("bytes=");
                let (start, end) = spec.split_once('-').unwrap();
                let start: usize = start.parse().unwrap();
                let end: usize = end.parse().unwrap_or(bytes.len() - 1).min(bytes.len() - 1);
                body = bytes[start..=end].to_vec();
                status = StatusCode::PARTIAL_CONTENT;
                extra.push((header::CONTENT_RANGE, format!("bytes {start}-{end}/{}", bytes.len())));
            }
            extra.push((header::CONTENT_LENGTH, body.len().to_string()));
            extra.push((header::ACCEPT_RANGES, "bytes".to_owned()));
            if etags {
                extra.push((header::ETAG, tag));
            }
            let mut response = (status, body).into_response();
            for (name, value) in extra {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }

        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let ranged = Arc::new(AtomicUsize::new(0));
        let router = axum::Router::new()
            .route("/files/{name}", axum::routing::get(file))
            // Redirects: on this server, and away to another.
            .route(
                "/here/{name}",
                axum::routing::get(|axum::extract::Path(name): axum::extract::Path<String>| async move {
                    axum::response::Redirect::temporary(&format!("/files/{name}"))
                }),
            )
            .route(
                "/away/{name}",
                axum::routing::get(|axum::extract::Path(name): axum::extract::Path<String>| async move {
                    axum::response::Redirect::temporary(&format!("http://127.0.0.2:9/files/{name}"))
                }),
            )
            .with_state((dir.path().to_path_buf(), etags, Arc::clone(&ranged)));
        runtime.spawn(async move { axum::serve(listener, router).await });
        Http {
            dir,
            address,
            ranged,
            _runtime: runtime,
        }
    }

    fn put(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
        format!("http://{}/files/{name}", self.address)
    }
}

/// An `http://` CSV loads like the file; its `ETag` makes a re-run a no-op.
#[test]
fn http_sources_stream_and_are_known_by_their_etag() {
    let http = Http::start(true);
    let db = TestDb::new();
    let url = http.put("Dongsi.csv", &std::fs::read(station("Dongsi")).unwrap());
    let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_beijing", &url]);
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(
        (s["status"].as_str(), s["rows_read"].as_u64()),
        (Some("loaded"), Some(35_064))
    );
    assert_eq!(
        db.query("SELECT sources->0->>'path', sources->0 ? 'etag', sources->0 ? 'sha256' FROM pgbatch.batches"),
        format!("{url}|t|f")
    );
    let again = summary(&pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", &url],
    ));
    assert_eq!(again["status"], "already_loaded");
    // Parquet by ranges.
    let parquet = http.put(
        "cotonou.parquet",
        &std::fs::read(shared("air_quality/parquet_cotonou_openmeteo/air_quality.parquet")).unwrap(),
    );
    let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_cotonou", &parquet]);
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["rows_read"], 5_472);
    assert!(
        http.ranged.load(Ordering::SeqCst) >= 2,
        "footer and column chunks by range"
    );
    // Missing, and globs (HTTP cannot list).
    let missing = format!("http://{}/files/nope.csv", http.address);
    let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_beijing", &missing]);
    assert_missing(&out, &format!("{missing}: no such object (HTTP 404)"));
    let out = pgbatch(
        &db,
        "http://127.0.0.1:9",
        &[
            "load",
            "air_quality_beijing",
            &format!("http://{}/files/*.csv", http.address),
        ],
    );
    assert_eq!(out.status.code(), Some(78));
    // A manifest served over HTTP names the same object relative to its own URL: the
    // batch is the one already loaded.
    let manifest = http.put("batch.list", b"Dongsi.csv\n");
    let again = summary(&pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", &format!("@{manifest}")],
    ));
    assert_eq!(
        (again["status"].as_str(), again["files"].as_u64()),
        (Some("already_loaded"), Some(1)),
        "{again}"
    );
}

/// A server without validators: the content is hashed (one read before the load), so the
/// same bytes again are still a no-op.
#[test]
fn http_without_etags_is_known_by_its_sha256() {
    let http = Http::start(false);
    let db = TestDb::new();
    let url = http.put("Tiantan.csv", &std::fs::read(station("Tiantan")).unwrap());
    let first = summary(&pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", &url],
    ));
    assert_eq!(first["status"], "loaded", "{first}");
    assert_eq!(
        db.query("SELECT sources->0->>'sha256' FROM pgbatch.batches"),
        pgbatch::hash::sha256_file(&station("Tiantan")).unwrap().0
    );
    let again = summary(&pgbatch(
        &db,
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", &url],
    ));
    assert_eq!(again["status"], "already_loaded");
}

/// A URL with credentials and a signature (as a presigned URL has) loads: its `?` is a
/// query string, not a glob. Neither secret shows in the ledger (what `/batches` and
/// `pgbatch batches` read), the summary, the logs or an error; the same object signed anew
/// is the batch already loaded.
#[test]
fn presigned_and_credentialed_urls_load_and_their_secrets_show_nowhere() {
    let http = Http::start(true);
    let db = TestDb::new();
    let plain = http.put("Dongsi.csv", &std::fs::read(station("Dongsi")).unwrap());
    let signed = |signature: &str| {
        format!(
            "{}?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature={signature}",
            plain.replacen("http://", "http://loader:s3cr3t-pw@", 1)
        )
    };
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pgbatch"));
        command
            .current_dir(repo())
            .arg("--json")
            .args(args)
            .env("DATABASE_URL", db.url())
            .env("PGBATCH_LOG", "info");
        command.output().unwrap()
    };
    let out = run(&["load", "air_quality_beijing", &signed("f00dfeed")]);
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["rows_read"], 35_064);
    assert_eq!(
        db.query("SELECT sources->0->>'path' FROM pgbatch.batches"),
        format!("{plain}?<redacted>")
    );
    let again = run(&["load", "air_quality_beijing", &signed("0ther5ig")]);
    assert_eq!(summary(&again)["status"], "already_loaded", "{}", summary(&again));
    let missing = signed("f00dfeed").replace("Dongsi.csv", "nope.csv");
    let failed = run(&["load", "air_quality_beijing", &missing]);
    assert_eq!(failed.status.code(), Some(66));
    let listed = run(&["batches"]);
    let mut seen = db.query("SELECT sources::text FROM pgbatch.batches");
    for out in [&out, &again, &failed, &listed] {
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        seen.contains("Batch committed"),
        "the logs are part of what is checked: {seen}"
    );
    assert!(seen.contains("nope.csv?<redacted>"), "{seen}");
    for secret in ["s3cr3t-pw", "loader:", "f00dfeed", "0ther5ig", "AKIDEXAMPLE"] {
        assert!(!seen.contains(secret), "{secret} shown: {seen}");
    }
}

/// A manifest fetched from a server lists only that server's objects (a local path or
/// another server is refused, 78, naming the line) unless `--allow-manifest-escape`;
/// redirects are followed on the same server only.
#[test]
fn remote_manifests_and_redirects_stay_on_their_server() {
    let http = Http::start(true);
    let db = TestDb::new();
    let dongsi = std::fs::read(station("Dongsi")).unwrap();
    http.put("Dongsi.csv", &dongsi);
    let local = http.dir.path().join("Dongsi.csv").display().to_string();
    let elsewhere = "http://127.0.0.2:9/files/Dongsi.csv";
    for entry in [local.as_str(), elsewhere] {
        let manifest = http.put("batch.list", format!("# one entry\n{entry}\n").as_bytes());
        let out = pgbatch(
            &db,
            "http://127.0.0.1:9",
            &["load", "air_quality_beijing", &format!("@{manifest}")],
        );
        assert_eq!(out.status.code(), Some(78), "{entry}");
        let error = summary(&out)["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains(&format!("batch.list: line 2: {entry} is outside the manifest's server")),
            "{error}"
        );
    }
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    let manifest = http.put("batch.list", format!("{local}\n").as_bytes());
    let out = pgbatch(
        &db,
        "http://127.0.0.1:9",
        &[
            "--allow-manifest-escape",
            "load",
            "air_quality_beijing",
            &format!("@{manifest}"),
        ],
    );
    assert_eq!(summary(&out)["status"], "loaded", "{}", summary(&out));

    let away = format!("http://{}/away/Dongsi.csv", http.address);
    let out = pgbatch(&db, "http://127.0.0.1:9", &["load", "air_quality_beijing", &away]);
    assert_eq!(out.status.code(), Some(78), "{}", summary(&out));
    assert!(
        summary(&out)["error"]
            .as_str()
            .unwrap()
            .contains("redirects to another server"),
        "{}",
        summary(&out)
    );
    let here = format!("http://{}/here/Dongsi.csv", http.address);
    // Followed on the same server, to the file (into a database of its own: the rows are
    // in `db` already).
    let out = pgbatch(
        &TestDb::new(),
        "http://127.0.0.1:9",
        &["load", "air_quality_beijing", &here],
    );
    let s = summary(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert_eq!(s["rows_read"], 35_064, "{s}");
}
