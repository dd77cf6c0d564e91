//! Resolving a spec: one pass over it, in the order a reader checks it, collecting every
//! problem with the keys it is about.

use std::collections::BTreeSet;
use std::path::Path;

use super::checks::resolve_checks;
use super::column::{make_target, value_rule};
use super::mode::resolve_mode;
use super::problems::{Problems, did_you_mean};
use super::raw::{RawColumn, RawJob};
use super::rejects::resolve_limit;
use super::source::{decimal_of, resolve_source, thousands_of};
use super::{Job, LoadColumn, Parse, Unpivot, ValueRule};
use crate::db::Ident;
use crate::db::catalog::Column;

/// The job a spec (`raw`, named `name`, its relative sources taken from `base`) makes
/// against the target table's catalog.
pub(super) fn resolve(raw: &RawJob, name: &str, base: &Path, catalog: &[Column], problems: &mut Problems) -> Job {
    let read = resolve_source(raw, problems);
    let default_parse = Parse {
        null: raw.source.null.clone().unwrap_or_else(|| vec![String::new()]),
        decimal: decimal_of(raw.source.decimal.as_ref(), b'.', &["source"], problems),
        thousands: thousands_of(raw.source.thousands.as_ref(), None, &["source"], problems),
        format: None,
        timezone: None,
        replace_nul: raw.source.replace_nul.clone(),
    };
    let mut columns: Vec<LoadColumn> = Vec::new();
    let unpivot = unpivot_columns(raw, catalog, &default_parse, &mut columns, problems);
    let absent = listed_columns(raw, catalog, &default_parse, &mut columns, problems);

    // Columns the spec leaves out load from the field of the same name (by the one matching
    // rule, per file). Generated columns are never loaded; a column with a default is left
    // to the server when no file of the batch has its field (`pipeline::bind`).
    for column in catalog {
        if column.generated || absent.contains(&column.name) || columns.iter().any(|c| c.name == column.name) {
            continue;
        }
        let rule = ValueRule::Field {
            name: column.name.clone(),
            implicit: true,
        };
        if let Some(target) = make_target(
            column,
            rule,
            &RawColumn::default(),
            &default_parse,
            &["table"],
            problems,
        ) {
            columns.push(target);
        }
    }
    // COPY order: the table's own order.
    columns.sort_by_key(|c| catalog.iter().position(|k| k.name == c.name));
    if columns.is_empty() {
        problems.at(&["table"], format!("no column of table {:?} is loaded", raw.table));
    }

    let mode = resolve_mode(raw, catalog, &columns, problems);
    let checks = resolve_checks(raw, base, &columns, &mode, problems);
    Job {
        name: name.to_owned(),
        table: raw.table.clone(),
        table_ident: Ident::qualified(&raw.table),
        mode,
        sources: sources(raw, base),
        read,
        columns,
        absent,
        unpivot,
        max_rejects: resolve_limit(raw.max_rejects.as_ref(), problems),
        checks,
    }
}

/// The value column and the per-field constant columns of `[unpivot]`.
fn unpivot_columns(
    raw: &RawJob,
    catalog: &[Column],
    default_parse: &Parse,
    columns: &mut Vec<LoadColumn>,
    problems: &mut Problems,
) -> Option<Unpivot> {
    let u = raw.unpivot.as_ref()?;
    if u.fields.is_empty() {
        problems.at(&["unpivot", "fields"], "[unpivot] lists no fields");
    }
    let set_columns: BTreeSet<&String> = u.fields.iter().flat_map(|f| f.set.keys()).collect();
    for field in &u.fields {
        for name in &set_columns {
            if !field.set.contains_key(*name) {
                problems.at(
                    &["unpivot", "fields"],
                    format!(
                        "[unpivot] field {:?} does not set column {name:?}, which other fields set",
                        field.from
                    ),
                );
            }
        }
    }
    if let Some(column) = catalog_column(catalog, &u.value, &["unpivot", "value"], problems)
        && let Some(target) = make_target(
            column,
            ValueRule::Unpivoted,
            &u.parse,
            default_parse,
            &["unpivot", "parse"],
            problems,
        )
    {
        columns.push(target);
    }
    for name in set_columns {
        let values = u
            .fields
            .iter()
            .map(|f| f.set.get(name).cloned().unwrap_or_default())
            .collect();
        if let Some(column) = catalog_column(catalog, name, &["unpivot", "fields"], problems)
            && let Some(target) = make_target(
                column,
                ValueRule::PerField(values),
                &RawColumn::default(),
                default_parse,
                &["unpivot", "fields"],
                problems,
            )
        {
            columns.push(target);
        }
    }
    Some(Unpivot {
        fields: u.fields.iter().map(|f| f.from.clone()).collect(),
        skip_null: u.skip_null.unwrap_or(true),
    })
}

