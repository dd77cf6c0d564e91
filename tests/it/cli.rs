use std::path::Path;
use std::process::{Command, Output};

use crate::pg::{TestDb, repo, shared};

pub(crate) fn pgbatch(dir: &Path, url: Option<&str>, args: &[&str]) -> Output {
    pgbatch_with(dir, url, args, &[])
}

/// [`pgbatch`] with more environment variables.
pub(crate) fn pgbatch_with(dir: &Path, url: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, url, args, env).output().unwrap()
}

/// The `pgbatch` command in `dir`, with the repository's jobs, the database at `url` and
/// nothing else of this process's database settings.
pub(crate) fn command(dir: &Path, url: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pgbatch"));
    command
        .current_dir(dir)
        .args(args)
        .env("PGBATCH_JOBS", repo().join("jobs"));
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGAPPNAME",
    ] {
        command.env_remove(var);
    }
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    command.envs(env.iter().copied());
    command
}

pub(crate) fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| !l.starts_with('{'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn loads_then_reruns_as_a_no_op_with_json_lines() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dump = shared("xeneta/rates.sql").display().to_string();
    for job in ["shipping_regions", "shipping_ports"] {
        let out = pgbatch(dir.path(), Some(&db.url()), &["load", job, &dump]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "--json", "shipping_prices", &dump],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["status"], "loaded");
    assert_eq!(line["rows_loaded"], 56_689);
    let first = line["batch_id"].clone();

    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "--json", "shipping_prices", &dump],
    );
    assert_eq!(code(&out), 0);
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (line["status"].as_str(), &line["batch_id"]),
        (Some("already_loaded"), &first)
    );

    let out = pgbatch(dir.path(), Some(&db.url()), &["batches", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn bad_data_exits_65_naming_file_line_column_and_value() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prices_2016-02-01_2016-02-01.csv");
    std::fs::write(
        &file,
        "orig_code,dest_code,day,price\nCNSGH,GBFXT,2016-02-01,100\nCNSGH,GBFXT,2016-02-01,12.5\n",
    )
    .unwrap();
    let out = pgbatch(
        dir.path(),
        Some(&db.url()),
        &["load", "shipping_prices_restate", "prices_2016-02-01_2016-02-01.csv"],
    );
    assert_eq!(code(&out), 65);
    assert_eq!(
        stderr(&out),
        "pgbatch: error: prices_2016-02-01_2016-02-01.csv: line 3, column \"price\": cannot parse \"12.5\" as integer"
    );
}

#[test]
fn missing_file_exits_66() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "shipping_prices", "nope.sql"]);
    assert_eq!(code(&out), 66);
    assert_eq!(stderr(&out), "pgbatch: error: nope.sql: no such file");
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "shipping_prices", "*.sql"]);
    assert_eq!(code(&out), 66);
    assert_eq!(stderr(&out), "pgbatch: error: *.sql: the glob matches no file");
}

#[test]
fn unreachable_database_exits_69_and_is_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("host={} port=1 user=postgres dbname=x", dir.path().display());
    let out = pgbatch(dir.path(), Some(&url), &["--json", "run", "shipping_prices"]);
    assert_eq!(code(&out), 69, "{}", stderr(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["retryable"], true);
}

#[test]
fn configuration_errors_exit_78_listing_every_problem() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(dir.path(), None, &["run", "shipping_prices"]);
    assert_eq!(code(&out), 78);
    assert_eq!(
        stderr(&out),
        "pgbatch: error: no database configured: set DATABASE_URL or the PG* variables (PGHOST, PGUSER, ...)"
    );
    std::fs::write(
        dir.path().join("bad.toml"),
        "table = \"prices\"\nmode = \"merge\"\n[columns.price]\nmin = \"x\"\n[columns.nope]\n",
    )
    .unwrap();
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "bad.toml", "x.csv"]);
    assert_eq!(code(&out), 78);
    assert_eq!(
        stderr(&out),
        "pgbatch: error: bad.toml:5:10: column \"nope\" is not in the target table; \
         bad.toml:4:1: [columns.price] min = \"x\" does not fit the column's type (integer); \
         bad.toml:2:1: mode \"merge\" is unknown (expected append, upsert, insert_new, replace or replace_covered)"
    );
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "no_such_job"]);
    assert_eq!(code(&out), 78);
}

