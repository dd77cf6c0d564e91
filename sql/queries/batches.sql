-- route: /batches
-- summary: The load history from the ledger, newest first: status, counts, timings and sources of every committed batch.
-- reads: *
-- param: job text | Only this job's batches.
-- param: limit int default=50 min=1 max=1000 | How many batches.
-- example: /batches?limit=5
SELECT id, 'committed' AS status, job, target, mode, rows_read, rows_loaded, rows_skipped,
       rows_deleted, forced, started_at, committed_at, duration_ms, loaded_by, host, sources
FROM pgbatch.batches
WHERE ($1::text IS NULL OR job = $1)
ORDER BY id DESC
LIMIT $2::int
