//! A resolved job's fingerprint: a hash of everything that decides what a batch puts in
//! the table (mode and key, the mapping, formats, parse rules, checks, source options).
//! The batch's content hash includes it, so the same files under a corrected spec are a
//! new batch, not a no-op. Options that change only how a load runs (chunk size, memory
//! budgets) are left out. The text hashed is canonical JSON built here field by field,
//! never `Debug` output, so a new compiler or crate version does not change it.

use serde_json::{Value, json};

use super::{Job, LoadColumn, Mode, Segment, ValueRule, Zone};
use crate::hash::sha256_hex;

impl Job {
    /// The hex sha256 of the job's canonical description.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        canonical(&describe(self), &mut text);
        sha256_hex(text.as_bytes())
    }
}

/// JSON with object keys sorted, whatever order `serde_json` keeps them in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn describe(job: &Job) -> Value {
    let s = &job.read;
    let mode = match &job.mode {
        Mode::Append | Mode::Replace => json!({ "name": job.mode.name() }),
        Mode::Upsert { key } | Mode::InsertNew { key } => {
            json!({ "name": job.mode.name(), "key": key.iter().map(super::Ident::as_sql).collect::<Vec<_>>() })
        }
        Mode::ReplaceCovered(cover) => json!({
            "name": job.mode.name(),
            "cover": cover.column.as_sql(),
            "from_path": cover.from_path.as_ref().map(regex::Regex::as_str),
        }),
    };
    let mut description = json!({
        "table": job.table_ident.as_sql(),
        "mode": mode,
        "source": {
            "format": s.format.map(|f| format!("{f:?}")),
            "delimiter": s.delimiter,
            "quote": s.quote,
            "escape": s.escape,
            "comment": s.comment,
            "header": s.header,
            "fields": s.fields,
            "skip_blank": s.skip_blank,
            "encoding": s.encoding.map(encoding_rs::Encoding::name),
            "skip_records": s.skip_records,
            "drop_when_empty": s.drop_when_empty,
            "dump_table": s.dump_table,
        },
        "columns": job.columns.iter().map(column).collect::<Vec<_>>(),
        "absent": job.absent,
        "unpivot": job.unpivot.as_ref().map(|u| json!({ "fields": u.fields, "skip_null": u.skip_null })),
    });
    // Only when set, so that the jobs written before it keep their fingerprints (and their
    // batches are still found in the ledger).
    if let Some(limit) = job.max_rejects {
        description["max_rejects"] = json!(limit.to_string());
    }
    description
}

fn column(target: &LoadColumn) -> Value {
    let rule = match &target.rule {
        ValueRule::Field { name, implicit } => json!({ "field": name, "implicit": implicit }),
        ValueRule::Template(segments) => json!({
            "template": segments
                .iter()
                .map(|s| match s {
                    Segment::Literal(text) => json!({ "text": text }),
                    Segment::Field(name) => json!({ "field": name }),
                })
                .collect::<Vec<_>>()
        }),
        ValueRule::Constant(value) => json!({ "value": value }),
        ValueRule::Path(regex) => json!({ "path": regex.as_str() }),
        ValueRule::Unpivoted => json!("unpivoted"),
        ValueRule::PerField(values) => json!({ "per_field": values }),
    };
    let p = &target.parse;
    let c = &target.checks;
    json!({
        "name": target.name,
        "type": target.ty.name(),
        "max_chars": target.max_chars,
        "rule": rule,
        "null": p.null,
        "decimal": p.decimal,
        "thousands": p.thousands,
        "format": p.format,
        "timezone": p.timezone.map(|zone| match zone {
            Zone::Fixed(offset) => offset.to_string(),
            Zone::Named(tz) => tz.name().to_owned(),
        }),
        "replace_nul": p.replace_nul,
        "required": c.required,
        "min": c.min,
        "max": c.max,
        "pattern": c.pattern.as_ref().map(regex::Regex::as_str),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::Spec;
    use crate::db::catalog::{Column, PgType};

    fn fingerprint(toml: &str) -> String {
        let catalog = [
            Column {
                name: "day".into(),
                ty: Some(PgType::Date),
                declared: "date".into(),
                typmod: -1,
                not_null: true,
                generated: false,
                has_default: false,
            },
            Column {
                name: "price".into(),
                ty: Some(PgType::Int4),
                declared: "integer".into(),
                typmod: -1,
                not_null: false,
                generated: false,
                has_default: false,
            },
        ];
        Spec::parse(toml.to_owned(), Path::new("jobs/t.toml"))
            .unwrap()
            .resolve(&catalog)
            .unwrap()
            .fingerprint()
    }

    #[test]
    fn what_changes_the_rows_changes_the_fingerprint() {
        let base = fingerprint("table = \"t\"");
        assert_eq!(base, fingerprint("table = \"t\""));
        // Only how a load runs: the same fingerprint.
        assert_eq!(base, fingerprint("table = \"t\"\n[source]\nchunk_rows = 10"));
        for changed in [
            "table = \"t\"\nmode = \"replace\"",
            "table = \"t\"\n[columns.price]\nfrom = \"PRICE\"",
            "table = \"t\"\n[columns.day]\nformat = \"%d/%m/%Y\"",
            "table = \"t\"\n[source]\ndelimiter = \";\"",
            "table = \"t\"\n[columns.price]\nmin = 0",
            "table = \"t\"\n[columns.price]\nabsent = true",
            "table = \"t\"\nmax_rejects = 3",
        ] {
            assert_ne!(base, fingerprint(changed), "{changed}");
        }
    }
}
