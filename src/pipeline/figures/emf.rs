//! One CloudWatch Embedded Metric Format line per batch: the figures as metrics in the
//! `pgbatch` namespace by `job`, and the status, exit code, batch id and error as
//! properties a Logs Insights query can read.

use serde_json::{Map, Value, json};

use super::Figures;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "pgbatch";

/// Each metric of a run: its name, its unit and its value.
fn metrics(figures: &Figures) -> [(&'static str, &'static str, Value); 11] {
    [
        ("Batches", "Count", json!(1)),
        ("FailedBatches", "Count", json!(u8::from(!figures.ok))),
        ("RowsRead", "Count", json!(figures.rows_read)),
        ("RowsLoaded", "Count", json!(figures.rows_loaded)),
        ("RowsSkipped", "Count", json!(figures.rows_skipped)),
        ("RowsDeleted", "Count", json!(figures.rows_deleted)),
        ("RowsRejected", "Count", json!(figures.rows_rejected)),
        ("Bytes", "Bytes", json!(figures.bytes)),
        ("Duration", "Milliseconds", json!(figures.duration_ms)),
        ("RowsPerSecond", "Count/Second", json!(figures.rows_per_second())),
        ("ExitCode", "None", json!(figures.exit_code)),
    ]
}

/// The EMF line (one JSON object, no newline) of a run's figures.
pub fn line(figures: &Figures) -> String {
    let metrics = metrics(figures);
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": figures.ended_at_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["job"]],
                "Metrics": definitions,
            }],
        }),
    );
    root.insert("job".into(), json!(figures.job));
    root.insert("status".into(), json!(figures.status));
    if let Some(id) = figures.batch_id {
        root.insert("batch_id".into(), json!(id));
    }
    if let Some(error) = &figures.error {
        root.insert("error".into(), json!(error));
    }
    for (name, _, value) in metrics {
        root.insert(name.into(), value);
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::figures::example;

    /// The units the EMF specification allows (`MetricDefinition.Unit`).
    const UNITS: [&str; 27] = [
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    ];

    /// The specification's rules for a line: a root `_aws` with an integer `Timestamp` and
    /// `CloudWatchMetrics` directives, each with a non-empty `Namespace`, `Dimensions`
    /// (sets of at most 30 names, each a root member holding a string) and `Metrics` (at
    /// most 100 definitions, each `Name` a root member holding a number or an array of
    /// at most 100 numbers, `Unit` one of the allowed units).
    fn check_emf(line: &str) -> Result<(), String> {
        let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
        let aws = root.get("_aws").ok_or("no _aws")?;
        aws.get("Timestamp")
            .and_then(Value::as_u64)
            .ok_or("no integer Timestamp")?;
        let directives = aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .ok_or("no CloudWatchMetrics")?;
        for directive in directives {
            let namespace = directive
                .get("Namespace")
                .and_then(Value::as_str)
                .ok_or("no Namespace")?;
            if namespace.trim().is_empty() || namespace.len() > 1024 {
                return Err(format!("bad Namespace {namespace:?}"));
            }
            for set in directive
                .get("Dimensions")
                .and_then(Value::as_array)
                .ok_or("no Dimensions")?
            {
                let set = set.as_array().ok_or("a dimension set is not an array")?;
                if set.len() > 30 {
                    return Err("more than 30 dimensions".into());
                }
                for name in set {
                    let name = name.as_str().ok_or("a dimension is not a string")?;
                    root.get(name)
                        .and_then(Value::as_str)
                        .ok_or(format!("dimension {name} is no string member"))?;
                }
            }
            let metrics = directive.get("Metrics").and_then(Value::as_array).ok_or("no Metrics")?;
            if metrics.len() > 100 {
                return Err("more than 100 metrics".into());
            }
            for metric in metrics {
                let name = metric
                    .get("Name")
                    .and_then(Value::as_str)
                    .ok_or("a metric without Name")?;
                match root.get(name) {
                    Some(Value::Number(_)) => {}
                    Some(Value::Array(values)) if values.len() <= 100 && values.iter().all(Value::is_number) => {}
                    other => return Err(format!("metric {name} has {other:?}")),
                }
                if let Some(unit) = metric.get("Unit") {
                    let unit = unit.as_str().ok_or("a Unit is not a string")?;
                    if !UNITS.contains(&unit) {
                        return Err(format!("unit {unit} is not allowed"));
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn a_batch_is_one_line_the_emf_specification_accepts() {
        for ok in [true, false] {
            let figures = example(ok);
            let line = line(&figures);
            assert!(!line.contains('\n'));
            check_emf(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let root: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(root["_aws"]["Timestamp"], 1_796_025_600_000_u64);
            assert_eq!(root["job"], "shipping_rates");
            assert_eq!(root["FailedBatches"], u8::from(!ok));
            assert_eq!(root["RowsRead"], figures.rows_read);
            assert_eq!(root["Duration"], 1_250);
        }
        let root: Value = serde_json::from_str(&line(&example(true))).unwrap();
        // 1,500 rows in 1.25 s.
        assert_eq!(root["RowsPerSecond"], 1_200.0);
        assert_eq!(root["batch_id"], 7);
        assert!(root.get("error").is_none());
    }

    #[test]
    fn the_check_refuses_what_the_specification_refuses() {
        let good = line(&example(true));
        let mut root: Value = serde_json::from_str(&good).unwrap();
        root["RowsRead"] = json!("1500");
        assert!(check_emf(&root.to_string()).is_err(), "a metric as a string");
        let mut root: Value = serde_json::from_str(&good).unwrap();
        root["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Rows");
        assert!(check_emf(&root.to_string()).is_err(), "an unknown unit");
        let mut root: Value = serde_json::from_str(&good).unwrap();
        root.as_object_mut().unwrap().remove("job");
        assert!(check_emf(&root.to_string()).is_err(), "a dimension without its member");
        let mut root: Value = serde_json::from_str(&good).unwrap();
        root["_aws"].as_object_mut().unwrap().remove("Timestamp");
        assert!(check_emf(&root.to_string()).is_err(), "no timestamp");
    }
}
