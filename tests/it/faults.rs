//! A batch stays whole whatever stops it. A load of two Beijing files is held at each named
//! point of its path (`src/pipeline/fault.rs`), then its process killed (SIGKILL) or its
//! server stopped (`pg_ctl stop -m fast`, `-m immediate`). Afterwards the table and the
//! ledger are both the old state (nothing) or both the new one (every row of the files,
//! counted here from the CSV itself, and one batch saying so), the exit code is the
//! README's, and a rerun leaves the batch loaded exactly once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, command, pgbatch, stderr};
use crate::pg::{TestDb, shared};

/// The points before the commit: the old state must survive them.
const BEFORE_COMMIT: [&str; 4] = [
    "batch::after_copy",
    "batch::after_merge",
    "batch::after_ledger",
    "batch::before_commit",
];
const AFTER_COMMIT: &str = "batch::after_commit";

/// The parameters the `air_quality_beijing` job unpivots, as the files name them.
const PARAMETERS: [&str; 11] = [
    "PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM",
];

fn files() -> Vec<String> {
    ["Aotizhongxin", "Changping"]
        .iter()
        .map(|s| {
            shared(&format!(
                "air_quality/beijing_multisite/PRSA_Data_{s}_20130301-20170228.csv"
            ))
            .display()
            .to_string()
        })
        .collect()
}

/// The rows a whole load writes: every parameter value that is not NA, read from the files
/// with the csv crate (not through pgbatch).
pub(crate) fn expected_rows() -> u64 {
    let mut rows = 0;
    for file in files() {
        let mut reader = csv::Reader::from_path(&file).unwrap();
        let headers = reader.headers().unwrap().clone();
        let columns: Vec<usize> = PARAMETERS
            .iter()
            .map(|p| headers.iter().position(|h| h == *p).expect("a parameter column"))
            .collect();
        for record in reader.records() {
            let record = record.unwrap();
            rows += columns.iter().filter(|&&i| !matches!(&record[i], "NA" | "")).count() as u64;
        }
    }
    rows
}

/// The load's arguments.
pub(crate) fn load_args() -> Vec<String> {
    ["--json", "load", "air_quality_beijing"]
        .into_iter()
        .map(str::to_owned)
        .chain(files())
        .collect()
}

/// Starts the load (or `args`) held at `point`; returns the process once it is there, and
/// the file that releases it.
pub(crate) fn held(dir: &Path, url: &str, point: &str) -> (Child, PathBuf) {
    held_running(dir, url, point, &load_args())
}

