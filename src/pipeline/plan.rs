//! The plan of a batch, made before its transaction starts and before any row is read:
//! every source is opened just far enough to know its fields (a header, a footer, a COPY
//! line), the job is bound to each by the one matching rule (`bind`), and every problem
//! in every file is reported at once (configuration, exit 78). A column with a default
//! that no file of the batch has a field for leaves the COPY here: the server fills it.

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{ErrorKind, Result};
use crate::job::{Job, LoadColumn, Segment, ValueRule};
use crate::pipeline::bind::{Binding, list};
use crate::pipeline::source::{self, SourceFile};

/// Where one target column's values come from, as `pgbatch validate` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mapping {
    pub column: String,
    /// The field (as the file spells it), template, constant or rule.
    pub from: String,
    /// The field's type in the file (`text` for text formats), when a field is read.
    pub source_type: Option<String>,
    /// The column's type in the table.
    pub target_type: String,
    /// What the file's type may do in the column's (`caution`), when anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caution: Option<String>,
}

impl std::fmt::Display for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <- {}", self.column, self.from)?;
        match &self.source_type {
            Some(source) => write!(f, " ({source} -> {})", self.target_type)?,
            None if self.target_type.is_empty() => {}
            None => write!(f, " ({})", self.target_type)?,
        }
        match &self.caution {
            Some(caution) => write!(f, ": {caution}"),
            None => Ok(()),
        }
    }
}

/// A batch ready to load.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The job, less the columns left to the server's default.
    pub job: Arc<Job>,
    /// Fields of the files that no column takes, in the order first met.
    pub fields_ignored: Vec<String>,
    /// How the first file maps to the table.
    pub mapping: Vec<Mapping>,
}

/// One file's fields, their types, and the job bound to them.
struct Opened {
    fields: Vec<String>,
    types: Vec<String>,
    binding: std::result::Result<Binding, Vec<String>>,
}

/// Plans a batch of `files` for `job`.
///
/// # Errors
///
/// Configuration (every problem of every file) when a column is not filled, a name matches
/// two fields, or a field the job names is missing; the file's own error when it cannot
/// be opened (missing, unreachable, not of its format).
pub fn plan(job: &Job, files: &[SourceFile]) -> Result<Plan> {
    let opened: Vec<Opened> = files
        .par_iter()
        .map(|file| {
            let source = source::open(file, &job.read)?;
            let fields = source.fields().to_vec();
            Ok(Opened {
                types: source.field_types(),
                binding: Binding::new(job, &fields),
                fields,
            })
        })
        .collect::<Result<_>>()?;

    let mut problems = grouped_problems(files, &opened);

    let bindings: Vec<(&Opened, &Binding)> = opened
        .iter()
        .filter_map(|o| o.binding.as_ref().ok().map(|b| (o, b)))
        .collect();
    let mut job = job.clone();
    let mut server = Vec::new();
    if bindings.len() == files.len() {
        let mut left_to_server = Vec::new();
        for (index, column) in job.columns.iter().enumerate() {
            let lacking: Vec<&str> = files
                .iter()
                .zip(&bindings)
                .filter(|(_, (_, binding))| binding.columns[index].server)
                .map(|(file, _)| file.display.as_str())
                .collect();
            if lacking.len() == files.len() {
                left_to_server.push(index);
            } else if !lacking.is_empty() {
                problems.push(format!(
                    "column {:?} has a default, and a field in some files but not in {}: one COPY cannot \
                     take it from some files and leave it to the default in others (load them as separate \
                     batches, or say [columns.{}] absent = true)",
                    column.name,
                    files_named(&lacking),
                    column.name
                ));
            }
        }
        server = left_to_server.iter().map(|i| job.columns[*i].clone()).collect();
        let mut index = 0;
        job.columns.retain(|_| {
            index += 1;
            !left_to_server.contains(&(index - 1))
        });
        if job.columns.is_empty() && problems.is_empty() {
            problems.push(format!("no column of table {:?} is filled by the batch", job.table));
        }
    }
    if !problems.is_empty() {
        return Err(ErrorKind::Config { problems }.into());
    }

    let mut fields_ignored: Vec<String> = Vec::new();
    for (_, binding) in &bindings {
        for name in &binding.ignored {
            if !fields_ignored.contains(name) {
                fields_ignored.push(name.clone());
            }
        }
    }
    let mapping = bindings
        .first()
        .map(|(opened, _)| mapping(&job, &server, opened))
        .unwrap_or_default();
    Ok(Plan {
        job: Arc::new(job),
        fields_ignored,
        mapping,
    })
}

