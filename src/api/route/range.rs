//! `-- range: FROM TO max_days=N`: two date or timestamp parameters that bound a span. A
//! request whose FROM is after its TO, or whose span is longer than the route allows, is a
//! 400 naming TO, before any query runs: a span without a cap would let one request ask
//! for millions of rows.

use super::{Kind, Param, Value};

/// Two parameters that bound a span, by index, and the longest span allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub from: usize,
    pub to: usize,
    pub max_days: Option<i64>,
}

impl Range {
    /// Reads `FROM TO [max_days=N]` against the route's declared parameters.
    pub(super) fn parse(text: &str, params: &[Param]) -> Result<Range, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (Some(from), Some(to)) = (words.first(), words.get(1)) else {
            return Err("range: needs two parameter names (and max_days=N)".into());
        };
        let index = |name: &str| {
            params
                .iter()
                .position(|p| p.name == name && matches!(p.kind, Kind::Date | Kind::Timestamptz))
                .ok_or_else(|| format!("range: {name:?} is not a declared date or timestamptz parameter"))
        };
        let mut range = Range {
            from: index(from)?,
            to: index(to)?,
            max_days: None,
        };
        for flag in &words[2..] {
            match flag.split_once('=') {
                Some(("max_days", n)) => {
                    range.max_days = Some(
                        n.parse()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| format!("range: max_days={n:?} is not a number of days"))?,
                    );
                }
                _ => return Err(format!("range: {flag:?} is not max_days=N")),
            }
        }
        Ok(range)
    }

    /// Why the values break the range, if they do: `(parameter, reason)`.
    pub fn check(&self, params: &[Param], values: &[Value]) -> Option<(String, String)> {
        let days = match (&values[self.from], &values[self.to]) {
            (Value::Date(from), Value::Date(to)) => (*to - *from).num_days(),
            (Value::Timestamptz(from), Value::Timestamptz(to)) => (*to - *from).num_days(),
            _ => return None, // one is absent: nothing to bound
        };
        let (from, to) = (&params[self.from].name, &params[self.to].name);
        if days < 0 {
            return Some((to.clone(), format!("is before {from}")));
        }
        match self.max_days {
            Some(max) if days > max => Some((
                to.clone(),
                format!("spans {days} days from {from}; one request covers at most {max}"),
            )),
            _ => None,
        }
    }
}
