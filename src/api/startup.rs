//! Starting the API: the query files read, the pool made, every query prepared and checked
//! against the database, and the router built.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sha2::Digest as _;
use tokio_postgres::types::Type;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;

use super::output::{self};
use super::route::{self, Kind, Route};
use crate::db::ConnectOptions;
use crate::error::{Error, ErrorKind, Result};

use super::cache::ResponseCache;
use super::handler::{PathParams, QueryParams, handle};
use super::pages::{index, limit_query, openapi_document, overloaded, ready, render_metrics, track};
use super::problem::Problem;
use super::tags::Tags;
use super::{Api, ApiOptions, Served, metrics, pool_error};

impl Api {
    /// Reads the query files, connects, and checks every query against the database:
    /// that it prepares, that its parameters have the declared types, that its columns
    /// can be written out. Every problem is reported at once (a configuration error).
    pub async fn new(connect: &ConnectOptions, options: ApiOptions) -> Result<Api> {
        let routes = route::read_dir(&options.queries)?;
        let mut config = connect.config().clone();
        // JIT off unless the connection string's own options turn it on: compiling a
        // plan costs a request tens to hundreds of milliseconds, more than any of these
        // queries runs. Read-only and the timeout come last, so nothing there undoes them.
        let mut startup = format!(
            "-c jit=off {} -c default_transaction_read_only=on -c statement_timeout={}",
            config.get_options().unwrap_or_default(),
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
        let tags = Tags::start(config.clone(), connect.tls_connector()?);
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
            cache: ResponseCache::new(options.cache_bytes),
            options,
            metrics: metrics::Metrics::new(),
            tags,
        })
    }

    /// Whether the API follows the ledger's batches as they commit (its `ETag`s and cache
    /// then need no round trip); false until its listening connection has read the ledger,
    /// and while that connection is lost.
    pub fn follows_ledger(&self) -> bool {
        self.tags.is_live()
    }

    /// The router: one `GET` per route, plus health, metrics, the OpenAPI document and
    /// the index.
    pub fn router(self) -> Router {
        self.routers().0
    }

    /// The router, and when [`ApiOptions::separate_metrics`] is set, `/metrics` apart
    /// from it, in a router of its own (for a listener that need not be public).
    pub fn routers(self) -> (Router, Option<Router>) {
        let api = Arc::new(self);
        let mut router = Router::new();
        for (i, served) in api.routes.iter().enumerate() {
            let method = if served.route.path_params.is_empty() {
                get(
                    move |State(api): State<Arc<Api>>, query: QueryParams, headers: HeaderMap| async move {
                        handle(api, i, None, query, &headers).await
                    },
                )
            } else {
                get(
                    move |State(api): State<Arc<Api>>, path: PathParams, query: QueryParams, headers: HeaderMap| async move {
                        handle(api, i, Some(path), query, &headers).await
                    },
                )
            };
            router = router.route(&served.route.path, method);
        }
        // The routes' requests in flight are bounded; one more is answered 503 at once
        // (never queued), while health checks and metrics are always answered.
        let shed = ServiceBuilder::new()
            .layer(HandleErrorLayer::new(overloaded))
            .load_shed()
            .layer(GlobalConcurrencyLimitLayer::new(api.options.max_in_flight));
        let metrics = Router::new().route("/metrics", get(render_metrics));
        // The index and the history pages read the ledger: under the same limit as the routes.
        let mut router = router
            .route("/", get(index))
            .route("/history/{id}", get(super::history::batch))
            .route_layer(shed)
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .route("/openapi.json", get(openapi_document));
        let apart = if api.options.separate_metrics {
            Some(finish(metrics, &api))
        } else {
            router = router.merge(metrics);
            None
        };
        (finish(router, &api), apart)
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

/// A router's fallback, query-string limit and request metrics, with the API as state.
fn finish(router: Router<Arc<Api>>, api: &Arc<Api>) -> Router {
    router
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "no such route; see / for the routes") })
        .layer(axum::middleware::from_fn_with_state(Arc::clone(api), limit_query))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(api), track))
        .with_state(Arc::clone(api))
}

/// Prepares a route's query (and its `exists:` queries) and checks what they take and give.
pub(super) async fn check(
    client: &deadpool_postgres::Object,
    route: Route,
) -> std::result::Result<Served, Vec<String>> {
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
                param.kind.sql()
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

pub(super) fn binds(kind: Kind, ty: &Type) -> bool {
    match kind {
        Kind::Text => [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty),
        Kind::Int => [Type::INT2, Type::INT4, Type::INT8].contains(ty),
        Kind::Date => *ty == Type::DATE,
        Kind::Timestamptz => *ty == Type::TIMESTAMPTZ,
        Kind::TextList => [
            Type::TEXT_ARRAY,
            Type::VARCHAR_ARRAY,
            Type::BPCHAR_ARRAY,
            Type::NAME_ARRAY,
        ]
        .contains(ty),
        Kind::IntList => [Type::INT2_ARRAY, Type::INT4_ARRAY, Type::INT8_ARRAY].contains(ty),
    }
}
