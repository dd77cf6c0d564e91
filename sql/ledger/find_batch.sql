-- The latest committed batch of this job with this content.
SELECT id, committed_at::text FROM pgbatch.batches
WHERE job = $1 AND content_hash = $2
ORDER BY id DESC
LIMIT 1
