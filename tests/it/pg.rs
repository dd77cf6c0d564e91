//! The test PostgreSQL: one cluster per test binary (initdb into a temp dir, as the
//! `postgres` user when run as root), a migrated template, and a fresh database per test.
//! It never skips: missing binaries fail loudly with what to install.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgbatch::db::ConnectOptions;

/// The socket's port number (the socket directory is private, so any number is free).
const PORT: u16 = 5432;
const TEMPLATE: &str = "pgbatch_template";

pub struct Cluster {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    /// A shell that stops the server when its stdin closes (when this process exits).
    _guard: Child,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn bindir() -> PathBuf {
    pgbatch::embedded::find_bindir().unwrap_or_else(|error| panic!("{error}"))
}

/// Runs a server binary, as `postgres` when we are root (`PostgreSQL` refuses root).
pub(crate) fn server_command(bin: &Path, root: bool) -> Command {
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin);
        command
    } else {
        Command::new(bin)
    }
}

pub(crate) fn owner_ids() -> (u32, u32) {
    let out = Command::new("id")
        .args(["postgres"])
        .output()
        .expect("`id postgres` runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| -> u32 {
        text.split(key)
            .nth(1)
            .and_then(|rest| rest.split('(').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("running as root needs a `postgres` system user (install postgresql): {text}"))
    };
    (field("uid="), field("gid="))
}

/// A new cluster in `data`: superuser `postgres`, trust, UTF-8, C locale.
pub(crate) fn initdb(bin: &Path, data: &Path, root: bool) {
    let status = server_command(&bin.join("initdb"), root)
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdout(Stdio::null())
        .status()
        .expect("initdb runs");
    assert!(status.success(), "initdb failed");
}

pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

fn start() -> Cluster {
    let bin = bindir();
    let root = pgbatch::embedded::is_root();
    let dir = tempfile::Builder::new()
        .prefix("pgbatch-test-")
        .tempdir()
        .expect("a temp dir");
    let data = dir.path().join("data");
    let socket = dir.path().to_path_buf();
    if root {
        let (uid, gid) = owner_ids();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the test cluster dir");
    }
    initdb(&bin, &data, root);
    // A shell that starts the server, waits for its stdin to close, then stops it and
    // removes the cluster: both go away with the test process, however that ends (the
    // TempDir lives in a static, which is never dropped).
    let postgres = bin.join("postgres");
    let runner = if root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "{runner}'{}' -D '{}' -k '{}' -p {PORT} -c listen_addresses= -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
         > '{}/server.log' 2>&1 & read _; kill -INT $(head -1 '{}/postmaster.pid'); wait; rm -rf '{}'",
        postgres.display(),
        data.display(),
        socket.display(),
        socket.display(),
        data.display(),
        dir.path().display(),
    );
    let guard = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let cluster = Cluster {
        _dir: dir,
        socket,
        _guard: guard,
    };
    cluster.wait_ready();
    cluster.psql("postgres", &format!("CREATE DATABASE {TEMPLATE}"));
    let migrate = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(["migrate", "--dir"])
        .arg(repo().join("sql/migrations"))
        .env("DATABASE_URL", cluster.url(TEMPLATE))
        .output()
        .expect("pgbatch migrate runs");
    assert!(
        migrate.status.success(),
        "migrate failed: {}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    cluster
}

impl Cluster {
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.socket.join(format!(".s.PGSQL.{PORT}")).exists() {
                let ok = self
                    .psql_command("postgres")
                    .args(["-c", "select 1"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the test PostgreSQL did not start in 30 s; see {}/server.log",
            self.socket.display()
        );
    }

    /// `psql` on this cluster's socket, as `postgres`, on database `db`.
    fn psql_command(&self, db: &str) -> Command {
        let mut command = Command::new("psql");
        command
            .arg("-h")
            .arg(&self.socket)
            .args(["-p", &PORT.to_string(), "-U", "postgres", "-d", db]);
        command
    }

    /// Runs SQL through psql and returns its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut child = self
            .psql_command(db)
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql (postgresql-client) is installed");
        child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql failed on {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
    }

    /// The server's Unix socket.
    pub(crate) fn socket_file(&self) -> PathBuf {
        self.socket.join(format!(".s.PGSQL.{PORT}"))
    }

    /// A libpq key/value connection string for `db`.
    pub fn url(&self, db: &str) -> String {
        format!("host={} port={PORT} user=postgres dbname={db}", self.socket.display())
    }
}

/// A fresh, migrated database of its own for one test.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new() -> Self {
        let cluster = cluster();
        let name = format!("t_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        cluster.psql("postgres", &format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"));
        TestDb { name }
    }

    pub fn url(&self) -> String {
        cluster().url(&self.name)
    }

    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::parse(&self.url()).unwrap()
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        self.options().connect().await.unwrap()
    }

    /// One SQL query's rows, `|`-separated, through psql.
    pub fn query(&self, sql: &str) -> String {
        cluster().psql(&self.name, sql)
    }
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of the shared real datasets.
pub fn shared(path: &str) -> PathBuf {
    let p = repo().join("../shared/data").join(path);
    assert!(
        p.exists(),
        "{} is missing: the real datasets live in ../shared/data",
        p.display()
    );
    p
}
