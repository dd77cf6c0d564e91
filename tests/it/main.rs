//! Integration tests: one binary, against a real `PostgreSQL` the harness starts itself.

/// The test cluster and per-test databases.
mod pg;

/// Binary COPY bytes against what the server itself writes, and round trips.
mod encode;

/// Loads of the real datasets; atomicity; exactly-once; load modes.
mod load;

/// The real datasets of ../shared/data, one test per dataset, with spot values.
mod datasets;

/// Every file of ../shared/data/nasty_csv, loaded or rejected exactly.
mod nasty;

/// The `pgbatch` binary: exit codes, messages, JSON lines.
mod cli;

/// TLS to a PostgreSQL with `ssl = on` and certificates made by the test.
mod tls;

/// Exit codes per failure class, through the binary.
mod exits;

/// A batch killed, or its server stopped, at each step: whole or absent, then loaded once.
mod faults;

/// Two runs at once: two loads of one batch, a load racing `migrate`.
mod races;

/// The server's disk full during a load: rolled back, 75, saying what filled up.
mod diskfull;

/// The fuzz targets' seeds, kept regressions and mutations (AFL++ itself: fuzz/run).
mod fuzzing;

/// The AWS Batch job definitions, checked against the Batch API model and the exit codes.
mod jobdefs;

/// The crontab and systemd units of batch/cron.
mod schedule;

/// Array-job shards, one finalize, gc.
mod shards;

/// Each batch's figures: CloudWatch EMF and a Prometheus textfile.
mod figures;

/// The API's ETag and response cache follow the ledger by LISTEN/NOTIFY.
mod follow;

/// The original services' routes (charts, messages, air quality), whole bodies.
mod routes;

/// moto's server, for AWS Batch and S3.
mod moto;

/// `pgbatch submit` against moto's AWS Batch.
mod submit;

/// What an S3 object is known by: full-object checksums, `identity = "content"`.
mod identity;

/// A database whose packets stop coming (a failover that never resets the connection).
mod vanish;

/// Dates and timestamps at PostgreSQL's own limits.
mod ranges;

/// One column-matching rule for every format; no column left NULL without the job saying so.
mod mapping;

/// The HTTP API through its router (no socket) and over loopback, on the real datasets.
mod api;

/// The server against slow and hostile clients, over loopback sockets.
mod hostile;

/// `s3://` and `http://` sources against servers on loopback; compressed copies.
mod s3;

/// `max_rejects`: bad rows set aside with their locations, the limit just under and over.
mod rejects;

/// `[checks]`: row counts, a key unique in the batch, NULL shares, SQL assertions.
mod checks;

/// What a load tells its progress display: files in order, rows, the stage.
mod progress;

/// The load-history page in headless Chromium.
mod history;

/// Rows the database refuses (unique, foreign key, check), located by file and line.
mod refused;

/// `pgbatch infer`: every real dataset set drafted, migrated and loaded unchanged.
#[cfg(feature = "infer")]
mod infer;

/// The SQL job price_stats follows the changes to prices, exactly.
mod price_stats;
