//! RFC 9457 problem details: every error the API answers with, as `application/problem+json`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An RFC 9457 problem: a status, a title, a detail, and the parameters at fault.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    detail: String,
    pub(super) invalid: Vec<(String, String)>,
}

impl Problem {
    /// A problem with a status and a detail.
    pub(super) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
            invalid: Vec::new(),
        }
    }

    /// The status it is answered with.
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// What it says went wrong.
    pub(super) fn detail(&self) -> &str {
        &self.detail
    }

    /// A query's failure as the client sees it, classified by the one SQLSTATE table the
    /// loader's exit codes use: the database's data errors come from the client's values
    /// (400), unavailability and temporary failures are 503, a statement timeout 504, and
    /// anything else is ours (500, logged).
    pub(super) fn from_db(error: &tokio_postgres::Error) -> Self {
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
