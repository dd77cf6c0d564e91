//! What `pgbatch validate` says of a field's type in the file against its column's type in
//! the table, before any row is read: narrower integers, fractions into integers, time
//! zones gained or dropped, text longer than a `varchar` takes. Each is a caution, not an
//! error: the rows that do not fit are found (and rejected or fatal) when the data is read.

use crate::db::catalog::PgType;
use crate::job::LoadColumn;

/// The caution for a field of type `source` (as Arrow names it; `text` for text formats)
/// loaded into `column`, if any.
pub fn caution(source: &str, column: &LoadColumn) -> Option<String> {
    let target = column.ty.name();
    let integer = matches!(column.ty, PgType::Int2 | PgType::Int4 | PgType::Int8);
    let wider = match column.ty {
        PgType::Int2 => &["Int32", "Int64", "UInt16", "UInt32", "UInt64"][..],
        PgType::Int4 => &["Int64", "UInt32", "UInt64"][..],
        PgType::Int8 => &["UInt64"][..],
        _ => &[][..],
    };
    if wider.contains(&source) {
        return Some(format!("{source} values outside {target}'s range will not load"));
    }
    if integer && source.starts_with("Float") {
        return Some(format!(
            "{source} values with a fractional part will not load into {target}"
        ));
    }
    if let Some(unit) = source.strip_prefix("Timestamp(") {
        let zoned = unit.contains(", \"");
        if zoned && column.ty == PgType::Timestamp {
            return Some(format!(
                "{source} values carry a time zone; {target} (without time zone) keeps their UTC time"
            ));
        }
        if !zoned && column.ty == PgType::Timestamptz && column.parse.timezone.is_none() {
            return Some(format!(
                "{source} values carry no time zone; they are read as UTC (set the column's timezone if they are not)"
            ));
        }
    }
    if let Some(most) = column.max_chars
        && (source == "text" || source.contains("Utf8"))
    {
        return Some(format!(
            "values longer than {most} characters will not load into {target}({most})"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::catalog::Column;
    use crate::job::Spec;

    /// The column `c` of a table whose only column is `declared`, as a job resolves it.
    fn column(ty: PgType, declared: &str, typmod: i32) -> LoadColumn {
        let catalog = [Column {
            name: "c".into(),
            ty: Some(ty),
            declared: declared.into(),
            typmod,
            not_null: false,
            generated: false,
            has_default: false,
        }];
        let spec = Spec::parse("table = \"t\"".into(), std::path::Path::new("jobs/t.toml")).unwrap();
        spec.resolve(&catalog).unwrap().columns.remove(0)
    }

    #[test]
    fn each_narrowing_is_named_and_a_matching_type_says_nothing() {
        let smallint = column(PgType::Int2, "smallint", -1);
        let integer = column(PgType::Int4, "integer", -1);
        let stamp = column(PgType::Timestamp, "timestamp", -1);
        let stamptz = column(PgType::Timestamptz, "timestamptz", -1);
        let varchar = column(PgType::Varchar, "character varying(3)", 7);
        assert!(
            caution("Int64", &smallint)
                .unwrap()
                .contains("outside smallint's range")
        );
        assert!(caution("Float64", &integer).unwrap().contains("fractional part"));
        assert!(
            caution("Timestamp(µs, \"UTC\")", &stamp)
                .unwrap()
                .contains("carry a time zone")
        );
        assert!(
            caution("Timestamp(µs)", &stamptz)
                .unwrap()
                .contains("carry no time zone")
        );
        assert!(caution("Utf8", &varchar).unwrap().contains("longer than 3 characters"));
        for (source, column) in [
            ("Int16", &smallint),
            ("Int32", &integer),
            ("Timestamp(µs)", &stamp),
            ("Timestamp(µs, \"UTC\")", &stamptz),
        ] {
            assert_eq!(caution(source, column), None, "{source}");
        }
    }
}
