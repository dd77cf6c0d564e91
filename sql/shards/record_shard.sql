-- A shard's staging is complete: written in the transaction that filled it. A shard run
-- again replaces its record (and, before this, its staging table).
INSERT INTO pgbatch.shards
    (job, batch_key, shard_index, shards, plan_hash, job_hash, staging_table, sources,
     rows_read, rows_written, rows_skipped)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (job, batch_key, shard_index) DO UPDATE SET
    shards = EXCLUDED.shards,
    plan_hash = EXCLUDED.plan_hash,
    job_hash = EXCLUDED.job_hash,
    staging_table = EXCLUDED.staging_table,
    sources = EXCLUDED.sources,
    rows_read = EXCLUDED.rows_read,
    rows_written = EXCLUDED.rows_written,
    rows_skipped = EXCLUDED.rows_skipped,
    recorded_at = now()
