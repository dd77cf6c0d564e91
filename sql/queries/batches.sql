-- route: /batches
-- summary: The load history from the ledger, newest first: status, counts, timings and sources of every committed batch.
-- reads: *
-- param: job text | Only this job's batches.
-- param: limit int default=50 min=1 max=1000 | How many batches.
-- example: /batches?limit=5
-- Who loaded a batch and from which host (pgbatch.batches.loaded_by, host) are left out:
-- a public API should not name accounts and machines. An operator who wants them shown
-- adds them to the list below, in a copy of this file under their own --queries folder.
-- Source URLs are recorded redacted (no user-info, no query string), so they are shown.
SELECT id, 'committed' AS status, job, target, mode, rows_read, rows_loaded, rows_skipped,
       rows_deleted, forced, started_at, committed_at, duration_ms, sources
FROM pgbatch.batches
WHERE ($1::text IS NULL OR job = $1)
ORDER BY id DESC
LIMIT $2::int
