-- One run of one shard at a time ($1 job, $2 batch key, $3 shard index), and no finalize
-- of the key while it runs: the key's lock is taken shared. Until the transaction ends.
SELECT pg_advisory_xact_lock_shared(hashtextextended('pgbatch:shards:' || $1 || ':' || $2, 0)),
       pg_advisory_xact_lock(hashtextextended('pgbatch:shard:' || $1 || ':' || $2 || ':' || $3::integer::text, 0))
