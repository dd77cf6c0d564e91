-- Array-job shards (`pgbatch load --shards N --shard-index I --batch-key K`): each shard
-- copies its share of a batch into a staging table of its own, in `pgbatch_staging`, and
-- records itself here in the same transaction. `pgbatch finalize` merges every shard of a
-- batch key into the target in one transaction, writes one ledger row (with the key) and
-- drops the staging; `pgbatch gc` drops the staging of keys that never finalized.
CREATE SCHEMA IF NOT EXISTS pgbatch_staging;

CREATE TABLE pgbatch.shards (
    job           text        NOT NULL,
    batch_key     text        NOT NULL,
    shard_index   integer     NOT NULL CHECK (shard_index >= 0),
    shards        integer     NOT NULL CHECK (shards > 0 AND shard_index < shards),
    -- The plan every shard of a key must share: the job's fingerprint, the shard count and
    -- the whole batch's sources (paths and sizes, in order).
    plan_hash     text        NOT NULL,
    -- The resolved job's fingerprint the shard loaded with; finalize must resolve the same.
    job_hash      text        NOT NULL,
    staging_table text        NOT NULL,
    -- This shard's sources, each with its place in the whole batch and its identity.
    sources       jsonb       NOT NULL,
    rows_read     bigint      NOT NULL,
    rows_written  bigint      NOT NULL,
    rows_skipped  bigint      NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, batch_key, shard_index)
);
CREATE INDEX shards_recorded_idx ON pgbatch.shards (recorded_at);

-- The array job a finalized batch came from: finalizing a key twice finds it here.
ALTER TABLE pgbatch.batches ADD COLUMN batch_key text;
CREATE UNIQUE INDEX batches_job_batch_key_idx ON pgbatch.batches (job, batch_key)
    WHERE batch_key IS NOT NULL;
