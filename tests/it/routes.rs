//! The original services' own routes, answered from the real datasets: every body is
//! compared whole with what the source files themselves say.

use std::path::Path;

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, TimeZone as _};
use serde_json::{Value, json};

use crate::api::{api, get, header, load_shared, options, urlencode};
use crate::pg::{TestDb, shared};

/// One chart entry as a source file states it.
#[derive(Debug, Clone)]
struct Entry {
    chart: String,
    region: String,
    date: NaiveDate,
    rank: i64,
    title: String,
    artist: String,
    streams: i64,
}

/// The Kaggle sample: `title,rank,date,artist,url,region,chart,trend,streams`, streams
/// written as floats (`253019.0`).
fn kaggle_entries() -> Vec<Entry> {
    let file = shared("spotify/kaggle_charts_sample/charts_sample.csv");
    let mut reader = csv::Reader::from_path(&file).unwrap();
    reader
        .records()
        .map(|record| {
            let r = record.unwrap();
            Entry {
                title: r[0].to_owned(),
                rank: r[1].parse().unwrap(),
                date: r[2].parse().unwrap(),
                artist: r[3].to_owned(),
                region: r[5].to_owned(),
                chart: r[6].to_owned(),
                streams: r[8].strip_suffix(".0").unwrap_or(&r[8]).parse().unwrap(),
            }
        })
        .collect()
}

/// A spotifycharts.com download: a preamble line, then `Position,Track Name,Artist,
/// Streams,URL`; region, chart and day only in the file name.
fn spotifycharts_entries(file: &Path) -> Vec<Entry> {
    let name = file.file_name().unwrap().to_str().unwrap();
    let (_, tail) = name.split_once("regional-").unwrap();
    let parts: Vec<&str> = tail.trim_end_matches(".csv").splitn(3, '-').collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(file)
        .unwrap();
    reader
        .records()
        .skip(2)
        .map(|record| {
            let r = record.unwrap();
            Entry {
                chart: parts[1].to_owned(),
                region: parts[0].to_owned(),
                date: parts[2].parse().unwrap(),
                rank: r[0].parse().unwrap(),
                title: r[1].to_owned(),
                artist: r[2].to_owned(),
                streams: r[3].parse().unwrap(),
            }
        })
        .collect()
}

