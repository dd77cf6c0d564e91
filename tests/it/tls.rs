//! TLS to the database as libpq does it, against a PostgreSQL of its own with `ssl = on`, a
//! CA and a server certificate made here by the `openssl` command, and `hostssl`-only rules:
//! each `sslmode` behaves as libpq documents it, a certificate that does not verify is 78
//! saying which check failed, and the server's own log and `pg_stat_ssl` show TLS in use.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::cli::{code, stderr};
use crate::mapping::{file, job_file};
use crate::pg::{bindir, initdb, owner_ids, repo};

struct TlsCluster {
    dir: tempfile::TempDir,
    port: u16,
    _guard: Child,
}

static CLUSTER: OnceLock<TlsCluster> = OnceLock::new();

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl command runs (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two CAs; a server certificate the first signs for the host name `localhost` only, and a
/// client certificate for the role `certuser`, which `pg_hba.conf` lets in by certificate only.
fn certificates(dir: &Path) {
    for ca in ["ca", "other-ca"] {
        let (key, crt, subject) = (
            format!("{ca}.key"),
            format!("{ca}.crt"),
            format!("/CN=pgbatch test {ca}"),
        );
        openssl(
            dir,
            &[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", &key, "-out", &crt, "-subj",
                &subject,
            ],
        );
    }
    // Extensions make X.509 v3 certificates, which rustls requires.
    sign(dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost");
    sign(dir, "client", "/CN=certuser", "extendedKeyUsage=clientAuth");
}

/// A key and a certificate `ca` signs: NAME.key, NAME.crt.
fn sign(dir: &Path, name: &str, subject: &str, extension: &str) {
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&ext), format!("{extension}\n")).unwrap();
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ],
    );
}

fn cluster() -> &'static TlsCluster {
    CLUSTER.get_or_init(|| {
        let bin = bindir();
        let root = pgbatch::embedded::is_root();
        let dir = tempfile::Builder::new().prefix("pgbatch-tls-").tempdir().unwrap();
        let data = dir.path().join("data");
        certificates(dir.path());
        if root {
            let (uid, gid) = owner_ids();
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), Some(gid)).unwrap();
            }
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        initdb(&bin, &data, root);
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all certuser 127.0.0.1/32 cert\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let certs = dir.path().display().to_string();
        let script = format!(
            "{runner}'{postgres}' -D '{data}' -k '{certs}' -p {port} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c ssl=on -c ssl_cert_file='{certs}/server.crt' -c ssl_key_file='{certs}/server.key' \
             -c ssl_ca_file='{certs}/ca.crt' \
             -c log_connections=on > '{certs}/server.log' 2>&1 & read _; \
             kill -INT $(head -1 '{data}/postmaster.pid'); wait; rm -rf '{certs}'",
            runner = if root { "runuser -u postgres -- " } else { "" },
            postgres = bin.join("postgres").display(),
            data = data.display(),
        );
        let guard = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let cluster = TlsCluster {
            dir,
            port,
            _guard: guard,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !cluster.psql("SELECT 1").is_ok_and(|out| out == "1") {
            assert!(
                Instant::now() < deadline,
                "the TLS test PostgreSQL did not start; see its server.log"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        cluster.psql("CREATE TABLE kv (k integer, v text)").unwrap();
        cluster.psql("CREATE ROLE certuser LOGIN SUPERUSER").unwrap();
        let migrate = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
            .args(["migrate", "--dir"])
            .arg(repo().join("sql/migrations"))
            .env("DATABASE_URL", cluster.url("verify-full", "localhost", "ca.crt"))
            .output()
            .unwrap();
        assert!(
            migrate.status.success(),
            "migrate over TLS: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        cluster
    })
}

impl TlsCluster {
    /// psql over the Unix socket (no TLS there).
    fn psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-h",
            ])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-c", sql])
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A URL over TCP to 127.0.0.1, naming the host as `host` (what verify-full checks).
    fn url(&self, mode: &str, host: &str, root: &str) -> String {
        let mut url = format!(
            "host={host} hostaddr=127.0.0.1 port={} user=postgres dbname=postgres sslmode={mode}",
            self.port
        );
        if !root.is_empty() {
            url = format!("{url} sslrootcert='{}'", self.path(root).display());
        }
        url
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("server.log")).unwrap_or_default()
    }
}

