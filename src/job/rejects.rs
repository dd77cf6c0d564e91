//! `max_rejects`: how many bad rows a batch may set aside and still commit, as a count
//! (`max_rejects = 10`) or a share of the rows read (`max_rejects = "0.1%"`).

use super::problems::Problems;

/// The most rows a batch may reject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    /// At most this many rows.
    Count(u64),
    /// At most this percentage of the source rows read (0 to 100).
    Percent(f64),
}

impl RejectLimit {
    /// Whether `rejected` rows out of `read` are within the limit.
    pub fn allows(self, rejected: u64, read: u64) -> bool {
        match self {
            RejectLimit::Count(most) => rejected <= most,
            #[expect(clippy::cast_precision_loss, reason = "row counts far below 2^52")]
            RejectLimit::Percent(percent) => rejected as f64 <= read as f64 * percent / 100.0,
        }
    }

    /// Whether `rejected` rows are already more than any total could allow: a count over
    /// its limit (a percentage is known only at the end).
    pub fn exceeded_early(self, rejected: u64) -> bool {
        matches!(self, RejectLimit::Count(most) if rejected > most)
    }
}

impl std::fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectLimit::Count(most) => write!(f, "{most}"),
            RejectLimit::Percent(percent) => write!(f, "\"{percent}%\""),
        }
    }
}

/// The job's `max_rejects`, checked: a non-negative integer, or a string of a percentage
/// from 0 to 100 ending in `%`. `None` (the default): the first bad row fails the batch.
pub(super) fn resolve_limit(raw: Option<&toml::Value>, problems: &mut Problems) -> Option<RejectLimit> {
    let expected =
        "max_rejects must be a count of rows (such as 10) or a percentage of the rows read (such as \"0.1%\")";
    match raw? {
        toml::Value::Integer(count) => {
            if let Ok(count) = u64::try_from(*count) {
                Some(RejectLimit::Count(count))
            } else {
                problems.at(&["max_rejects"], format!("{expected}; {count} is negative"));
                None
            }
        }
        toml::Value::String(text) => {
            let percent = text
                .trim()
                .strip_suffix('%')
                .and_then(|number| number.trim().parse::<f64>().ok())
                .filter(|p| (0.0..=100.0).contains(p));
            if percent.is_none() {
                problems.at(&["max_rejects"], format!("{expected}; {text:?} is not one"));
            }
            percent.map(RejectLimit::Percent)
        }
        other => {
            problems.at(&["max_rejects"], format!("{expected}; {other} is not one"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(toml_value: &str) -> Result<Option<RejectLimit>, Vec<String>> {
        let value: toml::Table = toml::from_str(&format!("v = {toml_value}")).unwrap();
        let mut problems = Problems::default();
        let limit = resolve_limit(value.get("v"), &mut problems);
        if problems.is_empty() {
            Ok(limit)
        } else {
            Err(problems.list().into_iter().map(|(_, message)| message).collect())
        }
    }

    #[test]
    fn counts_and_percentages_are_read_and_anything_else_is_refused() {
        assert_eq!(limit("10"), Ok(Some(RejectLimit::Count(10))));
        assert_eq!(limit("0"), Ok(Some(RejectLimit::Count(0))));
        assert_eq!(limit("\"0.1%\""), Ok(Some(RejectLimit::Percent(0.1))));
        assert_eq!(limit("\" 5 %\""), Ok(Some(RejectLimit::Percent(5.0))));
        for bad in ["-1", "\"0.1\"", "\"101%\"", "\"ten%\"", "1.5", "true"] {
            let problems = limit(bad).expect_err(bad);
            assert!(
                problems[0].starts_with("max_rejects must be a count"),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn a_count_is_exceeded_as_soon_as_it_is_passed_and_a_percentage_only_at_the_end() {
        let count = RejectLimit::Count(2);
        assert!(count.allows(2, 1000) && !count.allows(3, 1000));
        assert!(!count.exceeded_early(2) && count.exceeded_early(3));
        let percent = RejectLimit::Percent(0.1);
        assert!(percent.allows(1, 1000) && !percent.allows(2, 1000));
        assert!(!percent.exceeded_early(1_000_000));
    }
}
