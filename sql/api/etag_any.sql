-- The last batch committed to any table (0: none), for the ETag of routes that read the ledger.
SELECT coalesce(max(id), 0)::bigint FROM pgbatch.batches