fn load(url: &str, env: &[(&str, String)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let job = job_file(dir.path(), "kv", "table = \"kv\"\nmode = \"append\"\n");
    let csv = file(dir.path(), &format!("{}.csv", std::process::id()), "k,v\n1,tls\n");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgbatch"));
    command.args(["load", "--force", &job, &csv]).env("DATABASE_URL", url);
    for var in ["PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"] {
        command.env_remove(var);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (code(&out), stderr(&out))
}

#[test]
fn verify_full_loads_over_tls_and_wrong_certificates_are_configuration_errors() {
    let c = cluster();
    let (status, message) = load(&c.url("verify-full", "localhost", "ca.crt"), &[]);
    assert_eq!(status, 0, "{message}");
    // The server's own log: the loader's connection was TLS.
    assert!(
        c.log().lines().any(|l| l
            .contains("connection authorized: user=postgres database=postgres application_name=pgbatch SSL enabled")),
        "{}",
        c.log()
    );

    let (status, message) = load(&c.url("verify-full", "localhost", "other-ca.crt"), &[]);
    assert_eq!(status, 78, "{message}");
    assert!(
        message.contains("TLS verification failed: the server's certificate is not signed by a CA of sslrootcert"),
        "{message}"
    );

    // The certificate names `localhost`, not the address: verify-full refuses, verify-ca
    // (the chain only) accepts.
    let (status, message) = load(&c.url("verify-full", "127.0.0.1", "ca.crt"), &[]);
    assert_eq!(status, 78, "{message}");
    assert!(
        message.contains("the server's certificate is not for this host name"),
        "{message}"
    );
    let (status, message) = load(&c.url("verify-ca", "127.0.0.1", "ca.crt"), &[]);
    assert_eq!(status, 0, "{message}");
    let (status, message) = load(&c.url("verify-ca", "127.0.0.1", "other-ca.crt"), &[]);
    assert_eq!(status, 78, "{message}");

    // A verifying mode with nothing to verify with says so.
    let (status, message) = load(
        &c.url("verify-full", "localhost", ""),
        &[("HOME", "/nonexistent".into())],
    );
    assert_eq!(status, 78, "{message}");
    assert!(message.contains("needs sslrootcert"), "{message}");
}

#[test]
fn the_other_modes_behave_as_libpq_documents() {
    let c = cluster();
    // require: encrypted, the certificate not checked.
    let (status, message) = load(&c.url("require", "127.0.0.1", ""), &[]);
    assert_eq!(status, 0, "{message}");
    // prefer (libpq's default) takes TLS when offered; allow tries plain first, which this
    // server refuses, then TLS.
    for mode in ["prefer", "allow"] {
        let (status, message) = load(&c.url(mode, "127.0.0.1", ""), &[]);
        assert_eq!(status, 0, "{mode}: {message}");
    }
    // disable against a server that takes TLS only: refused, and not worth a retry.
    let (status, message) = load(&c.url("disable", "127.0.0.1", ""), &[]);
    assert_eq!(status, 78, "{message}");
    assert!(message.contains("no encryption"), "{message}");
    // PGSSLMODE and PGSSLROOTCERT fill what the URL does not say.
    let bare = format!(
        "host=localhost hostaddr=127.0.0.1 port={} user=postgres dbname=postgres",
        c.port
    );
    let (status, message) = load(
        &bare,
        &[
            ("PGSSLMODE", "verify-full".into()),
            ("PGSSLROOTCERT", c.path("ca.crt").display().to_string()),
        ],
    );
    assert_eq!(status, 0, "{message}");
    let (status, message) = load(&bare, &[("PGSSLMODE", "disable".into())]);
    assert_eq!(status, 78, "{message}");
    // A URL carries them too.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert={}",
        c.port,
        c.path("ca.crt").display()
    );
    let (status, message) = load(&url, &[]);
    assert_eq!(status, 0, "{message}");
}

#[test]
fn every_api_pool_connection_is_tls() {
    let c = cluster();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .current_dir(repo())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--pool-size",
            "3",
            "--role",
            "",
        ])
        .env("DATABASE_URL", c.url("verify-full", "localhost", "ca.crt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    let mut answered = String::new();
    while !answered.starts_with("HTTP/1.1 200") {
        assert!(Instant::now() < deadline, "serve did not answer /readyz: {answered}");
        std::thread::sleep(Duration::from_millis(200));
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = stream.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            answered.clear();
            let _ = stream.read_to_string(&mut answered);
        }
    }
    let ssl = c.psql(
        "SELECT count(*) || ' ' || bool_and(s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.application_name = 'pgbatch' AND a.backend_type = 'client backend'",
    );
    let _ = serve.kill();
    let _ = serve.wait();
    let ssl = ssl.unwrap();
    assert!(ssl.ends_with(" true") && !ssl.starts_with("0 "), "{ssl}");
}

#[test]
fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
    let c = cluster();
    let url = |extra: &str| {
        format!(
            "host=localhost hostaddr=127.0.0.1 port={} user=certuser dbname=postgres sslmode=verify-full \
             sslrootcert='{}' {extra}",
            c.port,
            c.path("ca.crt").display()
        )
    };
    let with_cert = url(&format!(
        "sslcert='{}' sslkey='{}'",
        c.path("client.crt").display(),
        c.path("client.key").display()
    ));
    let (status, message) = load(&with_cert, &[]);
    assert_eq!(status, 0, "{message}");
    assert!(
        c.log()
            .lines()
            .any(|l| l.contains("connection authorized: user=certuser") && l.contains("SSL enabled")),
        "{}",
        c.log()
    );
    // Without it the server refuses: configuration, not worth a retry.
    let (status, message) = load(&url(""), &[]);
    assert_eq!(status, 78, "{message}");
    assert!(message.contains("certificate"), "{message}");
    let (status, message) = load(&url(&format!("sslcert='{}'", c.path("client.crt").display())), &[]);
    assert_eq!(status, 78, "{message}");
    assert!(message.contains("sslcert and sslkey go together"), "{message}");
}
