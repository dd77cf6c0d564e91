//! Two runs at once, as a scheduler or an operator starts them: two loads of one batch, a
//! load racing `pgbatch migrate` either way round. As the README says, a load waits for
//! another load of its table (`--lock-wait`), and `migrate` waits 1 s at a time for a lock
//! and tries again; the batch is applied once, never twice, both runs end with their
//! documented exit code, and no session or lock is left behind. The first run is held at a
//! named point (`src/pipeline/fault.rs`) while the second starts, so the race is the same
//! every time.

use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, command, stderr};
use crate::faults::{assert_state, expected_rows, held, load_args};
use crate::pg::{TestDb, repo};

/// Waits (at most 60 s) until `sql` answers `want`.
fn wait_for(db: &TestDb, what: &str, sql: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_mins(1);
    while db.query(sql) != want {
        assert!(Instant::now() < deadline, "{what}: not seen in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Loads of this database that ask, 5 times a second, for the lock another load holds.
const ASKING: &str = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
     AND application_name = 'pgbatch' AND query LIKE '%pg_try_advisory_xact_lock%'";

/// Sessions of `pgbatch` on this database that wait on a lock.
const WAITING: &str = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
     AND application_name = 'pgbatch' AND wait_event_type = 'Lock'";

/// The load, as the test starts it a second time (no failure point).
fn second_load(dir: &Path, db: &TestDb) -> Child {
    let args = load_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    command(dir, Some(&db.url()), &args, &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The `"status"` of a `--json` run's summary.
fn status(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line.get("status").is_some())
        .unwrap_or_else(|| panic!("no summary with a status on stdout: {stdout}"));
    summary["status"].as_str().unwrap().to_owned()
}

/// Nothing left behind: no session of this database but the test's own, no advisory lock.
fn assert_nothing_left(db: &TestDb) {
    wait_for(
        db,
        "every other session of the database gone",
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        "0",
    );
    assert_eq!(
        db.query(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        "0",
        "advisory locks left behind"
    );
}

/// The second load of the same files waits for the first; once the first commits, it finds
/// the batch in the ledger and exits 0 saying so. Once, not twice.
#[test]
fn two_loads_of_one_batch_at_once_apply_it_once() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let psql = |sql: &str| db.query(sql);
    let (first, go) = held(dir.path(), &db.url(), "batch::after_copy");
    let second = second_load(dir.path(), &db);
    wait_for(&db, "the second load waiting on the first", ASKING, "1");
    std::fs::write(&go, "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(code(&first), 0, "the first load: {}", stderr(&first));
    assert_eq!(status(&first), "loaded");
    let second = second.wait_with_output().unwrap();
    assert_eq!(code(&second), 0, "the second load: {}", stderr(&second));
    assert_eq!(status(&second), "already_loaded");
    assert_state("two loads at once", &psql, true, expected);
    assert_nothing_left(&db);
}

/// The first load killed while the second waits on it: the second loads the batch, whole.
#[test]
fn a_load_waiting_on_one_that_is_killed_loads_the_batch() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let psql = |sql: &str| db.query(sql);
    let (mut first, _go) = held(dir.path(), &db.url(), "batch::after_merge");
    let second = second_load(dir.path(), &db);
    wait_for(&db, "the second load waiting on the first", ASKING, "1");
    first.kill().unwrap();
    let _ = first.wait();
    let second = second.wait_with_output().unwrap();
    assert_eq!(code(&second), 0, "the second load: {}", stderr(&second));
    assert_eq!(status(&second), "loaded");
    assert_state("the first load killed", &psql, true, expected);
    assert_nothing_left(&db);
}

/// The repository's migrations and `extra` as the last one, in a folder of `dir`.
fn migrations_with(dir: &Path, extra: &str) -> std::path::PathBuf {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for entry in std::fs::read_dir(repo().join("sql/migrations")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, migrations.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(migrations.join("0999_race.sql"), extra).unwrap();
    migrations
}

fn migrate(dir: &Path, db: &TestDb, migrations: &Path) -> Child {
    command(
        dir,
        Some(&db.url()),
        &["migrate", "--dir", &migrations.display().to_string()],
        &[],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap()
}

/// A migration that alters the table a load is writing: `migrate` waits and retries (1 s
/// at a time) until the load commits, then applies; the load is whole, and the column is
/// there.
#[test]
fn a_migration_started_during_a_load_waits_for_it() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let psql = |sql: &str| db.query(sql);
    let migrations = migrations_with(dir.path(), "ALTER TABLE measurements ADD COLUMN race_note text;\n");
    let (load, go) = held(dir.path(), &db.url(), "batch::after_merge");
    let migrating = migrate(dir.path(), &db, &migrations);
    // It waits on the load's lock (and times out, and tries again) for two seconds at least.
    wait_for(&db, "migrate waiting on the load", WAITING, "1");
    std::thread::sleep(Duration::from_millis(2500));
    std::fs::write(&go, "").unwrap();
    let load = load.wait_with_output().unwrap();
    assert_eq!(code(&load), 0, "the load: {}", stderr(&load));
    let migrated = migrating.wait_with_output().unwrap();
    assert_eq!(code(&migrated), 0, "migrate: {}", stderr(&migrated));
    assert_state("a migration during a load", &psql, true, expected);
    assert_eq!(
        db.query(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'measurements'::regclass AND attname = 'race_note'"
        ),
        "1"
    );
    assert_nothing_left(&db);
}

/// A migration that holds the table a load writes (for three seconds) when the load starts:
/// the load waits for it, then loads the batch whole.
#[test]
fn a_load_started_during_a_migration_waits_for_it() {
    let expected = expected_rows();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new();
    let psql = |sql: &str| db.query(sql);
    let migrations = migrations_with(
        dir.path(),
        "LOCK TABLE measurements IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep(3);\n",
    );
    let migrating = migrate(dir.path(), &db, &migrations);
    wait_for(
        &db,
        "the migration holding measurements",
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = 'pgbatch' AND query LIKE '%pg_sleep(3)%'",
        "1",
    );
    let load = second_load(dir.path(), &db);
    let migrated = migrating.wait_with_output().unwrap();
    assert_eq!(code(&migrated), 0, "migrate: {}", stderr(&migrated));
    let load = load.wait_with_output().unwrap();
    assert_eq!(code(&load), 0, "the load: {}", stderr(&load));
    assert_eq!(status(&load), "loaded");
    assert_state("a load during a migration", &psql, true, expected);
    assert_nothing_left(&db);
}
