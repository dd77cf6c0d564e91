//! The API's load history, as a reader's browser shows it: the index page's batches and
//! throughput chart and route links, and one batch's page with its rejected rows, read in
//! headless Chromium (`tests/it/history/browse.py`, Playwright). The expected batches and
//! rejects are the ledger's own, read with psql.

use std::process::Command;

use pgbatch::api;

use crate::api::{api, options};
use crate::cli::{code, pgbatch, stderr};
use crate::pg::{TestDb, repo, shared};

#[tokio::test]
async fn the_history_page_shows_the_batches_their_chart_and_rejects_in_chromium() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dump = shared("xeneta/rates.sql").display().to_string();
    for job in ["shipping_regions", "shipping_ports", "shipping_prices"] {
        let out = pgbatch(dir.path(), Some(&db.url()), &["load", job, &dump]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
    }
    // A batch with rejects: a bad price on line 3.
    db.query("CREATE TABLE t (id integer NOT NULL, price integer)");
    std::fs::write(dir.path().join("t.toml"), "table = \"t\"\nmax_rejects = 1\n").unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,price\n1,10\n2,ten\n3,30\n").unwrap();
    let out = pgbatch(dir.path(), Some(&db.url()), &["load", "./t.toml", "t.csv"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rejected = db.query("SELECT max(id) FROM pgbatch.batches");

    let (seen, shots) = browse(&db, &rejected).await;
    assert_eq!(seen["index_status"], 200);

    // The batches table: the ledger's rows, newest first, with their counts.
    let ledger =
        db.query("SELECT id, job, rows_read, rows_loaded, rows_rejected FROM pgbatch.batches ORDER BY id DESC");
    let shown: Vec<String> = seen["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
            [cells[0], cells[1], cells[6], cells[7], cells[8]].join("|")
        })
        .collect();
    assert_eq!(shown.join("\n"), ledger);
    // A bar per batch, each named after its batch.
    assert_eq!(seen["bars"], 4);
    let titles: Vec<&str> = seen["bar_titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        titles.iter().all(|t| t.starts_with("batch ") && t.ends_with(" rows/s")),
        "{titles:?}"
    );
    // Every route's example link answers; none with a server error.
    let links = seen["route_links"].as_object().unwrap();
    assert!(links.len() >= 10, "{links:?}");
    for (href, status) in links {
        let status = status.as_u64().unwrap();
        assert!(status == 200 || status == 404, "{href}: {status}");
    }
    let rates = links
        .iter()
        .find(|(href, _)| href.starts_with("/rates?"))
        .expect("the rates example");
    assert_eq!(rates.1, 200);

    // The batch's page, reached by its link: its source and its rejected row.
    assert!(
        seen["batch_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/history/{rejected}"))
    );
    assert_eq!(seen["batch_title"], format!("batch {rejected}"));
    assert_eq!(seen["sources"][0][0], "t.csv");
    assert_eq!(seen["sources"][0][1], "3");
    let stored = db.query(
        "SELECT source || ': line ' || line || ', column \"' || column_name || '\": ' || reason FROM pgbatch.rejects",
    );
    assert_eq!(seen["rejects"], serde_json::json!([stored]));
    for shot in ["index.png", "batch.png"] {
        assert!(std::fs::metadata(shots.join(shot)).unwrap().len() > 1000, "{shot}");
    }
}

/// Serves the API on loopback and has headless Chromium read its pages; what it saw, and
/// where its screenshots are.
async fn browse(db: &TestDb, batch: &str) -> (serde_json::Value, std::path::PathBuf) {
    let router = api(db, options()).await.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(router, listener, api::ServerLimits::default(), async {
        let _ = stopped.await;
    }));
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("history");
    std::fs::create_dir_all(&shots).unwrap();
    let base = format!("http://{address}");
    let browse = repo().join("tests/it/history/browse.py");
    let (batch, shots_arg) = (batch.to_owned(), shots.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args([browse.to_str().unwrap(), &base, &batch, &shots_arg])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert!(
        out.status.success(),
        "headless Chromium did not run the page (install: apt-get install -y chromium; pip install playwright): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), shots)
}

/// A database whose ledger is gone (the API refuses to start without one; it may be
/// dropped under it): the index page says to migrate, a batch's page is not found and says
/// why; neither is a server error.
#[tokio::test]
async fn without_a_ledger_the_pages_say_to_migrate() {
    let db = TestDb::new();
    let router = api(&db, options()).await.router();
    db.query("DROP SCHEMA pgbatch CASCADE");
    let index = crate::api::get(&router, "/", &[]).await;
    assert_eq!(index.status, 200, "{}", index.body);
    assert!(
        index.body.contains("no ledger here yet: pgbatch migrate creates it"),
        "{}",
        index.body
    );
    let batch = crate::api::get(&router, "/history/1", &[]).await;
    assert_eq!(batch.status, 404, "{}", batch.body);
    assert!(batch.body.contains("pgbatch migrate creates it"), "{}", batch.body);
}