fn spotifycharts_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(shared("spotify/spotifycharts_raw_daily"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn json_body(body: &str) -> Vec<Value> {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
}

/// `/rankings` and `/artist` as the charts microservice served them.
#[tokio::test]
async fn rankings_and_artist_as_the_charts_service_served_them() {
    let db = TestDb::new();
    load_shared(&db, "charts_kaggle", "spotify/kaggle_charts_sample/charts_sample.csv").await;
    crate::load::load(&db, "charts_spotifycharts", &spotifycharts_files())
        .await
        .unwrap();
    let mut entries = kaggle_entries();
    for file in spotifycharts_files() {
        entries.extend(spotifycharts_entries(&file));
    }
    let router = api(&db, options()).await.router();
    let ranking = |e: &Entry| {
        json!({
            "track_title": e.title, "artist": e.artist, "region": e.region,
            "track_streams": e.streams, "rank_by_region": e.rank,
        })
    };
    for (region, day, limit) in [("Argentina", "2017-01-01", None), ("global", "2020-03-01", Some(200))] {
        let mut expected: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.region == region && e.date.to_string() == day)
            .collect();
        expected.sort_by_key(|e| e.rank);
        expected.truncate(limit.unwrap_or(10));
        let uri = match limit {
            Some(n) => format!("/rankings?region={region}&date={day}&limit={n}"),
            None => format!("/rankings?region={region}&date={day}"),
        };
        let reply = get(&router, &uri, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.body.starts_with(r#"[{"track_title":"#), "{}", reply.body);
        // A response that fits one chunk is sent whole, with its length.
        assert_eq!(header(&reply, "content-length"), reply.body.len().to_string());
        let expected: Vec<Value> = expected.into_iter().map(ranking).collect();
        assert_eq!(expected.len(), limit.unwrap_or(10));
        assert_eq!(json_body(&reply.body), expected, "{uri}");
    }
    // No chart for that region and day: an empty list, not an error.
    for uri in [
        "/rankings?region=global&date=1999-01-01",
        "/rankings?region=Atlantis&date=2017-01-01",
    ] {
        let reply = get(&router, uri, &[]).await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "[]\n"), "{uri}");
    }
    let bad = get(&router, "/rankings?region=global&date=2017-13-01", &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // An artist's entries, newest first, paged by limit and offset.
    let artist = "Ed Sheeran";
    let mut expected: Vec<&Entry> = entries.iter().filter(|e| e.artist == artist).collect();
    expected.sort_by(|a, b| (b.date, &a.region, &a.chart, a.rank).cmp(&(a.date, &b.region, &b.chart, b.rank)));
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|e| {
            json!({
                "track_title": e.title, "date": e.date.to_string(), "region": e.region,
                "track_streams": e.streams, "rank_by_region": e.rank,
            })
        })
        .collect();
    assert!(expected.len() > 12, "{}", expected.len());
    let uri = format!("/artist?artist={}", urlencode(artist));
    assert_eq!(json_body(&get(&router, &uri, &[]).await.body), expected[..10]);
    let page = get(&router, &format!("{uri}&limit=4&offset=8"), &[]).await;
    assert_eq!(json_body(&page.body), expected[8..12]);
    let all = get(&router, &format!("{uri}&limit=1000"), &[]).await;
    assert_eq!(json_body(&all.body), expected);
    let unknown = get(&router, "/artist?artist=Nobody%20At%20All", &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    let past_the_end = get(&router, &format!("{uri}&offset=100000"), &[]).await;
    assert_eq!(
        (past_the_end.status, past_the_end.body.as_str()),
        (StatusCode::OK, "[]\n")
    );
}

/// The SNAP messages as the file states them, exact duplicates once:
/// `(sender, receiver, sent_at)`, in file order.
fn college_messages() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(shared("messages/snap_collegemsg/CollegeMsg.txt")).unwrap();
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let at: DateTime<chrono::Utc> = chrono::Utc.timestamp_opt(f[2].parse().unwrap(), 0).unwrap();
            let message = (
                f[0].to_owned(),
                f[1].to_owned(),
                at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
            seen.insert(message.clone()).then_some(message)
        })
        .collect()
}

