-- gc: batch key $2 of job $1, if no shard of it runs now.
SELECT pg_try_advisory_xact_lock(hashtextextended('pgbatch:shards:' || $1 || ':' || $2, 0))
