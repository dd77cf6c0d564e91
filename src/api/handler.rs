//! One request to a route: its parameters, the `ETag` check, the read-only transaction,
//! and the rows streamed out a chunk at a time.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use futures_util::future::join_all;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::output::Format;
use super::route::{self, Reads, Value};

use super::params::parameters;
use super::problem::Problem;
use super::rows::{Ask, BodyChunk, Head, stream};
use super::{Api, Served};

// language=PostgreSQL
const ETAG_TABLES_SQL: &str = include_str!("../../sql/api/etag_tables.sql");
const ETAG_ANY_SQL: &str = include_str!("../../sql/api/etag_any.sql");
const BEGIN_SQL: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const COMMIT_SQL: &str = "COMMIT";
const ROLLBACK_SQL: &str = "ROLLBACK";

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
    // The common case needs no database: the tag from the ledger's copy in memory, then
    // 304, or the whole response from the cache.
    let known = api
        .tags
        .last(&served.route.reads)
        .map(|batch| served.tag(batch, format));
    let mut cache_key = None;
    if let Some(tag) = &known {
        if matches(if_none_match.as_deref(), tag) {
            return vary(not_modified(tag));
        }
        cache_key = api.cache.key(i, &values, format, tag);
        if let Some(body) = cache_key.as_deref().and_then(|key| api.cache.get(key)) {
            // A 200 is kept for this tag: there is something to send.
            if any(if_none_match.as_deref()) {
                return vary(not_modified(tag));
            }
            return vary(ok(format, tag, Body::from(body)));
        }
    }
    let inline = known.is_some();
    let ask = Ask {
        i,
        values,
        format,
        if_none_match,
        known,
        cache_key,
    };
    let (head_tx, head_rx) = oneshot::channel();
    let (body_tx, body_rx) = mpsc::channel::<BodyChunk>(4);
    let query = run_query(Arc::clone(&api), ask, head_tx, body_tx);
    let head = if inline {
        until_head(query, head_rx).await
    } else {
        // A transaction must end whatever becomes of this request: in a task of its own.
        tokio::spawn(query);
        head_rx.await
    };
    let Ok(head) = head else {
        return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the query task ended early").into_response();
    };
    vary(match head {
        Head::Problem(problem) => problem.into_response(),
        Head::NotModified(tag) => not_modified(&tag),
        Head::Whole(tag, whole) => ok(format, &tag, Body::from(whole)),
        Head::Ok(tag) => {
            let body = Body::from_stream(futures_util::stream::unfold(body_rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            }));
            ok(format, &tag, body)
        }
    })
}

/// Runs a request's query in this task until its head is known: a response sent whole,
/// the common case, needs no task of its own; one that streams goes on in one. Only for a
/// query outside a transaction, which may stop anywhere if the client goes.
async fn until_head(
    query: impl Future<Output = ()> + Send + 'static,
    mut head: oneshot::Receiver<Head>,
) -> std::result::Result<Head, oneshot::error::RecvError> {
    let mut query = Box::pin(query);
    tokio::select! {
        biased;
        () = &mut query => head.await,
        decided = &mut head => {
            tokio::spawn(query);
            decided
        }
    }
}

fn vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

fn not_modified(tag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_tag(&mut response, tag);
    response
}

