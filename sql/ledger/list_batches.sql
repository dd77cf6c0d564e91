-- The most recent batches first. $1: how many.
SELECT id, job, target, mode, content_hash, sources, rows_read, rows_loaded, rows_skipped,
       rows_deleted, forced, started_at::text, committed_at::text, duration_ms, loaded_by, host,
       rows_rejected
FROM pgbatch.batches
ORDER BY id DESC
LIMIT $1
