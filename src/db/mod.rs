//! The database side that every command shares: where to connect (`DATABASE_URL`, or the
//! libpq `PG*` variables), the catalog (target column types), migrations, and the ledger.

pub mod catalog;
mod conninfo;
mod ident;
pub mod ledger;
pub mod migrate;
pub mod report;
pub mod shards;
pub mod tls;

use std::time::Duration;

use tokio_postgres::config::{Host, SslMode as DriverSslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket};

use crate::error::{Error, Result};
use conninfo::{env_lookup, split_tls, tls_options};
pub use ident::Ident;
use tls::{SslMode, TlsOptions};

/// The libpq variables pgbatch reads, in the order libpq documents them.
/// See <https://www.postgresql.org/docs/current/libpq-envars.html>.
const PG_VARS: [&str; 6] = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGAPPNAME"];

/// How long a connection attempt may take before the database counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TCP keepalives: an idle connection whose peer vanished (a failover that never resets
/// it) is found dead after 15 s + 3 x 5 s, instead of the system's two hours.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVES_RETRIES: u32 = 3;
/// Data sent but not acknowledged for this long ends the connection (Linux `TCP_USER_TIMEOUT`).
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(45);
/// The driver's keepalive idle time when none is given (its default).
const DRIVER_KEEPALIVES_IDLE: Duration = Duration::from_hours(2);

/// Settings a batch job's connection starts with, so that nothing waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Any one statement (a whole COPY is one); zero: no limit.
    pub statement_timeout: Duration,
    /// A transaction left idle (a stuck client holding locks); zero: no limit.
    pub idle_in_transaction_timeout: Duration,
}

/// Connection settings, from a URL or key/value string, or from the environment.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    config: Config,
    tls: TlsOptions,
}

impl ConnectOptions {
    /// Parses a `postgres://` URL or a libpq key/value string. TLS settings missing from it
    /// come from `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY`, as in libpq.
    pub fn parse(url: &str) -> Result<Self> {
        Self::parse_with(url, &env_lookup)
    }

    fn parse_with(url: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let (rest, given) = split_tls(url);
        let mut config: Config = rest
            .parse()
            .map_err(|error| Error::config(format!("DATABASE_URL is not a valid connection string: {error}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("pgbatch");
        }
        if config.get_user().is_none() {
            config.user(default_user());
        }
        let setting = |key: &str| {
            given
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .or_else(|| lookup(&format!("PG{}", key.to_ascii_uppercase())))
        };
        let tls = tls_options(&setting)?;
        Ok(Self::with_tls(config, tls))
    }

    /// Settles the driver's own TLS mode from ours: no TLS on Unix sockets (as libpq),
    /// `prefer` as the driver does it, TLS required from `require` on.
    fn with_tls(mut config: Config, tls: TlsOptions) -> Self {
        if config.get_keepalives_idle() == DRIVER_KEEPALIVES_IDLE {
            config
                .keepalives_idle(KEEPALIVES_IDLE)
                .keepalives_interval(KEEPALIVES_INTERVAL)
                .keepalives_retries(KEEPALIVES_RETRIES);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        let sockets_only = config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
        config.ssl_mode(match tls.mode {
            _ if sockets_only => DriverSslMode::Disable,
            SslMode::Disable | SslMode::Allow => DriverSslMode::Disable,
            SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });
        Self { config, tls }
    }

    /// Reads `DATABASE_URL`, else the libpq `PG*` variables. `None` when neither is set:
    /// the caller then decides whether to start the embedded database.
    pub fn from_env() -> Result<Option<Self>> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        if let Some(url) = lookup("DATABASE_URL") {
            return Self::parse(&url).map(Some);
        }
        if PG_VARS.iter().all(|name| lookup(name).is_none()) {
            return Ok(None);
        }
        let mut config = Config::new();
        // libpq's defaults on Debian: the socket directory, port 5432, the OS user.
        config.host(lookup("PGHOST").unwrap_or_else(|| "/var/run/postgresql".into()));
        let port = lookup("PGPORT").unwrap_or_else(|| "5432".into());
        config.port(
            port.parse()
                .map_err(|_| Error::config(format!("PGPORT {port:?} is not a port number")))?,
        );
        let user = lookup("PGUSER").unwrap_or_else(default_user);
        config.dbname(lookup("PGDATABASE").unwrap_or_else(|| user.clone()));
        config.user(&user);
        if let Some(password) = lookup("PGPASSWORD") {
            config.password(password);
        }
        config.application_name(lookup("PGAPPNAME").unwrap_or_else(|| "pgbatch".into()));
        config.connect_timeout(CONNECT_TIMEOUT);
        let tls = tls_options(&|key: &str| lookup(&format!("PG{}", key.to_ascii_uppercase())))?;
        Ok(Some(Self::with_tls(config, tls)))
    }

    /// Builds options for a Unix socket directory (the embedded cluster, tests).
    pub fn socket(dir: &std::path::Path, port: u16, user: &str, dbname: &str) -> Self {
        let mut config = Config::new();
        config
            .host_path(dir)
            .port(port)
            .user(user)
            .dbname(dbname)
            .application_name("pgbatch")
            .connect_timeout(CONNECT_TIMEOUT);
        Self::with_tls(config, TlsOptions::default())
    }

    /// The driver's settings, for pools that make their own connections (with
    /// [`ConnectOptions::tls_connector`]).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// These options, with the session starting with `session`'s settings (after any
    /// `options` of the connection string), and with JIT compilation off (before them, so
    /// that `-c jit=on` there turns it on again): a batch's statements are planned for
    /// whole tables and run once, and compiling them cost more than it saved (the
    /// `price_stats` job spent 0.8 s of its 1.0 s compiling a plan for a few lanes).
    #[must_use]
    pub fn with_session(mut self, session: &Session) -> Self {
        let mut options = format!("-c jit=off {}", self.config.get_options().unwrap_or_default());
        for (name, value) in [
            ("statement_timeout", session.statement_timeout),
            (
                "idle_in_transaction_session_timeout",
                session.idle_in_transaction_timeout,
            ),
        ] {
            options = format!("{options} -c {name}={}", value.as_millis());
        }
        self.config.options(options.trim_start());
        self
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    /// The TLS connector for pools; the driver's TLS mode in [`ConnectOptions::config`]
    /// decides whether it is used. A pool treats `allow` as `disable`.
    ///
    /// # Errors
    ///
    /// Configuration when a certificate file cannot be read.
    pub fn tls_connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        self.tls.connector()
    }

    /// A connection error as the caller should see it: a TLS check that failed is a
    /// configuration error (78) saying which, anything else the database's error.
    pub fn connect_error(&self, error: tokio_postgres::Error) -> Error {
        let context = format!("connecting to database {:?}", self.dbname());
        match tls::tls_problem(&error, &self.tls) {
            Some(problem) => Error::config(format!("{context}: {problem}")),
            None => Error::db(context, error),
        }
    }

    /// The database name, for messages.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// Opens a connection and drives it on the current tokio runtime.
    pub async fn connect(&self) -> Result<Client> {
        let opened = if self.config.get_ssl_mode() == DriverSslMode::Disable {
            let plain = open(&self.config, NoTls).await;
            match plain {
                // `allow`: TLS only when the server refuses a plain connection.
                Err(error)
                    if self.tls.mode == SslMode::Allow
                        && error.code()
                            == Some(&tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION) =>
                {
                    let mut config = self.config.clone();
                    config.ssl_mode(DriverSslMode::Require);
                    open(&config, self.tls.connector()?).await
                }
                other => other,
            }
        } else {
            open(&self.config, self.tls.connector()?).await
        };
        opened.map_err(|error| self.connect_error(error))
    }
}

/// Connects with `tls` and drives the connection on the current tokio runtime.
async fn open<T>(config: &Config, tls: T) -> std::result::Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "Database connection ended with an error.");
        }
    });
    Ok(client)
}

