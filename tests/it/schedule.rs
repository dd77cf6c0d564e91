//! The schedules for plain hosts (`batch/cron/`): the systemd units pass
//! `systemd-analyze verify` without a warning, the crontab's lines are valid cron entries,
//! and every pgbatch command in them is one the binary accepts, for a job that exists.

use std::path::Path;
use std::process::Command;

use crate::pg::repo;

const BINARY: &str = "/usr/local/bin/pgbatch";

/// Whether one cron time field is valid: `*`, numbers in range, ranges, steps, lists.
fn cron_field(field: &str, low: u32, high: u32) -> bool {
    field.split(',').all(|part| {
        let (range, step) = part.split_once('/').map_or((part, None), |(r, s)| (r, Some(s)));
        let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s >= 1 && s <= high));
        let number = |n: &str| n.parse::<u32>().ok().filter(|n| (low..=high).contains(n));
        let range_ok = range == "*"
            || match range.split_once('-') {
                Some((a, b)) => number(a).zip(number(b)).is_some_and(|(a, b)| a <= b),
                None => number(range).is_some(),
            };
        step_ok && range_ok
    })
}

/// The arguments of each pgbatch command in `text` (what follows the binary's path, up to
/// a redirection).
fn commands(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|line| line.split_once(BINARY).map(|(_, rest)| rest))
        .map(|rest| {
            rest.split(">>")
                .next()
                .unwrap()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The binary accepts these arguments (`--help` after them: clap checks what comes before
/// and stops there), and the job they name exists.
fn accepted(args: &[String]) {
    let mut line: Vec<&str> = args.iter().map(String::as_str).collect();
    line.push("--help");
    let out = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(&line)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pgbatch {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let job = &args[args.iter().position(|a| a == "run").expect("a run command") + 1];
    let job = job.replace("%i", "price_stats");
    assert!(
        repo().join("jobs").join(format!("{job}.toml")).is_file(),
        "no job {job}"
    );
}

#[test]
fn the_crontab_has_valid_entries_running_real_commands() {
    let text = std::fs::read_to_string(repo().join("batch/cron/pgbatch.crontab")).unwrap();
    let mut entries = 0;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.split_whitespace().next().is_some_and(|w| w.contains('=')) {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            fields.len() > 6,
            "an entry needs five times, a user and a command: {line}"
        );
        let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
        for (field, (low, high)) in fields.iter().zip(ranges) {
            assert!(cron_field(field, low, high), "{field:?} is not a cron field in {line}");
        }
        assert_eq!(fields[5], "pgbatch", "runs as the pgbatch user: {line}");
        assert!(
            line.contains("--skip-if-running"),
            "a scheduled run must not overlap itself: {line}"
        );
        entries += 1;
    }
    assert!(entries >= 3, "{entries} entries");
    // The checker itself refuses what cron would.
    assert!(!cron_field("60", 0, 59) && !cron_field("*/0", 0, 59) && !cron_field("5-2", 0, 23));
    assert!(cron_field("*/15", 0, 59) && cron_field("1-5", 0, 7) && cron_field("0,30", 0, 59));
    let found = commands(&text);
    assert_eq!(found.len(), entries);
    for args in found {
        accepted(&args);
    }
}

#[test]
fn the_systemd_units_verify_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let units = repo().join("batch/cron");
    let service = std::fs::read_to_string(units.join("pgbatch@.service")).unwrap();
    for args in commands(&service) {
        accepted(&args);
    }
    // verify checks that ExecStart's program exists: here it is the binary under test.
    std::fs::write(
        dir.path().join("pgbatch@.service"),
        service.replace(BINARY, env!("CARGO_BIN_EXE_pgbatch")),
    )
    .unwrap();
    std::fs::copy(units.join("pgbatch@.timer"), dir.path().join("pgbatch@.timer")).unwrap();
    let verify = |dir: &Path| {
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(dir.join("pgbatch@price_stats.service"))
            .arg(dir.join("pgbatch@price_stats.timer"))
            .output()
            .unwrap_or_else(|error| panic!("systemd-analyze is needed (install systemd): {error}"))
    };
    let out = verify(dir.path());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{said}");
    assert_eq!(said, "", "systemd-analyze has something to say");
    // A unit with a mistake is caught: the check can fail.
    let timer = std::fs::read_to_string(units.join("pgbatch@.timer")).unwrap();
    std::fs::write(
        dir.path().join("pgbatch@.timer"),
        timer.replace("OnCalendar=hourly", "OnCalendar=hourlyish"),
    )
    .unwrap();
    let out = verify(dir.path());
    assert!(!out.status.success(), "a bad calendar went through");
}