#[test]
fn usage_errors_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let out = pgbatch(dir.path(), None, &["load"]);
    assert_eq!(code(&out), 64);
    let out = pgbatch(dir.path(), None, &["--store-timeout", "0", "load", "job", "f.csv"]);
    assert_eq!(code(&out), 64);
    assert!(stderr(&out).contains("'--store-timeout <SECONDS>'"), "{}", stderr(&out));
    let out = pgbatch(dir.path(), None, &["--help"]);
    assert_eq!(code(&out), 0);
}

/// `pgbatch demo` with no database configured: a private cluster, migrated, the samples
/// loaded, the API served (one call answered) until Ctrl-C; a second run reuses the cluster
/// and loads nothing twice; no server is left.
#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one user session: demo, the API it serves, then a re-run"
)]
fn demo_runs_on_the_embedded_default_and_reruns_as_no_ops() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let cluster_dir = dir.path().join("embedded");
    let command = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pgbatch"));
        command
            .current_dir(repo())
            .arg("demo")
            .args(args)
            .env("PGBATCH_EMBEDDED_DIR", &cluster_dir);
        for var in ["DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] {
            command.env_remove(var);
        }
        command
    };
    let mut demo = command(&["--json", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(demo.stdout.take().unwrap());
    let mut lines = Vec::new();
    let address = loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the demo ended early: {lines:?}"
        );
        if let Some(rest) = line.strip_prefix("The API is up: http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
        lines.push(line);
    };
    let loaded: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(loaded.len(), 18);
    assert!(loaded.iter().all(|l| l["status"] == "loaded"), "{loaded:?}");
    let reply = crate::api::http_get(
        address,
        "/rates?date_from=2016-01-01&date_to=2016-01-03&origin=CNSGH&destination=north_europe_main",
    );
    assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
    assert!(
        reply.ends_with(
            "[{\"day\":\"2016-01-01\",\"average_price\":1112},{\"day\":\"2016-01-02\",\"average_price\":1112},\
             {\"day\":\"2016-01-03\",\"average_price\":null}]\n"
        ),
        "{reply}"
    );
    let interrupted = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = demo.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        !cluster_dir.join("data/postmaster.pid").exists(),
        "the demo left its server running"
    );
    let second = command(&["--exit", "--json"]).output().unwrap();
    assert_eq!(code(&second), 0, "{}", stderr(&second));
    let statuses: Vec<String> = String::from_utf8_lossy(&second.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The SQL jobs (price aggregates, playlist tally) have nothing new since their first run.
    let mut expected = vec!["already_loaded"; 18];
    expected[4] = "up_to_date";
    expected[17] = "up_to_date";
    assert_eq!(statuses, expected);
    assert!(
        !cluster_dir.join("data/postmaster.pid").exists(),
        "the demo left its server running"
    );
}

/// `-` reads standard input, spooled to a temporary file so it is hashed like a file:
/// loaded once, then a no-op for the same bytes.
#[test]
fn standard_input_is_a_source_loaded_exactly_once() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("ubuntu_stdin.toml");
    let spec = std::fs::read_to_string(repo().join("jobs/messages_ubuntu.toml")).unwrap();
    std::fs::write(&job, spec + "\n[source]\nformat = \"csv\"\n").unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_pgbatch"))
            .args(["--json", "load", job.to_str().unwrap(), "-"])
            .env("DATABASE_URL", db.url())
            .stdin(std::fs::File::open(shared("messages/ubuntu_dialogue_sample/dialogueText.csv")).unwrap())
            .output()
            .unwrap()
    };
    let last = |out: &Output| -> serde_json::Value {
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().rfind(|l| l.starts_with('{')).unwrap()).unwrap()
    };
    let first = run();
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let first = last(&first);
    assert_eq!(
        (&first["status"], &first["rows_read"], &first["rows_loaded"]),
        (&"loaded".into(), &9_999.into(), &9_982.into())
    );
    assert_eq!(db.query("SELECT sources->0->>'path' FROM pgbatch.batches"), "stdin");
    let again = last(&run());
    assert_eq!(again["status"], "already_loaded");
}

