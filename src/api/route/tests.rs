//! Tests of reading query files.

use super::*;

fn route(text: &str) -> std::result::Result<Route, Vec<String>> {
    parse(Path::new("sql/queries"), Path::new("q.sql"), text)
}

#[test]
fn a_header_declares_route_params_and_reads() {
    let r = route(
        "-- route: /x\n-- reads: a b\n-- param: day date required | The day.\n\
         -- param: n int default=5 min=1 max=9\nSELECT $1::date, $2::int",
    )
    .unwrap();
    assert_eq!(r.path, "/x");
    assert_eq!(r.reads, Reads::Tables(vec!["a".into(), "b".into()]));
    assert_eq!(r.params[0].description, "The day.");
    assert_eq!(r.params[1].value(None), Ok(Value::Int(5)));
    assert_eq!(
        r.params[1].value(Some("10")),
        Err("10 is more than the maximum, 9".into())
    );
    assert_eq!(r.params[0].value(None), Err("is required: a date, YYYY-MM-DD".into()));
    assert_eq!(
        r.params[0].value(Some("2016-13-01")),
        Err("\"2016-13-01\" is not a date, YYYY-MM-DD".into())
    );
}

#[test]
fn bad_headers_are_reported_with_their_lines() {
    let problems = route("-- route: rates\n-- param: x float\n-- param: y int nope\nSELECT 1").unwrap_err();
    assert_eq!(
        problems,
        [
            "q.sql: line 1: route \"rates\" must be a path starting with /, each segment a name or a whole {parameter}",
            "q.sql: line 2: param x: type \"float\" is not one of text, int, date, timestamptz, text[], int[]",
            "q.sql: line 3: param y: unknown flag \"nope\"",
            "q.sql: no `-- route: /path` line",
            "q.sql: no `-- reads: table ...` line (the tables that make its ETag)",
        ]
    );
}

#[test]
fn timestamps_take_rfc3339_or_a_day() {
    let p = parse_param("t timestamptz").unwrap();
    let Ok(Value::Timestamptz(t)) = p.value(Some("2016-01-02")) else {
        panic!()
    };
    assert_eq!(t.to_rfc3339(), "2016-01-02T00:00:00+00:00");
    let Ok(Value::Timestamptz(t)) = p.value(Some("2016-01-02T03:04:05+11:00")) else {
        panic!()
    };
    assert_eq!(t.timestamp(), 1_451_664_245);
    let p = parse_param("c text pattern=^\\d+\\|\\d+$ max_length=5").unwrap();
    assert_eq!(p.value(Some("12|3")), Ok(Value::Text("12|3".into())));
    assert_eq!(p.value(Some("123456")), Err("must be at most 5 characters long".into()));
    assert_eq!(
        p.value(Some("1|x")),
        Err("\"1|x\" does not match the pattern ^\\d+\\|\\d+$".into())
    );
}

#[test]
fn lists_are_comma_separated_and_checked_item_by_item() {
    let ids = parse_param("id int[] min=1").unwrap();
    assert_eq!(ids.value(Some("3,1,2")), Ok(Value::IntList(vec![3, 1, 2])));
    assert_eq!(ids.value(Some("1,,2")), Err("item 2 of \"1,,2\" is empty".into()));
    assert_eq!(ids.value(Some("")), Err("item 1 of \"\" is empty".into()));
    assert_eq!(ids.value(Some("1,0")), Err("0 is less than the minimum, 1".into()));
    assert_eq!(ids.value(Some("1,x")), Err("\"x\" is not an integer".into()));
    assert_eq!(ids.value(None), Ok(Value::Null));
    let many = vec!["1"; MAX_ITEMS + 1].join(",");
    assert_eq!(
        ids.value(Some(&many)),
        Err(format!("has {} items; at most {MAX_ITEMS} are taken", MAX_ITEMS + 1))
    );
    let names = parse_param("who text[] max_length=3").unwrap();
    assert_eq!(
        names.value(Some("ab,c d")),
        Ok(Value::TextList(vec!["ab".into(), "c d".into()]))
    );
    assert_eq!(
        names.value(Some("ab,abcd")),
        Err("must be at most 3 characters long".into())
    );
}

#[test]
fn path_segments_one_of_and_format() {
    let r = route(
        "-- route: /v1/get/{id}/x\n-- reads: t\n-- param: id text\n-- param: a int\n-- param: b int\n\
         -- one_of: a b\n-- format: csv\nSELECT $1, $2::int, $3::int",
    )
    .unwrap();
    assert_eq!(r.path_params, [0]);
    assert!(r.params[0].required, "a path parameter is required");
    assert_eq!(r.one_of, [vec![1, 2]]);
    assert_eq!(r.format.as_deref(), Some("csv"));
    let problems = route(
        "-- route: /v1/{id}/{gone}/{x\n-- reads: t\n-- param: id text[]\n-- one_of: id\n-- format: xml\nSELECT 1",
    )
    .unwrap_err();
    assert_eq!(
        problems,
        [
            "q.sql: line 1: route \"/v1/{id}/{gone}/{x\" must be a path starting with /, each segment a name or a whole {parameter}",
            "q.sql: line 5: format \"xml\" is not one of json, ndjson, csv",
            "q.sql: line 4: one_of: needs two or more parameters",
            "q.sql: no `-- route: /path` line",
        ]
    );
    let problems = route("-- route: /v1/{id}/{gone}\n-- reads: t\n-- param: id text[]\nSELECT 1").unwrap_err();
    assert_eq!(
        problems,
        [
            "q.sql: path parameter \"id\" cannot be a list",
            "q.sql: the path names {gone} but no `-- param: gone ...` declares it",
        ]
    );
}
