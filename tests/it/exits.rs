//! Exit codes AWS Batch can trust: each class of failure through the binary, with its code,
//! its message, and nothing committed. The table itself is checked against the README's.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, pgbatch, pgbatch_with, stderr};
use crate::mapping::{file, job_file as job};
use crate::pg::{TestDb, cluster, repo};

#[test]
fn exit_codes_json_is_the_readme_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(dir.path(), None, &["exit-codes", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<(u64, bool)> = table["exit_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_u64().unwrap(), c["retryable"].as_bool().unwrap()))
        .collect();
    // The README's table: `| code | meaning | retry? |`, "yes" for a retry.
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let documented: Vec<(u64, bool)> = readme
        .lines()
        .skip_while(|l| !l.starts_with("### Exit codes"))
        .skip(1)
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            Some((cells.get(1)?.parse().ok()?, *cells.get(3)? == "yes"))
        })
        .collect();
    assert_eq!(ours, documented);
    assert_eq!(table["retryable"], serde_json::json!([69, 75]));
    let sqlstate = |code: &str| {
        table["sqlstates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["sqlstate"] == code)
            .map(|s| s["exit_code"].as_u64().unwrap())
    };
    assert_eq!(sqlstate("21"), Some(65));
    assert_eq!(sqlstate("40"), Some(75));
    assert_eq!(sqlstate("42"), Some(78));
}

#[test]
fn a_key_twice_in_an_upsert_batch_is_bad_data_naming_the_key() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer PRIMARY KEY, v text)");
    let spec = job(dir.path(), "kv", "table = \"kv\"\nmode = \"upsert\"\nkey = [\"k\"]\n");
    let csv = file(dir.path(), "a.csv", "k,v\n1,a\n2,b\n1,c\n");
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &spec, &csv]);
    let message = stderr(&out);
    assert_eq!(code(&out), 65, "{message}");
    assert!(
        message.contains(r#"the batch holds key ("k") = (1) 2 times, and an upsert takes each key once"#),
        "{message}"
    );
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
}

#[test]
fn rows_the_database_refuses_are_bad_data() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query(
        "CREATE TABLE kv (k integer CHECK (k > 0), v text);
         CREATE FUNCTION no_x() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN IF NEW.v = 'x' THEN RAISE EXCEPTION 'v may not be x (row k=%)', NEW.k; END IF; RETURN NEW; END $$;
         CREATE TRIGGER no_x BEFORE INSERT ON kv FOR EACH ROW EXECUTE FUNCTION no_x();",
    );
    let spec = job(dir.path(), "kv", "table = \"kv\"\n");
    for (name, text, expected) in [
        ("raise.csv", "k,v\n1,a\n2,x\n", "v may not be x (row k=2)"),
        (
            "check.csv",
            "k,v\n1,a\n0,b\n",
            "violates check constraint \"kv_k_check\"",
        ),
    ] {
        let csv = file(dir.path(), name, text);
        let out = pgbatch(dir.path(), Some(&db.url()), &["load", &spec, &csv]);
        let message = stderr(&out);
        assert_eq!(code(&out), 65, "{name}: {message}");
        assert!(message.contains(expected), "{name}: {message}");
    }
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
}

/// A database with a table `kv`, a job for it, and a one-row file.
pub(crate) fn kv_batch() -> (TestDb, tempfile::TempDir, String, String) {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer, v text)");
    let spec = job(dir.path(), "kv", "table = \"kv\"\n");
    let csv = file(dir.path(), "a.csv", "k,v\n1,a\n");
    (db, dir, spec, csv)
}

/// A session that holds an exclusive lock on `table` until dropped.
pub(crate) struct Locker(Child, String);

impl Locker {
    pub(crate) fn hold(db: &TestDb, table: &str) -> Self {
        Self::run(
            db,
            &format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            &format!("relation = '{table}'::regclass AND mode = 'AccessExclusiveLock'"),
        )
    }

