//! The API follows the ledger: its `ETag`s come from a copy kept current by notifications,
//! so repeated requests between two batches are answered from its cache without the
//! database, and a lost listening connection loses no batch.

use std::time::Duration;

use axum::http::StatusCode;
use pgbatch::api::{Api, ApiOptions};

use crate::api::{api, get, header, load_shared, options, until_modified};
use crate::pg::TestDb;

const TOP: &str = "/charts/top?region=Argentina&date=2017-01-01&n=5";

/// The API once it follows the ledger (its listening connection has read it).
async fn following(db: &TestDb, options: ApiOptions) -> Api {
    let api = api(db, options).await;
    for _ in 0..1000 {
        if api.follows_ledger() {
            return api;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the API did not follow the ledger within 10 s");
}

/// Another session holding `chart_entries` exclusively: any query of it waits.
async fn lock_charts(db: &TestDb) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("BEGIN; LOCK TABLE chart_entries IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn repeated_requests_between_two_batches_never_reach_the_database() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    let router = following(&db, options()).await.router();
    let uncached = following(
        &db,
        ApiOptions {
            cache_bytes: 0,
            ..options()
        },
    )
    .await
    .router();
    let first = get(&router, TOP, &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let tag = header(&first, "etag").to_owned();
    let locker = lock_charts(&db).await;
    // While the table is locked, the cached answer comes at once, whole, with its tag; a
    // 304 needs no database either.
    let again = tokio::time::timeout(Duration::from_secs(2), get(&router, TOP, &[]))
        .await
        .expect("answered from the cache while the table is locked");
    assert_eq!((again.status, &again.body), (StatusCode::OK, &first.body));
    assert_eq!(header(&again, "etag"), tag);
    assert_eq!(header(&again, "content-type"), "application/json");
    let not_modified = tokio::time::timeout(Duration::from_secs(2), get(&uncached, TOP, &[("if-none-match", &tag)]))
        .await
        .expect("304 from the ledger's copy while the table is locked");
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    // What was not asked before, another format, or an API without a cache: the query
    // waits for the lock.
    for (router, headers) in [(&router, &[("accept", "text/csv")][..]), (&uncached, &[][..])] {
        let waited = tokio::time::timeout(Duration::from_millis(1500), get(router, TOP, headers)).await;
        assert!(waited.is_err(), "not from the cache: {headers:?}");
    }
    locker.batch_execute("ROLLBACK").await.unwrap();
    // A batch into the table: a new tag, and the new rows, not the kept ones.
    load_shared(
        &db,
        "charts_weekly_global",
        "spotify/worldwide_weekly_2017_2019/spotify_charts.csv",
    )
    .await;
    let changed = until_modified(&router, TOP, &tag).await;
    assert_eq!(changed.body, first.body, "that batch charted other days");
    let top_global = "/charts/top?region=global&date=2017-01-06&n=2";
    let before = get(&router, top_global, &[]).await;
    db.query("UPDATE chart_entries SET streams = 1 WHERE region = 'global'");
    let stale = get(&router, top_global, &[]).await;
    assert_eq!(
        stale.body, before.body,
        "a write that bypasses pgbatch is not seen at once"
    );
}

#[tokio::test]
async fn a_lost_listening_connection_loses_no_batch() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    let router = following(&db, options()).await.router();
    let tag = header(&get(&router, TOP, &[]).await, "etag").to_owned();
    let name = pgbatch::api::tags::APPLICATION_NAME;
    let listener =
        format!("SELECT pid FROM pg_stat_activity WHERE application_name = '{name}' AND datname = current_database()");
    let pid = db.query(&listener);
    assert!(!pid.is_empty(), "the API listens on a connection of its own");
    db.query(&format!("SELECT pg_terminate_backend({pid})"));
    // A batch while it is away is not announced to it: it reads the ledger again when it
    // is back, and asks the ledger on each request until then.
    load_shared(
        &db,
        "charts_spotifycharts",
        "spotify/spotifycharts_raw_daily/regional-global-daily-2017-01-01.csv",
    )
    .await;
    let changed = until_modified(&router, TOP, &tag).await;
    let last = db.query("SELECT max(id) FROM pgbatch.batches");
    assert!(header(&changed, "etag").starts_with(&format!("\"{last}-")));
    for _ in 0..1000 {
        let now = db.query(&listener);
        if !now.is_empty() && now != pid {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the API did not listen again within 10 s");
}

#[tokio::test]
async fn a_ledger_that_does_not_announce_is_asked_on_each_request() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    // As before migration 0013: no trigger, no notifications.
    db.query("DROP TRIGGER batches_announce ON pgbatch.batches");
    let api = api(&db, options()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!api.follows_ledger(), "a copy nobody keeps current is not trusted");
    let router = api.router();
    let tag = header(&get(&router, TOP, &[]).await, "etag").to_owned();
    load_shared(
        &db,
        "charts_weekly_global",
        "spotify/worldwide_weekly_2017_2019/spotify_charts.csv",
    )
    .await;
    // At once: the tag comes from the ledger in the request's own snapshot.
    let changed = get(&router, TOP, &[("if-none-match", &tag)]).await;
    assert_eq!(changed.status, StatusCode::OK);
    let last = db.query("SELECT max(id) FROM pgbatch.batches");
    assert!(header(&changed, "etag").starts_with(&format!("\"{last}-")));
}

/// `If-None-Match: *` asks for 304 only where there is something to send (RFC 9110,
/// 13.1.2): an artist the chart holds (Shakira, its first row) is 304, one they do not hold still 404, with the
/// answer kept in the cache and without a cache.
#[tokio::test]
async fn if_none_match_any_is_304_only_where_something_exists() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    let without_cache = ApiOptions {
        cache_bytes: 0,
        ..options()
    };
    for api in [following(&db, options()).await, following(&db, without_cache).await] {
        let router = api.router();
        let known = "/artist?artist=Shakira";
        assert_eq!(get(&router, known, &[]).await.status, StatusCode::OK);
        for _ in 0..2 {
            let any = get(&router, known, &[("if-none-match", "*")]).await;
            assert_eq!(any.status, StatusCode::NOT_MODIFIED);
            assert!(!header(&any, "etag").is_empty());
            let nobody = get(&router, "/artist?artist=Nobody%20At%20All", &[("if-none-match", "*")]).await;
            assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", nobody.body);
        }
    }
}
