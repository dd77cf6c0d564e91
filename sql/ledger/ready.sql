-- Whether the database has the ledger a load records into, as the current migrations
-- make it (pgbatch.batches with its job_hash column).
SELECT EXISTS (
    SELECT 1
    FROM pg_attribute
    WHERE attrelid = to_regclass('pgbatch.batches')
      AND attname = 'job_hash'
      AND NOT attisdropped
)
