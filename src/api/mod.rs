//! The read-only HTTP API (`pgbatch serve`): every route is a query file of `sql/queries`
//! ([`route`]), run in a read-only, repeatable-read transaction as the `pgbatch_reader`
//! role, and streamed out as JSON, NDJSON or CSV ([`output`]) a chunk of rows at a time.
//!
//! Around the routes: RFC 9457 problem+json errors, an `ETag` from the ledger (the last
//! batch committed to the tables a route reads) answered with 304 on `If-None-Match`,
//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json` and an index page at `/`.

mod metrics;
mod openapi;
pub mod output;
pub mod route;

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use sha2::Digest as _;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::db::ConnectOptions;
use crate::error::{Error, ErrorKind, Result};
use output::{Format, Writer};
use route::{Kind, Reads, Route, Value};

// language=PostgreSQL
const ETAG_TABLES_SQL: &str = include_str!("../../sql/api/etag_tables.sql");
const ETAG_ANY_SQL: &str = include_str!("../../sql/api/etag_any.sql");
const READY_SQL: &str = "SELECT 1";
const BEGIN_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const COMMIT_SQL: &str = "COMMIT";
const ROLLBACK_SQL: &str = "ROLLBACK";

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// How the API runs.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The folder of query files, one route each.
    pub queries: std::path::PathBuf,
    /// Every query is cancelled after this long (`statement_timeout`).
    pub statement_timeout: Duration,
    /// A response may hold at most this many rows; a larger result is cut off with an
    /// error (a broken response, never a silently short one). Paged routes stay below it.
    pub max_rows: u64,
    /// Database connections at most; see [`default_pool_size`].
    pub pool_size: usize,
    /// The role every query runs as (`SET ROLE` at connection start), or none to run as
    /// the connecting user (which should then be a read-only login role).
    pub role: Option<String>,
}

/// Twice this machine's cores: enough to keep a database on this machine busy while some
/// connections wait on the network. More only queue in the database's scheduler: on the
/// 2-core bench machine 16 connections gave `/rates` a p99 of 24 to 38 ms where 4 gave 3 ms,
/// at the same throughput (`benches/api.rs`).
pub fn default_pool_size() -> usize {
    2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            queries: "sql/queries".into(),
            statement_timeout: Duration::from_secs(5),
            max_rows: 100_000,
            pool_size: default_pool_size(),
            role: Some("pgbatch_reader".into()),
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

/// The API: its routes, its pool and its metrics.
pub struct Api {
    routes: Vec<Served>,
    pool: Pool,
    options: ApiOptions,
    metrics: metrics::Metrics,
}

impl Api {
    /// Reads the query files, connects, and checks every query against the database:
    /// that it prepares, that its parameters have the declared types, that its columns
    /// can be written out. Every problem is reported at once (a configuration error).
    pub async fn new(connect: &ConnectOptions, options: ApiOptions) -> Result<Api> {
        let routes = route::read_dir(&options.queries)?;
        let mut config = connect.config().clone();
        let mut startup = format!(
            "-c default_transaction_read_only=on -c statement_timeout={}",
            options.statement_timeout.as_millis()
        );
        if let Some(role) = &options.role {
            if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::config(format!("role {role:?} is not a plain role name")));
            }
            startup.push_str(" -c role=");
            startup.push_str(role);
        }
        config.options(&startup);
        let manager = Manager::from_config(
            config,
            connect.tls_connector()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|error| Error::config(format!("database pool: {error}")))?;
        let client = pool.get().await.map_err(|error| match error {
            // A certificate that does not verify is a configuration error, saying which check.
            deadpool_postgres::PoolError::Backend(source) => connect.connect_error(source),
            other => pool_error(connect.dbname(), other),
        })?;
        let mut served = Vec::new();
        let mut problems = Vec::new();
        for route in routes {
            match check(&client, route).await {
                Ok(s) => served.push(s),
                Err(mut more) => problems.append(&mut more),
            }
        }
        if !problems.is_empty() {
            return Err(ErrorKind::Config { problems }.into());
        }
        drop(client);
        Ok(Api {
            routes: served,
            pool,
            options,
            metrics: metrics::Metrics::new(),
        })
    }

    /// The router: one `GET` per route, plus health, metrics, the OpenAPI document and
    /// the index.
    pub fn router(self) -> Router {
        let api = Arc::new(self);
        let mut router = Router::new()
            .route("/", get(index))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .route("/metrics", get(render_metrics))
            .route("/openapi.json", get(openapi_document));
        for (i, served) in api.routes.iter().enumerate() {
            router = router.route(
                &served.route.path,
                get(
                    move |State(api): State<Arc<Api>>,
                          query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
                          headers: HeaderMap| async move { handle(api, i, query, &headers).await },
                ),
            );
        }
        router
            .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route; see / for the routes") })
            .layer(axum::middleware::from_fn_with_state(Arc::clone(&api), track))
            .with_state(api)
    }

    /// The example request of every route that has one.
    pub fn examples(&self) -> Vec<String> {
        self.routes.iter().filter_map(|s| s.route.example.clone()).collect()
    }

    /// A connection from the API's pool, as the API's queries run (for tests).
    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|error| pool_error("", error))
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    // Without TCP_NODELAY a response written as head and body waits out the client's
    // delayed ACK (40 ms on Linux).
    let listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "Cannot set TCP_NODELAY on a connection.");
        }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|error| Error::config(format!("serving HTTP: {error}")))
}

