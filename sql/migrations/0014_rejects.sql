-- Rows a batch set aside as bad (a job's `max_rejects`), written in the batch's own
-- transaction after its ledger row: they exist exactly when the batch committed. A batch
-- over its limit rolls back, and its rejects go only to the report (`--rejects-out`).
CREATE TABLE pgbatch.rejects (
    batch_id     bigint  NOT NULL REFERENCES pgbatch.batches (id) ON DELETE CASCADE,
    -- the order the load found them in: file order, then row order
    ordinal      integer NOT NULL,
    source       text    NOT NULL,
    -- a text source's 1-based line, or a Parquet source's 0-based row group and row
    line         bigint,
    row_group    integer,
    row_in_group bigint,
    column_name  text,
    -- the field as read, when the problem is in one field
    value        bytea,
    reason       text    NOT NULL,
    PRIMARY KEY (batch_id, ordinal)
);

ALTER TABLE pgbatch.batches ADD COLUMN rows_rejected bigint NOT NULL DEFAULT 0;
-- Where a load's time went, in milliseconds: {"reading_ms", "encoding_ms", "sending_ms",
-- "copying_ms", "checking_ms", "merging_ms", "committing_ms"} (`pgbatch report`).
ALTER TABLE pgbatch.batches ADD COLUMN stages jsonb;
