-- Written in the same transaction as the data: a batch is loaded and recorded, or neither.
-- $15: the array job's batch key of a finalized batch of shards, else NULL; $16: the rows
-- set aside as bad (`pgbatch.rejects`); $17: where the time went, by stage (or NULL).
INSERT INTO pgbatch.batches
    (job, target, mode, content_hash, sources, rows_read, rows_loaded, rows_skipped,
     rows_deleted, forced, started_at, duration_ms, host, job_hash, batch_key, rows_rejected, stages)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
RETURNING id