fn pool_error(db: &str, error: deadpool_postgres::PoolError) -> Error {
    match error {
        deadpool_postgres::PoolError::Backend(source) => Error::db(format!("connecting to database {db:?}"), source),
        other => ErrorKind::Internal(format!("database pool: {other}")).into(),
    }
}

/// Prepares a route's query (and its `exists:` queries) and checks what they take and give.
async fn check(client: &deadpool_postgres::Object, route: Route) -> std::result::Result<Served, Vec<String>> {
    let file = route.file.display().to_string();
    let statement = client
        .prepare(&route.sql)
        .await
        .map_err(|error| vec![format!("{file}: {}", Error::db("preparing the query", error))])?;
    let mut problems = Vec::new();
    if statement.params().len() != route.params.len() {
        problems.push(format!(
            "{file}: the query binds {} parameter(s) but the header declares {}",
            statement.params().len(),
            route.params.len()
        ));
    }
    for (param, ty) in route.params.iter().zip(statement.params()) {
        if !binds(param.kind, ty) {
            problems.push(format!(
                "{file}: parameter {:?} is declared {:?} but the query uses it as {ty} (cast it, e.g. ${}::{})",
                param.name,
                param.kind,
                route.params.iter().position(|p| p.name == param.name).unwrap_or(0) + 1,
                match param.kind {
                    Kind::Text => "text",
                    Kind::Int => "int8",
                    Kind::Date => "date",
                    Kind::Timestamptz => "timestamptz",
                }
            ));
        }
    }
    let columns: Vec<(String, Type)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect();
    for (name, ty) in &columns {
        if !output::supported(ty) {
            problems.push(format!(
                "{file}: column {name:?} is of type {ty}, which the API does not write; cast it (to float8 or text)"
            ));
        }
    }
    for exists in &route.exists {
        let efile = exists.file.display();
        match client.prepare(&exists.sql).await {
            Ok(s) => {
                let kinds: Vec<Kind> = exists.params.iter().map(|&i| route.params[i].kind).collect();
                let bind_ok =
                    s.params().len() == kinds.len() && kinds.iter().zip(s.params()).all(|(k, t)| binds(*k, t));
                if !bind_ok {
                    problems.push(format!(
                        "{file}: exists: {efile} takes {} parameter(s) that do not match the ones named",
                        s.params().len()
                    ));
                }
                if s.columns().len() != 1 || *s.columns()[0].type_() != Type::BOOL {
                    problems.push(format!("{file}: exists: {efile} must return one boolean column"));
                }
            }
            Err(error) => problems.push(format!("{file}: exists: {efile}: {}", Error::db("preparing", error))),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let digest = sha2::Sha256::digest(route.sql.as_bytes());
    let version = digest[..4].iter().fold(String::new(), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    });
    Ok(Served {
        route,
        columns,
        version,
    })
}

fn binds(kind: Kind, ty: &Type) -> bool {
    match kind {
        Kind::Text => [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty),
        Kind::Int => [Type::INT2, Type::INT4, Type::INT8].contains(ty),
        Kind::Date => *ty == Type::DATE,
        Kind::Timestamptz => *ty == Type::TIMESTAMPTZ,
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Text(s) => s.to_sql(ty, out),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Date(d) => d.to_sql(ty, out),
            Value::Timestamptz(t) => t.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // The types were checked against the query when the server started (`binds`).
        true
    }

    to_sql_checked!();
}

/// An RFC 9457 problem: a status, a title, a detail, and the parameters at fault.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    invalid: Vec<(String, String)>,
}