/// A response's messages as `(sender, receiver, sent_at)`, after checking the fields and
/// that they come in time order.
fn as_sent(body: &str) -> Vec<(String, String, String)> {
    let messages = json_body(body);
    let mut out: Vec<(String, String, String)> = messages
        .iter()
        .map(|m| {
            let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 5, "{m}");
            assert!(m["message_id"].as_i64().is_some_and(|id| id > 0), "{m}");
            assert_eq!(m["text"], Value::Null, "the SNAP set has no text");
            (
                m["sender_number"].as_str().unwrap().to_owned(),
                m["receiver_number"].as_str().unwrap().to_owned(),
                m["sent_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(out.windows(2).all(|w| w[0].2 <= w[1].2), "in time order");
    // Messages of one second come in id order, which the file does not state: compare
    // each second's messages as a set.
    out.sort_by(|a, b| a.2.cmp(&b.2).then(a.cmp(b)));
    out
}

fn sorted(mut messages: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    messages.sort_by(|a, b| a.2.cmp(&b.2).then(a.cmp(b)));
    messages
}

/// `/v1/get/messages/{account_id}` and `/v1/search` as the messaging service served them.
#[tokio::test]
async fn messages_as_the_messaging_service_served_them() {
    let db = TestDb::new();
    load_shared(&db, "messages_college", "messages/snap_collegemsg/CollegeMsg.txt").await;
    let file = college_messages();
    assert_eq!(file.len(), 59_835 - 37, "SOURCE.md: 59,835 rows, 37 exact duplicates");
    let router = api(&db, options()).await.router();

    let of = |account: &str| {
        sorted(
            file.iter()
                .filter(|m| m.0 == account || m.1 == account)
                .cloned()
                .collect(),
        )
    };
    for account in ["1", "9", "1899"] {
        let reply = get(&router, &format!("/v1/get/messages/{account}"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(reply.body.starts_with(r#"[{"message_id":"#), "{}", reply.body);
        let expected = of(account);
        assert!(!expected.is_empty());
        assert_eq!(as_sent(&reply.body), expected, "account {account}");
    }
    let nobody = get(&router, "/v1/get/messages/424242", &[]).await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND, "{}", nobody.body);
    assert!(nobody.body.contains("account_id"), "{}", nobody.body);
    let twice = get(&router, "/v1/get/messages/1?account_id=2", &[]).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{}", twice.body);
    assert!(twice.body.contains("is part of the path"), "{}", twice.body);

    search_in_any_combination(&router, &file).await;
}

/// `/v1/search`: each filter a list, any combination, at least one.
async fn search_in_any_combination(router: &axum::Router, file: &[(String, String, String)]) {
    let pick = |s: &[&str], r: &[&str]| {
        sorted(
            file.iter()
                .filter(|m| (s.is_empty() || s.contains(&m.0.as_str())) && (r.is_empty() || r.contains(&m.1.as_str())))
                .cloned()
                .collect(),
        )
    };
    for (query, senders, receivers) in [
        ("sender_number=1,2", &["1", "2"][..], &[][..]),
        ("receiver_number=3", &[], &["3"]),
        (
            "sender_number=9,1,4&receiver_number=8,10,12",
            &["9", "1", "4"],
            &["8", "10", "12"],
        ),
    ] {
        let reply = get(router, &format!("/v1/search?{query}"), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let expected = pick(senders, receivers);
        assert!(!expected.is_empty(), "{query}");
        assert_eq!(as_sent(&reply.body), expected, "{query}");
    }
    // Ids from one answer find the same messages, alone or with another filter.
    let some = json_body(&get(router, "/v1/get/messages/9", &[]).await.body);
    let ids: Vec<String> = some.iter().take(5).map(|m| m["message_id"].to_string()).collect();
    let by_id = json_body(
        &get(router, &format!("/v1/search?message_id={}", ids.join(",")), &[])
            .await
            .body,
    );
    assert_eq!(by_id, some[..5]);
    let sender = some[0]["sender_number"].as_str().unwrap();
    let narrowed = json_body(
        &get(
            router,
            &format!("/v1/search?message_id={}&sender_number={sender}", ids.join(",")),
            &[],
        )
        .await
        .body,
    );
    let expected: Vec<Value> = some[..5]
        .iter()
        .filter(|m| m["sender_number"] == sender)
        .cloned()
        .collect();
    assert_eq!(narrowed, expected);
    let none = get(router, "/v1/search?sender_number=nobody", &[]).await;
    assert_eq!((none.status, none.body.as_str()), (StatusCode::OK, "[]\n"));
    for (query, named) in [
        ("", "message_id, sender_number, receiver_number"),
        ("message_id=1,,2", "message_id"),
        ("message_id=1,x", "message_id"),
        ("message_id=0", "message_id"),
        ("sender_number=", "sender_number"),
    ] {
        let reply = get(router, &format!("/v1/search?{query}"), &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}: {}", reply.body);
        assert!(reply.body.contains(named), "{query}: {}", reply.body);
    }
}

/// `/air_quality` as the measurement service served it: CSV, filtered, streamed.
#[tokio::test]
async fn air_quality_as_the_measurement_service_served_it() {
    let db = TestDb::new();
    let file = "air_quality/beijing_multisite/PRSA_Data_Dongsi_20130301-20170228.csv";
    load_shared(&db, "air_quality_beijing", file).await;
    // The file's PM2.5 column, its time in Beijing (+08:00) written in UTC; NA skipped.
    let mut reader = csv::Reader::from_path(shared(file)).unwrap();
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let pm25: Vec<(DateTime<chrono::Utc>, String)> = reader
        .records()
        .map(Result::unwrap)
        .filter(|r| &r[5] != "NA")
        .map(|r| {
            let day =
                NaiveDate::from_ymd_opt(r[1].parse().unwrap(), r[2].parse().unwrap(), r[3].parse().unwrap()).unwrap();
            let at = beijing
                .from_local_datetime(&day.and_hms_opt(r[4].parse().unwrap(), 0, 0).unwrap())
                .unwrap();
            (at.to_utc(), r[5].to_owned())
        })
        .collect();
    let line = |(at, value): &(DateTime<chrono::Utc>, String)| {
        format!(
            "Dongsi,pm25,{},{},µg/m³\n",
            at.format("%Y-%m-%dT%H:%M:%SZ"),
            value.parse::<f64>().unwrap()
        )
    };
    // A server cap far below the file's rows: /air_quality streams whole tables all the
    // same (its `max_rows: none`).
    let capped = pgbatch::api::ApiOptions {
        max_rows: 1000,
        ..options()
    };
    let router = api(&db, capped).await.router();
    // The first day in Beijing, by an offset in the request.
    let from = "2013-03-01T00:00:00%2B08:00";
    let to = "2013-03-02T00:00:00%2B08:00";
    let reply = get(
        &router,
        &format!("/air_quality?station=Dongsi&parameter=pm25&from={from}&to={to}"),
        &[],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(header(&reply, "content-type"), "text/csv; charset=utf-8");
    let day: String = pm25
        .iter()
        .take_while(|(at, _)| *at.to_rfc3339() < *"2013-03-01T16")
        .map(line)
        .collect();
    assert_eq!(day.lines().count(), 24);
    assert_eq!(reply.body, format!("station,parameter,time,value,unit\n{day}"));
    // Without filters on time: every PM2.5 value of the file, streamed.
    let whole = get(&router, "/air_quality?parameter=pm25", &[]).await;
    let expected: String = pm25.iter().map(line).collect();
    assert!(pm25.len() > 30_000, "{}", pm25.len());
    assert_eq!(whole.body, format!("station,parameter,time,value,unit\n{expected}"));
    assert_eq!(
        header(&whole, "content-length"),
        "",
        "a long response streams in chunks"
    );
    // JSON when asked for; the range checked before any query.
    let json = get(
        &router,
        "/air_quality?station=Dongsi&parameter=pm25&from=2013-03-01&to=2013-03-01T02:00:00Z",
        &[("accept", "application/json")],
    )
    .await;
    assert_eq!(header(&json, "content-type"), "application/json");
    assert_eq!(json_body(&json.body).len(), 2);
    // Everything: the 11 parameters' values of every hour, NA skipped.
    let mut reader = csv::Reader::from_path(shared(file)).unwrap();
    let values: usize = reader
        .records()
        .map(|r| (5..=16).filter(|&i| i != 15 && &r.as_ref().unwrap()[i] != "NA").count())
        .sum();
    let everything = get(&router, "/air_quality", &[]).await;
    assert_eq!(everything.body.lines().count(), 1 + values);
    let backwards = get(&router, "/air_quality?from=2014-01-01&to=2013-01-01", &[]).await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST, "{}", backwards.body);
    let nothing = get(&router, "/air_quality?station=Atlantis", &[]).await;
    assert_eq!(
        (nothing.status, nothing.body.as_str()),
        (StatusCode::OK, "station,parameter,time,value,unit\n")
    );
}
