//! A database that vanishes without a reset: the load's TCP traffic is dropped by an
//! nftables rule (as a failover or a dead network path drops it), and the load must notice
//! by its keepalives and `tcp_user_timeout` within a minute, exit 69 (retryable), and
//! commit nothing.
//!
//! The load reaches the test cluster through a TCP relay of the test's own on a port of its
//! own, so that the rule drops this load's packets and nobody else's.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{code, stderr};
use crate::exits::{Locker, kv_batch};
use crate::pg::cluster;

/// Relays every TCP connection on a free loopback port to the cluster's Unix socket.
fn relay() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = cluster().socket_file();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = UnixStream::connect(&socket).unwrap();
            let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || copy(&mut client_in, &mut server_out));
            let (mut server_in, mut client_out) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server_in, &mut client_out);
                let _ = client_out.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

fn copy(from: &mut TcpStream, to: &mut UnixStream) {
    let mut buffer = [0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buffer) {
        if n == 0 || to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

/// An nftables table that drops every TCP packet to or from `port` until dropped.
struct Blackhole(String);

impl Blackhole {
    fn new(port: u16) -> Self {
        let table = format!("pgbatch_vanish_{port}");
        let rules = format!(
            "add table inet {table}\n\
             add chain inet {table} input {{ type filter hook input priority 0 ; }}\n\
             add rule inet {table} input tcp dport {port} drop\n\
             add rule inet {table} input tcp sport {port} drop\n"
        );
        nft(&["-f", "-"], &rules);
        Blackhole(table)
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        nft(&["delete", "table", "inet", &self.0], "");
    }
}

fn nft(args: &[&str], input: &str) {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("this test drops packets with nft (install nftables): {error}"));
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft {args:?} failed (the test needs root, for CAP_NET_ADMIN): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_database_that_stops_answering_is_unavailable_within_a_minute() {
    let (db, _dir, spec, csv) = kv_batch();
    let port = relay();
    // The load waits on a lock another session holds: its connection is idle, waiting for
    // the server, when the packets stop.
    let locker = Locker::hold(&db, "kv");
    let url = format!(
        "host=127.0.0.1 port={port} user=postgres dbname={} sslmode=disable",
        db.name
    );
    let mut load = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(["--json", "load", &spec, &csv])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbatch' \
         AND wait_event_type = 'Lock' AND datname = current_database()",
    ) != "1"
    {
        assert!(Instant::now() < deadline, "the load never waited on the lock");
        if load.try_wait().unwrap().is_some() {
            let out = load.wait_with_output().unwrap();
            panic!(
                "the load ended before it waited: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let blackhole = Blackhole::new(port);
    let dropped = Instant::now();
    let status = loop {
        if let Some(status) = load.try_wait().unwrap() {
            break Some(status);
        }
        if dropped.elapsed() > Duration::from_mins(2) {
            let _ = load.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let waited = dropped.elapsed();
    drop(blackhole);
    let out = load.wait_with_output().unwrap();
    drop(locker);
    db.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'pgbatch' AND datname = current_database()",
    );

    assert!(
        status.is_some(),
        "the load still waited 120 s after its packets stopped"
    );
    let message = stderr(&out);
    assert_eq!(code(&out), 69, "{message}");
    assert!(waited < Duration::from_mins(1), "noticed after {waited:?}: {message}");
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["retryable"], true, "{line}");
    assert_eq!(db.query("SELECT count(*) FROM kv"), "0");
    assert_eq!(db.query("SELECT count(*) FROM pgbatch.batches"), "0");
}
