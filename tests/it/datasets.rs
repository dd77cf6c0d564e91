use std::path::PathBuf;
use std::sync::Arc;

use pgbatch::job::Spec;
use pgbatch::pipeline::{self, LoadOptions, NoProgress, Summary};

use crate::pg::{TestDb, repo, shared};

async fn load(db: &TestDb, job: &str, files: &[PathBuf]) -> Summary {
    let spec = Spec::find(job, &repo().join("jobs")).unwrap();
    let mut client = db.client().await;
    let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    pipeline::load(&mut client, &spec, &files, LoadOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap_or_else(|error| panic!("{job}: {error}"))
}

fn all(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    files
}

/// UCI air quality: `;`, decimal comma, -200 as missing, 114 empty records; then the same
/// data from Parquet (parquet-mr writer, M/D/YYYY) adds nothing new.
#[tokio::test]
async fn uci_air_quality_csv_and_parquet() {
    let db = TestDb::new();
    let s = load(
        &db,
        "air_quality_uci",
        &[shared("air_quality/uci_airquality/AirQualityUCI.csv")],
    )
    .await;
    // 9,357 rows + 114 empty ones; 13 parameters; 16,701 values are -200 (SOURCE.md's counts).
    assert_eq!((s.rows_read, s.rows_loaded, s.rows_skipped), (9_471, 104_940, 16_815));
    assert_eq!(
        db.query(
            "SELECT parameter, value FROM measurements WHERE station = 'uci_italy' \
             AND time = '2004-03-10 18:00+01' AND parameter IN ('co', 'temperature', 'absolute_humidity') ORDER BY parameter"
        ),
        "absolute_humidity|0.7578\nco|2.6\ntemperature|13.6"
    );
    assert_eq!(db.query("SELECT count(*) FROM measurements WHERE value = -200"), "0");
    let p = load(
        &db,
        "air_quality_uci_parquet",
        &[shared("air_quality/parquet_uci_sparkwriter/air_quality.parquet")],
    )
    .await;
    assert_eq!((p.rows_read, p.rows_loaded), (8_358, 0));
    assert_eq!(p.rows_read * 13 - p.rows_skipped, 93_101, "values that are not -200");
}

/// The three Spotify shapes into `chart_entries`.
#[tokio::test]
async fn spotify_three_shapes() {
    let db = TestDb::new();
    let k = load(
        &db,
        "charts_kaggle",
        &[shared("spotify/kaggle_charts_sample/charts_sample.csv")],
    )
    .await;
    assert_eq!(k.rows_loaded, 100);
    assert_eq!(
        db.query("SELECT title, artist, streams, trend FROM chart_entries WHERE chart = 'top200' AND region = 'Argentina' AND rank = 1"),
        "Chantaje (feat. Maluma)|Shakira|253019|SAME_POSITION"
    );
    let r = load(&db, "charts_spotifycharts", &all("spotify/spotifycharts_raw_daily")).await;
    assert_eq!((r.files, r.rows_loaded), (12, 2_400));
    assert_eq!(
        db.query("SELECT chart, region, date, rank, title FROM chart_entries WHERE region = 'us' AND rank = 1"),
        "weekly|us|2020-01-23|1|The Box"
    );
    let w = load(
        &db,
        "charts_weekly_global",
        &[shared("spotify/worldwide_weekly_2017_2019/spotify_charts.csv")],
    )
    .await;
    assert_eq!((w.rows_read, w.rows_loaded, w.rows_skipped), (27_702, 27_600, 102));
    assert_eq!(
        db.query("SELECT min(date), max(date), count(DISTINCT date) FROM chart_entries WHERE chart = 'weekly' AND region = 'global'"),
        "2016-12-30|2019-08-30|138"
    );
}

/// Radio: songs, and Triple J's play log (bare CR, Mac Roman, Sydney local time).
#[tokio::test]
async fn radio_songs_and_plays() {
    let db = TestDb::new();
    let s = load(
        &db,
        "radio_songs",
        &[shared("radio/fivethirtyeight_classic_rock/classic-rock-song-list.csv")],
    )
    .await;
    assert_eq!(s.rows_loaded, 2_229);
    assert_eq!(
        db.query("SELECT release_year, play_count FROM songs WHERE title = 'Caught Up in You'"),
        "1982|82"
    );
    assert_eq!(db.query("SELECT count(*) FROM songs WHERE release_year IS NULL"), "577");
    let p = load(
        &db,
        "radio_plays",
        &[shared("radio/triplej_playout_2012_2014/playlist_20140929.csv")],
    )
    .await;
    assert_eq!((p.rows_read, p.rows_loaded, p.rows_skipped), (134_950, 134_948, 2));
    // 7/02/2012 8:41:57 in Sydney is AEDT (+11).
    assert_eq!(
        db.query("SELECT played_at, title, artist, album FROM plays ORDER BY played_at LIMIT 1"),
        "2012-02-06 21:41:57+00|Jump Down|Goodnight Tiger|"
    );
    // An album of a lone CR is unknown: 20,387 of them, plus 536 empty.
    assert_eq!(db.query("SELECT count(*) FROM plays WHERE album IS NULL"), "20923");
    // Mac Roman decoded: non-ASCII text, never U+FFFD.
    assert_eq!(db.query("SELECT count(*) > 0 FROM plays WHERE artist LIKE '%Ã%'"), "t");
    assert_eq!(
        db.query("SELECT count(*) FROM plays WHERE artist || title || coalesce(album, '') LIKE '%\u{fffd}%'"),
        "0"
    );
}

/// Messages: the Ubuntu IRC CSV and the headerless, space-delimited SNAP file, duplicates
/// loaded once.
#[tokio::test]
async fn messages_both_files() {
    let db = TestDb::new();
    let u = load(
        &db,
        "messages_ubuntu",
        &[shared("messages/ubuntu_dialogue_sample/dialogueText.csv")],
    )
    .await;
    assert_eq!((u.rows_read, u.rows_loaded), (9_999, 9_982));
    // The earliest message (line 5933), to the channel: no receiver.
    assert_eq!(
        db.query("SELECT sender, receiver IS NULL, sent_at, thread FROM messages WHERE source = 'ubuntu_irc' ORDER BY sent_at, sender LIMIT 1"),
        "maco|t|2004-09-26 15:46:00+00|345148.tsv"
    );
    let c = load(
        &db,
        "messages_college",
        &[shared("messages/snap_collegemsg/CollegeMsg.txt")],
    )
    .await;
    // 37 exact duplicates load once.
    assert_eq!((c.rows_read, c.rows_loaded), (59_835, 59_798));
    assert_eq!(
        db.query(
            "SELECT sender, receiver, sent_at FROM messages WHERE source = 'snap_collegemsg' ORDER BY sent_at LIMIT 1"
        ),
        "1|2|2004-04-15 14:56:01+00"
    );
    // Full-text search over the bodies finds what a plain scan finds.
    assert_eq!(
        db.query("SELECT count(*) FROM messages WHERE to_tsvector('english', coalesce(body, '')) @@ to_tsquery('english', 'warty')"),
        db.query("SELECT count(*) FROM messages WHERE body ~* '\\mwarty\\M'")
    );
}

/// Song requests (synthetic sample) tallied into the playlist by a SQL job: in one
/// transaction, recorded in the ledger, and only the requests since its watermark count.
#[tokio::test]
async fn song_requests_tally_into_the_playlist_incrementally() {
    let db = TestDb::new();
    let requests = load(&db, "song_requests", &[]).await;
    assert_eq!(requests.rows_loaded, 2_000);
    let tally = load(&db, "playlist_tally", &[]).await;
    assert_eq!(
        (tally.status, tally.mode, tally.rows_read),
        (pipeline::Status::Loaded, "sql", 2_000)
    );
    assert_eq!(
        db.query("SELECT sum(requests), sum(score) = (SELECT sum(listeners) FROM song_requests) FROM playlist"),
        "2000|t"
    );
    let again = load(&db, "playlist_tally", &[]).await;
    assert_eq!(again.status, pipeline::Status::UpToDate);
    assert_eq!(
        db.query("SELECT count(*) FROM pgbatch.batches WHERE job = 'playlist_tally'"),
        "1"
    );

    // A second export: two requests for a song already on the playlist.
    let before = db.query("SELECT score, requests FROM playlist WHERE artist = 'Boston' AND title = 'Peace of Mind'");
    let (score, count) = before.split_once('|').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("requests-2.csv");
    std::fs::write(
        &file,
        "requested_at,artist,title,listeners\n2016-11-08T10:00:00Z,Boston,Peace of Mind,100\n2016-11-08T10:05:00Z,Boston,Peace of Mind,23\n",
    )
    .unwrap();
    load(&db, "song_requests", &[file]).await;
    let tally = load(&db, "playlist_tally", &[]).await;
    assert_eq!(tally.rows_read, 2);
    assert_eq!(
        db.query("SELECT score, requests, last_requested_at FROM playlist WHERE artist = 'Boston' AND title = 'Peace of Mind'"),
        format!(
            "{}|{}|2016-11-08 10:05:00+00",
            score.parse::<i64>().unwrap() + 123,
            count.parse::<i64>().unwrap() + 2
        )
    );
}
