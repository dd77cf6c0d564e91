//! The SQL job `price_stats` follows what changed in `prices` (the triggers of migration
//! 0015) and leaves exactly the aggregates that reading every price again would: checked
//! against aggregates computed here straight from prices, ports and regions.

use std::path::Path;
use std::time::Duration;

use pgbatch::db::{ConnectOptions, Session};
use pgbatch::job::Spec;
use pgbatch::pipeline::LoadOptions;

use crate::load::{load, load_files, temp_job, write};
use crate::pg::{TestDb, shared};

/// Every aggregate from prices, ports and regions, by SQL of its own (not the job's):
/// `origin|destination|day|prices|total`, sorted.
const FROM_PRICES: &str = "WITH RECURSIVE places (code, place) AS ( \
       SELECT code, code FROM ports UNION SELECT code, parent_slug FROM ports \
       UNION SELECT p.code, r.parent_slug FROM places p JOIN regions r ON r.slug = p.place \
         WHERE r.parent_slug IS NOT NULL) \
     SELECT o.place || '|' || d.place || '|' || p.day || '|' || count(*) || '|' || sum(p.price) \
     FROM prices p JOIN places o ON o.code = p.orig_code JOIN places d ON d.code = p.dest_code \
     GROUP BY o.place, d.place, p.day ORDER BY 1";

const STATS: &str = "SELECT origin || '|' || destination || '|' || day || '|' || prices || '|' || total \
     FROM price_stats ORDER BY 1";

fn count(db: &TestDb, sql: &str) -> u64 {
    db.query(sql).trim().parse().unwrap()
}

fn assert_stats_exact(db: &TestDb, when: &str) {
    let (stats, expected) = (db.query(STATS), db.query(FROM_PRICES));
    assert!(expected.lines().count() > 1000, "{when}: aggregates to compare");
    assert!(
        stats == expected,
        "{when}: price_stats differs from the aggregates of prices"
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM price_changes"),
        0,
        "{when}: changes left"
    );
}

#[tokio::test]
async fn price_stats_follows_the_changes_to_prices_exactly() {
    let db = TestDb::new();
    let dump = shared("xeneta/rates.sql");
    for job in ["shipping_regions", "shipping_ports", "shipping_prices"] {
        load(&db, job, std::slice::from_ref(&dump)).await.unwrap();
    }
    let prices = count(&db, "SELECT count(*) FROM prices");
    let first = load(&db, "price_stats", &[]).await.unwrap();
    assert_eq!(first.rows_read, prices, "a first run reads every price");
    assert_stats_exact(&db, "first run");

    // A replace in which one price in ten changed, one day went and another came.
    db.query("CREATE TABLE old_prices AS TABLE prices; CREATE TABLE old_stats AS TABLE price_stats");
    let rows = db.query(
        "SELECT concat_ws(',', orig_code, dest_code, day, \
           CASE WHEN abs(hashtext(orig_code || dest_code || day::text)) % 10 = 0 THEN price + 7 ELSE price END) \
         FROM prices WHERE day <> date '2016-01-05' \
         UNION ALL SELECT concat_ws(',', orig_code, dest_code, day + 400, price) FROM prices WHERE day = date '2016-01-05'",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "prices.csv",
        &format!("orig_code,dest_code,day,price\n{rows}\n"),
    );
    let replace = temp_job(dir.path(), "prices_replace", "table = \"prices\"\nmode = \"replace\"\n");
    load_files(&db, &replace, &[file], LoadOptions::default())
        .await
        .unwrap();
    let changed = count(
        &db,
        "SELECT (SELECT count(*) FROM (TABLE old_prices EXCEPT ALL TABLE prices) AS gone) \
              + (SELECT count(*) FROM (TABLE prices EXCEPT ALL TABLE old_prices) AS came)",
    );
    assert!(
        changed > prices / 20 && changed < prices / 2,
        "{changed} of {prices} changed"
    );
    let followed = load(&db, "price_stats", &[]).await.unwrap();
    let emptied = count(
        &db,
        "SELECT count(*) FROM old_stats o \
         WHERE NOT EXISTS (SELECT FROM price_stats s \
                           WHERE (s.origin, s.destination, s.day) = (o.origin, o.destination, o.day))",
    );
    assert!(emptied > 0, "a day went: its aggregates go");
    assert_eq!(followed.rows_read, changed + emptied, "only the changes are read");
    assert_stats_exact(&db, "after a replace");

    // Changes by hand (an update, a delete, a truncate and the rows put back), then a
    // batch of one price: the job is due and follows them all.
    db.query(
        "UPDATE prices SET price = price * 2 WHERE day = date '2016-01-07'; \
         DELETE FROM prices WHERE day = date '2016-01-08' AND orig_code < 'CN'; \
         BEGIN; TRUNCATE prices; INSERT INTO prices TABLE old_prices; COMMIT; \
         UPDATE prices SET price = price + 1 WHERE day = date '2016-01-09'",
    );
    let one = write(
        dir.path(),
        "one.csv",
        "orig_code,dest_code,day,price\nCNSGH,NLRTM,2016-02-01,1234\n",
    );
    let append = temp_job(dir.path(), "prices_append", "table = \"prices\"\nmode = \"append\"\n");
    load_files(&db, &append, &[one], LoadOptions::default()).await.unwrap();
    load(&db, "price_stats", &[]).await.unwrap();
    assert_stats_exact(&db, "after changes by hand");

    changes_past_the_triggers(&db, dir.path(), &append).await;

    // The places move (a batch into ports): every price is read again.
    let options = LoadOptions {
        force: true,
        ..LoadOptions::default()
    };
    let ports = crate::load::job("shipping_ports");
    load_files(&db, &ports, std::slice::from_ref(&dump), options)
        .await
        .unwrap();
    let again = load(&db, "price_stats", &[]).await.unwrap();
    assert_eq!(again.rows_read, count(&db, "SELECT count(*) FROM prices"));
    assert_stats_exact(&db, "after a batch into ports");

    // Nothing new: nothing read, nothing changed.
    let idle = load(&db, "price_stats", &[]).await.unwrap();
    assert_eq!((idle.rows_read, idle.rows_loaded), (0, 0));
}

