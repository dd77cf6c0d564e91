-- The batch ledger: one row per committed batch, written in the batch's own transaction.
CREATE TABLE pgbatch.batches (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job          text        NOT NULL,
    target       text        NOT NULL,
    mode         text        NOT NULL,
    -- sha256 over the job name and the sha256 of each source, in order
    content_hash text        NOT NULL,
    -- [{"path", "bytes", "sha256", "rows"}], one element per source
    sources      jsonb       NOT NULL,
    rows_read    bigint      NOT NULL,
    rows_loaded  bigint      NOT NULL,
    rows_skipped bigint      NOT NULL,
    rows_deleted bigint      NOT NULL,
    forced       boolean     NOT NULL,
    started_at   timestamptz NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms  bigint      NOT NULL,
    loaded_by    text        NOT NULL DEFAULT current_user,
    host         text
);
CREATE INDEX batches_job_content_idx ON pgbatch.batches (job, content_hash);
CREATE INDEX batches_target_idx ON pgbatch.batches (target, id);
