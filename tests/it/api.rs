use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use pgbatch::api::{self, Api, ApiOptions};
use pgbatch::pipeline::LoadOptions;
use tower::ServiceExt as _;

use crate::load::{load, load_files, temp_job, write};
use crate::pg::{TestDb, repo, shared};

const RATES_EXAMPLE: &str = "/rates?date_from=2016-01-01&date_to=2016-01-10&origin=CNSGH&destination=north_europe_main";

pub(crate) async fn api(db: &TestDb, options: ApiOptions) -> Api {
    Api::new(&db.options(), options)
        .await
        .unwrap_or_else(|error| panic!("the API starts: {error}"))
}

pub(crate) fn options() -> ApiOptions {
    ApiOptions {
        queries: repo().join("sql/queries"),
        ..ApiOptions::default()
    }
}

/// The shipping rates of the xeneta dump, restated as `psql -f rates.sql` leaves them.
async fn shipping(db: &TestDb) {
    let dump = shared("xeneta/rates.sql");
    for job in ["shipping_regions", "shipping_ports", "shipping_prices"] {
        load(db, job, std::slice::from_ref(&dump)).await.unwrap();
    }
    load(
        db,
        "shipping_prices_restate",
        &[repo().join("data/samples/xeneta/prices_2016-01-03_2016-01-04.csv")],
    )
    .await
    .unwrap();
    load(db, "price_stats", &[]).await.unwrap();
}

/// Every day's average between two places straight from `prices` (not from the aggregates
/// /rates reads), for every pair of regions and ports in `places`: `origin|destination|csv`.
fn rates_from_prices(db: &TestDb, places: &str) -> Vec<String> {
    let sql = format!(
        "WITH RECURSIVE places (code, place) AS ( \
           SELECT code, code FROM ports UNION SELECT code, parent_slug FROM ports \
           UNION SELECT p.code, r.parent_slug FROM places p JOIN regions r ON r.slug = p.place \
             WHERE r.parent_slug IS NOT NULL), \
         chosen AS (SELECT unnest(ARRAY[{places}]) AS place) \
         SELECT o.place || '|' || d.place || '|' || string_agg(coalesce(( \
             SELECT CASE WHEN count(*) >= 3 THEN round(avg(price))::text END FROM prices \
             WHERE day = g.day::date \
               AND orig_code IN (SELECT code FROM places WHERE place = o.place) \
               AND dest_code IN (SELECT code FROM places WHERE place = d.place)), ''), ',' ORDER BY g.day) \
         FROM chosen o, chosen d, generate_series(date '2016-01-01', date '2016-01-31', '1 day') g (day) \
         GROUP BY o.place, d.place ORDER BY 1"
    );
    db.query(&sql).lines().map(str::to_owned).collect()
}

