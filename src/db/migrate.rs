//! `pgbatch migrate`: applies `sql/migrations/NNNN_name.sql` in order, each in its own
//! transaction, and remembers each by version and sha256 in `pgbatch.migrations`. An applied
//! migration whose file has changed since is a configuration error, never re-run.

use std::path::{Path, PathBuf};

use tokio_postgres::Client;

use crate::error::{Error, ErrorKind, Result};
use crate::hash::sha256_hex;

// language=PostgreSQL
const BOOTSTRAP_SQL: &str = include_str!("../../sql/ledger/bootstrap.sql");
const LOCK_SQL: &str = include_str!("../../sql/ledger/migrate_lock.sql");
const APPLIED_SQL: &str = include_str!("../../sql/ledger/applied_migrations.sql");
const RECORD_SQL: &str = include_str!("../../sql/ledger/record_migration.sql");
const LOCK_TIMEOUT_SQL: &str = include_str!("../../sql/ledger/migration_lock_timeout.sql");

/// How long a migration waits for a lock at a time; readers queue behind a waiting ALTER
/// for at most this long.
const LOCK_TIMEOUT: &str = "1s";
/// How often a migration that could not take its locks tries again, and the pause between.
const LOCK_TRIES: u32 = 60;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
}

/// Reads the migrations in `dir`, sorted by version. Files must be named
/// `NNNN_name.sql`; every problem found is reported at once.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir).map_err(|source| ErrorKind::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut migrations = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|source| ErrorKind::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let Some((version, name)) = stem
            .split_once('_')
            .and_then(|(v, n)| Some((v.parse::<i64>().ok()?, n)))
        else {
            problems.push(format!(
                "{}: a migration file is named NNNN_name.sql (expected a number, then '_')",
                path.display()
            ));
            continue;
        };
        let sql = std::fs::read_to_string(&path).map_err(|source| ErrorKind::Read {
            path: path.clone(),
            source,
        })?;
        migrations.push(Migration {
            version,
            name: name.to_owned(),
            path,
            sql,
        });
    }
    migrations.sort_by_key(|m| m.version);
    for pair in migrations.windows(2) {
        if pair[0].version == pair[1].version {
            problems.push(format!(
                "{} and {}: two migrations with version {}",
                pair[0].path.display(),
                pair[1].path.display(),
                pair[0].version
            ));
        }
    }
    if problems.is_empty() {
        Ok(migrations)
    } else {
        Err(ErrorKind::Config { problems }.into())
    }
}

/// Applies the migrations not yet applied; returns the versions it applied. A migration
/// waits at most a second for a lock, then rolls back, lets the sessions queued behind it
/// go, and tries again (60 times).
///
/// # Errors
///
/// A configuration error when an applied migration's file changed or a migration fails; a
/// temporary failure (75) when one could not take its locks in every try.
pub async fn run(client: &mut Client, migrations: &[Migration]) -> Result<Vec<i64>> {
    client
        .batch_execute(BOOTSTRAP_SQL)
        .await
        .map_err(|error| Error::db("creating schema pgbatch", error))?;
    let mut applied_now = Vec::new();
    for migration in migrations {
        let mut tries = 0;
        let ran = loop {
            tries += 1;
            match apply(client, migration).await {
                Err(error) if error.sqlstate() == Some("55P03") && tries < LOCK_TRIES => {
                    tracing::info!(version = migration.version, tries, %error, "Migration waited too long for a lock; trying again.");
                    tokio::time::sleep(LOCK_PAUSE).await;
                }
                Err(error) if error.sqlstate() == Some("55P03") => {
                    return Err(ErrorKind::Busy {
                        context: migration.path.display().to_string(),
                        message: format!(
                            "the migration could not take its locks in {LOCK_TRIES} tries of {LOCK_TIMEOUT} each \
                             (other sessions hold the tables it changes): {error}"
                        ),
                    }
                    .into());
                }
                other => break other?,
            }
        };
        if ran {
            applied_now.push(migration.version);
        }
    }
    Ok(applied_now)
}

/// Applies one migration in its own transaction unless it was applied before; whether it
/// ran. A lock wait that timed out keeps its SQLSTATE (55P03) for the caller to retry.
async fn apply(client: &mut Client, migration: &Migration) -> Result<bool> {
    let tx = client
        .transaction()
        .await
        .map_err(|error| Error::db("starting a migration", error))?;
    tx.execute(LOCK_SQL, &[])
        .await
        .map_err(|error| Error::db("locking migrations", error))?;
    let applied = tx
        .query(APPLIED_SQL, &[])
        .await
        .map_err(|error| Error::db("reading applied migrations", error))?;
    let sha = sha256_hex(migration.sql.as_bytes());
    if let Some(row) = applied.iter().find(|row| row.get::<_, i64>(0) == migration.version) {
        let recorded: String = row.get(2);
        if recorded != sha {
            return Err(Error::config(format!(
                "{}: migration {} was applied with sha256 {recorded} but the file now has {sha} (add a new migration instead of editing an applied one)",
                migration.path.display(),
                migration.version
            )));
        }
        return Ok(false);
    }
    tx.execute(LOCK_TIMEOUT_SQL, &[&LOCK_TIMEOUT])
        .await
        .map_err(|error| Error::db("bounding the migration's lock waits", error))?;
    if let Err(error) = tx.batch_execute(&migration.sql).await {
        if error.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
            return Err(Error::db(
                format!("{}: waiting for a lock", migration.path.display()),
                error,
            ));
        }
        let detail = error
            .as_db_error()
            .map_or_else(|| error.to_string(), |db| db.message().to_owned());
        return Err(Error::config(format!(
            "{}: migration failed: {detail}",
            migration.path.display()
        )));
    }
    tx.execute(RECORD_SQL, &[&migration.version, &migration.name, &sha])
        .await
        .map_err(|error| Error::db("recording a migration", error))?;
    tx.commit()
        .await
        .map_err(|error| Error::db("committing a migration", error))?;
    tracing::info!(version = migration.version, name = %migration.name, "Migration applied.");
    Ok(true)
}
