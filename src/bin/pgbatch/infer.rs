//! `pgbatch infer`: the samples read, profiled and drafted by the library; here, printed
//! and written.

use std::path::Path;

use pgbatch::infer::{self, Draft};
use pgbatch::pipeline::source::store::StoreOptions;

/// Reads, profiles, drafts; writes the draft under `out` unless `print_only`.
pub async fn run(
    files: &[String],
    name: Option<&str>,
    out: &Path,
    print_only: bool,
    store: &StoreOptions,
    json: bool,
) -> pgbatch::Result<()> {
    let base = std::env::current_dir().unwrap_or_default();
    let samples = infer::read(files, &base, store).await?;
    let name = name.map_or_else(
        || default_name(samples.first().map_or("", |s| s.display.as_str())),
        str::to_owned,
    );
    let draft = infer::infer(&name, samples)?;
    let written = if print_only {
        None
    } else {
        Some(infer::write(&draft, out)?)
    };
    if json {
        let mut value = serde_json::to_value(&draft).unwrap_or_default();
        if let Some((migration, job)) = &written {
            value["written"] = serde_json::json!([migration, job]);
        }
        println!("{value}");
        return Ok(());
    }
    print(&draft);
    match written {
        Some((migration, job)) => println!("wrote {} and {}", migration.display(), job.display()),
        None => print!("\n{}\n{}", draft.migration, draft.job),
    }
    Ok(())
}

/// The first file's name without folders, suffixes or digits at the end.
fn default_name(display: &str) -> String {
    let file = display.rsplit('/').next().unwrap_or(display);
    let stem = file.split('.').next().unwrap_or(file);
    stem.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_')
        .to_owned()
}

fn print(draft: &Draft) {
    let profile = &draft.profile;
    println!(
        "{}: {} files, {} rows{}",
        draft.name,
        draft.files.len(),
        profile.rows - profile.blank_rows,
        if profile.blank_rows > 0 {
            format!(" (and {} blank records, skipped)", profile.blank_rows)
        } else {
            String::new()
        }
    );
    if let Some(dialect) = &draft.dialect {
        println!(
            "  CSV: delimiter {:?}, {}, {}{}{}{}",
            char::from(dialect.delimiter),
            dialect.encoding.unwrap_or("UTF-8"),
            if dialect.header { "a header" } else { "no header" },
            if dialect.skip_records > 0 {
                format!(" after {} records", dialect.skip_records)
            } else {
                String::new()
            },
            if dialect.bare_cr { ", lines end in CR" } else { "" },
            if draft.decimal_comma { ", decimal comma" } else { "" },
        );
    }
    for column in &profile.columns {
        let typed = &column.typed;
        println!(
            "  {:24} {:16} {} NULL{}, {} distinct{}{}",
            column.field,
            typed.kind.sql(),
            column.nulls,
            if column.null_markers.is_empty() {
                String::new()
            } else {
                format!(" (markers {:?})", column.null_markers)
            },
            column.distinct,
            match (&typed.min, &typed.max) {
                (Some(min), Some(max)) => format!(", {min:?} .. {max:?}"),
                _ => String::new(),
            },
            typed
                .format
                .as_ref()
                .map_or_else(String::new, |f| format!(", format {f:?}")),
        );
    }
}