/// Runs `program args` with `input` on stdin; fails saying what to install when it is missing.
fn check_with(program: &str, args: &[&str], input: &[u8], install: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{program} is needed to check this (install {install}): {error}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_command_has_plain_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let top = pgbatch(dir.path(), None, &["--help"]);
    assert_eq!(code(&top), 0);
    let commands = [
        "migrate",
        "load",
        "run",
        "finalize",
        "submit",
        "gc",
        "validate",
        "demo",
        "serve",
        "batches",
        "report",
        "probe",
        "exit-codes",
        "completions",
        "man",
    ];
    let text = String::from_utf8_lossy(&top.stdout).into_owned();
    assert!(!text.contains('`'), "markdown in the help: {text}");
    for command in commands {
        assert!(
            text.contains(&format!("  {command} ")),
            "{command} missing from: {text}"
        );
        let out = pgbatch(dir.path(), None, &[command, "--help"]);
        assert_eq!(code(&out), 0, "{command}");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!help.contains('`'), "markdown in the help of {command}: {help}");
        let example = help
            .split_once("Example:\n  ")
            .map(|(_, e)| e.trim())
            .unwrap_or_default();
        assert!(
            example.starts_with("pgbatch ") || example.contains(" pgbatch "),
            "{command} has no example: {help}"
        );
    }
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let script = pgbatch(dir.path(), None, &["completions", "bash"]);
    assert_eq!(code(&script), 0, "{}", stderr(&script));
    // bash itself parses the script, then completes `pgbatch va` with it.
    let checked = check_with("bash", &["-n"], &script.stdout, "bash");
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    let mut complete = script.stdout.clone();
    complete.extend_from_slice(
        b"\nCOMP_WORDS=(pgbatch va); COMP_CWORD=1; COMP_LINE='pgbatch va'; COMP_POINT=10\n\
          _pgbatch pgbatch va pgbatch; printf '%s\\n' \"${COMPREPLY[@]}\"\n",
    );
    let completed = check_with("bash", &[], &complete, "bash");
    assert_eq!(String::from_utf8_lossy(&completed.stdout).trim(), "validate");

    let page = pgbatch(dir.path(), None, &["man"]);
    assert_eq!(code(&page), 0, "{}", stderr(&page));
    // groff reads the page with every warning on; it must have nothing to say.
    let rendered = check_with("groff", &["-man", "-Tutf8", "-ww"], &page.stdout, "groff-base");
    assert!(rendered.status.success());
    assert_eq!(String::from_utf8_lossy(&rendered.stderr), "");
    let text = String::from_utf8_lossy(&rendered.stdout);
    for command in ["migrate", "load", "validate", "serve", "exit-codes"] {
        assert!(text.contains(command), "{command} missing from the manual page: {text}");
    }
}

/// A server on loopback that answers every request with `status`, until the test ends.
fn answering(status: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = std::io::Write::write_all(&mut stream, response.as_bytes());
        }
    });
    format!("http://{address}/readyz")
}

#[test]
fn probe_is_0_for_a_2xx_and_69_for_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(code(&pgbatch(dir.path(), None, &["probe", &answering("200 OK")])), 0);
    let out = pgbatch(dir.path(), None, &["probe", &answering("503 Service Unavailable")]);
    assert_eq!(code(&out), 69, "{}", stderr(&out));
    assert!(stderr(&out).contains("answered 503"), "{}", stderr(&out));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = pgbatch(dir.path(), None, &["probe", &format!("http://{closed}/readyz")]);
    assert_eq!(code(&out), 69, "{}", stderr(&out));
}