    /// Holds the lock that loads of `table` take (an advisory lock, as a load holds it).
    fn load_lock(db: &TestDb, table: &str) -> Self {
        Self::run(
            db,
            &format!("SELECT pg_advisory_xact_lock(hashtextextended('pgbatch:load:{table}', 0))"),
            "locktype = 'advisory'",
        )
    }

    fn run(db: &TestDb, take: &str, held: &str) -> Self {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-d", &db.url()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        writeln!(
            child.stdin.as_mut().unwrap(),
            "SET application_name = 'locker'; BEGIN; {take}; SELECT pg_sleep(60);"
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while db.query(&format!(
            "SELECT count(*) FROM pg_locks WHERE {held} AND granted AND database = \
             (SELECT oid FROM pg_database WHERE datname = current_database())"
        )) != "1"
        {
            assert!(Instant::now() < deadline, "the locking session did not take its lock");
            std::thread::sleep(Duration::from_millis(50));
        }
        Locker(child, db.name.clone())
    }
}

impl Drop for Locker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        // The server side would sleep on, holding the lock, until it next wrote to psql.
        cluster().psql(
            &self.1,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'locker' AND datname = current_database()",
        );
    }
}

#[test]
fn lock_and_statement_timeouts_are_temporary_failures() {
    for (url_options, args, expected) in [
        (" options='-c lock_timeout=500'", &[][..], "lock timeout"),
        (
            "",
            &["--statement-timeout", "1"][..],
            "canceling statement due to statement timeout",
        ),
    ] {
        let (db, dir, spec, csv) = kv_batch();
        let _locker = Locker::hold(&db, "kv");
        let url = format!("{}{url_options}", db.url());
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["load", &spec, &csv]);
        let out = pgbatch(dir.path(), Some(&url), &all);
        let message = stderr(&out);
        assert_eq!(code(&out), 75, "{message}");
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn a_terminated_connection_is_unavailable() {
    let (db, _dir, spec, csv) = kv_batch();
    let locker = Locker::hold(&db, "kv");
    let load = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(["load", &spec, &csv])
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The load waits on the lock; the administrator terminates it there.
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'pgbatch' AND wait_event_type = 'Lock' AND datname = current_database()",
    ) != "1"
    {
        assert!(Instant::now() < deadline, "the load never waited on the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = load.wait_with_output().unwrap();
    drop(locker);
    let message = stderr(&out);
    assert_eq!(code(&out), 69, "{message}");
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
}

#[test]
fn a_load_waiting_on_another_gives_up_after_lock_wait_naming_it() {
    let (db, dir, spec, csv) = kv_batch();
    let locker = Locker::load_lock(&db, "kv");
    let started = Instant::now();
    let out = pgbatch(dir.path(), Some(&db.url()), &["--lock-wait", "1", "load", &spec, &csv]);
    let message = stderr(&out);
    assert_eq!(code(&out), 75, "{message}");
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    assert!(
        message.contains(r#"locking target "kv": another load of it still runs after 1 s (--lock-wait): backend "#)
            && message.contains(r#"("locker" from a local socket"#),
        "{message}"
    );
    drop(locker);
    // Once the other is done, the same load goes through.
    let out = pgbatch(dir.path(), Some(&db.url()), &["--lock-wait", "1", "load", &spec, &csv]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
}

#[test]
fn a_migration_waiting_for_a_lock_lets_readers_by_and_tries_again() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    db.query("CREATE TABLE kv (k integer, v text); INSERT INTO kv VALUES (1, 'a')");
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    for entry in std::fs::read_dir(repo().join("sql/migrations")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, migrations.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        migrations.join("0999_kv_extra.sql"),
        "ALTER TABLE kv ADD COLUMN extra integer;\n",
    )
    .unwrap();
    // A long reader: the ALTER cannot have its lock while it lasts.
    let reader = Locker::run(
        &db,
        "SELECT count(*) FROM kv",
        "relation = 'kv'::regclass AND mode = 'AccessShareLock'",
    );
    let migrate = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(["migrate", "--dir"])
        .arg(&migrations)
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it waits and retries, other readers get through: each waits at most the
    // migration's lock timeout (1 s), not until the long reader ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgbatch'",
    ) != "1"
    {
        assert!(Instant::now() < deadline, "migrate did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a reader waited {:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    drop(reader);
    let out = migrate.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        db.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'kv'::regclass AND attname = 'extra'"),
        "1"
    );
}

/// A panic in any thread of a load (the reader, a rayon conform worker, the hashing task),
/// injected with the `fail` crate's fail points: exit 70 with the panic's message, never a
/// signal, never retryable, and nothing committed.
#[test]
fn a_panic_in_any_thread_exits_70_and_commits_nothing() {
    let (db, dir, spec, csv) = kv_batch();
    for point in ["source::next_chunk", "conform::chunk", "identity::hash"] {
        let failpoints = format!("{point}=panic(injected at {point})");
        let out = pgbatch_with(
            dir.path(),
            Some(&db.url()),
            &["--json", "load", &spec, &csv],
            &[("FAILPOINTS", failpoints.as_str())],
        );
        let text = stderr(&out);
        assert_eq!(out.status.code(), Some(70), "{point}: {text}");
        assert!(text.contains(&format!("injected at {point}")), "{point}: {text}");
        assert!(text.contains("panicked"), "{point}: {text}");
        let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(line["retryable"], false, "{point}");
        assert_eq!(db.query("SELECT count(*) FROM kv"), "0", "{point}");
        assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0", "{point}");
    }
    // The control: without a fail point the same load commits.
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", &spec, &csv]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
}

/// A scheduled run while another load of its table goes on: `--lock-wait 0` gives up at once
/// (75, naming the other), `--skip-if-running` does nothing and exits 0 (status skipped);
/// once the other is done, the same command loads.
#[test]
fn a_scheduled_run_never_overlaps_itself() {
    let (db, dir, spec, csv) = kv_batch();
    let url = db.url();
    let other = Locker::load_lock(&db, "kv");
    let started = Instant::now();
    let out = pgbatch(dir.path(), Some(&url), &["--lock-wait", "0", "load", &spec, &csv]);
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another load of it still runs"),
        "{}",
        stderr(&out)
    );
    let scheduled = || {
        let out = pgbatch(
            dir.path(),
            Some(&url),
            &["--json", "load", "--skip-if-running", &spec, &csv],
        );
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["status"].clone()
    };
    assert_eq!(scheduled(), "skipped");
    // Neither waited out the default --lock-wait (600 s).
    assert!(started.elapsed() < Duration::from_mins(1));
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
    drop(other);
    assert_eq!(scheduled(), "loaded");
    assert_eq!(db.query("SELECT count(*) FROM kv"), "1");
}

/// A value the driver cannot convert (a parameter or a column of the wrong type) is a bug of
/// ours, exit 70, never retried: it would fail the same way every time.
#[tokio::test]
async fn an_error_the_driver_raises_on_our_side_is_internal_never_retried() {
    let db = TestDb::new();
    let client = db.client().await;
    let wrong_parameter = client.query("SELECT $1::int4", &[&"seven"]).await.unwrap_err();
    let error = pgbatch::Error::db("binding", wrong_parameter);
    assert_eq!(error.exit_code(), 70, "{error}");
    assert!(error.to_string().contains("error serializing parameter 0"), "{error}");
    let row = client.query_one("SELECT 'seven'::text", &[]).await.unwrap();
    let wrong_column = row.try_get::<_, i32>(0).unwrap_err();
    assert_eq!(pgbatch::Error::db("reading", wrong_column).exit_code(), 70);
    // The server's own refusal keeps its SQLSTATE's class: 22P02 is bad data.
    let refused = client.query("SELECT 'seven'::int4", &[]).await.unwrap_err();
    assert_eq!(pgbatch::Error::db("casting", refused).exit_code(), 65);
}
