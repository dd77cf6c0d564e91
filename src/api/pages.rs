//! The routes around the data: the request metrics layer, `/readyz`, `/metrics`,
//! `/openapi.json` and the index page.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::problem::Problem;
use super::text::escape;
use super::{Api, metrics, openapi};

const READY_SQL: &str = "SELECT 1";

/// Counts and times every response by matched route and status.
pub(super) async fn track(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
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

pub(super) async fn ready(State(api): State<Arc<Api>>) -> Response {
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

/// `/metrics`, in `OpenMetrics` to a scraper that accepts it, else in the text format.
pub(super) async fn render_metrics(State(api): State<Arc<Api>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let text = api.metrics.render(&api.pool.status(), openmetrics);
    let content_type = if openmetrics {
        metrics::OPENMETRICS
    } else {
        metrics::TEXT
    };
    ([(header::CONTENT_TYPE, content_type)], text).into_response()
}

/// A query string longer than the API takes: 414, before any route runs.
pub(super) async fn limit_query(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let length = request.uri().query().map_or(0, str::len);
    let max = api.options.max_query_bytes;
    if length > max {
        return Problem::new(
            StatusCode::URI_TOO_LONG,
            format!("the query string has {length} bytes; at most {max} are taken"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Seconds a shed request is told to wait.
const RETRY_AFTER_SECONDS: u32 = 1;

/// The answer to a request shed because as many as the API takes are in flight.
pub(super) async fn overloaded(_: axum::BoxError) -> Response {
    let mut response = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the server is at its limit of requests in flight; try again shortly",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

pub(super) async fn openapi_document(State(api): State<Arc<Api>>) -> Response {
    let document = openapi::document(&api);
    ([(header::CONTENT_TYPE, "application/json")], document.to_string()).into_response()
}

pub(super) async fn index(State(api): State<Arc<Api>>) -> Html<String> {
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
    page.push_str("</dl>\n");
    page.push_str(&super::history::recent(&api).await);
    page.push_str("<p><a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a> · <a href=\"/metrics\">/metrics</a></p>\n</body></html>\n");
    Html(page)
}
