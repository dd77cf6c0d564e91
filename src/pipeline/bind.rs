//! Binding: a job's columns matched to one file's fields, by the one rule every source
//! format follows (CSV, Parquet, `pg_dump`, and any format added later):
//!
//! 1. the name the job gives (`from`, a template's `{field}`, an unpivoted field), else the
//!    column's own name;
//! 2. the field with exactly that name;
//! 3. else the one field equal to it ignoring case.
//!
//! Two fields that match equally well are a configuration error naming both. A column
//! that no field fills is an error too, unless the table has a default for it and the
//! spec does not name it (then the server fills it), or the spec says `absent = true`.
//! A nullable column is never filled with NULL silently: that is data lost.

use crate::job::{Job, Segment, ValueRule, closest, did_you_mean};

/// What a name finds among a file's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The one field it names (exactly, or else ignoring case).
    One(usize),
    /// No field of that name in any case.
    Nothing,
    /// Several fields match equally well.
    Ambiguous(Vec<usize>),
}

/// The matching rule: the field with exactly this name, else the one field equal to it
/// ignoring case. Two matches of the same kind are ambiguous.
pub fn find(fields: &[String], name: &str) -> Found {
    let exact: Vec<usize> = (0..fields.len()).filter(|i| fields[*i] == name).collect();
    let matches = if exact.is_empty() {
        let folded = name.to_lowercase();
        (0..fields.len())
            .filter(|i| fields[*i].to_lowercase() == folded)
            .collect()
    } else {
        exact
    };
    match matches.as_slice() {
        [] => Found::Nothing,
        [one] => Found::One(*one),
        _ => Found::Ambiguous(matches),
    }
}

/// Where one column's values come from in one file.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    /// The fields it reads, in the rule's order, as indices into the file's fields.
    pub fields: Vec<usize>,
    /// The table's default fills it: the file has no field for it.
    pub server: bool,
}

/// A job bound to one file's fields.
#[derive(Debug, Clone)]
pub struct Binding {
    /// One per job column, in the job's order.
    pub columns: Vec<Bound>,
    /// The unpivoted fields, as indices into the file's fields.
    pub unpivot: Vec<usize>,
    /// Every field the job reads, ascending: what a source projects.
    pub project: Vec<usize>,
    /// The fields no column takes, as the file names them.
    pub ignored: Vec<String>,
}

impl Binding {
    /// Binds `job` to a file with these fields. The problems are lowercase fragments,
    /// every one found, without the file's name.
    pub fn new(job: &Job, fields: &[String]) -> Result<Binding, Vec<String>> {
        let mut problems = Vec::new();
        let mut unfilled = Vec::new();
        let lookup =
            |name: &str, what: &dyn Fn() -> String, problems: &mut Vec<String>| lookup(fields, name, what, problems);
        let mut columns = Vec::with_capacity(job.columns.len());
        for column in &job.columns {
            let mut bound = Bound::default();
            match &column.rule {
                ValueRule::Field { name, implicit } => match find(fields, name) {
                    Found::One(index) => bound.fields.push(index),
                    Found::Nothing if *implicit && column.has_default => bound.server = true,
                    Found::Nothing if *implicit || name == &column.name => unfilled.push(column.name.clone()),
                    _ => {
                        lookup(name, &|| format!("column {:?} reads field", column.name), &mut problems);
                    }
                },
                ValueRule::Template(segments) => {
                    for segment in segments {
                        if let Segment::Field(name) = segment
                            && let Some(index) = lookup(
                                name,
                                &|| format!("the template of column {:?} names field", column.name),
                                &mut problems,
                            )
                        {
                            bound.fields.push(index);
                        }
                    }
                }
                ValueRule::Constant(_) | ValueRule::Path(_) | ValueRule::Unpivoted | ValueRule::PerField(_) => {}
            }
            columns.push(bound);
        }
        if !unfilled.is_empty() {
            problems.push(unfilled_problem(&unfilled, fields));
        }
        let unpivot: Vec<usize> = job
            .unpivot
            .iter()
            .flat_map(|u| &u.fields)
            .filter_map(|name| lookup(name, &|| "[unpivot] names field".to_owned(), &mut problems))
            .collect();
        let kept: Vec<usize> = job
            .read
            .drop_when_empty
            .iter()
            .filter_map(|name| {
                lookup(
                    name,
                    &|| "[source] drop_when_empty names field".to_owned(),
                    &mut problems,
                )
            })
            .collect();
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut project: Vec<usize> = columns.iter().flat_map(|c| c.fields.iter().copied()).collect();
        project.extend(&unpivot);
        project.sort_unstable();
        project.dedup();
        let ignored = (0..fields.len())
            .filter(|i| project.binary_search(i).is_err() && !kept.contains(i))
            .map(|i| fields[i].clone())
            .collect();
        Ok(Binding {
            columns,
            unpivot,
            project,
            ignored,
        })
    }

    /// Where field `index` of the file is in a chunk that holds only the projected fields.
    ///
    /// # Panics
    ///
    /// When the field is not projected: a binding only hands out fields it projects.
    pub fn position(&self, index: usize) -> usize {
        self.project.binary_search(&index).expect("a bound field is projected")
    }
}

/// The field `name` names in `fields`, or a problem saying what (`what()`) named it and
/// what the file has instead.
fn lookup(fields: &[String], name: &str, what: &dyn Fn() -> String, problems: &mut Vec<String>) -> Option<usize> {
    match find(fields, name) {
        Found::One(index) => Some(index),
        Found::Nothing => {
            problems.push(format!(
                "{} {name:?}, which the file does not have{}; the file has {}",
                what(),
                did_you_mean(name, fields.iter().map(String::as_str)),
                list(fields)
            ));
            None
        }
        Found::Ambiguous(indices) => {
            let names: Vec<String> = indices.iter().map(|i| fields[*i].clone()).collect();
            problems.push(format!(
                "{} {name:?}, which matches {} alike (name one exactly with `from`)",
                what(),
                list(&names)
            ));
            None
        }
    }
}

/// Columns no field fills, with the fields the file has and a guess for each column that
/// has a close field.
fn unfilled_problem(unfilled: &[String], fields: &[String]) -> String {
    let hints: String = unfilled
        .iter()
        .filter_map(|column| {
            closest(column, fields.iter().map(String::as_str))
                .map(|field| format!(" (for {column:?}, did you mean {field:?}?)"))
        })
        .collect();
    format!(
        "no field fills column{} {} (a column is never left NULL silently); the file has {}{hints}: \
         name the field with [columns.NAME] from = \"FIELD\", or say [columns.NAME] absent = true",
        if unfilled.len() == 1 { "" } else { "s" },
        list(unfilled),
        list(fields)
    )
}

/// Names as a message lists them: `"a", "b"`.
pub fn list(names: &[String]) -> String {
    if names.is_empty() {
        return "no fields".into();
    }
    names.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_wins_then_the_one_match_ignoring_case() {
        let fields = names(&["No", "PM10", "pm10", "Température", "wd"]);
        assert_eq!(find(&fields, "pm10"), Found::One(2));
        assert_eq!(find(&fields, "PM10"), Found::One(1));
        assert_eq!(find(&fields, "no"), Found::One(0));
        assert_eq!(find(&fields, "TEMPÉRATURE"), Found::One(3));
        assert_eq!(find(&fields, "Pm10"), Found::Ambiguous(vec![1, 2]));
        assert_eq!(find(&fields, "wind"), Found::Nothing);
        assert_eq!(find(&names(&["a", "a"]), "a"), Found::Ambiguous(vec![0, 1]));
    }
}
