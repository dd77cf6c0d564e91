//! Every file of ../shared/data/nasty_csv: it loads with the right values, or it is
//! rejected with an exact, located message. A guard fails on a file without a case.

use std::sync::Arc;

use pgbatch::job::Spec;
use pgbatch::pipeline::{self, LoadOptions, NoProgress};

use crate::pg::{TestDb, shared};

/// What a case expects: a query's output, or a whole error message and exit code.
enum Expect {
    Rows(&'static str, &'static str),
    Error(&'static str, u8),
}

/// A file, the table it loads into (`{t}`), the job without its `table`, and the outcome.
/// In messages, `{file}` is the file's path.
struct Case {
    file: &'static str,
    ddl: &'static str,
    job: &'static str,
    expect: Expect,
}

const ABC_INT: &str = "CREATE TABLE {t} (a integer, b integer, c integer)";
const ABC_TEXT: &str = "CREATE TABLE {t} (a text, b text, c text)";
const LINE_ENDS: &str = "SELECT string_agg(concat_ws(':', a, b, c), ' | ' ORDER BY b) FROM {t}";
const DUMMY: Expect = Expect::Rows("SELECT concat_ws(':', a, b, c) FROM {t}", "1:2:3");

#[expect(clippy::too_many_lines, reason = "the table of cases, one per file")]
fn cases() -> Vec<Case> {
    use Expect::{Error, Rows};
    let case = |file, ddl, job, expect| Case { file, ddl, job, expect };
    vec![
        // rust-csv
        case(
            "rust-csv/uspop.csv",
            "CREATE TABLE {t} (city text, state text, population integer, latitude float8, longitude float8)",
            "",
            Rows(
                "SELECT count(*), count(population), sum(population), max(latitude) FILTER (WHERE city = 'Kenai') FROM {t}",
                "100|50|2486481|60.5544444",
            ),
        ),
        case(
            "rust-csv/uspop-latin1.csv",
            "CREATE TABLE {t} (city text, state text, population integer, latitude float8, longitude float8)",
            "",
            Error(
                "{file}: line 4, column \"City\": invalid UTF-8 at byte 0 of the field (declare the file's encoding in the job)",
                65,
            ),
        ),
        case(
            "rust-csv/uspop-latin1.csv",
            "CREATE TABLE {t} (city text, state text, population integer, latitude float8, longitude float8)",
            "[source]\nencoding = \"latin1\"",
            Rows(
                "SELECT count(*), count(*) FILTER (WHERE city = 'Õakman') FROM {t}",
                "100|1",
            ),
        ),
        case(
            "rust-csv/uspop-null.csv",
            "CREATE TABLE {t} (city text, state text, population integer, latitude float8, longitude float8)",
            "[source]\nnull = [\"\", \"NULL\"]",
            Rows(
                "SELECT count(*), count(population), sum(population) FROM {t}",
                "100|50|2486481",
            ),
        ),
        case(
            "rust-csv/strange.csv",
            "CREATE TABLE {t} (name text, year integer)",
            "[source]\ndelimiter = \";\"\nescape = \"\\\\\"\ncomment = \"#\"\nheader = false\nfields = [\"name\", \"year\"]",
            Error(
                "{file}: line 4: the record has 1 field, expected 2 (as many as the `fields` names)",
                65,
            ),
        ),
        case(
            "rust-csv/smallpop-colon.csv",
            "CREATE TABLE {t} (city text, region text, country text, population integer)",
            "[source]\ndelimiter = \":\"",
            Rows(
                "SELECT count(*), min(population) FILTER (WHERE city = 'Southborough') FROM {t}",
                "10|9686",
            ),
        ),
        case(
            "rust-csv/nfl.csv",
            "CREATE TABLE {t} (gameid text, qtr int, min int, sec int, off text, def text, down int, togo int, \
             ydline int, description text, offscore int, defscore int, season int)",
            "",
            Rows(
                "SELECT count(*), count(min), count(DISTINCT gameid) > 1, max(season) FROM {t}",
                "9999|9998|t|2012",
            ),
        ),
        case(
            "rust-csv/worldcitiespop.csv",
            "CREATE TABLE {t} (country text, city text, accentcity text, region text, population integer, latitude float8, longitude float8)",
            "",
            Rows(
                "SELECT count(*), count(population), count(*) FILTER (WHERE region LIKE '0%') FROM {t}",
                "20000|271|7228",
            ),
        ),
        case(
            "rust-csv/game.csv",
            "CREATE TABLE {t} (a text, b text, c text, d text, e integer, f text)",
            "[source]\nheader = false\nfields = [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]",
            Rows(
                "SELECT count(*), string_agg(DISTINCT concat_ws('|', a, b, c, d, e, f), '') FROM {t}",
                "100000|hello|,| |world|1|!",
            ),
        ),
        // csv-spectrum
        case(
            "csv-spectrum/comma_in_quotes.csv",
            "CREATE TABLE {t} (first text, last text, address text, city text, zip text)",
            "",
            Rows(
                "SELECT concat_ws('|', first, last, address, city, zip) FROM {t}",
                "John|Doe|120 any st.|Anytown, WW|08123",
            ),
        ),
        case(
            "csv-spectrum/empty.csv",
            "CREATE TABLE {t} (a integer, b text, c text)",
            "[source]\nnull = []",
            Rows(
                "SELECT string_agg(concat_ws(':', a, quote_nullable(b), quote_nullable(c)), ' ' ORDER BY a) FROM {t}",
                "1:'':'' 2:'3':'4'",
            ),
        ),
        case(
            "csv-spectrum/empty_crlf.csv",
            "CREATE TABLE {t} (a integer, b text, c text)",
            "[source]\nnull = []",
            Rows(
                "SELECT string_agg(concat_ws(':', a, quote_nullable(b), quote_nullable(c)), ' ' ORDER BY a) FROM {t}",
                "1:'':'' 2:'3':'4'",
            ),
        ),
        case(
            "csv-spectrum/escaped_quotes.csv",
            "CREATE TABLE {t} (a integer, b text)",
            "",
            Rows(
                "SELECT string_agg(concat_ws(':', a, b), ' ' ORDER BY a) FROM {t}",
                "1:ha \"ha\" ha 3:4",
            ),
        ),
        case(
            "csv-spectrum/json.csv",
            "CREATE TABLE {t} (key integer, val jsonb)",
            "",
            Rows(
                "SELECT key, val->>'type', val->'coordinates' FROM {t}",
                "1|Point|[102.0, 0.5]",
            ),
        ),
        case(
            "csv-spectrum/newlines.csv",
            ABC_TEXT,
            "",
            Rows(LINE_ENDS, "1:2:3 | Once upon \na time:5:6 | 7:8:9"),
        ),
        case(
            "csv-spectrum/newlines_crlf.csv",
            ABC_TEXT,
            "",
            Rows(LINE_ENDS, "1:2:3 | Once upon \r\na time:5:6 | 7:8:9"),
        ),
        case(
            "csv-spectrum/quotes_and_newlines.csv",
            "CREATE TABLE {t} (a integer, b text)",
            "",
            Rows(
                "SELECT string_agg(concat_ws(':', a, b), ' | ' ORDER BY a) FROM {t}",
                "1:ha \n\"ha\" \nha | 3:4",
            ),
        ),
        case(
            "csv-spectrum/simple.csv",
            ABC_INT,
            "",
            Rows("SELECT concat_ws(':', a, b, c) FROM {t}", "1:2:3"),
        ),
        case(
            "csv-spectrum/simple_crlf.csv",
            ABC_INT,
            "",
            Rows("SELECT concat_ws(':', a, b, c) FROM {t}", "1:2:3"),
        ),
        case("csv-spectrum/utf8.csv", ABC_TEXT, "", Rows(LINE_ENDS, "1:2:3 | 4:5:ʤ")),
        // csvkit
        case(
            "csvkit/bad.csv",
            "CREATE TABLE {t} (column_a integer, column_b integer, column_c text)",
            "",
            Error(
                "{file}: line 2: the record has 4 fields, expected 3 (as many as the header)",
                65,
            ),
        ),
        case(
            "csvkit/blanks.csv",
            "CREATE TABLE {t} (a text, b text, c text, d text, e text, f text)",
            "[source]\nnull = [\"\", \"NA\", \"N/A\", \"NONE\", \"NULL\", \".\"]",
            Rows("SELECT num_nulls(a, b, c, d, e, f) FROM {t}", "6"),
        ),
        case(
            "csvkit/empty.csv",
            ABC_TEXT,
            "",
            Error("{file}: the file is empty (expected a header line)", 65),
        ),
        case(
            "csvkit/ks_1033_data.csv",
            "CREATE TABLE {t} (state text, county text, fips integer, nsn text, item_name text, quantity integer, ui text, \
             acquisition_cost numeric, total_cost numeric, ship_date timestamp, federal_supply_category integer, \
             federal_supply_category_name text, federal_supply_class integer, federal_supply_class_name text)",
            "[columns.ship_date]\nformat = \"%m/%d/%Y %H:%M:%S\"",
            Rows(
                "SELECT count(*), sum(total_cost), min(ship_date), max(item_name) FILTER (WHERE nsn = '1005-00-073-9421') FROM {t}",
                "1575|4126824.62|2006-04-27 00:00:00|RIFLE,5.56 MILLIMETER",
            ),
        ),
        case(
            "csvkit/mac_newlines.csv",
            ABC_TEXT,
            "",
            Rows(LINE_ENDS, "1:2:3 | Once upon\ra time:5:6"),
        ),
        case(
            "csvkit/null_byte.csv",
            ABC_TEXT,
            "",
            Error(
                "{file}: line 2, column \"a\": \"\\0\" contains a NUL byte, which PostgreSQL text cannot hold",
                65,
            ),
        ),
        case(
            "csvkit/null_byte.csv",
            ABC_TEXT,
            "[source]\nreplace_nul = \"\\uFFFD\"",
            Rows("SELECT a FROM {t}", "\u{FFFD}"),
        ),
        case(
            "csvkit/optional_quote_characters.csv",
            ABC_INT,
            "",
            Rows("SELECT concat_ws(':', a, b, c) FROM {t}", "1:2:3"),
        ),
        // A record of nothing but delimiters is blank, whatever its width: skipped and counted.
        case(
            "csvkit/test_empty_columns_long_row.csv",
            ABC_TEXT,
            "",
            Rows("SELECT count(*) FROM {t}", "0"),
        ),
        case(
            "csvkit/test_empty_columns_short_row.csv",
            ABC_TEXT,
            "",
            Rows("SELECT count(*) FROM {t}", "0"),
        ),
        // Unless the job keeps blank records: then the width is wrong.
        case(
            "csvkit/test_empty_columns_short_row.csv",
            ABC_TEXT,
            "[source]\nskip_blank = false",
            Error(
                "{file}: line 2: the record has 2 fields, expected 3 (as many as the header)",
                65,
            ),
        ),
        case(
            "csvkit/test_extra_header.csv",
            "CREATE TABLE {t} (a text, b text, c text, d text)",
            "",
            Error(
                "{file}: line 2: the record has 3 fields, expected 4 (as many as the header)",
                65,
            ),
        ),
        case(
            "csvkit/test_header_newline.csv",
            "CREATE TABLE {t} (x text, b text, c text)",
            "[columns.x]\nfrom = \"\\t\\n\\u000b\\f\\r start \\t\\n\\u000b\\f\\r end \\t\\n\\u000b\\f\\r\"",
            Rows("SELECT concat_ws(':', x, b, c) FROM {t}", "d:e:f"),
        ),
        case(
            "csvkit/test_latin1.csv",
            ABC_TEXT,
            "",
            Error(
                "{file}: line 3, column \"c\": invalid UTF-8 at byte 0 of the field (declare the file's encoding in the job)",
                65,
            ),
        ),
        case(
            "csvkit/test_latin1.csv",
            ABC_TEXT,
            "[source]\nencoding = \"latin1\"",
            Rows(LINE_ENDS, "1:2:3 | 4:5:©"),
        ),
        case(
            "csvkit/test_locale.csv",
            "CREATE TABLE {t} (a float8, b bigint, c text)",
            "[source]\ndecimal = \",\"\nthousands = \".\"",
            Rows("SELECT a, b, c IS NULL FROM {t}", "1.7|200000000|t"),
        ),
        case(
            "csvkit/test_utf8_bom.csv",
            "CREATE TABLE {t} (foo integer, bar integer, baz text)",
            "",
            Rows(
                "SELECT string_agg(concat_ws(':', foo, bar, baz), ' ' ORDER BY foo) FROM {t}",
                "1:2:3 4:5:ʤ",
            ),
        ),
        case(
            "csvkit/test_utf16_little.csv",
            ABC_TEXT,
            "",
            Rows(LINE_ENDS, "1:2:3 | 4:5:ʤ"),
        ),
        case(
            "csvkit/test_utf16_big.csv",
            ABC_TEXT,
            "",
            Rows(LINE_ENDS, "1:2:3 | 4:5:ʤ"),
        ),
        case("csvkit/dummy.csv.gz", ABC_INT, "", DUMMY),
        case("csvkit/dummy.csv.bz2", ABC_INT, "", DUMMY),
    ]
}

#[tokio::test]
async fn every_nasty_file_loads_right_or_is_rejected_exactly() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let table = format!("t{i}");
        db.query(&case.ddl.replace("{t}", &table));
        let job_path = dir.path().join(format!("{table}.toml"));
        std::fs::write(&job_path, format!("table = \"{table}\"\n{}\n", case.job)).unwrap();
        let spec = Spec::read(&job_path).unwrap();
        let file = shared(&format!("nasty_csv/{}", case.file));
        let mut client = db.client().await;
        let result = pipeline::load(
            &mut client,
            &spec,
            &[file.display().to_string()],
            LoadOptions::default(),
            Arc::new(NoProgress),
        )
        .await;
        let outcome = match (&case.expect, result) {
            (Expect::Rows(query, want), Ok(_)) => {
                let got = db.query(&query.replace("{t}", &table));
                (got == *want)
                    .then_some(())
                    .ok_or(format!("rows: got {got:?}, want {want:?}"))
            }
            (Expect::Error(message, code), Err(error)) => {
                let want = message.replace("{file}", &file.display().to_string());
                let got = error.to_string();
                (got == want && error.exit_code() == *code).then_some(()).ok_or(format!(
                    "error: got {got:?} (exit {}), want {want:?} (exit {code})",
                    error.exit_code()
                ))
            }
            (Expect::Rows(..), Err(error)) => Err(format!("failed: {error}")),
            (Expect::Error(..), Ok(summary)) => {
                Err(format!("loaded {} rows, expected a rejection", summary.rows_loaded))
            }
        };
        if let Err(problem) = outcome {
            failures.push(format!("{} ({}): {problem}", case.file, case.job.replace('\n', "; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Guard: a file added to `nasty_csv` without a case fails here.
#[test]
fn every_nasty_file_has_a_case() {
    let covered: std::collections::BTreeSet<&str> = cases().iter().map(|c| c.file).collect();
    let mut missing = Vec::new();
    for folder in ["csv-spectrum", "csvkit", "rust-csv"] {
        for entry in std::fs::read_dir(shared(&format!("nasty_csv/{folder}"))).unwrap() {
            let name = format!("{folder}/{}", entry.unwrap().file_name().to_string_lossy());
            if !covered.contains(name.as_str()) {
                missing.push(name);
            }
        }
    }
    assert!(missing.is_empty(), "nasty_csv files without a test case: {missing:?}");
    assert_eq!(covered.len(), 37);
}