fn ok(format: Format, tag: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    set_tag(&mut response, tag);
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

/// Whether an `If-None-Match` header names `tag`. `*` names no tag: it asks for 304
/// wherever there is something to send, which only the query can tell ([`any`]).
pub(super) fn matches(if_none_match: Option<&str>, tag: &str) -> bool {
    if_none_match.is_some_and(|header| header.split(',').any(|t| t.trim().trim_start_matches("W/") == tag))
}

/// Whether an `If-None-Match` header is `*`: 304 for any answer but an error (RFC 9110,
/// 13.1.2), so a 404 stays a 404.
pub(super) fn any(if_none_match: Option<&str>) -> bool {
    if_none_match.is_some_and(|header| header.trim() == "*")
}

/// Runs one request's queries on a pooled connection and streams the rows into `body`.
async fn run_query(api: Arc<Api>, ask: Ask, head: oneshot::Sender<Head>, body: mpsc::Sender<BodyChunk>) {
    let served = &api.routes[ask.i];
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
    let (decided, began) = decide(served, &client, &ask).await;
    let streamed = match decided {
        Decided::Head(decided) => {
            let _ = head.send(decided);
            false
        }
        Decided::Rows(tag, first, rows) => stream(&api, served, &ask, tag, first, rows, head, &body).await,
    };
    // The response ends here, not after the round trip that ends the transaction.
    drop(body);
    if !began {
        return;
    }
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

/// Decides the head, and holds the rows, from the first on, for [`stream`]; true when a
/// transaction was begun. With the tag known, the route's query is the one statement
/// (the session is read-only); without it, see [`tagged`]. Either way the `exists:`
/// checks run only when the query returns no rows.
async fn decide(served: &Served, client: &deadpool_postgres::Object, ask: &Ask) -> (Decided, bool) {
    let fail = |problem: Problem| Decided::Head(Head::Problem(problem));
    let statement = match client.prepare_cached(&served.route.sql).await {
        Ok(statement) => statement,
        Err(error) => return (fail(Problem::from_db(&error)), false),
    };
    let params = || ask.values.iter().map(|v| v as &(dyn ToSql + Sync));
    let (tag, rows, began) = if let Some(tag) = &ask.known {
        (tag.clone(), client.query_raw(&statement, params()).await, false)
    } else {
        match tagged(served, client, &statement, ask).await {
            Ok((tag, rows)) => (tag, rows, true),
            Err((decided, began)) => return (decided, began),
        }
    };
    let mut rows = match rows {
        Ok(rows) => Box::pin(rows),
        Err(error) => return (fail(Problem::from_db(&error)), began),
    };
    // The first row (or the end) decides between 200 and an error status.
    let first = match rows.next().await.transpose() {
        Ok(first) => first,
        Err(error) => return (fail(Problem::from_db(&error)), began),
    };
    if first.is_none()
        && let Some(problem) = missing(served, client, &ask.values).await
    {
        return (fail(problem), began);
    }
    if any(ask.if_none_match.as_deref()) {
        return (Decided::Head(Head::NotModified(tag)), began);
    }
    (Decided::Rows(tag, first, rows), began)
}

/// Without the ledger's copy: `BEGIN`, the tag's query and the route's query in one round
/// trip, so tag and rows come from one snapshot; 304 when the tag matches. The error is the
/// head to answer, and whether a transaction was begun.
async fn tagged(
    served: &Served,
    client: &deadpool_postgres::Object,
    statement: &tokio_postgres::Statement,
    ask: &Ask,
) -> std::result::Result<
    (
        String,
        std::result::Result<tokio_postgres::RowStream, tokio_postgres::Error>,
    ),
    (Decided, bool),
> {
    let fail = |problem: Problem| Decided::Head(Head::Problem(problem));
    let tag_statement = client
        .prepare_cached(match served.route.reads {
            Reads::Any => ETAG_ANY_SQL,
            Reads::Tables(_) => ETAG_TABLES_SQL,
        })
        .await
        .map_err(|error| (fail(Problem::from_db(&error)), false))?;
    // Polled in order, so sent in order, in one round trip.
    let begin = client.batch_execute(BEGIN_SQL);
    let tag = async {
        match &served.route.reads {
            Reads::Any => client.query_one(&tag_statement, &[]).await,
            Reads::Tables(tables) => client.query_one(&tag_statement, &[tables]).await,
        }
    };
    let rows = client.query_raw(statement, ask.values.iter().map(|v| v as &(dyn ToSql + Sync)));
    let (begin, tag, rows) = futures_util::future::join3(begin, tag, rows).await;
    let batch: i64 = match begin.and(tag) {
        Ok(row) => row.get(0),
        Err(error) => return Err((fail(Problem::from_db(&error)), true)),
    };
    let tag = served.tag(batch, ask.format);
    if matches(ask.if_none_match.as_deref(), &tag) {
        return Err((Decided::Head(Head::NotModified(tag)), true));
    }
    Ok((tag, rows))
}

/// The `exists:` checks, all in one round trip: the first that fails, as 404.
async fn missing(served: &Served, client: &deadpool_postgres::Object, values: &[Value]) -> Option<Problem> {
    let checks = served.route.exists.iter().map(|exists| async move {
        let statement = client.prepare_cached(&exists.sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = exists.params.iter().map(|&p| &values[p] as _).collect();
        client
            .query_one(&statement, &params)
            .await
            .map(|row| (row.get::<_, Option<bool>>(0), exists))
    });
    for result in join_all(checks).await {
        match result {
            Ok((Some(true), _)) => {}
            Ok((_, exists)) => return Some(not_found(served, exists, values)),
            Err(error) => return Some(Problem::from_db(&error)),
        }
    }
    None
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
