-- Every recorded shard of batch key $2 of job $1, in shard order.
SELECT shard_index, shards, plan_hash, job_hash, staging_table, sources, rows_read, rows_written,
       rows_skipped
FROM pgbatch.shards
WHERE job = $1 AND batch_key = $2
ORDER BY shard_index
