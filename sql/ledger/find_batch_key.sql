-- The batch that finalized batch key $2 of job $1, if any: its id and commit time.
SELECT id, committed_at::text FROM pgbatch.batches WHERE job = $1 AND batch_key = $2
