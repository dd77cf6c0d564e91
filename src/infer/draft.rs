//! The draft a profile makes: a migration creating a table with one column per field, and
//! a job spec that loads the files into it unchanged.

use std::fmt::Write as _;

use super::dialect::Dialect;
use super::profile::{Column, Profile};
use super::types::Kind;

/// A SQL identifier or TOML key from a field's name: lower case, letters, digits and `_`.
/// `None` for a name with none of them.
pub fn column_name(field: &str) -> Option<String> {
    let mut name = String::new();
    for c in field.trim().chars() {
        if c.is_alphanumeric() {
            name.extend(c.to_lowercase());
        } else if !name.ends_with('_') && !name.is_empty() {
            name.push('_');
        }
    }
    let name = name.trim_end_matches('_').to_owned();
    match name.chars().next() {
        None => None,
        Some(first) if first.is_ascii_digit() => Some(format!("c_{name}")),
        Some(_) => Some(name),
    }
}

/// Whether polars named the field, not the file: an empty header field (polars calls the
/// second and later ones `_duplicated_N`).
fn nameless(field: &str) -> bool {
    field.is_empty()
        || field
            .strip_prefix("_duplicated_")
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

/// The columns drafted: each profiled column with its name; nameless fields that hold
/// nothing (trailing delimiters) left out.
pub fn named(profile: &Profile) -> Vec<(String, &Column)> {
    let mut out: Vec<(String, &Column)> = Vec::new();
    let rows = profile.rows - profile.blank_rows;
    for column in &profile.columns {
        if nameless(&column.field) && column.nulls == rows {
            continue;
        }
        let Some(base) = column_name(&column.field) else {
            continue;
        };
        let mut name = base.clone();
        let mut n = 2;
        while out.iter().any(|(taken, _)| *taken == name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        out.push((name, column));
    }
    out
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn toml_string(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

/// The migration: `CREATE TABLE`, each column commented with what the files hold.
pub fn migration(table: &str, files: &[String], profile: &Profile) -> String {
    let mut sql = String::new();
    let _ = writeln!(
        sql,
        "-- Drafted by pgbatch infer from {} ({} rows{}): one column per field, typed as the\n-- files hold them. Review the types, NOT NULL and the key before applying it.",
        files.join(", "),
        profile.rows - profile.blank_rows,
        if profile.blank_rows > 0 {
            format!(", and {} blank records the loader skips", profile.blank_rows)
        } else {
            String::new()
        }
    );
    let columns = named(profile);
    let rows = profile.rows - profile.blank_rows;
    if let Some((key, _)) = columns
        .iter()
        .find(|(_, c)| c.nulls == 0 && c.distinct == rows && rows > 1)
    {
        let _ = writeln!(sql, "-- A likely key: {key} (distinct in every row).");
    }
    let _ = writeln!(sql, "CREATE TABLE {} (", quoted(table));
    let last = columns.len().saturating_sub(1);
    for (i, (name, column)) in columns.iter().enumerate() {
        let not_null = if column.nulls == 0 && rows > 0 { " NOT NULL" } else { "" };
        let comma = if i == last { "" } else { "," };
        let range = match (&column.typed.min, &column.typed.max) {
            (Some(min), Some(max)) if column.typed.kind != Kind::Text => format!(", {min} .. {max}"),
            _ => String::new(),
        };
        let _ = writeln!(
            sql,
            "    {} {}{not_null}{comma} -- {} NULL, {} distinct{}",
            quoted(name),
            column.typed.kind.sql(),
            column.nulls,
            column.distinct,
            range.replace('\n', " ")
        );
    }
    sql.push_str(");\n");
    sql
}

/// The job spec: the table, the dialect, and per column what the loader needs told.
pub fn job(table: &str, files: &[String], dialect: Option<&Dialect>, decimal_comma: bool, profile: &Profile) -> String {
    let mut toml = String::new();
    let _ = writeln!(toml, "# Drafted by pgbatch infer from {}.", files.join(", "));
    let _ = writeln!(toml, "table = {}\nmode = \"append\"", toml_string(table));
    let columns = named(profile);
    if let Some(dialect) = dialect {
        let mut source = String::new();
        if dialect.delimiter != b',' {
            let _ = writeln!(
                source,
                "delimiter = {}",
                toml_string(&char::from(dialect.delimiter).to_string())
            );
        }
        if decimal_comma {
            source.push_str("decimal = \",\"\n");
        }
        if let Some(encoding) = dialect.encoding {
            let _ = writeln!(source, "encoding = {}", toml_string(encoding));
        }
        if dialect.skip_records > 0 {
            let _ = writeln!(source, "skip_records = {}", dialect.skip_records);
        }
        if !dialect.header {
            let fields: Vec<String> = profile.columns.iter().map(|c| toml_string(&c.field)).collect();
            let _ = writeln!(source, "header = false\nfields = [{}]", fields.join(", "));
        }
        if !source.is_empty() {
            let _ = write!(toml, "\n[source]\n{source}");
        }
    }
    for (name, column) in &columns {
        let mut section = String::new();
        if *name != column.field {
            let _ = writeln!(section, "from = {}", toml_string(&column.field));
        }
        if !column.null_markers.is_empty() {
            let markers: Vec<String> = std::iter::once(String::new())
                .chain(column.null_markers.iter().cloned())
                .map(|m| toml_string(&m))
                .collect();
            let _ = writeln!(section, "null = [{}]", markers.join(", "));
        }
        if let Some(format) = &column.typed.format {
            let _ = writeln!(section, "format = {}", toml_string(format));
        }
        if !section.is_empty() {
            let _ = write!(toml, "\n[columns.{name}]\n{section}");
        }
    }
    toml
}
