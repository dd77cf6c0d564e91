-- Run by `pgbatch migrate` before anything else: the schema and the record of migrations.
CREATE SCHEMA IF NOT EXISTS pgbatch;
CREATE TABLE IF NOT EXISTS pgbatch.migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
