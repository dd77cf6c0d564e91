//! pgloader as a peer: a CSV file into a table, as its users write it, with its defaults
//! (4 workers, batches of 25,000 rows, COPY in text format). Timed as a whole process, as
//! pgbatch is. It is by far the slowest peer, so each shape runs it once, not in rounds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::shape::Load;

/// What pgloader is told about a CSV file: its fields (named as the table's columns), whether
/// a header line comes first, and the field value that means NULL (besides an empty one).
pub struct Csv<'a> {
    pub file: &'a Path,
    pub fields: &'a [&'a str],
    pub header: bool,
    pub null: Option<&'a str>,
}

/// pgloader's load of `csv` into `table` as a [`Load`], labelled `label`, connecting as
/// `application`.
pub fn peer<'a>(work: &'a Path, label: &str, application: &str, table: &str, csv: Csv<'a>) -> Load<'a> {
    crate::shape::load(label, application, table, load(work, table, csv))
}

/// A load of `csv` into `table` by pgloader, for [`crate::shape::once`]: writes its command
/// file into `work` and runs `pgloader` on it, connecting as the key-value `url` says.
pub fn load<'a>(work: &'a Path, table: &str, csv: Csv<'a>) -> Box<dyn Fn(&str) -> f64 + 'a> {
    let table = table.to_owned();
    Box::new(move |url| {
        let command = work.join(format!("{table}.load"));
        std::fs::write(&command, command_file(url, &table, &csv)).unwrap();
        let started = Instant::now();
        let out = Command::new("pgloader")
            .arg("--quiet")
            .arg(&command)
            .output()
            .expect("pgloader runs (apt-get install pgloader)");
        let seconds = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "pgloader failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        seconds
    })
}

/// pgloader's `LOAD CSV` command for `csv` into `table`; its connection string (a Unix
/// socket, `unix:DIR:PORT`) and `application_name` are taken from the key-value `url`.
fn command_file(url: &str, table: &str, csv: &Csv<'_>) -> String {
    let setting = |key: &str| {
        url.split_whitespace()
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("{key}= in {url}"))
    };
    let socket = PathBuf::from(setting("host"));
    let null = csv
        .null
        .map(|value| format!(" [null if '{value}']"))
        .unwrap_or_default();
    let fields: Vec<String> = csv.fields.iter().map(|f| format!("{f}{null}")).collect();
    let mut file = String::new();
    writeln!(file, "LOAD CSV").unwrap();
    writeln!(file, "  FROM '{}' ({})", csv.file.display(), fields.join(", ")).unwrap();
    writeln!(
        file,
        "  INTO postgresql://{}@unix:{}:{}/{}?tablename={table}",
        setting("user"),
        socket.display(),
        setting("port"),
        setting("dbname")
    )
    .unwrap();
    writeln!(
        file,
        "  WITH skip header = {}, fields terminated by ',', fields optionally enclosed by '\"'",
        u8::from(csv.header)
    )
    .unwrap();
    writeln!(file, "  SET application_name to '{}';", setting("application_name")).unwrap();
    file
}
