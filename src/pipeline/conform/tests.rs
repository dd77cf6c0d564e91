//! Tests of conforming chunks.

use super::*;
use crate::db::Ident;
use crate::db::catalog::PgType;
use crate::error::Position;
use crate::job::{Checks, Parse};
use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};
use report::display;

#[test]
fn a_value_too_large_to_encode_is_bad_data_at_its_row_and_column() {
    let job = crate::job::one_text_column_job();
    let fields = vec!["V".to_owned()];
    let binding = Binding::new(&job, &fields).unwrap();
    let conformer = Conformer::try_new(&job, "f.csv", "f.csv", &binding).unwrap();
    let chunk = Chunk {
        batch: RecordBatch::try_from_iter([("V", Arc::new(StringArray::from(vec!["x"])) as ArrayRef)]).unwrap(),
        positions: crate::pipeline::source::Positions::Lines(vec![7]),
        skipped: 0,
    };
    let too_large = EncodeError::FieldTooLarge {
        row: 0,
        index: 0,
        len: 1 << 31,
    };
    let error = conformer.encode_error(&chunk, &too_large);
    assert_eq!(
        error.to_string(),
        "f.csv: line 7, column \"v\": a value of 2147483648 bytes is larger than PostgreSQL takes in one field (1 GiB)"
    );
    assert_eq!(error.exit_code(), crate::error::exit::DATA);
    let bug = EncodeError::ColumnCount { found: 2, expected: 1 };
    assert_eq!(
        conformer.encode_error(&chunk, &bug).exit_code(),
        crate::error::exit::SOFTWARE
    );
}

fn target(ty: PgType) -> LoadColumn {
    LoadColumn {
        name: "c".into(),
        ident: Ident::new("c"),
        ty,
        max_chars: None,
        not_null: false,
        has_default: false,
        rule: ValueRule::Unpivoted,
        parse: Parse {
            null: vec![String::new(), "NA".into()],
            decimal: b'.',
            thousands: None,
            format: None,
            timezone: None,
            replace_nul: None,
        },
        checks: Checks::default(),
    }
}

fn parse(values: &[&str], target: &LoadColumn) -> Result<ArrayRef> {
    let strings = StringArray::from(values.to_vec());
    let at = |row: usize| Some(Position::Line { line: row as u64 + 2 });
    parse_strings(&strings, target, &at, "f.csv")
}

#[test]
fn integers_accept_whole_floats_and_null_markers() {
    let array = parse(&["253019.0", "NA", "-7"], &target(PgType::Int8)).unwrap();
    let ints = array.as_primitive::<Int64Type>();
    assert_eq!((ints.value(0), ints.is_null(1), ints.value(2)), (253_019, true, -7));
}

#[test]
fn an_empty_field_is_null_only_when_the_empty_marker_is_listed() {
    let mut t = target(PgType::Text);
    let array = parse(&["", "NA", "x"], &t).unwrap();
    let texts = array.as_string::<i32>();
    assert_eq!((texts.is_null(0), texts.is_null(1), texts.value(2)), (true, true, "x"));
    t.parse.null = vec!["NA".into()];
    let array = parse(&["", "NA", "N"], &t).unwrap();
    let texts = array.as_string::<i32>();
    assert_eq!(
        (texts.is_valid(0), texts.value(0), texts.is_null(1), texts.value(2)),
        (true, "", true, "N")
    );
}

#[test]
fn decimal_comma_error_names_the_separator() {
    let error = parse(&["1", "12,5"], &target(PgType::Int4)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.csv: line 3, column \"c\": cannot parse \"12,5\" as integer (expected '.' as the decimal separator)"
    );
}

#[test]
fn decimal_comma_parses_when_declared() {
    let mut t = target(PgType::Float8);
    t.parse.decimal = b',';
    let array = parse(&["-0,1", "2,6"], &t).unwrap();
    assert_eq!(array.as_primitive::<Float64Type>().values(), &[-0.1, 2.6]);
}

#[test]
fn timestamptz_with_offset_and_timezone() {
    let mut t = target(PgType::Timestamptz);
    t.parse.timezone = crate::job::Zone::parse("+08:00");
    t.parse.format = Some("%Y-%m-%d %H:%M".into());
    let array = parse(&["2013-3-1 0:00"], &t).unwrap();
    // 2013-03-01 00:00 +08:00 is 2013-02-28 16:00 UTC
    assert_eq!(
        array.as_primitive::<TimestampMicrosecondType>().value(0),
        1_362_067_200_000_000
    );
}

#[test]
fn required_null_marker_is_named() {
    let mut t = target(PgType::Text);
    t.checks.required = true;
    t.not_null = true;
    let error = parse(&["x", "NA"], &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.csv: line 3, column \"c\": \"NA\" is a null marker, but the column is NOT NULL"
    );
}

#[test]
fn range_and_pattern_checks() {
    let mut t = target(PgType::Int4);
    t.checks.min = Some(0.0);
    let error = parse(&["5", "-1"], &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.csv: line 3, column \"c\": -1 is below the minimum 0"
    );
    let mut t = target(PgType::Text);
    t.checks.pattern = Some(regex::Regex::new("^[A-Z]{5}$").unwrap());
    let error = parse(&["CNSGH", "cnsgh"], &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.csv: line 3, column \"c\": \"cnsgh\" does not match the pattern \"^[A-Z]{5}$\""
    );
}

#[test]
fn dates_use_the_declared_format() {
    let mut t = target(PgType::Date);
    t.parse.format = Some("%d/%m/%Y".into());
    let array = parse(&["10/03/2004"], &t).unwrap();
    assert_eq!(display(array.as_ref(), 0), "2004-03-10");
    let error = parse(&["2004-03-10"], &t).unwrap_err();
    assert_eq!(
        error.to_string(),
        "f.csv: line 2, column \"c\": cannot parse \"2004-03-10\" as date (expected format \"%d/%m/%Y\")"
    );
}

#[test]
fn dates_and_timestamps_outside_postgresql_range_are_bad_data_never_wrapped() {
    use arrow_array::{Date32Array, TimestampMicrosecondArray};
    let at = |row: usize| Some(Position::RowGroup { row_group: 0, row });
    let typed = |ty: PgType| {
        let mut t = target(ty);
        t.parse.null.clear(); // null markers would compare the values as text
        t
    };
    let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), None, Some(i32::MIN)]));
    let error = convert(&dates, &typed(PgType::Date), &at, "f.parquet").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("f.parquet: row group 0, row 2, column \"c\": "),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .ends_with("is outside PostgreSQL's range for date (from 4714-11-24 BC to before 5874898-01-01)"),
        "{error}"
    );
    assert_eq!(error.exit_code(), 65);
    // Compared as text (null markers): a value Arrow cannot show is bad data at its row too.
    let error = convert(&dates, &target(PgType::Date), &at, "f.parquet").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("f.parquet: row group 0, row 2, column \"c\": a Date32 value that cannot be read"),
        "{error}"
    );
    assert_eq!(error.exit_code(), 65);
    let micros: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![i64::MIN]).with_timezone("UTC"));
    let error = convert(&micros, &typed(PgType::Timestamptz), &at, "f.parquet").unwrap_err();
    assert!(
        error.to_string().contains("outside PostgreSQL's range for timestamptz"),
        "{error}"
    );
    // The latest an i64 of microseconds can say is within the range.
    let latest: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![i64::MAX]).with_timezone("UTC"));
    assert!(convert(&latest, &typed(PgType::Timestamptz), &at, "f.parquet").is_ok());
}
