-- The latest committed batch of job $1 that read the same paths ($2, a JSON array), in
-- order: what a batch that is not a no-op is compared with, to say what changed.
SELECT id, job_hash, sources
FROM pgbatch.batches
WHERE job = $1
  AND jsonb_path_query_array(sources, '$[*].path') = $2::text::jsonb
ORDER BY id DESC
LIMIT 1
