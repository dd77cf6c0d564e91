//! The embedded default: a private PostgreSQL cluster started from the machine's own
//! binaries (`pg_config --bindir`, then `PATH`), in a data directory of pgbatch's, reached
//! on a Unix socket. Used when no database is configured (`pgbatch demo`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::db::ConnectOptions;
use crate::error::{Error, Result};

/// The socket's port number: it only names the socket file in our private directory.
const PORT: u16 = 5432;
const SUPERUSER: &str = "postgres";
/// The database the demo loads into.
pub const DATABASE: &str = "pgbatch";

/// A private cluster: its folder, and whether this process started it.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bindir: PathBuf,
    as_postgres: bool,
    started_here: bool,
}

/// Where the cluster lives: `PGBATCH_EMBEDDED_DIR`, else the user's cache. Root's home is
/// closed to the `postgres` user that the server must run as, so root uses `/var/tmp`.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PGBATCH_EMBEDDED_DIR") {
        return PathBuf::from(dir);
    }
    if is_root() {
        return PathBuf::from("/var/tmp/pgbatch-embedded");
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("pgbatch/embedded")
}

/// Whether this process runs as root (PostgreSQL then runs as `postgres`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The PostgreSQL server binaries: `pg_config --bindir`, else the `PATH` entry with `initdb`.
///
/// # Errors
///
/// A configuration error saying what to install when there are none.
pub fn find_bindir() -> Result<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    from_pg_config
        .filter(|d| d.join("initdb").is_file())
        .or_else(|| {
            std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).find(|p| p.join("initdb").is_file()))
        })
        .ok_or_else(|| {
            Error::config(
                "no database configured and no PostgreSQL server binaries (initdb, pg_ctl) found: \
                 set DATABASE_URL, or install PostgreSQL (apt-get install -y postgresql)",
            )
        })
}

impl Cluster {
    /// Starts the cluster in `dir` (creating it on first use), or adopts it if running.
    pub fn start(dir: &Path) -> Result<Self> {
        let bindir = find_bindir()?;
        let as_postgres = is_root();
        std::fs::create_dir_all(dir).map_err(|error| Error::config(format!("{}: {error}", dir.display())))?;
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            bindir,
            as_postgres,
            started_here: false,
        };
        if as_postgres {
            cluster.run(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir),
                "chown",
            )?;
        }
        if !cluster.data().join("PG_VERSION").is_file() {
            let mut initdb = cluster.tool("initdb");
            initdb
                .arg("-D")
                .arg(cluster.data())
                .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"]);
            cluster.run(&mut initdb, "initdb")?;
        }
        let running = cluster
            .tool("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(cluster.data())
            .stdout(Stdio::null())
            .status();
        if !running.is_ok_and(|s| s.success()) {
            let options = format!("-k {} -p {PORT} -c listen_addresses=''", dir.display());
            let mut start = cluster.tool("pg_ctl");
            start
                .args(["start", "-w", "-D"])
                .arg(cluster.data())
                .arg("-l")
                .arg(dir.join("server.log"))
                .args(["-o", &options]);
            cluster.run(&mut start, "pg_ctl start")?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let bin = self.bindir.join(name);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(bin);
            command
        } else {
            Command::new(bin)
        }
    }

    fn run(&self, command: &mut Command, what: &str) -> Result<()> {
        let out = command
            .stdout(Stdio::null())
            .output()
            .map_err(|error| Error::config(format!("running {what}: {error}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::config(format!(
                "{what} failed for the embedded cluster in {}: {}",
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Connection options for a database of the cluster.
    pub fn options(&self, dbname: &str) -> ConnectOptions {
        ConnectOptions::socket(&self.dir, PORT, SUPERUSER, dbname)
    }

    /// A libpq connection string, for `psql` and `DATABASE_URL`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={dbname}",
            self.dir.display()
        )
    }

    /// Creates the demo database when it does not exist yet.
    pub async fn ensure_database(&self, dbname: &str) -> Result<()> {
        let client = self.options("postgres").connect().await?;
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname])
            .await
            .map_err(|error| Error::db("looking up the demo database", error))?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE {}", crate::db::Ident::new(dbname).as_sql()))
                .await
                .map_err(|error| Error::db("creating the demo database", error))?;
        }
        Ok(())
    }

    /// Stops the server if this process started it.
    pub fn stop(&self) -> Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let mut stop = self.tool("pg_ctl");
        stop.args(["stop", "-w", "-m", "fast", "-D"]).arg(self.data());
        self.run(&mut stop, "pg_ctl stop")
    }
}
