//! The figures as a Prometheus textfile-collector file (`node_exporter`'s
//! `--collector.textfile.directory`): each job's last run, when it last succeeded, and
//! its runs by outcome. Jobs may share a file: a run rewrites its own job's samples and
//! keeps the others', under a lock, and replaces the file whole (write, then rename), so
//! the collector never reads half of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::Figures;
use crate::error::{Error, ErrorKind, Result};

/// Every family the file holds: name, type, help.
const FAMILIES: [(&str, &str, &str); 13] = [
    (
        "pgbatch_last_run_timestamp_seconds",
        "gauge",
        "When the job's last run ended.",
    ),
    (
        "pgbatch_last_success_timestamp_seconds",
        "gauge",
        "When the job's last successful run ended.",
    ),
    (
        "pgbatch_last_run_success",
        "gauge",
        "1 if the job's last run succeeded, else 0.",
    ),
    (
        "pgbatch_last_exit_code",
        "gauge",
        "The exit code of the job's last run.",
    ),
    ("pgbatch_last_rows_read", "gauge", "Rows the job's last run read."),
    ("pgbatch_last_rows_loaded", "gauge", "Rows the job's last run loaded."),
    (
        "pgbatch_last_rows_skipped",
        "gauge",
        "Rows the job's last run skipped (blank records).",
    ),
    (
        "pgbatch_last_rows_deleted",
        "gauge",
        "Rows the job's last run deleted (replace modes).",
    ),
    (
        "pgbatch_last_rows_rejected",
        "gauge",
        "Rows the job's last run rejected as bad.",
    ),
    ("pgbatch_last_bytes", "gauge", "Source bytes of the job's last run."),
    (
        "pgbatch_last_duration_seconds",
        "gauge",
        "How long the job's last run took.",
    ),
    (
        "pgbatch_last_rows_per_second",
        "gauge",
        "Rows read per second in the job's last run.",
    ),
    (
        "pgbatch_runs_total",
        "counter",
        "Runs of the job, by outcome (success or failure).",
    ),
];

/// A textfile to write the figures of runs to.
#[derive(Debug)]
pub struct Textfile {
    path: PathBuf,
    lock: File,
}

impl Textfile {
    /// Checks, before a batch, that the file can be written: its folder exists and takes
    /// the lock file beside it (`PATH.lock`). A configuration error (78) otherwise.
    pub fn open(path: &Path) -> Result<Textfile> {
        let lock_path = sibling(path, ".lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|error| {
                Error::config(format!(
                    "--metrics-file {}: cannot create {}: {error}",
                    path.display(),
                    lock_path.display()
                ))
            })?;
        Ok(Textfile {
            path: path.to_owned(),
            lock,
        })
    }

    /// Writes a run's figures: this job's samples replaced, other jobs' kept.
    pub fn write(&self, figures: &Figures) -> Result<()> {
        let failed = |source: std::io::Error| ErrorKind::Read {
            path: format!("{} (writing metrics)", self.path.display()).into(),
            source,
        };
        self.lock.lock().map_err(failed)?;
        let previous = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(failed(error).into()),
        };
        let temporary = sibling(&self.path, ".tmp");
        let written = (|| {
            let mut file = File::create(&temporary)?;
            file.write_all(render(figures, &previous).as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &self.path)
        })();
        let _ = self.lock.unlock();
        written.map_err(|error| failed(error).into())
    }
}

/// `path` with `suffix` appended to its name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// One sample line as written: its family, its job, the whole line.
struct Sample<'a> {
    family: &'a str,
    job: String,
    labels: &'a str,
    value: &'a str,
    line: &'a str,
}

/// The samples of a file this module wrote; lines it cannot read are dropped.
fn samples(text: &str) -> Vec<Sample<'_>> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (family, labels) = series.split_once('{')?;
            let labels = labels.strip_suffix('}')?;
            let job = label(labels, "job")?;
            Some(Sample {
                family,
                job,
                labels,
                value,
                line,
            })
        })
        .collect()
}

