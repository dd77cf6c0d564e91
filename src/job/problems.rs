//! The problems found in a job spec, each with the keys it is about, and guesses for
//! misspelt names.

/// The problems found in a spec, each with the keys it is about (`["columns", "day",
/// "format"]`); `Spec::resolve` turns the keys into a line and column.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<(Vec<String>, String)>);

impl Problems {
    /// Records a problem about the value at `keys` (or the nearest table that exists).
    pub(crate) fn at(&mut self, keys: &[&str], message: impl Into<String>) {
        self.0
            .push((keys.iter().map(|k| (*k).to_owned()).collect(), message.into()));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each problem's keys and message, in the order found.
    pub(crate) fn list(self) -> Vec<(Vec<String>, String)> {
        self.0
    }
}

/// The existing name closest to `wanted`, if one is close enough to be a likely typo:
/// `station` for `staton`, `PM2.5` for `pm25`.
pub fn closest<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    names
        .into_iter()
        .map(|name| (strsim::jaro_winkler(&wanted, &name.to_lowercase()), name))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

/// ` (did you mean "station"?)`, or nothing.
pub fn did_you_mean<'a>(wanted: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    closest(wanted, names).map_or_else(String::new, |name| format!(" (did you mean {name:?}?)"))
}
