//! A request's query parameters: read against the route's declared kinds, and bound to its
//! query with their declared types.

use axum::http::{HeaderMap, StatusCode, header};
use bytes::BytesMut;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::output::Format;
use super::route::{self, Route, Value};

use super::problem::Problem;

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
            Value::TextList(items) => items.to_sql(ty, out),
            Value::IntList(items) => match *ty {
                Type::INT2_ARRAY => items
                    .iter()
                    .map(|&n| i16::try_from(n))
                    .collect::<Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                Type::INT4_ARRAY => items
                    .iter()
                    .map(|&n| i32::try_from(n))
                    .collect::<Result<Vec<_>, _>>()?
                    .to_sql(ty, out),
                _ => items.to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        // The types were checked against the query when the server started (`binds`).
        true
    }

    to_sql_checked!();
}

/// Checks the request's parameters, from the path (`path`) and the query string (`pairs`),
/// against the route's: every problem is reported at once.
pub(super) fn parameters(
    route: &Route,
    path: &[(String, String)],
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> std::result::Result<(Vec<Value>, Format), Problem> {
    let mut invalid = Vec::new();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(n, _)| n == name) {
            invalid.push((name.clone(), "is given more than once".to_owned()));
        } else if path.iter().any(|(n, _)| n == name) {
            invalid.push((name.clone(), format!("is part of the path, {}", route.path)));
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
    let given = |name: &str| {
        path.iter()
            .chain(pairs)
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let format = match given(route::FORMAT_PARAM) {
        Some(name) => Format::from_name(name).unwrap_or_else(|| {
            invalid.push((
                route::FORMAT_PARAM.to_owned(),
                format!("{name:?} is not one of json, ndjson, csv"),
            ));
            Format::Json
        }),
        None => Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or(""))
            .or_else(|| route.format.as_deref().and_then(Format::from_name))
            .unwrap_or(Format::Json),
    };
    let mut values = Vec::with_capacity(route.params.len());
    for param in &route.params {
        match param.value(given(&param.name)) {
            Ok(value) => values.push(value),
            Err(reason) => invalid.push((param.name.clone(), reason)),
        }
    }
    for group in &route.one_of {
        if group.iter().all(|&p| values.get(p).is_some_and(|v| *v == Value::Null)) {
            let names: Vec<&str> = group.iter().map(|&p| route.params[p].name.as_str()).collect();
            invalid.push((names.join(", "), "give at least one of these".to_owned()));
        }
    }
    if values.len() == route.params.len() {
        invalid.extend(
            route
                .ranges
                .iter()
                .filter_map(|range| range.check(&route.params, &values)),
        );
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