fn held_running(dir: &Path, url: &str, point: &str, args: &[String]) -> (Child, PathBuf) {
    let marker = dir.join(format!("{}.reached", point.replace("::", "-")));
    let go = PathBuf::from(format!("{}.go", marker.display()));
    // Left by an earlier hold at the same point.
    let _ = std::fs::remove_file(&marker);
    let _ = std::fs::remove_file(&go);
    let failpoints = format!("{point}=return({})", marker.display());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = command(dir, Some(url), &args, &[("FAILPOINTS", failpoints.as_str())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(2);
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!("{point}: the load ended ({status}) before the point: {}", stderr(&out));
        }
        assert!(Instant::now() < deadline, "{point}: not reached in 120 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, go)
}

/// What the database holds: (rows in `measurements`, batches of the job, rows the ledger
/// says they loaded).
fn state(psql: &dyn Fn(&str) -> String) -> (u64, u64, u64) {
    let number = |sql: &str| psql(sql).parse::<u64>().unwrap();
    (
        number("SELECT count(*) FROM measurements"),
        number("SELECT count(*) FROM pgbatch.batches WHERE job = 'air_quality_beijing'"),
        number("SELECT coalesce(sum(rows_loaded), 0) FROM pgbatch.batches WHERE job = 'air_quality_beijing'"),
    )
}

/// Old state: nothing; new state: every row, and one batch that says so.
pub(crate) fn assert_state(what: &str, psql: &dyn Fn(&str) -> String, committed: bool, expected: u64) {
    let now = state(psql);
    let want = if committed { (expected, 1, expected) } else { (0, 0, 0) };
    assert_eq!(now, want, "{what}: (rows, batches, rows the ledger says)");
}

/// The rerun: exit 0, the batch loaded exactly once.
fn assert_rerun(what: &str, dir: &Path, url: &str, psql: &dyn Fn(&str) -> String, expected: u64) {
    assert_rerun_of(what, dir, url, psql, expected, &load_args());
}

fn assert_rerun_of(what: &str, dir: &Path, url: &str, psql: &dyn Fn(&str) -> String, expected: u64, args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = pgbatch(dir, Some(url), &args);
    assert_eq!(code(&out), 0, "{what}: the rerun: {}", stderr(&out));
    assert_state(&format!("{what}, rerun"), psql, true, expected);
}

/// SIGKILL at each point: before the commit nothing is left, after it everything.
#[test]
fn a_load_killed_at_any_point_is_whole_or_absent() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    for point in BEFORE_COMMIT.into_iter().chain([AFTER_COMMIT]) {
        let db = TestDb::new();
        let psql = |sql: &str| db.query(sql);
        let (mut child, _go) = held(dir.path(), &db.url(), point);
        child.kill().unwrap();
        let _ = child.wait();
        let what = format!("killed at {point}");
        assert_state(&what, &psql, point == AFTER_COMMIT, expected);
        assert_rerun(&what, dir.path(), &db.url(), &psql, expected);
    }
}

/// A private server this test may stop: `pg_ctl` on its own data directory.
struct Server {
    dir: tempfile::TempDir,
    cluster: pgbatch::embedded::Cluster,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::Builder::new().prefix("pgbatch-faults-").tempdir().unwrap();
        let cluster = pgbatch::embedded::Cluster::start(dir.path())
            .unwrap_or_else(|error| panic!("a private PostgreSQL (install postgresql): {error}"));
        Server { dir, cluster }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let bindir = pgbatch::embedded::find_bindir().unwrap();
        let mut command = if pgbatch::embedded::is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bindir.join("pg_ctl"));
            c
        } else {
            Command::new(bindir.join("pg_ctl"))
        };
        let out = command
            .args(args)
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .output()
            .expect("pg_ctl runs");
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn restart(&self) {
        let options = format!("-k {} -p 5432 -c listen_addresses=''", self.dir.path().display());
        let log = self.dir.path().join("server.log");
        self.pg_ctl(&["start", "-w", "-l", log.to_str().unwrap(), "-o", &options]);
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args([
                &self.cluster.url(db),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
    }
}

/// The server stopped at each point, fast (sessions terminated) and immediate (as in a
/// crash): before the commit the load exits 69 and nothing is left; after it the load ends
/// well and everything is there. A rerun once the server is back loads the batch once.
#[test]
fn a_load_whose_server_stops_at_any_point_is_whole_or_absent() {
    let expected = expected_rows();
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let migrations = crate::pg::repo().join("sql/migrations");
    let mut n = 0;
    for mode in ["fast", "immediate"] {
        for point in BEFORE_COMMIT.into_iter().chain([AFTER_COMMIT]) {
            n += 1;
            let db = format!("faults_{n}");
            server.psql("postgres", &format!("CREATE DATABASE {db}"));
            let url = server.cluster.url(&db);
            let out = pgbatch(
                dir.path(),
                Some(&url),
                &["migrate", "--dir", migrations.to_str().unwrap()],
            );
            assert_eq!(code(&out), 0, "{}", stderr(&out));
            let (child, go) = held(dir.path(), &url, point);
            server.pg_ctl(&["stop", "-w", "-m", mode]);
            std::fs::write(&go, b"").unwrap();
            let out = child.wait_with_output().unwrap();
            let what = format!("server stopped -m {mode} at {point}");
            let committed = point == AFTER_COMMIT;
            assert_eq!(code(&out), if committed { 0 } else { 69 }, "{what}: {}", stderr(&out));
            server.restart();
            let psql = |sql: &str| server.psql(&db, sql);
            assert_state(&what, &psql, committed, expected);
            assert_rerun(&what, dir.path(), &url, &psql, expected);
        }
    }
}

/// Twenty kills spread over the time of a whole load, not only at the named points: each
/// leaves the old state or the new one, never a mix, and a rerun loads the batch once.
#[test]
fn a_load_killed_at_twenty_moments_is_whole_or_absent() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let args = load_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // How long a whole load takes here.
    let whole = {
        let db = TestDb::new();
        let started = Instant::now();
        let out = pgbatch(dir.path(), Some(&db.url()), &args);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        started.elapsed()
    };
    let mut committed = 0;
    for moment in 1..=20u32 {
        let db = TestDb::new();
        let psql = |sql: &str| db.query(sql);
        let mut child = command(dir.path(), Some(&db.url()), &args, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole * moment / 21);
        child.kill().unwrap();
        let _ = child.wait();
        let what = format!("killed at {moment}/21 of {whole:?}");
        let now = state(&psql);
        assert!(
            now == (0, 0, 0) || now == (expected, 1, expected),
            "{what}: (rows, batches, rows the ledger says) = {now:?}, expected nothing or ({expected}, 1, {expected})"
        );
        committed += u32::from(now.1 == 1);
        assert_rerun(&what, dir.path(), &db.url(), &psql, expected);
    }
    // The kills fell while the load ran, not all before it began or after it ended.
    assert!(committed < 20, "every kill came after the commit");
}

/// A finalize killed at each point of its path: the shards' staging stays until a finalize
/// commits, so before the commit nothing is in the table and finalizing again loads the
/// batch; after it everything is, and finalizing again is a no-op.
#[test]
fn a_finalize_killed_at_any_point_is_whole_or_absent() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let key = "faults-1";
    let finalize: Vec<String> = ["--json", "finalize", "air_quality_beijing", "--batch-key", key]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for point in [
        "finalize::after_merge",
        "batch::after_ledger",
        "batch::before_commit",
        AFTER_COMMIT,
    ] {
        let db = TestDb::new();
        let psql = |sql: &str| db.query(sql);
        for index in ["0", "1"] {
            let mut args = load_args();
            args.extend(["--shards", "2", "--shard-index", index, "--batch-key", key].map(str::to_owned));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = pgbatch(dir.path(), Some(&db.url()), &args);
            assert_eq!(code(&out), 0, "shard {index}: {}", stderr(&out));
        }
        let (mut child, _go) = held_running(dir.path(), &db.url(), point, &finalize);
        child.kill().unwrap();
        let _ = child.wait();
        let what = format!("finalize killed at {point}");
        assert_state(&what, &psql, point == AFTER_COMMIT, expected);
        assert_rerun_of(&what, dir.path(), &db.url(), &psql, expected, &finalize);
    }
}