impl Problem {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            invalid: Vec::new(),
        }
    }

    /// A query's failure as the client sees it, classified by the one SQLSTATE table the
    /// loader's exit codes use: the database's data errors come from the client's values
    /// (400), unavailability and temporary failures are 503, a statement timeout 504, and
    /// anything else is ours (500, logged).
    fn from_db(error: &tokio_postgres::Error) -> Self {
        use crate::error::{codes, exit};
        let Some(code) = error.code().map(tokio_postgres::error::SqlState::code) else {
            return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable");
        };
        if code == tokio_postgres::error::SqlState::QUERY_CANCELED.code() {
            return Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "the query ran longer than the statement timeout allows",
            );
        }
        match codes::for_sqlstate(code) {
            exit::DATA => {
                tracing::info!(%error, "A route's query refused a parameter's value.");
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "a parameter's value is one the database cannot take (out of range, or no such date)",
                )
            }
            exit::UNAVAILABLE | exit::TEMP_FAIL => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the database is unavailable")
            }
            _ => {
                tracing::error!(%error, "A route's query failed.");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the query failed; the server log has why",
                )
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.invalid.is_empty() {
            body["invalid-params"] = self
                .invalid
                .iter()
                .map(|(name, reason)| serde_json::json!({ "name": name, "reason": reason }))
                .collect();
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// What the query task reports before the body: a problem, 304, or 200 with its tag.
enum Head {
    Problem(Problem),
    NotModified(String),
    Ok(String),
}

type Chunk = std::result::Result<Bytes, std::io::Error>;

async fn handle(
    api: Arc<Api>,
    i: usize,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: &HeaderMap,
) -> Response {
    let served = &api.routes[i];
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(rejection) => return Problem::new(StatusCode::BAD_REQUEST, rejection.body_text()).into_response(),
    };
    let (values, format) = match parameters(&served.route, &pairs, headers) {
        Ok(parsed) => parsed,
        Err(problem) => return problem.into_response(),
    };
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (head_tx, head_rx) = oneshot::channel();
    let (body_tx, body_rx) = mpsc::channel::<Chunk>(4);
    tokio::spawn(run(
        Arc::clone(&api),
        i,
        values,
        format,
        if_none_match,
        head_tx,
        body_tx,
    ));
    let Ok(head) = head_rx.await else {
        return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the query task ended early").into_response();
    };
    let mut response = match head {
        Head::Problem(problem) => problem.into_response(),
        Head::NotModified(tag) => {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            set_tag(&mut response, &tag);
            response
        }
        Head::Ok(tag) => {
            let body = Body::from_stream(futures_util::stream::unfold(body_rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            }));
            let mut response = Response::new(body);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
            set_tag(&mut response, &tag);
            response
        }
    };
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

fn set_tag(response: &mut Response, tag: &str) {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// Whether an `If-None-Match` header names `tag` (or is `*`).
fn matches(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == tag || t == "*")
    })
}

/// Checks the request's parameters against the route's: every problem is reported at once.
fn parameters(
    route: &Route,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> std::result::Result<(Vec<Value>, Format), Problem> {
    let mut invalid = Vec::new();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            invalid.push((name.clone(), "is given more than once".to_owned()));
        } else if name != route::FORMAT_PARAM && !route.params.iter().any(|p| &p.name == name) {
            let known: Vec<&str> = route.params.iter().map(|p| p.name.as_str()).collect();
            invalid.push((
                name.clone(),
                format!(
                    "is not a parameter of {}; expected one of: {}, format",
                    route.path,
                    known.join(", ")
                ),
            ));
        }
    }
    let given = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let format = match given(route::FORMAT_PARAM) {
        Some(name) => Format::from_name(name).unwrap_or_else(|| {
            invalid.push((
                route::FORMAT_PARAM.to_owned(),
                format!("{name:?} is not one of json, ndjson, csv"),
            ));
            Format::Json
        }),
        None => Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("")),
    };
    let mut values = Vec::with_capacity(route.params.len());
    for param in &route.params {
        match param.value(given(&param.name)) {
            Ok(value) => values.push(value),
            Err(reason) => invalid.push((param.name.clone(), reason)),
        }
    }
    if invalid.is_empty() {
        return Ok((values, format));
    }
    let names: Vec<&str> = invalid.iter().map(|(n, _)| n.as_str()).collect();
    let mut problem = Problem::new(
        StatusCode::BAD_REQUEST,
        format!("invalid parameter(s): {}", names.join(", ")),
    );
    problem.invalid = invalid;
    Err(problem)
}