/// The mapping of `job` (as planned) on one file, bound again to it.
fn mapping(job: &Job, server: &[LoadColumn], opened: &Opened) -> Vec<Mapping> {
    let Ok(binding) = Binding::new(job, &opened.fields) else {
        return Vec::new();
    };
    let field = |i: &usize| opened.fields[*i].clone();
    let types = |indices: &[usize]| {
        let mut types: Vec<&str> = indices.iter().map(|i| opened.types[*i].as_str()).collect();
        types.dedup();
        Some(types.join(", "))
    };
    let mut lines: Vec<Mapping> = job
        .columns
        .iter()
        .zip(&binding.columns)
        .map(|(column, bound)| {
            let (from, source_type) = match &column.rule {
                ValueRule::Field { .. } => (format!("{:?}", field(&bound.fields[0])), types(&bound.fields)),
                ValueRule::Template(segments) => {
                    let mut names = bound.fields.iter().map(field);
                    let text: String = segments
                        .iter()
                        .map(|s| match s {
                            Segment::Literal(text) => text.replace('{', "{{").replace('}', "}}"),
                            Segment::Field(_) => format!("{{{}}}", names.next().unwrap_or_default()),
                        })
                        .collect();
                    (format!("template {text:?}"), types(&bound.fields))
                }
                ValueRule::Constant(value) => (format!("value {value:?}"), None),
                ValueRule::Path(regex) => (format!("the file name, by {:?}", regex.as_str()), None),
                ValueRule::Unpivoted => (
                    format!(
                        "each of {} (unpivot)",
                        list(&binding.unpivot.iter().map(field).collect::<Vec<_>>())
                    ),
                    types(&binding.unpivot),
                ),
                ValueRule::PerField(values) => (format!("per unpivoted field: {}", list(values)), None),
            };
            let caution = match &column.rule {
                ValueRule::Field { .. } | ValueRule::Unpivoted => source_type
                    .as_deref()
                    .and_then(|source| super::caution::caution(source, column)),
                _ => None,
            };
            Mapping {
                column: column.name.clone(),
                from,
                source_type,
                target_type: column.ty.name().to_owned(),
                caution,
            }
        })
        .collect();
    lines.extend(server.iter().map(|column| Mapping {
        column: column.name.clone(),
        from: "nothing: no file has the field, so the table's default".into(),
        source_type: None,
        target_type: column.ty.name().to_owned(),
        caution: None,
    }));
    lines.extend(job.absent.iter().map(|name| Mapping {
        column: name.clone(),
        from: "nothing: absent, so the table's default or NULL".into(),
        source_type: None,
        target_type: String::new(),
        caution: None,
    }));
    lines
}

/// Every file's binding problems, grouped by text, so that a hundred files lacking one
/// field say it once.
fn grouped_problems(files: &[SourceFile], opened: &[Opened]) -> Vec<String> {
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut order = Vec::new();
    for (file, opened) in files.iter().zip(opened) {
        for problem in opened.binding.as_ref().err().into_iter().flatten() {
            let entry = grouped.entry(problem.as_str()).or_default();
            if entry.is_empty() {
                order.push(problem.as_str());
            }
            entry.push(&file.display);
        }
    }
    order
        .iter()
        .map(|problem| format!("{}: {problem}", files_named(&grouped[problem])))
        .collect()
}

/// Files as a message names them: up to three, then how many more.
fn files_named(files: &[&str]) -> String {
    match files {
        [one] => (*one).to_owned(),
        _ if files.len() <= 3 => files.join(", "),
        _ => format!("{} and {} more files", files[..3].join(", "), files.len() - 3),
    }
}
