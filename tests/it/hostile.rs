//! The server against slow and hostile clients, over real sockets on loopback: a client
//! trickling its headers and an idle keep-alive connection are closed; a client that stops
//! reading its response is cut off and its pooled connection comes back; a flood beyond the
//! limit of requests in flight is shed with 503 and `Retry-After`, and the pool recovers; a
//! query string over the limit is 414.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pgbatch::api::{self, Api, ApiOptions, ServerLimits};

use crate::api::{fixtures, http_get};
use crate::pg::TestDb;

/// A server of the test fixtures' routes on loopback, stopped when dropped.
struct Server {
    address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(db: &TestDb, options: ApiOptions, limits: ServerLimits) -> Server {
    let api = Api::new(&db.options(), options)
        .await
        .unwrap_or_else(|error| panic!("the API starts: {error}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(api::serve(api.router(), listener, limits, async {
        let _ = stopped.await;
    }));
    Server {
        address,
        stop: Some(stop),
    }
}

/// Reads until the server closes the connection (`true`), or `within` passes (`false`).
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true, // reset
        }
    }
    false
}

fn short_timeouts() -> ServerLimits {
    ServerLimits {
        header_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_trickling_its_headers_and_an_idle_connection_are_closed() {
    let db = TestDb::new();
    let server = start(&db, fixtures(), short_timeouts()).await;
    let address = server.address;
    tokio::task::spawn_blocking(move || {
        // One header line every 300 ms: each arrives in time, the head as a whole does not.
        let mut slow = TcpStream::connect(address).unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n").unwrap();
        let started = Instant::now();
        let mut cut = false;
        for i in 0..30 {
            std::thread::sleep(Duration::from_millis(300));
            if write!(slow, "X-Slow-{i}: y\r\n").is_err() || closed_within(&mut slow, Duration::from_millis(1)) {
                cut = true;
                break;
            }
        }
        assert!(
            cut,
            "a head trickling in for {:?} is still being read",
            started.elapsed()
        );
        // A keep-alive connection, answered, then idle: closed after the same time.
        let mut idle = TcpStream::connect(address).unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
        let mut reply = Vec::new();
        let mut buffer = [0u8; 1024];
        while !reply.ends_with(b"\r\n\r\nok\n") {
            let n = idle.read(&mut buffer).unwrap();
            assert!(n > 0, "closed before the answer: {}", String::from_utf8_lossy(&reply));
            reply.extend_from_slice(&buffer[..n]);
        }
        assert!(
            reply.starts_with(b"HTTP/1.1 200 OK"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        assert!(
            closed_within(&mut idle, Duration::from_secs(10)),
            "an idle keep-alive connection stays open"
        );
    })
    .await
    .unwrap();
}

/// A client with a tiny receive buffer asks for a large response and never reads it.
fn stuck_client(address: SocketAddr, path: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let runtime = tokio::runtime::Handle::current();
    runtime.block_on(async {
        let mut stream = socket.connect(address).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(
            &mut stream,
            format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        stream
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_cut_off_and_its_pooled_connection_comes_back() {
    let db = TestDb::new();
    let options = ApiOptions {
        pool_size: 1,
        max_rows: 5_000_000,
        statement_timeout: Duration::from_secs(30),
        ..fixtures()
    };
    let server = start(&db, options, short_timeouts()).await;
    let address = server.address;
    // Some 40 MB of JSON, far more than the sockets' buffers hold.
    let stuck = tokio::task::spawn_blocking(move || stuck_client(address, "/series?n=5000000"))
        .await
        .unwrap();
    // The one pooled connection streams that response until the server gives up on the
    // client; a second request waits for it (at most the pool's 5 s), and gets it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%generate_series%' AND pid <> pg_backend_pid()") == "0" {
        assert!(Instant::now() < deadline, "the large response never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reply = tokio::task::spawn_blocking(move || http_get(address, "/series?n=3&format=csv"))
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.0 200 OK"), "{reply}");
    assert!(reply.ends_with("n\n1\n2\n3\n"), "{reply}");
    // No transaction (and no snapshot) is left open on the server.
    assert_eq!(
        db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"),
        "0"
    );
    drop(stuck);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_beyond_the_limit_is_shed_with_retry_after_and_the_pool_recovers() {
    let db = TestDb::new();
    let options = ApiOptions {
        pool_size: 1,
        max_in_flight: 2,
        statement_timeout: Duration::from_secs(10),
        ..fixtures()
    };
    let server = start(&db, options, ServerLimits::default()).await;
    let address = server.address;
    let flood: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || http_get(address, "/sleep?seconds=1")))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Health checks are not counted against the limit.
    let health = http_get(address, "/healthz");
    assert!(health.starts_with("HTTP/1.0 200 OK"), "{health}");
    let replies: Vec<String> = flood.into_iter().map(|t| t.join().unwrap()).collect();
    let shed: Vec<&String> = replies.iter().filter(|r| r.starts_with("HTTP/1.0 503")).collect();
    let answered = replies.iter().filter(|r| r.starts_with("HTTP/1.0 200 OK")).count();
    assert_eq!(shed.len() + answered, 8, "{replies:#?}");
    assert!(answered >= 2 && shed.len() >= 4, "2 in flight at most: {replies:#?}");
    for reply in shed {
        let head = reply.to_ascii_lowercase();
        assert!(head.contains("\r\nretry-after: 1\r\n"), "{reply}");
        assert!(head.contains("\r\ncontent-type: application/problem+json"), "{reply}");
        assert!(reply.contains("\"status\":503"), "{reply}");
    }
    let after = http_get(address, "/sleep?seconds=0");
    assert!(after.starts_with("HTTP/1.0 200 OK"), "the pool recovers: {after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_query_string_over_the_limit_is_414() {
    let db = TestDb::new();
    let server = start(&db, fixtures(), ServerLimits::default()).await;
    let address = server.address;
    let long = format!("/series?n=1&pad={}", "x".repeat(20_000));
    let reply = tokio::task::spawn_blocking(move || http_get(address, &long))
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.0 414 URI Too Long"), "{reply}");
    assert!(
        reply.ends_with("\"detail\":\"the query string has 20008 bytes; at most 4096 are taken\",\"status\":414,\"title\":\"URI Too Long\",\"type\":\"about:blank\"}"),
        "{reply}"
    );
    let fits = tokio::task::spawn_blocking(move || http_get(address, "/series?n=1&format=csv"))
        .await
        .unwrap();
    assert!(fits.ends_with("n\n1\n"), "{fits}");
}

/// The address a `pgbatch serve` line shows: `... http://ADDRESS/...`.
fn shown_address(line: &str) -> SocketAddr {
    let rest = line
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    rest.split('/').next().unwrap().parse().unwrap()
}

#[test]
fn metrics_can_be_served_on_a_listener_of_their_own() {
    use std::io::BufRead as _;
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let queries = crate::pg::repo().join("sql/queries").display().to_string();
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--queries",
        &queries,
    ];
    let mut server = crate::cli::command(dir.path(), Some(&db.url()), &args, &[])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let (mut api, mut metrics) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("The API is up") {
            api = Some(shown_address(&line));
        } else if line.starts_with("Metrics:") {
            metrics = Some(shown_address(&line));
        } else if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    let (api, metrics) = (api.expect("the API's address"), metrics.expect("the metrics' address"));
    let batches = http_get(api, "/batches?limit=1");
    assert!(batches.starts_with("HTTP/1.0 200 OK"), "{batches}");
    let public = http_get(api, "/metrics");
    assert!(public.starts_with("HTTP/1.0 404"), "{public}");
    let document = http_get(api, "/openapi.json");
    assert!(!document.contains("\"/metrics\""), "{document}");
    let private = http_get(metrics, "/metrics");
    assert!(private.starts_with("HTTP/1.0 200 OK"), "{private}");
    assert!(
        private.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{private}"
    );
    // The same API's counters: the request to /batches on the other listener is there.
    assert!(
        private
            .lines()
            .any(|l| l.starts_with("pgbatch_http_requests_total{") && l.contains("route=\"/batches\"")),
        "{private}"
    );
    assert!(http_get(metrics, "/batches").starts_with("HTTP/1.0 404"));
    // SIGTERM stops both.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(server.wait().unwrap().success());
}