fn default_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "postgres".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_leave_the_string_the_driver_reads() {
        let (rest, taken) = split_tls(
            "postgres://u@db.example:5432/app?sslmode=verify-full&application_name=x&sslrootcert=%2Fca%20b.pem",
        );
        assert_eq!(rest, "postgres://u@db.example:5432/app?application_name=x");
        assert_eq!(
            taken,
            [
                ("sslmode".to_owned(), "verify-full".to_owned()),
                ("sslrootcert".to_owned(), "/ca b.pem".to_owned())
            ]
        );
        let (rest, taken) = split_tls("host=db sslmode = require user=u sslrootcert='/a dir/ca.pem' options='-c x=1'");
        assert_eq!(rest, "host=db user=u options='-c x=1'");
        assert_eq!(taken[1], ("sslrootcert".to_owned(), "/a dir/ca.pem".to_owned()));
        let options = ConnectOptions::parse_with("host=db user=u", &|name| {
            (name == "PGSSLMODE").then(|| "verify-ca".to_owned())
        })
        .unwrap();
        assert_eq!(options.tls().mode, SslMode::VerifyCa);
        assert_eq!(options.config().get_ssl_mode(), DriverSslMode::Require);
        let error = ConnectOptions::parse_with("host=db sslmode=maybe", &|_| None).unwrap_err();
        assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
        // Unix sockets never use TLS, whatever the mode.
        let socket = ConnectOptions::parse_with("host=/run/postgresql sslmode=require", &|_| None).unwrap();
        assert_eq!(socket.config().get_ssl_mode(), DriverSslMode::Disable);
    }

    #[test]
    fn nothing_set_means_no_database() {
        assert!(ConnectOptions::from_lookup(|_| None).unwrap().is_none());
    }

    #[test]
    fn pg_variables_fill_libpq_defaults() {
        let options = ConnectOptions::from_lookup(|name| match name {
            "PGHOST" => Some("db.internal".into()),
            "PGUSER" => Some("loader".into()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(options.config.get_ports(), [5432]);
        assert_eq!(options.dbname(), "loader");
    }

    #[test]
    fn bad_port_is_a_config_error() {
        let error = ConnectOptions::from_lookup(|name| (name == "PGPORT").then(|| "x".into())).unwrap_err();
        assert_eq!(error.to_string(), "PGPORT \"x\" is not a port number");
        assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
    }
}