/// Changes the triggers never saw (a replica-role session, a trigger disabled and
/// enabled again), then a batch: the aggregates no longer add up to prices, and the
/// job reads every price again instead of following changes it lacks.
async fn changes_past_the_triggers(db: &TestDb, dir: &Path, append: &Spec) {
    db.query(
        "SET session_replication_role = replica; \
         UPDATE prices SET price = price + 3 WHERE day = date '2016-01-10'; \
         RESET session_replication_role; \
         ALTER TABLE prices DISABLE TRIGGER prices_removed; \
         DELETE FROM prices WHERE day = date '2016-01-11' AND orig_code < 'CN'; \
         ALTER TABLE prices ENABLE TRIGGER prices_removed",
    );
    let two = write(
        dir,
        "two.csv",
        "orig_code,dest_code,day,price\nCNSGH,NLRTM,2016-02-02,1235\n",
    );
    load_files(db, append, &[two], LoadOptions::default()).await.unwrap();
    let bypassed = load(db, "price_stats", &[]).await.unwrap();
    assert!(
        bypassed.rows_read >= count(db, "SELECT count(*) FROM prices"),
        "every price read again: {}",
        bypassed.rows_read
    );
    assert_stats_exact(db, "after changes past the triggers");
}

/// A batch job's session compiles no plan (JIT off: the job above spent most of its time
/// compiling), unless the connection string's own options turn it on; the server's
/// default is on.
#[tokio::test]
async fn batch_sessions_run_without_jit_unless_the_url_asks() {
    let db = TestDb::new();
    let session = Session {
        statement_timeout: Duration::ZERO,
        idle_in_transaction_timeout: Duration::ZERO,
    };
    let jit = |client: tokio_postgres::Client| async move {
        let row = client.query_one("SHOW jit", &[]).await.unwrap();
        row.get::<_, String>(0)
    };
    assert_eq!(jit(db.client().await).await, "on", "the server's default");
    for (url, expected) in [(db.url(), "off"), (format!("{} options='-c jit=on'", db.url()), "on")] {
        let options = ConnectOptions::parse(&url).unwrap().with_session(&session);
        assert_eq!(jit(options.connect().await.unwrap()).await, expected, "{url}");
    }
}
