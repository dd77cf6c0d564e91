-- The most recent batches first. $1: how many; $2: only this batch id (or NULL: any).
SELECT id, job, target, mode, content_hash, sources, rows_read, rows_loaded, rows_skipped,
       rows_deleted, forced, started_at::text, committed_at::text, duration_ms, loaded_by, host,
       rows_rejected, stages
FROM pgbatch.batches
WHERE $2::bigint IS NULL OR id = $2
ORDER BY id DESC
LIMIT $1
