//! `/rates` for a region-to-region month, side by side with `pgbench` running the same SQL,
//! in one run on one private cluster loaded with the real xeneta dump.
//!
//! 1. `wrk` against `pgbatch serve` (HTTP on loopback, JSON out), once with `--cache-mb 0`
//!    (every request runs the route's query) and once as it runs by default (repeated
//!    requests between two batches answered from its response cache).
//! 2. `pgbench` with the route's own query file, prepared, same concurrency, straight to
//!    PostgreSQL: the floor the API is measured against.
//! 3. `wrk` again while `replace` batches of prices load back to back, alternating two
//!    contents (one price in ten differs), each followed by the `price_stats` job that
//!    brings the aggregates up to date: what readers feel during loads.
//! 4. Requests at a fixed pace ([`paced`], 1,000 a second, well under what either server
//!    answers), idle and during the same loads, with and without the cache: the latency a
//!    reader sees when the client does not saturate the machine (see `api/paced.rs`).
//! 5. 1 and 2 again with the database on half the cores and every client on the other
//!    half (`api/cores.rs`): the API against `pgbench` when the database is a server of its
//!    own, as Aurora is, so that neither client takes CPU from it.
//!
//! Reports requests/s and p50/p99 latency of each, and the ratios.
//! Run: cargo bench --bench api   (needs PostgreSQL's server binaries, `wrk` and `pgbench`)

mod common;
#[path = "api/cores.rs"]
mod cores;
#[path = "api/paced.rs"]
mod paced;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::pgbatch;
use pgbatch::embedded::Cluster;

const CONNECTIONS: usize = 8;
const SECONDS: u32 = 10;
/// Requests per second of the paced reads.
const PACE: u32 = 1_000;
const PATH: &str = "/rates?date_from=2016-01-01&date_to=2016-01-31&origin=china_main&destination=northern_europe";

/// Requests/s, p50 and p99 in milliseconds.
struct Figures {
    rate: f64,
    p50: f64,
    p99: f64,
}

/// `wrk` against `url` (on `cores`, or anywhere).
fn wrk(url: &str, cores: Option<&str>) -> Figures {
    let out = cores::on(cores, "wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            url,
        ])
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && !text.contains("Non-2xx"), "wrk: {text}");
    let field = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in wrk's output: {text}"));
        let value = line.trim_start()[prefix.len()..].trim();
        millis(value)
    };
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("wrk reports Requests/sec");
    Figures {
        rate,
        p50: field("50%"),
        p99: field("99%"),
    }
}

/// A Markdown table of each client's figures.
fn table(rows: &[(&str, &Figures)]) {
    println!("| client | requests/s | p50 ms | p99 ms |");
    println!("| --- | --- | --- | --- |");
    for (name, f) in rows {
        println!("| {name} | {:.0} | {:.2} | {:.2} |", f.rate, f.p50, f.p99);
    }
}

/// wrk's `1.23ms`, `456.00us`, `1.01s` in milliseconds.
fn millis(value: &str) -> f64 {
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (value, 1.0)
    };
    number.parse::<f64>().expect("a wrk latency") * scale
}

/// `pgbench` running `sql` (on `cores`, or anywhere).
fn pgbench(url: &str, work: &Path, sql: &str, cores: Option<&str>) -> Figures {
    // The route's query with its parameters as pgbench variables.
    let script = sql
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("$1", ":date_from")
        .replace("$2", ":date_to")
        .replace("$3", ":origin")
        .replace("$4", ":destination");
    let file = work.join("rates.pgbench.sql");
    std::fs::write(&file, format!("{script};\n")).unwrap();
    let logs = work.join("pgbench");
    std::fs::create_dir_all(&logs).unwrap();
    let out = cores::on(cores, "pgbench")
        .current_dir(&logs)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &CONNECTIONS.to_string(),
            "-j",
            "2",
            "-T",
            &SECONDS.to_string(),
            "-l",
            "-D",
            "date_from=2016-01-01",
            "-D",
            "date_to=2016-01-31",
            "-D",
            "origin=china_main",
            "-D",
            "destination=northern_europe",
            "-f",
        ])
        .arg(&file)
        .arg(url)
        .output()
        .expect("pgbench runs (postgresql-contrib / postgresql)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("pgbench reports tps");
    // Per-transaction logs: the third field is the latency in microseconds.
    let mut latencies: Vec<f64> = Vec::new();
    for entry in std::fs::read_dir(&logs).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2))
                .filter_map(|v| v.parse::<f64>().ok())
                .map(|us| us / 1000.0),
        );
    }
    latencies.sort_by(f64::total_cmp);
    assert!(!latencies.is_empty(), "pgbench logged no transactions");
    let at = |percent: usize| latencies[(latencies.len() - 1) * percent / 100];
    Figures {
        rate,
        p50: at(50),
        p99: at(99),
    }
}

