//! The load history on the index page and a page per batch (`/history/{id}`): recent
//! batches with their counts, rejects and duration, a throughput chart (inline SVG), and one
//! batch's sources, stages and first rejected rows. Server-rendered, no script, no external
//! asset; read from the ledger through the API's read-only pool. A ledger that cannot be
//! read leaves the page up, saying so.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::Api;
use super::problem::Problem;
use super::text::escape;
use crate::db::ledger::{self, Batch};
use crate::db::report;

/// Batches on the index page (and bars in its chart).
const RECENT: i64 = 20;
/// Rejected rows on a batch's page.
const REJECTS_SHOWN: i64 = 20;

/// The index page's history section: the recent batches and their throughput.
pub(super) async fn recent(api: &Arc<Api>) -> String {
    let batches = match api.pool.get().await {
        Ok(client) => ledger::list(&**client, RECENT, None).await.map_err(|e| {
            if unmigrated(&e) {
                "there is no ledger here yet: pgbatch migrate creates it".to_owned()
            } else {
                e.to_string()
            }
        }),
        Err(error) => Err(error.to_string()),
    };
    let batches = match batches {
        Ok(batches) => batches,
        Err(error) => {
            return format!(
                "<h2>Recent batches</h2>\n<p>The ledger cannot be read now ({}).</p>\n",
                escape(&error)
            );
        }
    };
    let mut html = String::from("<h2>Recent batches</h2>\n");
    if batches.is_empty() {
        html.push_str("<p>No batch is loaded yet.</p>\n");
        return html;
    }
    html.push_str(&chart(&batches));
    html.push_str(
        "<table id=\"batches\">\n<tr><th>batch</th><th>job</th><th>table</th><th>mode</th><th>status</th>\
         <th>committed</th><th>rows read</th><th>rows loaded</th><th>rejected</th><th>duration ms</th></tr>\n",
    );
    for b in &batches {
        let _ = writeln!(
            html,
            "<tr><td><a href=\"/history/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&b.job),
            escape(&b.target),
            escape(&b.mode),
            if b.forced { "committed (forced)" } else { "committed" },
            escape(&b.committed_at),
            b.rows_read,
            b.rows_loaded,
            b.rows_rejected,
            b.duration_ms,
            id = b.id,
        );
    }
    html.push_str("</table>\n");
    html
}

/// Rows read per second of each batch, oldest on the left, as bars.
fn chart(batches: &[Batch]) -> String {
    #[expect(clippy::cast_precision_loss, reason = "a chart")]
    let rate = |b: &Batch| b.rows_read as f64 * 1000.0 / b.duration_ms.max(1) as f64;
    let top = batches.iter().map(rate).fold(1.0, f64::max);
    let (width, height) = (600.0, 160.0);
    let bar = width / 20.0;
    let mut svg = format!(
        "<figure><svg id=\"throughput\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\" \
         role=\"img\" aria-label=\"rows read per second, per batch\">\n",
        height + 20.0
    );
    for (i, b) in batches.iter().rev().enumerate() {
        #[expect(clippy::cast_precision_loss, reason = "a chart")]
        let x = i as f64 * bar;
        let h = (rate(b) / top * height).max(1.0);
        let _ = writeln!(
            svg,
            "<rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4a78b5\">\
             <title>batch {}: {:.0} rows/s</title></rect>",
            height - h,
            bar * 0.8,
            b.id,
            rate(b)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"0\" y=\"{}\" font-size=\"12\">rows read per second, per batch (highest {top:.0})</text>\
         </svg></figure>",
        height + 15.0
    );
    svg
}

/// `/history/{id}`: one batch's page.
pub(super) async fn batch(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return Problem::new(
            StatusCode::BAD_REQUEST,
            format!("{id:?} is not a batch id (a whole number)"),
        )
        .into_response();
    };
    let Ok(client) = api.pool.get().await else {
        return Problem::new(StatusCode::SERVICE_UNAVAILABLE, "no database connection is available").into_response();
    };
    let found = match report::report(&**client, id, REJECTS_SHOWN).await {
        Ok(found) => found,
        Err(error) if error.exit_code() == crate::error::exit::NO_INPUT => {
            return Problem::new(StatusCode::NOT_FOUND, format!("no batch {id} in the ledger")).into_response();
        }
        Err(error) if unmigrated(&error) => {
            return Problem::new(
                StatusCode::NOT_FOUND,
                format!("no batch {id}: there is no ledger here yet (pgbatch migrate creates it)"),
            )
            .into_response();
        }
        Err(error) => {
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("the ledger cannot be read now: {error}"),
            )
            .into_response();
        }
    };
    Html(page(&found)).into_response()
}

/// Whether the database has no ledger yet (`pgbatch.batches` undefined: 42P01, or no
/// `pgbatch` schema: 3F000).
fn unmigrated(error: &crate::error::Error) -> bool {
    matches!(error.sqlstate(), Some("42P01" | "3F000"))
}

fn page(found: &report::Report) -> String {
    let b = &found.batch;
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>batch {id}</title></head><body>\n\
         <p><a href=\"/\">all batches</a></p>\n<h1>Batch {id}: {}</h1>\n<dl>\n",
        escape(&b.job),
        id = b.id
    );
    let mut item = |name: &str, value: String| {
        let _ = writeln!(html, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
    };
    item("table", format!("{} ({})", b.target, b.mode));
    item("committed", format!("{} by {}", b.committed_at, b.loaded_by));
    item(
        "rows",
        format!(
            "{} read, {} loaded, {} skipped, {} deleted, {} rejected",
            b.rows_read, b.rows_loaded, b.rows_skipped, b.rows_deleted, b.rows_rejected
        ),
    );
    item(
        "duration",
        format!(
            "{} ms: {:.0} rows/s, {:.0} bytes/s",
            b.duration_ms, found.rows_per_second, found.bytes_per_second
        ),
    );
    if let Some(stages) = &b.stages {
        item("stages (ms)", stages.to_string());
    }
    html.push_str(
        "</dl>\n<h2>Sources</h2>\n<table id=\"sources\">\n<tr><th>path</th><th>rows</th><th>bytes</th></tr>\n",
    );
    for source in b.sources.as_array().into_iter().flatten() {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(source["path"].as_str().unwrap_or("")),
            source["rows"],
            source["bytes"]
        );
    }
    html.push_str("</table>\n");
    if !found.rejects.is_empty() {
        let _ = writeln!(
            html,
            "<h2>Rejected rows (the first {} of {})</h2>\n<ol id=\"rejects\">",
            found.rejects.len(),
            b.rows_rejected
        );
        for reject in &found.rejects {
            let _ = writeln!(html, "<li>{}</li>", escape(&reject.to_string()));
        }
        html.push_str("</ol>\n");
    }
    html.push_str("</body></html>\n");
    html
}
