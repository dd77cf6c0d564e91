//! The API's copy of the ledger's last batch per table, from which a route's `ETag` comes
//! without a round trip. A connection of its own `LISTEN`s on `pgbatch_batches`, which a
//! trigger on the ledger announces in the transaction that writes each batch (migration
//! 0013), and reads every table's last batch each time it connects, so nothing announced
//! while it was away is missed. While it is not connected the copy is not trusted and
//! requests ask the ledger themselves, as they did before it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::route::Reads;

// language=PostgreSQL
const LAST_BATCHES_SQL: &str = include_str!("../../sql/api/last_batches.sql");
const ANNOUNCED_SQL: &str = include_str!("../../sql/api/announced.sql");
const LISTEN_SQL: &str = "LISTEN pgbatch_batches";

/// The listening connection's `application_name`, as `pg_stat_activity` shows it.
pub const APPLICATION_NAME: &str = "pgbatch serve: ledger";

/// How often the listening connection is checked, and how long the check may take: a
/// connection lost without a word (a network that drops packets) is found out within
/// their sum, and the copy stops being trusted.
const CHECK_EVERY: Duration = Duration::from_secs(5);
const CHECK_WITHIN: Duration = Duration::from_secs(5);

/// How long to wait before asking again whether the ledger announces its batches.
const NOT_ANNOUNCED_WAIT: Duration = Duration::from_secs(30);

/// The last batch per table, kept current by notifications.
pub(super) struct Tags {
    state: Arc<RwLock<State>>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct State {
    /// Connected and read since: the figures below are current.
    live: bool,
    last: HashMap<String, i64>,
    any: i64,
}

impl State {
    fn note(&mut self, target: &str, id: i64) {
        let last = self.last.entry(target.to_owned()).or_insert(id);
        *last = (*last).max(id);
        self.any = self.any.max(id);
    }
}

impl Tags {
    /// Starts listening, on the runtime this is called from; the copy is live once the
    /// first connection has read the ledger.
    pub(super) fn start(mut config: tokio_postgres::Config, tls: MakeRustlsConnect) -> Tags {
        config.application_name(APPLICATION_NAME);
        let state = Arc::new(RwLock::new(State::default()));
        let task = tokio::spawn(listen(config, tls, Arc::clone(&state)));
        Tags { state, task }
    }

    /// The last batch committed to the tables a route reads (0: none yet), or `None` while
    /// the copy is not live.
    pub(super) fn last(&self, reads: &Reads) -> Option<i64> {
        let state = self.state.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !state.live {
            return None;
        }
        Some(match reads {
            Reads::Any => state.any,
            Reads::Tables(tables) => tables
                .iter()
                .filter_map(|t| state.last.get(t).copied())
                .max()
                .unwrap_or(0),
        })
    }

    /// Whether the copy is live (for tests and `/readyz`'s logs).
    pub fn is_live(&self) -> bool {
        self.state.read().is_ok_and(|s| s.live)
    }
}

impl Drop for Tags {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Follows the ledger for as long as the API runs, connecting again after each loss.
async fn listen(config: tokio_postgres::Config, tls: MakeRustlsConnect, state: Arc<RwLock<State>>) {
    let mut wait = Duration::from_millis(100);
    loop {
        match follow(&config, &tls, &state).await {
            Ok(()) => {
                tracing::warn!("The ledger's listening connection closed; the ETag asks the ledger until it is back.");
            }
            Err(error) => {
                tracing::warn!(%error, "The ledger's listening connection failed; the ETag asks the ledger until it is back.");
            }
        }
        let was_live = state.write().is_ok_and(|mut s| std::mem::replace(&mut s.live, false));
        if was_live {
            wait = Duration::from_millis(100);
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

/// One connection: `LISTEN`, read every table's last batch, then apply notifications until
/// the connection ends or stops answering.
async fn follow(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    state: &RwLock<State>,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (tx, mut notes) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if tx.send(note).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    });
    // Listening first: a batch that commits between the two is both read and announced.
    client.batch_execute(LISTEN_SQL).await?;
    if !client.query_one(ANNOUNCED_SQL, &[]).await?.get::<_, bool>(0) {
        tracing::warn!("The ledger does not announce its batches (run pgbatch migrate); the ETag asks the ledger.");
        tokio::time::sleep(NOT_ANNOUNCED_WAIT).await;
        return Ok(());
    }
    let rows = client.query(LAST_BATCHES_SQL, &[]).await?;
    {
        let mut s = state.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        s.last.clear();
        s.any = 0;
        for row in rows {
            s.note(row.get(0), row.get(1));
        }
        s.live = true;
    }
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            note = notes.recv() => match note {
                Some(note) => apply(state, note.payload()),
                None => break,
            },
            _ = check.tick() => {
                match tokio::time::timeout(CHECK_WITHIN, client.simple_query("")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return Err(error),
                    Err(_) => break,
                }
            }
        }
    }
    drop(client);
    driver.abort();
    match driver.await {
        Ok(Err(error)) => Err(error),
        _ => Ok(()),
    }
}

/// A notification's payload, `ID TARGET`.
fn apply(state: &RwLock<State>, payload: &str) {
    let Some((id, target)) = payload.split_once(' ') else {
        return;
    };
    let Ok(id) = id.parse() else { return };
    if let Ok(mut s) = state.write() {
        s.note(target, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_batch_per_table_only_grows() {
        let state = RwLock::new(State::default());
        apply(&state, "7 measurements");
        apply(&state, "5 measurements");
        apply(&state, "9 my schema.odd table");
        apply(&state, "not a payload");
        let s = state.read().unwrap();
        assert_eq!(s.last["measurements"], 7);
        assert_eq!(s.last["my schema.odd table"], 9);
        assert_eq!(s.any, 9);
    }
}