/// Loads one file of ../shared/data with a job of `jobs/`.
pub(crate) async fn load_shared(db: &TestDb, job: &str, file: &str) {
    load(db, job, &[shared(file)]).await.unwrap();
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

pub(crate) async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// The reply to `uri` once its tag is no longer `tag`. The API hears of a batch by a
/// notification a few milliseconds after it commits; this waits for it (at most 10 s).
pub(crate) async fn until_modified(router: &Router, uri: &str, tag: &str) -> Reply {
    for _ in 0..1000 {
        let reply = get(router, uri, &[("if-none-match", tag)]).await;
        if reply.status != StatusCode::NOT_MODIFIED {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{uri}: still {tag} 10 s after a batch committed");
}

pub(crate) fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply.headers.get(name).map_or("", |v| v.to_str().unwrap())
}

/// The upstream rates service's own example, whole: 1112 on the first two days, null on
/// 2016-01-03 (no prices) and 2016-01-04 (one price), a region at any depth of the tree.
#[tokio::test]
async fn rates_answers_the_upstream_example_exactly() {
    let db = TestDb::new();
    shipping(&db).await;
    let router = api(&db, options()).await.router();
    let reply = get(&router, RATES_EXAMPLE, &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(header(&reply, "content-type"), "application/json");
    assert_eq!(
        reply.body,
        "[{\"day\":\"2016-01-01\",\"average_price\":1112},{\"day\":\"2016-01-02\",\"average_price\":1112},\
         {\"day\":\"2016-01-03\",\"average_price\":null},{\"day\":\"2016-01-04\",\"average_price\":null},\
         {\"day\":\"2016-01-05\",\"average_price\":1142},{\"day\":\"2016-01-06\",\"average_price\":1142},\
         {\"day\":\"2016-01-07\",\"average_price\":1137},{\"day\":\"2016-01-08\",\"average_price\":1124},\
         {\"day\":\"2016-01-09\",\"average_price\":1124},{\"day\":\"2016-01-10\",\"average_price\":1124}]\n"
    );
    // The same days by SQL written independently of the route: the average over every port
    // under north_europe_main, with the "fewer than 3 prices" rule.
    let reference = db.query(
        "WITH RECURSIVE r AS (SELECT slug FROM regions WHERE slug = 'north_europe_main' \
         UNION SELECT regions.slug FROM regions JOIN r ON regions.parent_slug = r.slug) \
         SELECT string_agg(coalesce(a::text, 'null'), ',' ORDER BY d) FROM ( \
           SELECT d, (SELECT CASE WHEN count(*) >= 3 THEN round(avg(price)) END FROM prices \
                      WHERE orig_code = 'CNSGH' AND day = d \
                        AND dest_code IN (SELECT code FROM ports WHERE parent_slug IN (SELECT slug FROM r))) a \
           FROM generate_series(date '2016-01-01', date '2016-01-10', '1 day') d) x",
    );
    assert_eq!(reference, "1112,1112,null,null,1142,1142,1137,1124,1124,1124");
    // The variant without the rule: the lone 100,500 of 2016-01-04 is its average.
    let any = get(&router, &RATES_EXAMPLE.replace("/rates", "/rates/any_count"), &[]).await;
    let any: serde_json::Value = serde_json::from_str(&any.body).unwrap();
    assert_eq!(any[2], serde_json::json!({"day": "2016-01-03", "average_price": null}));
    assert_eq!(
        any[3],
        serde_json::json!({"day": "2016-01-04", "average_price": 100_500})
    );
    // Every pair of regions (and some ports) over the whole month, against `prices` itself.
    let places = db.query("SELECT string_agg(quote_literal(slug), ',') FROM regions")
        + ",'CNSGH','CNYTN','NOMAY','GBFXT','DEHAM'";
    let reference = rates_from_prices(&db, &places);
    assert_eq!(reference.len(), 25 * 25);
    for line in &reference {
        let mut parts = line.splitn(3, '|');
        let (origin, destination, days) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let csv = get(
            &router,
            &format!(
                "/rates?date_from=2016-01-01&date_to=2016-01-31&origin={origin}&destination={destination}&format=csv"
            ),
            &[],
        )
        .await;
        let got: Vec<&str> = csv.body.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
        assert_eq!(got.join(","), days, "{origin} to {destination}");
    }
    // Port to port.
    let lane = get(
        &router,
        "/rates?date_from=2016-01-04&date_to=2016-01-04&origin=CNSGH&destination=GBFXT",
        &[("accept", "text/csv")],
    )
    .await;
    assert_eq!(lane.body, "day,average_price\n2016-01-04,\n");
}

#[tokio::test]
async fn bad_and_unknown_parameters_are_problems_that_name_them() {
    let db = TestDb::new();
    shipping(&db).await;
    let router = api(&db, options()).await.router();
    let reply = get(
        &router,
        "/rates?date_from=2016-02-30&origin=CNSGH&destination=north_europe_main&colour=red",
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(header(&reply, "content-type"), "application/problem+json");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
        serde_json::json!({
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "invalid parameter(s): colour, date_from, date_to",
            "invalid-params": [
                {"name": "colour", "reason": "is not a parameter of /rates; expected one of: date_from, date_to, origin, destination, format"},
                {"name": "date_from", "reason": "\"2016-02-30\" is not a date, YYYY-MM-DD"},
                {"name": "date_to", "reason": "is required: a date, YYYY-MM-DD"},
            ],
        })
    );
    let reply = get(
        &router,
        "/rates?date_from=2016-01-01&date_to=2016-01-02&origin=CNSGH&destination=atlantis",
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&reply.body).unwrap(),
        serde_json::json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "not found: destination",
            "invalid-params": [{"name": "destination", "reason": "\"atlantis\" names nothing that exists"}],
        })
    );
    let reply = get(&router, &format!("{RATES_EXAMPLE}&format=xml"), &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("\"xml\\\" is not one of json, ndjson, csv"),
        "{}",
        reply.body
    );
    let reply = get(&router, "/nope", &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(header(&reply, "content-type"), "application/problem+json");
}

/// The `ETag` is the last batch of the tables a route reads: 304 until a batch commits.
#[tokio::test]
async fn etag_holds_until_a_batch_commits_to_a_table_the_route_reads() {
    let db = TestDb::new();
    shipping(&db).await;
    let router = api(&db, options()).await.router();
    let first = get(&router, RATES_EXAMPLE, &[]).await;
    let tag = header(&first, "etag").to_owned();
    let last_batch = db.query("SELECT max(id) FROM pgbatch.batches");
    assert!(tag.starts_with(&format!("\"{last_batch}-")), "{tag}");
    let again = get(&router, RATES_EXAMPLE, &[("if-none-match", &tag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.body, "");
    // CSV is another representation, with another tag.
    let csv = get(
        &router,
        RATES_EXAMPLE,
        &[("accept", "text/csv"), ("if-none-match", &tag)],
    )
    .await;
    assert_eq!(csv.status, StatusCode::OK);
    // A batch into a table /rates does not read changes nothing.
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    let unrelated = get(&router, RATES_EXAMPLE, &[("if-none-match", &tag)]).await;
    assert_eq!(unrelated.status, StatusCode::NOT_MODIFIED);
    // A batch into prices, then the aggregates job: a new tag.
    let options = LoadOptions {
        force: true,
        dry_run: false,
        ..LoadOptions::default()
    };
    load_files(
        &db,
        &crate::load::job("shipping_prices_restate"),
        &[repo().join("data/samples/xeneta/prices_2016-01-03_2016-01-04.csv")],
        options,
    )
    .await
    .unwrap();
    // /rates reads the aggregates: the tag moves when they are brought up to date.
    let before_stats = get(&router, RATES_EXAMPLE, &[("if-none-match", &tag)]).await;
    assert_eq!(before_stats.status, StatusCode::NOT_MODIFIED);
    load(&db, "price_stats", &[]).await.unwrap();
    let changed = until_modified(&router, RATES_EXAMPLE, &tag).await;
    assert_ne!(header(&changed, "etag"), tag);
    assert_eq!(changed.body, first.body);
}

/// Air quality as JSON, NDJSON and CSV, chosen by `?format=` or `Accept`.
#[tokio::test]
async fn measurements_in_every_format() {
    let db = TestDb::new();
    load_shared(
        &db,
        "air_quality_beijing",
        "air_quality/beijing_multisite/PRSA_Data_Dongsi_20130301-20170228.csv",
    )
    .await;
    let router = api(&db, options()).await.router();
    // The file's first two hours, 2013-03-01 00:00 and 01:00 in Beijing (+08): PM2.5 9 and 4.
    let uri = "/measurements?station=Dongsi&parameter=pm25&from=2013-02-28T16:00:00Z&to=2013-03-01T02:00:00%2B08:00";
    let csv = get(&router, &format!("{uri}&format=csv"), &[]).await;
    assert_eq!(header(&csv, "content-type"), "text/csv; charset=utf-8");
    let row = db.query(
        "SELECT concat_ws(',', coalesce(unit, ''), coalesce(latitude::text, ''), coalesce(longitude::text, '')) \
         FROM measurements LIMIT 1",
    );
    assert_eq!(
        csv.body,
        format!(
            "time,station,parameter,value,unit,latitude,longitude\n\
             2013-02-28T16:00:00Z,Dongsi,pm25,9,{row}\n2013-02-28T17:00:00Z,Dongsi,pm25,4,{row}\n"
        )
    );
    let by_accept = get(&router, uri, &[("accept", "text/csv")]).await;
    assert_eq!(by_accept.body, csv.body);
    let ndjson = get(&router, uri, &[("accept", "application/x-ndjson")]).await;
    assert_eq!(header(&ndjson, "content-type"), "application/x-ndjson");
    let lines: Vec<serde_json::Value> = ndjson.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["value"], 4.0);
    assert_eq!(lines[1]["time"], "2013-02-28T17:00:00Z");
    let json: serde_json::Value = serde_json::from_str(&get(&router, uri, &[]).await.body).unwrap();
    assert_eq!(json, serde_json::Value::Array(lines));
    let unknown = get(
        &router,
        "/measurements?station=Atlantis&parameter=pm25&from=2013-01-01&to=2013-01-02",
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // A long range streams: four years of one parameter, 35,064 hours less the NA ones.
    let all = get(
        &router,
        "/measurements?station=Dongsi&parameter=pm25&from=2013-01-01&to=2018-01-01&format=ndjson",
        &[],
    )
    .await;
    assert_eq!(
        all.body.lines().count().to_string(),
        db.query("SELECT count(*) FROM measurements WHERE parameter = 'pm25'")
    );
}

/// Charts: top N of a region and day, and an artist's entries paged by key.
#[tokio::test]
async fn charts_top_n_and_artist_pages() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    load_shared(
        &db,
        "charts_weekly_global",
        "spotify/worldwide_weekly_2017_2019/spotify_charts.csv",
    )
    .await;
    let router = api(&db, options()).await.router();
    let top = get(
        &router,
        "/charts/top?region=Argentina&date=2017-01-01&n=2&format=csv",
        &[],
    )
    .await;
    assert_eq!(
        top.body,
        "chart,region,date,rank,title,artist,streams,trend,url\n\
         top200,Argentina,2017-01-01,1,Chantaje (feat. Maluma),Shakira,253019,SAME_POSITION,https://open.spotify.com/track/6mICuAdrwEjh6Y6lroV2Kg\n\
         top200,Argentina,2017-01-01,2,Vente Pa' Ca (feat. Maluma),Ricky Martin,223988,MOVE_UP,https://open.spotify.com/track/7DM4BPaS7uofFul3ywMe46\n"
    );
    let bad = get(&router, "/charts/top?region=Argentina&date=2017-01-01&n=500", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("500 is more than the maximum, 200"), "{}", bad.body);
    // Pages of 7 joined are the whole list, in order, with no repeats.
    let artist = "Ed%20Sheeran";
    let whole: Vec<serde_json::Value> = serde_json::from_str(
        &get(&router, &format!("/charts/artist?artist={artist}&limit=1000"), &[])
            .await
            .body,
    )
    .unwrap();
    let total: usize = db
        .query("SELECT count(*) FROM chart_entries WHERE artist = 'Ed Sheeran'")
        .parse()
        .unwrap();
    assert!(total > 20, "{total}");
    assert_eq!(whole.len(), total);
    let paged = all_pages(&router, &format!("/charts/artist?artist={artist}&limit=7")).await;
    assert_eq!(paged, whole);
    let bad = get(&router, "/charts/artist?artist=x&after=yesterday", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    // A cursor of the right shape whose date does not exist: the database refuses it
    // (22008), and that is the client's value, not the server's failure. (The artist has
    // rows, so the cursor is compared, whatever plan the server picks.)
    for cursor in ["0000-00-00|x|y|1", "2016-02-30|x|y|1"] {
        let uri = format!("/charts/artist?artist={artist}&after={}", urlencode(cursor));
        let bad = get(&router, &uri, &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{cursor}: {}", bad.body);
        assert!(bad.body.contains("the database cannot take"), "{}", bad.body);
    }
}

/// Every page of a keyset-paged route, following each page's last `cursor` as `after`.
async fn all_pages(router: &Router, first: &str) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let mut uri = first.to_owned();
    loop {
        let page: Vec<serde_json::Value> = serde_json::from_str(&get(router, &uri, &[]).await.body).unwrap();
        let Some(last) = page.last() else { return rows };
        uri = format!("{first}&after={}", urlencode(last["cursor"].as_str().unwrap()));
        rows.extend(page);
    }
}

pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Radio: plays found by artist and time, a song with its play times, the playlist.
#[tokio::test]
async fn radio_plays_songs_and_playlist() {
    let db = TestDb::new();
    load_shared(
        &db,
        "radio_songs",
        "radio/fivethirtyeight_classic_rock/classic-rock-song-list.csv",
    )
    .await;
    load_shared(
        &db,
        "radio_plays",
        "radio/triplej_playout_2012_2014/playlist_20140929.csv",
    )
    .await;
    let router = api(&db, options()).await.router();
    // The log's first play: 7/02/2012 8:41:57 in Sydney (+11) = 2012-02-06T21:41:57Z,
    // "Jump Down" by Goodnight Tiger, whose album is a lone CR in the file (unknown: null).
    let plays = get(
        &router,
        "/radio/plays?q=goodnight%20tiger&to=2012-02-07T00:00:00Z&limit=1",
        &[],
    )
    .await;
    assert_eq!(
        plays.body,
        "[{\"played_at\":\"2012-02-06T21:41:57Z\",\"station\":\"triplej\",\"artist\":\"Goodnight Tiger\",\
         \"title\":\"Jump Down\",\"album\":null,\"duration_seconds\":178,\"program\":\"Mornings with Zan\"}]\n"
    );
    let count = |uri: &str| {
        let router = router.clone();
        let uri = uri.to_owned();
        async move {
            serde_json::from_str::<Vec<serde_json::Value>>(&get(&router, &uri, &[]).await.body)
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count("/radio/plays?artist=ARCTIC%20MONKEYS&limit=1000")
            .await
            .to_string(),
        db.query("SELECT count(*) FROM plays WHERE artist = 'Arctic Monkeys'")
    );
    let song = get(&router, "/radio/song?artist=The%20Clash&title=Train%20In%20Vain", &[]).await;
    let song: serde_json::Value = serde_json::from_str(&song.body).unwrap();
    assert_eq!(song[0]["release_year"], 1979);
    assert_eq!(
        song[0]["played_at"].as_array().unwrap().len().to_string(),
        db.query("SELECT count(*) FROM plays WHERE artist = 'The Clash' AND title = 'Train In Vain'")
    );
    let missing = get(&router, "/radio/song?artist=The%20Clash&title=Nope", &[]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // The playlist: requests tallied by the SQL job, best first.
    load(&db, "song_requests", &[]).await.unwrap();
    load(&db, "playlist_tally", &[]).await.unwrap();
    let playlist: Vec<serde_json::Value> =
        serde_json::from_str(&get(&router, "/radio/playlist?limit=3", &[]).await.body).unwrap();
    let expected = db.query("SELECT artist || '|' || score FROM playlist ORDER BY score DESC, artist, title LIMIT 3");
    let got: Vec<String> = playlist
        .iter()
        .map(|p| format!("{}|{}", p["artist"].as_str().unwrap(), p["score"]))
        .collect();
    assert_eq!(got.join("\n"), expected);
}

/// Messages: an account's messages paged, and search by text, sender and time.
#[tokio::test]
async fn messages_by_account_and_search() {
    let db = TestDb::new();
    load_shared(
        &db,
        "messages_ubuntu",
        "messages/ubuntu_dialogue_sample/dialogueText.csv",
    )
    .await;
    let router = api(&db, options()).await.router();
    let account = db.query("SELECT sender FROM messages GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1");
    let expected = db.query(&format!(
        "SELECT count(*) FROM messages WHERE sender = '{account}' OR receiver = '{account}'"
    ));
    let messages = all_pages(
        &router,
        &format!("/messages/account?account={}&limit=50", urlencode(&account)),
    )
    .await;
    assert_eq!(messages.len().to_string(), expected);
    let times: Vec<&str> = messages.iter().map(|m| m["sent_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let nobody = get(&router, "/messages/account?account=nobody-at-all", &[]).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    // Full-text: the English stemmer finds "installing" for "install".
    let found: Vec<serde_json::Value> = serde_json::from_str(
        &get(&router, "/messages/search?q=grub%20install&limit=1000", &[])
            .await
            .body,
    )
    .unwrap();
    assert_eq!(
        found.len().to_string(),
        db.query(
            "SELECT count(*) FROM messages WHERE to_tsvector('english', coalesce(body, '')) \
             @@ websearch_to_tsquery('english', 'grub install')"
        )
    );
    assert!(
        found
            .iter()
            .any(|m| m["body"] == "its grubs not installing to the right place")
    );
    let window = get(
        &router,
        "/messages/search?sender=dualBhelp&from=2005-07-11&to=2005-07-12&limit=1",
        &[],
    )
    .await;
    let window: Vec<serde_json::Value> = serde_json::from_str(&window.body).unwrap();
    assert_eq!(window[0]["sender"], "dualBhelp");
    assert!(window[0]["sent_at"].as_str().unwrap().starts_with("2005-07-11T"));
}

/// The ledger as a route, the health routes, metrics, the index and a valid OpenAPI 3.1.
#[tokio::test]
async fn batches_health_metrics_index_and_openapi() {
    let db = TestDb::new();
    shipping(&db).await;
    let router = api(&db, options()).await.router();
    let batches: Vec<serde_json::Value> =
        serde_json::from_str(&get(&router, "/batches?limit=2", &[]).await.body).unwrap();
    assert_eq!(batches.len(), 2);
    // Who loaded it and where are not shown unless an operator's query file adds them.
    assert!(
        batches[0].get("loaded_by").is_none() && batches[0].get("host").is_none(),
        "{}",
        batches[0]
    );
    assert_eq!(batches[0]["job"], "price_stats");
    assert_eq!(batches[0]["mode"], "sql");
    assert_eq!(batches[1]["job"], "shipping_prices_restate");
    assert_eq!(batches[1]["status"], "committed");
    assert_eq!(
        (batches[1]["rows_loaded"].clone(), batches[1]["rows_deleted"].clone()),
        (1.into(), 3634.into())
    );
    assert!(batches[1]["sources"][0]["sha256"].as_str().unwrap().len() == 64);
    assert_eq!(get(&router, "/healthz", &[]).await.body, "ok\n");
    assert_eq!(get(&router, "/readyz", &[]).await.body, "ready\n");
    get(&router, RATES_EXAMPLE, &[]).await;
    get(&router, "/rates?date_from=x", &[]).await;
    // Prometheus asks for OpenMetrics; anyone else (curl, promtool) gets the text format.
    let scraped = get(
        &router,
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    )
    .await;
    assert_eq!(
        scraped.headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(scraped.body.ends_with("# EOF\n"), "{}", scraped.body);
    let plain = get(&router, "/metrics", &[]).await;
    assert_eq!(
        plain.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let metrics = plain.body;
    crate::figures::promtool_check_metrics(&metrics).unwrap_or_else(|e| panic!("promtool: {e}\n{metrics}"));
    // The alerts and the dashboard ask for no API metric /metrics lacks.
    let wanted = crate::figures::monitored_names("pgbatch_http_");
    assert!(wanted.len() >= 4, "{wanted:?}");
    for name in wanted {
        assert!(metrics.contains(&format!("\n{name}")), "{name} is not in\n{metrics}");
    }
    for line in [
        "pgbatch_http_requests_total{route=\"/rates\",status=\"200\"} 1",
        "pgbatch_http_requests_total{route=\"/rates\",status=\"400\"} 1",
        "pgbatch_http_request_duration_seconds_count{route=\"/rates\",status=\"200\"} 1",
        "pgbatch_http_pool_connections ",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let index = get(&router, "/", &[]).await;
    assert!(index.body.contains(&format!(
        "<a href=\"{0}\"><code>{0}</code></a>",
        RATES_EXAMPLE.replace('&', "&amp;")
    )));
    let openapi = get(&router, "/openapi.json", &[]).await.body;
    let document: serde_json::Value = serde_json::from_str(&openapi).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(
        document["paths"]["/rates"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]["properties"]
            ["average_price"],
        serde_json::json!({ "type": ["integer", "null"] })
    );
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "openapi.json", &openapi);
    validate_openapi(&file);
}

/// Validates with `openapi-spec-validator` (PyPI), which knows OpenAPI 3.1.
fn validate_openapi(file: &std::path::Path) {
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "openapi-spec-validator rejected the document (or is missing: pip install openapi-spec-validator): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The API's own connection cannot write: it runs as `pgbatch_reader`, read-only.
#[tokio::test]
async fn the_api_connection_cannot_write() {
    let db = TestDb::new();
    let api = api(&db, options()).await;
    let client = api.client().await.unwrap();
    let who: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
    assert_eq!(who, "pgbatch_reader");
    // No plan compiled per request (the server's default is on).
    let jit: String = client.query_one("SHOW jit", &[]).await.unwrap().get(0);
    assert_eq!(jit, "off");
    let error = client
        .execute("INSERT INTO regions VALUES ('x', 'x', NULL)", &[])
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "25006", "{error}"); // read-only transaction
    client
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .unwrap();
    let error = client
        .execute("INSERT INTO regions VALUES ('x', 'x', NULL)", &[])
        .await
        .unwrap_err();
    assert_eq!(error.code().unwrap().code(), "42501", "{error}"); // permission denied
    assert_eq!(db.query("SELECT count(*) FROM regions"), "0");
}

pub(crate) fn fixtures() -> ApiOptions {
    ApiOptions {
        queries: repo().join("tests/fixtures/queries"),
        statement_timeout: Duration::from_millis(500),
        max_rows: 1_000,
        ..ApiOptions::default()
    }
}

/// `statement_timeout` cancels a slow query (504), and the row limit breaks a response
/// that would pass it rather than cut it short silently.
#[tokio::test]
async fn statement_timeout_and_row_limit_guard_every_query() {
    let db = TestDb::new();
    let router = api(&db, fixtures()).await.router();
    let slow = get(&router, "/sleep?seconds=2", &[]).await;
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        slow.body,
        "{\"detail\":\"the query ran longer than the statement timeout allows\",\"status\":504,\
         \"title\":\"Gateway Timeout\",\"type\":\"about:blank\"}"
    );
    let fits = get(&router, "/series?n=1000&format=csv", &[]).await;
    assert_eq!(fits.body.lines().count(), 1_001);
    let response = router
        .clone()
        .oneshot(Request::get("/series?n=5000").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the head goes before the rows are counted"
    );
    let error = response.into_body().collect().await.unwrap_err();
    assert_eq!(error.to_string(), "more than 1000 rows; narrow the request");
}

/// A startup check: a query file whose parameter types disagree with its SQL is refused.
#[tokio::test]
async fn query_files_are_checked_against_the_database_at_startup() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "bad.sql",
        "-- route: /bad\n-- reads: prices\n-- param: day text required\nSELECT price::numeric FROM prices WHERE day = $1::date\n",
    );
    let error = Api::new(
        &db.options(),
        ApiOptions {
            queries: dir.path().to_path_buf(),
            ..ApiOptions::default()
        },
    )
    .await
    .err()
    .unwrap();
    let file = dir.path().join("bad.sql").display().to_string();
    assert_eq!(
        error.to_string(),
        format!(
            "{file}: parameter \"day\" is declared Text but the query uses it as date (cast it, e.g. $1::text); \
             {file}: column \"price\" is of type numeric, which the API does not write; cast it (to float8 or text)"
        )
    );
    assert_eq!(error.exit_code(), 78);
}

/// Shutdown drains: a request in flight when the signal comes is answered in full.
#[tokio::test]
async fn graceful_shutdown_drains_requests_in_flight() {
    let db = TestDb::new();
    let router = api(
        &db,
        ApiOptions {
            statement_timeout: Duration::from_secs(10),
            ..fixtures()
        },
    )
    .await
    .router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api::serve(router, listener, api::ServerLimits::default(), async {
        let _ = stopped.await;
    }));
    let request = tokio::task::spawn_blocking(move || http_get(address, "/sleep?seconds=1"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    let reply = request.await.unwrap();
    assert!(
        reply.starts_with("HTTP/1.0 200 OK") || reply.starts_with("HTTP/1.1 200 OK"),
        "{reply}"
    );
    assert!(reply.ends_with("[{\"slept\":true}]\n"), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    assert!(std::net::TcpStream::connect(address).is_err(), "no longer listening");
}

/// A whole HTTP/1.0 exchange over a socket (no chunked encoding: the body ends at close).
pub fn http_get(address: SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: test\r\n\r\n").unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
}

/// Readers during a `replace` of prices (and the aggregates job after it) see the old
/// answer or the new one, never an error, never a mix.
#[tokio::test]
async fn reads_during_a_replace_see_old_or_new_never_a_mix() {
    let db = TestDb::new();
    shipping(&db).await;
    let router = api(&db, options()).await.router();
    let first = get(&router, RATES_EXAMPLE, &[]).await;
    let old_tag = header(&first, "etag").to_owned();
    let old = first.body;
    // The same prices, doubled, as a CSV that replaces the table.
    let dir = tempfile::tempdir().unwrap();
    let doubled =
        db.query("SELECT string_agg(concat_ws(',', orig_code, dest_code, day, price * 2), E'\\n') FROM prices");
    let file: PathBuf = write(
        dir.path(),
        "prices.csv",
        &format!("orig_code,dest_code,day,price\n{doubled}\n"),
    );
    let spec = temp_job(dir.path(), "prices_replace", "table = \"prices\"\nmode = \"replace\"\n");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let router = router.clone();
            let done = std::sync::Arc::clone(&done);
            tokio::spawn(async move {
                let mut bodies = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let reply = get(&router, RATES_EXAMPLE, &[]).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    bodies.push(reply.body);
                    // An answer from the cache never waits: let the load run.
                    tokio::task::yield_now().await;
                }
                bodies
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    load_files(&db, &spec, &[file], LoadOptions::default()).await.unwrap();
    load(&db, "price_stats", &[]).await.unwrap();
    let new = until_modified(&router, RATES_EXAMPLE, &old_tag).await.body;
    tokio::time::sleep(Duration::from_millis(100)).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_ne!(old, new);
    assert!(
        new.starts_with("[{\"day\":\"2016-01-01\",\"average_price\":2224}"),
        "{new}"
    );
    let mut seen = std::collections::BTreeMap::new();
    for reader in readers {
        for body in reader.await.unwrap() {
            assert!(body == old || body == new, "a mix: {body}");
            *seen.entry(body == old).or_insert(0) += 1;
        }
    }
    assert!(seen.len() == 2, "readers saw both the old and the new answer: {seen:?}");
}

/// What a client can send never answers 5xx: a NUL byte in a text parameter, a cursor
/// whose date does not exist, an over-long full-text query, dates out of range or in the
/// wrong order are each a 400 problem naming the parameter where one is at fault.
#[tokio::test]
async fn hostile_parameters_are_problems_never_server_errors() {
    let db = TestDb::new();
    shipping(&db).await;
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    load_shared(
        &db,
        "messages_ubuntu",
        "messages/ubuntu_dialogue_sample/dialogueText.csv",
    )
    .await;
    let router = api(&db, options()).await.router();
    let artist = urlencode(&db.query("SELECT artist FROM chart_entries GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"));
    let long = "word%20".repeat(400);
    let requests = [
        "/messages/account?account=a%00b".to_owned(),
        "/messages/search?q=a%00b".to_owned(),
        format!("/messages/search?q={long}"),
        format!("/charts/artist?artist={artist}&after=0000-00-00%7Cx%7Cy%7C0"),
        format!("/charts/artist?artist={artist}&after=2017-02-31%7Cx%7Cy%7C0"),
        format!("/charts/artist?artist={artist}&after=99999-01-01%7Cx%7Cy%7C0"),
        "/rates?date_from=0001-01-01&date_to=9999-12-31&origin=CNSGH&destination=north_europe_main".to_owned(),
        "/rates?date_from=2016-01-31&date_to=2016-01-01&origin=CNSGH&destination=north_europe_main".to_owned(),
        "/rates?date_from=20160-01-01&date_to=2016-01-01&origin=CNSGH&destination=north_europe_main".to_owned(),
        "/messages/search?from=-infinity&to=infinity".to_owned(),
        "/measurements?station=Dongsi&parameter=pm25&from=2013-13-01".to_owned(),
    ];
    for uri in &requests {
        let reply = get(&router, uri, &[]).await;
        assert!(
            reply.status.is_success() || reply.status.is_client_error(),
            "{uri}: {} {}",
            reply.status,
            reply.body
        );
        if reply.status.is_client_error() {
            assert_eq!(header(&reply, "content-type"), "application/problem+json", "{uri}");
        }
    }
    // A span is checked before any query: the wrong order, or longer than the route allows.
    let place = "origin=CNSGH&destination=north_europe_main";
    for (span, reason) in [
        ("date_from=2016-01-31&date_to=2016-01-01", "is before date_from"),
        (
            "date_from=2010-01-01&date_to=2016-01-01",
            "spans 2191 days from date_from; one request covers at most 1096",
        ),
    ] {
        let reply = get(&router, &format!("/rates?{span}&{place}"), &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let problem: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            problem["invalid-params"],
            serde_json::json!([{"name": "date_to", "reason": reason}]),
            "{span}"
        );
    }
    let full_year = get(
        &router,
        &format!("/rates?date_from=2016-01-01&date_to=2016-12-31&{place}"),
        &[],
    )
    .await;
    assert_eq!(full_year.status, StatusCode::OK, "{}", full_year.body);
}
