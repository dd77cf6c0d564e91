//! A job file as read from disk: found by name or path, parsed, and resolved against the
//! target table's catalog. Every problem names the TOML line and column it is about.

use std::path::{Path, PathBuf};

use super::Job;
use super::problems::Problems;
use super::raw::RawJob;
use crate::db::catalog::Column;
use crate::error::{Error, ErrorKind, Result};

/// A parsed, unresolved job file, with where it came from.
#[derive(Debug, Clone)]
pub struct Spec {
    pub raw: RawJob,
    pub name: String,
    pub path: PathBuf,
    /// The file's text, to say on which line a problem is.
    text: String,
}

impl Spec {
    /// Finds a job: a path to a `.toml` file, or a name under `jobs_dir`.
    pub fn find(job: &str, jobs_dir: &Path) -> Result<Self> {
        let direct = PathBuf::from(job);
        let path = if direct.is_file() {
            direct
        } else {
            let named = jobs_dir.join(format!("{job}.toml"));
            if !named.is_file() {
                return Err(Error::config(format!(
                    "no job {job:?}: neither a file nor {}",
                    named.display()
                )));
            }
            named
        };
        Self::read(&path)
    }

    /// The jobs a list file names (`jobs/demo.list`): one name or path per line, found as
    /// [`Spec::find`] finds them; blank lines and `#` comments are skipped.
    pub fn list(list: &Path, jobs_dir: &Path) -> Result<Vec<Self>> {
        // A list is configuration, not input: a missing one is a configuration error.
        let text =
            std::fs::read_to_string(list).map_err(|error| Error::config(format!("{}: {error}", list.display())))?;
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|job| Self::find(job, jobs_dir))
            .collect()
    }

    /// Reads and parses one job file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| ErrorKind::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(text, path)
    }

    /// Parses a job file's text; `path` names it in errors and is where relative sources
    /// are read from.
    pub fn parse(text: String, path: &Path) -> Result<Self> {
        let raw: RawJob = toml::from_str(&text).map_err(|error| {
            let at = error.span().map_or_else(String::new, |span| at(&text, span.start));
            Error::config(format!("{}{at}: {}", path.display(), error.message().trim_end()))
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("job");
        let name = raw.name.clone().unwrap_or_else(|| stem.to_owned());
        Ok(Spec {
            raw,
            name,
            path: path.to_path_buf(),
            text,
        })
    }

    /// The folder relative sources are read from.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Resolves the spec against the target table's columns. Every problem found is
    /// reported in one configuration error, each as `path:line:column: problem`.
    pub fn resolve(&self, catalog: &[Column]) -> Result<Job> {
        let mut problems = Problems::default();
        let job = super::resolve::resolve(&self.raw, &self.name, self.base_dir(), catalog, &mut problems);
        if problems.is_empty() {
            return Ok(job);
        }
        let path = self.path.display().to_string();
        let located = problems
            .list()
            .into_iter()
            .map(|(keys, message)| {
                let at = key_offset(&self.text, &keys).map_or_else(String::new, |offset| at(&self.text, offset));
                format!("{path}{at}: {message}")
            })
            .collect();
        Err(ErrorKind::Config { problems: located }.into())
    }
}

/// `:line:column` (both from 1) of a byte offset in `text`.
fn at(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(":{line}:{column}")
}

/// Where the deepest of `keys` that the file writes is defined: the offset of its key.
/// `None` when the file writes not even the first (a default is at fault).
fn key_offset(text: &str, keys: &[String]) -> Option<usize> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut found = None;
    for key in keys {
        let Some((name, value)) = table.iter().find(|(name, _)| name.get_ref() == key) else {
            break;
        };
        found = Some(name.span().start);
        match value.get_ref().as_table() {
            Some(inner) => table = inner,
            None => break,
        }
    }
    found
}
