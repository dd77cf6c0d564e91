//! One request to a route: its parameters, the `ETag` check, the read-only transaction,
//! and the rows streamed out a chunk at a time.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::output::{Format, Writer};
use super::route::{self, Reads, Value};

use super::params::parameters;
use super::problem::Problem;
use super::{Api, Served};

// language=PostgreSQL
const ETAG_TABLES_SQL: &str = include_str!("../../sql/api/etag_tables.sql");
const ETAG_ANY_SQL: &str = include_str!("../../sql/api/etag_any.sql");
const BEGIN_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const COMMIT_SQL: &str = "COMMIT";
const ROLLBACK_SQL: &str = "ROLLBACK";

/// Bytes gathered before a chunk is sent.
const CHUNK_BYTES: usize = 64 * 1024;

/// What the query task reports before the body: a problem, 304, or 200 with its tag.
pub(super) enum Head {
    Problem(Problem),
    NotModified(String),
    Ok(String),
}

pub(super) type BodyChunk = std::result::Result<Bytes, std::io::Error>;

/// The parameters a request gives in its path (none for a route without `{name}` segments).
pub(super) type PathParams = std::result::Result<Path<Vec<(String, String)>>, PathRejection>;

/// The parameters a request gives in its query string.
pub(super) type QueryParams = std::result::Result<Query<Vec<(String, String)>>, QueryRejection>;

pub(super) async fn handle(
    api: Arc<Api>,
    i: usize,
    path: Option<PathParams>,
    query: QueryParams,
    headers: &HeaderMap,
) -> Response {
    let served = &api.routes[i];
    let bad = |text: String| Problem::new(StatusCode::BAD_REQUEST, text).into_response();
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(rejection) => return bad(rejection.body_text()),
    };
    let path = match path {
        None => Vec::new(),
        Some(Ok(Path(path))) => path,
        Some(Err(rejection)) => return bad(rejection.body_text()),
    };
    let (values, format) = match parameters(&served.route, &path, &pairs, headers) {
        Ok(parsed) => parsed,
        Err(problem) => return problem.into_response(),
    };
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (head_tx, head_rx) = oneshot::channel();
    let (body_tx, body_rx) = mpsc::channel::<BodyChunk>(4);
    tokio::spawn(run_query(
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

pub(super) fn set_tag(response: &mut Response, tag: &str) {
    if let Ok(value) = HeaderValue::from_str(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// Whether an `If-None-Match` header names `tag` (or is `*`).
pub(super) fn matches(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|header| {
        header
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == tag || t == "*")
    })
}

/// Runs one request's queries on a pooled connection and streams the rows into `body`.
pub(super) async fn run_query(
    api: Arc<Api>,
    i: usize,
    values: Vec<Value>,
    format: Format,
    if_none_match: Option<String>,
    head: oneshot::Sender<Head>,
    body: mpsc::Sender<BodyChunk>,
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
pub(super) enum Decided {
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
pub(super) async fn respond(
    api: &Api,
    served: &Served,
    client: &deadpool_postgres::Object,
    values: &[Value],
    format: Format,
    if_none_match: Option<String>,
    head: oneshot::Sender<Head>,
    body: &mpsc::Sender<BodyChunk>,
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
pub(super) async fn decide(
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

pub(super) fn not_found(served: &Served, exists: &route::Exists, values: &[Value]) -> Problem {
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
pub(super) async fn stream(
    api: &Api,
    served: &Served,
    format: Format,
    first: Option<tokio_postgres::Row>,
    mut rows: std::pin::Pin<Box<tokio_postgres::RowStream>>,
    body: &mpsc::Sender<BodyChunk>,
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
    let max_rows = served.route.max_rows.unwrap_or(api.options.max_rows);
    while let Some(row) = next {
        count += 1;
        if count > max_rows {
            tracing::warn!(route = %served.route.path, max_rows, "A response was cut off at the row limit.");
            return fail(std::io::Error::other(format!(
                "more than {max_rows} rows; narrow the request"
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
