-- The records of batch key $2 of job $1, once finalized or collected; returns their
-- staging tables, to be dropped in the same transaction.
DELETE FROM pgbatch.shards WHERE job = $1 AND batch_key = $2 RETURNING staging_table
