//! The read-only HTTP API (`pgbatch serve`): every route is a query file of `sql/queries`
//! ([`route`]), run in a read-only, repeatable-read transaction as the `pgbatch_reader`
//! role, and streamed out as JSON, NDJSON or CSV ([`output`]) a chunk of rows at a time.
//!
//! Around the routes: RFC 9457 problem+json errors, an `ETag` from the ledger (the last
//! batch committed to the tables a route reads) answered with 304 on `If-None-Match`,
//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and an index page at `/`.

mod cache;
mod handler;
mod history;
mod metrics;
mod openapi;
pub mod output;
mod pages;
mod params;
mod probe;
mod problem;
pub mod route;
mod rows;
mod serve;
mod startup;
pub mod tags;
mod text;

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::types::Type;

use crate::error::{Error, ErrorKind};
use route::Route;

pub use probe::probe;
pub use problem::Problem;
pub use serve::{ServerLimits, serve};

/// How the API runs.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The folder of query files, one route each.
    pub queries: std::path::PathBuf,
    /// Every query is cancelled after this long (`statement_timeout`).
    pub statement_timeout: Duration,
    /// A response may hold at most this many rows; a larger result is cut off with an
    /// error (a broken response, never a silently short one). Paged routes stay below it;
    /// a route may set its own (`-- max_rows:`).
    pub max_rows: u64,
    /// Database connections at most; see [`default_pool_size`].
    pub pool_size: usize,
    /// The role every query runs as (`SET ROLE` at connection start), or none to run as
    /// the connecting user (which should then be a read-only login role).
    pub role: Option<String>,
    /// Requests to the routes in flight at most; one more is answered 503 with
    /// `Retry-After` at once. Health checks and metrics are not counted.
    pub max_in_flight: usize,
    /// The longest query string taken, in bytes; a longer one is answered 414.
    pub max_query_bytes: usize,
    /// `/metrics` is served on a listener of its own (`serve --metrics-listen`), not
    /// beside the routes: see [`Api::routers`].
    pub separate_metrics: bool,
    /// Bytes of whole responses kept between two batches (0: none); see `cache.rs`.
    pub cache_bytes: u64,
}

/// Twice this machine's cores: enough to keep a database on this machine busy while some
/// connections wait on the network. More only queue in the database's scheduler: on the
/// 2-core bench machine 16 connections gave `/rates` a p99 of 24 to 38 ms where 4 gave 3 ms,
/// at the same throughput (`benches/api.rs`).
pub fn default_pool_size() -> usize {
    2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Eight requests in flight per pooled connection: enough to keep every connection busy
/// while responses are written out, few enough that a request admitted waits on the pool
/// for a few queries' time, not for seconds.
pub fn default_max_in_flight(pool_size: usize) -> usize {
    8 * pool_size.max(1)
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            queries: "sql/queries".into(),
            statement_timeout: Duration::from_secs(5),
            max_rows: 100_000,
            pool_size: default_pool_size(),
            role: Some("pgbatch_reader".into()),
            max_in_flight: default_max_in_flight(default_pool_size()),
            max_query_bytes: 4096,
            separate_metrics: false,
            cache_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A route with what the server learnt of its query when it started.
struct Served {
    route: Route,
    /// Output columns and their types.
    columns: Vec<(String, Type)>,
    /// A short hash of the query text, part of the `ETag`: a changed query is a new tag.
    version: String,
}

impl Served {
    /// The `ETag` of a response: the last batch committed to the tables the route reads,
    /// the query's version and the format.
    fn tag(&self, batch: i64, format: output::Format) -> String {
        format!("\"{batch}-{}-{}\"", self.version, format.name())
    }
}

/// The API: its routes, its pool, its copy of the ledger's last batches, its response
/// cache and its metrics.
pub struct Api {
    routes: Vec<Served>,
    pool: Pool,
    options: ApiOptions,
    metrics: metrics::Metrics,
    tags: tags::Tags,
    cache: cache::ResponseCache,
}

/// A request's parameters read against `route` as its handler reads them: `path`'s
/// segments and the query string's `pairs` (decoded), the values bound to its query, or
/// the status and detail of the problem (always a 4xx). For the fuzz targets (`fuzz/`).
pub fn read_parameters(
    route: &route::Route,
    path: &[(String, String)],
    pairs: &[(String, String)],
) -> std::result::Result<Vec<route::Value>, (u16, String)> {
    params::parameters(route, path, pairs, &axum::http::HeaderMap::new())
        .map(|(values, _)| values)
        .map_err(|problem| (problem.status().as_u16(), problem.detail().to_owned()))
}

/// A pool's failure, by kind: the database's own error, a pool that waited too long for a
/// free connection (busy, worth a retry), or one that is closed or misbuilt (a bug).
fn pool_error(db: &str, error: deadpool_postgres::PoolError) -> Error {
    match error {
        deadpool_postgres::PoolError::Backend(source) => Error::db(format!("connecting to database {db:?}"), source),
        deadpool_postgres::PoolError::Timeout(_) => ErrorKind::Busy {
            context: format!("database {db:?}"),
            message: "no pooled connection came free in time".into(),
        }
        .into(),
        other => ErrorKind::Internal(format!("database pool: {other}")).into(),
    }
}