/// `pgbatch serve` on a free port, with `more` arguments; its process and address.
fn serve(repo: &Path, url: &str, more: &[&str]) -> (std::process::Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .current_dir(repo)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(more)
        .env("DATABASE_URL", url)
        .env("PGBATCH_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("pgbatch serve runs");
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let address = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "pgbatch serve ended early");
        if let Some(rest) = line.strip_prefix("The API is up: http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // The server goes on printing (its example requests): keep reading, so that it never
    // writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (server, address)
}

/// Two contents of `prices` for back-to-back replaces, so that each load changes the
/// table: the loaded prices as they are, and the same with one price in ten raised by one
/// (and the job that replaces `prices` with a file).
fn two_contents(url: &str, work: &Path) -> (String, [String; 2]) {
    let jobs = work.join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    std::fs::write(
        jobs.join("prices_replace.toml"),
        "table = \"prices\"\nmode = \"replace\"\n",
    )
    .unwrap();
    let files = ["prices_a.csv", "prices_b.csv"].map(|name| work.join(name).display().to_string());
    for (file, price) in files.iter().zip([
        "price",
        "CASE WHEN abs(hashtext(orig_code || dest_code || day::text)) % 10 = 0 THEN price + 1 ELSE price END",
    ]) {
        let copy = format!(
            "\\copy (SELECT orig_code, dest_code, day, {price} AS price FROM prices) TO '{file}' (FORMAT csv, HEADER)"
        );
        let out = Command::new("psql")
            .args([url, "-X", "-v", "ON_ERROR_STOP=1", "-c", &copy])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    (jobs.display().to_string(), files)
}

/// wrk's figures while `prices` is replaced back to back by two different contents, each
/// load followed by the `price_stats` job that brings the aggregates up to date, and how
/// many loads there were.
fn reads_during_loads<T>(url: &str, jobs: &str, work: &Path, read: impl FnOnce() -> T) -> (T, u64) {
    let (replace_jobs, files) = two_contents(url, work);
    let stop = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicU64::new(0));
    let loader = {
        let (stop, loads, url, jobs) = (Arc::clone(&stop), Arc::clone(&loads), url.to_owned(), jobs.to_owned());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let file = &files[usize::try_from(loads.load(Ordering::SeqCst) % 2).unwrap()];
                // --force: each content was loaded before, and the ledger would skip it
                // as already loaded; the table's content changes on every load.
                pgbatch(
                    &url,
                    &["--jobs-dir", &replace_jobs, "load", "--force", "prices_replace", file],
                );
                pgbatch(&url, &["--jobs-dir", &jobs, "run", "price_stats"]);
                loads.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let during = read();
    stop.store(true, Ordering::SeqCst);
    loader.join().unwrap();
    (during, loads.load(Ordering::SeqCst))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches` ask for a listing
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dump = repo.join("../shared/data/xeneta/rates.sql");
    assert!(dump.exists(), "../shared/data is beside the repository");
    let work = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&work.path().join("cluster")).expect("a private cluster");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(cluster.ensure_database("bench")).unwrap();
    let url = cluster.url("bench");
    let dump = dump.display().to_string();
    pgbatch(
        &url,
        &["migrate", "--dir", &repo.join("sql/migrations").display().to_string()],
    );
    let jobs = repo.join("jobs").display().to_string();
    for job in ["shipping_regions", "shipping_ports", "shipping_prices"] {
        pgbatch(&url, &["--jobs-dir", &jobs, "load", job, &dump]);
    }
    pgbatch(&url, &["--jobs-dir", &jobs, "run", "price_stats"]);
    let (mut uncached_server, uncached_address) = serve(&repo, &url, &["--cache-mb", "0"]);
    let (mut server, address) = serve(&repo, &url, &[]);
    let uncached_target = format!("http://{uncached_address}{PATH}");
    let target = format!("http://{address}{PATH}");
    let check = Command::new("curl").args(["-sf", &target]).output();
    if let Ok(out) = check {
        let body = String::from_utf8_lossy(&out.stdout);
        println!(
            "GET {PATH}\n  -> {} days, first {}",
            body.matches("\"day\"").count(),
            &body[..body.len().min(90)]
        );
    }

    println!("/rates, region to region, one month; {CONNECTIONS} connections, {SECONDS} s each, one run:");
    // Warmed first: each pooled connection prepares its statements on its first request.
    for warm in [&uncached_target, &target] {
        let _ = wrk(warm, None);
    }
    let uncached = wrk(&uncached_target, None);
    let api = wrk(&target, None);
    let sql = std::fs::read_to_string(repo.join("sql/queries/rates.sql")).unwrap();
    let floor = pgbench(&url, work.path(), &sql, None);

    let (during, loads) = reads_during_loads(&url, &jobs, work.path(), || wrk(&target, None));

    table(&[
        ("pgbatch serve --cache-mb 0 (HTTP, JSON)", &uncached),
        ("pgbatch serve (HTTP, JSON, cache hits)", &api),
        ("pgbench, the same SQL (prepared)", &floor),
        ("pgbatch serve during replace loads", &during),
    ]);
    println!(
        "API without the cache / pgbench throughput: {:.2}x",
        uncached.rate / floor.rate
    );
    println!(
        "API with cache hits / pgbench throughput: {:.2}x",
        api.rate / floor.rate
    );
    println!(
        "p99 during {} replace loads of 56,689 prices, one in ten changed each time (+ price_stats) / p99 idle: {:.2}x",
        loads,
        during.p99 / api.p99
    );
    paced_reads(&url, &jobs, work.path(), [&target, &uncached_target]);
    let servers = [uncached_server.id(), server.id()];
    split_cores(work.path(), &url, &sql, servers, [&uncached_target, &target]);
    println!(
        "vs the original Flask service's 40 req/s (p99 271 ms, the figure given for this machine): {:.0}x",
        api.rate / 40.0
    );
    for server in [&mut server, &mut uncached_server] {
        let _ = Command::new("kill").args(["-INT", &server.id().to_string()]).status();
        let _ = server.wait();
    }
    cluster.stop().expect("the cluster stops");
}

/// Reads at a fixed pace, idle and during loads, from each of `targets` (the API with and
/// without its cache): a table of p50 and p99.
fn paced_reads(url: &str, jobs: &str, work: &Path, targets: [&str; 2]) {
    println!("At a fixed pace of {PACE} requests/s (open loop):");
    println!(
        "| server | p50 ms idle | p99 ms idle | p50 ms during loads | p99 ms during loads | loads | p99 during / idle | failed |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, target) in ["pgbatch serve (cache)", "pgbatch serve --cache-mb 0"]
        .into_iter()
        .zip(targets)
    {
        let idle = paced::paced(target, PACE, SECONDS);
        let (during, loads) = reads_during_loads(url, jobs, work, || paced::paced(target, PACE, SECONDS));
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {loads} | {:.2}x | {} |",
            idle.0,
            idle.1,
            during.0,
            during.1,
            during.1 / idle.1,
            idle.2 + during.2
        );
    }
}

/// The same reads with the database on half the cores and every client (`wrk`, the API,
/// `pgbench`) on the other half: see `api/cores.rs`. Last, as the pinning stays.
fn split_cores(work: &Path, url: &str, sql: &str, servers: [u32; 2], targets: [&str; 2]) {
    let Some(split) = cores::Split::of_this_machine() else {
        println!("(one core: the database cannot have cores of its own)");
        return;
    };
    cores::pin(cores::postmaster(&work.join("cluster/data")), &split.database);
    for server in servers {
        cores::pin(server, &split.clients);
    }
    let clients = Some(split.clients.as_str());
    for target in targets {
        let _ = wrk(target, clients);
    }
    let [uncached, api] = targets.map(|target| wrk(target, clients));
    let floor = pgbench(url, work, sql, clients);
    println!(
        "The database on cores {} and every client on cores {} (a database on a server of its own):",
        split.database, split.clients
    );
    table(&[
        ("pgbatch serve --cache-mb 0 (HTTP, JSON)", &uncached),
        ("pgbatch serve (HTTP, JSON, cache hits)", &api),
        ("pgbench, the same SQL (prepared)", &floor),
    ]);
    println!(
        "API without the cache / pgbench throughput, database on cores of its own: {:.2}x",
        uncached.rate / floor.rate
    );
    println!(
        "API with cache hits / pgbench throughput, database on cores of its own: {:.2}x",
        api.rate / floor.rate
    );
}