/// Runs one request's queries on a pooled connection and streams the rows into `body`.
async fn run(
    api: Arc<Api>,
    i: usize,
    values: Vec<Value>,
    format: Format,
    if_none_match: Option<String>,
    head: oneshot::Sender<Head>,
    body: mpsc::Sender<Chunk>,
) {
    let served = &api.routes[i];
    let client = match api.pool.get().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "No database connection for a request.");
            let _ = head.send(Head::Problem(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no database connection is available",
            )));
            return;
        }
    };
    let streamed = respond(&api, served, &client, &values, format, if_none_match, head, &body).await;
    // The response ends here, not after the round trip that ends the transaction.
    drop(body);
    // The transaction only read: ending it either way is the same. A connection whose
    // transaction cannot be ended is not given back to the pool.
    let end = if streamed { COMMIT_SQL } else { ROLLBACK_SQL };
    if client.batch_execute(end).await.is_err() {
        let _ = deadpool_postgres::Object::take(client);
    }
}

/// What a request gets: a head alone, or 200 with its tag and rows to stream.
enum Decided {
    Head(Head),
    Rows(
        String,
        Option<tokio_postgres::Row>,
        std::pin::Pin<Box<tokio_postgres::RowStream>>,
    ),
}

/// Decides the head, sends it, and streams the rows. The rows come as the client reads
/// them: the driver stops reading the socket while a response waits, so memory stays
/// bounded. True when every row was sent.
#[allow(clippy::too_many_arguments)]
async fn respond(
    api: &Api,
    served: &Served,
    client: &deadpool_postgres::Object,
    values: &[Value],
    format: Format,
    if_none_match: Option<String>,
    head: oneshot::Sender<Head>,
    body: &mpsc::Sender<Chunk>,
) -> bool {
    match decide(served, client, values, format, if_none_match).await {
        Decided::Head(decided) => {
            let _ = head.send(decided);
            false
        }
        Decided::Rows(tag, first, rows) => {
            if head.send(Head::Ok(tag)).is_err() {
                return false; // the client went away
            }
            stream(api, served, format, first, rows, body).await
        }
    }
}

/// Sends the request's statements in one round trip (`BEGIN`, the `ETag` query, the
/// `exists:` checks, the route's query), decides the status from the first three, then
/// holds the rows, from the first on, for [`stream`].
async fn decide(
    served: &Served,
    client: &deadpool_postgres::Object,
    values: &[Value],
    format: Format,
    if_none_match: Option<String>,
) -> Decided {
    let fail = |problem: Problem| Decided::Head(Head::Problem(problem));
    let prepared = async {
        let statement = client.prepare_cached(&served.route.sql).await?;
        let tag = client
            .prepare_cached(match served.route.reads {
                Reads::Any => ETAG_ANY_SQL,
                Reads::Tables(_) => ETAG_TABLES_SQL,
            })
            .await?;
        let mut checks = Vec::new();
        for exists in &served.route.exists {
            checks.push((client.prepare_cached(&exists.sql).await?, exists));
        }
        Ok::<_, tokio_postgres::Error>((statement, tag, checks))
    };
    let (statement, tag_statement, checks) = match prepared.await {
        Ok(prepared) => prepared,
        Err(error) => return fail(Problem::from_db(&error)),
    };
    // Polled in order, so sent in order, in one round trip.
    let begin = client.batch_execute(BEGIN_SQL);
    let tag = async {
        match &served.route.reads {
            Reads::Any => client.query_one(&tag_statement, &[]).await,
            Reads::Tables(tables) => client.query_one(&tag_statement, &[tables]).await,
        }
    };
    let found = join_all(checks.iter().map(|(statement, exists)| {
        let params: Vec<&(dyn ToSql + Sync)> = exists.params.iter().map(|&p| &values[p] as _).collect();
        async move {
            client
                .query_one(statement, &params)
                .await
                .map(|row| (row.get::<_, Option<bool>>(0), *exists))
        }
    }));
    let rows = client.query_raw(&statement, values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let (begin, tag, found, rows) = futures_util::future::join4(begin, tag, found, rows).await;
    let batch: i64 = match begin.and(tag) {
        Ok(row) => row.get(0),
        Err(error) => return fail(Problem::from_db(&error)),
    };
    for result in found {
        match result {
            Ok((Some(true), _)) => {}
            Ok((_, exists)) => return fail(not_found(served, exists, values)),
            Err(error) => return fail(Problem::from_db(&error)),
        }
    }
    let tag = format!("\"{batch}-{}-{}\"", served.version, format.name());
    if matches(if_none_match.as_deref(), &tag) {
        return Decided::Head(Head::NotModified(tag));
    }
    let mut rows = match rows {
        Ok(rows) => Box::pin(rows),
        Err(error) => return fail(Problem::from_db(&error)),
    };
    // The first row (or the end) decides between 200 and an error status.
    let first = match rows.next().await.transpose() {
        Ok(first) => first,
        Err(error) => return fail(Problem::from_db(&error)),
    };
    Decided::Rows(tag, first, rows)
}

fn not_found(served: &Served, exists: &route::Exists, values: &[Value]) -> Problem {
    let names: Vec<(String, String)> = exists
        .params
        .iter()
        .map(|&p| {
            let reason = match &values[p] {
                Value::Text(text) => format!("{text:?} names nothing that exists"),
                _ => "names nothing that exists".to_owned(),
            };
            (served.route.params[p].name.clone(), reason)
        })
        .collect();
    let list: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    let mut problem = Problem::new(StatusCode::NOT_FOUND, format!("not found: {}", list.join(", ")));
    problem.invalid = names;
    problem
}

/// Writes the rows into `body` in chunks. An error after the head is sent can only break
/// the response, which the client sees. True when every row was sent.
async fn stream(
    api: &Api,
    served: &Served,
    format: Format,
    first: Option<tokio_postgres::Row>,
    mut rows: std::pin::Pin<Box<tokio_postgres::RowStream>>,
    body: &mpsc::Sender<Chunk>,
) -> bool {
    let fail = |error: std::io::Error| async move {
        let _ = body.send(Err(error)).await;
        false
    };
    let mut writer = Writer::new(format);
    let mut out = Vec::with_capacity(CHUNK_BYTES);
    let names: Vec<&str> = served.columns.iter().map(|(n, _)| n.as_str()).collect();
    writer.start(&names, &mut out);
    let mut next = first;
    let mut count: u64 = 0;
    while let Some(row) = next {
        count += 1;
        if count > api.options.max_rows {
            tracing::warn!(route = %served.route.path, max_rows = api.options.max_rows, "A response was cut off at the row limit.");
            return fail(std::io::Error::other(format!(
                "more than {} rows; narrow the request",
                api.options.max_rows
            )))
            .await;
        }
        if let Err(error) = writer.row(&row, &mut out) {
            return fail(std::io::Error::other(error)).await;
        }
        if out.len() >= CHUNK_BYTES && body.send(Ok(Bytes::from(std::mem::take(&mut out)))).await.is_err() {
            return false; // the client went away
        }
        next = match rows.next().await.transpose() {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, "A streamed query failed.");
                return fail(std::io::Error::other(error)).await;
            }
        };
    }
    writer.finish(&mut out);
    body.send(Ok(Bytes::from(out))).await.is_ok()
}

