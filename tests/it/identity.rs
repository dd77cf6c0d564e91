//! What an S3 object is known by between batches, through the real binary against moto's
//! S3 (the S3 protocol with S3's checksums: `ChecksumMode`, full-object and composite
//! checksums, checksum algorithms in listings): its full-object checksum where S3 keeps
//! one, else its key, size and ETag, or with `identity = "content"` its bytes' sha256.
//! Each case re-uploads the same bytes as a multipart upload, which gives them a new ETag.

use std::fmt::Write as _;
use std::path::Path;

use aws_sdk_s3::config::{Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart,
    CreateBucketConfiguration,
};
use sha2::{Digest as _, Sha256};

use crate::cli::pgbatch_with;
use crate::mapping::job_file;
use crate::moto::{AWS_ENV, Moto};
use crate::pg::TestDb;

const BUCKET: &str = "landing";

/// An S3 client of the test's own, which adds only the checksums a call asks for.
async fn s3(moto: &Moto) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .endpoint_url(&moto.url)
        .force_path_style(true)
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    client
        .create_bucket()
        .bucket(BUCKET)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    client
}

/// One upload of `bytes` at `key`, with S3 keeping this checksum of it (or none).
async fn put(s3: &aws_sdk_s3::Client, key: &str, bytes: &[u8], checksum: Option<ChecksumAlgorithm>) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .set_checksum_algorithm(checksum)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .unwrap();
}

/// `bytes` uploaded again at `key` as a multipart upload of one part: a new ETag
/// (`...-1`), and with `checksum`, a full-object checksum of that algorithm.
async fn put_multipart(s3: &aws_sdk_s3::Client, key: &str, bytes: &[u8], checksum: Option<ChecksumAlgorithm>) {
    let full_object = checksum.as_ref().map(|_| ChecksumType::FullObject);
    let upload = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .set_checksum_algorithm(checksum.clone())
        .set_checksum_type(full_object.clone())
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .part_number(1)
        .set_checksum_algorithm(checksum)
        .body(ByteStream::from(bytes.to_vec()))
        .send()
        .await
        .unwrap();
    let completed = CompletedPart::builder()
        .part_number(1)
        .set_e_tag(part.e_tag().map(str::to_owned))
        .set_checksum_crc64_nvme(part.checksum_crc64_nvme().map(str::to_owned))
        .build();
    let completion = s3
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .set_checksum_type(full_object)
        .multipart_upload(CompletedMultipartUpload::builder().parts(completed).build())
        .send()
        .await;
    // moto answers 200 with a `CompleteMultipartUploadResponse` root, which the SDK does
    // not decode (S3's is `...Result`); the upload is complete, as the callers' HEADs check.
    if let Err(error) = completion {
        let status = error.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(200), "{error:?}");
    }
}

/// The object's ETag and CRC64NVME, as the server gives them.
async fn head(s3: &aws_sdk_s3::Client, key: &str) -> (String, Option<String>) {
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    (
        head.e_tag().unwrap().to_owned(),
        head.checksum_crc64_nvme().map(str::to_owned),
    )
}

/// A CSV of `rows` rows, each line different.
fn readings(rows: usize) -> Vec<u8> {
    let mut text = String::from("station,value\n");
    for i in 0..rows {
        writeln!(text, "s{},{i}", i % 7).unwrap();
    }
    text.into_bytes()
}

/// A `replace` job into `table` (made here), knowing remote objects as `identity` says.
fn job(db: &TestDb, dir: &Path, table: &str, identity: Option<&str>) -> String {
    db.query(&format!(
        "CREATE TABLE {table} (station text NOT NULL, value integer NOT NULL)"
    ));
    let identity = identity
        .map(|i| format!("[source]\nidentity = \"{i}\"\n"))
        .unwrap_or_default();
    job_file(
        dir,
        table,
        &format!("table = \"{table}\"\nmode = \"replace\"\n{identity}"),
    )
}

/// `pgbatch load JOB SOURCE` against moto; the summary's status and rows read.
fn load(moto: &Moto, db: &TestDb, dir: &Path, job: &str, source: &str) -> (String, u64) {
    let url = db.url();
    let out = pgbatch_with(
        dir,
        Some(&url),
        &["--json", "--s3-endpoint", &moto.url, "load", job, source],
        &AWS_ENV,
    );
    let summary = crate::s3::summary(&out);
    assert_eq!(out.status.code(), Some(0), "{summary}");
    (
        summary["status"].as_str().unwrap().to_owned(),
        summary["rows_read"].as_u64().unwrap_or(0),
    )
}

