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
            "q.sql: line 1: route \"rates\" must be a path starting with /",
            "q.sql: line 2: param x: type \"float\" is not one of text, int, date, timestamptz",
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
