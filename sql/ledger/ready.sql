-- Whether the database has the ledger a load records into, as the current migrations
-- make it (pgbatch.batches with its batch_key column, and pgbatch.shards).
SELECT EXISTS (
    SELECT 1
    FROM pg_attribute
    WHERE attrelid = to_regclass('pgbatch.batches')
      AND attname = 'batch_key'
      AND NOT attisdropped
) AND to_regclass('pgbatch.shards') IS NOT NULL
