//! Tests of resolving specs.

use std::path::Path;

use super::column::parse_template;
use super::*;
use crate::db::catalog::Column;

fn column(name: &str, ty: PgType, not_null: bool) -> Column {
    Column {
        name: name.into(),
        ty: Some(ty),
        declared: ty.name().into(),
        typmod: -1,
        not_null,
        generated: false,
        has_default: false,
    }
}

fn spec(toml: &str) -> Spec {
    Spec::parse(toml.to_owned(), Path::new("jobs/t.toml")).unwrap()
}

#[test]
fn templates_split_into_fields_and_literals() {
    assert_eq!(
        parse_template("{y}-{m} {{x}}").unwrap(),
        vec![
            Segment::Field("y".into()),
            Segment::Literal("-".into()),
            Segment::Field("m".into()),
            Segment::Literal(" {x}".into()),
        ]
    );
    assert_eq!(parse_template("{y").unwrap_err(), "a `{` is not closed");
}

#[test]
fn every_problem_in_a_spec_is_reported() {
    let catalog = [column("day", PgType::Date, true), column("price", PgType::Int4, true)];
    let error = spec(
        r#"
        table = "prices"
        mode = "upsert"
        [columns.day]
        format = "%Q"
        [columns.nope]
        from = "x"
        [columns.price]
        pattern = "[0-9]+"
        "#,
    )
    .resolve(&catalog)
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "jobs/t.toml:5:9: [columns.day] format \"%Q\" is not a valid chrono format; \
         jobs/t.toml:6:18: column \"nope\" is not in the target table; \
         jobs/t.toml:9:9: [columns.price] has a `pattern`, but integer values are not text; \
         jobs/t.toml:3:9: mode \"upsert\" needs `key`, the columns of a unique index"
    );
    assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
}

#[test]
fn unlisted_columns_map_by_name_in_table_order() {
    let catalog = [column("a", PgType::Text, false), column("b", PgType::Int8, false)];
    let job = spec("table = \"t\"\n[columns.b]\nfrom = \"B\"")
        .resolve(&catalog)
        .unwrap();
    let names: Vec<_> = job.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(matches!(&job.columns[0].rule, ValueRule::Field { name, implicit: true } if name == "a"));
}

#[test]
fn a_misspelt_name_gets_the_closest_one() {
    let catalog = [
        column("station", PgType::Text, false),
        column("pm25", PgType::Float8, false),
    ];
    let error = spec("table = \"air\"\nmode = \"upsert\"\nkey = [\"staton\"]\n[columns.PM2_5]\nfrom = \"x\"\n")
        .resolve(&catalog)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "jobs/t.toml:4:10: column \"PM2_5\" is not in the target table (did you mean \"pm25\"?); \
         jobs/t.toml:3:1: key column \"staton\" is not in the target table (did you mean \"station\"?)"
    );
    // Nothing close: no guess.
    assert_eq!(closest("price", ["station", "pm25"]), None);
}

#[test]
fn a_toml_error_names_its_line_and_column() {
    let error = Spec::parse(
        "table = \"t\"\n[source]\ndelimter = \";\"\n".into(),
        Path::new("jobs/t.toml"),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("jobs/t.toml:3:1: unknown field `delimter`"), "{text}");
    assert_eq!(error.exit_code(), crate::error::exit::CONFIG);
}

#[test]
fn identity_is_object_by_default_or_content_and_nothing_else() {
    let catalog = [column("v", PgType::Text, false)];
    let read = |toml: &str| spec(toml).resolve(&catalog).map(|job| job.read.identity);
    assert_eq!(read("table = \"t\"").unwrap(), KnownBy::Object);
    assert_eq!(
        read("table = \"t\"\n[source]\nidentity = \"object\"").unwrap(),
        KnownBy::Object
    );
    assert_eq!(
        read("table = \"t\"\n[source]\nidentity = \"content\"").unwrap(),
        KnownBy::Content
    );
    assert_eq!(
        read("table = \"t\"\n[source]\nidentity = \"etag\"")
            .unwrap_err()
            .to_string(),
        "jobs/t.toml:3:1: [source] identity \"etag\" is unknown (expected \"object\" or \"content\")"
    );
}
