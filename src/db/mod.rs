//! The database side that every command shares: where to connect (`DATABASE_URL`, or the
//! libpq `PG*` variables), the catalog (target column types), migrations, and the ledger.

pub mod catalog;
pub mod ledger;
pub mod migrate;

use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

use crate::error::{Error, Result};

/// The libpq variables pgbatch reads, in the order libpq documents them.
/// See <https://www.postgresql.org/docs/current/libpq-envars.html>.
const PG_VARS: [&str; 6] = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGAPPNAME"];

/// How long a connection attempt may take before the database counts as unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection settings, from a URL or key/value string, or from the environment.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    config: Config,
}

impl ConnectOptions {
    /// Parses a `postgres://` URL or a libpq key/value string.
    pub fn parse(url: &str) -> Result<Self> {
        let mut config: Config = url
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
        Ok(Self { config })
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
        Ok(Some(Self { config }))
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
        Self { config }
    }

    /// The driver's settings, for pools that make their own connections.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database name, for messages.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("")
    }

    /// Opens a connection and drives it on the current tokio runtime.
    pub async fn connect(&self) -> Result<Client> {
        let (client, connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|error| Error::db(format!("connecting to database {:?}", self.dbname()), error))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "Database connection ended with an error.");
            }
        });
        Ok(client)
    }
}

fn default_user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "postgres".into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