/// Counts and times every response by matched route and status.
async fn track(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    api.metrics
        .observe(&route, response.status().as_u16(), started.elapsed());
    response
}

async fn ready(State(api): State<Arc<Api>>) -> Response {
    let checked = match api.pool.get().await {
        Ok(client) => client.query_one(READY_SQL, &[]).await.map_err(|e| Problem::from_db(&e)),
        Err(_) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no database connection is available",
        )),
    };
    match checked {
        Ok(_) => "ready\n".into_response(),
        Err(problem) => problem.into_response(),
    }
}

async fn render_metrics(State(api): State<Arc<Api>>) -> Response {
    let text = api.metrics.render(&api.pool.status());
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn openapi_document(State(api): State<Arc<Api>>) -> Response {
    let document = openapi::document(&api);
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}

async fn index(State(api): State<Arc<Api>>) -> Html<String> {
    let mut page = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pgbatch API</title></head><body>\n\
         <h1>pgbatch API</h1>\n<p>Read-only routes over the loaded datasets. JSON by default; \
         <code>?format=csv</code> or <code>?format=ndjson</code> (or an <code>Accept</code> header) for the others. \
         The full description: <a href=\"/openapi.json\">/openapi.json</a>.</p>\n<dl>\n",
    );
    for served in &api.routes {
        let route = &served.route;
        let params: Vec<String> = route
            .params
            .iter()
            .map(|p| format!("{}{}", p.name, if p.required { "" } else { "?" }))
            .collect();
        let _ = write!(
            page,
            "<dt><code>GET {}</code> ({})</dt><dd>{}",
            escape(&route.path),
            escape(&params.join(", ")),
            escape(&route.summary)
        );
        if let Some(example) = &route.example {
            let _ = write!(page, " Try <a href=\"{0}\"><code>{0}</code></a>.", escape(example));
        }
        page.push_str("</dd>\n");
    }
    page.push_str("</dl>\n<p><a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a> · <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n");
    Html(page)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
