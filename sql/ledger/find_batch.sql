-- The latest committed batch of job $1 with this content: content hash $2 (over the job's
-- fingerprint and the sources), or, for a batch recorded before fingerprints were kept
-- (job_hash NULL), content hash $3 (over the sources only).
SELECT id, committed_at::text FROM pgbatch.batches
WHERE job = $1
  AND (content_hash = $2 OR (job_hash IS NULL AND content_hash = $3))
ORDER BY id DESC
LIMIT 1