/// The `[columns.*]` tables; returns the columns declared `absent`.
fn listed_columns(
    raw: &RawJob,
    catalog: &[Column],
    default_parse: &Parse,
    columns: &mut Vec<LoadColumn>,
    problems: &mut Problems,
) -> Vec<String> {
    let mut absent = Vec::new();
    for (name, spec_column) in &raw.columns {
        let at = ["columns", name.as_str()];
        if spec_column.absent {
            if let Some(column) = catalog_column(catalog, name, &at, problems) {
                absent_column(name, column, spec_column, problems);
                absent.push(name.clone());
            }
            continue;
        }
        if columns.iter().any(|c| &c.name == name) {
            problems.at(
                &at,
                format!("column {name:?} is set both by [unpivot] and by [columns.{name}]"),
            );
            continue;
        }
        let Some(column) = catalog_column(catalog, name, &at, problems) else {
            continue;
        };
        let Some(rule) = value_rule(name, spec_column, problems) else {
            continue;
        };
        if let Some(target) = make_target(column, rule, spec_column, default_parse, &at, problems) {
            columns.push(target);
        }
    }
    absent
}

/// The job's own sources, relative paths made absolute against the job file's folder.
fn sources(raw: &RawJob, base: &Path) -> Vec<String> {
    raw.sources
        .iter()
        .map(|s| {
            if s.contains("://") || s == "-" || Path::new(s).is_absolute() {
                s.clone()
            } else if let Some(manifest) = s.strip_prefix('@') {
                format!("@{}", base.join(manifest).display())
            } else {
                base.join(s).display().to_string()
            }
        })
        .collect()
}

/// Checks a column the job declares `absent`: it sets nothing else, and the server can
/// fill it (a default, or NULL allowed).
fn absent_column(name: &str, column: &Column, spec: &RawColumn, problems: &mut Problems) {
    let at = ["columns", name, "absent"];
    if spec.from.is_some() || spec.template.is_some() || spec.value.is_some() || spec.path.is_some() {
        problems.at(
            &at,
            format!(
                "[columns.{name}] absent = true, but it also says where the value comes from (`from`, `template`, `value` or `path`)"
            ),
        );
    }
    if column.not_null && !column.has_default {
        problems.at(
            &at,
            format!(
                "[columns.{name}] absent = true, but the column is NOT NULL and has no default: every row would fail"
            ),
        );
    }
}

/// The catalog entry of a column the spec names, if it exists and can be loaded.
fn catalog_column<'c>(catalog: &'c [Column], name: &str, at: &[&str], problems: &mut Problems) -> Option<&'c Column> {
    match catalog.iter().find(|c| c.name == name) {
        None => {
            let hint = did_you_mean(name, catalog.iter().filter(|c| !c.generated).map(|c| c.name.as_str()));
            problems.at(at, format!("column {name:?} is not in the target table{hint}"));
            None
        }
        Some(c) if c.generated => {
            problems.at(
                at,
                format!("column {name:?} is generated by the database and cannot be loaded"),
            );
            None
        }
        Some(c) => Some(c),
    }
}
