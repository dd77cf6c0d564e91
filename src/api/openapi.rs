//! `/openapi.json`: an OpenAPI 3.1 document made from the query files (parameters from the
//! headers, response columns from the prepared queries).

use serde_json::{Value as Json, json};

use super::Api;
use super::output::{Format, json_schema};
use super::route::{Kind, Param};

pub fn document(api: &Api) -> Json {
    let mut paths = serde_json::Map::new();
    for served in &api.routes {
        paths.insert(served.route.path.clone(), route_entry(served));
    }
    let text = ["text/plain; charset=utf-8"].as_slice();
    for (path, summary, content_types) in [
        ("/healthz", "The server is up.", text),
        ("/readyz", "The database is reachable.", text),
        (
            "/metrics",
            "Prometheus metrics: OpenMetrics when the request accepts it, else the text format 0.0.4.",
            [super::metrics::TEXT, super::metrics::OPENMETRICS].as_slice(),
        ),
    ] {
        if path == "/metrics" && api.options.separate_metrics {
            continue;
        }
        let content: serde_json::Map<String, Json> = content_types
            .iter()
            .map(|t| ((*t).to_owned(), json!({ "schema": { "type": "string" } })))
            .collect();
        let mut responses = json!({
            "200": { "description": "OK", "content": content },
            "414": { "$ref": "#/components/responses/Problem" },
        });
        if path == "/readyz" {
            responses["503"] = json!({ "$ref": "#/components/responses/Problem" });
        }
        paths.insert(
            path.to_owned(),
            json!({ "get": { "summary": summary, "responses": responses } }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "pgbatch API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only routes over the datasets pgbatch loads; each route is a query file.",
        },
        "paths": paths,
        "components": components(),

    })
}

/// A route's entry: its parameters, its rows' schema, every status it answers.
fn route_entry(served: &super::Served) -> Json {
    let route = &served.route;
    let examples = example_values(&route.path, route.example.as_deref());
    let mut parameters: Vec<Json> = route
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut parameter = parameter(p, route.path_params.contains(&i));
            if let Some((_, value)) = examples.iter().find(|(name, _)| *name == p.name) {
                parameter["example"] = value.as_str().into();
            }
            parameter
        })
        .collect();
    parameters.push(match &route.format {
        Some(format) => {
            let mut own = components()["parameters"]["format"].clone();
            own["schema"]["default"] = format.as_str().into();
            own
        }
        None => json!({ "$ref": "#/components/parameters/format" }),
    });
    let properties: serde_json::Map<String, Json> = served
        .columns
        .iter()
        .map(|(name, ty)| (name.clone(), json_schema(ty)))
        .collect();
    let row = json!({ "type": "object", "properties": properties });
    let mut responses = json!({
        "200": {
            "description": "The rows, in the format asked for.",
            "headers": { "ETag": { "$ref": "#/components/headers/ETag" } },
            "content": {
                Format::Json.content_type(): { "schema": { "type": "array", "items": row } },
                Format::Ndjson.content_type(): { "schema": { "type": "string" } },
                Format::Csv.content_type(): { "schema": { "type": "string" } },
            },
        },
        "304": { "description": "Not modified since the ETag given in If-None-Match." },
        "400": { "$ref": "#/components/responses/Problem" },
        "414": { "$ref": "#/components/responses/Problem" },
        "503": { "$ref": "#/components/responses/Overloaded" },
        "504": { "$ref": "#/components/responses/Problem" },
    });
    if !route.exists.is_empty() {
        responses["404"] = json!({ "$ref": "#/components/responses/Problem" });
    }
    json!({
        "get": {
            "operationId": route.name(),
            "summary": route.summary,
            "parameters": parameters,
            "responses": responses,
        }
    })
}

/// The parameters of a route's example request (`-- example: /rates?date_from=...`), so
/// that a client tool trying the document reaches real rows: the path's `{name}` segments
/// read from the example's path, then the query string.
fn example_values(path: &str, example: Option<&str>) -> Vec<(String, String)> {
    let Some(example) = example else {
        return Vec::new();
    };
    let (example_path, query) = example.split_once('?').unwrap_or((example, ""));
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let in_path = path
        .split('/')
        .zip(example_path.split('/'))
        .filter_map(|(segment, value)| {
            let name = segment.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), decode(value)))
        });
    in_path
        .chain(
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(name, value)| (decode(name), decode(value))),
        )
        .collect()
}

/// One route parameter, in the path or the query string.
fn parameter(p: &Param, in_path: bool) -> Json {
    let mut schema = match p.kind {
        Kind::Text | Kind::TextList => json!({ "type": "string" }),
        Kind::Int | Kind::IntList => json!({ "type": "integer" }),
        Kind::Date => json!({ "type": "string", "format": "date" }),
        Kind::Timestamptz => json!({ "type": "string", "format": "date-time" }),
    };
    if let Some(min) = p.min {
        schema["minimum"] = min.into();
    }
    if let Some(max) = p.max {
        schema["maximum"] = max.into();
    }
    if let Some(max) = p.max_length {
        schema["maxLength"] = max.into();
    }
    if let Some(pattern) = &p.pattern {
        schema["pattern"] = pattern.as_str().into();
    }
    if let Some(default) = &p.default {
        schema["default"] = match p.kind {
            Kind::Int => default
                .parse::<i64>()
                .map_or_else(|_| default.as_str().into(), Json::from),
            _ => default.as_str().into(),
        };
    }
    let mut parameter = json!({
        "name": p.name,
        "in": if in_path { "path" } else { "query" },
        "required": p.required,
        "description": p.description,
    });
    if matches!(p.kind, Kind::TextList | Kind::IntList) {
        // A comma-separated list: `name=a,b,c`.
        parameter["style"] = "form".into();
        parameter["explode"] = false.into();
        schema = json!({ "type": "array", "items": schema, "minItems": 1, "maxItems": super::route::MAX_ITEMS });
    }
    parameter["schema"] = schema;
    parameter
}

/// The parameters, headers, responses and schemas the routes share.
fn components() -> Json {
    json!({
        "parameters": {
            "format": {
                "name": "format",
                "in": "query",
                "required": false,
                "description": "Output format; overrides the Accept header.",
                "schema": { "type": "string", "enum": ["json", "ndjson", "csv"], "default": "json" },
            }
        },
        "headers": {
            "ETag": {
                "description": "The last batch committed to the tables the route reads; send it back in If-None-Match.",
                "schema": { "type": "string" },
            },
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": { "type": "integer" },
            }
        },
        "responses": {
            "Problem": {
                "description": "An RFC 9457 problem.",
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
            },
            "Overloaded": {
                "description": "An RFC 9457 problem: too many requests in flight, or the database unavailable; \
                                try again after Retry-After seconds when it is given.",
                "headers": { "Retry-After": { "$ref": "#/components/headers/Retry-After" } },
                "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } },
            }
        },
        "schemas": {
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": { "type": "string" },
                    "title": { "type": "string" },
                    "status": { "type": "integer" },
                    "detail": { "type": "string" },
                    "invalid-params": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": { "name": { "type": "string" }, "reason": { "type": "string" } },
                        },
                    },
                },
            }
        },
    })
}