/// The value of label `name` in `a="x",b="y"` (escaped as the text format escapes).
fn label(labels: &str, name: &str) -> Option<String> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let mut value = String::new();
    let mut chars = labels[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The whole file after a run with these figures, given the file before it.
#[allow(clippy::cast_precision_loss)]
pub fn render(figures: &Figures, previous: &str) -> String {
    let before = samples(previous);
    let mine = |family: &'static str| {
        before
            .iter()
            .filter(move |s| s.family == family && s.job == figures.job)
    };
    let job = format!("job=\"{}\"", escape(&figures.job));
    let seconds = |ms: u64| format!("{:.3}", ms as f64 / 1000.0);
    let ended = seconds(figures.ended_at_ms);
    let last_success = if figures.ok {
        Some(ended.clone())
    } else {
        mine("pgbatch_last_success_timestamp_seconds")
            .next()
            .map(|s| s.value.to_owned())
    };
    let runs = |outcome: &str| -> u64 {
        let before: u64 = mine("pgbatch_runs_total")
            .find(|s| label(s.labels, "outcome").as_deref() == Some(outcome))
            .and_then(|s| s.value.parse::<u64>().ok())
            .unwrap_or(0);
        before + u64::from((outcome == "success") == figures.ok)
    };
    let mut ours: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut put = |family: &'static str, labels: &str, value: String| {
        ours.entry(family)
            .or_default()
            .push(format!("{family}{{{labels}}} {value}"));
    };
    put("pgbatch_last_run_timestamp_seconds", &job, ended);
    if let Some(at) = last_success {
        put("pgbatch_last_success_timestamp_seconds", &job, at);
    }
    put("pgbatch_last_run_success", &job, u8::from(figures.ok).to_string());
    put("pgbatch_last_exit_code", &job, figures.exit_code.to_string());
    put("pgbatch_last_rows_read", &job, figures.rows_read.to_string());
    put("pgbatch_last_rows_loaded", &job, figures.rows_loaded.to_string());
    put("pgbatch_last_rows_skipped", &job, figures.rows_skipped.to_string());
    put("pgbatch_last_rows_deleted", &job, figures.rows_deleted.to_string());
    put("pgbatch_last_rows_rejected", &job, figures.rows_rejected.to_string());
    put("pgbatch_last_bytes", &job, figures.bytes.to_string());
    put("pgbatch_last_duration_seconds", &job, seconds(figures.duration_ms));
    put(
        "pgbatch_last_rows_per_second",
        &job,
        format!("{:.3}", figures.rows_per_second()),
    );
    for outcome in ["failure", "success"] {
        put(
            "pgbatch_runs_total",
            &format!("{job},outcome=\"{outcome}\""),
            runs(outcome).to_string(),
        );
    }
    let mut text = String::new();
    for (family, kind, help) in FAMILIES {
        let mut lines: Vec<String> = before
            .iter()
            .filter(|s| s.family == family && s.job != figures.job)
            .map(|s| s.line.to_owned())
            .collect();
        lines.extend(ours.remove(family).unwrap_or_default());
        if lines.is_empty() {
            continue;
        }
        lines.sort();
        let _ = writeln!(text, "# HELP {family} {help}\n# TYPE {family} {kind}");
        for line in lines {
            let _ = writeln!(text, "{line}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::figures::example;

    #[test]
    fn a_failure_keeps_the_last_success_and_counts_runs_by_outcome() {
        let ok = example(true);
        let first = render(&ok, "");
        assert!(first.contains("pgbatch_last_success_timestamp_seconds{job=\"shipping_rates\"} 1796025600.000\n"));
        assert!(first.contains("pgbatch_runs_total{job=\"shipping_rates\",outcome=\"success\"} 1\n"));
        assert!(first.contains("pgbatch_runs_total{job=\"shipping_rates\",outcome=\"failure\"} 0\n"));
        let mut failed = example(false);
        failed.ended_at_ms += 3_600_000;
        let second = render(&failed, &first);
        assert!(second.contains("pgbatch_last_success_timestamp_seconds{job=\"shipping_rates\"} 1796025600.000\n"));
        assert!(second.contains("pgbatch_last_run_timestamp_seconds{job=\"shipping_rates\"} 1796029200.000\n"));
        assert!(second.contains("pgbatch_last_run_success{job=\"shipping_rates\"} 0\n"));
        assert!(second.contains("pgbatch_last_exit_code{job=\"shipping_rates\"} 65\n"));
        assert!(second.contains("pgbatch_runs_total{job=\"shipping_rates\",outcome=\"failure\"} 1\n"));
        assert!(second.contains("pgbatch_runs_total{job=\"shipping_rates\",outcome=\"success\"} 1\n"));
        // A job that never succeeded has no last success.
        assert!(!render(&failed, "").contains("pgbatch_last_success_timestamp_seconds"));
    }

    #[test]
    fn other_jobs_samples_are_kept_in_their_families() {
        let mut other = example(true);
        other.job = "music \"charts\"".into();
        let shared = render(&other, "");
        let both = render(&example(false), &shared);
        assert!(
            both.contains("pgbatch_last_run_success{job=\"music \\\"charts\\\"\"} 1\n"),
            "{both}"
        );
        assert!(both.contains("pgbatch_last_run_success{job=\"shipping_rates\"} 0\n"));
        assert_eq!(both.matches("# TYPE pgbatch_last_run_success gauge").count(), 1);
        assert_eq!(
            label("job=\"music \\\"charts\\\"\"", "job").as_deref(),
            Some("music \"charts\"")
        );
    }
}