/// The ledger's record of the last batch's only source.
fn last_source(db: &TestDb, job: &str) -> serde_json::Value {
    let text = db.query(&format!(
        "SELECT sources->0 FROM pgbatch.batches WHERE job = '{job}' ORDER BY id DESC LIMIT 1"
    ));
    serde_json::from_str(&text).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().fold(String::new(), |mut hex, b| {
        write!(hex, "{b:02x}").unwrap();
        hex
    })
}

/// A full-object CRC64NVME (listed, then asked for by HEAD) is the object's identity: the same
/// bytes re-uploaded under a new ETag are the batch loaded before. A full-object sha256 is
/// the same identity as a local file's: the file with those bytes is loaded already.
#[tokio::test]
async fn a_full_object_checksum_knows_the_same_bytes_under_a_new_etag() {
    let moto = Moto::start();
    let s3 = s3(&moto).await;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let job = job(&db, dir.path(), "readings", None);
    let bytes = readings(1000);

    put(&s3, "day/readings.csv", &bytes, Some(ChecksumAlgorithm::Crc64Nvme)).await;
    let (etag, crc) = head(&s3, "day/readings.csv").await;
    let crc = crc.expect("the server keeps the CRC64NVME");
    let glob = "s3://landing/day/*.csv";
    assert_eq!(load(&moto, &db, dir.path(), &job, glob), ("loaded".into(), 1000));
    let source = last_source(&db, "readings");
    assert_eq!(source["checksum"], format!("crc64nvme:{crc}"), "{source}");
    assert_eq!(source["etag"], etag);

    put_multipart(&s3, "day/readings.csv", &bytes, Some(ChecksumAlgorithm::Crc64Nvme)).await;
    let (new_etag, same_crc) = head(&s3, "day/readings.csv").await;
    assert_ne!(new_etag, etag, "a multipart upload has an ETag of its own");
    assert_eq!(same_crc.as_deref(), Some(crc.as_str()));
    assert_eq!(load(&moto, &db, dir.path(), &job, glob).0, "already_loaded");

    // Other bytes, with a sha256 the server keeps: named by key (a HEAD), a new batch, its
    // sha256 in the ledger as a local file's would be.
    let other = readings(1200);
    put(&s3, "day2/readings.csv", &other, Some(ChecksumAlgorithm::Sha256)).await;
    let key = "s3://landing/day2/readings.csv";
    assert_eq!(load(&moto, &db, dir.path(), &job, key), ("loaded".into(), 1200));
    assert_eq!(last_source(&db, "readings")["sha256"], sha256_hex(&other));
    let local = dir.path().join("readings.csv");
    std::fs::write(&local, &other).unwrap();
    assert_eq!(
        load(&moto, &db, dir.path(), &job, &local.display().to_string()).0,
        "already_loaded"
    );
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "2");
}

/// Without a checksum, an object is known by its key, size and ETag, so a re-upload of the
/// same bytes is a new batch; a job with `identity = "content"` knows it by the sha256 of
/// its bytes, and the re-upload is the batch loaded before.
#[tokio::test]
async fn identity_content_knows_a_re_upload_of_the_same_bytes() {
    let moto = Moto::start();
    let s3 = s3(&moto).await;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let by_etag = job(&db, dir.path(), "by_etag", None);
    let by_content = job(&db, dir.path(), "by_content", Some("content"));
    let bytes = readings(1500);
    put(&s3, "day/readings.csv", &bytes, None).await;
    let (etag, crc) = head(&s3, "day/readings.csv").await;
    assert_eq!(crc, None, "no checksum kept");
    let key = "s3://landing/day/readings.csv";
    for job in [&by_etag, &by_content] {
        assert_eq!(load(&moto, &db, dir.path(), job, key), ("loaded".into(), 1500));
    }
    let known = last_source(&db, "by_etag");
    assert_eq!(
        (known["etag"].as_str(), known.get("sha256")),
        (Some(etag.as_str()), None)
    );
    let hashed = last_source(&db, "by_content");
    assert_eq!(hashed["sha256"], sha256_hex(&bytes), "{hashed}");

    put_multipart(&s3, "day/readings.csv", &bytes, None).await;
    assert_ne!(head(&s3, "day/readings.csv").await.0, etag);
    assert_eq!(load(&moto, &db, dir.path(), &by_etag, key).0, "loaded");
    assert_eq!(load(&moto, &db, dir.path(), &by_content, key).0, "already_loaded");
    assert_eq!(
        db.query("SELECT string_agg(job || ' ' || n, ', ' ORDER BY job) FROM (SELECT job, count(*) n FROM pgbatch.batches GROUP BY job) b"),
        "by_content 1, by_etag 2"
    );
}
