-- The last batch committed to each table, for the API's in-process copy of the ledger
-- (read when its listener connects, then kept current by `pgbatch_batches` notifications).
SELECT target, max(id)::bigint AS id FROM pgbatch.batches GROUP BY target
