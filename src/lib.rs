//! pgbatch loads batches of CSV and Parquet files into `PostgreSQL` all-or-nothing, with
//! binary COPY.
//!
//! The pieces, top down: [`job`] (what a load does), [`pipeline`] (sources, conform,
//! encode, load, commit), [`db`] (connections, catalog, migrations, the ledger). The
//! library never prints and never exits; `src/bin/pgbatch.rs` owns the terminal.

#![forbid(unsafe_code)]

pub mod api;
pub mod db;
pub mod embedded;
pub mod error;
pub mod hash;
#[cfg(feature = "infer")]
pub mod infer;
pub mod job;
pub mod pipeline;
pub mod submit;

pub use error::{Error, ErrorKind, Result};
