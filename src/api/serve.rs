//! The HTTP server under the router: one HTTP/1.1 connection per accepted socket, with the
//! bounds a public server needs against slow or hostile clients, and a graceful shutdown.
//!
//! - A request's head must arrive within `header_timeout` of the connection waiting for it:
//!   a client trickling headers (slowloris) and an idle keep-alive connection are both
//!   closed then (hyper's header read timeout, which runs whenever a head is awaited).
//! - A response write that makes no progress for `write_timeout` fails the connection: a
//!   client that stops reading is cut off, and the response's stream, with its pooled
//!   database connection and open snapshot, is dropped (`tokio-io-timeout`).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;

use crate::error::Result;

/// How long the server waits on a client.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// The longest a request's head may take to arrive, counted from when the connection
    /// waits for it (so also the longest a keep-alive connection stays idle).
    pub header_timeout: Duration,
    /// The longest a response write may wait on a client that does not read.
    pub write_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish (idle connections are closed at once).
///
/// # Errors
///
/// None once listening: a failed accept is logged and retried, a failed connection only
/// ends that connection.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, most likely: wait for some to close.
                    tracing::warn!(%error, "Cannot accept a connection.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY a response written as head and body waits out the client's
        // delayed ACK (40 ms on Linux).
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "Cannot set TCP_NODELAY on a connection.");
        }
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_write_timeout(Some(limits.write_timeout));
        let connection = http.serve_connection(TokioIo::new(Box::pin(io)), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "A connection ended with an error.");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
