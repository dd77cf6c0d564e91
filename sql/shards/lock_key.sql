-- Finalize or gc of batch key $2 of job $1: waits for its shards that still run (they hold
-- the key's lock shared) and keeps new ones out until the transaction ends.
SELECT pg_advisory_xact_lock(hashtextextended('pgbatch:shards:' || $1 || ':' || $2, 0))
