//! Requests at a fixed pace (open loop), for latency that a saturating client cannot show.
//!
//! `wrk` keeps its connections always busy, so its latency is the time a request waits
//! behind the others: on a 2-core machine that also runs the database and a loader, its p99
//! measures how the cores are shared. Here requests are sent on a schedule (`rate` per
//! second, whether or not the earlier ones have been answered, each on a connection of its
//! own when the others are busy): a stalled server cannot hold the next requests back, so
//! each is timed from when it went out (tokio's timer is late by up to a millisecond, which
//! is the client's delay, not the server's; the client failing to keep its schedule by more
//! than that stops the bench).

use std::time::{Duration, Instant};

/// p50 and p99 in milliseconds of requests sent at `rate` per second for `seconds`, and how
/// many failed (not 200). Panics when the client falls 50 ms behind its schedule.
pub fn paced(url: &str, rate: u32, seconds: u32) -> (f64, f64, usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
        let period = Duration::from_secs(1) / rate;
        let start = tokio::time::Instant::now() + Duration::from_millis(100);
        let mut tasks = Vec::with_capacity((rate * seconds) as usize);
        for i in 0..rate * seconds {
            let due = start + period * i;
            tokio::time::sleep_until(due).await;
            assert!(
                due.elapsed() < Duration::from_millis(50),
                "the paced client fell behind its schedule: its figures would not be the server's"
            );
            let (client, url) = (client.clone(), url.to_owned());
            tasks.push(tokio::spawn(async move {
                let sent = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                    Err(_) => false,
                };
                (sent.elapsed(), ok)
            }));
        }
        let mut millis = Vec::with_capacity(tasks.len());
        let mut failed = 0;
        for task in tasks {
            let (latency, ok) = task.await.unwrap();
            millis.push(latency.as_secs_f64() * 1000.0);
            failed += usize::from(!ok);
        }
        millis.sort_by(f64::total_cmp);
        let at = |percent: usize| millis[(millis.len() - 1) * percent / 100];
        (at(50), at(99), failed)
    })
}
