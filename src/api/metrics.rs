//! `/metrics`: Prometheus counters and latency histograms per route and status, and the
//! connection pool's state, with `prometheus-client`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Labels {
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    pool_size: Gauge,
    pool_available: Gauge,
    pool_waiting: Gauge,
}

/// What `/metrics` answers a scraper that asks for it (Prometheus does): `OpenMetrics`.
pub(super) const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/metrics` answers anyone else (`curl`, `promtool check metrics`, older
/// scrapers): the Prometheus text format 0.0.4.
pub(super) const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("pgbatch_http");
        let requests = Family::<Labels, Counter>::default();
        // 0.25 ms to about 4 s.
        let latency = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        let pool_size = Gauge::default();
        let pool_available = Gauge::default();
        let pool_waiting = Gauge::default();
        registry.register(
            "requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, by route and status",
            latency.clone(),
        );
        registry.register("pool_connections", "Database connections open", pool_size.clone());
        registry.register(
            "pool_available",
            "Database connections open and idle",
            pool_available.clone(),
        );
        registry.register(
            "pool_waiting",
            "Requests waiting for a database connection",
            pool_waiting.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            pool_size,
            pool_available,
            pool_waiting,
        }
    }

    pub fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        let labels = Labels {
            route: route.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// The exposition (`OpenMetrics`, or with `openmetrics` false the text format 0.0.4),
    /// with the pool gauges set from `status` first.
    pub fn render(&self, status: &deadpool_postgres::Status, openmetrics: bool) -> String {
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool_size.set(gauge(status.size));
        self.pool_available.set(gauge(status.available));
        self.pool_waiting.set(gauge(status.waiting));
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        if openmetrics { out } else { to_text_format(&out) }
    }
}

/// `OpenMetrics` as the text format 0.0.4 has it: a counter's family is named with its
/// `_total` suffix, and there are no `# UNIT` or `# EOF` lines.
fn to_text_format(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_counters_with_their_total() {
        let metrics = Metrics::new();
        metrics.observe("/rates", 200, Duration::from_millis(3));
        let status = deadpool_postgres::Status {
            max_size: 4,
            size: 2,
            available: 1,
            waiting: 0,
        };
        let openmetrics = metrics.render(&status, true);
        assert!(openmetrics.contains("# TYPE pgbatch_http_requests counter\n"));
        assert!(openmetrics.ends_with("# EOF\n"));
        let text = metrics.render(&status, false);
        assert!(text.contains("# HELP pgbatch_http_requests_total HTTP requests answered"));
        assert!(text.contains("# TYPE pgbatch_http_requests_total counter\n"));
        assert!(text.contains("pgbatch_http_requests_total{route=\"/rates\",status=\"200\"} 1\n"));
        assert!(text.contains("# TYPE pgbatch_http_request_duration_seconds histogram\n"));
        assert!(text.contains("pgbatch_http_pool_connections 2\n"));
        assert!(!text.contains("# EOF"));
    }
}
